"""Streaming evaluation: predict from the first few readings on, padding short histories.

A deployed forecaster cannot wait for a full window: after ``min_history`` readings
(2 in the household power study) it already predicts, from a history shorter than
the window the model was trained on. :func:`streaming_windows` builds exactly those
inputs, padded to the window length with ``keras.utils.pad_sequences``, followed by
the ordinary full windows, each aligned with the target it predicts.

Row ``k`` has seen ``h = min_history + k`` readings: its input is the last
``min(h, length)`` of them and its target is row ``h + horizon - 1`` of the series,
the same convention as :func:`lib.windows.sliding_windows` (the rows with
``h >= length`` are exactly ``sliding_windows(x, length, horizon=horizon)``).

Padding and masking: ``padding="pre"`` puts the filler before the readings, so a
recurrent layer reads the real readings last (what an unmasked LSTM needs);
``"post"`` puts it after, which only makes sense with a mask. With ``mask=True``
the filler is :data:`MASK_VALUE` (unless ``value`` is given), and a
``keras.layers.Masking(mask_value=MASK_VALUE)`` layer in front of the recurrent
layers makes them skip every padded step: the prediction for a padded row then
equals the prediction for the unpadded short history, whichever side is padded.
A real reading whose channels all equal the filler would be skipped as well, so
``mask=True`` refuses a series that contains one.

Sets of samples of different lengths (a :class:`lib.datasets.SampleSet`, e.g. from
:func:`lib.datasets.read_ts`): :func:`pad_samples` pads or truncates them to one length and
returns the mask of real readings; :func:`resample_samples` stretches or shrinks each one to
a common length by linear interpolation.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from lib.windows import _bad_rows, _check_finite, _check_length, _row_list, _series, _target, _view

__all__ = ["MASK_VALUE", "pad_samples", "resample_samples", "streaming_windows"]

#: Filler used with ``mask=True``; give the same value to ``keras.layers.Masking``.
MASK_VALUE = -9999.0


def streaming_windows(
    x: Any,
    length: int,
    *,
    horizon: int,
    min_history: int = 2,
    padding: str = "pre",
    value: float | None = None,
    mask: bool = False,
    target: Any = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs for predicting from the ``min_history``-th reading on, padded to ``length``.

    Args:
        x: series ``(time,)`` or ``(time, channels)`` without NaN or inf.
        length: window length the model expects.
        horizon: steps from the last reading seen to the target (>= 0).
        min_history: readings needed before the first prediction (1..length).
        padding: ``"pre"`` or ``"post"``: where the filler goes in a short history.
        value: filler, a finite number; default 0.0, or :data:`MASK_VALUE` with
            ``mask=True``.
        mask: pad with a value a ``keras.layers.Masking`` layer can skip (see the
            module docstring); refuses a series with a reading equal to it.
        target: as in :func:`lib.windows.sliding_windows`.
        dtype: dtype of ``X``.

    Returns:
        ``(X, y, history_length)``: ``X`` ``(n, length[, channels])`` with
        ``n = len(x) - horizon - min_history + 1``, the aligned targets ``y`` and
        the number of real (unpadded) readings in each row.

    Raises:
        ValueError: on NaN or inf in ``x`` or in a predicted target (rows
            named), a filler that is not a finite number, wrong dimensions, a bad
            ``padding`` / ``min_history``, a series too short for one prediction,
            or (with ``mask=True``) a reading equal to the filler.
    """
    x = _series(x)
    n = x.shape[0]
    if padding not in ("pre", "post"):
        raise ValueError(f"padding must be 'pre' or 'post'; got {padding!r}")
    _check_length(length, length + horizon, horizon)  # types only; short series are fine
    if not 1 <= min_history <= length:
        raise ValueError(f"min_history must be between 1 and length={length}; got {min_history}")
    if min_history + horizon > n:
        raise ValueError(
            f"series of {n} readings is too short for one prediction after {min_history} "
            f"readings at horizon {horizon}; need at least {min_history + horizon}"
        )
    _check_finite(x, "x", "Fill the gaps before streaming evaluation")
    y_all = _target(x, target)
    bad = _bad_rows(np.asarray(y_all))
    bad[: min_history + horizon - 1] = False  # rows before the first prediction are unused
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"target must be finite on the rows predicted; {rows.size} rows hold NaN or inf "
            f"(rows {_row_list(rows)}). Fill or drop those rows before streaming evaluation"
        )
    if value is None:
        value = MASK_VALUE if mask else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"value (the padding filler) must be a finite number; got {value!r}")
    if not np.isfinite(value):
        raise ValueError(
            f"value (the padding filler) must be finite; got {value}: a NaN or inf filler "
            "poisons every padded window (and NaN never equals the mask value). Pass a finite "
            f"number, e.g. the default 0.0 or MASK_VALUE={MASK_VALUE}"
        )
    if mask:
        hits = x == value
        if (hits.all(axis=1) if hits.ndim == 2 else hits).any():
            raise ValueError(
                f"x contains a reading equal to the padding value {value}, which Masking would "
                "skip; pass another value= (and the same mask_value to keras.layers.Masking)"
            )
    x = x.astype(dtype, copy=False)
    seen = np.arange(min_history, n - horizon + 1)  # readings seen per row
    short = seen[seen < length]
    parts = []
    if short.size:
        padded = keras.utils.pad_sequences(
            [x[:h] for h in short],  # at most length - 1 histories, not a loop over samples
            maxlen=length,
            dtype=np.dtype(dtype).name,
            padding=padding,
            value=value,
        )
        parts.append(padded)
    n_full = n - length - horizon + 1
    if n_full > 0:
        parts.append(_view(x, length)[:n_full])
    X = np.concatenate(parts, axis=0) if len(parts) > 1 else np.array(parts[0])
    y = np.asarray(y_all)[seen + horizon - 1]
    return X, y, np.minimum(seen, length)


