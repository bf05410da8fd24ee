"""Recycled worker processes that run trials away from the search's parent process.

A worker is started with ``multiprocessing.get_context("spawn")``; it receives the pickled
hypermodel and the *paths* of the data saved once as ``.npy`` (loaded with
``mmap_mode="r"``), so no large array is pickled per trial. The parent keeps only the oracle
and the finished records; a worker is replaced after ``trials_per_worker`` trials (or when its
resident memory passes a limit), which keeps memory and per-trial overhead flat over long
searches whatever TensorFlow and Keras accumulate inside one process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from typing import Any

import numpy as np


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


def _load_checked(setup: dict) -> tuple[dict, list | None]:
    """The saved arrays and folds, after checking them against the search's fingerprint."""
    from lib.tuning._data import fingerprint

    arrays = load_arrays(setup["data_dir"], setup["array_names"])
    splits = load_splits(setup["data_dir"])
    expected = setup.get("fingerprint")
    if expected is not None and fingerprint(arrays, splits) != tuple(expected):
        raise ValueError(
            f"the data saved in {setup['data_dir']} changed since the search saved it (its "
            "fingerprint differs); trials would train on other data. Start the search again "
            "(overwrite=True) or restore the files"
        )
    return arrays, splits


def _worker_main(conn: Any, setup_blob: bytes) -> None:
    """Entry point of a worker process: set up once, then run tasks until told to stop."""
    setup = pickle.loads(setup_blob)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lib.tuning import _pool, _trial

    _trial.prepare_trial_process(setup.get("threads"), pin_cores=bool(setup.get("pin_cores")))
    from lib.tuning._trial import cloudpickle

    try:
        hypermodel = cloudpickle.loads(setup["hypermodel"])
        arrays, splits = _load_checked(setup)
        broken = None
    except Exception as error:  # every task reports it; the parent raises or records it
        broken = _pool.failure(error)
        broken["exception"] = _picklable(error)
    space = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        kind, payload = message
        try:
            if broken is not None:
                result = broken
            elif kind == "discover":
                result = _pool.discover(hypermodel, arrays, splits, payload)
                space = result.pop("space_object")
            elif kind == "trial":
                if space is None:
                    space = _trial.space_from_config(payload["space"])
                result = _trial.run_trial(
                    hypermodel, payload["values"], arrays, splits, payload["settings"],
                    seed=payload["seed"], space=space,
                )
                result["status"] = "COMPLETED"
            else:
                raise ValueError(f"unknown task {kind!r}")
        except Exception as error:  # reported to the parent, which records the failure
            result = _pool.failure(error)
            result["exception"] = _picklable(error)
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

    def submit(self, kind: str, payload: dict) -> None:
        """Sends a task; the result is read with :meth:`receive`."""
        self.conn.send((kind, payload))
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
                    "call search() under `if __name__ == \"__main__\":`; or pass workers=0 to "
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
