"""Whether a dataset can be loaded here, asked without downloading or reading it.

A notebook (or a test collection hook) asks :func:`check_available` before a long
run, so that on a machine without the data and without downloads it reports the
loader's own :class:`~lib.datasets.DatasetNotAvailableError` once, instead of
failing cell after cell. The check only looks for files in the search path (the
``$LIB_DATA_DIR`` mirror, then the cache); it never downloads, extracts or parses.
"""

from __future__ import annotations

from collections.abc import Callable

from . import _cache, hand_poses, household_power, mhealth, mice_sleep

__all__ = ["DATASETS", "check_available"]


def _household_power() -> None:
    if _cache.find_file(household_power.PARQUET) is None:
        _cache.fetch(
            household_power.DATASET,
            household_power.ARCHIVE,
            household_power.URL,
            also_looked_for=[household_power.PARQUET],
        )


def _hand_poses() -> None:
    _cache.fetch(hand_poses.DATASET, hand_poses.RELATIVE, hand_poses.URL)


def _heartbeat() -> None:
    from . import heartbeat

    if _cache.find_file(heartbeat._cache_name()) is None:  # the derived beats, else records
        heartbeat.mitdb_dir(records=heartbeat.RECORDS)


def _mhealth() -> None:
    # What load_mhealth() with its default (study) channels reads: its parsed
    # parquet, the ten logs, the Kaggle export, or the archive (fetch finds it).
    parsed = f"mhealth/mhealth_study_v{mhealth.PARQUET_VERSION}.parquet"
    logs = [_cache.find_file(*mhealth._log_candidates(s)) for s in mhealth.SUBJECTS]
    if all(logs) or _cache.find_file(parsed, mhealth.KAGGLE_CSV) is not None:
        return
    mhealth._fetch_archive()


def _ucr() -> None:
    """The UCR/UEA sets whose checksums are known (those the sixth notebook reads)."""
    from . import series

    for relative in sorted(series.UCR_SHA256):
        if _cache.find_file(relative) is None:
            name, filename = relative.split("/")[1:3]
            series.load_ucr(name, filename.rsplit("_", 1)[1][: -len(".ts")])  # raises


def _mice_sleep() -> None:
    if not mice_sleep.find_mice_sleep_files():
        mice_sleep.load_mice_sleep()  # finds no file: raises the loader's error


#: Dataset name -> a check that raises the loader's DatasetNotAvailableError.
DATASETS: dict[str, Callable[[], None]] = {
    "hand_poses": _hand_poses,
    "heartbeat": _heartbeat,
    "household_power": _household_power,
    "mhealth": _mhealth,
    "mice_sleep": _mice_sleep,
    "ucr": _ucr,
}


def check_available(name: str) -> None:
    """Raises the loader's error when dataset ``name`` cannot be loaded offline.

    With downloads switched off (``LIB_OFFLINE=1``) a dataset whose files are in
    neither the mirror nor the cache is unavailable, and the error is the one its
    loader would raise (what was looked for, where, and how to get it; for
    ``"mhealth"``, as ``load_mhealth()`` with its default channels). With
    downloads on, a missing dataset counts as available: its loader downloads it.
    Nothing is downloaded, extracted or read here.

    Args:
        name: one of :data:`DATASETS` (``"hand_poses"``, ``"heartbeat"``,
            ``"household_power"``, ``"mhealth"``, ``"mice_sleep"``, ``"ucr"``).

    Raises:
        DatasetNotAvailableError: the files are absent and downloads are off
            (the mice sleep course data is never downloadable).
        ValueError: ``name`` is not a known dataset.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    if name != "mice_sleep" and not _cache.offline():
        return
    DATASETS[name]()
