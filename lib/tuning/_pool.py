"""Where trials run: recycled worker processes, or the caller's own process.

A worker is started with ``multiprocessing.get_context("spawn")``; it receives the pickled
hypermodel and the *paths* of the data saved once as ``.npy`` (loaded with
``mmap_mode="r"``), so no large array is pickled per trial. The parent keeps only the oracle
and the finished records; a worker is replaced after ``trials_per_worker`` trials (or when its
resident memory passes a limit), which keeps memory and per-trial overhead flat over long
searches whatever TensorFlow and Keras accumulate inside one process. ``workers=0`` runs the
same tasks in this process (:class:`InProcessSlot`); both go through :func:`run_task`.

A worker costs seconds of CPU to start (it imports TensorFlow). With the environment variable
``LIB_WORKER_IDLE_SECONDS`` set to a number of seconds, the workers of a finished search wait
that long for the next search of the same process, as joblib's reusable executor does, and
serve it if it runs them the same way (threads, environment, working directory, ``sys.path``)
and no module they imported has changed on disk since they started; otherwise a new worker is
spawned. Unset or 0 (the default), a search closes its workers when it ends. Workers pinned to
a core (``pin_cores``) are never kept: an idle worker would hold its core.

With ``LIB_WORKER_START_METHOD=forkserver`` workers are started by multiprocessing's
forkserver instead (``multiprocessing.set_forkserver_preload``): one server process per caller
imports TensorFlow and this engine once, and each worker is a fork of it, ready in a fraction
of a second (a recycled worker too). A worker is still spawned when the caller's environment
differs from the server's at its start, or a module it imported changed on disk since then.
The server is one more process of the tree :class:`lib.monitoring.PeakMemory` sums, and forks
share its pages, so that sum overstates the memory used. ``spawn`` (unset, the default) spawns
each worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
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


def _load_setup(setup: WorkerSetup) -> tuple[Any, dict | None, list | None, dict | None]:
    """The hypermodel, arrays and folds of a search's setup, or a FAILED result that every
    task of the search then reports (the parent raises or records it)."""
    try:
        hypermodel = _process.cloudpickle.loads(setup.hypermodel)
        arrays, splits = _load_checked(setup)
        return hypermodel, arrays, splits, None
    except Exception as error:
        return None, None, None, failure(error)


def _modules_changed_since(started: float) -> bool:
    """Whether a module this process imported has been changed on disk since it was imported:
    a kept worker would then run the old code. The modules loaded with this one (in a forked
    worker: by the forkserver) count from then, the others from ``started``."""
    loaded_at, loaded = _IMPORTED
    return _changed_on_disk(loaded, loaded_at) or _changed_on_disk(
        set(sys.modules) - loaded, started
    )


def _changed_on_disk(names: Any, since: float) -> bool:
    """Whether the file of one of these imported modules was modified after ``since``."""
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not path:
            continue
        try:
            if os.stat(path).st_mtime > since:
                return True
        except OSError:  # gone: no new code to miss
            continue
    return False


def _worker_main(conn: Any, setup_blob: bytes, started: float) -> None:
    """Entry point of a worker process: set up once, then run tasks until told to stop.

    Besides tasks it answers two messages of the parent: ``("park", seconds)`` (the search
    ended: exit unless a new setup comes within ``seconds``) and ``("setup", blob)`` (serve
    another search: answers ``"ready"``, or ``"stale"`` and exits when a module it imported
    changed on disk since, see :func:`_modules_changed_since`).
    """
    setup: WorkerSetup = pickle.loads(setup_blob)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _trial.prepare_trial_process(setup.threads, pin_cores=setup.pin_cores)
    hypermodel, arrays, splits, broken = _load_setup(setup)
    space, idle = None, None
    while True:
        try:
            if idle is not None and not conn.poll(idle):
                break  # parked, and no search came for it
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        if isinstance(message, tuple):
            kind, value = message
            if kind == "park":
                idle = value
                continue
            if _modules_changed_since(started):
                conn.send("stale")
                break
            hypermodel, arrays, splits, broken = _load_setup(pickle.loads(value))
            space, idle = None, None
            conn.send("ready")
            continue
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

    def __init__(self, setup_blob: bytes, key: tuple | None = None):
        self.key = key  # how it was started (_process_key); None: never kept for reuse
        self.parked_until = 0.0
        # The child imports TensorFlow before _worker_main runs: hand it a quiet log level
        # through the environment it inherits, then restore the caller's environment.
        previous = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = previous or "2"
        try:
            context = _start_context()
            self.conn, child = context.Pipe()
            self.process = context.Process(
                target=_worker_main,
                args=(child, setup_blob, time.time()),
                daemon=True,
                name="lib-tuning-worker",
            )
            self.process.start()
        finally:
            if previous is None:
                del os.environ["TF_CPP_MIN_LOG_LEVEL"]
        self.start_method = context.get_start_method()
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

    def park(self, seconds: float) -> bool:
        """Tells the worker its search ended: it exits unless :meth:`resume` comes within
        ``seconds``. False if it is gone."""
        try:
            self.conn.send(("park", seconds))
        except OSError:
            return False
        self.parked_until = time.monotonic() + seconds
        return True

    def resume(self, setup_blob: bytes, *, timeout: float = 60.0) -> bool:
        """Hands a parked worker another search's setup. False (and the worker closed) if it
        has exited, answers that its modules changed, or does not answer in ``timeout``."""
        try:
            self.conn.send(("setup", setup_blob))
            answer = self.conn.recv() if self.conn.poll(timeout) else None
        except (EOFError, OSError):
            answer = None
        if answer == "ready":
            return True
        self.close(timeout=5)
        return False

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
        self.key = _process_key(setup) if setup is not None and not setup.pin_cores else None
        self.idle_seconds = worker_idle_seconds()  # checked before any worker starts
        worker_start_method()
        self.in_process = in_process
        self.slots: list[Any] = [None] * self.size

    def slot(self, index: int) -> Any:
        if self.slots[index] is None:
            if self.in_process is not None:
                self.slots[index] = InProcessSlot(*self.in_process)
            else:
                kept = _take_parked(self.key, self.setup_blob)
                self.slots[index] = kept or Worker(self.setup_blob, self.key)
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
        """Closes the workers, or parks the idle ones for the next search of this process
        (``LIB_WORKER_IDLE_SECONDS``)."""
        for index, slot in enumerate(self.slots):
            if slot is None:
                continue
            self.slots[index] = None
            if self._keepable(slot) and self.idle_seconds > 0 and slot.park(self.idle_seconds):
                _PARKED.append(slot)
            else:
                slot.close()
        while len(_PARKED) > _MAX_PARKED:
            _PARKED.pop(0).close(timeout=5)

    def _keepable(self, slot: Any) -> bool:
        if self.key is None or slot.busy or not slot.process.is_alive():
            return False
        return not (self.trials_per_worker and slot.tasks_done >= self.trials_per_worker)


START_VARIABLE = "LIB_WORKER_START_METHOD"
_SERVER: dict = {}  # the forkserver's environment and start time, once this process starts it


def worker_start_method() -> str:
    """How workers start: ``LIB_WORKER_START_METHOD``, ``"spawn"`` (unset: the default) or
    ``"forkserver"``."""
    raw = os.environ.get(START_VARIABLE, "").strip()
    method = raw or "spawn"
    available = [m for m in ("spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]
    if method not in available:
        raise ValueError(
            f"{START_VARIABLE} must be one of {available} on this platform, got {raw!r}; "
            "unset it to spawn each worker"
        )
    return method


def _start_context() -> Any:
    """The multiprocessing context the next worker starts from: the forkserver's when
    ``LIB_WORKER_START_METHOD`` asks for it and the server, started here, still matches this
    process (the same environment, no module changed on disk since it started), else spawn's
    (also when other code of this process started multiprocessing's forkserver first)."""
    if worker_start_method() == "forkserver":
        environment = _environment()
        if not _SERVER:
            from multiprocessing import forkserver

            if getattr(forkserver._forkserver, "_forkserver_pid", None) is not None:
                return multiprocessing.get_context("spawn")  # started by other code, not for us
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])  # imports TensorFlow and the engine
            _SERVER.update(environment=environment, started=time.time())
            return context
        # the server holds the modules loaded with this one: none may have changed since
        if _SERVER["environment"] == environment and not _changed_on_disk(
            _IMPORTED[1], _SERVER["started"]
        ):
            return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _environment() -> tuple:
    """This process's environment, but what only the caller reads: the name of the running
    test and the variables of this module."""
    skip = ("PYTEST_CURRENT_TEST", IDLE_VARIABLE, START_VARIABLE)
    return tuple(sorted((k, v) for k, v in os.environ.items() if k not in skip))


