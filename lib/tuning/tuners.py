"""KerasTuner's tuners, with the engine behind them.

:class:`GridSearch`, :class:`RandomSearch`, :class:`BayesianOptimization` and
:class:`Hyperband` are ``keras_tuner.Tuner`` subclasses, constructed like KerasTuner's and
searched with KerasTuner's ``search(x, y, validation_data=..., epochs=...)``; what changes is
where and how the trials run:

- every trial runs in a recycled worker process that memory-maps the data saved once, so
  memory and per-trial overhead stay flat over hundreds of trials (``workers``,
  ``trials_per_worker``, ``max_worker_memory_mb``, ``threads``, ``pin_cores``);
- each finished trial is one fsynced line of ``<directory>/<project_name>/trials.jsonl``:
  constructing the same tuner again on that directory (``overwrite=False``, the default)
  replays the finished trials into the oracle, and ``search`` runs only the missing ones,
  also after ``kill -9``;
- the objective may be any ``val_<metric>`` of :mod:`lib.evaluation` (macro F1, weighted
  F1, per-class recall, ...), scored on the best epoch's weights, and ``folds=k`` turns it
  into a k-fold mean;
- ``tuner.results`` is a tidy ``pandas.DataFrame`` of every trial.

Example::

    from lib.tuning import RandomSearch  # before keras: TensorFlow loads quietly

    import keras

    def build(hp):
        model = keras.Sequential([keras.layers.Dense(hp.Int("units", 8, 64, step=8),
                                                     activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    if __name__ == "__main__":  # workers are spawned: scripts need the guard
        tuner = RandomSearch(build, objective="val_accuracy", max_trials=10,
                             executions_per_trial=2, directory="runs", project_name="demo")
        tuner.search(x, y, epochs=5, validation_data=(x_val, y_val))
        best_model = tuner.get_best_models(num_models=1)[0]
        tuner.results_summary()
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras_tuner.src.engine.objective import DefaultObjective, MultiObjective

from lib.tuning import _data, _loop, _trial, oracles, spaces
from lib.tuning._pool import Pool
from lib.tuning._progress import SearchProgress
from lib.tuning._ray import RayExecutor
from lib.tuning._settings import (
    DiscoverTask,
    EngineOptions,
    Executor,
    SearchPlan,
    TrialSettings,
    WorkerSetup,
)
from lib.tuning._store import ModelKeeper, TrialStore, finish_trial, results_frame

# search.json keys that must match when a directory is searched again.
SPEC_KEYS = (
    "tuner",
    "objective",
    "seed",
    "task",
    "epochs",
    "batch_size",
    "early_stopping",
    "reduce_lr",
    "class_weight",
    "monitor",
    "tuner_options",
    "asha",
    "data",
    "folds",
    "space",
    "model",
    "executor",
    "onednn",
    "executions_per_trial",
    "shuffle",
)
# EngineOptions options every pool-based tuner takes (Ray takes its own).
POOL_OPTIONS = (
    "workers",
    "trials_per_worker",
    "max_worker_memory_mb",
    "threads",
    "pin_cores",
    "keep_models",
    "budget_seconds",
    "trial_timeout_seconds",
)
# Options of the stacked executor (grid and random searches of stackable hypermodels).
STACKED_OPTIONS = ("executor", "max_models", "memory_budget_mb")
_RAY_ONLY = ("ray_address", "max_concurrent_trials", "asha", "num_cpus", "searcher", "runtime_env")


class _EngineDefaultObjective(kt.Objective):
    """``val_loss``, minimised: the objective when none is given and the engine runs the
    trials; KerasTuner's own loop (see ``EngineTuner.search``) takes KerasTuner's default
    instead (the float that ``run_trial`` or ``HyperModel.fit`` returns, minimised)."""

    def __init__(self) -> None:
        super().__init__("val_loss", "min")


def _objective(objective: Any) -> kt.Objective:
    """A single ``keras_tuner.Objective``; a name gets its direction from
    :func:`lib.evaluation.metric_direction` (KerasTuner's inference for Keras metrics), and a
    name whose direction cannot be inferred is refused, as KerasTuner does."""
    if objective is None:
        return _EngineDefaultObjective()
    if isinstance(objective, kt.Objective):
        inferred = _data.metric_direction(objective.name, default="")
        if inferred and inferred != objective.direction:
            import warnings

            warnings.warn(
                f"objective {objective.name!r} is searched in direction "
                f"{objective.direction!r}, as given, though {objective.name!r} is a metric "
                f"whose values get better towards {inferred!r}",
                UserWarning,
                stacklevel=3,
            )
        return objective
    if isinstance(objective, str):
        return kt.Objective(objective, direction=_data.metric_direction(objective))
    if isinstance(objective, (list, tuple)) and objective:
        return MultiObjective([_objective(each) for each in objective])
    raise TypeError(
        f"objective must be a metric name (e.g. 'val_accuracy') or a keras_tuner.Objective, "
        f"or a list of them, got {type(objective).__name__}"
    )


def oracle_seed(seed: int) -> int:
    """The oracle's seed derived from the search seed (KerasTuner treats 0 as 'random')."""
    return spaces.trial_seed(seed, 2**31) + 1


def pickle_hypermodel(hypermodel: Any) -> bytes:
    """The hypermodel pickled for the worker processes (cloudpickle).

    Raises:
        TypeError: it cannot be pickled, naming the attribute that cannot.
    """
    from lib.tuning._process import cloudpickle

    try:
        return cloudpickle.dumps(hypermodel)
    except Exception as error:
        culprit = None
        for name, value in sorted(getattr(hypermodel, "__dict__", {}).items()):
            if getattr(value, "__self__", None) is hypermodel:
                continue  # its own bound method (KerasTuner keeps build as _build)
            try:
                cloudpickle.dumps(value)
            except Exception:
                culprit = name
                break
        where = f"its attribute {culprit!r}" if culprit else "it"
        raise TypeError(
            f"the hypermodel {type(hypermodel).__name__} cannot be sent to the worker processes: "
            f"{where} cannot be pickled ({type(error).__name__}: {error}). Create that object "
            "inside build(hp) instead of holding it, or pass workers=0 to run trials in this "
            "process"
        ) from error


class UnrecognizedArgumentsError(TypeError, ValueError):
    """An argument no tuner takes: a ``TypeError`` as Python raises for an unexpected
    keyword, and the ``ValueError`` KerasTuner raises for it."""


class EngineTuner(kt.Tuner):
    """A ``keras_tuner.Tuner`` whose trials run through the engine (base of the tuners here).

    Args:
        oracle: the oracle (one of :mod:`lib.tuning.oracles`).
        hypermodel: a ``keras_tuner.HyperModel`` or a callable ``build(hp)`` returning a
            compiled model. It is pickled (cloudpickle) to the worker processes, so it may be
            defined in a notebook. An hp named ``"resampling"`` resamples each training fold
            (``lib.resampling.resample``; validation rows never). As in KerasTuner, a
            ``HyperModel.fit`` that returns a number makes it the objective's value, and one
            that returns a dict adds those metrics (the objective may name one).
        seed: seeds the oracle, the folds and every trial (trial i from ``(seed, i)``); None
            means 0, so a run is reproducible by default.
        max_trials: trials in total, earlier runs on the directory included (None: until the
            oracle stops, e.g. the end of the grid).
        directory: parent folder of the project (default: the working directory).
        project_name: the search's folder under ``directory`` (default ``untitled_project``).
        overwrite: delete what an earlier search wrote in the project folder first; refused
            when the folder holds anything else. With False an earlier search is continued.
        task: ``"classification"`` or ``"regression"``; default from the objective's name,
            else from the targets' dtype.
        max_consecutive_failed_trials: the search stops with an error after this many failed
            trials in a row (the message carries the last traceback).
        executions_per_trial: models trained per trial (per fold), from different seeds, to
            reduce the variance of the objective (KerasTuner's): the objective is their mean,
            each scored on its own best epoch, and the model kept is the best one's.
        workers: trial processes at once (spawned, recycled); 0 runs trials in this process
            (debugging: no memory isolation). With more than one, the oracle may see results in
            another order than a sequential run. A search closes its workers when it ends;
            with the environment variable ``LIB_WORKER_IDLE_SECONDS=60`` they wait 60 s for
            the next search of this process instead, and with
            ``LIB_WORKER_START_METHOD=forkserver`` each is a fork of one process that imported
            TensorFlow once (``lib/tuning/_pool.py``).
        trials_per_worker: a worker process is replaced after this many trials (None: never).
        max_worker_memory_mb: also replace a worker whose resident memory exceeds this.
        threads: TensorFlow threads per worker (default: the cores divided among the workers).
        pin_cores: pin each worker to a CPU core of its own (Linux; cores are shared out
            through lock files, so two searches on one machine do not pin to the same core).
        keep_models: how many of the best trials keep their whole trained model
            (``models/trial-NNNNN.keras``, loadable without the hypermodel;
            ``best_model.keras`` is the best one). Every other trial keeps its best weights
            in KerasTuner's layout (``trial_<id>/checkpoint.weights.h5``), from which
            ``get_best_models`` rebuilds it. Searches with folds keep none (a k-fold trial
            has one model per fold).
        budget_seconds: no new trial starts after this many seconds of a ``search`` call.
        trial_timeout_seconds: a trial still running after this many seconds is stopped: its
            worker process is killed (and replaced) and the trial recorded FAILED with the
            reason; the search goes on. Needs worker processes (``workers>=1``).
        optimizer: compiles every built model again with this optimizer (a name or a
            ``keras.optimizers.Optimizer``, copied per model), as in KerasTuner.
        loss: likewise the loss.
        metrics: likewise the metrics (a ``val_<metric>`` objective may name one).
        executor: ``"trials"`` (each trial a Keras fit in a worker) or ``"stacked"`` (grid and
            random searches of a hypermodel with a stacked form: the configurations are
            trained K at a time as one model in this process, see
            :mod:`lib.tuning.stacked`; ``max_models`` and ``memory_budget_mb`` size K).
            The tuner then holds it as ``tuner.executor`` (a
            :class:`lib.tuning._settings.Executor`).
        oracle_options: the oracle's own options, recorded so a resumed search must match.

    Raises:
        TypeError: an option this tuner does not take (e.g. a Ray option).
    """

    TUNER = ""
    OPTIONS = POOL_OPTIONS

    def __init__(
        self,
        oracle: Any,
        hypermodel: Any = None,
        *,
        seed: int | None = None,
        max_trials: int | None = None,
        directory: Any = None,
        project_name: str | None = None,
        overwrite: bool = False,
        task: str | None = None,
        max_consecutive_failed_trials: int = 3,
        executions_per_trial: int = 1,
        oracle_options: dict | None = None,
        optimizer: Any = None,
        loss: Any = None,
        metrics: Any = None,
        workers: int = 1,
        trials_per_worker: int | None = 10,
        max_worker_memory_mb: float | None = None,
        threads: int | None = None,
        pin_cores: bool = False,
        keep_models: int = 1,
        budget_seconds: float | None = None,
        trial_timeout_seconds: float | None = None,
        executor: str = "trials",
        max_models: int | None = None,
        memory_budget_mb: float | None = None,
        **kwargs: Any,
    ):
        options = {name: value for name, value in locals().items() if name in _DEFAULTS}
        self._refuse_unknown(kwargs, options)
        # the caller's hyperparameters= (before any build adds to the oracle's space): where
        # the discovery of the space starts, on every search of this directory
        self._predefined = oracle.get_space().get_config()
        self.executions_per_trial = _executions(executions_per_trial)
        self.engine_options = EngineOptions(**{k: options[k] for k in POOL_OPTIONS})
        self.executor = self._make_executor(
            executor, {k: options[k] for k in STACKED_OPTIONS[1:] if options[k]}
        )
        if self.executions_per_trial > 1 and self.executor.single_execution:
            raise ValueError(
                f"executions_per_trial={self.executions_per_trial} does not combine with "
                f"{self.executor.single_execution}; pass executions_per_trial=1, or search "
                "without it"
            )
        if max_trials is not None and (
            isinstance(max_trials, bool)
            or not isinstance(max_trials, (int, np.integer))
            or max_trials < 1
        ):
            raise ValueError(
                f"max_trials must be a whole number of at least 1 (or None for a whole grid), "
                f"got {max_trials!r}"
            )
        self.seed = 0 if seed is None else int(seed)
        self.max_trials = max_trials
        self.task = task
        self.max_consecutive_failed_trials = max(int(max_consecutive_failed_trials), 1)
        self.oracle_options = dict(oracle_options or {})
        if hasattr(oracle, "run_ahead"):  # the grid hands out successors early only when
            # several trials run at once (set before a resume replays the stored trials)
            oracle.run_ahead = self.executor.concurrent
        folder = os.path.join(os.fspath(directory or "."), project_name or "untitled_project")
        self._store = TrialStore(folder)
        if overwrite:
            self._store.lock()
            try:
                self._store.remove_own_files()
            finally:
                self._store.unlock()
        self._records: list[dict] = []
        self._pending: list = []
        self._next_index = 0
        super().__init__(
            oracle=oracle,
            hypermodel=hypermodel,
            directory=directory,
            project_name=project_name,
            overwrite=False,
            executions_per_trial=self.executions_per_trial,  # KerasTuner keeps it too
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
        )
        if self._store.exists():
            self._refuse_other_tuner()
            self.reload()

    def _make_executor(self, name: str, stacked: dict) -> Executor:
        """The executor of ``executor=name`` (``stacked``: the stacked options given)."""
        return _loop.make_executor(name, self.engine_options, **stacked)

    def _refuse_other_tuner(self) -> None:
        """KerasTuner refuses, when it is constructed, to reload a project another kind of
        tuner wrote; so does the engine, before any trial or file."""
        stored = self._store.read_spec().get("tuner")
        if stored and stored != self.TUNER:
            raise RuntimeError(
                f"{self._store.directory} holds a {stored!r} search; this {type(self).__name__} "
                f"({self.TUNER!r}) cannot continue it. To start a new search there, pass "
                "`overwrite=True` (it deletes what that search wrote), or use another "
                "directory / project_name"
            )

    def _refuse_unknown(self, kwargs: dict, options: dict) -> None:
        """Refuses an unknown keyword, and an engine option this tuner does not apply (one
        set to other than its default: e.g. ``workers`` for Ray, ``executor`` for Bayesian)."""
        if "logger" in kwargs:  # KerasTuner's: deprecated, ignored with a warning
            import warnings

            kwargs.pop("logger")
            warnings.warn(
                "The `logger` parameter is deprecated by Keras Tuner and ignored",
                DeprecationWarning,
                stacklevel=4,
            )
        unknown = sorted(
            set(kwargs)
            | {
                name
                for name, value in options.items()
                if name not in self.OPTIONS and value != _DEFAULTS[name]
            }
        )
        if not unknown:
            return
        ray = [name for name in unknown if name in _RAY_ONLY]
        hint = (
            f" {ray} belong to lib.tuning.RayTuneSearch"
            if ray
            else f" options this tuner takes: {sorted(self.OPTIONS)}"
        )
        raise UnrecognizedArgumentsError(
            f"Unrecognized arguments {unknown} for {type(self).__name__}();{hint}"
        )

    # -- KerasTuner hooks --------------------------------------------------------------------

    def _populate_initial_space(self) -> None:
        """The space of a stored search comes from its ``search.json``; otherwise
        KerasTuner's own dry builds (the engine completes it with the data in ``search``)."""
        if self._store.exists():
            spec = self._store.read_spec()
            _set_space(self.oracle, spaces.space_from_config(spec["space"]))
        else:
            super()._populate_initial_space()

    def save(self) -> None:
        """Does nothing: every finished trial is already a line of ``trials.jsonl``."""

    def reload(self) -> None:
        """Replays the stored trials into the oracle (done by the constructor)."""
        spec = self._store.read_spec()
        self._set_tie_break(spec.get("objective"), spec.get("monitor"), None)
        self._records = self._store.load()
        self._replay(self._records)

    def _set_tie_break(self, objective: Any, monitor: Any, mode: str | None) -> None:
        """Trials that tie on the objective are ranked by the monitored metric (the
        validation loss by default) at their best epoch."""
        if not hasattr(self.oracle, "tie_break") or not monitor or monitor == objective:
            return
        try:
            mode = mode or _data.direction_of(monitor)
        except ValueError:  # a history key of unknown direction: ties stay in trial order
            return
        self.oracle.tie_break = (monitor, mode)

    def _report_tie(self, verbose: int) -> None:
        """Says when the best trials tie on the objective, and how the tie was broken."""
        best = self.oracle.get_best_trials(2)
        if len(best) < 2 or best[1].status != "COMPLETED" or best[0].score != best[1].score:
            return
        tied = [
            t
            for t in self.oracle.get_best_trials(len(self.oracle.trials))
            if t.status == "COMPLETED" and t.score == best[0].score
        ]
        name = self.oracle.objective.name
        how = "the trial order (no monitored metric to break it)"
        if getattr(self.oracle, "tie_break", None):
            monitor = self.oracle.tie_break[0]
            values = [
                t.metrics.get_last_value(monitor) if t.metrics.exists(monitor) else None
                for t in tied[:2]
            ]
            how = (
                f"{monitor} at the best epoch ({values[0]:.4g} vs {values[1]:.4g})"
                if None not in values
                else "the trial order"
            )
        message = (
            f"{len(tied)} trials tie on {name} = {best[0].score:.4g} (trials "
            f"{', '.join(str(t.trial_id) for t in tied[:6])}); the best is trial "
            f"{best[0].trial_id}, by {how}. tuner.results['rank'] shows the order"
        )
        if verbose:
            print(message)

    def _replay(self, records: list[dict]) -> None:
        self._pending, self._next_index = _loop.replay(
            self.oracle, records, self.oracle.objective.name
        )

    def load_model(self, trial: Any) -> Any:
        """The trained model of ``trial`` as kept during the search (best epoch's weights).

        Raises:
            FileNotFoundError: the trial's model was not kept, with what to do instead.
        """
        import lib.models  # noqa: F401  (registers the custom layers and losses for loading)

        number = int(trial.trial_id)
        path = os.path.join(self._store.directory, "models", f"trial-{number:05d}.keras")
        if not os.path.exists(path) and os.path.exists(
            self._get_checkpoint_fname(trial.trial_id)
        ):  # a trial of KerasTuner's loop (run_trial override): its best epoch's weights
            return super().load_model(trial)
        if os.path.exists(path):
            try:
                return keras.saving.load_model(path)
            except (TypeError, ValueError, NotImplementedError):
                # a model Keras cannot rebuild from its config (a subclassed model whose
                # get_config says nothing): build it again and load the kept weights, as
                # KerasTuner loads its checkpoints
                return self._rebuild_with_weights(trial, path)
        raise FileNotFoundError(
            f"trial {trial.trial_id}'s model was not kept ({path} does not exist): the "
            f"search keeps the best keep_models={self.engine_options.keep_models} model(s), none "
            "with folds, and Ray trials only on nodes that see the search directory. Pass "
            "keep_models=N to the tuner before searching, or "
            "rebuild it: tuner.hypermodel.build(tuner.get_best_hyperparameters()[0]) and fit"
        )

    def get_best_models(self, num_models: int = 1) -> list:
        """KerasTuner's ``get_best_models``; when trials ran but none completed, an error
        that says so (with the last trial's error) instead of an empty list.

        Raises:
            RuntimeError: every finished trial failed.
        """
        completed = [t for t in self.oracle.trials.values() if t.status == "COMPLETED"]
        if not completed and self.oracle.trials:
            errors = [r.get("error") for r in self._store.load() if r.get("error")]
            raise RuntimeError(
                f"no trial completed ({len(self.oracle.trials)} trial(s), none COMPLETED), so "
                f"there is no best model; last error: {errors[-1] if errors else 'unknown'}. "
                "See tuner.results['error'], fix the cause and search again"
            )
        return super().get_best_models(num_models)

    def _rebuild_with_weights(self, trial: Any, path: str) -> Any:
        """The trial's model built by the hypermodel, with the weights kept in ``path``."""
        import json
        import zipfile

        model = spaces.build(
            self.hypermodel,
            trial.hyperparameters,
            spaces.compile_overrides(self.optimizer, self.loss, self.metrics),
        )
        if not getattr(model, "built", True):
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
            build_config = config.get("build_config")
            if build_config:
                model.build_from_config(build_config)
        model.load_weights(path)
        return model

    # -- results -----------------------------------------------------------------------------

    @property
    def results(self) -> pd.DataFrame:
        """One row per finished trial (see :func:`lib.tuning.results_frame` for the columns)."""
        objective = self.oracle.objective.name
        records = self._store.load()
        frame = results_frame(records, space=self.oracle.get_space(), objective=objective)
        if not frame.empty:  # the order of get_best_trials: ties broken as it breaks them
            number = {
                str(r.get("trial_id")): r["trial"]
                for r in records
                if r.get("status") == "COMPLETED"
            }
            ranked = [
                t
                for t in self.oracle.get_best_trials(len(self.oracle.trials))
                if t.status == "COMPLETED" and str(t.trial_id) in number
            ]
            order = {number[str(t.trial_id)]: rank for rank, t in enumerate(ranked, start=1)}
            frame.insert(
                frame.columns.get_loc("objective") + 1,
                "rank",
                frame["trial"].map(order).astype("Int64"),
            )
        frame.attrs.update(
            {
                "objective": objective,
                "direction": self.oracle.objective.direction,
                "task": self._spec().get("task"),
                "tuner": self.TUNER,
                "directory": self._store.directory,
            }
        )
        return frame

    def _spec(self) -> dict:
        return self._store.read_spec() if self._store.exists() else {}

    # -- search ------------------------------------------------------------------------------

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> pd.DataFrame:
        """Runs the search's remaining trials (KerasTuner's ``search(*fit_args, **fit_kwargs)``).

        With arrays ``search(x, y, validation_data=..., epochs=...)`` the engine runs the trials
        (worker processes, resume, engine objectives; arguments in :meth:`search_arrays`).
        Callbacks of the caller's own classes (a ``keras.callbacks.Callback`` subclass that
        records something) make that search run its trials in this process, each fit with
        its own deep copy, as in KerasTuner, so what they record reaches the caller; Keras'
        own callbacks travel to the workers.

        KerasTuner's own search loop runs the trials in this process instead, with every
        argument passed on to ``run_trial`` / ``HyperModel.fit`` as given, when the search
        needs the caller's objects or has no arrays for the engine: a tuner subclass that
        overrides ``run_trial`` (KerasTuner's "tune anything" pattern), a ``search()``
        without ``x`` and ``y`` (a ``HyperModel.fit`` that loads or makes its own data and
        returns a score), or a list of objectives (KerasTuner's multi-objective score).
        Each finished trial is still a line of ``trials.jsonl`` (resume,
        ``tuner.results``), and ``get_best_models`` loads KerasTuner's per-trial checkpoints.

        Returns:
            ``tuner.results``: the trial table.
        """
        if self._runs_keras_tuner_loop(fit_args, fit_kwargs):
            return self._search_keras_tuner_loop(*fit_args, **fit_kwargs)
        return self.search_arrays(*fit_args, **fit_kwargs)

    def _runs_keras_tuner_loop(self, fit_args: tuple, fit_kwargs: dict) -> bool:
        """True when the search runs KerasTuner's loop in this process (see :meth:`search`)."""
        if type(self).run_trial not in (kt.Tuner.run_trial, Hyperband.run_trial) or isinstance(
            self.oracle.objective, MultiObjective
        ):
            return True
        x = fit_args[0] if fit_args else fit_kwargs.get("x")
        y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
        no_arrays = x is None and y is None and "validation_data" not in fit_kwargs
        # without arrays the engine has nothing to share with its workers: KerasTuner's loop
        # passes on what was given (a HyperModel.fit that makes or loads its data; otherwise
        # model.fit fails each trial, as in KerasTuner)
        return (no_arrays and not self.executor.needs_arrays) or len(fit_args) > 2

    def _search_keras_tuner_loop(self, *fit_args: Any, **fit_kwargs: Any) -> pd.DataFrame:
        """KerasTuner's ``BaseTuner.search`` in this process, trials stored as the engine's."""
        if isinstance(self.oracle.objective, _EngineDefaultObjective) and not self._records:
            self.oracle.objective = DefaultObjective()  # KerasTuner's: a returned float, min
        self._store.lock()
        try:
            spec = {
                "tuner": self.TUNER,
                "executor": "keras_tuner_loop",
                "objective": self.oracle.objective.name,
                "seed": self.seed,
                "space": _as_json(self.oracle.get_space().get_config()),
            }
            if self._store.exists():
                old = self._store.read_spec()
                if old.get("executor") != "keras_tuner_loop":
                    raise ValueError(
                        f"{self._store.directory} holds a search whose trials the engine ran "
                        "on arrays; this search runs KerasTuner's loop in process (run_trial "
                        "override, or no x and y). Use another directory / project_name, or "
                        "overwrite=True"
                    )
                spec["space"] = old.get("space", spec["space"])
            else:
                self._store.write_spec(spec)
            self._loop_space = spec["space"]
            self._in_keras_tuner_loop = True
            kt.Tuner.search(self, *fit_args, **fit_kwargs)
        finally:
            self._in_keras_tuner_loop = False
            self._store.unlock()
        return self.results

    def on_trial_begin(self, trial: Any) -> None:
        self._trial_began = __import__("time").perf_counter()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Any) -> None:
        """KerasTuner's ``on_trial_end``; in its loop, the trial is also stored as a line of
        ``trials.jsonl``."""
        super().on_trial_end(trial)
        if getattr(self, "_in_keras_tuner_loop", False):
            self._store_loop_trial(self.oracle.get_trial(trial.trial_id))

    def _store_loop_trial(self, trial: Any) -> None:
        import math
        import time

        wall = time.perf_counter() - getattr(self, "_trial_began", time.perf_counter())
        record = {
            "trial": len(self._records),
            "trial_id": trial.trial_id,
            "hyperparameters": dict(trial.hyperparameters.values),
            "seed": None,
            "status": str(trial.status),
            "wall_seconds": wall,
            "seconds": wall,
        }
        if trial.status == "COMPLETED" and trial.score is not None:
            record["objective"] = float(trial.score)
            for name in trial.metrics.metrics:
                value = trial.metrics.get_best_value(name)
                if value is not None:
                    record[name] = float(value)
            record["best_epoch"] = trial.best_step
        else:
            record["status"] = "FAILED"
            record["objective"] = math.nan
            record["error"] = trial.message
        grown = spaces.new_hyperparameters(trial.hyperparameters, self._loop_space)
        if grown is not None:
            record["new_hyperparameters"] = grown
        finish_trial(_as_json(record), store=self._store, records=self._records)

    def search_arrays(
        self,
        x: Any = None,
        y: Any = None,
        *,
        validation_data: tuple | None = None,
        epochs: int = 10,
        batch_size: int | None = None,
        callbacks: list | None = None,
        class_weight: Any = None,
        folds: Any = None,
        groups: Any = None,
        early_stopping: int | None = None,
        reduce_lr: dict | None = None,
        monitor: str | None = None,
        allow_nonfinite: bool = False,
        verbose: int = 1,
        validation_split: float = 0.0,
        shuffle: bool = True,
        **fit_kwargs: Any,
    ) -> pd.DataFrame:
        """Runs the search's remaining trials (KerasTuner's ``search`` signature).

        Args:
            x: training inputs (with ``folds``: all rows the folds are drawn from).
            y: training targets (integer class ids, or real values).
            validation_data: ``(x_val, y_val)``; or None with ``folds`` or ``validation_split``.
            epochs: maximum epochs per trial (Hyperband: its own ``max_epochs``).
            batch_size: when the space holds no ``batch_size`` hyperparameter (None: 32). A
                custom ``HyperModel.fit`` is given it only when passed here, as in
                KerasTuner, so it may tune its own (``hp.Choice("batch_size", ...)``).
            callbacks: Keras callbacks; every trial gets fresh copies.
            class_weight: None, ``"balanced"`` (from each training fold) or a dict.
            folds: None, an int k (stratified k-fold, grouped by ``groups``, shuffled with the
                seed) or a list of ``(train_idx, val_idx)``; the objective is the fold mean.
            groups: group of every training row (subject, record) for grouped folds.
            early_stopping: patience in epochs on ``monitor``, or None.
            reduce_lr: ``keras.callbacks.ReduceLROnPlateau`` keyword arguments, or None.
            monitor: history key for early stopping and the best weights restored before
                scoring (default: the objective if it is a history key, else ``val_loss``).
                Trials that tie on the objective are ranked by it (at their best epoch):
                the search says so, and ``tuner.results["rank"]`` shows the order.
            allow_nonfinite: accept NaN / infinity in the inputs (a model that masks them).
            verbose: 0 silent, 1 a progress bar, 2 also one line per trial.
            validation_split: as in ``model.fit``: this fraction of the rows, the last ones
                (not shuffled: for time series, the latest), is the validation set of every
                trial, instead of ``validation_data`` or ``folds``. Rows that miss a training
                class are warned about; for a stratified hold-out split first with
                ``sklearn.model_selection.train_test_split(x, y, stratify=y)``.
            shuffle: as in ``model.fit``: False keeps the training rows in order in every
                epoch (stored with the search: a resumed search must shuffle alike).

        Returns:
            ``tuner.results``: the trial table.

        Raises:
            TypeError: a ``model.fit`` argument the engine does not forward.
            ValueError: inputs that would train on garbage, an objective the model does not
                report, or a directory holding a different search.
            DirectoryInUseError: another search runs on the directory.
        """
        _refuse_unsupported(fit_kwargs, x, validation_data)
        # Callbacks of the caller's own classes act on the caller's objects (a list they fill,
        # a counter): their trials run in this process, as in KerasTuner. Keras' own
        # callbacks (EarlyStopping, TensorBoard, ...) travel to the worker processes.
        self._callbacks_of_caller = _callbacks_of_caller(callbacks)
        if validation_split:
            x, y, validation_data = _split_off_validation(
                x, y, validation_split, validation_data=validation_data, folds=folds
            )
        data = self._data(x, y, validation_data, groups)
        _data.check_inputs(data, epochs=epochs, allow_nonfinite=allow_nonfinite)
        _check_batch_size(batch_size)
        plan = self._plan(
            data,
            folds=folds,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            class_weight=class_weight,
            early_stopping=early_stopping,
            reduce_lr=reduce_lr,
            monitor=monitor,
            shuffle=shuffle,
        )
        self._before_search(
            data, plan, class_weight=class_weight, validation_split=bool(validation_split)
        )
        self._set_tie_break(
            plan.settings.objective, plan.settings.monitor, plan.settings.monitor_mode
        )
        self._store.lock()
        try:
            self._search(plan, verbose=verbose)
        finally:
            self._store.unlock()
        self._report_tie(verbose)
        return self.results

    def _before_search(
        self, data: _data.Data, plan: SearchPlan, *, class_weight: Any, validation_split: bool
    ) -> None:
        """What ``search`` does once its plan is made, before the directory is touched: refuses
        classes missing from the labels and a misspelt ``class_weight``, lets a hypermodel
        take its shape / classes from the data (``adapt_to_data``), then refuses a search the
        stacked executor cannot run, stale trials and a time limit on in-process trials."""
        if plan.settings.task == "classification":
            _data.check_classes(data, validation_split=validation_split)
            if class_weight is not None:  # 'balancd' refused now, not in every trial
                _trial.class_weights(_data._class_ids(data.y_train), class_weight)
        adapt = getattr(self.hypermodel, "adapt_to_data", None)
        if callable(adapt):  # a hypermodel that takes its input shape / classes from the data
            adapt(np.asarray(data.x_train), np.asarray(data.y_train))
        self.executor.check(self, plan)
        self._refuse_stale_trials()
        timeout = self.engine_options.trial_timeout_seconds
        if timeout is not None and self._in_process():
            raise ValueError(
                f"trial_timeout_seconds={timeout} needs trials in "
                "worker processes (a trial in this process cannot be stopped); this search runs "
                "them here (workers=0, executor='stacked' or callbacks of your own classes). "
                "Drop trial_timeout_seconds or run with workers>=1 and Keras' own callbacks"
            )

    def _refuse_stale_trials(self) -> None:
        """Refuses a directory that holds trials without the ``search.json`` they belong to
        (deleted by hand): a new search would append to trials of other data."""
        store = self._store
        if (
            not store.exists()
            and os.path.exists(store.trials_path)
            and os.path.getsize(store.trials_path)
        ):
            raise ValueError(
                f"{store.trials_path} holds trials but {store.spec_path} is missing, so they "
                "cannot be matched to this search's data and space; nothing was changed. "
                "Restore search.json, pass overwrite=True to start afresh, or use another "
                "directory / project_name"
            )

    @staticmethod
    def _data(x: Any, y: Any, validation_data: Any, groups: Any) -> _data.Data:
        if x is None or y is None:
            raise TypeError("search() needs the training data: tuner.search(x, y, ...)")
        x_val = y_val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be a pair (x_val, y_val); sample weights are not "
                    "supported"
                )
            x_val, y_val = validation_data
        return _data.Data(x, y, x_val, y_val, groups)

    def _plan(
        self,
        data: _data.Data,
        *,
        folds: Any,
        epochs: int,
        batch_size: int,
        callbacks: Any,
        class_weight: Any,
        early_stopping: Any,
        reduce_lr: Any,
        monitor: Any,
        shuffle: bool = True,
    ) -> SearchPlan:
        """Everything a search call needs before it touches the directory."""
        objective = self.oracle.objective.name
        task = _data.infer_task(objective, data.y_train, self.task)
        labels = _data.class_labels(data.y_train) if task == "classification" else None
        engine_names = _data.engine_metric_names(task, labels)
        monitor = monitor or ("val_loss" if objective in engine_names else objective)
        splits = _data.make_splits(data, folds, task=task, seed=self.seed)
        arrays = {"x_train": np.asarray(data.x_train), "y_train": np.asarray(data.y_train)}
        if splits is None:
            arrays["x_val"], arrays["y_val"] = np.asarray(data.x_val), np.asarray(data.y_val)
        digest, folds_digest = _data.fingerprint(arrays, splits)
        blob = None
        if callbacks and self._in_process():  # the caller's objects, copied per fit
            blob = _deep_copyable(callbacks)
        elif callbacks:
            from lib.tuning._process import cloudpickle

            blob = cloudpickle.dumps(list(callbacks))
        settings = TrialSettings(
            objective=objective,
            direction=self.oracle.objective.direction,
            task=task,
            labels=labels,
            epochs=int(self._epochs(epochs)),
            batch_size=int(batch_size) if batch_size is not None else 32,
            batch_size_given=batch_size is not None,
            early_stopping=early_stopping,
            reduce_lr=dict(reduce_lr) if reduce_lr else None,
            class_weight=class_weight,
            monitor=monitor,
            monitor_mode=self.oracle.objective.direction
            if monitor == objective
            else _data.direction_of(monitor),
            callbacks=blob,
            executions=self.executions_per_trial,
            shuffle=bool(shuffle),
            compile_overrides=spaces.compile_overrides(self.optimizer, self.loss, self.metrics),
            trial_weights=self._trial_weights(),
        )
        return SearchPlan(
            data=data,
            arrays=arrays,
            splits=splits,
            digest=digest,
            folds_digest=folds_digest,
            settings=settings,
            need_keys=objective not in engine_names,
            engine_names=engine_names,
        )

    def _epochs(self, epochs: int) -> int:
        return epochs

    def _trial_weights(self) -> str | None:
        """Where each trial saves its best weights, in KerasTuner's layout
        (``trial_<id>/checkpoint.weights.h5``, the best execution's with
        ``executions_per_trial``; none with folds): ``get_best_models(n)`` loads any trial's
        model, as in KerasTuner, beyond the ``keep_models`` kept whole."""
        return os.path.join(self._store.directory, "trial_{trial_id}")

    def _search(self, plan: SearchPlan, *, verbose: int) -> None:
        self._check_data_unchanged(plan)
        self._store.repair()
        ModelKeeper(self._store.directory, 0, "max").clear_partial()
        in_process = self._in_process()
        if not in_process:
            self._store.save_data(
                plan.arrays, plan.splits, {"data": plan.digest, "folds": plan.folds_digest}
            )
        pool = self._make_pool(plan, in_process)
        try:
            space = self._discover(pool, plan, start_all=not in_process)
            self._execute(pool, plan, space, verbose=verbose)
        finally:
            pool.close()

    def _in_process(self) -> bool:
        return self.executor.in_process or getattr(self, "_callbacks_of_caller", False)

    def _check_data_unchanged(self, plan: SearchPlan) -> None:
        spec = self._spec()
        if not spec:
            return
        differing = [
            k
            for k, new in (("data", plan.digest), ("folds", plan.folds_digest))
            if _as_json(spec.get(k)) != _as_json(new)
        ]
        if differing:
            raise ValueError(
                f"{self._store.directory} holds a search on other data (differs in: "
                f"{differing}); nothing was changed. Pass the same data, use another "
                "directory / project_name, or overwrite=True"
            )

    def _make_pool(self, plan: SearchPlan, in_process: bool) -> Pool:
        options = self.engine_options
        setup = None
        if not in_process:
            setup = WorkerSetup(
                hypermodel=pickle_hypermodel(self.hypermodel),
                data_dir=self._store.data_dir,
                array_names=sorted(plan.arrays),
                threads=options.threads,
                pin_cores=bool(options.pin_cores),
                fingerprint=(plan.digest, plan.folds_digest),
            )
        return Pool(
            workers=max(int(options.workers), 1) if not in_process else 1,
            trials_per_worker=options.trials_per_worker,
            max_worker_memory_mb=options.max_worker_memory_mb,
            setup=setup,
            in_process=(
                self.hypermodel,
                plan.arrays,
                plan.splits,
                options.threads if self.executor.sets_threads else None,
            )
            if in_process
            else None,
        )

    def _discover(self, pool: Pool, plan: SearchPlan, *, start_all: bool) -> Any:
        """The full space (with the data: hyperparameters declared in ``fit`` too), checked
        against the objective, the labels and a stored search."""
        if start_all:  # the other workers import TensorFlow while the first discovers
            for index in range(min(pool.size, self.max_trials or pool.size)):
                pool.slot(index)
        pool.slot(0).submit(
            DiscoverTask(
                settings=plan.settings, history_keys=plan.need_keys, initial_space=self._predefined
            )
        )
        found = pool.slot(0).receive()
        pool.slot(0).tasks_done -= 1  # discovery does not count towards trials_per_worker
        if found["status"] != "OK":
            _raise_from(found, "discovering the search space failed")
        space = spaces.space_from_config(found["space"])
        if not space.space:
            raise ValueError(
                "the hypermodel declares no hyperparameters (empty search space); use hp.Choice"
                "/hp.Int/hp.Float in build(hp), or train the model directly with fit_final"
            )
        objective = plan.settings.objective
        if plan.need_keys and objective not in found["history_keys"]:
            available = sorted(set(plan.engine_names) | set(found["history_keys"]))
            raise ValueError(
                f"objective {objective!r} is not reported by the model; available objectives: "
                f"{available}. Pick one of these or add the metric to the model's compile()"
            )
        if plan.settings.task == "classification":
            _data.check_labels(plan.data, found["model"].get("outputs"))
        if found["model"].get("row_error"):
            raise ValueError(found["model"]["row_error"])
        self._check_spec(plan, found)
        if not self._records and not self._pending:
            if self.oracle.tune_new_entries and self.oracle.allow_new_entries:
                _set_space(self.oracle, space)
            else:  # KerasTuner's rules for entries beyond a predefined space: refused
                self.oracle.update_space(space)  # (allow_new_entries=False) or kept at
                # their defaults (tune_new_entries=False)
        return space

    def _check_spec(self, plan: SearchPlan, found: dict) -> None:
        settings = plan.settings
        spec = {
            "tuner": self.TUNER,
            "objective": settings.objective,
            "seed": self.seed,
            "task": settings.task,
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "early_stopping": settings.early_stopping,
            "reduce_lr": settings.reduce_lr,
            "class_weight": settings.class_weight,
            "monitor": settings.monitor,
            "tuner_options": self.oracle_options,
            "asha": self.executor.asha,
            "data": plan.digest,
            "folds": plan.folds_digest,
            "space": found["space"],
            "model": found["model"].get("signature"),
            "executor": self.executor.name,
            "executions_per_trial": self.executions_per_trial
            if self.executions_per_trial != 1
            else None,  # searches stored before it: None
            "shuffle": None if settings.shuffle else False,  # likewise
            # TensorFlow's oneDNN kernels round differently: trials run with and without them
            # differ at high learning rates, so a resumed search must run as it started
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        }
        spec = _as_json(spec)
        if self._store.exists():
            old = self._store.read_spec()
            differing = [k for k in SPEC_KEYS if old.get(k) != spec.get(k)]
            if differing:
                what = (
                    "search space"
                    if "space" in differing
                    else ("model" if differing == ["model"] else "search")
                )
                raise ValueError(
                    f"{self._store.directory} holds a different {what} (differs in: "
                    f"{differing}); use another directory / project_name, the same "
                    "arguments, or overwrite=True"
                )
        else:
            self._store.write_spec(spec)

    def _execute(self, pool: Pool, plan: SearchPlan, space: Any, *, verbose: int) -> None:
        settings = plan.settings
        keeper = None
        if plan.splits is None and self.engine_options.keep_models > 0:
            keeper = ModelKeeper(
                self._store.directory,
                self.engine_options.keep_models,
                settings.direction,
                getattr(self.oracle, "tie_break", None),
            )
        state = _loop.Run(
            oracle=self.oracle,
            store=self._store,
            keeper=keeper,
            settings=settings,
            engine_options=self.engine_options,
            space_config=space.get_config(),
            seed=self.seed,
            max_trials=self.max_trials,
            max_failures=self.max_consecutive_failed_trials,
            progress=self._progress(space, settings, verbose),
            records=self._records,
            pending=self._pending,
            next_index=self._next_index,
        )
        try:
            self.executor.run(self, plan, pool, state)
        finally:
            state.progress.close()
            self._pending = state.pending + [(n, t) for n, t, _ in state.running.values()]
            self._next_index = state.next_index

    def _progress(self, space: Any, settings: TrialSettings, verbose: int) -> SearchProgress:
        total = self.max_trials if self.max_trials is not None else self._space_total(space)
        best = None
        for record in self._records:
            if record.get("status") == "COMPLETED" and oracles.better(
                record.get("objective"), best, settings.direction
            ):
                best = float(record["objective"])
        return SearchProgress(
            total=total,
            done=len(self._records),
            objective=settings.objective,
            direction=settings.direction,
            best=best,
            verbose=verbose,
        )

    def _space_total(self, space: Any) -> int | None:
        return None


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a whole number of at least 1, got {batch_size!r}; pass e.g. "
            "batch_size=32, or None for the default (32, or the space's 'batch_size')"
        )


