"""MIT-BIH heartbeats in the layout of the Kaggle "ECG Heartbeat Categorization" set.

Kachuee, Fazeli and Sarrafzadeh (2018) cut the 48 records of the MIT-BIH
Arrhythmia Database (Moody & Mark 2001, PhysioNet) into single beats: lead MLII
resampled to 125 Hz, split into 10-s windows, each window min-max normalised to
[0, 1], and for every R-peak the 1.2 x median-RR samples that start at the peak,
zero-padded to 187. Beats carry the five AAMI classes N, S, V, F, Q (0..4).

This module rebuilds those beats from the original WFDB records with ``wfdb``,
using the cardiologists' beat annotations (``.atr``) as R-peaks, so every
annotated beat is kept: 109,494 beats (N 90,631, S 2,781, V 7,236, F 803,
Q 8,043), 48 more than the 109,446 of the Kaggle files, i.e. one per record
(N 42, S 2, Q 4 fewer there; which beat they dropped is not documented).
Where this differs from the paper, the docstrings say so.

The derived beats of all 48 records are cached once, with their record number,
annotation symbol and peak index (at 125 Hz), in the writable cache
(``heartbeat/beats-v<DERIVATION_VERSION>.npz``), and both split schemes are
drawn from that one file. Users who already hold the Kaggle CSVs (or a parquet
copy of them) read them with :func:`read_heartbeat_file`.

Data licence: Open Data Commons Attribution 1.0; cite Moody & Mark (2001) and
Goldberger et al. (2000).
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import _cache
from ._mitdb import (  # noqa: F401  (re-exported: the MIT-BIH record files)
    MITDB_SUMS_SHA256,
    MITDB_URL,
    RECORDS,
    check_files,
    mitdb_dir,
    verify_mitdb,
)
from .heartbeat_features import (  # noqa: F401  (re-exported)
    LOCAL_RR_BEATS,
    LOOKAHEAD_RR_FEATURES,
    MORPHOLOGY_SPAN,
    MORPHOLOGY_STEP,
    RR_FEATURES,
    SAMPLING_RATE,
    beat_morphology_features,
    morphology_feature_names,
    rr_features,
    table_rr_features,
)

PACED_RECORDS: tuple[int, ...] = (102, 104, 107, 217)
"""Records with a pacemaker, left out of the inter-patient scheme."""

DS1: tuple[int, ...] = (
    101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122,
    124, 201, 203, 205, 207, 208, 209, 215, 220, 223, 230,
)  # fmt: skip
"""De Chazal et al. (2004) training records of the inter-patient scheme."""

DS2: tuple[int, ...] = (
    100, 103, 105, 111, 113, 117, 121, 123, 200, 202, 210,
    212, 213, 214, 219, 221, 222, 228, 231, 232, 233, 234,
)  # fmt: skip
"""De Chazal et al. (2004) test records of the inter-patient scheme."""

CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
"""AAMI beat classes; a label is the index into this tuple."""

AAMI_SYMBOLS: dict[str, int] = {
    **dict.fromkeys("NLRej", 0),  # normal, bundle branch blocks, escape beats
    **dict.fromkeys("AaJS", 1),  # supraventricular ectopic
    **dict.fromkeys("VE", 2),  # ventricular ectopic
    "F": 3,  # fusion of ventricular and normal
    **dict.fromkeys("/fQ", 4),  # paced, fusion of paced and normal, unclassifiable
}
"""MIT-BIH beat annotation symbol -> AAMI class index. Symbols not listed
(rhythm changes, noise, ``!`` flutter waves, ``x`` non-conducted P waves, ...)
are not beats of any AAMI class and are dropped."""

BEAT_LENGTH = 187
"""Samples per beat (about 1.5 s at 125 Hz), zero-padded."""

PREFERRED_LEAD = "MLII"
DERIVATION_VERSION = 1
"""Bump when the derivation changes; the cache file name carries it."""

_SPLITS = ("train", "test", "all")
_SCHEMES = ("random", "inter-patient")


# --------------------------------------------------------------------------- segmentation


def aami_labels(symbols: Sequence[str] | np.ndarray) -> np.ndarray:
    """Maps MIT-BIH annotation symbols to AAMI class indices.

    Args:
        symbols: annotation symbols such as ``wfdb.rdann(...).symbol``.

    Returns:
        int64 array of the same length: 0..4 for N, S, V, F, Q (see
        :data:`AAMI_SYMBOLS`), -1 for annotations that are not such a beat.
    """
    symbols = np.asarray(symbols, dtype=str)
    table = np.array(list(AAMI_SYMBOLS))
    classes = np.array(list(AAMI_SYMBOLS.values()), dtype=np.int64)
    order = np.argsort(table)
    table, classes = table[order], classes[order]
    position = np.clip(np.searchsorted(table, symbols), 0, len(table) - 1)
    return np.where(table[position] == symbols, classes[position], -1)


def _window_extrema(signal: np.ndarray, window: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each window ``[k * window, (k + 1) * window + reach)``."""
    count = -(-signal.size // window)
    low = np.full((count + 1) * window, np.inf)
    high = np.full((count + 1) * window, -np.inf)
    low[: signal.size] = signal
    high[: signal.size] = signal
    low, high = low.reshape(count + 1, window), high.reshape(count + 1, window)
    minimum = np.minimum(low[:-1].min(axis=1), low[1:, :reach].min(axis=1))
    maximum = np.maximum(high[:-1].max(axis=1), high[1:, :reach].max(axis=1))
    return minimum, maximum


def _window_median_rr(peaks: np.ndarray, beat_window: np.ndarray, count: int) -> np.ndarray:
    """Median RR interval (samples) per window: the intervals from each beat to
    the one before it, grouped by the window of the later beat; windows without
    an interval get the record's median (NaN when the record has none)."""
    rr = np.diff(peaks).astype(np.float64)
    median = np.full(count, np.median(rr) if rr.size else np.nan)
    if rr.size == 0:
        return median
    owner = beat_window[1:]
    order = np.lexsort((rr, owner))
    rr, owner = rr[order], owner[order]
    per_window = np.bincount(owner, minlength=count)
    start = np.concatenate(([0], np.cumsum(per_window)[:-1]))
    lower = np.clip(start + (per_window - 1) // 2, 0, rr.size - 1)
    upper = np.clip(start + per_window // 2, 0, rr.size - 1)
    return np.where(per_window > 0, (rr[lower] + rr[upper]) / 2, median)


def segment_beats(
    signal: np.ndarray,
    peaks: np.ndarray,
    *,
    sampling_rate: float = SAMPLING_RATE,
    window_seconds: float = 10.0,
    rr_factor: float = 1.2,
    length: int = BEAT_LENGTH,
) -> np.ndarray:
    """Cuts one beat per R-peak the way Kachuee et al. (2018) did.

    The signal is split into consecutive windows of ``window_seconds``. In each
    window T is the median RR interval (intervals from each beat to the one
    before it, grouped by the window of the later beat; a window with none uses
    the record's median). A beat is the ``round(rr_factor * T)`` samples that
    start at its peak, cut at ``length`` and at the end of the signal, then
    zero-padded to ``length``.

    Each window is min-max normalised to [0, 1]. Unlike the paper, which kept
    only beats that fit inside their window, every beat is kept: a window's
    minimum and maximum are taken over the window plus the ``length`` samples
    after it, so a beat that runs into the next window stays within [0, 1]
    without a jump at the window boundary.

    Args:
        signal: 1-D signal already at ``sampling_rate``.
        peaks: sorted sample indices of the R-peaks in ``signal``.
        sampling_rate: Hz of ``signal``.
        window_seconds: length of the normalisation / median-RR windows.
        rr_factor: beat length as a multiple of the window's median RR.
        length: samples per beat after zero-padding.

    Returns:
        float32 array ``(len(peaks), length)`` with values in [0, 1].

    Raises:
        ValueError: the signal is not 1-D, a peak lies outside it, the peaks are
            not sorted, or the window is shorter than ``length``.
    """
    signal = np.asarray(signal, dtype=np.float64)
    peaks = np.asarray(peaks, dtype=np.int64)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"expected a non-empty 1-D signal, found shape {signal.shape}")
    if peaks.ndim != 1:
        raise ValueError(f"expected 1-D peak indices, found shape {peaks.shape}")
    window = int(round(window_seconds * sampling_rate))
    if window < length:
        raise ValueError(
            f"window of {window} samples is shorter than the beat length {length}; "
            "use a longer window_seconds or a shorter length"
        )
    if not np.isfinite(signal).all():
        raise ValueError("signal contains NaN or infinite values; clean or interpolate it first")
    if peaks.size == 0:
        return np.zeros((0, length), dtype=np.float32)
    if peaks.min() < 0 or peaks.max() >= signal.size:
        raise ValueError(
            f"peaks must lie in [0, {signal.size - 1}], found {peaks.min()}..{peaks.max()}"
        )
    if np.any(np.diff(peaks) < 0):
        raise ValueError("peaks must be sorted in increasing order; sort them (with their labels)")

    beat_window = peaks // window
    count = -(-signal.size // window)
    minimum, maximum = _window_extrema(signal, window, length)
    scale = np.where(maximum > minimum, maximum - minimum, 1.0)
    rr = _window_median_rr(peaks, beat_window, count)
    spans = np.where(np.isnan(rr), length, np.rint(rr_factor * np.nan_to_num(rr)))
    span = np.minimum(spans, length).astype(np.int64)[beat_window]

    offsets = np.arange(length)
    index = peaks[:, None] + offsets[None, :]
    keep = (offsets[None, :] < span[:, None]) & (index < signal.size)
    values = signal[np.minimum(index, signal.size - 1)]
    values = (values - minimum[beat_window, None]) / scale[beat_window, None]
    return np.where(keep, np.clip(values, 0.0, 1.0), 0.0).astype(np.float32)


# --------------------------------------------------------------------------- records


def _lead_channel(names: Sequence[str]) -> int:
    """Index of lead MLII, or 0 when the record has none (records 102 and 104)."""
    names = list(names)
    return names.index(PREFERRED_LEAD) if PREFERRED_LEAD in names else 0


def read_record(
    directory: str | Path,
    record: int,
    *,
    sampling_rate: int = SAMPLING_RATE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Reads one record's lead MLII (resampled) and its beat annotations.

    The lead is chosen by name: MLII where the record has it (channel 1 in
    record 114), else the first channel (V5 in records 102 and 104, which have
    no MLII). The signal is resampled with a polyphase filter
    (``scipy.signal.resample_poly``); annotation sample indices are scaled and
    rounded to the new rate. Only annotations of an AAMI class are returned.

    Args:
        directory: folder holding ``NNN.{dat,hea,atr}``.
        record: record number.
        sampling_rate: target Hz.

    Returns:
        ``(signal, peaks, symbols, lead)``: the resampled float64 signal, the
        beats' peak indices in it, their annotation symbols and the lead name.

    Raises:
        FileNotFoundError: ``NNN.dat``, ``NNN.hea`` or ``NNN.atr`` is missing (named,
            with what to do), before wfdb reports it in its own words.
    """
    import wfdb
    from scipy.signal import resample_poly

    check_files(directory, (record,), sums=False)
    path = str(Path(directory) / str(record))
    header = wfdb.rdheader(path)
    channel = _lead_channel(header.sig_name)
    source = wfdb.rdrecord(path, channels=[channel])
    ratio = Fraction(sampling_rate) / Fraction(header.fs).limit_denominator(1000)
    signal = resample_poly(source.p_signal[:, 0], ratio.numerator, ratio.denominator)
    annotation = wfdb.rdann(path, "atr")
    symbols = np.asarray(annotation.symbol, dtype=str)
    is_beat = aami_labels(symbols) >= 0
    samples = np.asarray(annotation.sample, dtype=np.int64)[is_beat]
    peaks = np.minimum(np.rint(samples * float(ratio)).astype(np.int64), signal.size - 1)
    return signal, peaks, symbols[is_beat], header.sig_name[channel]


def derive_beats(
    directory: str | Path,
    *,
    records: Sequence[int] | None = None,
    verify: bool = True,
    sums_sha256: str | None = None,
) -> dict[str, np.ndarray]:
    """Derives the beats of the given records (see :func:`segment_beats`).

    Args:
        directory: folder holding ``SHA256SUMS.txt`` and ``NNN.{dat,hea,atr}``.
        records: record numbers (default: all 48).
        verify: check every file against ``SHA256SUMS.txt`` first.
        sums_sha256: expected sha256 of ``SHA256SUMS.txt`` (default: pinned).

    Returns:
        Arrays of one row per beat: ``beats`` (float32, ``(n, 187)``),
        ``labels`` (int8, AAMI class 0..4), ``records`` (int16), ``symbols``
        (annotation symbol) and ``samples`` (peak index at 125 Hz).

    Raises:
        ChecksumError: a file differs from the published one (when ``verify``).
        FileNotFoundError: a record file is missing (named, with what to do).
    """
    records = RECORDS if records is None else tuple(records)
    if verify:
        verify_mitdb(directory, records=records, sums_sha256=sums_sha256 or MITDB_SUMS_SHA256)
    parts: dict[str, list[np.ndarray]] = {
        key: [] for key in ("beats", "labels", "records", "symbols", "samples")
    }
    for record in records:
        signal, peaks, symbols, _ = read_record(directory, record)
        parts["beats"].append(segment_beats(signal, peaks))
        parts["labels"].append(aami_labels(symbols).astype(np.int8))
        parts["records"].append(np.full(peaks.size, record, dtype=np.int16))
        parts["symbols"].append(symbols)
        parts["samples"].append(peaks)
    if not records:
        return {
            "beats": np.zeros((0, BEAT_LENGTH), np.float32),
            "labels": np.zeros(0, np.int8),
            "records": np.zeros(0, np.int16),
            "symbols": np.zeros(0, "<U1"),
            "samples": np.zeros(0, np.int64),
        }
    return {key: np.concatenate(value) for key, value in parts.items()}


# --------------------------------------------------------------------------- cache


def _cache_name() -> str:
    return f"heartbeat/beats-v{DERIVATION_VERSION}.npz"


def _save_beats(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Writes the beat table atomically (temporary file, then rename)."""
    with _cache.atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, version=np.int64(DERIVATION_VERSION), **arrays)


def heartbeat_beats(*, rebuild: bool = False) -> dict[str, np.ndarray]:
    """All 109,494 annotated beats of the 48 records, from the cache or derived.

    The first call finds (or downloads) the records, verifies them, derives
    the beats and caches them in the writable cache
    (``<cache>/heartbeat/beats-v<DERIVATION_VERSION>.npz``); later calls load
    that file.

    Args:
        rebuild: derive again even when a cached file exists.

    Returns:
        The arrays of :func:`derive_beats`.

    Raises:
        DatasetNotAvailableError: the records are not local and cannot be downloaded.
        ChecksumError: a record file differs from the published one.
    """
    keys = ("beats", "labels", "records", "symbols", "samples")
    cached = None if rebuild else _cache.find_file(_cache_name())
    if cached is not None:
        try:
            with np.load(cached, allow_pickle=False) as stored:
                if int(stored["version"]) == DERIVATION_VERSION:
                    return {key: stored[key] for key in keys}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            warnings.warn(
                f"ignoring unreadable beat cache {cached} ({error}); deriving again",
                RuntimeWarning,
                stacklevel=2,
            )
    directory = mitdb_dir(records=RECORDS, sums_sha256=MITDB_SUMS_SHA256)
    arrays = derive_beats(directory, records=RECORDS)
    _save_beats(_cache.cache_dir() / _cache_name(), arrays)
    return arrays


# --------------------------------------------------------------------------- public loaders


def load_heartbeat(
    split: str = "train",
    *,
    scheme: str = "random",
    test_size: float = 0.2,
    seed: int = 0,
    return_records: bool = False,
    rr: bool = False,
) -> tuple[np.ndarray, ...]:
    """Loads MIT-BIH beats as in the Kaggle set: 187 samples in [0, 1], labels 0..4.

    Schemes:

    - ``"random"``: a stratified, seeded split of all 109,494 beats (80/20 by
      default), like the Kaggle ``mitbih_train.csv`` / ``mitbih_test.csv``.
      **It is leaky**: beats of the same patient fall on both sides, so test
      scores overstate how a model does on a new patient.
    - ``"inter-patient"``: de Chazal et al. (2004): train on the 22 records of
      :data:`DS1`, test on the 22 of :data:`DS2`; the paced records 102, 104,
      107 and 217 are left out. ``test_size`` and ``seed`` do not apply.

    Differences from the Kaggle files: every annotated beat is kept (109,494
    instead of 109,446); R-peaks are the annotated beat positions; records 102
    and 104 have no lead MLII and use their first lead (V5); see
    :func:`segment_beats` for the normalisation of beats that cross a window.

    Args:
        split: ``"train"``, ``"test"``, or ``"all"`` (both, e.g. for grouped
            cross-validation with ``return_records=True``).
        scheme: ``"random"`` or ``"inter-patient"``.
        test_size: fraction of beats in the test split of the random scheme.
        seed: seed of the random scheme's split.
        return_records: also return each beat's record number (the patient,
            for grouped splits).
        rr: also return each beat's RR-interval features (:func:`rr_features`,
            columns :data:`RR_FEATURES`), computed per record from the same
            annotated R-peaks as the beats, over all the record's beats (both
            schemes). ``local_rr`` and ``pre_rr`` are causal; ``post_rr`` (the
            next beat), ``record_rr`` (the whole record's mean) and the ratios
            built on them look ahead (:data:`LOOKAHEAD_RR_FEATURES`). Peaks are
            at 125 Hz, so intervals have a resolution of 8 ms.

    Returns:
        ``(x, y)``, then ``records`` when ``return_records``, then ``rr_features``
        when ``rr``: ``x`` float32 ``(n, 187)``, ``y`` int64 class 0..4
        (:data:`CLASSES`), ``records`` int64, ``rr_features`` float32
        ``(n, len(RR_FEATURES))``.

    Raises:
        ValueError: unknown ``split`` or ``scheme``, or ``test_size`` not in (0, 1).
        DatasetNotAvailableError: the records are not local and cannot be downloaded.
        ChecksumError: a record file differs from the published one.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, found {split!r}")
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, found {scheme!r}")
    if scheme == "random" and not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), found {test_size}")
    table = heartbeat_beats()
    labels, records = table["labels"], table["records"]
    if scheme == "inter-patient":
        chosen = {"train": DS1, "test": DS2, "all": DS1 + DS2}[split]
        index = np.flatnonzero(np.isin(records, chosen))
    elif split == "all":
        index = np.arange(labels.size)
    else:
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(
            np.arange(labels.size), test_size=test_size, stratify=labels, random_state=seed
        )
        index = np.sort(train if split == "train" else test)
    result = (table["beats"][index], labels[index].astype(np.int64))
    if return_records:
        result += (records[index].astype(np.int64),)
    if rr:
        result += (table_rr_features(table["samples"], records)[index],)
    return result


def read_heartbeat_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads a Kaggle ``mitbih_train.csv`` / ``mitbih_test.csv`` or a parquet copy.

    Layout: one beat per row, 188 numeric columns: 187 samples in [0, 1], then
    the label as a number 0..4 (``0.0`` in the Kaggle CSVs). CSV files have no
    header (a single header row is tolerated); parquet columns may have any
    names. ``.csv.gz`` works too.

    Args:
        path: a ``.csv`` (optionally compressed) or ``.parquet`` file.

    Returns:
        ``(x, y)``: float32 ``(n, 187)`` and int64 labels 0..4.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown file type, wrong column count, non-numeric or
            missing values, samples outside [0, 1], or labels not in 0..4.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; pass the path of mitbih_train.csv or a parquet copy"
        )
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        frame = pd.read_parquet(path)
    elif ".csv" in name:
        try:
            frame = pd.read_csv(path, header=None, low_memory=False)
        except pd.errors.EmptyDataError as error:
            raise ValueError(f"{path} is empty; expected rows of 188 numbers") from error
        first = pd.to_numeric(frame.iloc[0], errors="coerce") if len(frame) else None
        if first is not None and first.isna().all():
            frame = frame.iloc[1:].reset_index(drop=True)  # a header row
    else:
        raise ValueError(
            f"{path}: expected a .csv, .csv.gz or .parquet file, found {path.suffix!r}"
        )
    columns = BEAT_LENGTH + 1
    if frame.shape[1] != columns:
        raise ValueError(
            f"{path}: expected {columns} columns ({BEAT_LENGTH} samples, then the label), "
            f"found {frame.shape[1]}; is this the Kaggle MIT-BIH heartbeat layout?"
        )
    if len(frame) == 0:
        raise ValueError(f"{path} has no rows; expected rows of {columns} numbers")
    numbers = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}: {int(bad.sum())} missing or non-numeric values, first at row {row}, "
            f"column {column} ({frame.iat[row, column]!r}); every cell must be a number"
        )
    x, y = numbers[:, :BEAT_LENGTH], numbers[:, BEAT_LENGTH]
    if x.min() < 0.0 or x.max() > 1.0:
        raise ValueError(
            f"{path}: samples must lie in [0, 1], found {x.min():.4g}..{x.max():.4g}; "
            "normalise each beat first"
        )
    valid = np.isin(y, np.arange(len(CLASSES)))
    if not valid.all():
        raise ValueError(
            f"{path}: the last column must be a label 0..{len(CLASSES) - 1}, found "
            f"{np.unique(y[~valid])[:5].tolist()} in {int((~valid).sum())} rows"
        )
    return x.astype(np.float32), y.astype(np.int64)
