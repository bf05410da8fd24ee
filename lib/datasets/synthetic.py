"""Seeded, schema-identical stand-ins for the datasets that may be absent.

**These are not real data.** They exist so tests run without downloads and so a
study notebook can show its whole pipeline when the real files are missing
(MHEALTH offline, the mice course data not public). Every table they return
carries ``frame.attrs["synthetic"] = True``; notebooks must announce the
stand-in in bold at the top and in every results table and figure title.

The signals are built so a model *can* learn (activity- or state-dependent
structure under noise, with subject- or mouse-specific gain), but any number
measured on them says nothing about the real studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .mhealth import ALL_CHANNELS, CHANNELS
from .mice_sleep import STATES

RATE_HZ = 50


def _mark(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    frame.attrs["synthetic"] = True
    frame.attrs["stand_in_for"] = name
    return frame


def mhealth(
    *,
    subjects: int = 10,
    seed: int = 0,
    duration_scale: float = 1.0,
    all_channels: bool = False,
) -> pd.DataFrame:
    """A stand-in for :func:`lib.datasets.load_mhealth`: same columns and dtypes.

    Per subject: a null bout (label 0) before, between and after the 12 activity
    bouts, in order 1..12, at 50 Hz. Bout lengths follow the real data at
    ``duration_scale=1`` (3,072 rows for activities 1-5 and 9-11, 2,000-3,500
    for 6-8, 1,024 for 12, 3,000-8,000 per null bout: about 100,000 rows per
    subject). Each activity has its own frequency, amplitude and offset per
    channel; each subject its own gain and offset; noise on top.

    Args:
        subjects: number of subjects (numbered from 1).
        seed: seed of everything random.
        duration_scale: multiply every bout length (e.g. 0.05 for tests).
        all_channels: return the 23 sensor columns instead of the 12.

    Returns:
        DataFrame of float32 channels, ``activity`` (int8), ``subject`` (int8),
        with ``attrs["synthetic"] = True``.
    """
    if subjects < 1 or duration_scale <= 0:
        raise ValueError(
            f"need subjects >= 1 and duration_scale > 0, got {subjects}, {duration_scale}"
        )
    rng = np.random.default_rng(seed)
    columns = ALL_CHANNELS if all_channels else CHANNELS
    n_channels = len(columns)
    # Activity signatures (row 0 is the null class). Postures (1-3) differ only by small
    # offsets (orientation); movements share overlapping frequency bands, so activities
    # overlap the way real ones do and subjects differ by more than some activities.
    frequency = np.concatenate(
        [[0.3], rng.uniform(0.05, 0.2, size=3), rng.uniform(0.8, 2.5, size=9)]
    )
    amplitude = np.concatenate(
        [
            rng.uniform(0.1, 0.4, size=(1, n_channels)),
            rng.uniform(0.02, 0.1, size=(3, n_channels)),
            rng.uniform(0.3, 1.2, size=(9, n_channels)),
        ]
    )
    offset = rng.normal(0.0, 0.35, size=(13, n_channels))

    lengths, labels, owners = [], [], []
    for subject in range(1, subjects + 1):  # 25 bouts per subject: a loop over bouts, not samples
        activity_rows = np.full(12, 3072)
        activity_rows[5:8] = rng.integers(2000, 3500, size=3)
        activity_rows[11] = 1024
        null_rows = rng.integers(3000, 8000, size=13)
        bout_rows = np.empty(25, dtype=np.int64)
        bout_rows[0::2] = null_rows
        bout_rows[1::2] = activity_rows
        bout_labels = np.zeros(25, dtype=np.int8)
        bout_labels[1::2] = np.arange(1, 13)
        lengths.append(np.maximum(1, np.round(bout_rows * duration_scale)).astype(np.int64))
        labels.append(bout_labels)
        owners.append(np.full(25, subject, dtype=np.int8))
    lengths = np.concatenate(lengths)
    activity = np.repeat(np.concatenate(labels), lengths)
    subject = np.repeat(np.concatenate(owners), lengths)
    n = activity.size

    # Each subject: own gain and offset per channel, own tempo, and an own way of doing
    # each activity (subject x activity offsets).
    gain = rng.uniform(0.6, 1.4, size=(subjects + 1, n_channels))
    shift = rng.normal(0.0, 0.5, size=(subjects + 1, n_channels))
    tempo = rng.uniform(0.8, 1.2, size=subjects + 1)
    style = rng.normal(0.0, 0.25, size=(subjects + 1, 13, n_channels))
    phase = rng.uniform(0, 2 * np.pi, size=n_channels)
    t = np.arange(n) / RATE_HZ
    cycles = (frequency[activity] * tempo[subject])[:, None] * t[:, None]
    wave = np.sin(2 * np.pi * cycles + phase[None, :])
    values = (
        offset[activity]
        + shift[subject]
        + style[subject, activity]
        + gain[subject] * amplitude[activity] * wave
        + rng.normal(0.0, 0.5, size=(n, n_channels))
    ).astype(np.float32)
    frame = pd.DataFrame(values, columns=list(columns))
    frame["activity"] = activity.astype(np.int8)
    frame["subject"] = subject.astype(np.int8)
    return _mark(frame, "MHEALTH (UCI 319)")


# Mean bout length (epochs) and next-state probabilities of the stand-in's state chain.
_BOUT_MEAN = {"w": 24.0, "n": 14.0, "r": 6.0}
_NEXT = {"w": (("n",), (1.0,)), "n": (("w", "r"), (0.55, 0.45)), "r": (("w", "n"), (0.8, 0.2))}


def mice_sleep(
    *,
    mice: int = 2,
    epochs_per_mouse: int = 20_000,
    seed: int = 0,
    frequencies: int = 101,
) -> pd.DataFrame:
    """A stand-in for :func:`lib.datasets.load_mice_sleep`: same columns.

    States follow a chain of bouts (wake about 60 %, NREM about 35 %, REM about 5 %
    of epochs). Amplitude spectra fall as 1/f with state-dependent bands: NREM
    strong delta (1-4 Hz), REM a theta peak (6-9 Hz), wake more power above 15 Hz;
    each mouse has its own gain, each epoch log-normal noise.

    Args:
        mice: number of mice (``mouse`` = ``synthetic_mouse_1`` ...).
        epochs_per_mouse: 4-second epochs per mouse.
        seed: seed of everything random.
        frequencies: number of ``amplitude_around_N_Hertz`` columns (N = 1..).

    Returns:
        DataFrame ``mouse``, ``state`` (w / n / r), amplitudes, with
        ``attrs["synthetic"] = True``.
    """
    if mice < 1 or epochs_per_mouse < 10 or frequencies < 1:
        raise ValueError(
            f"need mice >= 1, epochs_per_mouse >= 10, frequencies >= 1; "
            f"got {mice}, {epochs_per_mouse}, {frequencies}"
        )
    rng = np.random.default_rng(seed)
    hertz = np.arange(1, frequencies + 1, dtype=np.float64)
    base = 1.0 / hertz
    band = {
        "w": 1.0 + 0.6 * (hertz > 15) + 0.4 * ((hertz >= 6) & (hertz <= 9)),
        "n": 1.0 + 2.2 * (hertz <= 4) + 0.5 * ((hertz > 4) & (hertz <= 12)),
        "r": 1.0 + 1.8 * ((hertz >= 6) & (hertz <= 9)) + 0.2 * (hertz <= 4),
    }
    profile = np.stack([base * band[s] for s in STATES])  # (3, frequencies)

    frames = []
    for mouse in range(1, mice + 1):
        # Bouts of the state chain: a loop over bouts (~1/13 of the epochs), not over epochs.
        states, lengths, state, total = [], [], "w", 0
        while total < epochs_per_mouse:
            length = 1 + rng.geometric(1.0 / _BOUT_MEAN[state])
            states.append(state)
            lengths.append(length)
            total += length
            choices, p = _NEXT[state]
            state = choices[rng.choice(len(choices), p=p)]
        codes = np.repeat([STATES.index(s) for s in states], lengths)[:epochs_per_mouse]
        gain = rng.uniform(0.6, 1.6)
        noise = rng.lognormal(0.0, 0.9, size=(epochs_per_mouse, frequencies))
        level = rng.lognormal(0.0, 0.25, size=(epochs_per_mouse, 1))
        amplitude = 1e-5 * gain * profile[codes] * noise * level
        frame = pd.DataFrame(amplitude, columns=[f"amplitude_around_{int(h)}_Hertz" for h in hertz])
        frame.insert(0, "state", np.asarray(STATES)[codes])
        frame.insert(0, "mouse", f"synthetic_mouse_{mouse}")
        frames.append(frame)
    return _mark(pd.concat(frames, ignore_index=True), "mice sleep stages (course data)")