def _refuse_unsupported(fit_kwargs: dict, x: Any, validation_data: Any) -> None:
    """Refuses ``model.fit`` arguments ``search`` does not forward, and streamed inputs."""
    if fit_kwargs:
        raise TypeError(
            f"search() got unsupported argument(s) {sorted(fit_kwargs)}; it takes x, y, "
            "validation_data, validation_split, epochs, batch_size, shuffle, callbacks, "
            "class_weight, folds, groups, early_stopping, reduce_lr, monitor, "
            "allow_nonfinite and verbose"
        )
    for name, value in (("x", x), ("validation_data", validation_data)):
        _refuse_streamed(name, value)


def _refuse_streamed(name: str, value: Any) -> None:
    """Refuses a ``tf.data.Dataset``, ``keras.utils.PyDataset`` or generator, which
    ``model.fit`` takes but the engine cannot share with its worker processes."""
    import inspect

    kind = None
    if hasattr(value, "element_spec") and hasattr(value, "as_numpy_iterator"):
        kind = "a tf.data.Dataset"
    elif isinstance(value, keras.utils.PyDataset):
        kind = "a keras.utils.PyDataset"
    elif inspect.isgenerator(value) or (
        hasattr(value, "__next__") and not isinstance(value, (np.ndarray, list, tuple))
    ):
        kind = "a generator"
    if kind is not None:
        raise TypeError(
            f"{name} is {kind}; the engine saves the training and validation arrays once and "
            "memory-maps them in every trial's process, so it takes arrays: x, y (and "
            "validation_data=(x_val, y_val)) as numpy arrays. For a finite tf.data.Dataset of "
            "(x, y) batches: x, y = (np.concatenate(part) for part in "
            "zip(*dataset.as_numpy_iterator())); batch_size= and a 'batch_size' hyperparameter "
            "set the batches"
        )


