"""Hyperparameter search with KerasTuner's API and an engine for long searches behind it.

Write KerasTuner code; import the tuners from here::

    from lib.tuning import GridSearch, RandomSearch, BayesianOptimization, Hyperband

    tuner = RandomSearch(build, objective="val_accuracy", max_trials=20,
                         directory="runs", project_name="demo", workers=2)
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)
    tuner.results_summary()
    model = tuner.get_best_models(num_models=1)[0]
    frame = tuner.results  # one row per trial

What the engine adds (see :mod:`lib.tuning.tuners`): trials in recycled worker processes
(flat memory over hundreds of trials), resume from ``trials.jsonl`` after any interruption
(construct the same tuner on the same directory), objectives from :mod:`lib.evaluation`
(macro F1, weighted F1, per-class recall) and k-fold objectives (``folds=``), a progress bar,
a directory lock and data fingerprints. :class:`RayTuneSearch` runs the same search on Ray
Tune (HyperOpt TPE or random, ASHA, a cluster address). :func:`search` is a one-call shortcut
for notebooks that returns the trial table; :func:`fit_final` retrains a configuration with
the trials' own fit path.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import keras
import numpy as np
import pandas as pd

from lib.tuning._data import Data
from lib.tuning._ray import init_ray  # imports Ray only when called
from lib.tuning._search import TUNERS, search
from lib.tuning._store import DirectoryInUseError, results_frame
from lib.tuning.spaces import space_size, space_table
from lib.tuning.stacked import cross_validate
from lib.tuning.tuners import (
    BayesianOptimization,
    GridSearch,
    Hyperband,
    RandomSearch,
    RayTuneSearch,
    Tuner,
)

__all__ = [
    "GridSearch",
    "RandomSearch",
    "BayesianOptimization",
    "Hyperband",
    "RayTuneSearch",
    "Tuner",
    "TUNERS",
    "Data",
    "DirectoryInUseError",
    "search",
    "space_size",
    "space_table",
    "results_frame",
    "best_trial",
    "best_hyperparameters",
    "build_model",
    "load_best_model",
    "fit_final",
    "cross_validate",
    "init_ray",
]


def best_trial(
    frame: pd.DataFrame, *, objective: str = "objective", direction: str | None = None
) -> pd.Series:
    """The row of the best finished trial.

    Args:
        frame: a frame returned by :func:`search`.
        objective: column to rank by (default: the search's objective value).
        direction: ``"min"`` or ``"max"``; default from ``frame.attrs`` (or the column name).

    Returns:
        The best row (a ``pandas.Series``); ties go to the earliest trial.

    Raises:
        ValueError: if no trial finished with a finite objective.
    """
    if objective not in frame.columns:
        raise ValueError(f"column {objective!r} not in the frame; columns: {list(frame.columns)}")
    if direction is None:
        from lib.tuning._data import direction_of

        name = frame.attrs.get("objective", objective) if objective == "objective" else objective
        direction = frame.attrs.get("direction") if objective == "objective" else None
        direction = direction or direction_of(name)
    values = pd.to_numeric(frame[objective], errors="coerce")
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    if finite.empty:
        raise ValueError("no trial finished with a finite objective; check the trials' errors")
    position = finite.idxmin() if direction == "min" else finite.idxmax()
    return frame.loc[position]


def best_hyperparameters(frame: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    """Hyperparameter values of the best trial (see :func:`best_trial` for ``kwargs``).

    Hyperband's bookkeeping values (``tuner/...``) are left out; ``tuner/epochs`` of the
    best trial is what ``epochs`` should be in :func:`fit_final`.
    """
    row = best_trial(frame, **kwargs)
    names = frame.attrs.get("hyperparameters")
    if names is None:
        raise ValueError("frame.attrs has no 'hyperparameters'; pass a frame returned by search()")
    values = {}
    for name in names:
        if name.startswith("tuner/"):
            continue
        value = row[name]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue  # inactive conditional hyperparameter
        values[name] = value.item() if isinstance(value, np.generic) else value
    return values


def build_model(hypermodel: Any, hparams: dict[str, Any]) -> Any:
    """A compiled model built by ``hypermodel`` with fixed hyperparameter values.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``.
        hparams: hyperparameter name -> value (e.g. :func:`best_hyperparameters`); missing
            ones take their defaults.

    Returns:
        The compiled ``keras.Model``.
    """
    from lib.tuning import spaces

    return spaces.build(hypermodel, spaces.make_hyperparameters(hparams))


def load_best_model(source: Any) -> Any:
    """The best trial's model as :func:`search` saved it (``directory/best_model.keras``).

    Args:
        source: the frame :func:`search` returned (its ``attrs["directory"]``) or the search
            directory.

    Returns:
        The ``keras.Model`` with the weights of the best trial's best epoch.

    Raises:
        FileNotFoundError: no model was saved there (the search ran with ``checkpoint=False``,
            with ``folds``, on Ray nodes that do not see the directory, or finished no trial).
    """
    import lib.models  # noqa: F401  (registers the custom layers and losses for loading)

    if isinstance(source, pd.DataFrame):
        directory = source.attrs.get("directory")
        if not directory:
            raise FileNotFoundError(
                "this frame carries no search directory (frame.attrs['directory']); pass the "
                "directory given to search() instead"
            )
    else:
        directory = os.fspath(source)
    path = os.path.join(directory, "best_model.keras")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no saved model at {path}: {_why_no_model(directory)}")
    return keras.saving.load_model(path)


def _why_no_model(directory: str) -> str:
    """The one cause, read from the search directory, of a missing ``best_model.keras``."""
    from lib.tuning._store import TrialStore

    store = TrialStore(directory)
    rebuild = ("Rebuild it: fit_final(hypermodel, best_hyperparameters(frame), x, y, ...)")
    if not store.exists():
        return f"{directory} holds no search (no search.json); pass the search's directory"
    records = store.load()
    if not any(r.get("status") == "COMPLETED" for r in records):
        return (f"the search finished no trial ({len(records)} failed); see "
                "tuner.results['error'] for why")
    spec = store.read_spec()
    if spec.get("folds"):
        return f"a search with folds keeps no model (one per fold). {rebuild}"
    kept = sorted(glob.glob(os.path.join(directory, "models", "trial-*.keras")))
    if kept:
        return (f"the file was deleted; the kept trial models are still there ({kept[0]} ...): "
                f"load one with keras.saving.load_model, or {rebuild[0].lower()}{rebuild[1:]}")
    return (f"the search kept no model (keep_models=0, or Ray nodes without the directory). "
            f"{rebuild}")


def fit_final(
    hypermodel: Any,
    hparams: dict[str, Any],
    x: Any,
    y: Any,
    *,
    validation_data: tuple | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    early_stopping: int | None = None,
    reduce_lr: dict | None = None,
    class_weight: Any = None,
    monitor: str = "val_loss",
    callbacks: list | None = None,
    verbose: int = 0,
    allow_nonfinite: bool = False,
) -> tuple[Any, dict[str, list[float]]]:
    """Trains one configuration on the full training data with the search's fit path.

    Same path as a trial: ``resampling`` hp (training data only), ``batch_size`` hp (else
    ``batch_size``), the hypermodel's ``fit``/``callbacks``, class weights, early stopping and
    ReduceLROnPlateau. With ``validation_data`` the weights of the best epoch on ``monitor``
    are restored; without it the model of the last epoch is returned.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``.
        hparams: hyperparameter values (e.g. :func:`best_hyperparameters`).
        x: training inputs.
        y: training targets.
        validation_data: ``(x_val, y_val)`` or None.
        epochs: epochs to train (e.g. the best trial's ``best_epoch`` when there is no
            validation data).
        batch_size: when the hyperparameters hold no ``batch_size``.
        seed: seeds Keras and the resampler.
        early_stopping: patience on ``monitor`` (needs ``validation_data``), or None.
        reduce_lr: ``ReduceLROnPlateau`` keyword arguments, or None.
        class_weight: None, ``"balanced"`` or a dict.
        monitor: history key for early stopping and best weights.
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity.
        allow_nonfinite: accept NaN / infinity in the inputs (a model that masks them).

    Returns:
        ``(model, history)``, history a dict of per-epoch lists.

    Raises:
        ValueError: inputs a search would refuse (NaN, infinity, values beyond float32, text,
            mismatched rows), ``epochs < 1``, ``batch_size < 1``, or early stopping without
            validation data.
    """
    from lib.tuning import _data, _trial, spaces
    from lib.tuning._data import direction_of

    if early_stopping and validation_data is None:
        raise ValueError("early_stopping needs validation_data; pass it or set early_stopping=None")
    x_val, y_val = validation_data if validation_data is not None else (None, None)
    _data.check_inputs(_data.Data(x, y, x_val, y_val), epochs=epochs,
                       allow_nonfinite=allow_nonfinite)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or (
            batch_size < 1):
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    model, history, _ = _trial.fit_once(
        hypermodel,
        spaces.make_hyperparameters(hparams),
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        monitor=monitor if validation_data is not None else None,
        monitor_mode=direction_of(monitor),
        early_stopping=early_stopping,
        reduce_lr=reduce_lr,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=verbose,
    )
    return model, history
