"""Where trials run: a pool of recycled worker processes, or the caller's own process."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

from lib.tuning import _trial


def discover(hypermodel: Any, arrays: dict, splits: list | None, payload: dict) -> dict:
    """The ``discover`` task: the search space, the default model's outputs and signature,
    and (when asked) the history keys a fit reports. Runs in a worker or in-process."""
    settings = payload["settings"]
    model_info: dict = {}
    initial = payload.get("initial_space")
    if splits is None and arrays.get("x_val") is not None:
        validation = (arrays["x_val"][:8], arrays["y_val"][:8])
    elif splits:
        validation = (arrays["x_train"][splits[0][1][:8]], arrays["y_train"][splits[0][1][:8]])
    else:
        validation = None
    space = _trial.discover_space(
        hypermodel, arrays["x_train"][:8], arrays["y_train"][:8],
        batch_size=settings.fit_batch_size, info=model_info,
        compile_overrides=settings.compile_overrides,
        initial=_trial.space_from_config(initial) if initial else None,
        validation_sample=validation,
    )
    keys = None
    if payload.get("history_keys"):
        keys = _trial.dry_history_keys(hypermodel, space, arrays, splits, settings)
    return {"status": "OK", "space": space.get_config(), "history_keys": keys,
            "model": model_info, "space_object": space}


def failure(error: BaseException) -> dict:
    """A task result for an exception (the parent records the trial as failed)."""
    return {
        "status": "FAILED",
        "error": f"{type(error).__name__}: {error}",
        "traceback": traceback.format_exc(),
        "exception": error,
    }


class InProcessSlot:
    """Runs tasks synchronously in this process (``workers=0``)."""

    def __init__(self, hypermodel: Any, arrays: dict, splits: list | None, threads: int | None):
        self.hypermodel, self.arrays, self.splits = hypermodel, arrays, splits
        self.space = None
        self.result = None
        self.tasks_done = 0
        self.busy = False
        _trial.set_threads(threads)

    def submit(self, kind: str, payload: dict) -> None:
        try:
            if kind == "discover":
                result = discover(self.hypermodel, self.arrays, self.splits, payload)
                self.space = result.pop("space_object")
                self.result = result
            else:
                record = _trial.run_trial(
                    self.hypermodel, payload["values"], self.arrays, self.splits,
                    payload["settings"], seed=payload["seed"],
                    space=self.space or payload["space"],
                )
                record["status"] = "COMPLETED"
                self.result = record
        except Exception as error:
            self.result = failure(error)
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
                self.slots[index] = InProcessSlot(*self.in_process)
            else:
                from lib.tuning._worker import Worker

                self.slots[index] = Worker(self.setup_blob)
                self.restarts += 1
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

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s is not None and hasattr(s, "process")]

    def close(self) -> None:
        for index, slot in enumerate(self.slots):
            if slot is not None:
                slot.close()
                self.slots[index] = None