def _split_off_validation(
    x: Any,
    y: Any,
    fraction: Any,
    *,
    validation_data: Any,
    folds: Any,
) -> tuple[Any, Any, tuple]:
    """``(x_train, y_train, (x_val, y_val))`` with the last ``fraction`` of the rows as the
    validation set, the way ``keras.Model.fit(validation_split=...)`` cuts them."""
    import math

    if validation_data is not None or folds is not None:
        given = "validation_data" if validation_data is not None else "folds"
        raise ValueError(
            f"validation_split={fraction} and {given} both choose the validation rows; pass "
            "one of them"
        )
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not (0.0 < fraction < 1.0)
    ):
        raise ValueError(f"validation_split must be a fraction in (0, 1), got {fraction!r}")
    if x is None or y is None:
        raise TypeError("search() needs the training data: tuner.search(x, y, ...)")
    rows = len(y)
    split_at = int(math.ceil(rows * (1.0 - fraction)))  # Keras' own rounding
    if not 0 < split_at < rows:
        raise ValueError(
            f"validation_split={fraction} of {rows} rows leaves "
            f"{'no validation' if split_at >= rows else 'no training'} rows; give more rows "
            "or another fraction"
        )
    return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])


def _callbacks_of_caller(callbacks: Any) -> bool:
    """Whether any callback is of a class outside Keras (its top-level package is not
    ``keras``): the caller's own, whose side effects must reach the caller."""
    return any(
        type(callback).__module__.split(".")[0] not in ("keras", "tf_keras")
        for callback in callbacks or ()
    )


