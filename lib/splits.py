"""Splits that keep subjects, records and time spans apart.

Split **first**, then scale, window and resample inside each part: a window, a
scaler statistic or a synthetic sample must never mix readings from two parts.

* :func:`group_split` puts whole groups (subjects, records, mice) into train,
  validation and test (scikit-learn's ``GroupShuffleSplit``).
* :func:`chronological_split` cuts a series into consecutive train / validation /
  test spans, by fraction or by timestamp.
* :func:`group_kfold`, :func:`stratified_kfold`, :func:`kfold` and :func:`time_series_kfold`
  yield ``(train_idx, val_idx)`` pairs (``GroupKFold``, ``StratifiedKFold`` /
  ``StratifiedGroupKFold``, ``KFold``, ``TimeSeriesSplit``).
* :func:`check_no_leakage` raises :class:`LeakageError` when two parts share a
  group or an overlapping time span.

Every splitter returns integer index arrays in increasing order; a
:class:`Split` also gives boolean masks (:meth:`Split.masks`) and the values of
any per-sample array in each part (:meth:`Split.take`), which is what
:func:`check_no_leakage` checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

__all__ = [
    "LeakageError",
    "Split",
    "group_split",
    "chronological_split",
    "group_kfold",
    "stratified_kfold",
    "kfold",
    "time_series_kfold",
    "check_no_leakage",
    "stratified_subset",
]


class LeakageError(ValueError):
    """Two parts of a split share a group or an overlapping time span."""


class Split(NamedTuple):
    """Index arrays (sorted, ``int64``) of the three parts of a split."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def masks(self, n: int | None = None) -> dict[str, np.ndarray]:
        """Boolean masks of length ``n`` for the three parts.

        Args:
            n: number of samples; defaults to one past the largest index.

        Returns:
            ``{"train": mask, "validation": mask, "test": mask}``.
        """
        if n is None:
            n = 1 + max((int(part.max()) for part in self if part.size), default=-1)
        out = {}
        for name, part in self._asdict().items():
            mask = np.zeros(n, dtype=bool)
            mask[part] = True
            out[name] = mask
        return out

    def take(self, values: Any) -> dict[str, np.ndarray]:
        """The entries of a per-sample array in each part.

        Args:
            values: array-like with one entry per sample (groups, times, labels).

        Returns:
            ``{"train": values[train], "validation": ..., "test": ...}``, ready
            for :func:`check_no_leakage`.
        """
        values = np.asarray(values)
        return {name: values[part] for name, part in self._asdict().items()}


def _as_1d(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one entry per sample); got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass one entry per sample")
    return array


def _count(size: float | int, total: int, name: str) -> int:
    """Turns an int count or a fraction of ``total`` into a count."""
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be an int count or a float fraction; got {size!r}")
    if isinstance(size, (float, np.floating)):
        if not 0.0 <= size < 1.0:
            raise ValueError(f"{name} fraction must be in [0, 1); got {size}")
        return math.ceil(size * total) if size > 0 else 0
    if not 0 <= size <= total:
        raise ValueError(f"{name} count must be between 0 and {total}; got {size}")
    return int(size)


def group_split(
    groups: Any,
    *,
    test: float | int = 0.2,
    validation: float | int = 0.0,
    seed: int = 0,
) -> Split:
    """Splits samples into train / validation / test so that no group is in two parts.

    Groups are drawn at random (``GroupShuffleSplit``): first the test groups,
    then the validation groups from the rest; everything else is train.

    Args:
        groups: one group label per sample (subject, record, mouse).
        test: number of test groups (int) or fraction of all groups (float,
            rounded up, as in scikit-learn).
        validation: number of validation groups (int) or fraction of all groups.
        seed: seed of the draw.

    Returns:
        A :class:`Split` of sorted index arrays.

    Raises:
        ValueError: on empty or multi-dimensional ``groups``, or when test and
            validation together would leave no group for training.
    """
    groups = _as_1d(groups, "groups")
    unique = np.unique(groups)
    n_groups = unique.size
    n_test = _count(test, n_groups, "test")
    n_validation = _count(validation, n_groups, "validation")
    if n_test + n_validation >= n_groups:
        raise ValueError(
            f"test ({n_test}) + validation ({n_validation}) groups leave no training group "
            f"out of {n_groups}; ask for fewer test or validation groups"
        )
    index = np.arange(groups.size)
    empty = np.empty(0, dtype=np.int64)
    test_idx = empty
    rest = index
    if n_test:
        splitter = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
        rest, test_idx = next(splitter.split(index, groups=groups))
    validation_idx = empty
    if n_validation:
        splitter = GroupShuffleSplit(n_splits=1, test_size=n_validation, random_state=seed + 1)
        keep, pick = next(splitter.split(rest, groups=groups[rest]))
        rest, validation_idx = rest[keep], rest[pick]
    return Split(
        np.sort(rest).astype(np.int64),
        np.sort(validation_idx).astype(np.int64),
        np.sort(test_idx).astype(np.int64),
    )


