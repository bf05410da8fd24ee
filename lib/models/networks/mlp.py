"""Multi-layer perceptrons on feature rows (the hand-poses and mice-sleep studies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from lib.models.networks._common import Seeds, as_tuple, dense_stack, finish
from lib.models.networks.layers import SelectFeatures


def build_mlp(
    *,
    input_dim: int,
    num_classes: int | None = None,
    outputs: int = 1,
    units: int | Sequence[int] = (8,),
    activations: str | Sequence[str] = "relu",
    dropout: float = 0.0,
    feature_indices: Sequence[int] | None = None,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    momentum: float = 0.0,
    loss: Any = None,
    seed: int | None = None,
) -> keras.Model:
    """Multi-layer perceptron on feature rows, optionally on a subset of the columns.

    Args:
        input_dim: number of input columns the model receives.
        num_classes: number of classes; ``None`` builds a regressor.
        outputs: regression outputs.
        units: hidden layer sizes, one per layer (empty: a linear/softmax model).
        activations: one activation for all hidden layers, or one per layer.
        dropout: dropout rate after each hidden layer.
        feature_indices: when given, the model takes all ``input_dim`` columns
            and keeps these (a weight-free :class:`SelectFeatures` layer), so any
            caller can pass the full feature matrix.
        optimizer: ``"adam"``, ``"sgd"`` ... or an instance.
        learning_rate: learning rate.
        momentum: SGD momentum.
        loss: loss; for classifiers ``"kl_divergence"`` and
            ``"categorical_crossentropy"`` are wrapped in :class:`OneHotLoss`
            so integer labels work; default sparse categorical cross-entropy / MSE.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: if ``activations`` and ``units`` differ in length, or a
            feature index is out of range.
    """
    sizes = () if units in ((), []) else as_tuple(units, name="units")
    if isinstance(activations, str) or activations is None:
        activations = (activations,) * len(sizes)
    activations = tuple(activations)
    if len(activations) != len(sizes):
        raise ValueError(
            f"got {len(activations)} activations for {len(sizes)} hidden layers; "
            "pass one activation, or one per layer"
        )
    seeds = Seeds(seed)
    inputs = keras.Input(shape=(int(input_dim),), name="features")
    x = inputs
    if feature_indices is not None:
        bad = [i for i in feature_indices if not 0 <= int(i) < input_dim]
        if bad:
            raise ValueError(
                f"feature indices {bad} are outside 0..{input_dim - 1}; pass column positions"
            )
        x = SelectFeatures(feature_indices, name="select_features")(x)
    x = dense_stack(x, sizes, activations, seeds=seeds, dropout=dropout)
    return finish(
        inputs,
        x,
        name="mlp",
        seeds=seeds,
        num_classes=num_classes,
        outputs=outputs,
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        loss=loss,
    )
