"""Hyperparameter search over a KerasTuner hypermodel: one entry point, a tidy result table.

:func:`search` runs a grid, random, Bayesian or Hyperband search (KerasTuner oracles) or a
Ray Tune search (HyperOpt TPE or random, optionally ASHA) over the same hypermodel and returns
a ``pandas.DataFrame`` with one row per trial (hyperparameters, objective, ``val_*`` metrics
from :mod:`lib.evaluation`, best epoch, seconds, training history).

How it keeps long searches cheap and safe:

- **Flat memory and overhead.** The oracle and the finished records stay in the calling
  process; every trial runs in a worker process (``multiprocessing`` *spawn*) that reads the
  data saved once as ``.npy`` through ``mmap`` and is replaced after ``trials_per_worker``
  trials, so whatever TensorFlow accumulates dies with the worker. KerasTuner's own per-trial
  files (rewritten in full after every trial) are not written.
- **Resume.** Each finished trial is one line of ``directory/trials.jsonl``, flushed and
  fsynced before the next starts, so ``kill -9`` loses only running trials. Started again with
  the same arguments, the search replays the finished trials into a fresh, identically seeded
  oracle (so it reaches exactly the state it had) and continues: no finished trial is rerun,
  and a single-worker search ends with the same trials and best trial as an uninterrupted run.
  A directory holding a different search space (or data, objective, seed...) is refused.
- **Reproducible.** The oracle, the folds and each trial (from ``(seed, trial index)``) are
  seeded; on CPU with the same threads a trial gives the same metrics.

Trials are fitted by one code path (:func:`fit_final` uses it too): the ``"resampling"`` hp
resamples the training fold only (``lib.resampling.resample``), a ``batch_size`` hp or the
``batch_size`` argument, ``callbacks(hp)`` of the hypermodel, early stopping, ReduceLROnPlateau,
class weights; the weights of the best epoch (on ``monitor``) are restored before scoring and
the best trial's model is saved to ``directory/best_model.keras``.

Ray Tune backend (``tuner="ray-hyperopt"`` or ``"ray-random"``, ``asha=True`` for ASHA early
stopping, ``max_concurrent_trials``): KerasTuner hyperparameters are translated into a Ray
space (Choice -> ``tune.choice``, Int -> ``tune.qrandint``/``lograndint``, Float ->
``tune.uniform``/``quniform``/``loguniform``, Boolean -> choice of False/True, Fixed -> the
constant). Conditional hyperparameters are flattened: every hp gets a value, and the ones a
build does not reach are ignored. Each trial uses one CPU and one TensorFlow thread, so two
concurrent trials use two cores (``pin_cores=True`` also pins each trial process to a core of
its own, so the trials' threads stop moving between cores; one-thread trial processes also
run Keras' array pipelines with tf.data autotuning off). By default a local Ray is started
(``ray.init(num_cpus=num_cpus or max_concurrent_trials)``, its workers at the driver's
priority and none prestarted: see :func:`init_ray`) and shut down afterwards; to use an
existing cluster pass its address::

    # on the cluster:  ray start --head --port=6379 --ray-client-server-port=10001
    frame = search(hypermodel, data, tuner="ray-hyperopt", max_trials=64,
                   max_concurrent_trials=8, ray_address="ray://head-node:10001")
    # or, from a machine that is itself part of the cluster:
    frame = search(..., ray_address="auto")

The data travel through Ray's object store (``tune.with_parameters``), the hypermodel is
pickled with cloudpickle, and every node needs this package importable (install it, or pass
``runtime_env={"py_modules": [lib]}`` through ``tuner_options={"runtime_env": ...}``).
Finished Ray trials are appended to ``trials.jsonl`` as they complete; on resume they are not
rerun. ``"ray-random"`` draws its configurations from a seeded generator up front, so a resumed
run goes on exactly where it stopped; ``"ray-hyperopt"`` restarts TPE (seeded from the seed and
the number of finished trials) without the earlier results, because Ray's HyperOpt searcher
cannot be given points evaluated elsewhere, so its later trials differ from an uninterrupted
run. Ray runs are not bit-reproducible in trial order (trials finish concurrently); each
trial's seed comes from the search seed and its hyperparameter values. ``budget_seconds`` is
Ray's ``time_budget_s`` (running trials are stopped at the budget).

Example::

    from lib.tuning import search, best_hyperparameters, fit_final, load_best_model
    frame = search(MyHyperModel(), dict(x_train=x, y_train=y, x_val=xv, y_val=yv),
                   tuner="grid", objective="val_macro_f1", epochs=20, early_stopping=3,
                   directory="runs/mhealth_grid", seed=0)
    model, history = fit_final(MyHyperModel(), best_hyperparameters(frame), x, y, epochs=20)
    best = load_best_model(frame)  # the best trial's model as saved during the search
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from lib.tuning._ray import init_ray  # imports Ray only when called
from lib.tuning._search import TUNERS, Data, results_frame, search

__all__ = [
    "TUNERS",
    "Data",
    "search",
    "results_frame",
    "best_trial",
    "best_hyperparameters",
    "build_model",
    "load_best_model",
    "fit_final",
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
        from lib.tuning._search import direction_of

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
    from lib.tuning import _trial

    return _trial.build(hypermodel, _trial.make_hyperparameters(hparams))


def load_best_model(source: Any) -> Any:
    """The best trial's model as :func:`search` saved it (``directory/best_model.keras``).

    Args:
        source: the frame :func:`search` returned (its ``attrs["directory"]``) or the search
            directory.

    Returns:
        The ``keras.Model`` with the weights of the best trial's best epoch.

    Raises:
        FileNotFoundError: no model was saved there (the search ran with ``checkpoint=False``,
            with ``folds``, on a Ray backend, or finished no trial).
    """
    import keras

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
        raise FileNotFoundError(
            f"no saved model at {path}: search() saves the best trial's model only with "
            "checkpoint=True, without folds (a k-fold trial has one model per fold) and on the "
            "KerasTuner tuners (not Ray). Rebuild it with fit_final(hypermodel, "
            "best_hyperparameters(frame), x, y, ...)"
        )
    return keras.saving.load_model(path)


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

    Returns:
        ``(model, history)``, history a dict of per-epoch lists.
    """
    from lib.tuning import _trial
    from lib.tuning._search import direction_of

    if early_stopping and validation_data is None:
        raise ValueError("early_stopping needs validation_data; pass it or set early_stopping=None")
    model, history, _ = _trial.fit_once(
        hypermodel,
        _trial.make_hyperparameters(hparams),
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
