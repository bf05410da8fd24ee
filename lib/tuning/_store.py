"""The search directory: spec, trial records, saved data, kept models, and its lock.

Everything a search writes lives in its project directory; ``trials.jsonl`` is the record
(one fsynced JSON line per finished trial, with a checksum), and only files the store itself
names are ever deleted.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import time
from typing import Any

import numpy as np
import pandas as pd

from lib.tuning._process import save_model
from lib.tuning.oracles import better, end_trial


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _save_npy_atomic(path: str, array: np.ndarray) -> None:
    tmp = f"{path[:-4]}.tmp-{os.getpid()}.npy"
    np.save(tmp, np.asarray(array))
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# What a search writes in its directory (anything else there is the caller's).
_OWN_TOP = re.compile(
    r"^(search\.json|trials\.jsonl|best_model\.keras|\.lock|data|models|ray"
    r"|search\.json\.tmp-\d+|\.trial-\d{5}\.keras|\.trial-\d{5}\.tmp-\d+\.keras"
    r"|best_model\.tmp-\d+\.keras|\.ray-[\w-]+?(\.tmp-\d+)?\.keras"
    r"|\.keep-threshold\.json(\.tmp-\d+)?|oracle\.json)$"
)
# Under data/: the arrays save_data writes (the tuners' x_train, y_train, x_val, y_val, plus
# any other name recorded in data/fingerprint.json), their temporary files, the fingerprint
# and the folds. A user's own data/features.npy is not the search's.
_ENGINE_ARRAYS = frozenset({"x_train", "y_train", "x_val", "y_val"})
_OWN_DATA = re.compile(r"^(fingerprint\.json(\.tmp-\d+)?|folds(\.tmp-\d+)?\.npz)$")
_DATA_ARRAY = re.compile(r"^(?P<name>\w+?)(\.tmp-\d+)?\.npy$")
_OWN_MODELS = re.compile(r"^trial-\d{5}(\.tmp-\d+)?\.keras$")
# KerasTuner's trial folders, written when its own loop runs the trials (a run_trial
# override): the best epoch's weights, and the build config on multi-backend Keras.
_KERAS_TUNER_TRIAL = re.compile(r"^trial_\d+$")
_KERAS_TUNER_TRIAL_FILES = re.compile(
    r"^(checkpoint\.weights\.h5|build_config\.json|\.tmp-\d+\.weights\.h5"
    r"|build_config\.json\.tmp-\d+|trial\.json)$"
)
# Under ray/: Ray Tune's experiment folder (RunConfig(name="ray", storage_path=<dir>/ray)).
_RAY_EXPERIMENT = "ray"


class DirectoryInUseError(RuntimeError):
    """Another search holds the directory's lock."""


