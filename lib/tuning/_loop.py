"""The oracle loop: replay finished trials into the oracle, then run new ones on a pool;
and the two executors that run a search's trials in this package's own processes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from keras_tuner import errors as kt_errors
from keras_tuner.engine import trial as trial_module

from lib.tuning import spaces
from lib.tuning._settings import EngineOptions, Executor, SearchPlan, TrialSettings, TrialTask
from lib.tuning._store import ModelKeeper, TrialStore, finish_trial
from lib.tuning.oracles import end_trial
from lib.tuning.stacked import check_stackable, run_stacked

RUNNING = trial_module.TrialStatus.RUNNING
STOPPED = trial_module.TrialStatus.STOPPED


def replay(oracle: Any, records: list[dict], objective: str) -> tuple[list, int]:
    """Feeds stored trials to a fresh oracle in their order, as a sequential run would have.

    Returns:
        ``(pending, next_index)``: trials the oracle proposed that never finished (killed
        while running: they run first) and the index of the next new trial.
    """
    finished = {int(r["trial"]): r for r in records}
    pending: list[tuple[int, Any]] = []
    index = 0
    last = max(finished, default=-1)
    while index <= last:
        trial = oracle.create_trial(f"trial-{index}")
        if trial.status != RUNNING:
            break
        record = finished.get(index)
        if record is None:
            pending.append((index, trial))
        else:
            spaces.grow_trial(trial, record.get("new_hyperparameters"))
            spaces.add_untuned(trial, record.get("untuned_values"))
            if trial.hyperparameters.values != record["hyperparameters"]:
                trial.hyperparameters.values = dict(record["hyperparameters"])
            end_trial(oracle, trial, record, objective)
        index += 1
    return pending, index


def make_record(number: int, trial: Any, result: dict, wall: float, seed: int) -> dict:
    """The stored record of one trial from a worker's result."""
    record = {
        "trial": number,
        "trial_id": trial.trial_id,
        "hyperparameters": dict(trial.hyperparameters.values),
        "seed": spaces.trial_seed(seed, number),
        "status": result.get("status", "FAILED"),
        "wall_seconds": wall,
    }
    objective = result.get("objective")
    if record["status"] == "COMPLETED" and (objective is None or not np.isfinite(objective)):
        record["status"] = "FAILED"  # never a NaN score: the trial failed, with the reason
        result = {
            "error": f"FailedTrialError: the objective is {objective} (training diverged "
            "or the metric is undefined on this validation set)",
            "exception": kt_errors.FailedTrialError("non-finite objective"),
        }
    if record["status"] == "COMPLETED":
        for key, value in result.items():
            if key not in ("status", "exception", "traceback"):
                record[key] = value
        record["overhead_seconds"] = wall - float(result.get("fit_seconds", 0.0))
    else:
        record["objective"] = math.nan
        record["error"] = result.get("error")
        if not isinstance(result.get("exception"), kt_errors.FailedTrialError) and not str(
            result.get("error") or ""
        ).startswith("FailedTrialError"):
            record["kerastuner_status"] = "INVALID"  # retried with max_retries_per_trial
        record["seconds"] = wall
        record["overhead_seconds"] = wall
    return record