def _set_space(oracle: Any, space: Any) -> None:
    """Gives the oracle the discovered space: replaced in the engine's oracles, merged by
    KerasTuner's own ``update_space`` in an oracle the caller brought (:class:`Tuner`)."""
    if isinstance(oracle, oracles._StoreBackedOracle):
        oracle.set_space(space)
    else:
        oracle.update_space(space)


def _deep_copyable(callbacks: Any) -> tuple:
    """The caller's callbacks, checked to be deep-copyable (each fit gets its own copies,
    as in KerasTuner), with KerasTuner's message otherwise."""
    import copy

    try:
        copy.deepcopy(list(callbacks))
    except Exception as error:
        raise ValueError(
            "All callbacks used during a search should be deep-copyable (since they are "
            f"reused across trials). It is not possible to do `copy.deepcopy({callbacks})`"
        ) from error
    return tuple(callbacks)


def _executions(value: Any) -> int:
    """``executions_per_trial`` checked: a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"executions_per_trial must be a whole number of at least 1, got {value!r}"
        )
    return int(value)


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, numpy scalars numbers)."""
    import json

    from lib.tuning._store import _jsonable

    return json.loads(json.dumps(_jsonable(value), sort_keys=True))


def _raise_from(result: dict, what: str) -> None:
    error = result.get("exception")
    if isinstance(error, (ValueError, TypeError)):
        raise type(error)(f"{error}\n(worker traceback follows)\n{result.get('traceback', '')}")
    raise RuntimeError(f"{what}: {result.get('error')}\n{result.get('traceback', '')}")


