"""Per-beat features for new patients: RR intervals and beat shape relative to the record.

Both are computed per record and need no labels: the RR features from the annotated R-peaks
(:func:`rr_features`, :func:`table_rr_features`), the shape features from the beats of the
same record (:func:`beat_morphology_features`: the beat minus the record's median beat and a
few summary values). Re-exported by :mod:`lib.datasets.heartbeat`.
"""

from __future__ import annotations

import numpy as np

SAMPLING_RATE = 125
"""Hz of the derived beats (re-exported as :data:`lib.datasets.heartbeat.SAMPLING_RATE`)."""

RR_FEATURES: tuple[str, ...] = (
    "pre_rr", "post_rr", "local_rr", "record_rr",
    "pre_rr_to_record", "post_rr_to_record", "local_rr_to_record",
    "pre_rr_to_local", "post_rr_to_local",
    "pre_rr_to_post", "pre_rr_to_median", "post_rr_to_median",
    "pre_rr_to_local_median", "post_rr_to_local_median",
)  # fmt: skip
"""Columns of :func:`rr_features`: intervals in seconds, then dimensionless ratios.
``post_rr``, ``record_rr`` and every ratio built on them look ahead of the beat."""

LOOKAHEAD_RR_FEATURES: tuple[str, ...] = (
    "post_rr", "record_rr", "pre_rr_to_record", "post_rr_to_record",
    "local_rr_to_record", "post_rr_to_local",
    "pre_rr_to_post", "pre_rr_to_median", "post_rr_to_median",
    "pre_rr_to_local_median", "post_rr_to_local_median",
)  # fmt: skip
"""The RR features that use beats after the current one (the next beat, or the whole
record); the others (``pre_rr``, ``local_rr``, ``pre_rr_to_local``) are causal."""

LOCAL_RR_BEATS = 10
"""RR intervals averaged by ``local_rr``."""


# --------------------------------------------------------------------------- RR intervals


