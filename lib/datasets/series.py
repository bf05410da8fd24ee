"""Your own series: UCR/UEA ``.ts`` files, long-format CSV and the UCR sets, as a SampleSet.

A :class:`SampleSet` holds labelled samples of one or more channels, of equal or unequal
length, with the class names kept next to the integer class ids the models need.

* :func:`read_ts` reads the UCR/UEA ``.ts`` format (aeon / sktime / timeseriesclassification.com)
  and checks the header against the data, naming the file and line of any mismatch.
* :func:`read_long_csv` reads a long-format CSV: one row per sample and time step.
* :func:`load_ucr` reads a UCR/UEA set's official TRAIN or TEST file from the data search
  path (``$LIB_DATA_DIR`` mirror, then the cache), verifying known files' sha256.

Unequal lengths stay unequal here: pad them (:func:`lib.padding.pad_samples`, with a mask) or
resample them to one length (:func:`lib.padding.resample_samples`) before a model sees them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.labels import _plain, encode_labels

from . import _cache

__all__ = ["SampleSet", "read_ts", "read_long_csv", "load_ucr", "UCR_SHA256"]

#: sha256 of the UCR/UEA files whose published copies are known (``ucr/<name>/<file>``).
UCR_SHA256 = {
    "ucr/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TRAIN.ts": (
        "4d303d9990df621c066fc454d62626e3721aed008462103500b86b1ac1ca92c8"
    ),
    "ucr/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TEST.ts": (
        "a9109bce918e48ee0e924e9cf2fdfdc4de364a3d88ec5e8aa44399ff08b11361"
    ),
    "ucr/OSULeaf/OSULeaf_TRAIN.ts": (
        "86b9d6e860414ffd26cebc62fff84ffb37fa588ef3e5bf79e4094a437c36ddfc"
    ),
    "ucr/OSULeaf/OSULeaf_TEST.ts": (
        "6c549dd354f9e42d5985fa5fab75321ca9acefc7873457e71467fc8a31f107ce"
    ),
    "ucr/ACSF1/ACSF1_TRAIN.ts": "0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b",
    "ucr/ACSF1/ACSF1_TEST.ts": "93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf",
}

UCR_ARCHIVE = "https://www.timeseriesclassification.com/"


@dataclass(frozen=True, eq=False)
class SampleSet:
    """Labelled samples of one or more channels, equal or unequal in length.

    Attributes:
        samples: a float array ``(n, time, channels)`` when all samples have the same
            length, else a list of ``n`` float arrays ``(time_i, channels)``. NaN marks a
            missing reading.
        labels: int64 class ids ``0..k-1``, one per sample (``class_names[labels[i]]`` is
            sample ``i``'s original label), or None for unlabelled samples.
        class_names: the original labels in id order (a tuple; empty when unlabelled).
        lengths: int64 number of time steps of each sample.
        name: the problem's name (``@problemName``, or the file's stem).

    Raises:
        ValueError: (on construction) the parts disagree: counts, lengths, channel counts, or
            class ids outside ``0..len(class_names)-1``.
    """

    samples: np.ndarray | list[np.ndarray]
    labels: np.ndarray | None
    class_names: tuple[Any, ...] = ()
    lengths: np.ndarray = field(default=None)  # type: ignore[assignment]
    name: str = ""

    def __post_init__(self) -> None:
        samples = self.samples
        if isinstance(samples, np.ndarray):
            if samples.ndim != 3:
                raise ValueError(
                    f"samples must be a 3-D array (samples, time, channels) or a list of 2-D "
                    f"(time, channels) arrays; got an array of shape {samples.shape}"
                )
            found = np.full(len(samples), samples.shape[1], dtype=np.int64)
            channels = {samples.shape[2]}
        else:
            samples = [np.asarray(s) for s in samples]
            bad = [i for i, s in enumerate(samples) if s.ndim != 2]
            if bad:
                raise ValueError(
                    f"each sample must be a 2-D (time, channels) array; samples {bad[:10]} "
                    "are not (reshape univariate series to (time, 1))"
                )
            found = np.array([len(s) for s in samples], dtype=np.int64)
            channels = {s.shape[1] for s in samples}
            object.__setattr__(self, "samples", samples)
        if len(channels) > 1:
            raise ValueError(
                f"every sample must have the same number of channels; found {sorted(channels)}"
            )
        lengths = found if self.lengths is None else np.asarray(self.lengths, dtype=np.int64)
        if not np.array_equal(lengths, found):
            raise ValueError(
                f"lengths {lengths.tolist()[:10]} disagree with the samples' lengths "
                f"{found.tolist()[:10]}; leave lengths=None to have them counted"
            )
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.labels is None:
            return
        labels = np.asarray(self.labels)
        if labels.shape != (len(lengths),):
            raise ValueError(
                f"labels must hold one class id per sample: {len(lengths)} samples, got "
                f"labels of shape {labels.shape}"
            )
        k = len(self.class_names)
        if labels.dtype.kind not in "iu" or (
            labels.size and (labels.min() < 0 or labels.max() >= k)
        ):
            raise ValueError(
                f"labels must be integer class ids 0..{k - 1} (one per name in class_names "
                f"{list(self.class_names)[:10]}); got dtype {labels.dtype}, values "
                f"{np.unique(labels)[:10].tolist()}. Encode them with "
                "lib.labels.encode_labels(labels) -> (ids, class_names)"
            )
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def equal_length(self) -> bool:
        """True when ``samples`` is one 3-D array (all samples the same length)."""
        return isinstance(self.samples, np.ndarray)

    @property
    def n_channels(self) -> int:
        """Number of channels (dimensions) of every sample."""
        if isinstance(self.samples, np.ndarray):
            return int(self.samples.shape[2])
        return int(self.samples[0].shape[1]) if self.samples else 0

    @property
    def label_names(self) -> np.ndarray | None:
        """Each sample's original label (``class_names[labels[i]]``), or None if unlabelled."""
        if self.labels is None:
            return None
        names = np.empty(len(self.class_names), dtype=object)
        names[:] = list(self.class_names)
        return names[self.labels]


