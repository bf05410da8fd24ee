"""One trial: build, (resample,) fit and score a hypermodel with fixed hyperparameters.

This module is the single fit path shared by the in-process runner, the recycled worker
processes, the Ray Tune trainable and :func:`lib.tuning.fit_final`, so a configuration is
trained the same way wherever it runs. Keras is imported at the top, as everywhere in
``lib`` (importing ``lib`` loads TensorFlow: see ``tests/test_imports.py``).
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras_tuner.errors import FailedTrialError

from lib.tuning._data import Data, check_inputs, direction_of

# The set-up of a trial process (re-exported: workers and the Ray backend call it from here).
from lib.tuning._process import (  # noqa: F401
    claim_core,
    freeze_imports,
    imports_frozen,
    prepare_trial_process,
    quiet_input_pipeline,
    save_model,
    set_threads,
)
from lib.tuning.oracles import better
from lib.tuning.spaces import (
    _overrides,
    _plain_number,
    build,
    make_hyperparameters,
    new_hyperparameters,
)

# Values of the "resampling" hyperparameter that mean "leave the training fold alone".
NO_RESAMPLING = (None, False, "none", "None", "")

# Names of hyperparameters the Hyperband oracle adds to every trial.
HYPERBAND_PREFIX = "tuner/"


class _BestWeights:
    """Keras callback factory: keeps the weights of the best epoch and restores them at the end."""

    @staticmethod
    def make(monitor: str, mode: str) -> Any:
        class BestWeights(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.best = math.inf if mode == "min" else -math.inf
                self.best_epoch = None
                self.weights = None

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                value = (logs or {}).get(monitor)
                if value is None or not np.isfinite(value):
                    return
                improved = value < self.best if mode == "min" else value > self.best
                if improved or self.weights is None:
                    self.best, self.best_epoch = float(value), epoch
                    self.weights = self.model.get_weights()

            def on_train_end(self, logs: dict | None = None) -> None:
                if self.weights is not None:
                    self.model.set_weights(self.weights)
                self.weights = None

        return BestWeights()


def _fit_callbacks(
    hypermodel: Any,
    hp: Any,
    callbacks: Sequence | None,
    *,
    validation: bool,
    monitor: str | None,
    monitor_mode: str,
    early_stopping: int | None,
    reduce_lr: dict | None,
) -> tuple[list, Any]:
    """The callbacks of one fit (the caller's, best weights, early stopping, learning-rate
    schedule, the hypermodel's own) and the best-weights keeper (None without one)."""
    all_callbacks = list(callbacks or [])
    best = None
    if monitor is not None and validation:
        best = _BestWeights.make(monitor, monitor_mode)
        all_callbacks.append(best)
        if early_stopping:
            all_callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor=monitor, mode=monitor_mode, patience=int(early_stopping)
                )
            )
    if reduce_lr:
        options = {"monitor": "val_loss" if validation else "loss"}
        options.update(reduce_lr)
        all_callbacks.append(keras.callbacks.ReduceLROnPlateau(**options))
    if _overrides(hypermodel, "callbacks"):
        all_callbacks.extend(hypermodel.callbacks(hp) or [])
    return all_callbacks, best