IDLE_VARIABLE = "LIB_WORKER_IDLE_SECONDS"
_MAX_PARKED = 4  # idle workers kept at most per process, the oldest closed first
_PARKED: list[Worker] = []  # workers of finished searches, waiting for the next one


def worker_idle_seconds() -> float:
    """How long the workers of a finished search wait for the next search of this process:
    ``LIB_WORKER_IDLE_SECONDS`` (0 when unset: they are closed)."""
    raw = os.environ.get(IDLE_VARIABLE, "").strip()
    try:
        seconds = float(raw or 0)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(
            f"{IDLE_VARIABLE} must be a number of seconds, 0 or more, got {raw!r}; set it to "
            "e.g. 60 to keep a search's workers for the next one, or unset it"
        )
    return seconds


def _process_key(setup: WorkerSetup) -> tuple:
    """What a worker keeps from its start, which the next search must share to use it: its
    threads, the environment (:func:`_environment`), cwd and ``sys.path``."""
    return (setup.threads, os.getcwd(), tuple(sys.path), _environment())


def _take_parked(key: tuple | None, setup_blob: bytes) -> Worker | None:
    """A parked worker started the same way, now set up for this search; the workers whose
    time ran out are reaped on the way."""
    now = time.monotonic()
    for worker in list(_PARKED):
        if worker.parked_until - now < 1:
            _PARKED.remove(worker)
            worker.close(timeout=5)
    if key is None:
        return None
    for worker in list(_PARKED):
        if worker.key == key:
            _PARKED.remove(worker)
            if worker.resume(setup_blob):
                return worker
    return None


# When this module was imported, and the modules loaded by then (in a forked worker: those the
# forkserver imported), for _modules_changed_since.
_IMPORTED = (time.time(), frozenset(sys.modules))