def _checksum(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    text = json.dumps(_jsonable(body), sort_keys=True, allow_nan=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _file_digest(path: str) -> str:
    from lib.tuning._data import _digest

    return _digest(np.load(path, mmap_mode="r"))


class TrialStore:
    """A search directory: ``search.json`` (the spec), ``trials.jsonl`` (finished trials), data.

    Every finished trial is one JSON line with a checksum, written, flushed and fsynced before
    the next trial starts, so a ``kill -9`` loses at most the trials that were running, and a
    hand-edited line is detected.
    """

    def __init__(self, directory: str):
        self.directory = os.fspath(directory)
        self.spec_path = os.path.join(self.directory, "search.json")
        self.trials_path = os.path.join(self.directory, "trials.jsonl")
        self.data_dir = os.path.join(self.directory, "data")
        self.lock_path = os.path.join(self.directory, ".lock")
        self._lock_fd: int | None = None

    def exists(self) -> bool:
        return os.path.exists(self.spec_path)

    def read_spec(self) -> dict:
        """The stored ``search.json``.

        Raises:
            ValueError: the file is not JSON (truncated or edited), naming it.
        """
        with open(self.spec_path) as handle:
            text = handle.read()
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{self.spec_path} is damaged ({error}; {len(text)} bytes), so the stored "
                "search cannot be matched; nothing was changed. Restore the file, or pass "
                "overwrite=True to start the search afresh (its trials are deleted)"
            ) from None

    def write_spec(self, spec: dict) -> None:
        os.makedirs(self.directory, exist_ok=True)
        _write_atomic(self.spec_path, json.dumps(_jsonable(spec), sort_keys=True, indent=1))

    # -- records ---------------------------------------------------------------------------

    def load(self) -> list[dict]:
        """Finished trial records, ordered by trial index.

        A torn last line (the write a kill interrupted) is ignored.

        Raises:
            ValueError: a line that is not a trial record, or whose checksum does not match
                its content (edited by hand), naming the file and line.
        """
        if not os.path.exists(self.trials_path):
            return []
        with open(self.trials_path) as handle:
            lines = handle.read().split("\n")
        records: dict[int, dict] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = self._parse(line, number, last=number == len(lines))
            if record is not None:
                records[int(record["trial"])] = record
        return [records[k] for k in sorted(records)]

    def _parse(self, line: str, number: int, *, last: bool) -> dict | None:
        where = f"{self.trials_path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if last:  # no newline after it: the line being written when the process died
                return None
            raise ValueError(
                f"{where} is not JSON ({error}); the file was edited or corrupted. Restore it "
                "or start again with overwrite=True"
            ) from None
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("trial"), int)
            or ("status" not in record or "hyperparameters" not in record)
        ):
            raise ValueError(
                f"{where} is not a trial record (expected an object with 'trial', 'status', "
                f"'hyperparameters'; found {line[:80]!r}). Remove the line or start again with "
                "overwrite=True"
            )
        if "checksum" in record and record["checksum"] != _checksum(record):
            raise ValueError(
                f"{where}: trial {record['trial']}'s record does not match its checksum, so it "
                "was edited after the search wrote it (e.g. its objective). Restore the line, "
                "delete it (the trial reruns), or start again with overwrite=True"
            )
        return record

    def repair(self) -> None:
        """Cuts a torn last line (a write interrupted by a kill) so appends start clean."""
        if not os.path.exists(self.trials_path):
            return
        with open(self.trials_path, "rb+") as handle:
            content = handle.read()
            if content and not content.endswith(b"\n"):
                handle.truncate(content.rfind(b"\n") + 1)
                handle.flush()
                os.fsync(handle.fileno())

    def append(self, record: dict) -> None:
        record.setdefault("finished_at", time.time())  # wall clock, for best-so-far vs time
        record = _jsonable(record)
        record["checksum"] = _checksum(record)
        line = json.dumps(record, allow_nan=True)
        with open(self.trials_path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    # -- data ------------------------------------------------------------------------------

    def save_data(self, arrays: dict[str, np.ndarray], splits: list | None, digest: dict) -> None:
        """Saves the arrays once as ``.npy`` (workers memory-map them).

        When the directory already holds data with this fingerprint, the files are checked
        against it instead.

        Raises:
            ValueError: a saved file no longer matches the fingerprint it was saved with.
        """
        os.makedirs(self.data_dir, exist_ok=True)
        marker = os.path.join(self.data_dir, "fingerprint.json")
        wanted = json.dumps(digest, sort_keys=True)
        if os.path.exists(marker):
            with open(marker) as handle:
                if handle.read() == wanted:
                    self.verify_data(digest["data"])
                    return
        try:
            for name, array in arrays.items():
                _save_npy_atomic(os.path.join(self.data_dir, f"{name}.npy"), array)
            folds_path = os.path.join(self.data_dir, "folds.npz")
            if splits is not None:
                stored = {}
                for i, (tr, va) in enumerate(splits):
                    stored[f"train_{i}"], stored[f"val_{i}"] = tr, va
                tmp = f"{folds_path[:-4]}.tmp-{os.getpid()}.npz"
                np.savez(tmp, **stored)
                os.replace(tmp, folds_path)
            elif os.path.exists(folds_path):
                os.remove(folds_path)
            _write_atomic(marker, wanted)
        except OSError as error:
            for name in os.listdir(self.data_dir):  # no half-written file stays behind
                if f".tmp-{os.getpid()}" in name:
                    os.remove(os.path.join(self.data_dir, name))
            size = sum(np.asarray(a).nbytes for a in arrays.values()) / 2**20
            raise OSError(
                f"could not save the search's data ({size:.1f} MB) to {self.data_dir} "
                f"({error}); is the disk full? Free space there, or give the tuner a "
                "directory on another disk. No trial has run"
            ) from error

    def verify_data(self, expected: dict[str, str]) -> None:
        """Checks every saved array against its content hash.

        Raises:
            ValueError: a file is missing or changed since the search saved it.
        """
        for name, digest in sorted(expected.items()):
            path = os.path.join(self.data_dir, f"{name}.npy")
            found = _file_digest(path) if os.path.exists(path) else "missing"
            if found != digest:
                raise ValueError(
                    f"{path} is {'missing' if found == 'missing' else 'changed'} since the "
                    "search saved it; trials would train on other data than the search was "
                    f"started with. Delete {self.data_dir} so the search saves the data again, "
                    "or start again with overwrite=True"
                )

    # -- lock and cleaning -----------------------------------------------------------------

    def lock(self) -> None:
        """Takes the directory's lock for this process (released by :meth:`unlock` or exit).

        Raises:
            DirectoryInUseError: another search holds it.
            PermissionError: the directory is read-only.
        """
        import fcntl

        if self._lock_fd is not None:
            return
        os.makedirs(self.directory, exist_ok=True)
        try:
            fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                raise PermissionError(
                    f"cannot write to {self.directory} ({error.strerror}); a search needs a "
                    "writable directory. Its finished results can still be read"
                ) from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DirectoryInUseError(
                f"{self.directory} is in use by another search (pid {holder}); wait for it to "
                "finish or use another directory / project_name. Nothing was changed"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _saved_array_names(self) -> set[str]:
        """Array names whose ``data/<name>.npy`` the search wrote (engine names + fingerprint)."""
        names = set(_ENGINE_ARRAYS)
        try:
            with open(os.path.join(self.data_dir, "fingerprint.json")) as handle:
                recorded = json.load(handle).get("data", {})
            names.update(str(name) for name in recorded)
        except (OSError, ValueError, AttributeError):
            pass  # no or unreadable fingerprint: only the engine's own names
        return names

    def _entries(self) -> tuple[list[str], list[str]]:
        """``(own, foreign)`` paths relative to the directory, each sorted.

        Own: the files the search writes, by their exact names, and Ray's experiment folder;
        the ``data``, ``models`` and ``ray`` folders are not listed themselves. Foreign:
        everything else (a folder where a file belongs, a link where a folder belongs).
        """
        own: list[str] = []
        foreign: list[str] = []
        if not os.path.isdir(self.directory):
            return own, foreign
        arrays = self._saved_array_names()
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            real_dir = os.path.isdir(path) and not os.path.islink(path)
            if real_dir and _KERAS_TUNER_TRIAL.match(name):
                for child in os.listdir(path):
                    ok = bool(_KERAS_TUNER_TRIAL_FILES.match(child)) and os.path.isfile(
                        os.path.join(path, child)
                    )
                    (own if ok else foreign).append(f"{name}/{child}")
            elif not _OWN_TOP.match(name):
                foreign.append(name)
            elif name in ("data", "models", "ray"):
                if not real_dir:
                    foreign.append(name)
                    continue
                for child in os.listdir(path):
                    child_path = os.path.join(path, child)
                    is_dir = os.path.isdir(child_path) and not os.path.islink(child_path)
                    if name == "data":
                        match = _DATA_ARRAY.match(child)
                        ok = not is_dir and (
                            bool(_OWN_DATA.match(child)) or bool(match and match["name"] in arrays)
                        )
                    elif name == "models":
                        ok = not is_dir and bool(_OWN_MODELS.match(child))
                    else:
                        ok = is_dir and child == _RAY_EXPERIMENT
                    (own if ok else foreign).append(f"{name}/{child}")
            elif real_dir:
                foreign.append(name)
            else:
                own.append(name)
        return sorted(own), sorted(foreign)

    def foreign_files(self) -> list[str]:
        """Paths in the directory the search did not write (relative), sorted."""
        return self._entries()[1]

    def remove_own_files(self) -> None:
        """Deletes what a search wrote here (``overwrite=True``), keeping the lock file.

        Only the files the search writes, by their exact names (and Ray's experiment folder
        ``ray/ray``), are deleted; the ``data``, ``models`` and ``ray`` folders go only once
        empty.

        Raises:
            ValueError: the directory holds files the search did not write (nothing deleted).
        """
        own, foreign = self._entries()
        if foreign:
            shown = ", ".join(foreign[:8]) + (" ..." if len(foreign) > 8 else "")
            raise ValueError(
                f"overwrite=True refused: {self.directory} holds {len(foreign)} file(s) this "
                f"search did not write ({shown}); nothing was deleted. Move them, or pick "
                "another directory / project_name"
            )
        for relative in own:
            if relative == ".lock":
                continue
            path = os.path.join(self.directory, relative)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)  # Ray's experiment folder, ray/ray
            else:
                os.remove(path)
        folders = ["data", "models", "ray"] + [
            name for name in os.listdir(self.directory) if _KERAS_TUNER_TRIAL.match(name)
        ]
        for folder in folders:
            with contextlib.suppress(OSError):  # absent, or not empty: left as it is
                os.rmdir(os.path.join(self.directory, folder))


class ModelKeeper:
    """Keeps the trained models of the ``keep`` best trials (``models/trial-NNNNN.keras``).

    A trial saves its model to ``.trial-NNNNN.keras`` when its objective beats the threshold
    it was given; the search process alone then moves it into ``models/`` or deletes it (one
    result at a time, so concurrent trials never overwrite a better model), drops models
    that fell out of the best ``keep``, and points ``best_model.keras`` at the best one.
    """

    def __init__(
        self, directory: str, keep: int, direction: str, tie_break: tuple[str, str] | None = None
    ):
        self.directory = directory
        self.keep = int(keep)
        self.direction = direction
        self.tie_break = tie_break  # (metric, "min" / "max"): ranks trials tied on objective
        self.models_dir = os.path.join(directory, "models")
        self._seen: tuple[list | None, int, Any] = (None, 0, None)  # records ranked so far
        self._top: list[tuple] = []  # (rank key..., objective, trial) of the best ``keep``

    def _second(self, record: dict) -> float:
        """The tie-break metric at the record's best epoch (infinity: none)."""
        if self.tie_break is None:
            return math.inf
        name, mode = self.tie_break
        values = (record.get("history") or {}).get(name) or []
        best = record.get("best_epoch")
        value = values[min(int(best), len(values)) - 1] if values and best else None
        if not _finite(value):
            return math.inf
        return float(value) if mode == "min" else -float(value)

    def trial_path(self, number: int) -> str:
        return os.path.join(self.directory, f".trial-{number:05d}.keras")

    def path(self, number: int) -> str:
        return os.path.join(self.models_dir, f"trial-{number:05d}.keras")

    def _best(self, records: list[dict]) -> list[tuple]:
        """The best ``keep`` completed records of ``records`` as ``(rank..., objective,
        trial)``, best first: by objective, then the tie-break metric, then trial number.
        A search only appends to its records, so the ones ranked by an earlier call are not
        ranked again (any other list is ranked from the start)."""
        seen_list, seen, last = self._seen
        if (
            seen_list is not records
            or len(records) < seen
            or (seen and records[seen - 1] is not last)
        ):
            self._top, seen = [], 0
        sign = 1.0 if self.direction == "min" else -1.0
        for r in records[seen:]:
            if r.get("status") == "COMPLETED" and _finite(r.get("objective")):
                objective = float(r["objective"])
                entry = (sign * objective, self._second(r), r["trial"], objective, int(r["trial"]))
                bisect.insort(self._top, entry)
                del self._top[max(self.keep, 0) :]
        self._seen = (records, len(records), records[-1] if records else None)
        return self._top

    def _ranked(self, records: list[dict]) -> list[int]:
        """The trial numbers of the best ``keep`` completed records, best first."""
        return [entry[-1] for entry in self._best(records)]

    def threshold(self, records: list[dict]) -> float | None:
        """What a new trial's objective must beat to be kept (None: anything finite)."""
        if self.keep <= 0:
            return math.inf if self.direction == "max" else -math.inf
        best = self._best(records)
        return best[self.keep - 1][-2] if len(best) >= self.keep else None

    def take(
        self,
        number: int,
        record: dict,
        records: list[dict],
        *,
        saved: str | None = None,
        model: Any = None,
    ) -> None:
        """Puts a finished trial's model at :meth:`trial_path` when it may be kept: moves
        ``saved`` there (or deletes it: the trial did not complete), or saves ``model()``
        when the objective beats or ties :meth:`threshold` of the ``records`` before this one
        (a tie may still rank first: ties are broken on the monitored metric), as a trial
        in a worker saves its own."""
        target = self.trial_path(number)
        completed = record.get("status") == "COMPLETED"
        if saved is not None and saved != target and os.path.exists(saved):
            if completed:
                os.replace(saved, target)
            else:
                os.remove(saved)
        if model is None or self.keep <= 0 or not completed:
            return
        threshold = self.threshold(records)
        if better(record.get("objective"), threshold, self.direction, or_tie=True):
            save_model(model(), target)

    def settle(self, number: int, records: list[dict]) -> None:
        """Keeps or deletes trial ``number``'s saved model; prunes the rest to the best ``keep``."""
        top = self._ranked(records)
        saved = self.trial_path(number)
        if os.path.exists(saved):
            if number in top:
                os.makedirs(self.models_dir, exist_ok=True)
                os.replace(saved, self.path(number))
            else:
                os.remove(saved)
        if os.path.isdir(self.models_dir):
            for name in os.listdir(self.models_dir):
                match = re.match(r"^trial-(\d{5})\.keras$", name)
                if match and int(match.group(1)) not in top:
                    os.remove(os.path.join(self.models_dir, name))
        self._point_best(top)

    def _point_best(self, top: list[int]) -> None:
        best_path = os.path.join(self.directory, "best_model.keras")
        if not top or not os.path.exists(self.path(top[0])):
            return
        if os.path.exists(best_path) and os.path.samefile(best_path, self.path(top[0])):
            return
        tmp = os.path.join(self.directory, f"best_model.tmp-{os.getpid()}.keras")
        if os.path.exists(tmp):
            os.remove(tmp)
        try:
            os.link(self.path(top[0]), tmp)
        except OSError:
            shutil.copyfile(self.path(top[0]), tmp)
        os.replace(tmp, best_path)

    def clear_partial(self) -> None:
        """Deletes per-trial model files an interrupted run left behind."""
        if not os.path.isdir(self.directory):
            return
        for name in os.listdir(self.directory):
            if re.match(r"^\.trial-\d{5}(\.tmp-\d+)?\.keras$", name):
                os.remove(os.path.join(self.directory, name))


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def results_frame(records: list[dict], *, space: Any = None, objective: str = "") -> pd.DataFrame:
    """The tidy trial table from stored records (``tuner.results``: one row per trial)."""
    hp_names: list[str] = []
    if space is not None:
        hp_names = [hp.name for hp in space.space]
    for record in records:
        for name in record.get("hyperparameters", {}):
            if name not in hp_names:
                hp_names.append(name)
    starts = [
        r["finished_at"] - float(r.get("wall_seconds", r.get("seconds", 0.0)) or 0.0)
        for r in records
        if r.get("finished_at") is not None
    ]
    first_start = min(starts, default=math.nan)
    rows = []
    for record in records:
        row = {"trial": record["trial"]}
        hps = record.get("hyperparameters", {})
        for name in hp_names:
            row[name] = hps.get(name)
        row["objective"] = record.get("objective", math.nan)
        metric_keys = [k for k in record if k.startswith("val_")]
        for key in sorted(metric_keys, key=lambda k: (not k.startswith(objective), k)):
            row[key] = record[key]
        for key in ("best_epoch", "epochs_run", "seconds", "overhead_seconds", "status", "error"):
            row[key] = record.get(key)
        finished = record.get("finished_at")
        row["elapsed_seconds"] = finished - first_start if finished is not None else math.nan
        row["history"] = record.get("history", {})
        rows.append(row)
    base = ["trial", *hp_names, "objective"]
    tail = [
        "best_epoch",
        "epochs_run",
        "seconds",
        "overhead_seconds",
        "elapsed_seconds",
        "status",
        "error",
        "history",
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=base + tail)
    middle = [c for c in frame.columns if c not in base and c not in tail]
    frame = frame[base + middle + tail]
    frame.attrs["hyperparameters"] = hp_names
    return frame


def finish_trial(
    record: dict,
    *,
    store: TrialStore,
    records: list[dict],
    keeper: ModelKeeper | None = None,
    progress: Any = None,
    oracle: Any = None,
    trial: Any = None,
    objective: str | None = None,
    saved: str | None = None,
    model: Any = None,
) -> None:
    """Finishes one trial, the same way for every executor (worker pool, stacked, Ray).

    In order: the trial's model is handed to the keeper (``saved``: a file the trial wrote,
    moved to the keeper's place or deleted when the trial did not complete; ``model``: a
    callable returning the trained model, saved only when the keeper would keep it); the
    record is appended to ``trials.jsonl`` and to ``records``; the oracle is told (when
    given, as KerasTuner's ``oracle.end_trial``); the keeper keeps the best ``keep`` models
    and points ``best_model.keras`` at the best; the progress bar counts the trial.
    """
    number = int(record["trial"])
    if keeper is not None:
        keeper.take(number, record, records, saved=saved, model=model)
    store.append(record)
    records.append(record)
    if oracle is not None:
        end_trial(oracle, trial, record, objective)
    if keeper is not None:
        keeper.settle(number, records)
    if progress is not None:
        progress.trial_done(record)
