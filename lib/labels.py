"""Class labels to ids 0..k-1 and back, keeping the class names.

Keras classifiers and the tuners want integer class ids ``0..k-1``; files give labels as
strings (``"walk"``, ``"1"``) or as numbers that do not start at 0 (``1..10``).
:func:`encode_labels` maps any hashable labels to ids and returns the names in id order, so
tables and plots can show the original labels (``class_names[id]``). Encode the training
labels first and pass their ``class_names`` as ``classes`` when encoding validation or test
labels, so that every part uses the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["encode_labels"]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``np.str_("a")`` -> ``"a"``)."""
    return value.item() if isinstance(value, np.generic) else value


def _preview(values: Sequence[Any], limit: int = 10) -> str:
    shown = [repr(_plain(v)) for v in list(values)[:limit]]
    more = f", ... ({len(values) - limit} more)" if len(values) > limit else ""
    return "[" + ", ".join(shown) + more + "]"


def encode_labels(
    labels: Any, classes: Sequence[Any] | None = None
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Encodes hashable labels as class ids ``0..k-1`` and keeps the class names.

    Args:
        labels: 1-D labels of any hashable kind (strings, integers, booleans ...), e.g. a
            list, a numpy array or a pandas Series.
        classes: the class names in id order (``classes[i]`` gets id ``i``); every label
            must be one of them, and classes absent from ``labels`` keep their ids. Default:
            the sorted unique labels (strings sort as text: ``"10"`` before ``"2"``; pass
            ``classes`` to choose another order).

    Returns:
        ``(ids, class_names)``: an int64 array of ``labels``' length and the tuple of class
        names (Python values, not numpy scalars) so that ``class_names[ids[i]]`` is the
        ``i``-th label.

    Raises:
        ValueError: ``labels`` is not 1-D, holds a missing value (None or NaN), mixes types
            that cannot be sorted (without ``classes``), or holds a label that is not in
            ``classes``; ``classes`` holds a name twice.

    Example:
        >>> ids, names = encode_labels(["walk", "run", "walk"])
        >>> ids.tolist(), names
        ([1, 0, 1], ('run', 'walk'))
    """
    values = labels.to_numpy() if isinstance(labels, (pd.Series, pd.Index)) else labels
    if isinstance(values, (list, tuple)):  # element by element: tuple labels stay labels
        array = np.fromiter(values, dtype=object, count=len(values))
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"labels must be 1-D (one label per sample); got shape {array.shape}. Pass a "
            "list or a 1-D array (one-hot rows or scores: take the arg-max first)"
        )
    missing = np.flatnonzero(pd.isna(array))
    if missing.size:
        raise ValueError(
            f"labels hold {missing.size} missing value(s) (None or NaN) at positions "
            f"{missing[:10].tolist()}; every sample needs a label: drop or label those samples"
        )
    codes, uniques = pd.factorize(array, sort=False)  # one pass over the samples
    uniques = [_plain(u) for u in uniques]
    if classes is None:
        try:
            names = tuple(sorted(uniques))
        except TypeError as error:
            raise ValueError(
                f"labels mix types that cannot be sorted ({_preview(uniques)}); pass "
                "classes=[...] to give the class order, or convert the labels to one type"
            ) from error
    else:
        names = tuple(_plain(c) for c in classes)
        if len(set(names)) != len(names):
            twice = sorted({repr(n) for n in names if names.count(n) > 1})
            raise ValueError(
                f"classes must name each class once; {', '.join(twice)} appear more than once "
                f"in {_preview(names)}"
            )
    position = {name: index for index, name in enumerate(names)}
    unknown = [u for u in uniques if u not in position]
    if unknown:
        raise ValueError(
            f"labels {_preview(unknown)} are not in classes {_preview(names)}; add them to "
            "classes (in the order you want their ids) or drop those samples"
        )
    lookup = np.array([position[u] for u in uniques], dtype=np.int64)  # one entry per class
    ids = lookup[codes] if codes.size else np.zeros(0, dtype=np.int64)
    return ids, names
