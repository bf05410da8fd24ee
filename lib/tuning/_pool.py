"""Where trials run: recycled worker processes, or the caller's own process.

A worker is started with ``multiprocessing.get_context("spawn")``; it receives the pickled
hypermodel and the *paths* of the data saved once as ``.npy`` (loaded with
``mmap_mode="r"``), so no large array is pickled per trial. The parent keeps only the oracle
and the finished records; a worker is replaced after ``trials_per_worker`` trials (or when its
resident memory passes a limit), which keeps memory and per-trial overhead flat over long
searches whatever TensorFlow and Keras accumulate inside one process. ``workers=0`` runs the
same tasks in this process (:class:`InProcessSlot`); both go through :func:`run_task`.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from typing import Any

import numpy as np

from lib.tuning import _process, _trial, spaces
from lib.tuning._settings import DiscoverTask, TrialTask, WorkerSetup


def load_arrays(data_dir: str, names: list[str]) -> dict[str, np.ndarray]:
    """Memory-maps the arrays ``<name>.npy`` saved in ``data_dir``."""
    return {name: np.load(os.path.join(data_dir, f"{name}.npy"), mmap_mode="r") for name in names}


def load_splits(data_dir: str) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Reads ``folds.npz`` (train_i / val_i index arrays) from ``data_dir``, or None."""
    path = os.path.join(data_dir, "folds.npz")
    if not os.path.exists(path):
        return None
    with np.load(path) as stored:
        count = len(stored.files) // 2
        return [(stored[f"train_{i}"], stored[f"val_{i}"]) for i in range(count)]


def _load_checked(setup: WorkerSetup) -> tuple[dict, list | None]:
    """The saved arrays and folds, after checking them against the search's fingerprint."""
    from lib.tuning._data import fingerprint

    arrays = load_arrays(setup.data_dir, setup.array_names)
    splits = load_splits(setup.data_dir)
    if fingerprint(arrays, splits) != tuple(setup.fingerprint):
        raise ValueError(
            f"the data saved in {setup.data_dir} changed since the search saved it (its "
            "fingerprint differs); trials would train on other data. Start the search again "
            "(overwrite=True) or restore the files"
        )
    return arrays, splits


def discover(hypermodel: Any, arrays: dict, splits: list | None, task: DiscoverTask) -> dict:
    """A :class:`DiscoverTask`: the search space, the default model's outputs and signature,
    and (when asked) the history keys a fit reports. Runs in a worker or in-process."""
    settings = task.settings
    model_info: dict = {}
    initial = task.initial_space
    if splits is None and arrays.get("x_val") is not None:
        validation = (arrays["x_val"][:8], arrays["y_val"][:8])
    elif splits:
        validation = (arrays["x_train"][splits[0][1][:8]], arrays["y_train"][splits[0][1][:8]])
    else:
        validation = None
    space = spaces.discover_space(
        hypermodel,
        arrays["x_train"][:8],
        arrays["y_train"][:8],
        batch_size=settings.fit_batch_size,
        info=model_info,
        compile_overrides=settings.compile_overrides,
        initial=spaces.space_from_config(initial) if initial else None,
        validation_sample=validation,
    )
    keys = None
    if task.history_keys:
        keys = _trial.dry_history_keys(hypermodel, space, arrays, splits, settings)
    return {
        "status": "OK",
        "space": space.get_config(),
        "history_keys": keys,
        "model": model_info,
        "space_object": space,
    }


def failure(error: BaseException) -> dict:
    """A task result for an exception (the parent records the trial as failed)."""
    return {
        "status": "FAILED",
        "error": f"{type(error).__name__}: {error}",
        "traceback": traceback.format_exc(),
        "exception": error,
    }


def run_task(
    task: TrialTask | DiscoverTask,
    hypermodel: Any,
    arrays: dict,
    splits: list | None,
    space: Any,
) -> tuple[dict, Any]:
    """Runs one task and returns ``(result, space)``: the one dispatch of workers and of the
    in-process slot. An exception becomes a FAILED result."""
    try:
        if isinstance(task, DiscoverTask):
            result = discover(hypermodel, arrays, splits, task)
            return result, result.pop("space_object")
        space = space or spaces.space_from_config(task.space)
        result = _trial.run_trial(
            hypermodel, task.values, arrays, splits, task.settings, seed=task.seed, space=space
        )
        result["status"] = "COMPLETED"
        return result, space
    except Exception as error:  # reported to the parent, which records the failure
        return failure(error), space


def _worker_main(conn: Any, setup_blob: bytes) -> None:
    """Entry point of a worker process: set up once, then run tasks until told to stop."""
    setup: WorkerSetup = pickle.loads(setup_blob)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _trial.prepare_trial_process(setup.threads, pin_cores=setup.pin_cores)
    try:
        hypermodel = _process.cloudpickle.loads(setup.hypermodel)
        arrays, splits = _load_checked(setup)
        broken = None
    except Exception as error:  # every task reports it; the parent raises or records it
        broken = failure(error)
    space = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        if broken is not None:
            result = broken
        else:
            result, space = run_task(message, hypermodel, arrays, splits, space)
        if result["status"] == "FAILED":
            result["exception"] = _picklable(result["exception"])
        conn.send(result)


