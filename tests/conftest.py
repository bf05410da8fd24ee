"""Test configuration: seeds and a throwaway cache.

Quick mode (QUICK=1) for notebooks is set by the project's root ``conftest.py``,
which pytest loads for any path it is given.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same Python and NumPy random state."""
    random.seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """A private, empty writable cache with no mirror and downloads switched off."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("LIB_CACHE_DIR", str(cache))
    monkeypatch.delenv("LIB_DATA_DIR", raising=False)
    monkeypatch.setenv("LIB_OFFLINE", "1")
    return cache


def mirror() -> Path | None:
    """The real-data mirror when LIB_DATA_DIR points at one, else None."""
    value = os.environ.get("LIB_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


requires_mirror = pytest.mark.skipif(mirror() is None, reason="LIB_DATA_DIR mirror not present")
