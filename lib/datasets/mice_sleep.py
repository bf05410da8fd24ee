"""Mice sleep stages from EEG (course data, not public).

Each course CSV holds one mouse: 4-second epochs, a ``state`` column (``w``
wake, ``n`` NREM, ``r`` REM) and 101 columns ``amplitude_around_1_Hertz`` ...
``amplitude_around_101_Hertz``; the study uses the first 25 as features.
Students drop their files into ``data/mice_sleep/`` (or pass paths).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import _cache

STATES = ("w", "n", "r")
STATE_NAMES = {"w": "wake", "n": "NREM", "r": "REM"}
FOLDER = "mice_sleep"
FREQUENCIES = 101  # amplitude_around_1_Hertz ... amplitude_around_101_Hertz in every course file
_AMPLITUDE = re.compile(r"^amplitude_around_(\d+)_Hertz$")
_RENAMED_DUPLICATE = re.compile(r"^(amplitude_around_\d+_Hertz)\.\d+$")


def _amplitude_name(hertz: int) -> str:
    return f"amplitude_around_{hertz}_Hertz"


def amplitude_columns(frame: pd.DataFrame, n: int | None = 25) -> list[str]:
    """The columns ``amplitude_around_1_Hertz`` ... ``amplitude_around_n_Hertz``, by name.

    Columns are picked by their names, not by position or by counting whatever
    amplitude columns exist, so a missing frequency is an error instead of a silent
    shift of every later feature.

    Args:
        frame: a table in the course layout.
        n: how many frequencies, from 1 Hz; ``None`` for every frequency 1..N the
            frame holds without a gap.

    Returns:
        The column names in frequency order.

    Raises:
        ValueError: a column of 1..n Hz is missing (named in the message), an
            amplitude column appears twice (also as pandas' renamed duplicate
            ``amplitude_around_5_Hertz.1``), or with ``n=None`` the frame has no
            ``amplitude_around_1_Hertz`` or a gap.
    """
    names = [str(c) for c in frame.columns]
    twice = sorted(
        {c for c in names if _AMPLITUDE.match(c) and names.count(c) > 1}
        | {m.group(1) for c in names if (m := _RENAMED_DUPLICATE.match(c))}
    )
    if twice:
        raise ValueError(
            f"expected each amplitude column once; found {', '.join(twice[:5])} more than once "
            "(pandas renames a repeated CSV column to NAME.1); remove the duplicate columns "
            "or copy the file again"
        )
    present = {int(m.group(1)) for c in names if (m := _AMPLITUDE.match(c))}
    if n is None:
        top = max(present, default=0)
    else:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int or None; got {n!r}")
        top = int(n)
    missing = [_amplitude_name(h) for h in range(1, top + 1) if h not in present]
    if missing or top == 0:
        shown = ", ".join(missing[:5])
        if len(missing) > 5:
            shown += f" and {len(missing) - 5} more"
        raise ValueError(
            f"expected columns amplitude_around_1_Hertz ... amplitude_around_{top or 'N'}_Hertz; "
            + (f"missing {shown}" if missing else "found none")
            + f" (found {len(present)} amplitude columns); pass a file in the course layout "
            "or fewer frequencies"
        )
    return [_amplitude_name(h) for h in range(1, top + 1)]


def _rows(mask: np.ndarray) -> str:
    """The CSV line numbers (header = line 1) of the True entries, the first few."""
    lines = np.flatnonzero(mask) + 2
    shown = ", ".join(map(str, lines[:5]))
    return shown + (f" and {lines.size - 5} more" if lines.size > 5 else "")


def _as_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):  # one file, not an iterable of characters
        return [Path(paths)]
    if isinstance(paths, (bytes, pd.DataFrame)):
        raise TypeError(
            f"paths must be a path or an iterable of paths to CSV files; got {type(paths).__name__}"
        )
    result = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"paths must hold str or os.PathLike entries; found {path!r} "
                f"({type(path).__name__})"
            )
        result.append(Path(path))
    return result


def _header_duplicates(path: Path) -> list[str]:
    """Column names that the CSV header of ``path`` holds more than once."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            header = next(csv.reader(handle), [])
    except OSError:
        return []  # pandas reports an unreadable file itself
    names = [name.strip() for name in header]
    return sorted({name for name in names if names.count(name) > 1})


