"""The MIT-BIH Arrhythmia Database record files: find them (mirror, cache), download the
PhysioNet zip, and verify every file against the published ``SHA256SUMS.txt``.

:mod:`lib.datasets.heartbeat` re-exports the public names and derives the beats.
"""

from __future__ import annotations

import hashlib
import urllib.error
import zipfile
from collections.abc import Sequence
from pathlib import Path

from . import _cache

MITDB_URL = (
    "https://physionet.org/static/published-projects/mitdb/mit-bih-arrhythmia-database-1.0.0.zip"
)
"""The canonical PhysioNet zip of the MIT-BIH Arrhythmia Database 1.0.0."""

MITDB_SUMS_SHA256 = "b61158a96d5f2ca80edfb354a9a66a6324836c390a84e1966dcee2b907d6be43"
"""sha256 of PhysioNet's ``SHA256SUMS.txt`` for mitdb 1.0.0; each record file is
checked against its line there."""

RECORDS: tuple[int, ...] = (
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112, 113, 114, 115, 116,
    117, 118, 119, 121, 122, 123, 124, 200, 201, 202, 203, 205, 207, 208, 209, 210,
    212, 213, 214, 215, 217, 219, 220, 221, 222, 223, 228, 230, 231, 232, 233, 234,
)  # fmt: skip
"""The 48 MIT-BIH Arrhythmia records."""

_DATASET = "MIT-BIH Arrhythmia Database (mitdb 1.0.0)"
_SUFFIXES = ("dat", "hea", "atr")


def _read_sums(path: Path) -> dict[str, str]:
    """``SHA256SUMS.txt`` as {file name: hex digest}."""
    sums = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _record_files(records: Sequence[int]) -> list[str]:
    return [f"{record}.{suffix}" for record in records for suffix in _SUFFIXES]


def missing_files(directory: str | Path, records: Sequence[int], *, sums: bool = True) -> list[str]:
    """Names of the files of ``records`` (and ``SHA256SUMS.txt`` with ``sums``) absent
    from ``directory``, in record order."""
    directory = Path(directory)
    names = (["SHA256SUMS.txt"] if sums else []) + _record_files(records)
    return [name for name in names if not (directory / name).is_file()]


def _missing_advice(directory: Path) -> str:
    if _cache.is_cache_file(directory):
        return (
            f"Delete {directory} and call again to download a fresh copy, or copy the files "
            f"from the PhysioNet zip ({MITDB_URL}) into it"
        )
    return f"Copy them into {directory} from the PhysioNet zip ({MITDB_URL})"


def check_files(directory: str | Path, records: Sequence[int], *, sums: bool = True) -> None:
    """Raises FileNotFoundError naming every file of ``records`` missing from ``directory``.

    Each record needs ``NNN.dat`` (signal), ``NNN.hea`` (header) and ``NNN.atr`` (beat
    annotations); with ``sums`` the folder also needs ``SHA256SUMS.txt``.
    """
    directory = Path(directory)
    missing = missing_files(directory, records, sums=sums)
    if missing:
        shown = ", ".join(missing[:6])
        if len(missing) > 6:
            shown += f" and {len(missing) - 6} more"
        raise FileNotFoundError(
            f"{directory / missing[0]} is missing ({len(missing)} file(s) missing in "
            f"{directory}: {shown}); every MIT-BIH record needs NNN.dat, NNN.hea and NNN.atr "
            f"(its beat annotations). {_missing_advice(directory)}"
        )


def verify_mitdb(
    directory: str | Path,
    *,
    records: Sequence[int] | None = None,
    sums_sha256: str | None = None,
) -> None:
    """Checks ``SHA256SUMS.txt`` against the pinned digest and every record
    file against its line there.

    Args:
        directory: folder holding ``SHA256SUMS.txt`` and ``NNN.{dat,hea,atr}``.
        records: record numbers to check (default: all 48).
        sums_sha256: expected sha256 of ``SHA256SUMS.txt`` (default:
            :data:`MITDB_SUMS_SHA256`).

    Raises:
        ChecksumError: a file differs from the published one; the message names it.
        FileNotFoundError: a file is missing; the message names it and says what to do.
    """
    directory = Path(directory)
    records = RECORDS if records is None else records
    check_files(directory, records)
    expected = (sums_sha256 or MITDB_SUMS_SHA256).lower()
    advice = (
        f"delete {directory} and call again to download a fresh copy"
        if _cache.is_cache_file(directory)
        else f"replace it with the file from {MITDB_URL}"
    )
    sums_path = directory / "SHA256SUMS.txt"
    actual = _cache.sha256_file(sums_path)
    if actual != expected:
        raise _cache.ChecksumError(
            f"{sums_path}: sha256 is {actual}, expected {expected} (mitdb 1.0.0); {advice}"
        )
    sums = _read_sums(sums_path)
    for name in _record_files(records):
        if name not in sums:
            raise _cache.ChecksumError(f"{sums_path} has no line for {name}; {advice}")
        actual = _cache.sha256_file(directory / name)
        if actual != sums[name]:
            raise _cache.ChecksumError(
                f"{directory / name}: sha256 is {actual}, expected {sums[name]} "
                f"(SHA256SUMS.txt); {advice}"
            )