def _oracle_kwargs(arguments: dict) -> dict:
    """KerasTuner's oracle arguments from a tuner constructor's own (its ``locals()``)."""
    seed = arguments["seed"]
    kwargs = {
        "max_retries_per_trial": int(arguments.get("max_retries_per_trial", 0)),
        "objective": _objective(arguments["objective"]),
        "seed": oracle_seed(0 if seed is None else int(seed)),
        "hyperparameters": arguments.get("hyperparameters"),
        "tune_new_entries": arguments.get("tune_new_entries", True),
        "allow_new_entries": arguments.get("allow_new_entries", True),
        "max_consecutive_failed_trials": 2**31,  # counted by the engine (with the traceback)
    }
    if "max_trials" in arguments:  # Hyperband's oracle takes none
        kwargs["max_trials"] = arguments["max_trials"]
    return kwargs


# The defaults of the engine options: an option a tuner does not take must keep its default.
_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(EngineTuner.__init__).parameters.items()
    if name in POOL_OPTIONS + STACKED_OPTIONS
}


class Tuner(EngineTuner):
    """KerasTuner's ``Tuner`` with an oracle of the caller's choosing, for a subclass that
    brings its own (``keras_tuner.oracles.BayesianOptimizationOracle(...)``), as KerasTuner's
    custom-tuner guide writes it; its searches run as :class:`EngineTuner`'s (a ``run_trial``
    override runs KerasTuner's loop in this process). A KerasTuner oracle keeps its own
    ``oracle.json`` and ``trial_<id>/trial.json`` beside ``trials.jsonl``.

    Args:
        oracle: a ``keras_tuner.Oracle`` (its ``objective`` and ``max_trials`` are the search's).
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``; may be None when
            ``run_trial`` is overridden.
        **kwargs: see :class:`EngineTuner`.
    """

    TUNER = "tuner"

    def __init__(self, oracle: Any, hypermodel: Any = None, **kwargs: Any):
        super().__init__(
            oracle, hypermodel, max_trials=getattr(oracle, "max_trials", None), **kwargs
        )