@dataclass
class Run:
    """One ``search`` call's loop state."""

    oracle: Any
    store: TrialStore
    keeper: ModelKeeper | None
    settings: TrialSettings
    engine_options: EngineOptions
    space_config: dict
    seed: int
    max_trials: int | None
    max_failures: int
    progress: Any
    records: list[dict]
    pending: list = field(default_factory=list)
    next_index: int = 0
    running: dict = field(default_factory=dict)
    stopping: bool = False
    failures: int = 0
    attempts: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def next_trial(self) -> tuple[int, Any] | None:
        """The next trial to run, or None (nothing to hand out now, or the search is over)."""
        if self.pending:
            return self.pending.pop(0)
        if self.stopping:
            return None
        budget = self.engine_options.budget_seconds
        if (budget is not None and time.perf_counter() - self.started >= budget) or (
            self.max_trials is not None and self.next_index >= self.max_trials
        ):
            self.stopping = True
            return None
        trial = self.oracle.create_trial(f"trial-{self.next_index}")
        if trial.status == STOPPED:
            self.stopping = True
            return None
        if trial.status != RUNNING:  # IDLE: wait for a running trial to finish
            return None
        self.next_index += 1
        return self.next_index - 1, trial

    def _retried(self, trial: Any) -> bool:
        """Whether the oracle queued this INVALID trial to run again, as KerasTuner counts
        runs: at most ``1 + max_retries_per_trial`` per trial."""
        self.attempts[trial.trial_id] = self.attempts.get(trial.trial_id, 0) + 1
        retries = int(getattr(self.oracle, "max_retries_per_trial", 0) or 0)
        return self.attempts[trial.trial_id] <= retries

    def task(self, number: int, trial: Any) -> TrialTask:
        """The task of trial ``number``: its values, seed and settings (checkpoint set)."""
        settings = self.settings.replace(trial_id=str(trial.trial_id))
        if self.keeper is not None and self.keeper.keep > 0:
            settings = settings.replace(
                checkpoint_path=self.keeper.trial_path(number),
                checkpoint_best=self.keeper.threshold(self.records),
            )
        return TrialTask(
            values=dict(trial.hyperparameters.values),
            seed=spaces.trial_seed(self.seed, number),
            settings=settings,
            space=self.space_config,
        )

    def _finish(self, record: dict, trial: Any, model: Any = None) -> None:
        finish_trial(
            record,
            store=self.store,
            records=self.records,
            keeper=self.keeper,
            progress=self.progress,
            oracle=self.oracle,
            trial=trial,
            objective=self.settings.objective,
            model=model,
        )

    def hand_out(self) -> list[tuple[int, Any]]:
        """Every trial the oracle will give now (pending ones from an interrupted run first):
        the stacked executor trains them all, K at a time."""
        trials = []
        while (chosen := self.next_trial()) is not None:
            trials.append(chosen)
        return trials

    def stack_done(self, trials: dict) -> Any:
        """The ``on_stack_done(records, extract)`` callback of
        :func:`lib.tuning.stacked.run_stacked`: finishes each configuration of a trained stack
        (``trials``: trial number -> oracle trial), saving the models the keeper keeps."""

        def on_stack_done(records: list[dict], extract: Any) -> None:
            for record in records:
                number = int(record["trial"])
                record["trial_id"] = trials[number].trial_id
                record.setdefault("wall_seconds", record.get("seconds"))
                record.setdefault("overhead_seconds", 0.0)
                self._finish(record, trials[number], model=lambda n=number: extract(n))

        return on_stack_done

    def finish(self, number: int, trial: Any, result: dict, began: float) -> None:
        """Stores a trial's result, tells the oracle, keeps or drops its model."""
        error = result.get("exception")
        if isinstance(error, kt_errors.FatalError):  # KerasTuner ends the search on it
            raise error
        spaces.grow_trial(trial, result.get("new_hyperparameters"))
        spaces.add_untuned(trial, result.get("untuned_values"))
        record = make_record(number, trial, result, time.perf_counter() - began, self.seed)
        self._finish(record, trial)
        if record["status"] == "COMPLETED":
            self.failures = 0
            return
        if trial.status == trial_module.TrialStatus.INVALID and self._retried(trial):
            return  # the oracle runs it again (max_retries_per_trial): not yet a failed trial
        self.failures += 1
        if self.failures >= self.max_failures:
            raise RuntimeError(
                f"{self.failures} trials in a row failed; last error: {record['error']}\n"
                f"{result.get('traceback', '')}"
            )


def run(pool: Any, state: Run) -> None:
    """Runs trials on ``pool`` until the oracle, ``max_trials`` or the time budget says stop."""
    while True:
        for slot_index in pool.idle():
            chosen = state.next_trial()
            if chosen is None:
                break
            number, trial = chosen
            task = state.task(number, trial)
            began = time.perf_counter()  # an in-process slot runs the trial inside submit()
            pool.slot(slot_index).submit(task)
            state.running[slot_index] = (number, trial, began)
        if not state.running:
            return
        limit = state.engine_options.trial_timeout_seconds
        for slot_index in pool.wait(timeout=_time_left(state.running, limit)):
            result = pool.slots[slot_index].receive()
            number, trial, began = state.running.pop(slot_index)
            pool.after_task(slot_index, result)
            state.finish(number, trial, result, began)
        if limit is not None:
            _stop_overdue(pool, state, limit)