def _complete(directory: Path, records: Sequence[int]) -> bool:
    names = ["SHA256SUMS.txt", *_record_files(records)]
    return all((directory / name).is_file() for name in names)


def _extract_mitdb(
    archive: Path, target: Path, records: Sequence[int], sums_sha256: str, url: str
) -> None:
    """Copies the record files and ``SHA256SUMS.txt`` out of the PhysioNet zip
    (whatever its top folder), verifying each before writing it atomically."""
    wanted = ["SHA256SUMS.txt", *_record_files(records)]
    try:
        with zipfile.ZipFile(archive) as bundle:
            members: dict[str, str] = {}
            for member in sorted(bundle.namelist(), key=lambda name: name.count("/")):
                members.setdefault(member.rsplit("/", 1)[-1], member)
            missing = [name for name in wanted if name not in members]
            if missing:
                raise _cache.not_available(
                    _DATASET, looked_for=wanted, url=url,
                    reason=f"the downloaded zip lacks {missing[:6]}",
                )  # fmt: skip
            sums_bytes = bundle.read(members["SHA256SUMS.txt"])
            actual = hashlib.sha256(sums_bytes).hexdigest()
            if actual != sums_sha256.lower():
                raise _cache.ChecksumError(
                    f"SHA256SUMS.txt in {archive.name}: sha256 is {actual}, expected "
                    f"{sums_sha256} (mitdb 1.0.0); nothing was extracted"
                )
            sums = {
                parts[1].lstrip("*"): parts[0].lower()
                for parts in map(str.split, sums_bytes.decode().splitlines())
                if len(parts) == 2
            }
            for name in wanted[1:]:
                payload = bundle.read(members[name])
                actual = hashlib.sha256(payload).hexdigest()
                if actual != sums.get(name):
                    raise _cache.ChecksumError(
                        f"{name} in {archive.name}: sha256 is {actual}, expected "
                        f"{sums.get(name)} (SHA256SUMS.txt); download it again"
                    )
                with _cache.atomic_path(target / name) as temporary:
                    temporary.write_bytes(payload)
            with _cache.atomic_path(target / "SHA256SUMS.txt") as temporary:
                temporary.write_bytes(sums_bytes)
    except zipfile.BadZipFile as error:
        raise _cache.not_available(
            _DATASET, looked_for=wanted, url=url,
            reason=f"the download is not a zip archive ({error})",
        ) from error  # fmt: skip


def mitdb_dir(
    *,
    records: Sequence[int] | None = None,
    url: str | None = None,
    sums_sha256: str | None = None,
) -> Path:
    """Finds the folder holding the MIT-BIH records, downloading them if needed.

    Looks for ``mitdb/`` with ``SHA256SUMS.txt`` and every ``NNN.{dat,hea,atr}``
    in the mirror (``$LIB_DATA_DIR``), then in the writable cache. Otherwise it
    downloads the PhysioNet zip into the cache, extracts the record files into
    ``<cache>/mitdb/`` (each verified against ``SHA256SUMS.txt``, itself checked
    against the pinned digest) and deletes the zip.

    Args:
        records: record numbers needed (default: all 48).
        url: zip to download (default: :data:`MITDB_URL`; ``file://`` works).
        sums_sha256: expected sha256 of ``SHA256SUMS.txt`` (default: pinned).

    Returns:
        The folder.

    Raises:
        DatasetNotAvailableError: not found, and downloads are off or failed.
        ChecksumError: a downloaded file differs from the published one.
    """
    records = RECORDS if records is None else records
    url = url or MITDB_URL
    sums_sha256 = sums_sha256 or MITDB_SUMS_SHA256
    incomplete = []
    for base in _cache.search_dirs():
        if _complete(base / "mitdb", records):
            return base / "mitdb"
        if (base / "mitdb").is_dir():
            lacking = missing_files(base / "mitdb", records)
            incomplete.append(
                f"{base / 'mitdb'} lacks {', '.join(lacking[:6])}"
                + (f" and {len(lacking) - 6} more" if len(lacking) > 6 else "")
            )
    found = f" ({'; '.join(incomplete)})" if incomplete else ""
    looked_for = ["mitdb/SHA256SUMS.txt", "mitdb/NNN.{dat,hea,atr} for the 48 records"]
    how_to = (
        f"Download {MITDB_URL}, unzip it and put its files under {_cache.cache_dir() / 'mitdb'} "
        "(or set LIB_DATA_DIR to a folder holding mitdb/)."
    )
    if _cache.offline():
        raise _cache.not_available(
            _DATASET, looked_for=looked_for, url=url,
            reason=f"downloads are switched off (LIB_OFFLINE=1){found}", how_to=how_to,
        )  # fmt: skip
    target = _cache.cache_dir() / "mitdb"
    archive = target / url.rsplit("/", 1)[-1]
    try:
        _cache.download(url, archive)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise _cache.not_available(
            _DATASET, looked_for=looked_for, url=url,
            reason=f"{getattr(error, 'reason', error)}{found}", how_to=how_to,
        ) from error  # fmt: skip
    try:
        _extract_mitdb(archive, target, records, sums_sha256, url)
    finally:
        archive.unlink(missing_ok=True)
    return target