def rr_features(
    peaks: np.ndarray,
    *,
    sampling_rate: float = SAMPLING_RATE,
    local_beats: int = LOCAL_RR_BEATS,
) -> np.ndarray:
    """RR-interval features of every beat of one record (columns :data:`RR_FEATURES`).

    With ``r[i] = peaks[i] - peaks[i - 1]`` (in seconds) the interval that ends at
    beat ``i``:

    - ``pre_rr``: ``r[i]``, the interval from the previous beat (the first beat,
      which has none, gets its next interval);
    - ``post_rr``: ``r[i + 1]``, the interval to the next beat (the last beat gets
      its previous interval). **Looks ahead** by one beat;
    - ``local_rr``: the mean ``pre_rr`` of the ``local_beats`` beats *before*
      beat ``i`` (fewer at the start of the record; the first beat uses its own).
      Causal: it uses only beats already seen, and not the current interval, so a
      premature beat does not pull its own reference down;
    - ``record_rr``: the mean RR interval of the **whole record**, so it looks
      ahead to the end of the record (a causal system would use a running mean);
    - ratios: ``pre_rr``, ``post_rr`` and ``local_rr`` divided by ``record_rr``,
      and ``pre_rr`` and ``post_rr`` divided by ``local_rr``;
    - ``pre_rr_to_post``: ``pre_rr / post_rr`` (a premature beat followed by a pause
      has a small one);
    - ``pre_rr_to_median`` and ``post_rr_to_median``: divided by the median RR interval
      of the whole record (robust to long pauses, which pull the mean up);
    - ``pre_rr_to_local_median`` and ``post_rr_to_local_median``: divided by the median
      of the ``2 * local_beats + 1`` intervals centred on the beat (edges repeated at the
      ends of the record), a reference that follows changes of the heart rate.

    The causal features are ``pre_rr``, ``local_rr`` and ``pre_rr_to_local``
    (:data:`LOOKAHEAD_RR_FEATURES` lists the others). Intervals are measured
    between the given peaks only, so when they are the AAMI beats of a record,
    non-beat annotations do not split an interval.

    Args:
        peaks: sorted sample indices of one record's beats.
        sampling_rate: Hz of the sample indices.
        local_beats: how many previous intervals ``local_rr`` averages.

    Returns:
        float32 array ``(len(peaks), len(RR_FEATURES))``.

    Raises:
        ValueError: ``peaks`` is not 1-D, has fewer than two beats, is not strictly
            increasing, or ``local_beats`` / ``sampling_rate`` is not positive.
    """
    peaks = np.asarray(peaks)
    if peaks.ndim != 1:
        raise ValueError(f"expected 1-D peak indices of one record, found shape {peaks.shape}")
    if peaks.size < 2:
        raise ValueError(
            f"RR intervals need at least two beats, found {peaks.size}; "
            "pass all the beats of a record"
        )
    if local_beats < 1 or sampling_rate <= 0:
        raise ValueError(
            f"local_beats and sampling_rate must be positive, found {local_beats} and "
            f"{sampling_rate}"
        )
    intervals = np.diff(peaks.astype(np.float64)) / sampling_rate
    if np.any(intervals <= 0):
        first = int(np.flatnonzero(intervals <= 0)[0])
        raise ValueError(
            f"peaks must be strictly increasing; beat {first + 1} (sample {peaks[first + 1]}) "
            f"does not come after beat {first} (sample {peaks[first]}); sort them and drop "
            "duplicates"
        )
    pre = np.concatenate((intervals[:1], intervals))
    post = np.concatenate((intervals, intervals[-1:]))
    # mean of pre[i - local_beats : i] via a cumulative sum; beat 0 uses its own interval
    total = np.concatenate(([0.0], np.cumsum(pre)))
    index = np.arange(pre.size)
    start = np.maximum(index - local_beats, 0)
    count = index - start
    local = np.where(count > 0, (total[index] - total[start]) / np.maximum(count, 1), pre)
    record = np.full(pre.size, intervals.mean())
    median = np.full(pre.size, np.median(intervals))
    padded = np.pad(pre, (local_beats, local_beats), mode="edge")
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * local_beats + 1)
    local_median = np.median(window, axis=1)
    columns = {
        "pre_rr": pre,
        "post_rr": post,
        "local_rr": local,
        "record_rr": record,
        "pre_rr_to_record": pre / record,
        "post_rr_to_record": post / record,
        "local_rr_to_record": local / record,
        "pre_rr_to_local": pre / local,
        "post_rr_to_local": post / local,
        "pre_rr_to_post": pre / post,
        "pre_rr_to_median": pre / median,
        "post_rr_to_median": post / median,
        "pre_rr_to_local_median": pre / local_median,
        "post_rr_to_local_median": post / local_median,
    }
    return np.stack([columns[name] for name in RR_FEATURES], axis=1).astype(np.float32)


def table_rr_features(
    samples: np.ndarray,
    records: np.ndarray,
    *,
    sampling_rate: float = SAMPLING_RATE,
    local_beats: int = LOCAL_RR_BEATS,
) -> np.ndarray:
    """:func:`rr_features` of a beat table holding several records.

    Each record's beats must be contiguous and in time order (as in
    :func:`heartbeat_beats`); intervals never cross from one record to the next.

    Args:
        samples: peak index of every beat.
        records: record number of every beat.
        sampling_rate: Hz of ``samples``.
        local_beats: how many previous intervals ``local_rr`` averages.

    Returns:
        float32 array ``(len(samples), len(RR_FEATURES))``, aligned with the rows.

    Raises:
        ValueError: the arrays differ in length, a record's beats are not
            contiguous, or a record has fewer than two beats or unsorted peaks.
    """
    samples, records = np.asarray(samples), np.asarray(records)
    if samples.shape != records.shape or samples.ndim != 1:
        raise ValueError(
            f"samples and records must be 1-D of one length, found shapes {samples.shape} "
            f"and {records.shape}"
        )
    starts = np.flatnonzero(np.concatenate(([True], records[1:] != records[:-1])))
    if np.unique(records[starts]).size != starts.size:
        raise ValueError(
            "each record's beats must be contiguous and in time order; sort the table by "
            "(record, sample) first"
        )
    result = np.zeros((samples.size, len(RR_FEATURES)), dtype=np.float32)
    for start, stop in zip(starts, np.append(starts[1:], samples.size), strict=True):
        try:
            result[start:stop] = rr_features(
                samples[start:stop], sampling_rate=sampling_rate, local_beats=local_beats
            )
        except ValueError as error:
            raise ValueError(f"record {records[start]}: {error}") from error
    return result


