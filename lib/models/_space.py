"""Search-space entries and their declaration on a ``keras_tuner.HyperParameters``.

A space entry is:

* a tuple or list of values -> ``hp.Choice`` (one value -> ``hp.Fixed``; the two booleans
  -> ``hp.Boolean``);
* a :class:`Range` -> ``hp.Int`` (integer bounds and step) or ``hp.Float``;
* a scalar -> ``hp.Fixed``.

:func:`declare_all` declares several entries of a space, in order, and returns their values:
the one mapping from a hypermodel's space to its builder's keyword arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import keras_tuner


@dataclasses.dataclass(frozen=True)
class Range:
    """A numeric search-space range: ``hp.Int`` when bounds (and step) are ints, else ``hp.Float``.

    Args:
        low: smallest value (inclusive).
        high: largest value (inclusive).
        step: grid step; ``None`` is 1 for integers and continuous for floats
            (a continuous range cannot be grid-searched).
        sampling: ``"linear"``, ``"log"`` or ``"reverse_log"``.
    """

    low: float
    high: float
    step: float | None = None
    sampling: str = "linear"

    def __post_init__(self):
        if self.low > self.high:
            raise ValueError(f"Range low={self.low} is above high={self.high}; swap the bounds")

    @property
    def is_int(self) -> bool:
        values = (self.low, self.high) if self.step is None else (self.low, self.high, self.step)
        return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def python_value(value: Any) -> Any:
    """numpy scalars -> Python scalars (KerasTuner stores plain values)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        return value.item()
    return value


def declare(hp: keras_tuner.HyperParameters, name: str, spec: Any) -> Any:
    """Registers hyperparameter ``name`` from a space entry and returns its current value."""
    if isinstance(spec, Range):
        if spec.is_int:
            return hp.Int(name, spec.low, spec.high, step=spec.step or 1, sampling=spec.sampling)
        return hp.Float(name, spec.low, spec.high, step=spec.step, sampling=spec.sampling)
    if isinstance(spec, (list, tuple)):
        values = [python_value(v) for v in spec]
        if len(values) == 1:
            return hp.Fixed(name, values[0])
        if all(isinstance(v, bool) for v in values) and len(set(values)) == 2:
            return hp.Boolean(name, default=values[0])
        return hp.Choice(name, values)
    return hp.Fixed(name, python_value(spec))


def declare_all(
    hp: keras_tuner.HyperParameters, space: Mapping[str, Any], names: Iterable[str]
) -> dict[str, Any]:
    """Declares the entries ``names`` of ``space`` on ``hp``, in that order.

    Args:
        hp: the hyperparameters to declare on.
        space: ``{name: entry}`` (see the module docstring for the entries).
        names: the entries to declare; the order is the declaration order, which KerasTuner's
            trial ids and a resumed search depend on.

    Returns:
        ``{name: current value}`` in the same order.
    """
    return {name: declare(hp, name, space[name]) for name in names}


def possible_values(spec: Any) -> list[Any]:
    """Every value a space entry can take (a Range must be an integer range)."""
    if isinstance(spec, Range):
        if not spec.is_int:
            raise ValueError(f"expected an integer Range for a layer count, got {spec}")
        return list(range(spec.low, spec.high + 1, spec.step or 1))
    if isinstance(spec, (list, tuple)):
        return [python_value(v) for v in spec]
    return [python_value(spec)]