def chronological_split(
    n_or_times: Any,
    *,
    validation: Any = 0.1,
    test: Any = 0.2,
) -> Split:
    """Cuts a series into consecutive train, validation and test spans (in that order).

    Args:
        n_or_times: the number of samples, or their timestamps (sorted,
            non-decreasing: numbers or ``datetime64``).
        validation: fraction of samples (float in [0, 1)) or, with timestamps,
            the first time of the validation span (same type as the times; the
            validation span ends where test starts).
        test: fraction of samples, or the first time of the test span.

    Returns:
        A :class:`Split`; the test span is the last ``round(test * n)`` samples
        (or all samples at or after the ``test`` time), the validation span the
        ``round(validation * n)`` before it.

    Raises:
        ValueError: on NaN / NaT or unsorted times, fractions outside [0, 1),
            boundaries out of order, or splits that leave no training sample.
    """
    if isinstance(n_or_times, (int, np.integer)) and not isinstance(n_or_times, bool):
        n = int(n_or_times)
        if n <= 0:
            raise ValueError(f"number of samples must be positive; got {n}")
        times = None
    else:
        times = _as_1d(n_or_times, "times")
        n = times.size
        if times.dtype.kind in "mM":
            missing = np.isnat(times)
        elif times.dtype.kind in "fc":
            missing = np.isnan(times)
        else:
            missing = np.zeros(n, dtype=bool)
        if missing.any():
            rows = np.flatnonzero(missing)
            shown = ", ".join(map(str, rows[:5])) + (" ..." if rows.size > 5 else "")
            raise ValueError(
                f"times must all be present; {rows.size} are NaN/NaT (positions {shown}), "
                "so the order and the split boundaries are undefined. Drop those samples or "
                "fill their times first"
            )
        if np.any(times[1:] < times[:-1]):
            raise ValueError("times must be sorted in non-decreasing order; sort the series first")

    def boundary(value: Any, name: str) -> int:
        if isinstance(value, (float, np.floating)) and not isinstance(value, np.datetime64):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} fraction must be in [0, 1); got {value}")
            return n - int(round(value * n))
        if times is None:
            raise TypeError(
                f"{name} must be a fraction when n_or_times is a count; got {value!r}; "
                "pass the timestamps to split at a time"
            )
        return int(np.searchsorted(times, np.asarray(value, dtype=times.dtype), side="left"))

    test_start = boundary(test, "test")
    if isinstance(validation, (float, np.floating)):
        if not 0.0 <= validation < 1.0:
            raise ValueError(f"validation fraction must be in [0, 1); got {validation}")
        validation_start = test_start - int(round(validation * n))
    else:
        validation_start = boundary(validation, "validation")
    if validation_start > test_start:
        raise ValueError(
            f"validation starts after test (sample {validation_start} > {test_start}); "
            "give the validation boundary before the test boundary"
        )
    if validation_start <= 0:
        raise ValueError(
            f"validation ({validation!r}) and test ({test!r}) leave no training sample "
            f"out of {n}; use smaller parts"
        )
    index = np.arange(n, dtype=np.int64)
    return Split(index[:validation_start], index[validation_start:test_start], index[test_start:])


