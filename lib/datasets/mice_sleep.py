"""Mice sleep stages from EEG (course data, not public).

Each course CSV holds one mouse: 4-second epochs, a ``state`` column (``w``
wake, ``n`` NREM, ``r`` REM) and 101 columns ``amplitude_around_1_Hertz`` ...
``amplitude_around_101_Hertz``; the study uses the first 25 as features.
Students drop their files into ``data/mice_sleep/`` (or pass paths).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import _cache

STATES = ("w", "n", "r")
STATE_NAMES = {"w": "wake", "n": "NREM", "r": "REM"}
FOLDER = "mice_sleep"
_AMPLITUDE = re.compile(r"^amplitude_around_(\d+)_Hertz$")


def amplitude_columns(frame: pd.DataFrame, n: int | None = 25) -> list[str]:
    """The ``amplitude_around_N_Hertz`` columns sorted by frequency, the first ``n``.

    Raises:
        ValueError: fewer than ``n`` such columns.
    """
    found = sorted(
        (int(m.group(1)), c) for c in frame.columns if (m := _AMPLITUDE.match(str(c)))
    )
    columns = [c for _, c in found]
    if n is not None:
        if len(columns) < n:
            raise ValueError(
                f"expected at least {n} amplitude_around_N_Hertz columns, found {len(columns)}"
            )
        columns = columns[:n]
    return columns


def read_mice_sleep_file(path, *, require_state: bool = True) -> pd.DataFrame:
    """Reads and validates one course CSV.

    Args:
        path: the CSV.
        require_state: the test mouse of the competition may come without
            ``state``; pass False to accept that.

    Returns:
        The table with a ``mouse`` column (the file's stem) first.

    Raises:
        ValueError: no amplitude columns, no ``state`` column, or states other
            than w / n / r.
    """
    path = Path(path)
    frame = pd.read_csv(path)
    if not amplitude_columns(frame, n=None):
        raise ValueError(
            f"{path}: expected columns named amplitude_around_N_Hertz (N = 1..101) and 'state'; "
            f"found {list(frame.columns)[:8]}..."
        )
    if "state" in frame.columns:
        states = frame["state"].astype(str).str.strip().str.lower()
        bad = sorted(set(states.unique()) - set(STATES))
        if bad:
            raise ValueError(f"{path}: state must be one of {list(STATES)}, found also {bad}")
        frame["state"] = states
    elif require_state:
        raise ValueError(f"{path}: no 'state' column (w / n / r); pass require_state=False "
                         "for an unlabelled test mouse")
    mouse = pd.Series(path.stem, index=frame.index, name="mouse")
    return pd.concat([mouse, frame], axis=1)


def find_mice_sleep_files() -> list[Path]:
    """CSV files under ``mice_sleep/`` in the mirror and the cache, sorted by name."""
    files: dict[str, Path] = {}
    for base in _cache.search_dirs():
        for path in sorted((base / FOLDER).glob("*.csv")):
            files.setdefault(path.name, path)
    return [files[name] for name in sorted(files)]


def load_mice_sleep(
    paths: Iterable[str | Path] | None = None, *, require_state: bool = True
) -> pd.DataFrame:
    """Loads the course CSVs, one mouse per file.

    Args:
        paths: the CSV files; default: every ``*.csv`` under ``data/mice_sleep/``
            (or the mirror's ``mice_sleep/``).
        require_state: False accepts an unlabelled test mouse (no ``state``
            column; its ``state`` is NaN in the result).

    Returns:
        One table: ``mouse``, ``state`` and the amplitude columns.

    Raises:
        DatasetNotAvailableError: no paths given and no CSV found (the data is
            not public: the message says where to put the files).
        ValueError: a file does not have the course schema.
    """
    paths = list(paths) if paths is not None else find_mice_sleep_files()
    if not paths:
        raise _cache.not_available(
            "Mice sleep stages (course data)",
            looked_for=[f"{FOLDER}/*.csv"],
            url=None,
            reason="The course data is not public.",
            how_to=(
                f"Copy EEG_mouse_data_1.csv, EEG_mouse_data_2.csv (and a test mouse) into "
                f"{_cache.cache_dir() / FOLDER}; or use lib.datasets.synthetic.mice_sleep() "
                "as a clearly labelled stand-in."
            ),
        )
    frames = [read_mice_sleep_file(p, require_state=require_state) for p in paths]
    return pd.concat(frames, ignore_index=True)


def state_codes(states) -> np.ndarray:
    """Maps w / n / r to 0 / 1 / 2."""
    lookup = {s: i for i, s in enumerate(STATES)}
    return np.asarray(pd.Series(states).map(lookup), dtype=np.int64)
