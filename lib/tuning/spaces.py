"""Search-space arithmetic: how many grid points a KerasTuner space holds, and a summary table."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _values(hp: Any) -> list | None:
    """The finite list of values a grid walks for one hyperparameter, or None (continuous)."""
    kind = type(hp).__name__
    if kind == "Fixed":
        return [hp.value]
    if kind == "Boolean":
        return [False, True]
    if kind == "Choice":
        return list(hp.values)
    if kind in ("Int", "Float"):
        try:
            return list(hp.values)
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def space_size(space: Any) -> int | None:
    """Grid points of a ``keras_tuner.HyperParameters`` space (what a grid search runs).

    Each hyperparameter counts the values KerasTuner's grid oracle walks (``hp.values``: a
    Float without ``step`` gives 10 evenly spaced ones); conditional hyperparameters count
    only under the parent values that activate them.

    Args:
        space: the space (e.g. ``tuner.oracle.get_space()``).

    Returns:
        The number of combinations, or None when a hyperparameter is continuous (a Float
        without ``step``).
    """
    hps = list(space.space)

    def count(index: int, active: dict) -> int | None:
        if index == len(hps):
            return 1
        hp = hps[index]
        if not all(c.is_active(active) for c in hp.conditions):
            return count(index + 1, active)
        values = _values(hp)
        if values is None:
            return None
        if not any(other.conditions for other in hps[index + 1:]):
            rest = count(index + 1, active)
            return None if rest is None else len(values) * rest
        total = 0
        for value in values:
            rest = count(index + 1, {**active, hp.name: value})
            if rest is None:
                return None
            total += rest
        return total

    return count(0, {})


def space_table(space: Any) -> pd.DataFrame:
    """One row per hyperparameter: name, kind, the values a grid walks (or the range), default,
    and its conditions; ``frame.attrs["size"]`` holds :func:`space_size`."""
    rows = []
    for hp in space.space:
        values = _values(hp)
        if values is None:
            config = hp.get_config()
            shown = f"[{config.get('min_value')}, {config.get('max_value')}]"
            count = math.inf
        else:
            shown = ", ".join(str(v) for v in values)
            count = len(values)
        conditions = "; ".join(
            f"{c.name} in {list(c.values)}" for c in hp.conditions
        ) if hp.conditions else ""
        rows.append({"name": hp.name, "kind": type(hp).__name__, "values": shown,
                     "count": count, "default": hp.default, "when": conditions})
    frame = pd.DataFrame(rows, columns=["name", "kind", "values", "count", "default", "when"])
    frame.attrs["size"] = space_size(space)
    return frame
