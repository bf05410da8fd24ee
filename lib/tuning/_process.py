"""The set-up of a process the tuning engine runs trials in (a worker or a Ray actor).

Thread pools, a fixed-size input pipeline for one-thread trials, a CPU core of its own and
imports frozen out of the garbage collector's full scans; each step is done once per process.
Also what every such process shares: the pickling of hypermodels (cloudpickle) and the
atomic model save.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import tensorflow as tf


def set_threads(threads: int | None) -> None:
    """Pins TensorFlow's intra- and inter-op thread pools (before any op runs in this process)."""
    if not threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:  # the runtime is already initialised: keep its pools
        pass


def quiet_input_pipeline(threads: int | None) -> None:
    """Gives the tf.data pipelines Keras builds for arrays a fixed size in a one-thread trial.

    ``model.fit`` / ``evaluate`` / ``predict`` on NumPy arrays go through Keras'
    ``ArrayDataAdapter``, a tf.data pipeline with ``map(num_parallel_calls=AUTOTUNE)`` and
    ``prefetch(AUTOTUNE)``. tf.data's autotuner then runs its own threads and timed waits; in a
    trial process held to one core those waits leave the core idle. With autotuning off and
    tf.data's private thread pool at ``threads`` threads the trial's wall time is its CPU
    time. The batches,
    their order and so the trained weights stay bit for bit the same: only the scheduling
    changes. Applied in trial processes the engine starts (workers, Ray actors) when they run
    one TensorFlow thread (``threads=1``), never in the caller's own process; does nothing if
    this Keras has no such adapter.
    """
    if threads != 1:
        return
    try:
        from keras.src.trainers.data_adapters import array_data_adapter
    except ImportError:  # pragma: no cover  (another Keras layout: keep its pipeline)
        return
    adapter = getattr(array_data_adapter, "ArrayDataAdapter", None)
    if adapter is None or getattr(adapter, "_lib_quiet_pipeline", False):
        return
    original = adapter.get_tf_dataset

    def get_tf_dataset(self: Any) -> Any:
        options = tf.data.Options()
        options.autotune.enabled = False
        options.threading.private_threadpool_size = int(threads)
        return original(self).with_options(options)

    adapter.get_tf_dataset = get_tf_dataset
    adapter._lib_quiet_pipeline = True


_FROZEN = False


def freeze_imports() -> None:
    """Takes what a trial process has imported out of the garbage collector's full scans.

    Every trial ends with ``keras.backend.clear_session()`` and ``gc.collect()`` (what keeps
    a worker's memory flat), and each full collection walks every tracked object, the
    hundreds of thousands TensorFlow, Keras and Ray Tune create at import included.
    ``gc.freeze()`` after the imports moves those module-level objects to a
    permanent generation the collector skips; everything a trial allocates later is
    collected as before, and what survives a trial's final collection is frozen in turn
    (:func:`lib.tuning._trial.run_trial`), so the collections do not lengthen as a worker
    ages. Called once per trial process (a worker or a Ray actor), after its imports; later
    calls do nothing.
    """
    global _FROZEN
    if _FROZEN:
        return
    gc.collect()
    gc.freeze()
    _FROZEN = True


def imports_frozen() -> bool:
    """Whether :func:`freeze_imports` has run in this process."""
    return _FROZEN


def prepare_trial_process(threads: int | None, *, pin_cores: bool = False) -> None:
    """Sets up a process the engine runs trials in (a worker or a Ray actor), once.

    Pins it to a core (``pin_cores``), sizes TensorFlow's thread pools, gives one-thread
    trials a fixed-size input pipeline and freezes the imports out of the garbage collector;
    each step does nothing when repeated (a Ray actor calls this for every trial it runs).
    """
    if pin_cores:
        claim_core()
    set_threads(threads)
    quiet_input_pipeline(threads)
    freeze_imports()


_CLAIMED: list[int] = []  # file descriptors of the core locks this process holds


def claim_core(lock_dir: str | None = None) -> int | None:
    """Pins this process to one CPU core that no other pinned trial process holds.

    Each core has a lock file in ``lock_dir`` (default: a per-user folder in the temporary
    directory); the first core whose lock this process can take (``flock``, released by the
    kernel when the process ends, even after ``kill -9``) is the one every thread of this
    process runs on from now on. TensorFlow runs a trial on more threads than its intra- and
    inter-op pools (the Python thread, tf.data's threads); unpinned, those of two concurrent
    trials move between the cores; pinned, a trial gets exactly one, alone or concurrent
    (pair it with :func:`quiet_input_pipeline`, or tf.data's autotuning leaves the core idle).

    Returns:
        The core, or None when the process stays unpinned (already pinned, fewer than two
        cores, every core taken, or no ``sched_setaffinity`` on this platform).
    """
    if _CLAIMED or not hasattr(os, "sched_setaffinity"):
        return None
    import fcntl
    import tempfile

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    folder = lock_dir or os.path.join(tempfile.gettempdir(), f"lib-tuning-cores-{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    for core in cores:
        fd = os.open(os.path.join(folder, f"core{core}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _CLAIMED.append(fd)  # held (open) for the life of the process
        try:
            threads = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            threads = [0]
        for thread in threads:  # affinity is per thread on Linux: move the existing ones too
            try:
                os.sched_setaffinity(thread, {core})
            except OSError:
                pass
        return core
    return None


def save_model(model: Any, path: str) -> None:
    """Saves a Keras model whole to ``path`` (``.keras``) through a temporary file renamed
    over it, so no reader ever finds half a model: the one model save of the engine."""
    tmp = f"{path[: -len('.keras')]}.tmp-{os.getpid()}.keras"
    model.save(tmp)
    os.replace(tmp, path)


try:  # pickles hypermodels defined in notebooks and tests (pinned in requirements.txt)
    import cloudpickle  # noqa: F401  (imported from here by the pool, the settings and the Ray backend)
except ImportError:  # pragma: no cover
    from ray import cloudpickle  # noqa: F401  (Ray vendors a copy)
