"""UCI 235: Individual household electric power consumption (one house, minute data).

2,075,259 minutes from 2006-12-16 17:24 to 2010-11-26 21:02 on a gap-free time
grid; 25,979 minutes (1.25 %) have every measurement missing (``?`` in the
original file), kept here as NaN rows so the time grid stays regular.

Creators G. Hébrail and A. Bérard (EDF R&D); licence CC BY 4.0.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import _cache

URL = (
    "https://archive.ics.uci.edu/static/public/235/"
    "individual+household+electric+power+consumption.zip"
)
PARQUET = "household_power/minute.parquet"
ARCHIVE = "household_power/individual+household+electric+power+consumption.zip"
TEXT_NAME = "household_power_consumption.txt"
MEASUREMENTS = (
    "Global_active_power",
    "Global_reactive_power",
    "Voltage",
    "Global_intensity",
    "Sub_metering_1",
    "Sub_metering_2",
    "Sub_metering_3",
)
DATASET = "UCI household power consumption (dataset 235)"
HEADER = ("Date", "Time", *MEASUREMENTS)
ROWS = 2_075_259
# No sha256 is published for the UCI archive; the parsed table is checked instead
# (row count and schema). The mirror's parquet is verified against this digest; a
# parquet the loader builds itself is verified against the digest it wrote next to
# it (``minute.parquet.sha256``), since another pyarrow writes other bytes.
MIRROR_PARQUET_SHA256 = "22906f10ab08780a6aa3cf1383ee077ad1378df774432bdfcd434f8ac48a74fd"
DIGEST_SUFFIX = ".sha256"


def parse_household_power_text(source: str | os.PathLike | io.IOBase) -> pd.DataFrame:
    """Parses the original ``household_power_consumption.txt`` format.

    The file is ``;``-separated with header
    ``Date;Time;Global_active_power;...;Sub_metering_3``, dates as ``d/m/yyyy``
    and ``?`` for a missing value.

    Args:
        source: a path or an open text/binary file.

    Returns:
        DataFrame with ``datetime`` (datetime64[ms]) then the 7 measurements as
        float64, NaN where the file has ``?``.

    Raises:
        ValueError: the header or a date/time value is not in the UCI format.
    """
    frame = pd.read_csv(
        source,
        sep=";",
        na_values=["?", ""],
        keep_default_na=False,
        dtype={"Date": str, "Time": str, **{name: np.float64 for name in MEASUREMENTS}},
        low_memory=False,
    )
    if tuple(frame.columns) != HEADER:
        raise ValueError(
            f"expected the UCI header {';'.join(HEADER)!r}, "
            f"found {';'.join(map(str, frame.columns))!r}; "
            "is this household_power_consumption.txt?"
        )
    try:
        stamps = pd.to_datetime(frame["Date"] + " " + frame["Time"], format="%d/%m/%Y %H:%M:%S")
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"dates must be d/m/yyyy and times hh:mm:ss as in the UCI file: {error}"
        ) from error
    result = frame.drop(columns=["Date", "Time"])
    result.insert(0, "datetime", stamps.astype("datetime64[ms]"))
    return result


def _check_schema(frame: pd.DataFrame, source: Path, *, rows: int | None) -> None:
    expected = ["datetime", *MEASUREMENTS]
    if list(frame.columns) != expected:
        raise ValueError(
            f"{source}: expected columns {expected}, found {list(frame.columns)}; "
            "delete the file so it is rebuilt from the UCI archive"
        )
    if rows is not None and len(frame) != rows:
        raise ValueError(
            f"{source}: expected {rows:,} minutes, found {len(frame):,}; "
            "delete the file so it is rebuilt from the UCI archive"
        )


def _build_parquet_from_archive(archive: Path) -> Path:
    with zipfile.ZipFile(archive) as bundle:
        names = [n for n in bundle.namelist() if n.endswith(TEXT_NAME)]
        if not names:
            raise ValueError(f"{archive} holds no {TEXT_NAME}; found {bundle.namelist()}")
        with bundle.open(names[0]) as handle:
            frame = parse_household_power_text(handle)
    _check_schema(frame, archive, rows=ROWS)
    destination = _cache.cache_dir() / PARQUET
    with _cache.atomic_path(destination) as temporary:
        frame.to_parquet(temporary, index=False)
        digest = _cache.sha256_file(temporary)
    # Written after the parquet: an interruption in between leaves a parquet without
    # its digest, which verify_parquet refuses (and deletes) rather than trusts.
    with _cache.atomic_path(_digest_path(destination)) as temporary:
        temporary.write_text(digest + "\n")
    return destination


def _digest_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name + DIGEST_SUFFIX)


def verify_parquet(path: str | os.PathLike) -> None:
    """Checks a household-power parquet's sha256 before it is read.

    A file in the read-only mirror (``$LIB_DATA_DIR``) must have the published
    digest :data:`MIRROR_PARQUET_SHA256`. A file in the writable cache must have
    that digest (a copy of the mirror's file) or the one recorded in
    ``minute.parquet.sha256`` when the loader built it from the UCI archive.

    Args:
        path: the parquet file.

    Raises:
        ChecksumError: the digest differs (or a cached parquet has no recorded
            digest). A cached parquet and its digest file are deleted, so the
            next load rebuilds them from the UCI archive; a mirror file is never
            touched and the message says to restore it or unset ``LIB_DATA_DIR``.
    """
    path = Path(path)
    actual = _cache.sha256_file(path)
    if actual == MIRROR_PARQUET_SHA256:
        return
    in_cache = _cache.is_cache_file(path)
    digest_file = _digest_path(path)
    recorded = digest_file.read_text().strip().lower() if digest_file.is_file() else None
    if in_cache and actual == recorded:
        return
    if in_cache:
        expected = f"{MIRROR_PARQUET_SHA256} (the mirror's file)" + (
            f" or {recorded} (recorded in {digest_file.name} when it was built)"
            if recorded
            else f" or a digest recorded in {digest_file.name}, which is missing"
        )
        path.unlink(missing_ok=True)
        digest_file.unlink(missing_ok=True)
        action = (
            "the file was deleted; load_household_power() rebuilds it from the UCI archive "
            "(downloaded again if it is not cached)"
        )
    else:
        expected = MIRROR_PARQUET_SHA256
        action = (
            "the mirror's copy is damaged and was left as is; restore it from the mirror's "
            "source or unset LIB_DATA_DIR to use the project's cache"
        )
    raise _cache.ChecksumError(f"sha256 of {path} is {actual}, expected {expected}; {action}")


def load_household_power(*, index: bool = False) -> pd.DataFrame:
    """Loads all 2,075,259 minutes.

    Looks for ``household_power/minute.parquet`` in the mirror and the cache;
    otherwise downloads the UCI archive, parses it and caches the parquet. The
    parquet is verified (:func:`verify_parquet`) before it is read.

    Args:
        index: return the ``datetime`` column as a DatetimeIndex instead.

    Returns:
        DataFrame with ``datetime`` (datetime64[ms]) and the 7 measurements
        (float64, NaN on the 25,979 minutes the original marks ``?``).

    Raises:
        DatasetNotAvailableError: not found locally and the download failed.
        ChecksumError: the parquet's sha256 differs (see :func:`verify_parquet`).
        ValueError: a cached file does not have the expected schema or rows.
    """
    path = _cache.find_file(PARQUET)
    if path is None:
        archive = _cache.fetch(DATASET, ARCHIVE, URL, also_looked_for=[PARQUET])
        path = _build_parquet_from_archive(archive)
    verify_parquet(path)
    frame = pd.read_parquet(path)
    _check_schema(frame, path, rows=ROWS)
    if index:
        frame = frame.set_index("datetime")
    return frame
