"""One trial: build, (resample,) fit and score a hypermodel with fixed hyperparameters.

This module is the single fit path shared by the in-process runner, the recycled worker
processes, the Ray Tune trainable and :func:`lib.tuning.fit_final`, so a configuration is
trained the same way wherever it runs. It imports Keras lazily: the parent process of a
search never needs to build a model.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# The set-up of a trial process (re-exported: workers and the Ray backend call it from here).
from lib.tuning._process import (  # noqa: F401
    claim_core,
    freeze_imports,
    imports_frozen,
    prepare_trial_process,
    quiet_input_pipeline,
    set_threads,
)

# Values of the "resampling" hyperparameter that mean "leave the training fold alone".
NO_RESAMPLING = (None, False, "none", "None", "")

# Names of hyperparameters the Hyperband oracle adds to every trial.
HYPERBAND_PREFIX = "tuner/"


def trial_seed(seed: int, index: int) -> int:
    """Deterministic 31-bit seed of trial ``index`` of a search seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (2**31 - 1))


def space_from_config(config: dict) -> Any:
    """``keras_tuner.HyperParameters.from_config`` on a copy: KerasTuner turns the config's
    ``conditions`` into ``Parent`` objects in place, which would make the stored config
    unserialisable (conditional hyperparameters, e.g. ``conditional_scope``)."""
    import keras_tuner

    return keras_tuner.HyperParameters.from_config(copy.deepcopy(config))


def make_hyperparameters(values: dict[str, Any], space: Any = None) -> Any:
    """A ``keras_tuner.HyperParameters`` whose lookups return ``values``.

    Args:
        values: hyperparameter name -> value.
        space: optional ``HyperParameters`` (or its config dict) holding the search
            space; copied so conditional scopes behave as during the search.

    Returns:
        A ``keras_tuner.HyperParameters``.
    """
    import keras_tuner

    if space is None:
        hp = keras_tuner.HyperParameters()
    elif isinstance(space, dict):
        hp = space_from_config(space)
    else:
        hp = space.copy()
    hp.values = dict(values)
    if space is not None:  # entries the oracle does not tune (tune_new_entries=False, or
        for entry in hp.space:  # added after the trial was made) take their defaults
            if entry.name not in hp.values and hp.is_active(entry):
                hp.values[entry.name] = entry.default
    return hp


def _overrides(hypermodel: Any, name: str) -> bool:
    """True when ``hypermodel`` is a KerasTuner HyperModel that overrides method ``name``."""
    import keras_tuner

    if not isinstance(hypermodel, keras_tuner.HyperModel):
        return False
    method = getattr(type(hypermodel), name, None)
    return callable(method) and method is not getattr(keras_tuner.HyperModel, name, None)


def build(hypermodel: Any, hp: Any, compile_overrides: dict | None = None) -> Any:
    """Calls ``hypermodel.build(hp)`` (HyperModel) or ``hypermodel(hp)`` (plain callable);
    with ``compile_overrides`` (the tuner's ``optimizer`` / ``loss`` / ``metrics``) the model
    is compiled again with them, as ``keras_tuner.Tuner`` does."""
    import keras_tuner

    if isinstance(hypermodel, keras_tuner.HyperModel):
        model = hypermodel.build(hp)
    elif callable(hypermodel):
        model = hypermodel(hp)
    else:
        raise TypeError(
            f"hypermodel must be a keras_tuner.HyperModel or a callable build(hp), got "
            f"{type(hypermodel).__name__}; wrap your builder in a function of hp"
        )
    if model is None or not hasattr(model, "fit"):
        raise TypeError(
            f"the hypermodel's build(hp) returned {type(model).__name__}, expected a compiled "
            "keras.Model; return the model at the end of build()"
        )
    if compile_overrides:
        _recompile(model, compile_overrides)
    return model


def _recompile(model: Any, overrides: dict) -> None:
    """KerasTuner's ``Tuner._override_compile_args``: the model's own compile settings (from
    its compile config, so the model still saves), each replaced where the tuner was given
    one (an optimizer object is copied through its config, so no two models share it)."""
    import keras

    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    kwargs = dict(keras.saving.deserialize_keras_object(config)) if config else {}
    kwargs.setdefault("optimizer", "rmsprop")  # Keras' default for a model never compiled
    if overrides.get("loss"):
        kwargs["loss"] = overrides["loss"]
    if overrides.get("optimizer"):
        optimizer = overrides["optimizer"]
        kwargs["optimizer"] = optimizer if isinstance(optimizer, str) else (
            keras.optimizers.deserialize(optimizer))
    if overrides.get("metrics"):
        kwargs["metrics"] = overrides["metrics"]
    model.compile(**kwargs)


def compile_overrides(optimizer: Any, loss: Any, metrics: Any) -> dict | None:
    """The tuner's compile overrides in a form that travels to worker processes (an
    optimizer object as its Keras config), or None when none was given."""
    if not (optimizer or loss or metrics):
        return None
    import keras

    if optimizer and not isinstance(optimizer, str):
        optimizer = keras.optimizers.serialize(optimizer)
    return {"optimizer": optimizer, "loss": loss, "metrics": list(metrics) if metrics else None}


def new_hyperparameters(hp: Any, space: Any) -> dict | None:
    """The hyperparameters a trial's build declared that ``space`` lacks, or None.

    A hyperparameter declared under a Python ``if`` on another one (``if hp.Boolean("deep"):
    hp.Int("units_2", ...)``) appears only in the trials that take that branch; KerasTuner's
    oracle adds it to the space when such a trial ends (``Oracle.end_trial`` ->
    ``update_space``), and its grid then walks its values too. Returned as
    ``{"config": HyperParameters config of the new ones, "values": their values}``, JSON-ready,
    so the parent can grow the oracle's space as KerasTuner does and a resume can replay it.
    """
    import keras_tuner

    known = make_hyperparameters({}, space) if space is not None else keras_tuner.HyperParameters()
    new = [entry for entry in hp.space if not known._exists(entry.name, entry.conditions)]
    if not new:
        return None
    holder = keras_tuner.HyperParameters()
    holder.merge(new)
    config = holder.get_config()
    config["values"] = {}
    values = {entry.name: hp.values[entry.name] for entry in new if entry.name in hp.values}
    return {"config": json.loads(json.dumps(config, default=_plain_number)), "values": values}


def _plain_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def grow_trial(trial: Any, grown: dict | None) -> None:
    """Adds what :func:`new_hyperparameters` found to ``trial.hyperparameters`` (space and
    values), so ``oracle.end_trial(trial)`` grows the oracle's space as in KerasTuner."""
    if not grown:
        return
    added = space_from_config(grown["config"])
    hp = trial.hyperparameters
    hp.merge([entry for entry in added.space if not hp._exists(entry.name, entry.conditions)])
    values = dict(hp.values)
    values.update(grown.get("values", {}))
    hp.values = values


def add_untuned(trial: Any, untuned: dict | None) -> None:
    """Adds the values a trial's build used for entries the oracle does not tune
    (``tune_new_entries=False``: their defaults) to ``trial.hyperparameters``, so the trial
    holds every value it ran with, as a KerasTuner trial does."""
    if untuned:
        values = dict(trial.hyperparameters.values)
        for name, value in untuned.items():
            values.setdefault(name, value)
        trial.hyperparameters.values = values


class _DryModel:
    """Stands in for a model during space discovery: ``fit`` records nothing and trains nothing."""

    def __init__(self, model: Any):
        self._model = model

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        import keras

        history = keras.callbacks.History()
        history.history = {}
        return history

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def discover_space(
    hypermodel: Any, x_sample: np.ndarray, y_sample: np.ndarray, *, batch_size: int = 32,
    info: dict | None = None, compile_overrides: dict | None = None, initial: Any = None,
    validation_sample: tuple | None = None,
) -> Any:
    """Finds every hyperparameter of a hypermodel (KerasTuner's dry builds, conditions included).

    Builds the model with default values, calls ``callbacks(hp)`` and ``fit(hp, ...)`` (with a
    model whose ``fit`` does nothing, so hyperparameters declared there, such as a batch size,
    are found), and repeats with values that switch on conditional scopes not yet active, as
    ``keras_tuner.Tuner`` does before a search.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or a callable ``build(hp)``.
        x_sample: a few training rows (only passed to a custom ``fit``).
        y_sample: their targets.
        batch_size: batch size passed to a custom ``fit`` during the dry call (None: none,
            as when ``search()`` was given none: the ``fit`` may choose its own).
        initial: the space to start from (the tuner's ``hyperparameters=``, with their
            values and defaults), or None.
        validation_sample: a few validation rows ``(x, y)`` passed to a custom ``fit`` as
            ``validation_data``, as every trial's fit gets it, or None.
        info: if given, filled from the model built with the default values: ``outputs``
            (size of its last output axis) and ``signature`` (a hash of its layers' classes and
            configurations without names, its loss and its parameter count: what resume
            compares to refuse a different model with the same space).

    Returns:
        The ``keras_tuner.HyperParameters`` search space.
    """
    import keras
    import keras_tuner

    space = initial.copy() if initial is not None else keras_tuner.HyperParameters()
    if isinstance(hypermodel, keras_tuner.HyperModel):
        hypermodel.declare_hyperparameters(space)

    def merge(hp: Any) -> None:
        new = [h for h in hp.space if not space._exists(h.name, h.conditions)]
        space.merge(new)

    never_active: list = []
    once_active: list = []
    hp = space.copy()
    for _ in range(100):
        model = build(hypermodel, hp, compile_overrides)
        called = _build_on_sample(model, x_sample)
        if info is not None and not info:
            info.update(describe_model(model, called))
        if _overrides(hypermodel, "callbacks"):
            hypermodel.callbacks(hp)
        if info is not None and "row_error" not in info:  # the default model, on two rows
            info["row_error"] = None if _overrides(hypermodel, "fit") else rows_error(
                model, x_sample, y_sample, validation_sample)
        if _overrides(hypermodel, "fit"):
            kwargs = {"epochs": 1, "verbose": 0}
            if "batch_size" not in hp.values and batch_size is not None:
                kwargs["batch_size"] = batch_size
            if validation_sample is not None:  # as the trials' fit gets it
                kwargs["validation_data"] = validation_sample
            hypermodel.fit(hp, _DryModel(model), x_sample, y_sample, **kwargs)
        del model
        keras.backend.clear_session(free_memory=False)  # collected once, after the loop
        merge(hp)
        for conditions in hp.active_scopes:
            if conditions not in once_active:
                once_active.append(copy.deepcopy(conditions))
            if conditions in never_active:
                never_active.remove(conditions)
        for conditions in hp.inactive_scopes:
            if conditions not in once_active and conditions not in never_active:
                never_active.append(copy.deepcopy(conditions))
        if not never_active:
            break
        hp = space.copy()
        for condition in never_active[0]:
            hp.values[condition.name] = condition.values[0]
        hp.ensure_active_values()
    # The dry models' garbage is young: collecting generations 0-1 finds all of it, while a
    # full collection (per dry build, as clear_session() does by default) would walk
    # everything imported, in the caller's own process too (in-process discovery).
    gc.collect(1)
    return space


def rows_error(model: Any, x: Any, y: Any, validation: tuple | None) -> str | None:
    """Computes a compiled model's loss on two training rows and on two validation rows, so
    that inputs of the wrong shape or dtype and targets that do not fit the loss are refused
    before the first trial, not found by three failed trials.

    Returns:
        None, or the message of the refusal: the array, its shape and dtype, and Keras' own
        message.
    """
    if x is None or y is None or not getattr(model, "compiled", False):
        return None
    parts = [("x_train / y_train", x, y)]
    if validation is not None:
        parts.append(("x_val / y_val", *validation))
    for name, rows_x, rows_y in parts:
        rows_x, rows_y = np.asarray(rows_x[:2]), np.asarray(rows_y[:2])
        try:  # eager: no tf.function traced for this check
            model.compute_loss(x=rows_x, y=rows_y, y_pred=model(rows_x, training=False),
                               training=False)
        except Exception as error:  # noqa: BLE001  (Keras raises many types; all are input errors here)
            first = _keras_reason(error)
            return (
                f"the model built with the space's default values fails on two rows of {name} "
                f"(x: shape {rows_x.shape[1:]} per row, dtype {rows_x.dtype}; y: shape "
                f"{rows_y.shape[1:]} per row, dtype {rows_y.dtype}): {type(error).__name__}: "
                f"{first}. Check that x's shape matches the model's input and that the targets "
                "fit its loss (class ids 0..k-1 for sparse_categorical_crossentropy, one-hot "
                "rows for categorical_crossentropy); no trial has run"
            )
    return None


def _keras_reason(error: BaseException) -> str:
    """The line of a Keras error that says what is wrong (not "Exception encountered when
    calling ..."), without terminal colour codes."""
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).split("\n")]
    lines = [line for line in lines if line and not line.startswith("Exception encountered")]
    return (lines[0] if lines else repr(error))[:400]


def _describe_loss(loss: Any) -> Any:
    """A loss as plain data: its name, or its class and configuration (never an address)."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, (list, tuple)):
        return [_describe_loss(item) for item in loss]
    if isinstance(loss, dict):
        return {key: _describe_loss(item) for key, item in loss.items()}
    described: dict[str, Any] = {"class": getattr(type(loss), "__qualname__", type(loss).__name__)}
    if hasattr(loss, "get_config"):
        try:
            described["config"] = loss.get_config()
        except Exception:  # a loss whose config cannot be read: its class stands for it
            pass
    elif callable(loss):
        described["class"] = getattr(loss, "__qualname__", repr(type(loss)))
    return described


def _build_on_sample(model: Any, x_sample: Any) -> Any:
    """Builds a model that ``build(hp)`` returned unbuilt (a ``Sequential`` without
    ``keras.Input``, a subclassed model) by calling it on two sample rows, as its first
    ``fit`` would (hyperparameters declared in its ``call`` join the space); returns the
    output of that call, or None when the model was built already or the call failed (the
    trial's own fit then reports the error)."""
    if getattr(model, "built", True) or x_sample is None:
        return None
    try:
        return model(x_sample[:2])
    except Exception:  # noqa: BLE001  (the trial's fit raises it with its context)
        return None


def describe_model(model: Any, output: Any = None) -> dict:
    """``outputs`` (last output axis) and ``signature`` (layers without names, loss, size);
    ``output``: the model's output on sample rows, for a model without an ``output_shape``."""
    import hashlib
    import json

    layers = []
    for layer in getattr(model, "layers", []):
        try:
            config = {k: v for k, v in layer.get_config().items() if k != "name"}
        except Exception:  # a layer without a config: its class stands for it
            config = {}
        layers.append([type(layer).__name__, config])
    text = json.dumps(
        [layers, _describe_loss(getattr(model, "loss", None)),
         int(model.count_params()) if getattr(model, "built", True) else None],
        sort_keys=True, default=str,
    )
    outputs = None
    try:
        shape = getattr(model, "output_shape", None)
    except (AttributeError, ValueError):  # a subclassed model has none
        shape = None
    if shape is None and output is not None and hasattr(output, "shape"):
        shape = tuple(output.shape)
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
        outputs = int(shape[-1])
    return {"outputs": outputs, "signature": hashlib.sha256(text.encode()).hexdigest()[:24]}


class _BestWeights:
    """Keras callback factory: keeps the weights of the best epoch and restores them at the end."""

    @staticmethod
    def make(monitor: str, mode: str) -> Any:
        import keras

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
                better = value < self.best if mode == "min" else value > self.best
                if better or self.weights is None:
                    self.best, self.best_epoch = float(value), epoch
                    self.weights = self.model.get_weights()

            def on_train_end(self, logs: dict | None = None) -> None:
                if self.weights is not None:
                    self.model.set_weights(self.weights)
                self.weights = None

        return BestWeights()


def _fit_callbacks(
    hypermodel: Any, hp: Any, callbacks: Sequence | None, *, validation: bool,
    monitor: str | None, monitor_mode: str, early_stopping: int | None, reduce_lr: dict | None,
) -> tuple[list, Any]:
    """The callbacks of one fit (the caller's, best weights, early stopping, learning-rate
    schedule, the hypermodel's own) and the best-weights keeper (None without one)."""
    import keras

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
    import keras

    method = hp.values.get("resampling")
    if method not in NO_RESAMPLING:
        from lib.resampling import resample

        x_train, y_train = resample(x_train, y_train, method=str(method), seed=int(seed))
    else:
        x_train, y_train = np.asarray(x_train), np.asarray(y_train)

    keras.utils.set_random_seed(int(seed))
    model = build(hypermodel, hp, compile_overrides)
    if initial_weights:
        load_trial_weights(model, initial_weights)

    all_callbacks, best = _fit_callbacks(
        hypermodel, hp, callbacks, validation=validation_data is not None, monitor=monitor,
        monitor_mode=monitor_mode, early_stopping=early_stopping, reduce_lr=reduce_lr,
    )

    custom_fit = _overrides(hypermodel, "fit")
    kwargs: dict[str, Any] = {
        "epochs": int(epochs), "callbacks": all_callbacks, "verbose": verbose,
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

    start = time.perf_counter()
    if custom_fit:
        history = hypermodel.fit(hp, model, x_train, y_train, **kwargs)
    else:
        history = model.fit(x_train, y_train, **kwargs)
    fit_seconds = time.perf_counter() - start

    hist, returned = _read_fit_result(history, model, custom_fit=custom_fit)
    epochs_run = max((len(v) for v in hist.values()), default=int(epochs))
    best_epoch = epochs_run
    if best is not None and best.best_epoch is not None:
        best_epoch = best.best_epoch - int(initial_epoch) + 1  # Keras counts from initial_epoch
    info = {
        "best_epoch": int(best_epoch),
        "epochs_run": int(epochs_run),
        "fit_seconds": fit_seconds,
        "train_rows": int(len(x_train)),
    }
    if returned is not None:
        info["returned"] = returned
    return model, hist, info


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
    if isinstance(value, dict) and value and all(
        isinstance(v, (list, tuple, np.ndarray)) for v in value.values()
    ):
        return None  # per-epoch values: read as the fit's history
    if isinstance(value, dict):
        bad = {k: type(v).__name__ for k, v in value.items()
               if isinstance(v, (bool, np.bool_)) or not isinstance(
                   v, (int, float, np.integer, np.floating))}
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
    import keras

    start = time.perf_counter()
    hp = make_hyperparameters(values, space)
    objective = settings.objective
    epochs = int(values.get(HYPERBAND_PREFIX + "epochs", settings.epochs))
    folds = _fold_arrays(arrays, splits)
    executions = max(int(getattr(settings, "executions", 1)), 1)
    runs = [(fold, execution) for execution in range(executions) for fold in range(len(folds))]
    fold_metrics, histories, infos = [], [], []
    weights = getattr(settings, "trial_weights", None)
    continuation = _continuation(values, weights)
    best_saved = None
    for fold, execution in runs:
        x_tr, y_tr, x_va, y_va = folds[fold]
        index = fold + execution * len(folds)
        extra = []
        if epoch_hook is not None:
            extra.append(_hook_callback(epoch_hook, x_va, y_va))
        callbacks = settings.fresh_callbacks()
        callbacks += tensorboard_folders(
            callbacks, hp, settings.trial_id, fold=fold if splits is not None else None,
            execution=execution,
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
            callbacks=callbacks + extra,
            verbose=settings.fit_verbose,
            shuffle=settings.shuffle,
            compile_overrides=settings.compile_overrides,
            **continuation,
        )
        metrics = _fit_metrics(model, hist, info, x_va, y_va, settings)
        if weights and splits is None and _improves(metrics.get(objective), best_saved,
                                                    settings.direction):
            best_saved = metrics.get(objective)  # the best execution's, for its promotion
            save_trial_weights(model, trial_weights_path(weights, settings.trial_id))
        fold_metrics.append(metrics)
        histories.append(hist)
        infos.append(info)
        if settings.checkpoint_path and splits is None:
            _maybe_checkpoint(model, metrics[objective], settings)
        del model
        if clear:
            keras.backend.clear_session()
    if clear:
        gc.collect()
        if imports_frozen():
            # what survived the collection is kept by TensorFlow and Keras; frozen too, the
            # later collections stay as short as the first instead of lengthening per trial
            gc.freeze()

    record = _aggregate(fold_metrics, histories, infos, objective, runs=runs,
                        folds=splits is not None)
    grown = new_hyperparameters(hp, space)
    if grown is not None:
        record["new_hyperparameters"] = grown
    filled = {name: value for name, value in hp.values.items()
              if name not in values and (grown is None or name not in grown["values"])}
    if filled:  # entries the oracle does not tune, at the values the build used (defaults)
        record["untuned_values"] = filled
    record["pid"] = os.getpid()  # the process that ran it (a worker, a Ray actor or the caller)
    record["seconds"] = time.perf_counter() - start
    return record


def _continuation(values: dict, weights: str | None) -> dict:
    """``fit_once`` arguments that continue a trial Hyperband promoted from its parent's
    weights at ``tuner/initial_epoch``; empty for any other trial."""
    parent = values.get(HYPERBAND_PREFIX + "trial_id")
    if not weights or parent is None:
        return {}
    return {"initial_weights": trial_weights_path(weights, parent),
            "initial_epoch": int(values.get(HYPERBAND_PREFIX + "initial_epoch", 0))}


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


def _fit_metrics(model: Any, hist: dict, info: dict, x_val: np.ndarray, y_val: np.ndarray,
                 settings: Any) -> dict:
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
        from keras_tuner.errors import FailedTrialError

        raise FailedTrialError(
            f"the trained model's outputs are NaN or infinite on {int(bad.sum())} of "
            f"{len(outputs)} validation rows (training diverged: too high a learning rate, or "
            "inputs too large for float32; scale the inputs); the trial failed, not scored"
        )


def _aggregate(
    fold_metrics: list[dict], histories: list[dict], infos: list[dict], objective: str, *,
    runs: list[tuple[int, int]], folds: bool,
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
        prefix = (f"fold{fold}/" if folds else "") + (
            f"execution{execution}/" if execution else "")
        history.update({f"{prefix}{k}": v for k, v in hist.items()})
    record["history"] = history
    return record


def tensorboard_folders(
    callbacks: list, hp: Any, trial_id: str | None, *, fold: int | None = None,
    execution: int = 0,
) -> list:
    """Gives each ``keras.callbacks.TensorBoard`` among one fit's ``callbacks`` a folder of
    its own, as KerasTuner does: ``<log_dir>/<trial_id>/execution<j>`` (with folds
    ``<log_dir>/<trial_id>/fold<i>/execution<j>``), and returns the HParams callbacks that
    record the trial's hyperparameters there (none without the ``tensorboard`` package), so
    TensorBoard's HParams dashboard compares the trials."""
    import keras

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
            added.append(hparams_api.KerasCallback(
                writer=board.log_dir, hparams=dict(hp.values), trial_id=parts[0]))
    return added


def _hook_callback(hook: Callable, x_val: np.ndarray, y_val: np.ndarray) -> Any:
    import keras

    class EpochHook(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            hook(epoch, dict(logs or {}), self.model, x_val, y_val)

    return EpochHook()


def _maybe_checkpoint(model: Any, value: float, settings: Any) -> None:
    """Saves ``model`` atomically when ``value`` beats or ties ``settings.checkpoint_best``
    (a tie may still rank first: the keeper breaks ties as the oracle does, and trials
    finish out of order)."""
    best = settings.checkpoint_best
    if value is None or not np.isfinite(value):
        return
    if best is not None and np.isfinite(best):
        better = value <= best if settings.direction == "min" else value >= best
        if not better:
            return
    path = settings.checkpoint_path
    tmp = f"{path[: -len('.keras')]}.tmp-{os.getpid()}.keras"
    model.save(tmp)
    os.replace(tmp, path)
    settings.checkpoint_best = float(value)


def dry_history_keys(
    hypermodel: Any, space: Any, arrays: dict, splits: list | None, settings: Any
) -> list[str]:
    """History keys a 1-epoch fit on a few rows reports (to check a Keras-metric objective)."""
    import keras

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
        hypermodel, hp, x_tr, y_tr, validation_data=(x_va, y_va), epochs=1,
        batch_size=settings.fit_batch_size, monitor=None,
        compile_overrides=settings.compile_overrides,
    )
    del model
    keras.backend.clear_session()
    gc.collect()
    returned = info.get("returned")
    keys = set(hist) | (set(returned) if isinstance(returned, dict) else set())
    if returned is not None and not isinstance(returned, dict):
        keys.add(settings.objective)  # a number returned by fit() is the objective
    return sorted(keys)


try:  # pickles hypermodels defined in notebooks and tests (pinned in requirements.txt)
    import cloudpickle  # noqa: F401  (imported from here by the workers and the Ray backend)
except ImportError:  # pragma: no cover
    from ray import cloudpickle  # noqa: F401  (Ray vendors a copy)
