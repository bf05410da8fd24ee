"""Recurrent networks: the stacked LSTM of the MHEALTH and household-power studies, and the
household-power study's tapering LSTM forecaster."""

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
        x = dense_stack(x, as_tuple(dense_units, name="dense_units"), dense_activation, seeds=seeds)
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


def build_lstm_forecaster(
    *,
    input_shape: Sequence[int],
    layers: int = 1,
    units: int = 32,
    dropout: float = 0.0,
    outputs: int = 1,
    mask_value: float | None = None,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """Stacked LSTM regressor whose layers taper: each one half as wide as the one before.

    ``layers`` LSTM layers of ``units``, ``units // 2``, ``units // 4`` ... cells (the shape of
    the household study's original 5 -> 3 network with one size to tune), then a linear
    output, compiled with MSE (and MAE) as :func:`build_lstm` does:
    ``build_lstm_forecaster(layers=2, units=32, ...)`` is ``build_lstm(units=(32, 16), ...)``
    with the same seeded weights.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` for variable length.
        layers: number of LSTM layers (>= 1).
        units: cells of the first LSTM layer.
        dropout: dropout rate after each LSTM layer (0 for none).
        outputs: regression outputs (steps or series predicted).
        mask_value: when set, a ``Masking`` layer skips time steps whose channels all equal
            it (padded input, e.g. :data:`lib.padding.MASK_VALUE`); it has no weights, so a
            masked and an unmasked model share theirs.
        optimizer: optimizer name (see :func:`lib.models.make_optimizer`) or instance.
        learning_rate: learning rate.
        seed: seeds initializers and dropout; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: ``layers`` is not a positive int, or the last layer would have no cell
            (``units // 2 ** (layers - 1)`` is 0); a malformed ``input_shape``.
    """
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive int (LSTM layers), got {layers!r}")
    sizes = tuple(int(units) // 2**index for index in range(layers))
    if sizes[-1] < 1:
        raise ValueError(
            f"{layers} layers halving from units={units} leave the last layer with no cell "
            f"(sizes {sizes}); use more units or fewer layers"
        )
    return build_lstm(
        input_shape=input_shape,
        outputs=outputs,
        units=sizes,
        dropout=dropout,
        mask_value=mask_value,
        optimizer=optimizer,
        learning_rate=learning_rate,
        seed=seed,
    )