def class_weights(y: np.ndarray, spec: Any) -> dict | None:
    """Class weights for a training fold: None, ``"balanced"`` (scikit-learn) or a dict."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        return {int(k): float(v) for k, v in spec.items()}
    if spec == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        labels = np.asarray(y)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        classes = np.unique(labels)
        weights = compute_class_weight("balanced", classes=classes, y=labels)
        return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}
    raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {spec!r}")


def predict(model: Any, x: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Model outputs on ``x`` in large batches, as numpy (no tf.function tracing per model)."""
    outputs = []
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start : start + batch_size])
        out = model(batch, training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        outputs.append(np.asarray(out))
    return np.concatenate(outputs, axis=0) if outputs else np.empty((0,))


def score(
    task: str, y_true: np.ndarray, outputs: np.ndarray, *, labels: Sequence | None = None
) -> dict[str, float]:
    """``val_``-prefixed metrics from :mod:`lib.evaluation` for one validation set."""
    from lib.evaluation import classification_metrics, regression_metrics

    if task == "classification":
        metrics = classification_metrics(np.asarray(y_true), outputs, labels=labels)
    else:
        metrics = regression_metrics(np.asarray(y_true), outputs)
    return {f"val_{k}": float(v) for k, v in metrics.items()}


def fit_once(
    hypermodel: Any,
    hp: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    validation_data: tuple | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    monitor: str | None = "val_loss",
    monitor_mode: str = "min",
    early_stopping: int | None = None,
    reduce_lr: dict | None = None,
    class_weight: Any = None,
    callbacks: Sequence | None = None,
    verbose: int = 0,
    shuffle: bool = True,
    compile_overrides: dict | None = None,
    initial_weights: str | None = None,
    initial_epoch: int = 0,
) -> tuple[Any, Any, dict]:
    """Resamples the training data, builds, and fits one model (the engine's only fit path).

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``.
        hp: ``keras_tuner.HyperParameters`` holding the trial's values.
        x_train: training inputs (full feature set; feature selection is the model's job).
        y_train: training targets.
        validation_data: ``(x_val, y_val)`` or None.
        epochs: maximum number of epochs.
        batch_size: used when the space has no ``batch_size`` hyperparameter; a custom
            ``HyperModel.fit`` gets it only when it is not None (KerasTuner passes on only
            what ``search()`` was given, so a ``fit`` may tune its own batch size).
        seed: seeds Keras (weights, shuffling) and the resampler.
        monitor: history key for early stopping and best weights; None keeps the last epoch.
        monitor_mode: ``"min"`` or ``"max"``.
        early_stopping: patience in epochs, or None.
        reduce_lr: keyword arguments of ``keras.callbacks.ReduceLROnPlateau``, or None.
        class_weight: None, ``"balanced"`` or a dict.
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity.
        shuffle: shuffle the training rows before each epoch (``model.fit``'s).
        compile_overrides: the tuner's ``optimizer`` / ``loss`` / ``metrics`` (see
            :func:`build`), or None.
        initial_weights: weights file the built model starts from (Hyperband continuing a
            promoted trial), or None.
        initial_epoch: the epoch training resumes at (``model.fit``'s ``initial_epoch``).

    Returns:
        ``(model, history_dict, info)`` with ``info`` holding ``best_epoch`` (1-based),
        ``epochs_run``, ``fit_seconds`` and ``train_rows`` (after resampling), and
        ``returned`` when the hypermodel's own ``fit`` returned a number or a dict of
        numbers (KerasTuner's custom objective, see :func:`_returned_metrics`).
    """
    x_train, y_train = _resampled(x_train, y_train, hp.values.get("resampling"), seed)
    model = _seeded_model(hypermodel, hp, seed, compile_overrides, initial_weights)
    all_callbacks, best = _fit_callbacks(
        hypermodel,
        hp,
        callbacks,
        validation=validation_data is not None,
        monitor=monitor,
        monitor_mode=monitor_mode,
        early_stopping=early_stopping,
        reduce_lr=reduce_lr,
    )
    custom_fit = _overrides(hypermodel, "fit")
    kwargs = _fit_kwargs(
        hp,
        y_train,
        all_callbacks,
        custom_fit=custom_fit,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        class_weight=class_weight,
        shuffle=shuffle,
        initial_epoch=initial_epoch,
        validation_data=validation_data,
    )
    history, fit_seconds = _timed_fit(
        hypermodel, hp, model, x_train, y_train, kwargs, custom_fit=custom_fit
    )
    hist, returned = _read_fit_result(history, model, custom_fit=custom_fit)
    info = _fit_info(
        hist,
        best,
        returned,
        epochs=epochs,
        initial_epoch=initial_epoch,
        fit_seconds=fit_seconds,
        train_rows=len(x_train),
    )
    return model, hist, info


def _resampled(
    x_train: np.ndarray, y_train: np.ndarray, method: Any, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The training fold resampled by ``method`` (the ``resampling`` hp), else as arrays."""
    if method not in NO_RESAMPLING:
        from lib.resampling import resample

        return resample(x_train, y_train, method=str(method), seed=int(seed))
    return np.asarray(x_train), np.asarray(y_train)


def _seeded_model(
    hypermodel: Any,
    hp: Any,
    seed: int,
    compile_overrides: dict | None,
    initial_weights: str | None,
) -> Any:
    """Seeds Keras and builds the model, from ``initial_weights`` when given."""
    keras.utils.set_random_seed(int(seed))
    model = build(hypermodel, hp, compile_overrides)
    if initial_weights:
        load_trial_weights(model, initial_weights)
    return model


def _fit_kwargs(
    hp: Any,
    y_train: np.ndarray,
    callbacks: list,
    *,
    custom_fit: bool,
    epochs: int,
    batch_size: int | None,
    verbose: int,
    class_weight: Any,
    shuffle: bool,
    initial_epoch: int,
    validation_data: tuple | None,
) -> dict[str, Any]:
    """The keyword arguments of ``model.fit`` (or of the hypermodel's own ``fit``)."""
    kwargs: dict[str, Any] = {
        "epochs": int(epochs),
        "callbacks": callbacks,
        "verbose": verbose,
        "class_weight": class_weights(y_train, class_weight),
    }
    if not shuffle:  # only when asked: a HyperModel.fit written for KerasTuner gets as before
        kwargs["shuffle"] = False
    if initial_epoch:
        kwargs["initial_epoch"] = int(initial_epoch)
    if validation_data is not None:
        kwargs["validation_data"] = tuple(np.asarray(part) for part in validation_data)
    if not custom_fit:
        kwargs["batch_size"] = int(hp.values.get("batch_size", batch_size or 32))
    elif "batch_size" not in hp.values and batch_size is not None:
        kwargs["batch_size"] = int(batch_size)  # as KerasTuner: what search() was given
    return kwargs


def _timed_fit(
    hypermodel: Any,
    hp: Any,
    model: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    kwargs: dict[str, Any],
    *,
    custom_fit: bool,
) -> tuple[Any, float]:
    """Fits (with the hypermodel's own ``fit`` when it has one): its result and seconds."""
    start = time.perf_counter()
    if custom_fit:
        history = hypermodel.fit(hp, model, x_train, y_train, **kwargs)
    else:
        history = model.fit(x_train, y_train, **kwargs)
    return history, time.perf_counter() - start


def _fit_info(
    hist: dict,
    best: Any,
    returned: Any,
    *,
    epochs: int,
    initial_epoch: int,
    fit_seconds: float,
    train_rows: int,
) -> dict:
    """``fit_once``'s ``info``: best epoch (1-based), epochs run, time, rows, ``returned``."""
    epochs_run = max((len(v) for v in hist.values()), default=int(epochs))
    best_epoch = epochs_run
    if best is not None and best.best_epoch is not None:
        best_epoch = best.best_epoch - int(initial_epoch) + 1  # Keras counts from initial_epoch
    info = {
        "best_epoch": int(best_epoch),
        "epochs_run": int(epochs_run),
        "fit_seconds": fit_seconds,
        "train_rows": int(train_rows),
    }
    if returned is not None:
        info["returned"] = returned
    return info


def trial_weights_path(folder_pattern: str, trial_id: Any) -> str:
    """KerasTuner's checkpoint of a trial (``<project>/trial_<id>/checkpoint.weights.h5``)."""
    return os.path.join(folder_pattern.format(trial_id=trial_id), "checkpoint.weights.h5")


def save_trial_weights(model: Any, path: str) -> None:
    """Saves a trial's weights where KerasTuner keeps its checkpoint, with the build config
    beside it (KerasTuner's ``build_config.json``), each written whole before it replaces
    the old one."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)
    config = model.get_build_config() if hasattr(model, "get_build_config") else None
    if config:
        target = os.path.join(folder, "build_config.json")
        with open(target + f".tmp-{os.getpid()}", "w") as handle:
            json.dump(config, handle, default=_plain_number)
        os.replace(target + f".tmp-{os.getpid()}", target)


def load_trial_weights(model: Any, path: str) -> None:
    """Loads a trial's saved weights into a freshly built model (built first from the build
    config beside them when the model is not built yet), as KerasTuner's Hyperband does."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Hyperband continues this trial from its parent's weights, {path}, which do not "
            "exist (the parent trial failed, or its files were deleted); search again with "
            "overwrite=True"
        )
    if not getattr(model, "built", True):
        config_path = os.path.join(os.path.dirname(path), "build_config.json")
        if os.path.exists(config_path):
            with open(config_path) as handle:
                model.build_from_config(json.load(handle))
    model.load_weights(path)


def _read_fit_result(result: Any, model: Any, *, custom_fit: bool) -> tuple[dict, Any]:
    """``(history, returned)`` from what a fit returned: the per-epoch history (from the
    History, a ``History.history`` dict, or the model's own), and KerasTuner's custom
    objective when the hypermodel's ``fit`` returned one (see :func:`_returned_metrics`)."""
    returned = _returned_metrics(result) if custom_fit else None
    if isinstance(result, dict) and returned is None:  # fit() returned History.history
        hist = dict(result)
    else:
        if result is None or returned is not None:
            result = getattr(model, "history", None)
        hist = dict(getattr(result, "history", None) or {})
    return {k: [float(v) for v in values] for k, values in hist.items()}, returned


def _returned_metrics(value: Any) -> float | dict | None:
    """What ``HyperModel.fit`` returned when it is KerasTuner's custom objective: a number
    (the objective's value) or a dict of metric name -> number; None for a History, a
    History's ``history`` dict (metric name -> values per epoch) or nothing.

    Raises:
        ValueError: a dict holding something other than numbers.
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(v, (list, tuple, np.ndarray)) for v in value.values())
    ):
        return None  # per-epoch values: read as the fit's history
    if isinstance(value, dict):
        bad = {
            k: type(v).__name__
            for k, v in value.items()
            if isinstance(v, (bool, np.bool_))
            or not isinstance(v, (int, float, np.integer, np.floating))
        }
        if bad:
            raise ValueError(
                f"HyperModel.fit returned a dict with values that are not numbers: {bad}; "
                "return metric name -> number (or a History, or one number: the objective)"
            )
        return {str(k): float(v) for k, v in value.items()}
    return None


def run_trial(
    hypermodel: Any,
    values: dict[str, Any],
    arrays: dict[str, np.ndarray],
    splits: list[tuple[np.ndarray, np.ndarray]] | None,
    settings: Any,
    *,
    seed: int,
    space: Any = None,
    epoch_hook: Callable | None = None,
    clear: bool = True,
) -> dict[str, Any]:
    """Runs one trial and returns its record (metrics, epochs, timings, history).

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``.
        values: the trial's hyperparameter values.
        arrays: ``x_train``, ``y_train`` and (without ``splits``) ``x_val``, ``y_val``.
        splits: list of ``(train_idx, val_idx)`` into ``x_train``, or None.
        settings: the search's :class:`~lib.tuning._settings.TrialSettings`.
        seed: the trial's seed: fold ``i``, execution ``j`` (of ``settings.executions``)
            uses ``seed + i + j * folds``, so one execution keeps ``seed + i``.
        space: the search space (HyperParameters or config) the values belong to.
        epoch_hook: optional ``hook(epoch, logs, model, x_val, y_val)`` called after each epoch
            (the Ray backend reports to ASHA from it).
        clear: clear the Keras session after each fold (worker processes).

    Returns:
        A dict with ``objective``, the ``val_*`` metrics (means over the folds and
        executions, KerasTuner's average of ``executions_per_trial``), with folds
        ``<objective>_std`` and ``<objective>_fold<i>`` (each fold's mean over the executions),
        with several executions ``<objective>_execution<j>`` (each execution's mean over the
        folds), ``best_epoch``, ``epochs_run``, ``fit_seconds``, ``seconds``, ``history``.
        Without folds the model kept (``settings.checkpoint_path``) is the best execution's,
        as KerasTuner keeps the best epoch over the executions.
    """
    start = time.perf_counter()
    hp = make_hyperparameters(values, space)
    epochs = int(values.get(HYPERBAND_PREFIX + "epochs", settings.epochs))
    folds = _fold_arrays(arrays, splits)
    executions = max(int(getattr(settings, "executions", 1)), 1)
    runs = [(fold, execution) for execution in range(executions) for fold in range(len(folds))]
    fold_metrics, histories, infos = _fit_runs(
        hypermodel,
        hp,
        values,
        folds,
        runs,
        settings,
        seed=seed,
        epochs=epochs,
        folded=splits is not None,
        epoch_hook=epoch_hook,
        clear=clear,
    )
    record = _aggregate(
        fold_metrics, histories, infos, settings.objective, runs=runs, folds=splits is not None
    )
    record.update(_hyperparameter_entries(hp, values, space))
    record["pid"] = os.getpid()  # the process that ran it (a worker, a Ray actor or the caller)
    record["seconds"] = time.perf_counter() - start
    return record


def _fit_runs(
    hypermodel: Any,
    hp: Any,
    values: dict[str, Any],
    folds: list[tuple],
    runs: list[tuple[int, int]],
    settings: Any,
    *,
    seed: int,
    epochs: int,
    folded: bool,
    epoch_hook: Callable | None,
    clear: bool,
) -> tuple[list[dict], list[dict], list[dict]]:
    """Fits and scores each ``(fold, execution)`` of ``runs``: their metrics, histories, infos."""
    fold_metrics, histories, infos = [], [], []
    weights = getattr(settings, "trial_weights", None)
    continuation = _continuation(values, weights)
    best_saved = None
    for fold, execution in runs:
        x_tr, y_tr, x_va, y_va = folds[fold]
        index = fold + execution * len(folds)
        callbacks = _run_callbacks(
            hp, settings, fold if folded else None, execution, epoch_hook, x_va, y_va
        )
        model, hist, info = fit_once(
            hypermodel,
            hp,
            x_tr,
            y_tr,
            validation_data=(x_va, y_va),
            epochs=epochs,
            batch_size=settings.fit_batch_size,
            seed=seed + index,
            monitor=settings.monitor,
            monitor_mode=settings.monitor_mode,
            early_stopping=settings.early_stopping,
            reduce_lr=settings.reduce_lr,
            class_weight=settings.class_weight,
            callbacks=callbacks,
            verbose=settings.fit_verbose,
            shuffle=settings.shuffle,
            compile_overrides=settings.compile_overrides,
            **continuation,
        )
        metrics = _fit_metrics(model, hist, info, x_va, y_va, settings)
        if not folded:
            best_saved = _save_run_model(model, metrics, settings, weights, best_saved)
        fold_metrics.append(metrics)
        histories.append(hist)
        infos.append(info)
        del model
        if clear:
            keras.backend.clear_session(free_memory=False)  # collected once, below
    if clear:
        _collect()
    return fold_metrics, histories, infos


def _run_callbacks(
    hp: Any,
    settings: Any,
    fold: int | None,
    execution: int,
    epoch_hook: Callable | None,
    x_val: np.ndarray,
    y_val: np.ndarray,
) -> list:
    """One fit's callbacks: the search's (fresh), their TensorBoard HParams, the epoch hook."""
    extra = []
    if epoch_hook is not None:
        extra.append(_hook_callback(epoch_hook, x_val, y_val))
    callbacks = settings.fresh_callbacks()
    callbacks += tensorboard_folders(
        callbacks, hp, settings.trial_id, fold=fold, execution=execution
    )
    return callbacks + extra


def _save_run_model(
    model: Any, metrics: dict, settings: Any, weights: str | None, best_saved: Any
) -> Any:
    """Saves a fit without folds where it beats the trial's weights or the search's best."""
    objective = settings.objective
    if weights and _improves(metrics.get(objective), best_saved, settings.direction):
        best_saved = metrics.get(objective)  # the best execution's, for its promotion
        save_trial_weights(model, trial_weights_path(weights, settings.trial_id))
    if settings.checkpoint_path:
        _maybe_checkpoint(model, metrics[objective], settings)
    return best_saved


def _hyperparameter_entries(hp: Any, values: dict[str, Any], space: Any) -> dict[str, Any]:
    """The record's ``new_hyperparameters`` and ``untuned_values`` (from the build's ``hp``)."""
    entries: dict[str, Any] = {}
    grown = new_hyperparameters(hp, space)
    if grown is not None:
        entries["new_hyperparameters"] = grown
    filled = {
        name: value
        for name, value in hp.values.items()
        if name not in values and (grown is None or name not in grown["values"])
    }
    if filled:  # entries the oracle does not tune, at the values the build used (defaults)
        entries["untuned_values"] = filled
    return entries


def _collect() -> None:
    """The garbage collection after a trial. In a trial process (imports frozen), a full one,
    then what survived is frozen too (kept by TensorFlow and Keras), so the collections stay
    as short as the first instead of lengthening per trial. In the caller's own process
    (``workers=0``, the stacked executor), whose heap the engine does not freeze, a full
    collection walks every object of the session (0.2 s and more a trial): the young
    generations only, the older ones left to Python's own schedule."""
    if imports_frozen():
        gc.collect()
        gc.freeze()
    else:
        gc.collect(1)


def _continuation(values: dict, weights: str | None) -> dict:
    """``fit_once`` arguments that continue a trial Hyperband promoted from its parent's
    weights at ``tuner/initial_epoch``; empty for any other trial."""
    parent = values.get(HYPERBAND_PREFIX + "trial_id")
    if not weights or parent is None:
        return {}
    return {
        "initial_weights": trial_weights_path(weights, parent),
        "initial_epoch": int(values.get(HYPERBAND_PREFIX + "initial_epoch", 0)),
    }


def _improves(value: Any, best: Any, direction: str) -> bool:
    if value is None or not np.isfinite(value):
        return best is None
    if best is None or not np.isfinite(best):
        return True
    return value < best if direction == "min" else value > best


def _fold_arrays(arrays: dict, splits: list | None) -> list[tuple]:
    """``(x_train, y_train, x_val, y_val)`` of each fold (one without ``splits``)."""
    if splits is None:
        return [(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"])]
    x, y = arrays["x_train"], arrays["y_train"]
    return [(x[tr], y[tr], x[va], y[va]) for tr, va in splits]


def _fit_metrics(
    model: Any, hist: dict, info: dict, x_val: np.ndarray, y_val: np.ndarray, settings: Any
) -> dict:
    """One fit's validation metrics: the engine's, then what the hypermodel's ``fit``
    returned (KerasTuner's custom objective), then the objective from the history at the
    best epoch when it is a Keras metric.

    Raises:
        ValueError: the objective is none of these.
    """
    objective = settings.objective
    try:  # (a custom fit may feed the model other inputs than x_val: then predict fails)
        outputs = predict(model, x_val)
        _refuse_nonfinite_outputs(outputs)  # a FailedTrialError, not caught here
        metrics = score(settings.task, y_val, outputs, labels=settings.labels)
    except ValueError:
        if objective not in hist:
            raise
        # outputs the engine's metrics cannot read (e.g. an mse loss on a softmax and class
        # ids): the objective is the model's own Keras metric, read from the history as
        # KerasTuner reads it
        metrics = {}
    returned = info.pop("returned", None)
    if isinstance(returned, dict):
        metrics.update(returned)
    elif returned is not None:
        metrics[objective] = returned
    if objective not in metrics:
        if objective not in hist:
            available = sorted(set(metrics) | set(hist))
            raise ValueError(
                f"objective {objective!r} is neither an engine metric nor reported by the "
                f"model; available: {available}. Pick one of these or add the metric to "
                "the model's compile()"
            )
        metrics[objective] = float(hist[objective][info["best_epoch"] - 1])
    return metrics


def _refuse_nonfinite_outputs(outputs: np.ndarray) -> None:
    """Fails the trial (never a score) when the model's outputs hold NaN or infinity."""
    outputs = np.asarray(outputs)
    if outputs.dtype.kind != "f" or not outputs.size:
        return
    bad = ~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)
    if bad.any():
        raise FailedTrialError(
            f"the trained model's outputs are NaN or infinite on {int(bad.sum())} of "
            f"{len(outputs)} validation rows (training diverged: too high a learning rate, or "
            "inputs too large for float32; scale the inputs); the trial failed, not scored"
        )


def _aggregate(
    fold_metrics: list[dict],
    histories: list[dict],
    infos: list[dict],
    objective: str,
    *,
    runs: list[tuple[int, int]],
    folds: bool,
) -> dict[str, Any]:
    """A trial's record from its fits (one per ``(fold, execution)`` of ``runs``): metric
    means, the objective per fold and per execution, epochs, history."""
    record: dict[str, Any] = {}
    keys = [k for k in fold_metrics[0] if all(k in m for m in fold_metrics)]
    for key in keys:
        record[key] = float(np.mean([m[key] for m in fold_metrics]))
    values = np.array([m[objective] for m in fold_metrics], dtype=np.float64)
    fold_of = np.array([fold for fold, _ in runs])
    execution_of = np.array([execution for _, execution in runs])
    record["objective"] = float(np.mean(values))
    if folds:
        per_fold = [float(np.mean(values[fold_of == i])) for i in range(fold_of.max() + 1)]
        record[f"{objective}_std"] = float(np.std(per_fold))
        for index, value in enumerate(per_fold):
            record[f"{objective}_fold{index}"] = value
    if execution_of.max() > 0:
        for index in range(execution_of.max() + 1):
            record[f"{objective}_execution{index}"] = float(np.mean(values[execution_of == index]))
    record["best_epoch"] = int(round(float(np.median([i["best_epoch"] for i in infos]))))
    record["epochs_run"] = int(round(float(np.median([i["epochs_run"] for i in infos]))))
    record["fit_seconds"] = float(sum(i["fit_seconds"] for i in infos))
    history = dict(histories[0])
    for (fold, execution), hist in zip(runs[1:], histories[1:], strict=True):
        prefix = (f"fold{fold}/" if folds else "") + (f"execution{execution}/" if execution else "")
        history.update({f"{prefix}{k}": v for k, v in hist.items()})
    record["history"] = history
    return record


def tensorboard_folders(
    callbacks: list,
    hp: Any,
    trial_id: str | None,
    *,
    fold: int | None = None,
    execution: int = 0,
) -> list:
    """Gives each ``keras.callbacks.TensorBoard`` among one fit's ``callbacks`` a folder of
    its own, as KerasTuner does: ``<log_dir>/<trial_id>/execution<j>`` (with folds
    ``<log_dir>/<trial_id>/fold<i>/execution<j>``), and returns the HParams callbacks that
    record the trial's hyperparameters there (none without the ``tensorboard`` package), so
    TensorBoard's HParams dashboard compares the trials."""
    boards = [c for c in callbacks if isinstance(c, keras.callbacks.TensorBoard)]
    if not boards:
        return []
    parts = [str(trial_id if trial_id is not None else "trial")]
    if fold is not None:
        parts.append(f"fold{fold}")
    parts.append(f"execution{execution}")
    try:
        from tensorboard.plugins.hparams import api as hparams_api
    except ImportError:  # pragma: no cover  (TensorFlow installs it)
        hparams_api = None
    added = []
    for board in boards:
        board.log_dir = os.path.join(str(board.log_dir), *parts)
        if hparams_api is not None:
            added.append(
                hparams_api.KerasCallback(
                    writer=board.log_dir, hparams=dict(hp.values), trial_id=parts[0]
                )
            )
    return added


def _hook_callback(hook: Callable, x_val: np.ndarray, y_val: np.ndarray) -> Any:
    class EpochHook(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            hook(epoch, dict(logs or {}), self.model, x_val, y_val)

    return EpochHook()


def _maybe_checkpoint(model: Any, value: float, settings: Any) -> None:
    """Saves ``model`` atomically when ``value`` beats or ties ``settings.checkpoint_best``
    (a tie may still rank first: the keeper breaks ties as the oracle does, and trials
    finish out of order)."""
    if not better(value, settings.checkpoint_best, settings.direction, or_tie=True):
        return
    save_model(model, settings.checkpoint_path)
    settings.checkpoint_best = float(value)


def dry_history_keys(
    hypermodel: Any, space: Any, arrays: dict, splits: list | None, settings: Any
) -> list[str]:
    """History keys a 1-epoch fit on a few rows reports (to check a Keras-metric objective)."""
    if splits is None:
        x_tr, y_tr = arrays["x_train"][:32], arrays["y_train"][:32]
        x_va, y_va = arrays["x_val"][:32], arrays["y_val"][:32]
    else:
        tr, va = splits[0]
        x_tr, y_tr = arrays["x_train"][tr[:32]], arrays["y_train"][tr[:32]]
        x_va, y_va = arrays["x_train"][va[:32]], arrays["y_train"][va[:32]]
    values = {hp.name: hp.default for hp in space.space if space.is_active(hp)}
    hp = make_hyperparameters(values, space)
    hp.values.pop("resampling", None)
    model, hist, info = fit_once(
        hypermodel,
        hp,
        x_tr,
        y_tr,
        validation_data=(x_va, y_va),
        epochs=1,
        batch_size=settings.fit_batch_size,
        monitor=None,
        compile_overrides=settings.compile_overrides,
    )
    del model
    keras.backend.clear_session(free_memory=False)
    _collect()
    returned = info.get("returned")
    keys = set(hist) | (set(returned) if isinstance(returned, dict) else set())
    if returned is not None and not isinstance(returned, dict):
        keys.add(settings.objective)  # a number returned by fit() is the objective
    return sorted(keys)


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
    if early_stopping and validation_data is None:
        raise ValueError("early_stopping needs validation_data; pass it or set early_stopping=None")
    x_val, y_val = validation_data if validation_data is not None else (None, None)
    check_inputs(Data(x, y, x_val, y_val), epochs=epochs, allow_nonfinite=allow_nonfinite)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or (batch_size < 1)
    ):
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    model, history, _ = fit_once(
        hypermodel,
        make_hyperparameters(hparams),
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
