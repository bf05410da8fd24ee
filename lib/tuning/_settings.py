"""Typed settings of a search: how every trial is fitted and scored, the tasks sent to the
worker processes, and the protocol of the executors that run the trials."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any


@dataclass
class TrialSettings:
    """How a trial is fitted and scored; the same object travels to workers and Ray actors.

    Attributes:
        objective: name of the value the search optimises (``val_<metric>`` of
            :mod:`lib.evaluation` or a Keras history key).
        direction: ``"min"`` or ``"max"``.
        task: ``"classification"`` or ``"regression"``.
        labels: class labels of the targets (classification), or None.
        epochs: maximum epochs per trial.
        batch_size: batch size when the space holds no ``batch_size`` hyperparameter.
        batch_size_given: whether ``search()`` was given ``batch_size`` (a custom
            ``HyperModel.fit`` gets it only then, as in KerasTuner).
        early_stopping: patience in epochs on ``monitor``, or None.
        reduce_lr: keyword arguments of ``keras.callbacks.ReduceLROnPlateau``, or None.
        class_weight: None, ``"balanced"`` or a dict.
        monitor: history key for early stopping and the best weights restored before scoring.
        monitor_mode: ``"min"`` or ``"max"`` for ``monitor``.
        callbacks: the caller's Keras callbacks, pickled (cloudpickle) so every trial gets
            fresh copies; in the caller's process the objects themselves, deep-copied per fit
            (as KerasTuner does); or None.
        trial_weights: ``<project>/trial_{trial_id}``: each trial saves its best weights
            there and a Hyperband trial promoted from another starts from that one's (None:
            nothing saved).
        compile_overrides: the tuner's ``optimizer`` / ``loss`` / ``metrics`` that each built
            model is compiled again with (KerasTuner's), or None.
        checkpoint_path: where the trial saves its model when it beats ``checkpoint_best``, or
            None (no model saved).
        checkpoint_best: the objective a trial's model must beat to be saved (None: any).
        fit_verbose: Keras verbosity of each fit.
        executions: fits per trial (per fold) from different seeds, averaged (KerasTuner's
            ``executions_per_trial``).
        trial_id: the trial's id, set per trial (names its TensorBoard log folder).
        shuffle: shuffle the training rows before each epoch (``model.fit``'s ``shuffle``).
    """

    objective: str
    direction: str
    task: str
    labels: list | None = None
    epochs: int = 10
    batch_size: int = 32
    early_stopping: int | None = None
    reduce_lr: dict | None = None
    class_weight: Any = None
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    callbacks: bytes | tuple | None = None
    compile_overrides: dict | None = None
    trial_weights: str | None = None
    batch_size_given: bool = True
    checkpoint_path: str | None = None
    checkpoint_best: float | None = None
    fit_verbose: int = 0
    executions: int = 1
    trial_id: str | None = None
    shuffle: bool = True

    @property
    def fit_batch_size(self) -> int | None:
        """The batch size a custom ``HyperModel.fit`` is given: ``search()``'s, or None when
        the caller gave none (KerasTuner passes on only what ``search()`` was given)."""
        return self.batch_size if self.batch_size_given else None

    def replace(self, **changes: Any) -> TrialSettings:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def fresh_callbacks(self) -> list:
        """New copies of the caller's callbacks for one fit (never shared between fits)."""
        if not self.callbacks:
            return []
        if not isinstance(self.callbacks, bytes):  # trials in the caller's process: copied as
            import copy  # KerasTuner copies them, so what they refer to is the caller's

            return [copy.deepcopy(callback) for callback in self.callbacks]
        from lib.tuning._process import cloudpickle

        return list(cloudpickle.loads(self.callbacks))


@dataclass
class EngineOptions:
    """Where and how trials run: the engine's options of a tuner (its keyword
    arguments, with their defaults in ``EngineTuner``'s signature).

    Attributes:
        workers: trial processes at once (spawned, recycled); 0 runs trials in the caller's
            process (debugging: no memory isolation).
        trials_per_worker: a worker process is replaced after this many trials (None: never).
        max_worker_memory_mb: also replace a worker whose resident memory exceeds this.
        threads: TensorFlow intra/inter-op threads per trial process (default: the cores
            divided among the workers).
        pin_cores: pin each trial process to a CPU core of its own (Linux).
        keep_models: how many of the best trials keep their trained model on disk (for
            ``get_best_models``); 0 keeps none.
        budget_seconds: no new trial starts after this many seconds of a ``search`` call.
        trial_timeout_seconds: a trial still running after this many seconds is stopped (its
            worker process killed and replaced) and recorded FAILED; None: no limit.
    """

    workers: int
    trials_per_worker: int | None
    max_worker_memory_mb: float | None
    threads: int | None
    pin_cores: bool
    keep_models: int
    budget_seconds: float | None
    trial_timeout_seconds: float | None

    def __post_init__(self) -> None:
        if int(self.workers) < 0:
            raise ValueError(f"workers must be 0 or more, got {self.workers}")
        if self.trials_per_worker is not None and int(self.trials_per_worker) < 1:
            raise ValueError(
                f"trials_per_worker must be at least 1 or None, got {self.trials_per_worker}"
            )
        for name in ("budget_seconds", "trial_timeout_seconds"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            ):
                raise ValueError(
                    f"{name} must be a positive number of seconds or None, got {value!r}"
                )
        if int(self.keep_models) < 0:
            raise ValueError(f"keep_models must be 0 or more, got {self.keep_models}")
        if self.threads is None:
            self.threads = max(1, (os.cpu_count() or 1) // max(int(self.workers), 1))


@dataclass
class SearchPlan:
    """What one ``search`` call prepared before it touches the search directory.

    Attributes:
        data: the training / validation arrays as given (:class:`lib.tuning._data.Data`).
        arrays: ``x_train``, ``y_train`` (and ``x_val``, ``y_val`` without folds) as numpy.
        splits: the folds, ``(train_idx, val_idx)`` pairs, or None.
        digest, folds_digest: fingerprints of the arrays and of the folds.
        settings: the per-trial settings.
        need_keys: whether the objective is a history key to be checked with a dry fit.
        engine_names: the objectives the engine computes itself (macro F1, ...).
    """

    data: Any
    arrays: dict
    splits: list | None
    digest: str
    folds_digest: str | None
    settings: TrialSettings
    need_keys: bool
    engine_names: Any


@dataclass
class TrialTask:
    """One trial, as sent to a worker process (or run in this one).

    Attributes:
        values: the trial's hyperparameter values.
        seed: the trial's seed.
        settings: how it is fitted and scored (``trial_id`` and the checkpoint set).
        space: the search space's config (the worker rebuilds the space once).
    """

    values: dict
    seed: int
    settings: TrialSettings
    space: dict


@dataclass
class DiscoverTask:
    """A search's first task: its space, the default model's outputs and signature, and
    (with ``history_keys``) the keys a fit reports.

    Attributes:
        settings: the search's trial settings.
        history_keys: whether to fit once to learn the history keys.
        initial_space: the caller's ``hyperparameters=`` (config), where discovery starts.
    """

    settings: TrialSettings
    history_keys: bool
    initial_space: dict | None


@dataclass
class WorkerSetup:
    """What a worker process loads once, before its first task.

    Attributes:
        hypermodel: the hypermodel, pickled (cloudpickle).
        data_dir: the folder of the saved arrays and folds.
        array_names: the arrays to memory-map.
        threads: TensorFlow threads of the process.
        pin_cores: pin the process to a core of its own.
        fingerprint: the data's and folds' fingerprints, checked after loading.
    """

    hypermodel: bytes
    data_dir: str
    array_names: list
    threads: int | None
    pin_cores: bool
    fingerprint: tuple


class Executor:
    """Where and how a search's trials run: the protocol of the executors.

    A tuner holds one as ``tuner.executor``, made by its ``_make_executor`` in the
    constructor: :class:`lib.tuning._loop.PoolExecutor` (each trial a Keras fit, in worker
    processes or in this one), :class:`lib.tuning._loop.StackedExecutor` (configurations
    trained K at a time as one model) or :class:`lib.tuning._ray.RayExecutor` (Ray Tune
    schedules the trials). ``search`` prepares the plan, asks :meth:`check`, discovers the
    space on a pool, then hands over to :meth:`run`. A new executor subclasses this one.

    Attributes:
        name: recorded in ``search.json`` (a resumed search must run on the same executor);
            None for the per-trial pool.
        in_process: the trials run in this process (no data saved for worker processes).
        concurrent: several trials run at once (the grid hands out its next points early).
        single_execution: why each configuration is trained once, so that
            ``executions_per_trial`` > 1 is refused; None when it is not.
        needs_arrays: a ``search()`` without ``x`` and ``y`` is refused instead of being run
            by KerasTuner's own loop.
        sets_threads: TensorFlow's threads in this process are set to ``threads`` for trials
            run here.
        asha: Ray's ASHA scheduler (recorded in ``search.json``), or False.
    """

    name: str | None = None
    in_process: bool = False
    concurrent: bool = False
    single_execution: str | None = None
    needs_arrays: bool = False
    sets_threads: bool = True
    asha: Any = False

    def check(self, tuner: Any, plan: SearchPlan) -> None:
        """Refuses, before the search directory is touched, what this executor cannot apply."""

    def run(self, tuner: Any, plan: SearchPlan, pool: Any, state: Any) -> None:
        """Runs the search's remaining trials (``state``: a :class:`lib.tuning._loop.Run`);
        each finished trial goes through :func:`lib.tuning._store.finish_trial`."""
        raise NotImplementedError