def read_mice_sleep_file(
    path: str | os.PathLike,
    *,
    require_state: bool = True,
    frequencies: int | None = FREQUENCIES,
) -> pd.DataFrame:
    """Reads and validates one course CSV.

    The file must hold ``amplitude_around_1_Hertz`` ... ``amplitude_around_N_Hertz``
    without a gap and each once (the course files have N = 101, required unless
    ``frequencies`` says otherwise), every amplitude a finite number, and (unless
    ``require_state=False``) a ``state`` column of w / n / r. Problems are reported
    with the CSV line numbers (the header is line 1).

    Args:
        path: the CSV.
        require_state: the test mouse of the competition may come without
            ``state``; pass False to accept that.
        frequencies: how many amplitude columns the file must hold (101 in the
            course layout, so a file that lost its last columns is refused);
            ``None`` accepts any gap-free 1..N.

    Returns:
        The table with a ``mouse`` column (the file's stem) first; amplitudes are
        float64.

    Raises:
        ValueError: the file is empty or has a header but no rows, a column appears
            twice in the header, an amplitude column is missing (named) or there are
            not ``frequencies`` of them, an amplitude is blank, non-numeric or
            infinite (lines named), there is no ``state`` column, or a state is
            not w / n / r (lines named).
    """
    path = Path(path)
    _check_frequencies(frequencies)
    frame = _read_rows(path)
    _refuse_header_duplicates(path, frequencies)
    columns = _file_amplitude_columns(frame, path, frequencies)
    frame[columns] = _finite_amplitudes(frame, columns, path)
    if "state" in frame.columns:
        frame["state"] = _checked_states(frame["state"], path)
    elif require_state:
        raise ValueError(
            f"{path}: no 'state' column (w / n / r); pass require_state=False "
            "for an unlabelled test mouse"
        )
    mouse = pd.Series(path.stem, index=frame.index, name="mouse")
    return pd.concat([mouse, frame], axis=1)


def _check_frequencies(frequencies: int | None) -> None:
    """Refuses a ``frequencies`` argument that is neither a positive int nor None."""
    if frequencies is not None and (
        isinstance(frequencies, bool)
        or not isinstance(frequencies, (int, np.integer))
        or frequencies < 1
    ):
        raise ValueError(f"frequencies must be a positive int or None; got {frequencies!r}")


def _read_rows(path: Path) -> pd.DataFrame:
    """The CSV as read by pandas; refuses an empty file and a header without rows."""
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:
        raise ValueError(
            f"{path} is empty (no header, no rows); expected a course CSV with 'state' and "
            "amplitude_around_N_Hertz columns: copy the file again"
        ) from error
    if len(frame) == 0:
        raise ValueError(
            f"{path} has a header but no rows; expected one row per 4-second epoch: "
            "copy the file again"
        )
    return frame


def _refuse_header_duplicates(path: Path, frequencies: int | None) -> None:
    """Refuses a CSV whose header holds a column name more than once."""
    twice = _header_duplicates(path)
    if twice:
        raise ValueError(
            f"{path}: expected each column ('state', amplitude_around_1_Hertz ... "
            f"amplitude_around_{frequencies or 'N'}_Hertz) once in the header; found "
            f"{', '.join(twice[:5])} more than once; remove the duplicate columns or copy "
            "the file again"
        )


def _file_amplitude_columns(frame: pd.DataFrame, path: Path, frequencies: int | None) -> list[str]:
    """The file's gap-free amplitude columns, ``frequencies`` of them unless that is None."""
    try:
        columns = amplitude_columns(frame, n=None)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if frequencies is not None and len(columns) != frequencies:
        found = f"{columns[0]} ... {columns[-1]}"
        lacking = [_amplitude_name(h) for h in range(len(columns) + 1, frequencies + 1)]
        raise ValueError(
            f"{path}: expected {frequencies} amplitude columns amplitude_around_1_Hertz ... "
            f"{_amplitude_name(frequencies)} (the course layout); found {len(columns)} "
            f"({found})"
            + (f", missing {', '.join(lacking[:5])}" if lacking else "")
            + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
            + "; copy the file again, or pass frequencies=None to accept another number "
            "of frequencies"
        )
    return columns


