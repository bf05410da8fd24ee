"""KerasTuner oracles for the engine: state lives in ``trials.jsonl``, the grid runs ahead.

The engine keeps a search's state in its own trial store (one fsynced line per trial) and
rebuilds an oracle by replaying those trials into a fresh, identically seeded one. These
subclasses therefore skip KerasTuner's own state files (``oracle.json`` and one
``trial.json`` per trial, rewritten in full on every change), and the grid oracle hands out
its next points before the running trials finish, so parallel workers stay busy.
"""

from __future__ import annotations

import math
from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import trial as trial_module


def better(a: float | None, b: float | None, direction: str, *, or_tie: bool = False) -> bool:
    """True when ``a`` is finite and beats ``b`` (None or non-finite ``b`` is beaten); with
    ``or_tie``, also when it equals ``b``."""
    if a is None or not np.isfinite(a):
        return False
    if b is None or not np.isfinite(b) or (or_tie and a == b):
        return True
    return a < b if direction == "min" else a > b


def end_trial(oracle: Any, trial: Any, record: dict, objective: str) -> None:
    """Reports a finished record to the oracle, as KerasTuner's loop does: COMPLETED with its
    score and the fit's other metrics (each at the best epoch, as KerasTuner's trials hold
    them); FAILED for a ``keras_tuner.errors.FailedTrialError``, INVALID for any other error
    (which KerasTuner's oracle retries up to ``max_retries_per_trial`` times)."""
    value = record.get("objective")
    if record.get("status") == "COMPLETED" and value is not None and np.isfinite(value):
        metrics = _best_epoch_metrics(record)
        metrics[objective] = float(value)
        oracle.update_trial(trial.trial_id, metrics)
        trial.status = trial_module.TrialStatus.COMPLETED
    else:
        invalid = record.get("kerastuner_status") == "INVALID"
        trial.status = (
            trial_module.TrialStatus.INVALID if invalid else (trial_module.TrialStatus.FAILED)
        )
        trial.message = record.get("error")
    oracle.end_trial(trial)


def _best_epoch_metrics(record: dict) -> dict:
    """The fit's history at its best epoch (training and validation metrics), finite only."""
    history = record.get("history") or {}
    best = record.get("best_epoch")
    metrics = {}
    for name, values in history.items():
        if not isinstance(values, list) or not values:
            continue
        index = min(int(best), len(values)) - 1 if best else len(values) - 1
        try:
            value = float(values[index])
        except (TypeError, ValueError):
            continue
        if np.isfinite(value):
            metrics[name] = value
    return metrics


