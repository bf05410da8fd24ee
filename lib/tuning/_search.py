"""``search()``: the notebook shortcut over the tuner classes (one call, the trial table)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pandas as pd

from lib.tuning._data import as_data
from lib.tuning._store import TrialStore

KERAS_TUNERS = ("grid", "random", "bayesian", "hyperband")
RAY_TUNERS = ("ray-hyperopt", "ray-random")
TUNERS = KERAS_TUNERS + RAY_TUNERS


def _tuner_class(tuner: str) -> Any:
    from lib.tuning.tuners import (
        BayesianOptimization,
        GridSearch,
        Hyperband,
        RandomSearch,
        RayTuneSearch,
    )

    classes = {"grid": GridSearch, "random": RandomSearch, "bayesian": BayesianOptimization,
               "hyperband": Hyperband, "ray-hyperopt": RayTuneSearch, "ray-random": RayTuneSearch}
    if tuner not in classes:
        raise ValueError(f"unknown tuner {tuner!r}; expected one of {list(TUNERS)}")
    return classes[tuner]


def search(
    hypermodel: Any,
    data: Any,
    *,
    tuner: str = "grid",
    objective: str = "val_accuracy",
    max_trials: int | None = None,
    folds: Any = None,
    groups: Any = None,
    epochs: int = 10,
    batch_size: int = 32,
    early_stopping: int | None = None,
    reduce_lr: dict | None = None,
    class_weight: Any = None,
    monitor: str | None = None,
    directory: str | os.PathLike | None = None,
    resume: bool = True,
    overwrite: bool = False,
    checkpoint: bool = True,
    tuner_options: dict | None = None,
    allow_nonfinite: bool = False,
    verbose: int = 1,
    shuffle: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Runs a search with one of the tuner classes and returns its trial table.

    ``search(hm, data, tuner="random", max_trials=20, directory=d, epochs=5)`` is
    ``RandomSearch(hm, objective=..., max_trials=20, directory=parent(d),
    project_name=name(d)).search(x_train, y_train, validation_data=(x_val, y_val),
    epochs=5).results``: the search's folder is ``directory`` itself.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or a callable ``build(hp)``.
        data: :class:`~lib.tuning.Data`, a dict with ``x_train``, ``y_train`` and ``x_val``,
            ``y_val`` (or ``groups`` with folds), or a tuple ``(x_train, y_train[, x_val,
            y_val])``.
        tuner: ``"grid"``, ``"random"``, ``"bayesian"``, ``"hyperband"`` (the KerasTuner-style
            classes), ``"ray-hyperopt"`` or ``"ray-random"`` (:class:`RayTuneSearch`).
        objective: the objective's name (``val_accuracy``, ``val_macro_f1``, ``val_mse``, a
            Keras history key...).
        max_trials: trials in total; None runs the whole grid and is an error for the other
            tuners (give ``budget_seconds`` instead to stop on time).
        folds, groups, epochs, batch_size, early_stopping, reduce_lr, class_weight, monitor,
            allow_nonfinite, verbose, shuffle: as for ``tuner.search`` (Hyperband: ``epochs`` is its
            ``max_epochs``).
        directory: the search's folder; None uses a fresh temporary one (no resume).
        resume: continue the search found in ``directory``; False refuses a directory that
            holds one (unless ``overwrite``).
        overwrite: delete what an earlier search wrote there first.
        checkpoint: keep the best trial's model (``keep_models=1``; False keeps none).
        tuner_options: the tuner's own options (``num_initial_points``, ``factor``, Ray's
            ``searcher_options``...).
        **options: the tuner's execution options (``seed``, ``workers``, ``threads``,
            ``pin_cores``, ``budget_seconds``, Ray's ``max_concurrent_trials``,
            ``ray_address``...); one the tuner does not take is a ``TypeError``.

    Returns:
        The trial table (``tuner.results``), ``frame.attrs`` holding ``objective``,
        ``direction``, ``hyperparameters``, ``task``, ``tuner`` and ``directory``.
    """
    cls = _tuner_class(tuner)
    data = as_data(data)
    if tuner in ("random", "bayesian") + RAY_TUNERS and max_trials is None and not options.get(
        "budget_seconds"
    ):
        raise ValueError(f"tuner {tuner!r} needs max_trials or budget_seconds to know when to stop")
    folder = os.fspath(directory) if directory is not None else tempfile.mkdtemp(
        prefix="lib-tuning-")
    if not resume and not overwrite and TrialStore(folder).exists():
        raise ValueError(
            f"{folder} already holds a search; pass resume=True to continue it or "
            "overwrite=True to start again"
        )
    if tuner in RAY_TUNERS:
        kwargs = dict(options, searcher=tuner.split("-", 1)[1],
                      searcher_options=dict(tuner_options or {}))
    else:
        kwargs = dict(tuner_options or {}, **options)
    kwargs.setdefault("keep_models", 1 if checkpoint else 0)
    if tuner == "hyperband":
        kwargs.setdefault("max_epochs", int(epochs))
    elif max_trials is not None or tuner != "grid":
        kwargs["max_trials"] = max_trials
    instance = cls(hypermodel, objective=objective, directory=os.path.dirname(
        os.path.abspath(folder)), project_name=os.path.basename(os.path.abspath(folder)),
        overwrite=overwrite, **kwargs)
    validation = None if data.x_val is None else (data.x_val, data.y_val)
    return instance.search(
        data.x_train, data.y_train, validation_data=validation, epochs=epochs,
        batch_size=batch_size, folds=folds, groups=groups if groups is not None else data.groups,
        early_stopping=early_stopping, reduce_lr=reduce_lr, class_weight=class_weight,
        monitor=monitor, allow_nonfinite=allow_nonfinite, verbose=verbose, shuffle=shuffle,
    )