def _finite_amplitudes(frame: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The amplitude columns as float64; refuses blank, non-numeric or infinite values."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}: amplitudes must be finite numbers; {int(bad.any(axis=1).sum())} rows hold "
            f"a blank, non-numeric or infinite one (lines {_rows(bad.any(axis=1))}; the first "
            f"is {columns[column]} = {frame[columns[column]].iloc[row]!r}); "
            "fix or drop those lines"
        )
    return values


def _checked_states(state: pd.Series, path: Path) -> pd.Series:
    """The ``state`` column stripped and lower-cased; refuses a state other than w / n / r."""
    states = state.astype("string").str.strip().str.lower()
    wrong = ~states.isin(STATES).fillna(False).to_numpy(dtype=bool)
    if wrong.any():
        found = sorted(map(str, states[wrong].fillna("<blank>").unique()))
        raise ValueError(
            f"{path}: state must be one of {list(STATES)}; found {found[:6]} on "
            f"{int(wrong.sum())} lines ({_rows(wrong)}); fix or drop those lines"
        )
    return states.astype(object)


def find_mice_sleep_files() -> list[Path]:
    """CSV files under ``mice_sleep/`` in the mirror and the cache, sorted by name."""
    files: dict[str, Path] = {}
    for base in _cache.search_dirs():
        for path in sorted((base / FOLDER).glob("*.csv")):
            files.setdefault(path.name, path)
    return [files[name] for name in sorted(files)]


def load_mice_sleep(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    *,
    require_state: bool = True,
    frequencies: int | None = FREQUENCIES,
) -> pd.DataFrame:
    """Loads the course CSVs, one mouse per file.

    Args:
        paths: the CSV files, or one CSV as a single ``str`` / ``os.PathLike``
            (read as one file, never as a sequence of characters); default:
            every ``*.csv`` under ``data/mice_sleep/`` (or the mirror's
            ``mice_sleep/``).
        require_state: False accepts an unlabelled test mouse (no ``state``
            column; its ``state`` is NaN in the result).
        frequencies: amplitude columns every file must hold (see
            :func:`read_mice_sleep_file`); ``None`` accepts any gap-free 1..N.

    Returns:
        One table: ``mouse``, ``state`` and the amplitude columns.

    Raises:
        DatasetNotAvailableError: no paths given and no CSV found (the data is
            not public: the message says where to put the files).
        TypeError: ``paths`` is not a path nor an iterable of paths.
        ValueError: a file does not have the course schema (see
            :func:`read_mice_sleep_file`), ``paths`` is an empty list, or the
            files' amplitude columns differ (``state`` may be absent from an
            unlabelled file).
    """
    if paths is None:
        paths = find_mice_sleep_files()
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
    paths = _as_paths(paths)
    if not paths:
        raise ValueError("paths is empty; pass at least one CSV file (or None to search data/)")
    frames = [
        read_mice_sleep_file(p, require_state=require_state, frequencies=frequencies) for p in paths
    ]
    reference = [c for c in frames[0].columns if c != "state"]
    for path, frame in zip(paths[1:], frames[1:], strict=True):
        columns = [c for c in frame.columns if c != "state"]
        if columns != reference:
            extra = [c for c in columns if c not in reference]
            lacking = [c for c in reference if c not in columns]
            raise ValueError(
                f"{path} has other columns than {paths[0]}: "
                f"{len(columns) - 1} vs {len(reference) - 1} (besides 'mouse'); "
                f"only in {path.name}: {extra[:5]}, only in {paths[0].name}: {lacking[:5]}"
                + ("" if extra or lacking else " (same names in another order)")
                + "; every mouse must have the same amplitude columns"
            )
    return pd.concat(frames, ignore_index=True)


def state_codes(states) -> np.ndarray:
    """Maps w / n / r to 0 / 1 / 2."""
    lookup = {s: i for i, s in enumerate(STATES)}
    return np.asarray(pd.Series(states).map(lookup), dtype=np.int64)
