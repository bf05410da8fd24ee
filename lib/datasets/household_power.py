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
HEADER = ("Date", "Time", *MEASUREMENTS)
ROWS = 2_075_259
# No sha256 is published for the UCI archive; the parsed table is checked instead
# (row count and schema), and the mirror's parquet against this digest.
MIRROR_PARQUET_SHA256 = "22906f10ab08780a6aa3cf1383ee077ad1378df774432bdfcd434f8ac48a74fd"


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
    return destination


def load_household_power(*, index: bool = False) -> pd.DataFrame:
    """Loads all 2,075,259 minutes.

    Looks for ``household_power/minute.parquet`` in the mirror and the cache;
    otherwise downloads the UCI archive, parses it and caches the parquet.

    Args:
        index: return the ``datetime`` column as a DatetimeIndex instead.

    Returns:
        DataFrame with ``datetime`` (datetime64[ms]) and the 7 measurements
        (float64, NaN on the 25,979 minutes the original marks ``?``).

    Raises:
        DatasetNotAvailableError: not found locally and the download failed.
        ValueError: a cached file does not have the expected schema or rows.
    """
    path = _cache.find_file(PARQUET)
    if path is None:
        archive = _cache.fetch("UCI household power consumption (dataset 235)", ARCHIVE, URL)
        path = _build_parquet_from_archive(archive)
    frame = pd.read_parquet(path)
    _check_schema(frame, path, rows=ROWS)
    if index:
        frame = frame.set_index("datetime")
    return frame