class _StoreBackedOracle:
    """Mixin for a KerasTuner oracle whose state is kept by the engine's trial store."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.verbose = 0  # the engine shows its own progress (KerasTuner prints per trial)
        self.tie_break: tuple[str, str] | None = None  # (metric, "min" / "max"), set by search

    def get_best_trials(self, num_trials: int = 1) -> list:
        """KerasTuner's ranking (completed trials by score, then the others), with ties on the
        objective broken by ``tie_break``: the monitored metric at the trial's best epoch (the
        validation loss, unless ``search(monitor=...)`` names another), then the trial order.
        """
        ranked = super().get_best_trials(max(len(self.trials), 1))
        if self.tie_break is None:
            return ranked[:num_trials]
        name, direction = self.tie_break
        sign = -1.0 if self.objective.direction == "max" else 1.0
        second_sign = -1.0 if direction == "max" else 1.0

        def key(trial: Any) -> tuple[float, float]:
            value = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
            finite = value is not None and math.isfinite(value)
            return sign * trial.score, second_sign * value if finite else math.inf

        completed = [t for t in ranked if t.status == trial_module.TrialStatus.COMPLETED]
        others = [t for t in ranked if t.status != trial_module.TrialStatus.COMPLETED]
        return (sorted(completed, key=key) + others)[:num_trials]

    def save(self) -> None:
        """Does nothing: the trial store holds the state (KerasTuner writes oracle.json)."""

    def _save_trial(self, trial: Any) -> None:
        """Does nothing: each finished trial is a line of trials.jsonl instead."""

    def set_space(self, hyperparameters: Any) -> None:
        """Replaces the search space (the engine discovers it with the data, before trials)."""
        self.hyperparameters = hyperparameters.copy()

    def record(self, number: int, values: dict, score: float | None, message: str | None = None):
        """Adds a trial run elsewhere (e.g. by Ray Tune) as finished, with its score.

        Args:
            number: the trial's index in the search.
            values: its hyperparameter values.
            score: its objective value, or None for a failed trial.
            message: the failure message, if any.

        Returns:
            The ``keras_tuner.engine.trial.Trial``.
        """
        hyperparameters = self.hyperparameters.copy()
        hyperparameters.values = dict(values)
        trial_id = f"{number:05d}"
        trial = trial_module.Trial(
            hyperparameters=hyperparameters,
            trial_id=trial_id,
            status=trial_module.TrialStatus.RUNNING,
        )
        self.trials[trial_id] = trial
        self.start_order.append(trial_id)
        self.end_order.append(trial_id)
        if score is not None:
            trial.metrics.register(self.objective.name, direction=self.objective.direction)
            trial.metrics.update(self.objective.name, float(score))
            trial.status = trial_module.TrialStatus.COMPLETED
            self.score_trial(trial)
        else:
            trial.status = trial_module.TrialStatus.FAILED
            trial.message = message
        return trial


class GridSearchOracle(_StoreBackedOracle, kt.oracles.GridSearchOracle):
    """KerasTuner's grid oracle, handing out the next point before running trials finish.

    KerasTuner's grid oracle derives the next point only from *finished* trials (it queues a
    trial's successor when the trial ends), so several workers got one trial at a time. The
    walk is fixed by the space (discovered before the search), so each new trial's successor
    can be queued at once: the points keep the order of a sequential search, and the oracle
    skips a point already tried when the finished trial is queued again. With one worker
    (``run_ahead = False``) the walk is KerasTuner's own, step for step; hyperparameters that
    only some trials declare (under a Python ``if``) join the walk when such a trial ends, as
    in KerasTuner.
    """

    #: hand out a trial's successor when it starts (several workers); False walks exactly as
    #: KerasTuner's sequential grid, which also follows a space that grows during the search
    run_ahead = True

    def populate_space(self, trial_id: str) -> dict:
        response = super().populate_space(trial_id)
        if self.run_ahead and response["status"] == trial_module.TrialStatus.RUNNING:
            self._populate_next.append(trial_id)
        return response

    def _with_defaults(self, values: dict) -> dict:
        """``values`` completed with the defaults of hyperparameters the space gained after
        the trial was created (declared by a later trial's build, see ``update_space``), as
        KerasTuner's walk takes a new hyperparameter's default first."""
        full = dict(values)
        for entry in self.get_space().space:
            full.setdefault(entry.name, entry.default)
        return full

    def _get_next_combination(self, values: dict) -> dict | None:
        return super()._get_next_combination(self._with_defaults(values))

    def _compare(self, a: dict, b: dict) -> int:
        return super()._compare(a, self._with_defaults(b))


class RandomSearchOracle(_StoreBackedOracle, kt.oracles.RandomSearchOracle):
    """KerasTuner's random oracle, its state kept by the engine's trial store."""


class BayesianOptimizationOracle(_StoreBackedOracle, kt.oracles.BayesianOptimizationOracle):
    """KerasTuner's Gaussian-process oracle, its state kept by the engine's trial store."""


class HyperbandOracle(_StoreBackedOracle, kt.oracles.HyperbandOracle):
    """KerasTuner's Hyperband oracle, its state kept by the engine's trial store."""


class RecordOracle(_StoreBackedOracle, kt.Oracle):
    """An oracle that proposes nothing: it books trials another engine ran (Ray Tune), so
    ``get_best_trials`` and the tuner's summaries work on them."""

    def populate_space(self, trial_id: str) -> dict:
        return {"status": trial_module.TrialStatus.STOPPED, "values": None}
