"""Windows over sensor series: regression windows with a horizon, labelled segments (and
windows inside label bouts) and a stride-1 training feed; per-channel scaling
(:mod:`lib.scaling`) is re-exported here.

Conventions:

* A regression window starting at row ``i`` holds ``x[i : i + length]``; its target is
  the row ``i + length + horizon - 1`` (``horizon=1`` is the next reading). This is the
  household power study's convention. The original study's loop
  ``for i in range(len(df) - L - H)`` stops one window early; here every window whose
  target exists is kept (``len(x) - length - horizon + 1`` windows).
* Windows are zero-copy views (``numpy.lib.stride_tricks.sliding_window_view``) unless
  ``copy=True``; a view is read-only and shares memory with ``x``.
* Arrays are time-major: ``x`` is ``(time,)`` or ``(time, channels)`` and windows are
  ``(n_windows, length)`` or ``(n_windows, length, channels)``; give a 1-D series a
  channel axis (``x[:, None]``) when a Keras layer needs one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from lib.scaling import ChannelScaler, standardize_groups  # noqa: F401  (re-exported)

__all__ = [
    "sliding_windows",
    "sliding_windows_segments",
    "segment_windows",
    "bout_windows",
    "bouts",
    "window_starts",
    "aligned_starts",
    "target_rows",
    "WindowFeed",
    "ChannelScaler",
    "standardize_groups",
]

_POLICIES = ("max", "last", "majority")


# --------------------------------------------------------------------------- helpers


def _series(x: Any, name: str = "x") -> np.ndarray:
    array = np.asarray(x)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (time,) or 2-D (time, channels); got shape {array.shape}; "
            "reshape it first"
        )
    return array


def _check_length(length: int, n: int, horizon: int = 0) -> None:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"window length must be a positive int; got {length!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ValueError(f"horizon must be an int >= 0; got {horizon!r}")
    if length + horizon > n:
        raise ValueError(
            f"window length {length} + horizon {horizon} exceeds series length {n}; "
            "use a shorter window or horizon, or a longer series"
        )


def _check_stride(stride: int) -> None:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int; got {stride!r}")


def _bad_rows(array: np.ndarray, *, nan: bool = True) -> np.ndarray:
    """Per row (first axis): True where a value is inf (and, with ``nan``, NaN)."""
    if array.dtype.kind not in "fc":
        return np.zeros(array.shape[:1], dtype=bool)
    bad = ~np.isfinite(array) if nan else np.isinf(array)
    return bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim > 1 else bad


def _row_list(rows: np.ndarray) -> str:
    shown = ", ".join(map(str, rows[:5]))
    return shown + (f" and {rows.size - 5} more" if rows.size > 5 else "")


def _check_finite(array: np.ndarray, name: str, what_to_do: str, *, nan: bool = True) -> None:
    """Raises ValueError naming the rows of ``array`` that hold inf (or NaN)."""
    bad = _bad_rows(array, nan=nan)
    if bad.any():
        rows = np.flatnonzero(bad)
        kind = "NaN or inf" if nan else "inf"
        raise ValueError(
            f"{name} must be finite; {rows.size} rows hold {kind} (rows {_row_list(rows)}); "
            f"windows would carry them into training. {what_to_do}"
        )


def _target(x: np.ndarray, target: Any) -> np.ndarray:
    """``None``: x itself; int or sequence of ints: those columns of x; else an array."""
    if target is None:
        return x
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if x.ndim != 2:
            raise ValueError("an int target selects a column; x must be 2-D (time, channels)")
        return x[:, target]
    if isinstance(target, (list, tuple)) and all(isinstance(t, (int, np.integer)) for t in target):
        if x.ndim != 2:
            raise ValueError("int targets select columns; x must be 2-D (time, channels)")
        return x[:, list(target)]
    array = np.asarray(target)
    if array.shape[:1] != x.shape[:1]:
        raise ValueError(
            f"target has {array.shape[0] if array.ndim else 0} rows but x has {x.shape[0]}; "
            "pass one target row per reading"
        )
    return array


def _view(x: np.ndarray, length: int) -> np.ndarray:
    """All stride-1 windows of x as a read-only view, time-major."""
    view = sliding_window_view(x, length, axis=0)  # (n - length + 1, [channels,] length)
    return np.moveaxis(view, -1, 1) if x.ndim == 2 else view


def bouts(labels: Any) -> np.ndarray:
    """Run-length ids of consecutive equal labels: ``[a, a, b, b, a] -> [0, 0, 1, 1, 2]``.

    Pass it to :func:`segment_windows` (``group_by=["subject", bouts(activity)]``) so
    windows never cross a change of activity. NaN never equals NaN, so each NaN
    starts its own bout.

    Args:
        labels: one label per reading (array or pandas Series).

    Returns:
        ``int64`` array of bout ids, starting at 0.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D; got shape {labels.shape}")
    out = np.zeros(labels.size, dtype=np.int64)
    if labels.size > 1:
        np.cumsum(labels[1:] != labels[:-1], out=out[1:])
    return out


