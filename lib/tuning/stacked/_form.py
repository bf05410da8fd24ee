"""The stacked form of a hypermodel: one configuration as data the stacked executor can train.

A hypermodel is stackable when it has a method ``stacked_form(values)`` that returns, for one
configuration's hyperparameter values, the keyword arguments :func:`lib.models.build_mlp`
would receive (``input_dim``, ``num_classes``, ``units``, ``activations``, ``dropout``,
``feature_indices``, ``optimizer``, ``learning_rate``, ``momentum``, ``loss``) plus the
configuration's ``batch_size``. :func:`form_of` checks that dict and turns it into a
:class:`StackedForm`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

# Activations a stacked layer can apply per model (Keras names).
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
# Optimizers with a per-model update rule (Keras' own formulas, default betas and epsilon).
OPTIMIZERS = ("sgd", "adam")
# Losses on the softmax output, as the builders name them.
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "kl_divergence")


@dataclasses.dataclass(frozen=True)
class StackedForm:
    """One dense classifier configuration in the shape the stacked executor trains.

    Attributes:
        input_dim: columns of the input rows (every model of a stack takes all of them).
        num_classes: width of the softmax output.
        units: true hidden layer sizes, first layer first (at least one layer).
        activations: one Keras activation name per hidden layer.
        feature_indices: the input columns the model uses, in order (all when None).
        dropout: dropout rate after each hidden layer (0 for none).
        optimizer: ``"sgd"`` or ``"adam"``.
        learning_rate: the optimizer's learning rate.
        momentum: SGD momentum (0 for Adam).
        loss: ``"sparse_categorical_crossentropy"``, ``"categorical_crossentropy"`` or
            ``"kl_divergence"`` (integer labels are one-hot encoded for the latter two).
        batch_size: the mini-batch size; only configurations with equal sizes share a stack.
    """

    input_dim: int
    num_classes: int
    units: tuple[int, ...]
    activations: tuple[str, ...]
    feature_indices: tuple[int, ...] | None
    dropout: float
    optimizer: str
    learning_rate: float
    momentum: float
    loss: str
    batch_size: int

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.units)

    @property
    def features(self) -> tuple[int, ...]:
        """The input columns the model reads."""
        if self.feature_indices is None:
            return tuple(range(self.input_dim))
        return self.feature_indices


def check_stackable(hypermodel: Any) -> None:
    """Raises TypeError unless ``hypermodel`` declares a stacked form.

    Args:
        hypermodel: the hypermodel a stacked search would run.

    Raises:
        TypeError: naming the class and the method to add.
    """
    if not callable(getattr(hypermodel, "stacked_form", None)):
        raise TypeError(
            f"{type(hypermodel).__name__} has no stacked form, so the stacked executor cannot "
            "train it; add a method stacked_form(values) -> dict of lib.models.build_mlp "
            "keyword arguments plus batch_size (see lib.models.MLPHyperModel.stacked_form), "
            "or run this search with the per-trial executor"
        )


def _activations(value: Any, depth: int) -> tuple[str, ...]:
    if isinstance(value, str) or value is None:
        value = (value,) * depth
    names = tuple("linear" if v is None else str(v) for v in value)
    if len(names) != depth:
        raise ValueError(
            f"stacked form has {len(names)} activations for {depth} hidden layers; give one "
            "per layer"
        )
    unknown = sorted(set(names) - set(ACTIVATIONS))
    if unknown:
        raise ValueError(
            f"activation(s) {unknown} have no stacked form; use one of {list(ACTIVATIONS)} or "
            "the per-trial executor"
        )
    return names


def _loss(value: Any) -> str:
    name = "sparse_categorical_crossentropy" if value is None else value
    if name not in LOSSES:
        raise ValueError(
            f"loss {name!r} has no stacked form; use one of {list(LOSSES)} or the per-trial "
            "executor"
        )
    return str(name)


def _units(value: Any) -> tuple[int, ...]:
    units = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if not units or any(u < 1 for u in units):
        raise ValueError(
            f"stacked form needs at least one hidden layer of positive size, got units={value!r}"
        )
    return units


def _features(value: Sequence[int] | None, input_dim: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    indices = tuple(int(i) for i in value)
    bad = [i for i in indices if not 0 <= i < input_dim]
    if not indices or bad or len(set(indices)) != len(indices):
        raise ValueError(
            f"feature_indices {list(indices)} must be distinct columns in 0..{input_dim - 1} "
            "(at least one)"
        )
    return indices


def form_of(hypermodel: Any, values: Mapping[str, Any], *, batch_size: int) -> StackedForm:
    """The checked :class:`StackedForm` of one configuration of ``hypermodel``.

    Args:
        hypermodel: a hypermodel with ``stacked_form(values)``.
        values: the configuration's hyperparameter values.
        batch_size: used when the form gives no ``batch_size``.

    Returns:
        The configuration's :class:`StackedForm`.

    Raises:
        TypeError: if the hypermodel has no stacked form.
        ValueError: if the form asks for something the stacked executor cannot train
            (a regressor, an unknown activation, optimizer or loss, resampling).
    """
    check_stackable(hypermodel)
    spec = dict(hypermodel.stacked_form(dict(values)))
    name = type(hypermodel).__name__
    for key in ("resampling", "reduce_lr_factor"):
        if values.get(key) not in (None, False, "none", "None", ""):
            raise ValueError(
                f"{name} configuration sets {key}={values[key]!r}, but models of a stack share "
                "their training rows and schedule; run it with the per-trial executor"
            )
    if spec.get("num_classes") is None:
        raise ValueError(f"{name}.stacked_form gave no num_classes; the stack trains classifiers")
    units = _units(spec.get("units", ()))
    optimizer = str(spec.get("optimizer", "adam")).lower()
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer {optimizer!r} has no stacked form; use one of {list(OPTIMIZERS)} or the "
            "per-trial executor"
        )
    dropout = float(spec.get("dropout", 0.0) or 0.0)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    input_dim = int(spec["input_dim"])
    return StackedForm(
        input_dim=input_dim,
        num_classes=int(spec["num_classes"]),
        units=units,
        activations=_activations(spec.get("activations", "relu"), len(units)),
        feature_indices=_features(spec.get("feature_indices"), input_dim),
        dropout=dropout,
        optimizer=optimizer,
        learning_rate=float(spec.get("learning_rate", 1e-3)),
        momentum=float(spec.get("momentum", 0.0) or 0.0) if optimizer == "sgd" else 0.0,
        loss=_loss(spec.get("loss")),
        batch_size=int(spec.get("batch_size") or batch_size),
    )