def _picklable(error: BaseException) -> BaseException | None:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return None


class Worker:
    """Handle on one worker process (spawned lazily, recycled by the pool)."""

    def __init__(self, setup_blob: bytes):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, setup_blob), daemon=True, name="lib-tuning-worker"
        )
        # The child imports TensorFlow before _worker_main runs: hand it a quiet log level
        # through the environment it inherits, then restore the caller's environment.
        previous = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = previous or "2"
        try:
            self.process.start()
        finally:
            if previous is None:
                del os.environ["TF_CPP_MIN_LOG_LEVEL"]
        child.close()
        self.tasks_done = 0
        self.busy = False

    def submit(self, task: TrialTask | DiscoverTask) -> None:
        """Sends a task; the result is read with :meth:`receive`."""
        self.conn.send(task)
        self.busy = True

    def receive(self) -> dict:
        """Blocks for the running task's result; a dead worker yields a FAILED result."""
        try:
            result = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            error = f"worker process died (exit code {self.process.exitcode})"
            if self.tasks_done == 0:  # died before its first result: usually at start-up
                error += (
                    " before its first task ended; the worker's own error is printed above. "
                    "Workers are spawned and re-import the calling script, so a script must "
                    'call search() under `if __name__ == "__main__":`; or pass workers=0 to '
                    "run the trials in this process"
                )
            result = {
                "status": "FAILED",
                "error": error,
                "traceback": "",
                "exception": None,
                "worker_died": True,
            }
        self.busy = False
        self.tasks_done += 1
        return result

    def rss_bytes(self) -> int:
        """Resident memory of the worker process (0 if it is gone)."""
        try:
            import psutil

            return psutil.Process(self.process.pid).memory_info().rss
        except Exception:
            return 0

    def close(self, *, timeout: float = 10.0) -> None:
        """Asks the worker to exit, then terminates it if it does not."""
        try:
            if self.process.is_alive():
                self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.conn.close()


class InProcessSlot:
    """Runs tasks synchronously in this process (``workers=0``)."""

    def __init__(self, hypermodel: Any, arrays: dict, splits: list | None, threads: int | None):
        self.hypermodel, self.arrays, self.splits = hypermodel, arrays, splits
        self.space = None
        self.result = None
        self.tasks_done = 0
        self.busy = False
        _trial.set_threads(threads)

    def submit(self, task: TrialTask | DiscoverTask) -> None:
        self.result, self.space = run_task(
            task, self.hypermodel, self.arrays, self.splits, self.space
        )
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


class Pool:
    """``workers`` slots, each a recycled worker process (or one in-process slot)."""

    def __init__(
        self,
        *,
        workers: int,
        trials_per_worker: int | None,
        max_worker_memory_mb: float | None,
        setup: WorkerSetup | None,
        in_process: tuple | None,
    ):
        self.size = max(int(workers), 1)
        self.trials_per_worker = trials_per_worker
        self.max_worker_memory_mb = max_worker_memory_mb
        self.setup_blob = pickle.dumps(setup) if setup is not None else None
        self.in_process = in_process
        self.slots: list[Any] = [None] * self.size

    def slot(self, index: int) -> Any:
        if self.slots[index] is None:
            if self.in_process is not None:
                self.slots[index] = InProcessSlot(*self.in_process)
            else:
                self.slots[index] = Worker(self.setup_blob)
        return self.slots[index]

    def idle(self) -> list[int]:
        return [i for i in range(self.size) if self.slots[i] is None or not self.slots[i].busy]

    def busy(self) -> list[int]:
        return [i for i in range(self.size) if self.slots[i] is not None and self.slots[i].busy]

    def wait(self, timeout: float | None = None) -> list[int]:
        """Indices of busy slots whose result is ready (blocks until at least one is, or
        ``timeout`` seconds pass: then the list may be empty)."""
        busy = self.busy()
        if self.in_process is not None:
            return busy
        from multiprocessing.connection import wait

        by_conn = {self.slots[i].conn: i for i in busy}
        sentinels = {self.slots[i].process.sentinel: i for i in busy}
        ready = wait(list(by_conn) + list(sentinels), timeout=timeout)
        return sorted({by_conn.get(r, sentinels.get(r)) for r in ready})

    def kill(self, index: int) -> None:
        """Kills the worker of slot ``index`` (a trial past its time limit); the slot starts
        a new worker for its next task."""
        slot = self.slots[index]
        if slot is None or self.in_process is not None:
            return
        slot.process.kill()
        slot.process.join(timeout=10)
        slot.conn.close()
        self.slots[index] = None

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

    def close(self) -> None:
        for index, slot in enumerate(self.slots):
            if slot is not None:
                slot.close()
                self.slots[index] = None
