"""UCI 319: MHEALTH (mobile health) activity recognition, 10 subjects, 50 Hz.

Each ``mHealth_subjectN.log`` is whitespace-separated: 23 sensor columns then
the activity label (0 = null, 1-12 activities). The study uses 12 channels:
left-ankle accelerometer and gyroscope, right-lower-arm accelerometer and
gyroscope. Licence CC BY 4.0 (Banos et al. 2014).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import _cache

URL = "https://archive.ics.uci.edu/static/public/319/mhealth+dataset.zip"
ARCHIVE = "mhealth/mhealth+dataset.zip"
DATASET = "MHEALTH (UCI 319)"
PARQUET_VERSION = 1
SUBJECTS = tuple(range(1, 11))
ALL_CHANNELS = (
    "acx",
    "acy",
    "acz",  # chest accelerometer
    "ecg1",
    "ecg2",  # ECG leads
    "alx",
    "aly",
    "alz",  # left-ankle accelerometer
    "glx",
    "gly",
    "glz",  # left-ankle gyroscope
    "mlx",
    "mly",
    "mlz",  # left-ankle magnetometer
    "arx",
    "ary",
    "arz",  # right-lower-arm accelerometer
    "grx",
    "gry",
    "grz",  # right-lower-arm gyroscope
    "mrx",
    "mry",
    "mrz",  # right-lower-arm magnetometer
)
CHANNELS = ("alx", "aly", "alz", "glx", "gly", "glz", "arx", "ary", "arz", "grx", "gry", "grz")
ACTIVITIES = {
    0: "null",
    1: "standing still",
    2: "sitting and relaxing",
    3: "lying down",
    4: "walking",
    5: "climbing stairs",
    6: "waist bends forward",
    7: "frontal elevation of arms",
    8: "knees bending (crouching)",
    9: "cycling",
    10: "jogging",
    11: "running",
    12: "jump front and back",
}
SHA256 = {
    1: "da8d1bbf644a206886333f945a1dd7fe5081382b3bb3ee42821f08ad765732e4",
    2: "20e288750fe9f4f0495686fabf1500bfe655a549f0d2c3a9be5aa6456461b8f1",
    3: "90ead135c9fa9f1188e3b1f7afc0c95899a0614a15917cf3590f52923d6e03fd",
    4: "3b66f87a292f4cc457aea18cb7e15a10c18055c803df27f5284c6a1c5751a469",
    5: "380e526a85bde64baebd1d1a2478c4cfad947a4ab994c8b39b8dcda195f78a30",
    6: "4b8bc81186229e096937f37f9ae070017ee653005b21f88fcd0504e9195f8926",
    7: "5e372b2fad64a3ebaadd103ec09cde68d448ef5b707b010d02f438b8b9203b1f",
    8: "c6ddb8926be4c193890a28cc84cafe35c16a4bc14f23c3e696d504643652a61b",
    9: "fa68f90a9dfeda47abce41ebc1dec8ce55f66dc56d513ab90a6ae20ad045f2c9",
    10: "382d3d7b58e1fe24679fb241fd7e48ce1992757f6b1b237a56cd660e8f1fabda",
}
KAGGLE_CSV = "mhealth/mhealth_raw_data.csv"
HOW_TO = (
    "Without internet, download the zip on another machine from "
    f"{URL}, unzip it and copy MHEALTHDATASET/mHealth_subject1.log ... mHealth_subject10.log "
    "into data/mhealth/ (or a mirror's mhealth/ folder named by LIB_DATA_DIR). "
    "The 12-channel Kaggle export mhealth_raw_data.csv is accepted at "
    "data/mhealth/mhealth_raw_data.csv "
    "(it lacks subject 10 and part of subject 9)."
)


def _log_candidates(subject: int) -> list[str]:
    name = f"mHealth_subject{subject}.log"
    return [f"mhealth/{name}", f"mhealth/MHEALTHDATASET/{name}"]


def read_mhealth_log(source, *, subject: int, all_channels: bool = False) -> pd.DataFrame:
    """Parses one ``mHealth_subjectN.log``.

    Args:
        source: path or open file of the log (whitespace-separated, 24 columns).
        subject: the subject number to put in the ``subject`` column.
        all_channels: keep all 23 sensor columns instead of the 12 study channels.

    Returns:
        DataFrame of float32 channels, ``activity`` (int8) and ``subject`` (int8).

    Raises:
        ValueError: the file does not have 24 numeric columns.
    """
    values = pd.read_csv(source, sep=r"\s+", header=None, dtype=np.float64).to_numpy()
    if values.ndim != 2 or values.shape[1] != len(ALL_CHANNELS) + 1:
        raise ValueError(
            f"an MHEALTH log has {len(ALL_CHANNELS) + 1} columns (23 sensors + label), "
            f"found {values.shape[1] if values.ndim == 2 else values.shape} in {source}"
        )
    frame = pd.DataFrame(values[:, :-1].astype(np.float32), columns=list(ALL_CHANNELS))
    if not all_channels:
        frame = frame[list(CHANNELS)]
    labels = values[:, -1]
    if not np.isin(labels, list(ACTIVITIES)).all():
        raise ValueError(f"activity labels must be 0..12, found {np.unique(labels)} in {source}")
    frame["activity"] = labels.astype(np.int8)
    frame["subject"] = np.int8(subject)
    return frame


def read_mhealth_csv(path) -> pd.DataFrame:
    """Reads the 12-channel Kaggle export (``mhealth_raw_data.csv``).

    Its columns are the 12 study channels, ``Activity`` and ``subject``
    (``subject1`` ... or 1 ...). It is the first 999,999 rows of the ten logs,
    so subject 9 is cut short and subject 10 is missing.

    Raises:
        ValueError: a column is missing.
    """
    frame = pd.read_csv(path)
    rename = {c: c.lower() for c in frame.columns}
    frame = frame.rename(columns=rename)
    missing = [c for c in (*CHANNELS, "activity", "subject") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: expected the 12 channels {list(CHANNELS)} plus Activity and subject, "
            f"missing {missing}"
        )
    subject = frame["subject"].astype(str).str.extract(r"(\d+)$")[0].astype(np.int8)
    result = frame[list(CHANNELS)].astype(np.float32)
    result["activity"] = frame["activity"].astype(np.int8)
    result["subject"] = subject
    return result


def _fetch_archive() -> Path:
    return _cache.fetch(
        DATASET,
        ARCHIVE,
        URL,
        how_to=HOW_TO,
        also_looked_for=["mhealth/mHealth_subject{1..10}.log", KAGGLE_CSV],
    )


def _download_logs() -> None:
    archive = _fetch_archive()
    with zipfile.ZipFile(archive) as bundle:
        for subject in SUBJECTS:
            name = f"mHealth_subject{subject}.log"
            members = [m for m in bundle.namelist() if m.endswith(name)]
            if not members:
                raise ValueError(f"{archive} holds no {name}")
            destination = _cache.cache_dir() / "mhealth" / name
            with _cache.atomic_path(destination) as temporary:
                with bundle.open(members[0]) as source, open(temporary, "wb") as out:
                    out.write(source.read())
                _cache.verify_sha256(temporary, SHA256[subject])


def load_mhealth(*, all_channels: bool = False, subjects=SUBJECTS) -> pd.DataFrame:
    """Loads the MHEALTH logs of the given subjects.

    Looks for ``mhealth/mHealth_subjectN.log`` (or under ``mhealth/MHEALTHDATASET/``)
    in the mirror and the cache, then for the Kaggle CSV, then downloads the UCI zip.
    Logs are verified against their published sha256 on first use; the parsed
    table is cached as parquet.

    Args:
        all_channels: all 23 sensor columns instead of the 12 study channels.
        subjects: which subjects (1..10) to return.

    Returns:
        DataFrame with the channels (float32), ``activity`` (0..12) and ``subject``.

    Raises:
        DatasetNotAvailableError: the data is not local and cannot be downloaded
            (offline this fails within seconds, naming the URL and the folders searched).
        ChecksumError: a log differs from the published one.
    """
    subjects = tuple(int(s) for s in subjects)
    unknown = sorted(set(subjects) - set(SUBJECTS))
    if unknown:
        raise ValueError(f"subjects must be in 1..10, got {unknown}")
    tag = "all" if all_channels else "study"
    parquet = _cache.cache_dir() / f"mhealth/mhealth_{tag}_v{PARQUET_VERSION}.parquet"
    if parquet.is_file():
        frame = pd.read_parquet(parquet)
        return frame[frame["subject"].isin(subjects)].reset_index(drop=True)

    paths = {s: _cache.find_file(*_log_candidates(s)) for s in SUBJECTS}
    if any(p is None for p in paths.values()):
        csv = _cache.find_file(KAGGLE_CSV)
        if csv is not None and not all_channels:
            warnings.warn(
                f"MHEALTH logs not found; reading the Kaggle export {csv}, which lacks subject 10 "
                "and part of subject 9",
                stacklevel=2,
            )
            frame = read_mhealth_csv(csv)
            return frame[frame["subject"].isin(subjects)].reset_index(drop=True)
        _download_logs()
        paths = {s: _cache.find_file(*_log_candidates(s)) for s in SUBJECTS}
    for subject, path in paths.items():
        _cache.verify_sha256(path, SHA256[subject], delete=_cache.is_cache_file(path))
    frame = pd.concat(
        [read_mhealth_log(paths[s], subject=s, all_channels=all_channels) for s in SUBJECTS],
        ignore_index=True,
    )
    try:
        with _cache.atomic_path(parquet) as temporary:
            frame.to_parquet(temporary, index=False)
    except OSError as error:  # a read-only cache is not fatal
        warnings.warn(f"could not cache {parquet}: {error}", stacklevel=2)
    return frame[frame["subject"].isin(subjects)].reset_index(drop=True)
