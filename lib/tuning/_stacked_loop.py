"""A search's trials through the stacked executor: many small dense models as one model.

The oracle hands out every trial the search will run (a grid's points, a random search's
draws) before any trains; :func:`lib.tuning.stacked.run_stacked` trains them K at a time and
reports each finished stack, whose records are stored, told to the oracle and shown in the
progress bar at once, so an interrupted search resumes at stack granularity.
"""

from __future__ import annotations

import os
from typing import Any

from lib.tuning import _loop
from lib.tuning._store import ModelKeeper

STACKED_OPTIONS = ("max_models", "memory_budget_mb")


def hand_out(state: _loop.Run) -> list[tuple[int, Any]]:
    """Every trial the oracle will give now (pending ones from an interrupted run first)."""
    trials = []
    while True:
        chosen = state.next_trial()
        if chosen is None:
            return trials
        trials.append(chosen)


def run(tuner: Any, state: _loop.Run, arrays: dict, options: dict) -> None:
    """Trains ``state``'s remaining trials in stacks, storing each stack's records.

    Raises:
        TypeError: the hypermodel has no stacked form.
        ValueError: what :func:`lib.tuning.stacked.run_stacked` refuses.
    """
    from lib.tuning.stacked import run_stacked

    settings = state.settings
    trials = hand_out(state)
    if not trials:
        return
    by_number = dict(trials)

    def on_stack_done(records: list[dict], extract: Any) -> None:
        for record in records:
            number = int(record["trial"])
            trial = by_number[number]
            record["trial_id"] = trial.trial_id
            record.setdefault("wall_seconds", record.get("seconds"))
            record.setdefault("overhead_seconds", 0.0)
            _save_if_kept(state.keeper, state.records, record, extract)
            state.store.append(record)
            state.records.append(record)
            _loop.end_trial(state.oracle, trial, record, settings.objective)
            if state.keeper is not None:
                state.keeper.settle(number, state.records)
            state.progress.trial_done(record)

    run_stacked(
        tuner.hypermodel, [(n, dict(t.hyperparameters.values)) for n, t in trials], arrays,
        objective=settings.objective, epochs=settings.epochs, batch_size=settings.batch_size,
        early_stopping=settings.early_stopping, seed=state.seed, labels=settings.labels,
        on_stack_done=on_stack_done, **options,
    )


def _save_if_kept(keeper: ModelKeeper | None, records: list[dict], record: dict,
                  extract: Any) -> None:
    """Saves the configuration's model when it would be among the best ``keep`` so far."""
    if keeper is None or keeper.keep <= 0 or record.get("status") != "COMPLETED":
        return
    threshold = keeper.threshold(records)
    if threshold is not None and not _loop.better(record["objective"], threshold,
                                                  keeper.direction):
        return
    path = keeper.trial_path(int(record["trial"]))
    tmp = f"{path[: -len('.keras')]}.tmp-{os.getpid()}.keras"
    extract(int(record["trial"])).save(tmp)
    os.replace(tmp, path)
