"""Recurrent networks: the stacked LSTM of the MHEALTH and household-power studies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks._common import Seeds, as_tuple, check_shape, dense_stack, finish


def build_lstm(
    *,
    input_shape: Sequence[int],
    num_classes: int | None = None,
    outputs: int = 1,
    units: int | Sequence[int] = (64,),
    dropout: float = 0.0,
    dense_units: int | Sequence[int] | None = None,
    dense_activation: str | None = "relu",
    mask_value: float | None = None,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    loss: Any = None,
    seed: int | None = None,
) -> keras.Model:
    """Stacked LSTM classifier (``num_classes``) or regressor (``num_classes=None``).

    Layers: optional ``Masking`` -> one ``LSTM`` per entry of ``units`` (all but
    the last return sequences), each followed by ``Dropout(dropout)`` -> optional
    dense hidden layers -> softmax or linear output.

    The household study's original model is ``build_lstm(input_shape=(30, 1),
    units=(5, 3), dropout=0.2, learning_rate=0.01)``; the MHEALTH one is
    ``build_lstm(input_shape=(100, 12), num_classes=13, units=(u,),
    dense_units=u, dense_activation=None)``.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` for variable length.
        num_classes: number of classes; ``None`` builds a regressor.
        outputs: regression outputs (ignored for classifiers).
        units: LSTM sizes, one per layer.
        dropout: dropout rate after each LSTM layer (0 for none).
        dense_units: hidden dense layer sizes between the LSTMs and the output.
        dense_activation: their activation (``None``: linear).
        mask_value: when set, a ``Masking`` layer skips time steps whose channels
            all equal it (padded input).
        optimizer: optimizer name (see :func:`lib.models.make_optimizer`) or instance.
        learning_rate: learning rate.
        loss: loss override; default sparse categorical cross-entropy or MSE.
        seed: seeds initializers and dropout; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape``, ``units`` or ``num_classes``.
    """
    shape = check_shape(input_shape, rank=2, name="lstm")
    sizes = as_tuple(units, name="units")
    seeds = Seeds(seed)
    inputs = keras.Input(shape=shape, name="window")
    x = inputs
    if mask_value is not None:
        x = layers.Masking(mask_value=mask_value, name="mask")(x)
    for index, size in enumerate(sizes):
        x = layers.LSTM(size, return_sequences=index < len(sizes) - 1, **seeds.recurrent())(x)
        if dropout:
            x = seeds.dropout(dropout)(x)
    if dense_units:
        x = dense_stack(
            x, as_tuple(dense_units, name="dense_units"), dense_activation, seeds=seeds
        )
    return finish(
        inputs,
        x,
        name="lstm",
        seeds=seeds,
        num_classes=num_classes,
        outputs=outputs,
        optimizer=optimizer,
        learning_rate=learning_rate,
        loss=loss,
    )