class GridSearch(EngineTuner):
    """Every combination of the space, in KerasTuner's order (``keras_tuner.GridSearch``).

    ``max_trials=None`` runs the whole grid. With several workers the next points are handed
    out before the running trials finish (:class:`lib.tuning.oracles.GridSearchOracle`).
    Other keyword arguments: see :class:`EngineTuner`.
    """

    TUNER = "grid"
    OPTIONS = POOL_OPTIONS + STACKED_OPTIONS

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int | None = None,
        seed: int | None = None,
        hyperparameters: Any = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_consecutive_failed_trials: int = 3,
        max_retries_per_trial: int = 0,
        **kwargs: Any,
    ):
        oracle = oracles.GridSearchOracle(**_oracle_kwargs(locals()))
        super().__init__(
            oracle,
            hypermodel,
            seed=seed,
            max_trials=max_trials,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **kwargs,
        )

    def _space_total(self, space: Any) -> int | None:
        from lib.tuning.spaces import space_size

        return space_size(space)


class RandomSearch(EngineTuner):
    """Random draws from the space (``keras_tuner.RandomSearch``); see :class:`EngineTuner`."""

    TUNER = "random"
    OPTIONS = POOL_OPTIONS + STACKED_OPTIONS

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        seed: int | None = None,
        hyperparameters: Any = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_consecutive_failed_trials: int = 3,
        max_retries_per_trial: int = 0,
        **kwargs: Any,
    ):
        oracle = oracles.RandomSearchOracle(**_oracle_kwargs(locals()))
        super().__init__(
            oracle,
            hypermodel,
            seed=seed,
            max_trials=max_trials,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **kwargs,
        )


