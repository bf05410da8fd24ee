"""Hand poses from a linear optical sensor (Czuszynski, Ruminski, Wtorek 2017).

5,203 rows, 9 features already scaled to [-1, 1] and 3 poses (``4FJ``, ``2FJ``,
``1FS``); 20 rows are exact duplicates. Published with the authors' hyperopt /
Ray study (GPL-3.0 repository; no separate data licence).
"""

from __future__ import annotations

import pandas as pd

from . import _cache

URL = (
    "https://raw.githubusercontent.com/ChrisQlasty/Hyperoptimized/"
    "3137636513d4968926dd2d8c89a880e964aed3ad/data/dtagain.csv"
)
SHA256 = "f6e4e574b7254295e6f9e293c4f79a1fca2c13102cfcb3cb1c6cbe2a3eada68b"
RELATIVE = "hand_poses/dtagain.csv"
DATASET = "Hand poses (dtagain.csv)"
FEATURES = ("m50w", "t85w", "COG", "mean", "ang", "std", "kurt", "sm2std", "grmn")
CLASSES = ("1FS", "2FJ", "4FJ")


def read_hand_poses_file(path) -> pd.DataFrame:
    """Reads a file in the ``dtagain.csv`` layout and checks its columns.

    Raises:
        ValueError: a column is missing or a class is not one of the 3 poses.
    """
    frame = pd.read_csv(path)
    expected = [*FEATURES, "class"]
    if list(frame.columns) != expected:
        raise ValueError(f"{path}: expected columns {expected}, found {list(frame.columns)}")
    unknown = sorted(set(frame["class"].unique()) - set(CLASSES))
    if unknown:
        raise ValueError(f"{path}: classes must be {list(CLASSES)}, found also {unknown}")
    return frame


def load_hand_poses() -> pd.DataFrame:
    """Loads the 5,203 hand-pose rows (9 features + ``class``).

    The file is verified against its published sha256 whether it comes from
    the mirror, the cache or a fresh download.

    Raises:
        DatasetNotAvailableError: not found locally and the download failed.
        ChecksumError: the file differs from the published one.
    """
    path = _cache.fetch(DATASET, RELATIVE, URL, sha256=SHA256)
    _cache.verify_sha256(path, SHA256, delete=_cache.is_cache_file(path))
    return read_hand_poses_file(path)
