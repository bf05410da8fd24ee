"""Windows of several lengths that predict the same targets, for comparing window lengths.

A search over the window length (30, 60 or 120 readings of history) is only fair when every
length is scored on the same targets. :class:`AlignedWindows` holds the start rows of the
gap-free windows of the *longest* length in one part of a series (e.g. the validation span
of a chronological split) and cuts, for any shorter length, the last ``length`` readings of
each of them (:func:`lib.windows.aligned_starts`): every length then has the same windows
count and the same target rows (:func:`lib.windows.target_rows`). Windows come as copies
(:meth:`AlignedWindows.arrays`, for ``fit``) or as zero-copy batches
(:meth:`AlignedWindows.feed`, a :class:`lib.windows.WindowFeed` for ``predict``).

Conventions are those of :mod:`lib.windows`: ``x`` is ``(time, channels)``, the window
starting at row ``i`` holds ``x[i : i + length]`` and its target is row
``i + length + horizon - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lib.windows import WindowFeed, aligned_starts, sliding_windows_segments, target_rows

__all__ = ["AlignedWindows"]


class AlignedWindows:
    """The windows of one part of a series, cut at any length up to ``longest``.

    Rows outside the windows may hold NaN (gaps): only the windows and targets served are
    read, and they are checked to be finite.

    Args:
        x: readings ``(time, channels)`` (a 1-D series is taken as one channel).
        starts: start rows of the part's gap-free ``longest``-reading windows, e.g. the
            starts :func:`lib.windows.sliding_windows_segments` returns (or build every
            part at once with :meth:`split_parts`).
        longest: readings of the windows ``starts`` belongs to.
        horizon: steps from a window's last reading to its target.
        target: what to predict: ``None`` for all of ``x``, a column index (or list of
            them) of ``x``, or an array with one row per reading.

    Raises:
        ValueError: ``x`` is not 1-D or 2-D; ``target`` does not have one row per reading;
            ``starts`` is not 1-D non-negative integers; a window of ``longest`` readings
            plus ``horizon`` from a start runs past the end of ``x``.
    """

    def __init__(
        self, x: Any, starts: Any, *, longest: int, horizon: int, target: Any = None
    ) -> None:
        values = np.asarray(x)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(
                f"x must be readings shaped (time, channels) or (time,); got shape {values.shape}"
            )
        self.x = values
        if target is None:
            self.y = values
        elif isinstance(target, (int, np.integer, list, tuple)) and not isinstance(target, bool):
            self.y = values[:, target]
        else:
            self.y = np.asarray(target)
            if self.y.shape[:1] != values.shape[:1]:
                raise ValueError(
                    f"target has {self.y.shape[0] if self.y.ndim else 0} rows but x has "
                    f"{values.shape[0]}; pass one target row per reading"
                )
        self.longest, self.horizon = int(longest), int(horizon)
        self._starts = aligned_starts(starts, self.longest, longest=self.longest)
        if self._starts.size:
            last = int(self._starts.max()) + self.longest + self.horizon - 1
            if last >= len(values):
                raise ValueError(
                    f"a start of {int(self._starts.max())} needs row {last} (window of "
                    f"{self.longest} plus horizon {self.horizon}) but x has {len(values)} rows; "
                    "pass the starts of windows of `longest` readings over this x"
                )

    @classmethod
    def split_parts(
        cls, x: Any, parts: Any, *, longest: int, horizon: int, target: Any = None
    ) -> dict[str, AlignedWindows]:
        """One :class:`AlignedWindows` per part of a split series, over its gap-free windows.

        A window and its target never cross a change of part or a missing reading (NaN in
        ``x`` or the target): the starts are those of
        :func:`lib.windows.sliding_windows_segments` with the parts as segments.

        Args:
            x: readings ``(time, channels)``, NaN where missing.
            parts: ``{name: row indices}``, e.g. ``{"train": ..., "validation": ...,
                "test": ...}``, or a :class:`lib.splits.Split`. Rows in no part are
                left out.
            longest: readings of the longest window wanted.
            horizon: steps from a window's last reading to its target.
            target: as in the class (``None``: all of ``x``).

        Returns:
            ``{name: AlignedWindows}`` in the order of ``parts``.

        Raises:
            ValueError: a row in two parts; no part as long as one window plus the horizon
                (as :func:`lib.windows.sliding_windows_segments`).
        """
        whole = cls(x, np.empty(0, dtype=np.int64), longest=longest, horizon=horizon, target=target)
        rows_of = dict(parts._asdict() if hasattr(parts, "_asdict") else parts)
        ids = np.full(len(whole.x), -1, dtype=np.int64)
        for number, rows in enumerate(rows_of.values()):
            rows = np.asarray(rows, dtype=np.int64)
            if (ids[rows] != -1).any():
                raise ValueError(
                    f"part {list(rows_of)[number]!r} shares rows with an earlier part; a row "
                    "belongs to one part"
                )
            ids[rows] = number
        missing = ids < 0
        for values in (whole.x, whole.y.reshape(len(whole.x), -1)):
            if values.dtype.kind == "f":
                missing |= ~np.isfinite(values).all(axis=1)
        guarded = np.where(missing, np.nan, 0.0)
        _, _, starts = sliding_windows_segments(guarded, longest, horizon=horizon, segments=ids)
        return {
            name: cls(
                whole.x,
                starts[ids[starts] == number],
                longest=longest,
                horizon=horizon,
                target=whole.y,
            )
            for number, name in enumerate(rows_of)
        }

    def __len__(self) -> int:
        """Number of windows (the same for every length)."""
        return int(self._starts.size)

    def starts(self, length: int, *, stride: int = 1) -> np.ndarray:
        """Start rows of the ``length``-reading windows (every ``stride``-th window)."""
        return aligned_starts(self._starts, length, longest=self.longest, stride=stride)

    def target_rows(self, *, stride: int = 1) -> np.ndarray:
        """Rows of the targets (every ``stride``-th window), the same for every length."""
        return target_rows(self._starts[::stride], self.longest, horizon=self.horizon)

    def _columns(self, channels: Sequence[int] | None) -> np.ndarray:
        return self.x if channels is None else self.x[:, list(channels)]

    def arrays(
        self, length: int, *, channels: Sequence[int] | None = None, stride: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows and targets as contiguous copies (for ``model.fit`` or a baseline).

        Args:
            length: readings per window, ``1 <= length <= longest``.
            channels: column indices of ``x`` to keep (default all).
            stride: keep every ``stride``-th window (the same windows' targets for every
                length).

        Returns:
            ``(X, y)``: ``X`` ``(n, length, channels)`` and the targets ``y``.

        Raises:
            ValueError: a bad ``length`` or ``stride``; NaN or inf in a window or target
                served (starts named).
        """
        series = self._columns(channels)
        starts = self.starts(length, stride=stride)
        self._check_finite(series, starts, length)
        view = np.moveaxis(sliding_window_view(series, length, axis=0), -1, 1)
        targets = self.y[target_rows(starts, length, horizon=self.horizon)]
        return np.ascontiguousarray(view[starts]), targets

    def feed(
        self,
        length: int,
        *,
        channels: Sequence[int] | None = None,
        batch_size: int = 32,
        stride: int = 1,
        **kwargs: Any,
    ) -> WindowFeed:
        """The same windows as zero-copy batches, in order (for ``model.predict``).

        Args:
            length: readings per window.
            channels: column indices of ``x`` to keep (default all).
            batch_size: windows per batch.
            stride: keep every ``stride``-th window.
            **kwargs: other :class:`lib.windows.WindowFeed` arguments (``shuffle``, ``seed``,
                ``dtype`` ...).

        Returns:
            A :class:`lib.windows.WindowFeed` serving ``(X, y)`` batches.
        """
        return WindowFeed(
            self._columns(channels),
            length,
            horizon=self.horizon,
            target=self.y,
            batch_size=batch_size,
            starts=self.starts(length, stride=stride),
            **kwargs,
        )

    def _check_finite(self, series: np.ndarray, starts: np.ndarray, length: int) -> None:
        bad = ~np.isfinite(series).all(axis=1) if series.dtype.kind == "f" else None
        wrong = np.zeros(starts.size, dtype=bool)
        if bad is not None and bad.any():
            before = np.concatenate(([0], np.cumsum(bad)))
            wrong |= before[starts + length] - before[starts] > 0
        y = self.y.reshape(len(self.y), -1)
        if y.dtype.kind == "f":
            wrong |= ~np.isfinite(y[target_rows(starts, length, horizon=self.horizon)]).all(axis=1)
        if wrong.any():
            raise ValueError(
                f"{int(wrong.sum())} of the {starts.size} windows hold NaN or inf in the "
                f"window or its target (starts {starts[wrong][:5].tolist()}); take the starts "
                "from sliding_windows_segments (or AlignedWindows.split_parts), which skip gaps"
            )