class BayesianOptimization(EngineTuner):
    """Gaussian-process Bayesian optimisation (``keras_tuner.BayesianOptimization``).

    ``num_initial_points``, ``alpha`` and ``beta`` are KerasTuner's; see :class:`EngineTuner`
    for the rest.
    """

    TUNER = "bayesian"

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        num_initial_points: int | None = None,
        alpha: float = 1e-4,
        beta: float = 2.6,
        seed: int | None = None,
        hyperparameters: Any = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_consecutive_failed_trials: int = 3,
        max_retries_per_trial: int = 0,
        **kwargs: Any,
    ):
        options = {"num_initial_points": num_initial_points, "alpha": alpha, "beta": beta}
        oracle = oracles.BayesianOptimizationOracle(**_oracle_kwargs(locals()), **options)
        super().__init__(
            oracle,
            hypermodel,
            seed=seed,
            max_trials=max_trials,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            oracle_options=options,
            **kwargs,
        )


class Hyperband(EngineTuner):
    """Hyperband (``keras_tuner.Hyperband``): ``max_epochs``, ``factor`` and
    ``hyperband_iterations`` are KerasTuner's; ``search(epochs=...)`` is ignored. A trial
    trains to its ``tuner/epochs``; one that Hyperband promotes from an earlier round starts
    from that trial's best weights at epoch ``tuner/initial_epoch``, as in KerasTuner (each
    trial keeps them in ``trial_<id>/``). See :class:`EngineTuner` for the rest."""

    TUNER = "hyperband"

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        hyperparameters: Any = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_consecutive_failed_trials: int = 3,
        max_retries_per_trial: int = 0,
        **kwargs: Any,
    ):
        for name, value, least in (
            ("max_epochs", max_epochs, 1),
            ("factor", factor, 2),
            ("hyperband_iterations", hyperband_iterations, 1),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or (value < least)
            ):
                raise ValueError(
                    f"Hyperband's {name} must be a whole number of at least {least}, got {value!r}"
                )
        options = {
            "max_epochs": int(max_epochs),
            "factor": int(factor),
            "hyperband_iterations": int(hyperband_iterations),
        }
        oracle = oracles.HyperbandOracle(**_oracle_kwargs(locals()), **options)
        super().__init__(
            oracle,
            hypermodel,
            seed=seed,
            max_trials=None,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            oracle_options=options,
            **kwargs,
        )

    def _epochs(self, epochs: int) -> int:
        return self.oracle_options["max_epochs"]

    # KerasTuner's Hyperband, for its own loop (a run_trial override) and direct calls
    def run_trial(self, trial: Any, *fit_args: Any, **fit_kwargs: Any) -> Any:
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:
            fit_kwargs["epochs"] = hp.values["tuner/epochs"]
            fit_kwargs["initial_epoch"] = hp.values["tuner/initial_epoch"]
        return super().run_trial(trial, *fit_args, **fit_kwargs)

    def _build_hypermodel(self, hp: Any) -> Any:
        model = super()._build_hypermodel(hp)
        if "tuner/trial_id" in hp.values:
            _trial.load_trial_weights(
                model, self._get_checkpoint_fname(hp.values["tuner/trial_id"])
            )
        return model

    def _space_total(self, space: Any) -> int | None:
        """Trials of the whole schedule: KerasTuner's brackets and rounds, per iteration
        (fewer when the space runs out of new values); None if the oracle's schedule
        methods are not there."""
        oracle = self.oracle
        try:
            brackets = oracle._get_num_brackets()
            rounds = sum(oracle._get_size(b, r) for b in range(brackets) for r in range(b + 1))
        except AttributeError:
            return None
        return rounds * int(oracle.hyperband_iterations)