def _stack(samples: list[np.ndarray], lengths: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """One 3-D array when every sample has the same length, else the list."""
    if len(samples) and (lengths == lengths[0]).all():
        return np.stack(samples)
    return samples


# --------------------------------------------------------------------------- .ts files

_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength")
_TAGS = (
    "problemname",
    *_BOOLEAN_TAGS,
    "dimensions",
    "serieslength",
    "classlabel",
    "targetlabel",
    "data",
)
_SPELLING = {
    "problemname": "@problemName",
    "timestamps": "@timeStamps",
    "missing": "@missing",
    "univariate": "@univariate",
    "equallength": "@equalLength",
    "dimensions": "@dimensions",
    "serieslength": "@seriesLength",
    "classlabel": "@classLabel",
    "targetlabel": "@targetLabel",
    "data": "@data",
}


class _TsError:
    """Builds the ValueError of a malformed ``.ts`` file: file, line, expected, found."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, line: int | None, message: str) -> ValueError:
        where = f"{self.path.name} line {line}" if line is not None else str(self.path.name)
        return ValueError(f"{where}: {message} (file {self.path})")


def _parse_header(lines: list[str], error: _TsError) -> tuple[dict[str, Any], int]:
    """Reads the ``@`` lines up to ``@data``; returns the header and the first data index."""
    header: dict[str, Any] = {}
    for index, raw in enumerate(lines):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        number = index + 1
        if not text.startswith("@"):
            raise error(
                number,
                f"expected a header line starting with '@' or a comment starting with '#' "
                f"before @data, found {text[:40]!r}",
            )
        tag, value = (text[1:].split(None, 1) + [""])[:2]
        key, value = tag.lower(), value.strip()
        if key not in _TAGS:
            raise error(
                number,
                f"expected one of the header tags {', '.join(_SPELLING.values())}, found '@{tag}'",
            )
        if key in header:
            raise error(number, f"expected {_SPELLING[key]} once, found it a second time")
        if key == "data":
            return header, index + 1
        if key in _BOOLEAN_TAGS or key in ("classlabel", "targetlabel"):
            flag, rest = (value.split(None, 1) + [""])[:2]
            if flag.lower() not in ("true", "false"):
                raise error(
                    number, f"expected 'true' or 'false' after {_SPELLING[key]}, found {flag!r}"
                )
            value = flag.lower() == "true"
            if key == "classlabel":
                names = rest.split()
                if value and not names:
                    raise error(
                        number, "expected the class labels after @classLabel true, found none"
                    )
                if len(set(names)) != len(names):
                    raise error(number, f"expected each class label once, found {names}")
                value = tuple(names) if value else None
            elif key == "targetlabel" and value:
                raise error(
                    number,
                    "expected a classification file (@classLabel), found "
                    "@targetLabel true (regression targets are not supported)",
                )
            elif key == "timestamps" and value:
                raise error(
                    number,
                    "expected @timeStamps false, found true (time-stamped "
                    "'(t,v)' values are not supported: write plain values)",
                )
        elif key in ("dimensions", "serieslength"):
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise error(
                    number, f"expected a positive integer after {_SPELLING[key]}, found {value!r}"
                )
            value = int(value)
        header[key] = value
        header[key + "_line"] = number
    raise error(None, "expected a line @data before the data, found none")


def _numbers(field: str) -> np.ndarray:
    """Comma-separated values of one dimension as floats, ``?`` as NaN (raises ValueError)."""
    tokens = np.char.strip(np.asarray(field.split(","), dtype=np.str_))
    tokens[tokens == "?"] = "nan"
    return tokens.astype(np.float64)


def _bad_token(field: str) -> tuple[int, str]:
    """Position (1-based) and text of the first value that is not a number or ``?``."""
    for position, token in enumerate(field.split(","), start=1):
        token = token.strip()
        if token == "?":
            continue
        try:
            float(token)
        except ValueError:
            return position, token
    return 0, ""  # pragma: no cover - only called after a failed conversion


def read_ts(path: str | os.PathLike) -> SampleSet:
    """Reads a UCR/UEA ``.ts`` file (univariate or multivariate, equal or unequal length).

    The format: comment lines start with ``#``; header lines (``@problemName``,
    ``@timeStamps``, ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``,
    ``@seriesLength``, ``@classLabel true <labels...>``; tags in any letter case) come
    before ``@data``; then one sample per line, ``v1,v2,...:v1,v2,...:label``: the
    dimensions separated by ``:``, the class label last, ``?`` for a missing value (read
    as NaN). With ``@classLabel false`` the lines hold the dimensions only.

    The header is checked against the data: every line must have the number of
    dimensions the header declares (``@dimensions``, or 1 for ``@univariate true``) or,
    without either, that the first data line shows; a label listed in ``@classLabel``;
    numbers (or ``?``) only; the same length in every dimension of a sample; and, with
    ``@equalLength true``, the same length in every sample (``@seriesLength`` when given).

    Args:
        path: the ``.ts`` file.

    Returns:
        A :class:`SampleSet` named by ``@problemName`` (else the file's stem); samples are
        float64, one 3-D array when all samples have the same length (whatever
        ``@equalLength`` says), else a list; class names are the ``@classLabel`` strings
        in the header's order, and the labels their ids.

    Raises:
        ValueError: malformed input; the message names the file, the line, what was
            expected and what was found.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    error = _TsError(path)
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    header, start = _parse_header(lines, error)
    class_names = _class_names(header, error)
    samples, labels = _read_samples(lines, start, header, class_names, error)
    if not samples:
        raise error(len(lines), "expected at least one data line after @data, found none")
    lengths = np.array([len(s) for s in samples], dtype=np.int64)
    ids = encode_labels(labels, class_names)[0] if class_names is not None else None
    return SampleSet(
        samples=_stack(samples, lengths),
        labels=ids,
        class_names=class_names or (),
        lengths=lengths,
        name=header.get("problemname") or path.stem,
    )


def _class_names(header: dict[str, Any], error: _TsError) -> tuple[str, ...] | None:
    """The ``@classLabel`` names (None for ``@classLabel false``); refuses a header without."""
    if "classlabel" not in header:
        raise error(
            None,
            "expected a header line '@classLabel true <labels...>' (or "
            "'@classLabel false' for unlabelled samples) before @data, found none",
        )
    return header["classlabel"]


def _declared_dimensions(header: dict[str, Any], error: _TsError) -> tuple[int | None, str]:
    """The number of dimensions the header declares (None if it does not) and where from."""
    dimensions, source = None, ""
    if "dimensions" in header:
        dimensions, source = header["dimensions"], f"@dimensions {header['dimensions']}"
    if header.get("univariate") is True:
        if dimensions not in (None, 1):
            raise error(
                header["dimensions_line"],
                f"expected @dimensions 1 (from @univariate true), found {dimensions}",
            )
        dimensions, source = 1, "@univariate true"
    return dimensions, source


def _data_lines(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line from ``start`` on, skipping blanks and comments."""
    for index in range(start, len(lines)):
        text = lines[index].strip()
        if not text or text.startswith("#"):
            continue
        yield index + 1, text


def _read_samples(
    lines: list[str],
    start: int,
    header: dict[str, Any],
    class_names: tuple[str, ...] | None,
    error: _TsError,
) -> tuple[list[np.ndarray], list[str | None]]:
    """The samples (time x dimension) and labels of the data lines, checked against the header."""
    labelled = class_names is not None
    dimensions, source = _declared_dimensions(header, error)
    equal = header.get("equallength")
    series_length = header.get("serieslength") if equal else None
    length_source = f"@seriesLength {series_length}" if series_length else ""
    samples, labels = [], []
    for number, text in _data_lines(lines, start):
        fields = text.split(":")
        label = fields.pop().strip() if labelled else None
        if dimensions is None:
            dimensions, source = len(fields), f"the first data line, line {number}"
        _check_dimension_count(fields, dimensions, source, labelled, number, error)
        values = _parse_dimensions(fields, number, error)
        sizes = _dimension_lengths(values, number, error)
        if equal and not length_source:
            series_length = sizes[0]
            length_source = f"@equalLength true and line {number}"
        if equal and sizes[0] != series_length:
            raise error(
                number,
                f"expected {series_length} values per dimension (from {length_source}), "
                f"found {sizes[0]}",
            )
        if labelled and label not in class_names:
            raise error(
                number,
                f"expected a class label listed in @classLabel ({' '.join(class_names)}), "
                f"found {label!r}",
            )
        samples.append(np.stack(values, axis=1))
        labels.append(label)
    return samples, labels


def _check_dimension_count(
    fields: list[str], dimensions: int, source: str, labelled: bool, number: int, error: _TsError
) -> None:
    """Refuses a data line whose number of ``:``-separated dimensions is not ``dimensions``."""
    if len(fields) != dimensions:
        what = "dimension" + ("s" if dimensions != 1 else "")
        then = " then the class label" if labelled else ""
        raise error(
            number,
            f"expected {dimensions} {what} separated by ':'{then} (from {source}), "
            f"found {len(fields)}",
        )


def _parse_dimensions(fields: list[str], number: int, error: _TsError) -> list[np.ndarray]:
    """The values of each dimension of a data line; names the first value that is no number."""
    values = []
    for dimension, part in enumerate(fields, start=1):
        try:
            values.append(_numbers(part))
        except ValueError:
            position, token = _bad_token(part)
            raise error(
                number,
                f"expected a number or '?' as value {position} of dimension {dimension}, "
                f"found {token!r}",
            ) from None
    return values


def _dimension_lengths(values: list[np.ndarray], number: int, error: _TsError) -> list[int]:
    """The length of each dimension of a sample; refuses a sample whose lengths differ."""
    sizes = [len(v) for v in values]
    if len(set(sizes)) > 1:
        raise error(
            number,
            f"expected every dimension of a sample to have the same length, found lengths {sizes}",
        )
    return sizes


# --------------------------------------------------------------------------- long CSV


def read_long_csv(
    path: str | os.PathLike,
    *,
    sample: str = "sample",
    time: str = "time",
    label: str | None = "label",
    channels: list[str] | tuple[str, ...] | None = None,
    classes: list[Any] | tuple[Any, ...] | None = None,
) -> SampleSet:
    """Reads a long-format CSV: one row per sample and time step, one column per channel.

    Rows may come in any order: each sample's rows are sorted by ``time``. Samples keep
    the order in which they first appear in the file. Empty channel cells are read as NaN
    (missing readings).

    Args:
        path: the CSV file (header row first).
        sample: column naming the sample each row belongs to.
        time: column ordering a sample's rows (numbers or anything sortable).
        label: column holding each sample's class label (the same on all its rows), or
            None for unlabelled samples.
        channels: the channel columns, in order; default: every other column.
        classes: class names in id order (see :func:`lib.labels.encode_labels`); default
            the sorted labels.

    Returns:
        A :class:`SampleSet` named by the file's stem.

    Raises:
        ValueError: a column is missing, a channel value is not a number, a sample or time
            is missing, a sample has a time twice, a sample has more than one label (the
            samples are named), or a label is not in ``classes``.
    """
    path = Path(path)
    frame = pd.read_csv(path)
    keys = [sample, time] + ([label] if label is not None else [])
    if channels is None:
        channels = [c for c in frame.columns if c not in keys]
    channels = list(channels)
    missing = [c for c in keys + channels if c not in frame.columns]
    if missing or not channels:
        raise ValueError(
            f"{path.name}: expected columns {keys + channels if channels else keys} and at "
            f"least one channel, found columns {list(frame.columns)}; name the columns with "
            "sample=, time=, label=, channels="
        )
    for column in keys:
        absent = np.flatnonzero(frame[column].isna().to_numpy())
        if absent.size:
            raise ValueError(
                f"{path.name}: expected a value in column {column!r} on every row, found it "
                f"empty on lines {(absent[:10] + 2).tolist()}; fill or drop those rows"
            )
    values = frame[channels].apply(pd.to_numeric, errors="coerce")
    not_numbers = values.isna().to_numpy() & frame[channels].notna().to_numpy()
    if not_numbers.any():
        row, column = np.argwhere(not_numbers)[0]
        raise ValueError(
            f"{path.name} line {row + 2}: expected a number in channel {channels[column]!r}, "
            f"found {frame[channels[column]].iloc[row]!r}"
        )
    codes, names = pd.factorize(frame[sample], sort=False)
    order = np.lexsort((frame[time].to_numpy(), codes))
    codes_sorted, times = codes[order], frame[time].to_numpy()[order]
    repeated = (codes_sorted[1:] == codes_sorted[:-1]) & (times[1:] == times[:-1])
    if repeated.any():
        first = np.flatnonzero(repeated)[0]
        raise ValueError(
            f"{path.name}: expected one row per sample and time, found sample "
            f"{_plain(names[codes_sorted[first]])!r} at time {_plain(times[first])!r} on lines "
            f"{sorted((order[[first, first + 1]] + 2).tolist())}"
        )
    lengths = np.bincount(codes, minlength=len(names)).astype(np.int64)
    ids, class_names = None, ()
    if label is not None:
        per_sample = frame.groupby(codes, sort=True)[label].unique()
        mixed = per_sample[per_sample.map(len) > 1]
        if len(mixed):
            described = "; ".join(
                f"sample {_plain(names[code])!r} has labels {[_plain(x) for x in found]}"
                for code, found in mixed.iloc[:5].items()
            )
            raise ValueError(
                f"{path.name}: expected one label per sample, found {len(mixed)} sample(s) with "
                f"more: {described}"
            )
        try:
            ids, class_names = encode_labels(per_sample.map(lambda found: found[0]), classes)
        except ValueError as error:
            raise ValueError(f"{path.name}: column {label!r}: {error}") from None
    flat = values.to_numpy(dtype=np.float64)[order]
    samples = np.split(flat, np.cumsum(lengths)[:-1])
    return SampleSet(
        samples=_stack(samples, lengths),
        labels=ids,
        class_names=class_names,
        lengths=lengths,
        name=path.stem,
    )


# --------------------------------------------------------------------------- UCR / UEA sets


def load_ucr(name: str, split: str) -> SampleSet:
    """Loads a UCR/UEA set's official TRAIN or TEST split from the data search path.

    Looks for ``ucr/<name>/<name>_TRAIN.ts`` (or ``_TEST.ts``) in the ``$LIB_DATA_DIR``
    mirror, then in the cache (``$LIB_CACHE_DIR`` or the project's ``data/``). Files with
    a known sha256 (:data:`UCR_SHA256`) are verified; a mismatching file is reported and
    left in place (it was put there by hand). The archive offers no per-file download,
    so a missing file is not downloaded: the error says where to put it.

    Args:
        name: the set's name as the archive spells it, e.g. ``"PickupGestureWiimoteZ"``.
        split: ``"train"`` or ``"test"``.

    Returns:
        The :class:`SampleSet` of :func:`read_ts`.

    Raises:
        ValueError: ``split`` is not train/test, or ``name`` is not a plain name.
        DatasetNotAvailableError: the file is in no searched folder.
        ChecksumError: the file differs from the published one.
    """
    if not isinstance(split, str) or split.lower() not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name[0] == ".":
        raise ValueError(
            f"name must be a UCR/UEA set's name such as 'OSULeaf' (letters, digits, '_', '-', "
            f"'.'); got {name!r}"
        )
    filename = f"{name}_{split.upper()}.ts"
    relative = f"ucr/{name}/{filename}"
    path = _cache.find_file(relative)
    if path is None:
        raise _cache.not_available(
            f"UCR/UEA set {name} ({split.lower()} split)",
            looked_for=[relative],
            url=None,
            reason="The UCR/UEA archive offers no per-file download.",
            how_to=(
                f"Download the set's zip from {UCR_ARCHIVE} (dataset page {name}) and put "
                f"{name}_TRAIN.ts and {name}_TEST.ts in {_cache.cache_dir() / 'ucr' / name} "
                f"(or set LIB_DATA_DIR to a mirror holding ucr/{name}/)."
            ),
        )
    expected = UCR_SHA256.get(relative)
    if expected is not None:
        _cache.verify_sha256(path, expected, delete=False)
    return read_ts(path)