MORPHOLOGY_SPAN = 94
"""Samples of a beat (0.75 s from its R-peak, at 125 Hz) the morphology features look at."""

MORPHOLOGY_STEP = 3
"""Every how many samples the beat minus its record's median beat is kept."""


def morphology_feature_names(
    *, span: int = MORPHOLOGY_SPAN, step: int = MORPHOLOGY_STEP
) -> list[str]:
    """Column names of :func:`beat_morphology_features` for the given ``span`` and ``step``."""
    deviation = [f"deviation_{index}" for index in range(0, span, step)]
    return [*deviation, "correlation", "distance", "qrs_width", "r_amplitude", "s_amplitude"]


def beat_morphology_features(
    beats: np.ndarray,
    records: np.ndarray,
    *,
    span: int = MORPHOLOGY_SPAN,
    step: int = MORPHOLOGY_STEP,
) -> np.ndarray:
    """Shape features of every beat, normalised by its own record (no labels used).

    Each record's reference is the sample-wise median of all its beats given here (its
    "typical" beat: in most records a normal one). Per beat, over the first ``span``
    samples from the R-peak (columns :func:`morphology_feature_names`):

    - ``deviation_k``: the beat minus its record's median beat, every ``step``-th sample;
    - ``correlation``: Pearson correlation with the record's median beat (a beat of
      another shape, e.g. a ventricular one, correlates less);
    - ``distance``: mean absolute difference from the record's median beat;
    - ``qrs_width``: samples among the first 25 (200 ms) above the half-way level between
      their minimum and maximum (a wide QRS complex stays high longer);
    - ``r_amplitude``: maximum of the first 10 samples; ``s_amplitude``: minimum of the
      first 30.

    Like ``record_rr``, the median beat uses the whole record, so every feature looks
    ahead to the record's later beats; the model sees a patient's beats relative to that
    patient, which is what lets it generalise to new patients.

    Args:
        beats: ``(n, length)`` beats as :func:`load_heartbeat` returns them.
        records: record number of every beat (any order; a record's median uses all its
            rows here).
        span: samples from the R-peak to use (at most the beat length).
        step: keep every ``step``-th sample of the deviation from the median beat.

    Returns:
        float32 array ``(n, len(morphology_feature_names(span=span, step=step)))``.

    Raises:
        ValueError: ``beats`` is not 2-D, ``records`` does not match its rows, or
            ``span`` / ``step`` are out of range.
    """
    beats = np.asarray(beats, dtype=np.float32)
    records = np.asarray(records)
    if beats.ndim != 2:
        raise ValueError(f"expected beats of shape (n, length), found {beats.shape}")
    if records.shape != (beats.shape[0],):
        raise ValueError(
            f"expected one record number per beat ({beats.shape[0]}), found shape {records.shape}"
        )
    if not 30 <= span <= beats.shape[1] or step < 1:
        raise ValueError(
            f"span must lie in [30, {beats.shape[1]}] and step be positive, found span {span} "
            f"and step {step}"
        )
    window = beats[:, :span]
    reference = np.empty_like(window)
    names, owner = np.unique(records, return_inverse=True)
    for number in range(names.size):  # one median per record, vectorised over its beats
        rows = owner == number
        reference[rows] = np.median(window[rows], axis=0)
    centred = window - window.mean(axis=1, keepdims=True)
    typical = reference - reference.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1) * (typical**2).sum(axis=1))
    correlation = (centred * typical).sum(axis=1) / np.maximum(norms, 1e-9)
    distance = np.abs(window - reference).mean(axis=1)
    early = window[:, :25]
    half = (early.max(axis=1, keepdims=True) + early.min(axis=1, keepdims=True)) / 2
    width = (early > half).sum(axis=1)
    columns = [
        (window - reference)[:, ::step], correlation[:, None], distance[:, None],
        width[:, None], window[:, :10].max(axis=1)[:, None], window[:, :30].min(axis=1)[:, None],
    ]  # fmt: skip
    return np.hstack(columns).astype(np.float32)