def _time_left(running: dict, limit: float | None) -> float | None:
    """Seconds until the first running trial reaches the time limit (None: no limit)."""
    if limit is None or not running:
        return None
    now = time.perf_counter()
    return max(0.0, min(began + limit - now for _, _, began in running.values()))


def _stop_overdue(pool: Any, state: Run, limit: float) -> None:
    """Kills the workers of trials running past ``limit`` seconds; each trial is FAILED."""
    now = time.perf_counter()
    for slot_index, (number, trial, began) in list(state.running.items()):
        if now - began < limit:
            continue
        pool.kill(slot_index)
        del state.running[slot_index]
        message = f"trial ran past trial_timeout_seconds={limit:g}; its worker process was stopped"
        state.finish(
            number,
            trial,
            {
                "status": "FAILED",
                "error": f"TimeoutError: {message}",
                "traceback": "",
                "exception": kt_errors.FailedTrialError(message),
            },
            began,
        )


class PoolExecutor(Executor):
    """Each trial one Keras fit, on a :class:`lib.tuning._pool.Pool`: recycled worker
    processes (``workers``), or this process with ``workers=0``."""

    def __init__(self, options: EngineOptions):
        self.in_process = int(options.workers) <= 0
        self.concurrent = int(options.workers) > 1

    def run(self, tuner: Any, plan: SearchPlan, pool: Any, state: Run) -> None:
        run(pool, state)


class StackedExecutor(Executor):
    """Grid and random searches of a stackable hypermodel, trained K configurations at a time
    as one model in this process (:func:`lib.tuning.stacked.run_stacked`; ``max_models`` and
    ``memory_budget_mb`` size K). Each finished stack is stored at once, so an interrupted
    search resumes at stack granularity."""

    name = "stacked"
    in_process = True
    concurrent = True  # the oracle hands out every trial first
    needs_arrays = True
    single_execution = "executor='stacked' trains each configuration once, in a stack"

    def __init__(self, **options: Any):
        self.options = options  # max_models, memory_budget_mb (those given)

    def check(self, tuner: Any, plan: SearchPlan) -> None:
        """Refuses a hypermodel without a stacked form and ``search`` arguments the stacks
        would not apply (they train on shared batches with their own loop)."""
        check_stackable(tuner.hypermodel)
        settings = plan.settings
        ignored = [
            name
            for name, value in (
                ("folds", plan.splits is not None),
                ("callbacks", settings.callbacks),
                ("class_weight", settings.class_weight),
                ("reduce_lr", settings.reduce_lr),
                ("shuffle=False", not settings.shuffle),
            )
            if value
        ]
        if ignored:
            raise ValueError(
                f"executor='stacked' does not apply {ignored}: it trains a stack of "
                "configurations on shared batches with its own loop, scored on one validation "
                "set (early_stopping applies, per model). Drop them, or use the per-trial "
                "executor (executor='trials')"
            )

    def run(self, tuner: Any, plan: SearchPlan, pool: Any, state: Run) -> None:
        pool.close()
        trials = state.hand_out()
        if not trials:
            return
        settings = state.settings
        run_stacked(
            tuner.hypermodel,
            [(n, dict(t.hyperparameters.values)) for n, t in trials],
            plan.arrays,
            objective=settings.objective,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            early_stopping=settings.early_stopping,
            seed=state.seed,
            labels=settings.labels,
            on_stack_done=state.stack_done(dict(trials)),
            **self.options,
        )


def make_executor(name: Any, options: EngineOptions, **stacked: Any) -> Executor:
    """The executor a tuner's ``executor=`` names: ``"trials"`` or ``"stacked"`` (``stacked``:
    its options that were given).

    Raises:
        ValueError: another name.
        TypeError: stacked options without ``executor="stacked"``.
    """
    if name == "stacked":
        return StackedExecutor(**stacked)
    if name != "trials":
        raise ValueError(f"executor must be 'trials' or 'stacked', got {name!r}")
    if stacked:
        raise TypeError(
            f"{sorted(stacked)} apply to executor='stacked' only; pass executor='stacked' or "
            "drop them"
        )
    return PoolExecutor(options)
