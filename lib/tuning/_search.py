"""The search loop: oracle in the parent, trials in recycled workers, state in a JSONL file."""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lib.tuning import _trial

KERAS_TUNERS = ("grid", "random", "bayesian", "hyperband")
RAY_TUNERS = ("ray-hyperopt", "ray-random")
TUNERS = KERAS_TUNERS + RAY_TUNERS

# search() arguments that must match when a directory is resumed.
_SPEC_KEYS = (
    "tuner", "objective", "seed", "task", "epochs", "batch_size", "early_stopping", "reduce_lr",
    "class_weight", "monitor", "tuner_options", "asha", "data", "folds", "space",
)


@dataclass
class Data:
    """Training data of a search, with validation data or folds.

    Attributes:
        x_train: training inputs (2-D features or 3-D windows); with folds, all the data
            the folds are drawn from.
        y_train: training targets (1-D integer labels, or real values).
        x_val: validation inputs, or None when the search uses folds.
        y_val: validation targets, or None.
        groups: group of every training row (subject, record) for grouped folds, or None.
    """

    x_train: Any
    y_train: Any
    x_val: Any = None
    y_val: Any = None
    groups: Any = None


def as_data(data: Any) -> Data:
    """A :class:`Data` from a ``Data``, a dict with the same keys, or a 4-tuple."""
    if isinstance(data, Data):
        return data
    if isinstance(data, dict):
        unknown = set(data) - {"x_train", "y_train", "x_val", "y_val", "groups"}
        if unknown or "x_train" not in data or "y_train" not in data:
            raise ValueError(
                "data must be a dict with keys x_train, y_train and optionally x_val, y_val, "
                f"groups; got keys {sorted(data)}"
            )
        return Data(**data)
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return Data(*data)
    raise TypeError(
        f"data must be lib.tuning.Data, a dict(x_train=..., y_train=..., x_val=..., y_val=...) "
        f"or a tuple (x_train, y_train[, x_val, y_val]); got {type(data).__name__}"
    )


def direction_of(name: str) -> str:
    """``"min"`` for losses and errors (loss, mse, mae, rmse in the name), else ``"max"``."""
    from lib.evaluation import metric_direction

    return metric_direction(name)


def class_labels(y: np.ndarray) -> list:
    """The classes of a target array: sorted labels (1-D) or column indices (one-hot)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return list(range(y.shape[1]))
    return [v.item() for v in np.unique(y.reshape(-1))]


def engine_metric_names(task: str, labels: Sequence | None) -> list[str]:
    """The ``val_*`` names the engine computes for a task (with these class labels)."""
    from lib.evaluation import classification_metrics, regression_metrics

    if task == "classification":
        labels = list(labels or [0, 1])
        names = classification_metrics(np.asarray(labels), np.asarray(labels), labels=labels)
    else:
        names = regression_metrics(np.zeros(2), np.zeros(2))
    return [f"val_{k}" for k in names]


def infer_task(objective: str, y: np.ndarray, task: str | None) -> str:
    """``task`` if given, else from the objective's name, else from the targets' dtype."""
    if task is not None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        return task
    bare = objective[4:] if objective.startswith("val_") else objective
    if bare in ("mse", "mae", "rmse"):
        return "regression"
    if bare in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1"):
        return "classification"
    if bare.startswith("recall_"):
        return "classification"
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return "classification"
    return "regression"


def make_splits(
    data: Data, folds: Any, *, task: str, seed: int
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Fold index pairs over ``x_train`` (stratified / grouped as the data allows), or None."""
    if folds is None:
        if data.x_val is None or data.y_val is None:
            raise ValueError(
                "no validation data: pass data with x_val and y_val, or folds=k (an int) or a "
                "list of (train_idx, val_idx) pairs"
            )
        return None
    if data.x_val is not None:
        raise ValueError(
            "both folds and x_val were given; with folds the validation rows come from "
            "x_train. Drop x_val/y_val or pass folds=None"
        )
    n = len(data.x_train)
    if isinstance(folds, (int, np.integer)):
        from sklearn import model_selection as ms

        k = int(folds)
        if k < 2:
            raise ValueError(f"folds must be at least 2, got {k}")
        y = np.asarray(data.y_train)
        labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(n, -1)[:, 0]
        index = np.zeros(n)
        if data.groups is not None:
            groups = np.asarray(data.groups)
            if task == "classification":
                splitter = ms.StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                pairs = splitter.split(index, labels, groups)
            else:
                pairs = ms.GroupKFold(n_splits=k).split(index, labels, groups)
        elif task == "classification":
            pairs = ms.StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(
                index, labels
            )
        else:
            pairs = ms.KFold(n_splits=k, shuffle=True, random_state=seed).split(index)
        return [
            (np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)) for tr, va in pairs
        ]
    splits = []
    for number, pair in enumerate(folds):
        try:
            tr, va = pair
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"fold {number} must be a (train_idx, val_idx) pair, got {type(pair).__name__}"
            ) from error
        tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
        if np.intersect1d(tr, va).size:
            raise ValueError(f"fold {number}: training and validation indices overlap")
        if tr.size == 0 or va.size == 0 or max(tr.max(), va.max()) >= n or min(
            tr.min(), va.min()
        ) < 0:
            raise ValueError(f"fold {number}: indices must be non-empty and within [0, {n})")
        splits.append((tr, va))
    if not splits:
        raise ValueError("folds is an empty list; give at least one (train_idx, val_idx) pair")
    return splits