# --------------------------------------------------------------------------- sets of samples


def _sample_list(samples: Any) -> list[np.ndarray]:
    """Samples as a list of 2-D ``(time, channels)`` arrays, channels checked."""
    samples = getattr(samples, "samples", samples)  # a lib.datasets.SampleSet
    if isinstance(samples, np.ndarray):
        if samples.ndim == 2:  # (n, time): univariate samples of one length
            samples = samples[..., None]
        if samples.ndim != 3:
            raise ValueError(
                f"samples must be a 3-D array (samples, time, channels), a 2-D array "
                f"(samples, time) or a list of (time, channels) arrays; got shape "
                f"{samples.shape}"
            )
        return list(samples)
    out = []
    for index, sample in enumerate(samples):
        array = np.asarray(sample)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(
                f"each sample must be (time,) or (time, channels); sample {index} has shape "
                f"{array.shape}"
            )
        if out and array.shape[1] != out[0].shape[1]:
            raise ValueError(
                f"every sample must have the same number of channels: sample 0 has "
                f"{out[0].shape[1]}, sample {index} has {array.shape[1]}"
            )
        out.append(array)
    if not out:
        raise ValueError("samples is empty; pass at least one sample")
    return out


def _check_length_argument(length: Any) -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer; got {length!r}")
    return int(length)


def _float_dtype(samples: list[np.ndarray]) -> np.dtype:
    return np.result_type(*{s.dtype for s in samples}, np.float32)


def pad_samples(
    samples: Any,
    length: int | None = None,
    *,
    padding: str = "post",
    truncating: str = "post",
    value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pads (and truncates) samples of different lengths to one length, with the mask.

    The same rules as ``keras.utils.pad_sequences``, for multichannel samples and
    without a loop over samples; the mask tells real readings from filler, e.g. for a
    model's ``mask`` input or a weighted loss.

    Args:
        samples: a list of ``(time_i, channels)`` (or ``(time_i,)``) arrays, a 3-D array,
            or a :class:`lib.datasets.SampleSet`.
        length: the output length; None: the longest sample's.
        padding: ``"post"`` (filler after the readings) or ``"pre"`` (before them).
        truncating: for samples longer than ``length``: ``"post"`` keeps their first
            ``length`` steps, ``"pre"`` their last ones.
        value: the filler.

    Returns:
        ``(x, mask)``: ``x`` ``(n, length, channels)`` float (float32 at least), ``mask``
        ``(n, length)`` bool, True where ``x`` holds a real reading.

    Raises:
        ValueError: bad ``padding`` / ``truncating`` / ``length`` / ``value``, no samples,
            or samples with different channel counts.
    """
    for argument, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(f"{argument} must be 'pre' or 'post'; got {given!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"value (the filler) must be a number; got {value!r}")
    items = _sample_list(samples)
    sizes = np.array([len(s) for s in items], dtype=np.int64)
    length = int(sizes.max()) if length is None else _check_length_argument(length)
    channels = items[0].shape[1]
    n = len(items)
    flat = np.concatenate(items, axis=0)
    kept = np.minimum(sizes, length)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    source_start = starts + (sizes - kept if truncating == "pre" else 0)
    target_start = length - kept if padding == "pre" else np.zeros(n, dtype=np.int64)
    rows = np.repeat(np.arange(n), kept)
    step = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    out = np.full((n, length, channels), value, dtype=_float_dtype(items))
    mask = np.zeros((n, length), dtype=bool)
    columns = np.repeat(target_start, kept) + step
    out[rows, columns] = flat[np.repeat(source_start, kept) + step]
    mask[rows, columns] = True
    return out, mask


def resample_samples(samples: Any, length: int) -> np.ndarray:
    """Stretches or shrinks every sample to ``length`` steps by linear interpolation.

    The usual way in time-series classification to give unequal-length samples one
    length: each channel of a sample of ``t`` steps is read at ``length`` evenly spaced
    positions from its first to its last step (``np.interp`` over
    ``np.linspace(0, t - 1, length)``), computed for all samples at once. A sample of
    one step is repeated; a sample already ``length`` long is returned unchanged.

    Args:
        samples: a list of ``(time_i, channels)`` (or ``(time_i,)``) arrays, a 3-D array,
            or a :class:`lib.datasets.SampleSet`.
        length: the output length (>= 1; 1 keeps each sample's first step).

    Returns:
        ``(n, length, channels)`` float array (float32 at least).

    Raises:
        ValueError: a bad ``length``, no samples, an empty sample, or samples with
            different channel counts.
    """
    length = _check_length_argument(length)
    items = _sample_list(samples)
    sizes = np.array([len(s) for s in items], dtype=np.int64)
    if (sizes == 0).any():
        raise ValueError(
            f"samples {np.flatnonzero(sizes == 0)[:10].tolist()} have no step; an empty "
            "sample cannot be resampled: drop it"
        )
    flat = np.concatenate(items, axis=0).astype(_float_dtype(items), copy=False)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if length == 1:
        position = np.zeros((len(items), 1))
    else:  # (n, length) fractional source steps
        position = np.arange(length) * ((sizes[:, None] - 1) / (length - 1))
    low = np.floor(position).astype(np.int64)
    low = np.minimum(low, sizes[:, None] - 1)
    high = np.minimum(low + 1, sizes[:, None] - 1)
    weight = (position - low)[..., None].astype(flat.dtype)
    below = flat[starts[:, None] + low]
    above = flat[starts[:, None] + high]
    return np.where(weight == 0, below, below + weight * (above - below))