def group_kfold(
    groups: Any, n_splits: int = 5, seed: int | None = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K folds in which every group is validated exactly once (``GroupKFold``).

    Args:
        groups: one group label per sample.
        n_splits: number of folds (at most the number of groups).
        seed: shuffles which groups go together; ``None`` for scikit-learn's
            deterministic size-balancing assignment.

    Yields:
        ``(train_idx, val_idx)`` index arrays.

    Raises:
        ValueError: when there are fewer groups than folds.
    """
    groups = _as_1d(groups, "groups")
    n_groups = np.unique(groups).size
    if n_groups < n_splits:
        raise ValueError(
            f"group k-fold needs at least n_splits={n_splits} groups; found {n_groups}; "
            "use fewer folds"
        )
    if seed is None:
        splitter = GroupKFold(n_splits=n_splits)
    else:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    index = np.arange(groups.size)
    yield from splitter.split(index, groups=groups)


def stratified_kfold(
    y: Any, n_splits: int = 5, seed: int = 0, *, groups: Any = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K folds that keep class proportions (``StratifiedKFold``, shuffled).

    Args:
        y: one class label per sample.
        n_splits: number of folds.
        seed: seed of the shuffle.
        groups: optional group labels; then ``StratifiedGroupKFold`` keeps every
            group in one fold while balancing classes as well as it can.

    Yields:
        ``(train_idx, val_idx)`` index arrays.

    Raises:
        ValueError: when a class has fewer members than ``n_splits`` (from
            scikit-learn, as a warning) or inputs have different lengths.
    """
    y = _as_1d(y, "y")
    index = np.arange(y.size)
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        yield from splitter.split(index, y)
        return
    groups = _as_1d(groups, "groups")
    if groups.size != y.size:
        raise ValueError(
            f"groups has {groups.size} entries but y has {y.size}; pass one per sample"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    yield from splitter.split(index, y, groups=groups)


def kfold(
    n_samples: int, n_splits: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K folds of shuffled rows (``KFold``), for targets without classes or groups.

    Args:
        n_samples: number of rows.
        n_splits: number of folds.
        seed: seed of the shuffle.

    Yields:
        ``(train_idx, val_idx)`` index arrays.
    """
    splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    yield from splitter.split(np.arange(int(n_samples)))


def time_series_kfold(
    n: int, n_splits: int = 5, *, gap: int = 0, test_size: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds for one series (``TimeSeriesSplit``): validate on the future.

    Args:
        n: number of samples.
        n_splits: number of folds.
        gap: samples left out between train and validation (e.g. window length
            plus horizon, so no window of one overlaps the other).
        test_size: samples per validation fold (default ``n // (n_splits + 1)``).

    Yields:
        ``(train_idx, val_idx)`` with every train index before every validation index.

    Raises:
        ValueError: ``n``, ``n_splits`` or ``test_size`` not a positive int, or
            ``gap`` not an int >= 0 (a negative gap would make the training part
            overlap the validation part: leakage).
    """
    for name, value, smallest in (("n", n, 1), ("n_splits", n_splits, 2), ("gap", gap, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < smallest:
            raise ValueError(
                f"{name} must be an int >= {smallest}; got {value!r}"
                + (
                    " (a negative gap makes training and validation overlap)"
                    if name == "gap"
                    else ""
                )
            )
    if test_size is not None and (
        isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) or test_size < 1
    ):
        raise ValueError(f"test_size must be a positive int or None; got {test_size!r}")
    splitter = TimeSeriesSplit(n_splits=n_splits, gap=gap, test_size=test_size)
    yield from splitter.split(np.empty((n, 1)))


def check_no_leakage(
    groups: Mapping[str, Any] | None = None,
    *,
    times: Mapping[str, Any] | None = None,
    gap: Any = 0,
) -> None:
    """Raises when two parts share a group or their time spans overlap.

    Args:
        groups: ``{part name: group labels of its samples}`` (e.g.
            ``split.take(subject)``); no label may appear in two parts.
        times: ``{part name: timestamps or sample positions of its samples}``
            (e.g. ``split.take(np.arange(n))``); the ``[min, max]`` spans of any
            two non-empty parts must be more than ``gap`` apart.
        gap: required distance between spans (same unit as the times, e.g.
            ``window length + horizon - 1`` positions so no window reaches
            across); 0 only forbids overlap.

    Raises:
        LeakageError: naming the two parts and the shared groups or spans.
        ValueError: when neither ``groups`` nor ``times`` is given.
    """
    if groups is None and times is None:
        raise ValueError("nothing to check; pass groups={part: labels} and/or times={part: times}")
    if groups is not None:
        names = list(groups)
        sets = {name: np.unique(np.asarray(groups[name]).ravel()) for name in names}
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                shared = np.intersect1d(sets[first], sets[second])
                if shared.size:
                    shown = ", ".join(map(str, shared[:10])) + (" ..." if shared.size > 10 else "")
                    raise LeakageError(
                        f"parts {first!r} and {second!r} share {shared.size} group(s): {shown}; "
                        "split by group (group_split) so each group is in one part"
                    )
    if times is not None:
        spans = {}
        for name, values in times.items():
            values = np.asarray(values).ravel()
            if values.size:
                spans[name] = (values.min(), values.max())
        names = list(spans)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                (a_lo, a_hi), (b_lo, b_hi) = spans[first], spans[second]
                distance = max(b_lo - a_hi, a_lo - b_hi)
                if not distance > gap:
                    raise LeakageError(
                        f"time spans of {first!r} [{a_lo}, {a_hi}] and {second!r} "
                        f"[{b_lo}, {b_hi}] are not more than {gap} apart; "
                        "split chronologically (chronological_split) and leave a gap of a window"
                    )


def stratified_subset(index: Any, labels: Any, size: int | None, *, seed: int = 0) -> np.ndarray:
    """``size`` entries of ``index`` drawn with the class mix of ``labels[index]``.

    Args:
        index: candidate row indices (into ``labels``).
        labels: class label of every row.
        size: how many to draw; None, or a size at least ``len(index)``, keeps all.
        seed: ``random_state`` of the draw.

    Returns:
        The chosen indices, sorted.

    Raises:
        ValueError: ``size`` is not positive, or a class has too few rows to stratify.
    """
    index = _as_1d(index, "index")
    labels = np.asarray(labels)
    if size is None or size >= index.size:
        return np.sort(index)
    if size < 1:
        raise ValueError(f"size must be a positive number of rows or None, got {size}")
    picked, _ = train_test_split(index, train_size=size, stratify=labels[index], random_state=seed)
    return np.sort(picked)