def _digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(str((array.shape, array.dtype.str)).encode())
    h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def fingerprint(arrays: dict[str, np.ndarray], splits: list | None) -> tuple[dict, str | None]:
    """Content hashes of the data arrays and of the folds (what resume must match)."""
    data = {name: _digest(np.asarray(a)) for name, a in sorted(arrays.items())}
    folds = None
    if splits is not None:
        h = hashlib.blake2b(digest_size=16)
        for tr, va in splits:
            h.update(_digest(tr).encode())
            h.update(_digest(va).encode())
        folds = h.hexdigest()
    return data, folds


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


class TrialStore:
    """A search directory: ``search.json`` (the spec), ``trials.jsonl`` (finished trials), data.

    Every finished trial is one JSON line, written, flushed and fsynced before the next trial
    starts, so a ``kill -9`` loses at most the trials that were running.
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.spec_path = os.path.join(directory, "search.json")
        self.trials_path = os.path.join(directory, "trials.jsonl")
        self.data_dir = os.path.join(directory, "data")

    def exists(self) -> bool:
        return os.path.exists(self.spec_path)

    def read_spec(self) -> dict:
        with open(self.spec_path) as handle:
            return json.load(handle)

    def write_spec(self, spec: dict) -> None:
        os.makedirs(self.directory, exist_ok=True)
        _write_atomic(self.spec_path, json.dumps(_jsonable(spec), sort_keys=True, indent=1))

    def load(self) -> list[dict]:
        """Finished trial records, ordered by trial index (a torn last line is ignored)."""
        if not os.path.exists(self.trials_path):
            return []
        records = {}
        with open(self.trials_path) as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line being written when the process was killed
                records[int(record["trial"])] = record
        return [records[k] for k in sorted(records)]

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
        line = json.dumps(_jsonable(record), allow_nan=True)
        with open(self.trials_path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def save_data(self, arrays: dict[str, np.ndarray], splits: list | None, digest: dict) -> None:
        """Saves the arrays once as ``.npy`` (workers memory-map them) unless already there."""
        os.makedirs(self.data_dir, exist_ok=True)
        marker = os.path.join(self.data_dir, "fingerprint.json")
        wanted = json.dumps(digest, sort_keys=True)
        if os.path.exists(marker):
            with open(marker) as handle:
                if handle.read() == wanted:
                    return
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


class _InProcessSlot:
    """Runs tasks synchronously in this process (``workers=0``)."""

    def __init__(self, hypermodel: Any, arrays: dict, splits: list | None, threads: int | None):
        self.hypermodel, self.arrays, self.splits = hypermodel, arrays, splits
        self.space = None
        self.result = None
        self.tasks_done = 0
        self.busy = False
        _trial.set_threads(threads)

    def submit(self, kind: str, payload: dict) -> None:
        import traceback

        try:
            if kind == "discover":
                space = _trial.discover_space(
                    self.hypermodel, self.arrays["x_train"][:8], self.arrays["y_train"][:8],
                    batch_size=payload["settings"]["batch_size"],
                )
                self.space = space
                keys = None
                if payload.get("history_keys"):
                    keys = _trial.dry_history_keys(
                        self.hypermodel, space, self.arrays, self.splits, payload["settings"]
                    )
                self.result = {"status": "OK", "space": space.get_config(), "history_keys": keys}
            else:
                record = _trial.run_trial(
                    self.hypermodel, payload["values"], self.arrays, self.splits,
                    payload["settings"], seed=payload["seed"],
                    space=self.space or payload["space"],
                )
                record["status"] = "COMPLETED"
                self.result = record
        except Exception as error:
            self.result = {
                "status": "FAILED",
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(),
                "exception": error,
            }
        self.busy = True

    def receive(self) -> dict:
        self.busy = False
        self.tasks_done += 1
        result, self.result = self.result, None
        return result

    def rss_bytes(self) -> int:
        return 0

    def close(self) -> None:
        pass


class _Pool:
    """``workers`` slots, each a recycled worker process (or one in-process slot)."""

    def __init__(
        self, *, workers: int, trials_per_worker: int | None, max_worker_memory_mb: float | None,
        setup: dict | None, in_process: tuple | None,
    ):
        self.size = max(int(workers), 1)
        self.trials_per_worker = trials_per_worker
        self.max_worker_memory_mb = max_worker_memory_mb
        self.setup_blob = pickle.dumps(setup) if setup is not None else None
        self.in_process = in_process
        self.slots: list[Any] = [None] * self.size
        self.restarts = 0

    def slot(self, index: int) -> Any:
        if self.slots[index] is None:
            if self.in_process is not None:
                self.slots[index] = _InProcessSlot(*self.in_process)
            else:
                from lib.tuning._worker import Worker

                self.slots[index] = Worker(self.setup_blob)
                self.restarts += 1
        return self.slots[index]

    def idle(self) -> list[int]:
        return [i for i in range(self.size) if self.slots[i] is None or not self.slots[i].busy]

    def busy(self) -> list[int]:
        return [i for i in range(self.size) if self.slots[i] is not None and self.slots[i].busy]

    def wait(self) -> list[int]:
        """Indices of busy slots whose result is ready (blocks until at least one is)."""
        busy = self.busy()
        if self.in_process is not None:
            return busy
        from multiprocessing.connection import wait

        by_conn = {self.slots[i].conn: i for i in busy}
        sentinels = {self.slots[i].process.sentinel: i for i in busy}
        ready = wait(list(by_conn) + list(sentinels))
        return sorted({by_conn.get(r, sentinels.get(r)) for r in ready})

    def after_task(self, index: int, result: dict) -> None:
        """Recycles a worker that died, ran its share of trials, or grew past the memory cap."""
        slot = self.slots[index]
        if slot is None or self.in_process is not None:
            return
        recycle = bool(result.get("worker_died"))
        if self.trials_per_worker and slot.tasks_done >= self.trials_per_worker:
            recycle = True
        if self.max_worker_memory_mb and slot.rss_bytes() > self.max_worker_memory_mb * 2**20:
            recycle = True
        if recycle:
            slot.close()
            self.slots[index] = None

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s is not None and hasattr(s, "process")]

    def close(self) -> None:
        for index, slot in enumerate(self.slots):
            if slot is not None:
                slot.close()
                self.slots[index] = None


def _make_oracle(
    tuner: str, objective: str, direction: str, *, max_trials: int | None, seed: int,
    epochs: int, space: Any, options: dict,
) -> Any:
    import keras_tuner as kt

    kt_objective = kt.Objective(objective, direction=direction)
    common = {
        "objective": kt_objective,
        "seed": _trial.trial_seed(seed, 2**31) + 1,  # KerasTuner treats seed 0 as "random"
        "hyperparameters": space,
        "tune_new_entries": True,
        "allow_new_entries": True,
        "max_consecutive_failed_trials": 2**31,
    }
    if tuner == "grid":
        oracle = kt.oracles.GridSearchOracle(max_trials=max_trials, **common, **options)
    elif tuner == "random":
        oracle = kt.oracles.RandomSearchOracle(max_trials=max_trials, **common, **options)
    elif tuner == "bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(max_trials=max_trials, **common, **options)
    else:
        oracle = kt.oracles.HyperbandOracle(max_epochs=int(epochs), **common, **options)
    # State lives in trials.jsonl and is rebuilt by replay; KerasTuner's own per-trial JSON
    # files (rewritten in full after every trial) are what makes its overhead grow.
    oracle.save = lambda *args, **kwargs: None
    oracle._save_trial = lambda *args, **kwargs: None
    oracle.verbose = 0
    return oracle


def _create_trial(oracle: Any, tuner: str, number: int) -> Any:
    """The oracle's next trial; for the grid, its successor is queued at once.

    KerasTuner's grid oracle derives the next point only from *finished* trials, so with
    several workers it handed out one trial at a time (the others sat idle). The walk is fixed
    by the space (discovered before the search), so the new trial's successor can be queued
    now: the order of the points stays that of a sequential search, and the oracle skips a
    point already tried when the finished trial is queued again.
    """
    trial = oracle.create_trial(f"trial-{number}")
    if tuner == "grid" and trial.status == "RUNNING":
        oracle._populate_next.append(trial.trial_id)
    return trial


def _end_trial(oracle: Any, trial: Any, record: dict, objective: str) -> None:
    value = record.get("objective")
    if record.get("status") == "COMPLETED" and value is not None and np.isfinite(value):
        oracle.update_trial(trial.trial_id, {objective: float(value)})
        trial.status = "COMPLETED"
    else:
        trial.status = "FAILED"
        trial.message = record.get("error")
    oracle.end_trial(trial)


def _better(a: float | None, b: float | None, direction: str) -> bool:
    if a is None or not np.isfinite(a):
        return False
    if b is None or not np.isfinite(b):
        return True
    return a < b if direction == "min" else a > b


def search(
    hypermodel: Any,
    data: Any,
    *,
    tuner: str = "grid",
    objective: str = "val_accuracy",
    max_trials: int | None = None,
    budget_seconds: float | None = None,
    folds: Any = None,
    groups: Any = None,
    task: str | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    early_stopping: int | None = None,
    reduce_lr: dict | None = None,
    class_weight: Any = None,
    monitor: str | None = None,
    seed: int = 0,
    directory: str | os.PathLike | None = None,
    resume: bool = True,
    overwrite: bool = False,
    workers: int = 1,
    trials_per_worker: int | None = 10,
    max_worker_memory_mb: float | None = None,
    threads: int | None = None,
    pin_cores: bool = False,
    checkpoint: bool = True,
    tuner_options: dict | None = None,
    max_concurrent_trials: int = 2,
    asha: bool | dict = False,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    verbose: int = 1,
) -> pd.DataFrame:
    """Runs a hyperparameter search and returns one row per finished trial.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` (``build(hp)`` returning a compiled model,
            optional ``fit(hp, model, *args, **kwargs)`` and ``callbacks(hp)``) or a plain
            callable ``build(hp)``. An hp named ``"resampling"`` resamples each training fold
            with ``lib.resampling.resample`` (validation rows are never resampled). It is
            pickled (cloudpickle) to the workers, so it may be defined in a notebook.
        data: :class:`Data`, or a dict with keys ``x_train``, ``y_train`` and ``x_val``,
            ``y_val`` (or ``groups`` with folds). ``x_train`` is passed whole to the model;
            feature subsets are the model's job.
        tuner: ``"grid"``, ``"random"``, ``"bayesian"``, ``"hyperband"`` (KerasTuner
            oracles), ``"ray-hyperopt"`` (Ray Tune + HyperOpt TPE) or ``"ray-random"``.
        objective: ``"val_<metric>"`` from :mod:`lib.evaluation` (``val_accuracy``,
            ``val_macro_f1``, ``val_weighted_f1``, ``val_macro_recall``, ``val_mse``, ...),
            computed by the engine on the validation data after restoring the best weights, or
            a key of the Keras history (``val_loss``, ``val_auc``; its value at the best epoch).
            Direction: names with loss/mse/mae/rmse are minimised, others maximised.
        max_trials: trials in total (including those of earlier, resumed runs); None runs the
            whole grid (``"grid"``) and is an error for random / Bayesian / Ray searches
            without ``budget_seconds``.
        budget_seconds: no new trial starts after this many seconds (of this call).
        folds: None (use ``x_val``/``y_val``), an int k (stratified k-fold for
            classification, grouped when ``groups`` are given, shuffled with ``seed``), or a list
            of ``(train_idx, val_idx)`` pairs into ``x_train``. The objective is the mean over
            folds, with ``<objective>_std`` and ``<objective>_fold<i>`` columns.
        groups: group of each training row for grouped folds (or ``data.groups``).
        task: ``"classification"`` or ``"regression"``; inferred from the objective, else
            from the targets' dtype (integers: classification).
        epochs: maximum epochs per trial (Hyperband: its ``max_epochs``).
        batch_size: batch size when the space has no ``batch_size`` hp.
        early_stopping: patience in epochs on ``monitor``, or None.
        reduce_lr: keyword arguments of ``keras.callbacks.ReduceLROnPlateau``, or None.
        class_weight: None, ``"balanced"`` (from each training fold) or a dict.
        monitor: history key used for early stopping and for the best weights restored
            before scoring; default: the objective if it is a Keras history key, else
            ``"val_loss"``.
        seed: seeds the oracle, the folds and every trial (trial i: from ``(seed, i)``).
        directory: where the state lives (``search.json``, ``trials.jsonl``, ``data/``,
            ``best_model.keras``); None uses a fresh temporary directory (no resume).
        resume: continue the search found in ``directory`` (finished trials are not rerun).
        overwrite: delete the state in ``directory`` first.
        workers: trial processes run at once (spawned, recycled); 0 runs trials in this
            process (debugging: no memory isolation, clears the Keras session between
            trials). With more than one, results can depend on which trial finishes first.
        trials_per_worker: a worker process is replaced after this many trials (None: never).
            A worker's memory creeps up by a few MB per trial (TensorFlow), so this bounds
            it; replacing one costs a few seconds (about 2 % of a 100-trial bench of 2 s
            trials at 10, see ``bench/tuning_memory.py``).
        max_worker_memory_mb: also replace a worker whose resident memory exceeds this.
        threads: TensorFlow intra/inter-op threads per worker (default
            ``cpu_count // workers``); pin it to compare timings or reproduce metrics exactly.
        pin_cores: pin each trial process (worker or Ray trial) to a CPU core of its own
            (``os.sched_setaffinity``; cores are shared out through lock files, so two
            searches on one machine do not pin to the same core). With ``threads=1`` a trial
            then uses exactly one core, and the threads of concurrent trials (TensorFlow runs
            the Python thread and tf.data's threads beside its op pools) stop moving between
            cores. Measured (``bench/ray_parallel.py --trials 16 --epochs 4 --repeat 3``,
            2026-12-01, medians): sequential 24.7 s unpinned / 23.7 s pinned, Ray at 2
            concurrent trials 14.4 / 13.6 s, ``workers=2`` 12.4 / 12.0 s. Use it to give every
            trial the same, fixed resources (comparable trial times). Linux only; elsewhere,
            or with every core taken, trials run unpinned.
        checkpoint: save the best trial's model to ``directory/best_model.keras`` whenever a
            trial improves on the best (not with folds).
        tuner_options: extra keyword arguments of the KerasTuner oracle (e.g. ``factor`` for
            Hyperband, ``num_initial_points`` for Bayesian) or of the Ray searcher.
        max_concurrent_trials: Ray: trials run at once (one CPU and one TF thread each).
        asha: Ray: True (or a dict of ``ASHAScheduler`` options) stops poor trials early.
        ray_address: Ray: None starts a local Ray with ``num_cpus``; ``"auto"`` or
            ``"ray://host:10001"`` connects to an existing cluster.
        num_cpus: Ray: CPUs of the local Ray (default ``max_concurrent_trials``). Tune's
            automatic per-trial CSV / JSON / TensorBoardX loggers are off (the trials are in
            ``trials.jsonl``); set ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=0`` to keep them.
        verbose: 0 silent, 1 one line per trial.

    Returns:
        A ``pandas.DataFrame`` with one row per finished trial: ``trial`` (0-based order),
        one column per hyperparameter, ``objective``, the ``val_*`` metrics (fold means), with
        folds ``<objective>_std`` and ``<objective>_fold<i>``, ``best_epoch`` (1-based epoch
        whose weights were scored), ``epochs_run``, ``seconds`` (fit + evaluation),
        ``overhead_seconds`` (trial wall time in the parent minus fit time),
        ``elapsed_seconds`` (wall clock from the search's first trial start to this trial's
        end: with parallel trials, the x axis for best-so-far against time; a pause between
        an interruption and the resume counts too), ``status``, ``error`` and ``history``
        (dict of per-epoch lists; fold i > 0 under ``fold<i>/``).
        ``frame.attrs`` holds ``objective``, ``direction``, ``hyperparameters``, ``task``,
        ``tuner`` and ``directory``.

    Raises:
        ValueError: unknown tuner, empty search space, objective the model does not report,
            missing validation data, or a directory holding a different search.
        RuntimeError: three trials in a row failed (the message carries the traceback).
    """
    if tuner not in TUNERS:
        raise ValueError(f"unknown tuner {tuner!r}; expected one of {list(TUNERS)}")
    data = as_data(data)
    if groups is not None:
        data.groups = groups
    if data.x_train is None or len(data.x_train) == 0:
        raise ValueError("x_train is empty; a search needs training rows")
    if len(data.x_train) != len(data.y_train):
        raise ValueError(
            f"x_train has {len(data.x_train)} rows but y_train has {len(data.y_train)}; "
            "give one target per row"
        )
    if tuner in ("random", "bayesian") + RAY_TUNERS and max_trials is None and not budget_seconds:
        raise ValueError(
            f"tuner {tuner!r} needs max_trials or budget_seconds to know when to stop"
        )
    task = infer_task(objective, data.y_train, task)
    labels = class_labels(data.y_train) if task == "classification" else None
    engine_names = engine_metric_names(task, labels)
    direction = direction_of(objective)
    if monitor is None:
        monitor = "val_loss" if objective in engine_names else objective
    splits = make_splits(data, folds, task=task, seed=seed)
    arrays = {"x_train": np.asarray(data.x_train), "y_train": np.asarray(data.y_train)}
    if splits is None:
        arrays["x_val"], arrays["y_val"] = np.asarray(data.x_val), np.asarray(data.y_val)
    data_digest, folds_digest = fingerprint(arrays, splits)

    if directory is None:
        directory = tempfile.mkdtemp(prefix="lib-tuning-")
    directory = os.fspath(directory)
    store = TrialStore(directory)
    if overwrite and os.path.isdir(directory):
        shutil.rmtree(directory)
    if store.exists() and not resume:
        raise ValueError(
            f"{directory} already holds a search; pass resume=True to continue it or "
            "overwrite=True to start again"
        )
    os.makedirs(directory, exist_ok=True)
    store.repair()
    _clear_trial_checkpoints(directory)

    settings = {
        "objective": objective,
        "direction": direction,
        "task": task,
        "labels": labels,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "early_stopping": early_stopping,
        "reduce_lr": dict(reduce_lr) if reduce_lr else None,
        "class_weight": class_weight,
        "monitor": monitor,
        "monitor_mode": direction_of(monitor),
        "checkpoint_path": os.path.join(directory, "best_model.keras") if checkpoint else None,
        "checkpoint_best": None,
    }
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(int(workers), 1))

    from lib.tuning._trial import cloudpickle

    # Ray runs the trials itself: a worker process spawned only to discover the space costs a
    # TensorFlow import (seconds) before Ray starts. When the caller already imported Keras,
    # the space is discovered here (one small build; the parent's thread pools are left alone).
    discover_here = tuner in RAY_TUNERS and "keras" in sys.modules
    in_process = int(workers) <= 0 or discover_here
    if not in_process:
        store.save_data(arrays, splits, {"data": data_digest, "folds": folds_digest})
    setup = {
        "hypermodel": cloudpickle.dumps(hypermodel),
        "data_dir": store.data_dir,
        "array_names": sorted(arrays),
        "threads": threads,
        "pin_cores": bool(pin_cores),
    }
    pool = _Pool(
        workers=1 if tuner in RAY_TUNERS else workers,
        trials_per_worker=trials_per_worker,
        max_worker_memory_mb=max_worker_memory_mb,
        setup=None if in_process else setup,
        in_process=(
            (hypermodel, arrays, splits, None if discover_here else threads) if in_process else None
        ),
    )
    try:
        if not in_process and tuner not in RAY_TUNERS:
            # start every worker now: the others import TensorFlow while the first discovers
            for index in range(min(pool.size, max_trials or pool.size)):
                pool.slot(index)
        # Discover the space (and, for a Keras-metric objective, the history keys).
        need_keys = objective not in engine_names
        pool.slot(0).submit(
            "discover", {"settings": settings, "history_keys": need_keys}
        )
        found = pool.slot(0).receive()
        pool.slot(0).tasks_done = 0  # discovery does not count towards trials_per_worker
        if found["status"] != "OK":
            _raise_from(found, "discovering the search space failed")
        space = _trial.space_from_config(found["space"])
        if not space.space:
            raise ValueError(
                "the hypermodel declares no hyperparameters (empty search space); use hp.Choice"
                "/hp.Int/hp.Float in build(hp), or train the model directly with fit_final"
            )
        if need_keys and objective not in found["history_keys"]:
            available = sorted(set(engine_names) | set(found["history_keys"]))
            raise ValueError(
                f"objective {objective!r} is not reported by the model; available objectives: "
                f"{available}. Pick one of these or add the metric to the model's compile()"
            )
        spec = {
            "tuner": tuner, "objective": objective, "seed": seed, "task": task,
            "epochs": epochs, "batch_size": batch_size, "early_stopping": early_stopping,
            "reduce_lr": reduce_lr, "class_weight": class_weight, "monitor": monitor,
            "tuner_options": tuner_options or {}, "asha": asha, "data": data_digest,
            "folds": folds_digest, "space": found["space"],
        }
        spec = json.loads(json.dumps(_jsonable(spec), sort_keys=True))
        if store.exists():
            old = store.read_spec()
            differing = [k for k in _SPEC_KEYS if old.get(k) != spec.get(k)]
            if differing:
                what = "search space" if "space" in differing else "search"
                raise ValueError(
                    f"{directory} holds a different {what} (differs in: {differing}); use "
                    "another directory, the same arguments, or overwrite=True"
                )
        else:
            store.write_spec(spec)

        if tuner in RAY_TUNERS:
            pool.close()
            from lib.tuning import _ray

            _ray.run(
                hypermodel, arrays, splits, space, settings, store=store, tuner=tuner,
                max_trials=max_trials, budget_seconds=budget_seconds, seed=seed,
                max_concurrent_trials=max_concurrent_trials, asha=asha,
                ray_address=ray_address, num_cpus=num_cpus, options=tuner_options or {},
                verbose=verbose, pin_cores=bool(pin_cores),
            )
        else:
            _run_oracle(
                pool, store, space, settings, tuner=tuner, max_trials=max_trials,
                budget_seconds=budget_seconds, seed=seed, epochs=epochs,
                options=tuner_options or {}, verbose=verbose,
            )
    finally:
        pool.close()
    frame = results_frame(store.load(), space=space, objective=objective)
    frame.attrs.update(
        {"objective": objective, "direction": direction, "task": task, "tuner": tuner,
         "directory": directory}
    )
    return frame


def _raise_from(result: dict, what: str) -> None:
    error = result.get("exception")
    message = f"{what}: {result.get('error')}\n{result.get('traceback', '')}"
    if isinstance(error, (ValueError, TypeError)):
        raise type(error)(f"{error}\n(worker traceback follows)\n{result.get('traceback', '')}")
    raise RuntimeError(message)


def _run_oracle(
    pool: _Pool, store: TrialStore, space: Any, settings: dict, *, tuner: str,
    max_trials: int | None, budget_seconds: float | None, seed: int, epochs: int,
    options: dict, verbose: int,
) -> None:
    """Replays finished trials into a fresh oracle, then runs new trials until done."""
    objective, direction = settings["objective"], settings["direction"]
    oracle = _make_oracle(
        tuner, objective, direction, max_trials=max_trials, seed=seed, epochs=epochs,
        space=space, options=options,
    )
    finished = {r["trial"]: r for r in store.load()}
    best = None
    pending: collections.deque = collections.deque()
    index = 0
    last = max(finished, default=-1)
    while index <= last:
        trial = _create_trial(oracle, tuner, index)
        if trial.status != "RUNNING":
            break
        record = finished.get(index)
        if record is None:
            pending.append((index, trial))
        else:
            if trial.hyperparameters.values != record["hyperparameters"]:
                trial.hyperparameters.values = dict(record["hyperparameters"])
            _end_trial(oracle, trial, record, objective)
            if _better(record.get("objective"), best, direction):
                best = record.get("objective")
        index += 1
    settings = dict(settings, checkpoint_best=best)
    start = time.perf_counter()
    stopping = False
    running: dict[int, tuple] = {}
    failures = 0
    created = index
    total = max_trials if max_trials is not None else None
    while True:
        for slot_index in pool.idle():
            if pending:
                number, trial = pending.popleft()
            else:
                if stopping:
                    break
                if budget_seconds is not None and time.perf_counter() - start >= budget_seconds:
                    stopping = True
                    break
                if total is not None and created >= total:
                    stopping = True
                    break
                trial = _create_trial(oracle, tuner, created)
                if trial.status == "STOPPED":
                    stopping = True
                    break
                if trial.status != "RUNNING":  # IDLE: wait for a running trial to finish
                    break
                number = created
                created += 1
            values = dict(trial.hyperparameters.values)
            payload = {
                "values": values, "seed": _trial.trial_seed(seed, number),
                "settings": _trial_settings(settings, number), "space": space.get_config(),
            }
            began = time.perf_counter()
            pool.slot(slot_index).submit("trial", payload)
            running[slot_index] = (number, trial, began)
        if not running:
            break
        for slot_index in pool.wait():
            result = pool.slots[slot_index].receive()
            number, trial, began = running.pop(slot_index)
            wall = time.perf_counter() - began
            record = _record(number, trial, result, wall, seed)
            store.append(record)
            _end_trial(oracle, trial, record, objective)
            pool.after_task(slot_index, result)
            improved = record["status"] == "COMPLETED" and _better(
                record["objective"], best, direction
            )
            _settle_checkpoint(settings, number, keep=improved)
            if record["status"] == "COMPLETED":
                failures = 0
                if improved:
                    best = record["objective"]
                    settings["checkpoint_best"] = best
            else:
                failures += 1
                if failures >= 3:
                    raise RuntimeError(
                        f"3 trials in a row failed; last error: {record['error']}\n"
                        f"{result.get('traceback', '')}"
                    )
            if verbose:
                shown = f"{total}" if total is not None else "?"
                print(
                    f"trial {number + 1}/{shown} {objective}={record.get('objective'):.4g} "
                    f"best={best if best is None else format(best, '.4g')} "
                    f"{record.get('seconds', 0):.1f}s {record['status']}",
                    flush=True,
                )


def _trial_checkpoint(settings: dict, number: int) -> str | None:
    path = settings.get("checkpoint_path")
    if not path:
        return None
    return os.path.join(os.path.dirname(path), f".trial-{number:05d}.keras")


def _trial_settings(settings: dict, number: int) -> dict:
    """The settings a trial runs with: its model is saved to its own file (if better than the
    best known when it started); only the parent, one result at a time, promotes that file to
    ``best_model.keras``, so concurrent trials cannot overwrite a better model."""
    path = _trial_checkpoint(settings, number)
    return settings if path is None else dict(settings, checkpoint_path=path)


def _settle_checkpoint(settings: dict, number: int, *, keep: bool) -> None:
    """Promotes trial ``number``'s saved model to ``best_model.keras`` (``keep``) or deletes it."""
    path = _trial_checkpoint(settings, number)
    if path is None or not os.path.exists(path):
        return
    if keep:
        os.replace(path, settings["checkpoint_path"])
    else:
        os.remove(path)


def _clear_trial_checkpoints(directory: str) -> None:
    """Deletes per-trial model files an interrupted run left behind."""
    for name in os.listdir(directory):
        if name.startswith(".trial-") and name.endswith(".keras"):
            os.remove(os.path.join(directory, name))


def _record(number: int, trial: Any, result: dict, wall: float, seed: int) -> dict:
    record = {
        "trial": number,
        "trial_id": trial.trial_id,
        "hyperparameters": dict(trial.hyperparameters.values),
        "seed": _trial.trial_seed(seed, number),
        "status": result.get("status", "FAILED"),
        "wall_seconds": wall,
    }
    if record["status"] == "COMPLETED":
        for key, value in result.items():
            if key not in ("status", "exception", "traceback"):
                record[key] = value
        record["overhead_seconds"] = wall - float(result.get("fit_seconds", 0.0))
    else:
        record["objective"] = math.nan
        record["error"] = result.get("error")
        record["seconds"] = wall
        record["overhead_seconds"] = wall
    return record


def results_frame(records: list[dict], *, space: Any = None, objective: str = "") -> pd.DataFrame:
    """The tidy trial table from stored records (see :func:`search` for the columns)."""
    hp_names: list[str] = []
    if space is not None:
        hp_names = [hp.name for hp in space.space]
    for record in records:
        for name in record.get("hyperparameters", {}):
            if name not in hp_names:
                hp_names.append(name)
    starts = [
        r["finished_at"] - float(r.get("wall_seconds", r.get("seconds", 0.0)) or 0.0)
        for r in records if r.get("finished_at") is not None
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
    tail = ["best_epoch", "epochs_run", "seconds", "overhead_seconds", "elapsed_seconds",
            "status", "error", "history"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=base + tail)
    middle = [c for c in frame.columns if c not in base and c not in tail]
    frame = frame[base + middle + tail]
    frame.attrs["hyperparameters"] = hp_names
    return frame
