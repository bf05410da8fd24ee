"""Data directory search path, verified downloads and atomic cache writes.

Every loader looks for its files in this order:

1. ``$LIB_DATA_DIR``: a read-only mirror laid out like the cache (for machines
   without internet, e.g. ``LIB_DATA_DIR=../shared/data``). Never written to.
2. The writable cache: ``$LIB_CACHE_DIR`` if set, else the project's ``data/``.

If a file is in neither, the loader downloads the canonical file into the
cache, verifies its sha256 and moves it into place atomically (temporary file
in the same folder, then ``os.replace``), so an interrupted download never
leaves a partial file that looks complete.

Only the cache's own files are ever deleted (:func:`is_cache_file`): a damaged file
found in the mirror is reported and left in place, even when the mirror folder sits
inside the cache folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DOWNLOAD_TIMEOUT_S = 20.0


class DatasetNotAvailableError(RuntimeError):
    """A dataset could not be found locally nor downloaded.

    The message names the dataset, the folders searched, the URL tried and how
    to place the files by hand.
    """


class ChecksumError(RuntimeError):
    """A file's sha256 differs from the published one (deleted when it is the cache's own)."""


def mirror_dir() -> Path | None:
    """The read-only mirror named by ``$LIB_DATA_DIR``, or None when unset."""
    value = os.environ.get("LIB_DATA_DIR")
    return Path(value).expanduser().resolve() if value else None


def cache_dir() -> Path:
    """The writable cache: ``$LIB_CACHE_DIR`` or the project's ``data/`` folder."""
    value = os.environ.get("LIB_CACHE_DIR")
    return Path(value).expanduser().resolve() if value else PROJECT_DATA_DIR


def is_cache_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is one of the cache's own files, which the loaders may delete.

    A file is the cache's when it lies under :func:`cache_dir` and not in the mirror
    (``$LIB_DATA_DIR``). Where one folder sits inside the other, the inner one owns
    the files under it: a mirror inside the cache keeps its files (never deleted), a
    cache inside the mirror folder owns its own. A mirror that is the cache folder
    itself owns everything, so nothing is deleted.
    """
    resolved = Path(path).expanduser().resolve()
    cache = cache_dir()
    if not resolved.is_relative_to(cache):
        return False
    mirror = mirror_dir()
    if mirror is not None and resolved.is_relative_to(mirror):
        return cache != mirror and cache.is_relative_to(mirror)
    return True


def search_dirs() -> list[Path]:
    """Folders searched for dataset files, mirror first."""
    dirs = [d for d in (mirror_dir(), cache_dir()) if d is not None]
    return list(dict.fromkeys(dirs))


def find_file(*candidates: str) -> Path | None:
    """Returns the first existing file among ``candidates`` (paths relative to a
    data folder) in the search path, or None."""
    for base in search_dirs():
        for relative in candidates:
            path = base / relative
            if path.is_file():
                return path
    return None


def offline() -> bool:
    """True when downloads are switched off with ``LIB_OFFLINE=1``."""
    return os.environ.get("LIB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, *, delete: bool = True) -> None:
    """Raises ChecksumError when the file's sha256 is not ``expected``.

    With ``delete`` (the default) the damaged file is deleted, but only when it is
    one of the cache's own files (:func:`is_cache_file`: a temporary download or a
    cached copy); a file of the mirror or anywhere else is left in place and the
    message says to replace it.
    """
    actual = sha256_file(path)
    if actual != expected.lower():
        if delete and is_cache_file(path):
            Path(path).unlink(missing_ok=True)
            action = "the file was deleted; download it again"
        elif _in_mirror(path):
            action = (
                "the mirror's file was left in place; replace it with an intact copy, or "
                "unset LIB_DATA_DIR to use the project's cache"
            )
        else:
            action = "the file was left in place; replace it with an intact copy"
        raise ChecksumError(f"sha256 of {path} is {actual}, expected {expected} ({action})")


def _in_mirror(path: str | os.PathLike) -> bool:
    mirror = mirror_dir()
    return mirror is not None and Path(path).expanduser().resolve().is_relative_to(mirror)


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path next to ``destination``; on success it is renamed
    onto ``destination``, on any exception it is removed.

    Example:
        >>> with atomic_path(cache / "beats.npz") as tmp:
        ...     numpy.savez(tmp, x=x)   # doctest: +SKIP
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a cache file is for every user
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def download(
    url: str,
    destination: str | os.PathLike,
    *,
    sha256: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Downloads ``url`` to ``destination`` atomically and verifies its sha256.

    Args:
        url: the canonical address (``file://`` URLs work too, for tests).
        destination: final path; its folder is created.
        sha256: expected hex digest, or None when none is published.
        timeout: seconds to wait for the connection and for each read.

    Returns:
        The destination path.

    Raises:
        ChecksumError: the download's sha256 differs (nothing is kept).
        OSError: the download failed (nothing is kept).
    """
    destination = Path(destination)
    with atomic_path(destination) as temporary:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(temporary, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        if sha256 is not None:
            verify_sha256(temporary, sha256)
    return destination


def not_available(
    dataset: str,
    *,
    looked_for: Sequence[str],
    url: str | None,
    reason: str | None = None,
    how_to: str | None = None,
) -> DatasetNotAvailableError:
    """Builds the error raised when a dataset is neither local nor downloadable."""
    folders = ", ".join(str(d) for d in search_dirs())
    lines = [
        f"{dataset} is not available.",
        f"Looked for {', '.join(looked_for)} in: {folders}.",
    ]
    if url:
        outcome = f"failed: {reason}." if reason else "was not tried."
        lines.append(f"Download from {url} {outcome}")
    elif reason:
        lines.append(reason)
    lines.append(
        how_to
        or f"Place the files by hand under {cache_dir()} "
        "(or set LIB_DATA_DIR to a mirror holding them)."
    )
    return DatasetNotAvailableError(" ".join(lines))


def fetch(
    dataset: str,
    relative: str,
    url: str,
    *,
    sha256: str | None = None,
    alternatives: Sequence[str] = (),
    also_looked_for: Sequence[str] = (),
    how_to: str | None = None,
) -> Path:
    """Finds ``relative`` (or an alternative name) in the search path, else
    downloads ``url`` into the cache under ``relative``. ``also_looked_for``
    only adds names to the error message (files the caller searched itself).

    Raises:
        DatasetNotAvailableError: not found and the download failed or is off.
        ChecksumError: the download's sha256 differs.
    """
    found = find_file(relative, *alternatives)
    if found is not None:
        return found
    looked_for = [*also_looked_for, relative, *alternatives]
    if offline():
        raise not_available(
            dataset,
            looked_for=looked_for,
            url=url,
            reason="downloads are switched off (LIB_OFFLINE=1)",
            how_to=how_to,
        )
    try:
        return download(url, cache_dir() / relative, sha256=sha256)
    except ChecksumError:
        raise
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise not_available(
            dataset,
            looked_for=looked_for,
            url=url,
            reason=str(getattr(error, "reason", error)),
            how_to=how_to,
        ) from error