def window_starts(run_ids: Any, span: int, *, stride: int = 1) -> np.ndarray:
    """First rows of all windows of ``span`` rows that stay inside one run.

    Windows start at ``run_start + k * stride`` for every run of equal, consecutive
    ``run_ids`` that is at least ``span`` long (vectorised, no loop over runs).

    Args:
        run_ids: one id per row; consecutive equal ids form a run.
        span: rows a window covers (``length``, or ``length + horizon`` with a target).
        stride: step between window starts inside a run.

    Returns:
        Sorted ``int64`` start rows.

    Raises:
        ValueError: ``span`` is not a positive int or ``stride`` not a positive int.
    """
    _check_stride(stride)
    if isinstance(span, bool) or not isinstance(span, (int, np.integer)) or span < 1:
        raise ValueError(f"span must be a positive int (the rows one window covers); got {span!r}")
    ids = np.asarray(run_ids)
    n = ids.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    run_start = np.concatenate(([0], change))
    run_end = np.concatenate((change, [n]))
    size = run_end - run_start
    counts = np.where(size >= span, (size - span) // stride + 1, 0)
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(run_start, counts) + stride * (np.arange(total, dtype=np.int64) - offsets)


def _check_starts(starts: Any) -> np.ndarray:
    array = np.asarray(starts)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(
            f"starts must be a 1-D array of integer start rows; got shape {array.shape}, "
            f"dtype {array.dtype}; pass the starts returned by sliding_windows_segments"
        )
    if array.size and array.min() < 0:
        raise ValueError(f"starts must be >= 0; got a smallest start of {array.min()}")
    return array.astype(np.int64, copy=False)


def aligned_starts(starts: Any, length: int, *, longest: int, stride: int = 1) -> np.ndarray:
    """Starts of ``length``-reading windows that end where ``longest``-reading windows end.

    To compare window lengths fairly every length must predict the same targets: take the
    starts of the windows of the longest length (e.g. from :func:`sliding_windows_segments`
    with ``length=longest``, which keeps only gap-free windows), then shift them by
    ``longest - length`` for a shorter length. The shorter window is the last ``length``
    readings of the longer one, so it stays inside the same gap-free run and its target
    (:func:`target_rows`) is the same row.

    Args:
        starts: start rows of the ``longest``-reading windows (1-D, integers >= 0).
        length: readings per window wanted, ``1 <= length <= longest``.
        longest: readings of the windows ``starts`` belongs to.
        stride: keep every ``stride``-th window (a subset with the same targets for every
            length).

    Returns:
        ``int64`` start rows of the ``length``-reading windows, one per kept window.

    Raises:
        ValueError: ``length`` is not an int between 1 and ``longest``, or ``starts`` is not
            a 1-D array of non-negative integers, or ``stride`` is not a positive int.
    """
    _check_stride(stride)
    if isinstance(longest, bool) or not isinstance(longest, (int, np.integer)) or longest < 1:
        raise ValueError(f"longest must be a positive int; got {longest!r}")
    if (
        isinstance(length, bool)
        or not isinstance(length, (int, np.integer))
        or not 1 <= length <= longest
    ):
        raise ValueError(
            f"length must be an int between 1 and longest={longest}; got {length!r}; a window "
            "longer than the reference windows could reach into a gap they avoid"
        )
    return _check_starts(starts)[::stride] + (int(longest) - int(length))


def target_rows(starts: Any, length: int, *, horizon: int) -> np.ndarray:
    """Row of the target of each window: ``start + length + horizon - 1``.

    The convention of :func:`sliding_windows` (``horizon=1`` is the reading right after the
    window). Use it to look up the targets' times or values for a set of starts.

    Args:
        starts: window start rows (1-D, integers >= 0).
        length: readings per window (positive int).
        horizon: steps from the window's last reading to its target (int >= 0).

    Returns:
        ``int64`` target rows, one per start.

    Raises:
        ValueError: ``starts`` is not a 1-D array of non-negative integers, or a bad
            ``length`` / ``horizon``.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"window length must be a positive int; got {length!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ValueError(f"horizon must be an int >= 0; got {horizon!r}")
    return _check_starts(starts) + (int(length) + int(horizon) - 1)


# --------------------------------------------------------------------------- regression


def sliding_windows(
    x: Any,
    length: int,
    *,
    horizon: int | None = None,
    stride: int = 1,
    target: Any = None,
    copy: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """All windows of a series, with the target ``horizon`` readings after each.

    Args:
        x: series, ``(time,)`` or ``(time, channels)``, without NaN (use
            :func:`sliding_windows_segments` to window around gaps).
        length: readings per window.
        horizon: steps ahead of the window's last reading; the target of the
            window starting at ``i`` is row ``i + length + horizon - 1``.
            ``None`` returns windows only (every window, for inference).
        stride: step between window starts.
        target: what to predict: ``None`` for all of ``x``, a column index (or
            list of them) of ``x``, or an array with one row per reading.
        copy: return contiguous copies instead of read-only views.

    Returns:
        ``X`` ``(n_windows, length[, channels])`` if ``horizon`` is None, else
        ``(X, y)`` with ``y[k]`` the target of ``X[k]``.

    Raises:
        ValueError: on a window (plus horizon) longer than the series, NaN or inf
            in ``x`` or the target (rows named), wrong dimensions or a bad length /
            stride / horizon.
    """
    x = _series(x)
    _check_length(length, x.shape[0], horizon or 0)
    _check_stride(stride)
    _check_finite(
        x, "x",
        "Fill the gaps, or mark them NaN and use sliding_windows_segments(x, length, "
        "horizon=...) to window only contiguous runs",
    )  # fmt: skip
    view = _view(x, length)
    if horizon is None:
        windows = view[::stride]
        return np.ascontiguousarray(windows) if copy else windows
    y_all = _target(x, target)
    _check_finite(y_all, "target", "Drop or fill those rows, or use sliding_windows_segments")
    n_windows = x.shape[0] - length - horizon + 1
    windows = view[:n_windows:stride]
    y = y_all[length + horizon - 1 :: stride][: windows.shape[0]]
    if copy:
        return np.ascontiguousarray(windows), np.array(y)
    return windows, y


def sliding_windows_segments(
    x: Any,
    length: int,
    *,
    horizon: int,
    segments: Any = None,
    stride: int = 1,
    target: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows (and targets) taken only inside contiguous runs of valid readings.

    A window and its target never cross a NaN gap, a change of segment id (a split
    boundary, a recording) or a ``False`` of a validity mask.

    Args:
        x: series ``(time,)`` or ``(time, channels)``; may contain NaN (a
            gap), not inf.
        length: readings per window.
        horizon: steps from the window's last reading to its target (>= 0).
        segments: ``None`` (runs of rows without NaN in x and the target), a
            boolean mask of valid rows, or one segment id per row (consecutive
            equal ids form a run). Rows with NaN are always excluded.
        stride: step between window starts inside each run.
        target: as in :func:`sliding_windows`.

    Returns:
        ``(X, y, starts)``: copied windows ``(n, length[, channels])``, their
        targets, and the first row of each window in ``x`` (to recover times).

    Raises:
        ValueError: on wrong dimensions, inf in ``x`` or the target (rows named),
            a mask or ids of the wrong length, or when no run is long enough for one
            window.
    """
    x = _series(x)
    _check_length(length, x.shape[0], horizon)
    _check_stride(stride)
    y_all = _target(x, target)
    n = x.shape[0]
    for array, name in ((x, "x"), (np.asarray(y_all), "target")):
        _check_finite(
            array, name,
            "NaN marks a gap (windows skip it); inf is not a gap: fix those readings or set "
            "them to NaN",
            nan=False,
        )  # fmt: skip
    valid = np.ones(n, dtype=bool)
    for array in (x, y_all):
        if array.dtype.kind in "fc":
            nan = np.isnan(array)
            valid &= ~(nan.any(axis=1) if nan.ndim == 2 else nan)
    if segments is None:
        ids = np.zeros(n, dtype=np.int64)
    else:
        ids = np.asarray(segments)
        if ids.shape != (n,):
            raise ValueError(
                f"segments must have one entry per reading, shape ({n},); got {ids.shape}"
            )
        if ids.dtype == bool:
            valid &= ids
            ids = np.zeros(n, dtype=np.int64)
    # Every invalid row gets a distinct negative id, so no window spans it.
    key = np.where(valid, bouts(ids), -(np.arange(n, dtype=np.int64) + 1))
    starts = window_starts(key, length + horizon, stride=stride)
    starts = starts[valid[starts]]
    if starts.size == 0:
        raise ValueError(
            f"no run of {length + horizon} consecutive valid readings (window {length} + "
            f"horizon {horizon}); use a shorter window or fill the gaps"
        )
    view = _view(x, length)
    return view[starts], np.asarray(y_all)[starts + length + horizon - 1], starts


# --------------------------------------------------------------------------- labelled segments


def _window_labels(labels: np.ndarray, starts: np.ndarray, length: int, policy: str) -> np.ndarray:
    if policy == "last":
        return labels[starts + length - 1]
    rows = sliding_window_view(labels, length)[starts]  # (n, length) gathered copy
    if policy == "max":
        return rows.max(axis=1)
    values, codes = np.unique(rows, return_inverse=True)
    codes = codes.reshape(rows.shape)
    k = values.size
    counts = np.bincount(
        (np.arange(rows.shape[0])[:, None] * k + codes).ravel(), minlength=rows.shape[0] * k
    ).reshape(rows.shape[0], k)
    return values[counts.argmax(axis=1)]  # ties: the smallest label


def segment_windows(
    frame: Any,
    length: int,
    *,
    group_by: str | Sequence[Any],
    label: str,
    policy: str = "max",
    stride: int | None = None,
    channels: Sequence[str] | None = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled windows that never cross a change of group (classification).

    Rows are taken in frame order; a group is a run of consecutive rows with equal
    values of every ``group_by`` key, so ``group_by=["subject", bouts(frame.activity)]``
    windows each activity bout of each subject separately. Leftover rows at the end
    of a run that do not fill a window are dropped.

    Args:
        frame: pandas DataFrame, one row per reading.
        length: readings per window.
        group_by: column name, or list of column names and/or arrays with one
            entry per row (e.g. from :func:`bouts`).
        label: name of the label column.
        policy: label of a window: ``"max"`` (largest label in it, the MHEALTH
            study), ``"last"`` (label of its last reading) or ``"majority"``
            (most frequent; ties go to the smallest label).
        stride: step between window starts; default ``length`` (non-overlapping).
        channels: columns to window; default every column that is neither the
            label nor a ``group_by`` column.
        dtype: dtype of ``X``.

    Returns:
        ``(X, y, groups)``: ``X`` ``(n, length, channels)``, the window labels
        ``y`` and ``groups``, the value of the first ``group_by`` key at each
        window (e.g. the subject, for :func:`lib.splits.group_split`).

    Raises:
        ValueError: on an unknown policy or column, keys of the wrong length, NaN
            or inf in the channels or NaN labels (rows named), or when no group is as
            long as one window.
    """
    if policy not in _POLICIES:
        raise ValueError(f"policy must be one of {_POLICIES}; got {policy!r}")
    stride = length if stride is None else stride
    _check_stride(stride)
    n = len(frame)
    _check_length(length, n)
    keys_spec = [group_by] if isinstance(group_by, str) else list(group_by)
    if not keys_spec:
        raise ValueError("group_by is empty; name at least one column (e.g. 'subject')")
    keys, key_columns = [], []
    for key in keys_spec:
        if isinstance(key, str):
            if key not in frame.columns:
                raise ValueError(
                    f"group_by column {key!r} not in frame columns {list(frame.columns)}"
                )
            keys.append(frame[key].to_numpy())
            key_columns.append(key)
        else:
            array = np.asarray(key)
            if array.shape != (n,):
                raise ValueError(
                    f"group_by array must have one entry per row, shape ({n},); got {array.shape}"
                )
            keys.append(array)
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} not in frame columns {list(frame.columns)}")
    if channels is None:
        skip = {label, *key_columns}
        channels = [c for c in frame.columns if c not in skip]
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise ValueError(f"channel columns {missing} not in frame columns {list(frame.columns)}")
    values = frame[list(channels)].to_numpy(dtype=dtype)
    _check_finite(values, "channels", "Fill or drop those rows before windowing")
    labels = frame[label].to_numpy()
    missing_label = np.asarray(pd.isna(frame[label]))
    if missing_label.any():
        rows = np.flatnonzero(missing_label)
        raise ValueError(
            f"label column {label!r} is missing (NaN/None) on {rows.size} rows (rows "
            f"{_row_list(rows)}); a window's label would be NaN. Drop or label those rows "
            "before windowing"
        )
    change = np.zeros(n, dtype=bool)
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    run = np.cumsum(change)
    starts = window_starts(run, length, stride=stride)
    if starts.size == 0:
        raise ValueError(
            f"no group has {length} consecutive rows; use a shorter window or coarser groups"
        )
    X = values[starts[:, None] + np.arange(length)]  # (n_windows, length, channels)
    y = _window_labels(labels, starts, length, policy)
    return X, y, keys[0][starts]


def bout_windows(
    frame: Any,
    length: int,
    *,
    label: str,
    group_by: str | Sequence[Any] | None = None,
    stride: int | None = None,
    channels: Sequence[str] | None = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled windows that stay inside one bout: a run of rows with the same label.

    :func:`segment_windows` with the label's :func:`bouts` as the last grouping key, so a
    window never spans two activities (or two ``group_by`` groups, e.g. subjects) and its
    label is the bout's. Rows are taken in frame order; rows at the end of a bout that do
    not fill a window are dropped.

    Args:
        frame: pandas DataFrame, one row per reading.
        length: readings per window.
        label: name of the label column.
        group_by: column name, or list of column names and/or arrays with one entry per row,
            whose changes also end a bout (e.g. ``"subject"``); ``None``: the label only.
        stride: step between window starts; default ``length`` (non-overlapping).
        channels: columns to window; default every column that is neither the label nor a
            ``group_by`` column.
        dtype: dtype of ``X``.

    Returns:
        ``(X, y, groups)``: ``X`` ``(n, length, channels)``, the window labels ``y`` and
        ``groups``, the value of the first ``group_by`` key at each window (the bout ids when
        ``group_by`` is None).

    Raises:
        ValueError: as :func:`segment_windows` (unknown column, NaN or inf in the channels,
            NaN labels, no bout as long as one window ...).
    """
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} not in frame columns {list(frame.columns)}")
    keys = [] if group_by is None else [group_by] if isinstance(group_by, str) else list(group_by)
    named = [key for key in keys if isinstance(key, str)]
    if channels is None:
        channels = [c for c in frame.columns if c != label and c not in named]
    return segment_windows(
        frame,
        length,
        group_by=[*keys, bouts(frame[label].to_numpy())],
        label=label,
        policy="last",
        stride=stride,
        channels=channels,
        dtype=dtype,
    )


# --------------------------------------------------------------------------- training feed


class WindowFeed(keras.utils.PyDataset):
    """Batches of stride-1 (or strided) regression windows cut from views, for ``model.fit``.

    Only the batch being served is copied; the series is held once (a reference, not
    a copy, when ``x`` is already ``float32``-contiguous), so memory does not grow
    with the number of windows (a shuffle order adds 8 bytes per window). Batch ``k``
    with ``shuffle=False`` equals ``sliding_windows(x, length, horizon=horizon)`` rows
    ``k * batch_size`` onward.

    Args:
        x: series ``(time,)`` or ``(time, channels)``, without NaN or inf
            (with ``starts``, only the windows and targets served must be finite).
        length: readings per window.
        horizon: steps from the window's last reading to its target.
        target: as in :func:`sliding_windows`.
        batch_size: windows per batch.
        stride: step between window starts.
        starts: explicit window start rows (e.g. from
            :func:`sliding_windows_segments`); overrides ``stride``.
        shuffle: serve windows in a new random order every epoch.
        seed: seed of the shuffle (epoch ``e`` uses ``(seed, e)``).
        dtype: dtype of the served batches.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of
            ``keras.utils.PyDataset``.

    Raises:
        ValueError: NaN or inf in a window or target it would serve (rows or
            starts named), a bad length / stride / horizon / batch size, or
            starts outside the series.
    """

    def __init__(
        self,
        x: Any,
        length: int,
        *,
        horizon: int,
        target: Any = None,
        batch_size: int = 32,
        stride: int = 1,
        starts: Any = None,
        shuffle: bool = False,
        seed: int = 0,
        dtype: Any = np.float32,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        x = _series(x)
        _check_length(length, x.shape[0], horizon)
        _check_stride(stride)
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size}")
        self.x = np.asarray(x, dtype=dtype)
        self.y_all = np.asarray(_target(self.x, target))
        if self.y_all.dtype.kind == "f":
            self.y_all = self.y_all.astype(dtype, copy=False)
        self.length, self.horizon, self.batch_size = length, horizon, batch_size
        self.stride, self.shuffle, self.seed = stride, shuffle, seed
        self._view = _view(self.x, length)
        last = x.shape[0] - length - horizon  # last valid start
        bad_x = _bad_rows(self.x)
        bad_y = _bad_rows(self.y_all)
        if starts is None:
            for bad, name in ((bad_x, "x"), (bad_y, "target")):
                if bad.any():
                    rows = np.flatnonzero(bad)
                    raise ValueError(
                        f"{name} must be finite; {rows.size} rows hold NaN or inf (rows "
                        f"{_row_list(rows)}); pass starts= from sliding_windows_segments "
                        "to skip gaps, or fill them"
                    )
            self._starts = None
            self.n_windows = last // stride + 1
        else:
            starts = np.asarray(starts, dtype=np.int64)
            if starts.ndim != 1 or (starts.size and (starts.min() < 0 or starts.max() > last)):
                raise ValueError(f"starts must be 1-D start rows between 0 and {last}")
            # A served window covers rows start .. start + length - 1, its target row
            # start + length + horizon - 1: count bad rows with a cumulative sum.
            bad_before = np.concatenate(([0], np.cumsum(bad_x)))
            in_window = bad_before[starts + length] - bad_before[starts] > 0
            in_target = bad_y[starts + length + horizon - 1]
            wrong = in_window | in_target
            if wrong.any():
                raise ValueError(
                    f"{int(wrong.sum())} of the {starts.size} starts give a window or target "
                    f"holding NaN or inf (starts {_row_list(starts[wrong])}); take the starts "
                    "from sliding_windows_segments, which skips gaps"
                )
            self._starts = starts
            self.n_windows = starts.size
        self._epoch = 0
        self._order = None
        if shuffle:
            self._order = np.random.default_rng([seed, 0]).permutation(self.n_windows)

    def __len__(self) -> int:
        return math.ceil(self.n_windows / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.n_windows)
        if self._order is not None:
            k = self._order[lo:hi]
        else:
            k = np.arange(lo, hi)
        starts = k * self.stride if self._starts is None else self._starts[k]
        return self._view[starts], self.y_all[starts + self.length + self.horizon - 1]

    def on_epoch_end(self) -> None:
        """Draws the next epoch's order when shuffling."""
        self._epoch += 1
        if self.shuffle:
            self._order = np.random.default_rng([self.seed, self._epoch]).permutation(
                self.n_windows
            )
