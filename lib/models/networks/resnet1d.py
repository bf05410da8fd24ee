"""1-D residual networks on single-channel sequences (heartbeats).

:func:`build_cnn1d_resnet_gru` is the original heartbeat study's 1-D ResNet + GRU;
:func:`build_cnn1d_resnet` is Kachuee et al.'s pooled 1-D ResNet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks._common import (
    Seeds,
    check_counts,
    check_shape,
    conv_bn_relu,
    dense_stack,
    finish,
    residual_block,
)


def pooled_residual_blocks(
    x,
    *,
    blocks: int,
    filters: int,
    kernel_size: int,
    pool_size: int,
    pool_strides: int,
    seeds: Seeds,
):
    """``blocks`` × (residual block without BatchNormalization -> ``MaxPooling1D``)."""
    for _ in range(blocks):
        x = residual_block(
            x,
            conv=layers.Conv1D,
            filters=filters,
            kernel_size=kernel_size,
            seeds=seeds,
            batch_norm=False,
        )
        x = layers.MaxPooling1D(pool_size, strides=pool_strides, padding="same")(x)
    return x


def build_cnn1d_resnet_gru(
    *,
    input_shape: Sequence[int] = (187, 1),
    num_classes: int = 5,
    filters: int = 128,
    kernel_size: int = 3,
    residual_blocks: int = 1,
    pool_size: int = 2,
    projection_units: int = 64,
    gru_units: int = 64,
    gru_layers: int = 2,
    dense_units: int = 64,
    dropout: float = 0.2,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.004,
    seed: int | None = None,
) -> keras.Model:
    """1-D ResNet front end + stacked GRU classifier (the MIT-BIH heartbeat study).

    Layers: ``Conv1D(filters, kernel_size)`` + ``BatchNormalization`` + ReLU ->
    ``residual_blocks`` ResNet blocks -> ``MaxPooling1D(pool_size)`` -> a dense
    projection of every time step to ``projection_units`` -> ``gru_layers`` GRUs
    of ``gru_units`` (the last returns its final state) -> ``Dropout`` ->
    ``Dense(dense_units, relu)`` -> ``Dropout`` -> ``Dense(num_classes, softmax)``.

    Args:
        input_shape: ``(time, channels)``; a beat is ``(187, 1)``.
        num_classes: number of beat classes.
        filters: convolution filters (the study used 128; 32 keeps CPU runs short).
        kernel_size: convolution kernel length.
        residual_blocks: number of residual blocks (0 allowed).
        pool_size: max-pooling size.
        projection_units: width of the per-time-step dense projection.
        gru_units: GRU width.
        gru_layers: number of stacked GRU layers.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate after the GRUs and the hidden dense layer.
        optimizer: ``"adam"``, ``"adamw"`` ... or an instance.
        learning_rate: learning rate.
        weight_decay: weight decay for ``adamw``.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or non-positive sizes.
    """
    shape = check_shape(input_shape, rank=2, name="build_cnn1d_resnet_gru")
    if residual_blocks < 0 or gru_layers < 1:
        raise ValueError(
            f"need residual_blocks >= 0 and gru_layers >= 1, got {residual_blocks} and {gru_layers}"
        )
    seeds = Seeds(seed)
    inputs = keras.Input(shape=shape, name="beat")
    x = conv_bn_relu(
        inputs, conv=layers.Conv1D, filters=filters, kernel_size=kernel_size, seeds=seeds
    )
    for _ in range(residual_blocks):
        x = residual_block(
            x, conv=layers.Conv1D, filters=filters, kernel_size=kernel_size, seeds=seeds
        )
    x = layers.MaxPooling1D(pool_size, padding="same")(x)
    x = layers.Dense(projection_units, activation="relu", name="projection", **seeds.kernel())(x)
    for index in range(gru_layers):
        x = layers.GRU(gru_units, return_sequences=index < gru_layers - 1, **seeds.recurrent())(x)
    x = seeds.dropout(dropout)(x)
    x = dense_stack(x, [dense_units], "relu", seeds=seeds, dropout=dropout, dropout_at_zero=True)
    return finish(
        inputs,
        x,
        name="cnn1d_resnet_gru",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )


def build_cnn1d_resnet(
    *,
    input_shape: Sequence[int] = (187, 1),
    num_classes: int = 5,
    filters: int = 32,
    kernel_size: int = 5,
    residual_blocks: int = 5,
    pool_size: int = 5,
    pool_strides: int = 2,
    dense_units: int = 32,
    dense_layers: int = 2,
    dropout: float = 0.0,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.004,
    seed: int | None = None,
) -> keras.Model:
    """Pooled 1-D ResNet classifier (Kachuee et al. 2018, the network of the Kaggle beat set).

    Layers: ``Conv1D(filters, kernel_size)`` -> ``residual_blocks`` × (``Conv1D`` + ReLU ->
    ``Conv1D`` -> add the block input -> ReLU -> ``MaxPooling1D(pool_size, pool_strides)``),
    so every block halves the time axis (by default) and the later blocks are cheap ->
    ``Flatten`` -> ``dense_layers`` × (``Dense(dense_units, relu)`` + ``Dropout``) -> softmax.
    Kachuee et al. used 32 filters of length 5, five blocks, pooling 5 with stride 2 and two
    dense layers of 32 units.

    Args:
        input_shape: ``(time, channels)``; a beat is ``(187, 1)``.
        num_classes: number of classes.
        filters: convolution filters (every layer).
        kernel_size: convolution kernel length.
        residual_blocks: number of pooled residual blocks (0 allowed).
        pool_size: max-pooling window after each block.
        pool_strides: max-pooling stride after each block.
        dense_units: width of the hidden dense layers.
        dense_layers: number of hidden dense layers.
        dropout: dropout rate after each hidden dense layer (0: none).
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        weight_decay: weight decay for ``adamw``.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape`` or negative sizes.
    """
    shape = check_shape(input_shape, rank=2, name="build_cnn1d_resnet")
    check_counts(residual_blocks=residual_blocks, dense_layers=dense_layers)
    seeds = Seeds(seed)
    inputs = keras.Input(shape=shape, name="beat")
    x = layers.Conv1D(filters, kernel_size, padding="same", **seeds.kernel())(inputs)
    x = pooled_residual_blocks(
        x,
        blocks=residual_blocks,
        filters=filters,
        kernel_size=kernel_size,
        pool_size=pool_size,
        pool_strides=pool_strides,
        seeds=seeds,
    )
    x = layers.Flatten()(x)
    x = dense_stack(x, [dense_units] * dense_layers, "relu", seeds=seeds, dropout=dropout)
    return finish(
        inputs,
        x,
        name="cnn1d_resnet",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )
