"""Search spaces: a hypermodel's space found by building its default model, the model built at a
point of the space, and space arithmetic (grid points, a summary table)."""

from __future__ import annotations

import copy
import gc
import json
import math
from typing import Any

import keras
import keras_tuner
import numpy as np
import pandas as pd


def _values(hp: Any) -> list | None:
    """The finite list of values a grid walks for one hyperparameter, or None (continuous)."""
    kind = type(hp).__name__
    if kind == "Fixed":
        return [hp.value]
    if kind == "Boolean":
        return [False, True]
    if kind == "Choice":
        return list(hp.values)
    if kind in ("Int", "Float"):
        try:
            return list(hp.values)
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def space_size(space: Any) -> int | None:
    """Grid points of a ``keras_tuner.HyperParameters`` space (what a grid search runs).

    Each hyperparameter counts the values KerasTuner's grid oracle walks (``hp.values``: a
    Float without ``step`` gives 10 evenly spaced ones); conditional hyperparameters count
    only under the parent values that activate them.

    Args:
        space: the space (e.g. ``tuner.oracle.get_space()``).

    Returns:
        The number of combinations, or None when a hyperparameter is continuous (a Float
        without ``step``).
    """
    hps = list(space.space)

    def count(index: int, active: dict) -> int | None:
        if index == len(hps):
            return 1
        hp = hps[index]
        if not all(c.is_active(active) for c in hp.conditions):
            return count(index + 1, active)
        values = _values(hp)
        if values is None:
            return None
        if not any(other.conditions for other in hps[index + 1 :]):
            rest = count(index + 1, active)
            return None if rest is None else len(values) * rest
        total = 0
        for value in values:
            rest = count(index + 1, {**active, hp.name: value})
            if rest is None:
                return None
            total += rest
        return total

    return count(0, {})


def space_table(space: Any) -> pd.DataFrame:
    """One row per hyperparameter: name, kind, the values a grid walks (or the range), default,
    and its conditions; ``frame.attrs["size"]`` holds :func:`space_size`."""
    rows = []
    for hp in space.space:
        values = _values(hp)
        if values is None:
            config = hp.get_config()
            shown = f"[{config.get('min_value')}, {config.get('max_value')}]"
            count = math.inf
        else:
            shown = ", ".join(str(v) for v in values)
            count = len(values)
        conditions = (
            "; ".join(f"{c.name} in {list(c.values)}" for c in hp.conditions)
            if hp.conditions
            else ""
        )
        rows.append(
            {
                "name": hp.name,
                "kind": type(hp).__name__,
                "values": shown,
                "count": count,
                "default": hp.default,
                "when": conditions,
            }
        )
    frame = pd.DataFrame(rows, columns=["name", "kind", "values", "count", "default", "when"])
    frame.attrs["size"] = space_size(space)
    return frame


def trial_seed(seed: int, index: int) -> int:
    """Deterministic 31-bit seed of trial ``index`` of a search seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (2**31 - 1))


def space_from_config(config: dict) -> Any:
    """``keras_tuner.HyperParameters.from_config`` on a copy: KerasTuner turns the config's
    ``conditions`` into ``Parent`` objects in place, which would make the stored config
    unserialisable (conditional hyperparameters, e.g. ``conditional_scope``)."""
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
    if not isinstance(hypermodel, keras_tuner.HyperModel):
        return False
    method = getattr(type(hypermodel), name, None)
    return callable(method) and method is not getattr(keras_tuner.HyperModel, name, None)


def build(hypermodel: Any, hp: Any, compile_overrides: dict | None = None) -> Any:
    """Calls ``hypermodel.build(hp)`` (HyperModel) or ``hypermodel(hp)`` (plain callable);
    with ``compile_overrides`` (the tuner's ``optimizer`` / ``loss`` / ``metrics``) the model
    is compiled again with them, as ``keras_tuner.Tuner`` does."""
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
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    kwargs = dict(keras.saving.deserialize_keras_object(config)) if config else {}
    kwargs.setdefault("optimizer", "rmsprop")  # Keras' default for a model never compiled
    if overrides.get("loss"):
        kwargs["loss"] = overrides["loss"]
    if overrides.get("optimizer"):
        optimizer = overrides["optimizer"]
        kwargs["optimizer"] = (
            optimizer if isinstance(optimizer, str) else (keras.optimizers.deserialize(optimizer))
        )
    if overrides.get("metrics"):
        kwargs["metrics"] = overrides["metrics"]
    model.compile(**kwargs)


def compile_overrides(optimizer: Any, loss: Any, metrics: Any) -> dict | None:
    """The tuner's compile overrides in a form that travels to worker processes (an
    optimizer object as its Keras config), or None when none was given."""
    if not (optimizer or loss or metrics):
        return None
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
        history = keras.callbacks.History()
        history.history = {}
        return history

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def discover_space(
    hypermodel: Any,
    x_sample: np.ndarray,
    y_sample: np.ndarray,
    *,
    batch_size: int = 32,
    info: dict | None = None,
    compile_overrides: dict | None = None,
    initial: Any = None,
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
            info["row_error"] = (
                None
                if _overrides(hypermodel, "fit")
                else rows_error(model, x_sample, y_sample, validation_sample)
            )
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
            model.compute_loss(
                x=rows_x, y=rows_y, y_pred=model(rows_x, training=False), training=False
            )
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
        [
            layers,
            _describe_loss(getattr(model, "loss", None)),
            int(model.count_params()) if getattr(model, "built", True) else None,
        ],
        sort_keys=True,
        default=str,
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


def build_model(hypermodel: Any, hparams: dict[str, Any]) -> Any:
    """A compiled model built by ``hypermodel`` with fixed hyperparameter values.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or callable ``build(hp)``.
        hparams: hyperparameter name -> value (e.g. :func:`best_hyperparameters`); missing
            ones take their defaults.

    Returns:
        The compiled ``keras.Model``.
    """
    return build(hypermodel, make_hyperparameters(hparams))
