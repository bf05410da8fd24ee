"""k-fold cross-validation of a list of configurations, each fold trained as stacks.

A second look at a search's finalists: the configurations a grid ranked best on one
validation split are scored again on every row of ``x`` by k-fold cross-validation, which
averages out the luck of one split (the best of thousands of configurations on one split is
biased upwards). Each fold trains all configurations at once with
:func:`lib.tuning.stacked.run_stacked`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def _fold_pairs(y: np.ndarray, folds: int, groups: Any, seed: int) -> list:
    """The folds a tuner's ``search(folds=k, groups=...)`` uses for the same rows and seed."""
    from lib.tuning._data import Data, make_splits

    if groups is not None and np.shape(groups) != (len(y),):
        raise ValueError(
            f"groups must hold one group per row of x ({len(y)}), got shape {np.shape(groups)}"
        )
    data = Data(x_train=np.zeros((len(y), 1)), y_train=y, groups=groups)
    return make_splits(data, int(folds), task="classification", seed=seed)


def cross_validate(
    hypermodel: Any,
    configurations: Sequence[Mapping[str, Any]],
    x: Any,
    y: Any,
    *,
    folds: int = 5,
    groups: Any = None,
    objective: str = "val_accuracy",
    epochs: int = 20,
    early_stopping: int | None = None,
    batch_size: int = 32,
    seed: int = 0,
    memory_budget_mb: float = 1024.0,
    labels: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Scores every configuration by k-fold cross-validation, all of a fold as stacks.

    In fold ``f`` every configuration trains on the other folds' rows and is scored on fold
    ``f`` at its best epoch (with ``early_stopping``, per model, as in a stacked search).
    Configuration ``i`` starts each fold from the same initial weights
    (``trial_seed(seed, i)``) and every fold shuffles its batches from ``seed``.

    Args:
        hypermodel: a hypermodel with a stacked form (e.g. ``MLPHyperModel``).
        configurations: hyperparameter values, one mapping per configuration (e.g. rows of a
            search's ``results`` or ``hp.values``).
        x: 2-D rows, all the rows the folds are drawn from.
        y: 1-D integer class labels.
        folds: number of folds (stratified by class; grouped when ``groups`` is given).
        groups: optional group per row (subject, record): a group never spans two folds.
        objective: the metric scored (as for :func:`run_stacked`).
        epochs: maximum epochs per fold.
        early_stopping: patience in epochs, per model, or None.
        batch_size: for configurations without a ``batch_size`` value.
        seed: seeds the folds, initial weights and batch order.
        memory_budget_mb: memory a stack may use.
        labels: the classes the metrics score (default: the classes of ``y``).

    Returns:
        One row per configuration, in the given order: its hyperparameters, ``mean`` and
        ``std`` of the objective over the folds, one column per fold (``fold_0``...),
        ``best_epochs`` (list, one per fold) and ``median_best_epoch``. ``attrs`` holds
        ``objective`` and ``folds``.

    Raises:
        ValueError: no configurations, ``x`` / ``y`` of different lengths or wrong rank,
            fewer than two folds, or what :func:`run_stacked` refuses.
    """
    from lib.tuning.stacked._engine import run_stacked

    x, y = np.asarray(x), np.asarray(y)
    if not configurations:
        raise ValueError("configurations is empty: pass at least one mapping of hyperparameters")
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"x must be 2-D rows and y 1-D labels of the same length, got x {x.shape} and "
            f"y {y.shape}"
        )
    values = [dict(c) for c in configurations]
    labels = sorted(np.unique(y).tolist()) if labels is None else list(labels)
    scores = np.full((len(values), int(folds)), np.nan)
    best_epochs = np.zeros((len(values), int(folds)), dtype=int)
    for fold, (train, val) in enumerate(_fold_pairs(y, folds, groups, seed)):
        arrays = {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val]}

        def collect(records: list[dict], _extract: Any, fold: int = fold) -> None:
            for record in records:
                scores[record["trial"], fold] = record["objective"]
                best_epochs[record["trial"], fold] = record["best_epoch"]

        run_stacked(
            hypermodel,
            list(enumerate(values)),
            arrays,
            objective=objective,
            epochs=epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            seed=seed,
            memory_budget_mb=memory_budget_mb,
            on_stack_done=collect,
            labels=labels,
        )
    frame = pd.DataFrame(values)
    frame["mean"], frame["std"] = scores.mean(axis=1), scores.std(axis=1)
    for fold in range(int(folds)):
        frame[f"fold_{fold}"] = scores[:, fold]
    frame["best_epochs"] = best_epochs.tolist()
    frame["median_best_epoch"] = np.median(best_epochs, axis=1)
    frame.attrs.update(objective=objective, folds=int(folds))
    return frame