SEARCHERS = ("hyperopt", "random")


class RayTuneSearch(EngineTuner):
    """A search whose trials Ray Tune schedules: HyperOpt TPE or random, optionally ASHA.

    KerasTuner hyperparameters are translated into a Ray space (Choice -> ``tune.choice``,
    Int -> ``tune.qrandint`` / ``lograndint``, Float -> ``tune.uniform`` / ``quniform`` /
    ``loguniform``, Boolean -> a choice of False / True, Fixed -> the constant); conditional
    ones are flattened (each gets a value; the ones a build does not reach are ignored). Each
    trial uses one CPU and one TensorFlow thread. By default a local Ray is started for the
    search (``num_cpus`` or ``max_concurrent_trials`` CPUs, its workers at the caller's
    priority) and shut down afterwards; ``ray_address`` joins a running cluster instead::

        # on the head node:  ray start --head --port=6379
        tuner = RayTuneSearch(build, objective="val_accuracy", max_trials=64,
                              max_concurrent_trials=8, ray_address="auto")
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)

    Every node needs this package importable (install it there, or pass
    ``runtime_env={"py_modules": [lib]}``). Finished trials are appended to ``trials.jsonl``
    as they complete and a resumed search does not rerun them. ``searcher="random"`` draws
    its configurations from a seeded generator up front, so a resumed run goes on exactly
    where it stopped; ``"hyperopt"`` restarts TPE (seeded from the seed and the number of
    finished trials) without the earlier results (Ray's HyperOpt searcher cannot be given
    points evaluated elsewhere). Trials finish concurrently, so their order is not
    reproducible; each trial's seed comes from the search seed and its values. As with the
    other tuners the best ``keep_models`` trials keep their model for ``get_best_models``
    (each trial saves it in the search directory; on a cluster only trials on nodes that see
    that directory, e.g. a shared file system, can).

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or a callable ``build(hp)``.
        objective: the objective's name or a ``keras_tuner.Objective``.
        max_trials: trials in total (earlier runs on the directory included).
        searcher: ``"hyperopt"`` (TPE) or ``"random"``.
        asha: True (or a dict of ``ASHAScheduler`` options) stops poor trials early.
        max_concurrent_trials: trials at once (one CPU each).
        ray_address: None starts a local Ray; ``"auto"`` or ``"ray://host:10001"`` joins a
            running cluster.
        num_cpus: CPUs of the local Ray (default ``max_concurrent_trials``).
        runtime_env: Ray runtime environment for the trials (e.g. ``py_modules``).
        searcher_options: keyword arguments of the Ray searcher (e.g.
            ``points_to_evaluate`` for ``"random"``, ``n_initial_points`` for HyperOpt).
        seed, directory, project_name, overwrite, task, max_consecutive_failed_trials,
            executions_per_trial: as for :class:`~lib.tuning.tuners.EngineTuner`.
        keep_models: how many of the best trials keep their model (default 1; none with
            folds).
        pin_cores: pin each trial process to a core of its own (local Ray, Linux).
        budget_seconds: Ray's ``time_budget_s`` (running trials are stopped at the budget).

    Raises:
        TypeError: an option of the process pool (``workers``...) or another unknown option.
        ValueError: an unknown searcher.
    """

    OPTIONS = ("pin_cores", "budget_seconds", "keep_models")

    def _trial_weights(self) -> str | None:
        """None: Ray trials keep their models through the driver's keeper only."""
        return None

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        *,
        searcher: str = "hyperopt",
        asha: bool | dict = False,
        max_concurrent_trials: int = 2,
        ray_address: str | None = None,
        num_cpus: int | None = None,
        runtime_env: dict | None = None,
        searcher_options: dict | None = None,
        seed: int | None = None,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ):
        if searcher not in SEARCHERS:
            raise ValueError(f"searcher must be one of {list(SEARCHERS)}, got {searcher!r}")
        self.searcher = searcher
        self._ray = RayExecutor(
            asha=asha,
            max_concurrent_trials=max_concurrent_trials,
            ray_address=ray_address,
            num_cpus=num_cpus,
            runtime_env=runtime_env,
        )
        oracle = oracles.RecordOracle(**_oracle_kwargs(locals()))
        super().__init__(
            oracle,
            hypermodel,
            seed=seed,
            max_trials=max_trials,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            oracle_options=dict(searcher_options or {}),
            **kwargs,
        )

    @property
    def TUNER(self) -> str:  # noqa: N802  (the class attribute of the other tuners)
        return f"ray-{self.searcher}"

    def _replay(self, records: list[dict]) -> None:
        known = {int(t.trial_id) for t in self.oracle.trials.values()}
        for record in records:
            if int(record["trial"]) in known:
                continue
            score = record.get("objective")
            ok = record.get("status") == "COMPLETED" and score is not None and score == score
            self.oracle.record(
                int(record["trial"]),
                record["hyperparameters"],
                float(score) if ok else None,
                record.get("error"),
            )
        self._next_index = max((int(r["trial"]) for r in records), default=-1) + 1

    def _make_executor(self, name: str, stacked: dict) -> Executor:
        return self._ray

    def _execute(self, pool: Any, plan: SearchPlan, space: Any, *, verbose: int) -> None:
        try:
            super()._execute(pool, plan, space, verbose=verbose)
        finally:  # Ray's trials finished in other processes: read them back
            self._records = self._store.load()
            self._replay(self._records)
