"""2-D residual network over a window seen as an image (the heartbeat study's 2-D CNN)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks._common import (
    Seeds,
    check_counts,
    conv_bn_relu,
    dense_stack,
    finish,
    residual_block,
)


def _as_image(inputs, shape: tuple[int, ...], reshape_to: Sequence[int] | None):
    """The input as a ``(height, width, channels)`` image (see :func:`build_cnn2d_resnet`)."""
    if len(shape) == 3:
        if reshape_to is not None:
            raise ValueError("reshape_to only applies to (time, channels) inputs; drop it")
        return inputs
    if reshape_to is None:
        return layers.Reshape((shape[0], shape[1], 1))(inputs)
    height, width = (int(v) for v in reshape_to)
    if height * width != shape[0]:
        raise ValueError(
            f"reshape_to={tuple(reshape_to)} holds {height * width} samples but the window "
            f"has {shape[0]}; choose height * width == {shape[0]} or pad the window"
        )
    return layers.Reshape((height, width, shape[1]))(inputs)


def build_cnn2d_resnet(
    *,
    input_shape: Sequence[int] = (187, 1),
    num_classes: int = 5,
    reshape_to: Sequence[int] | None = None,
    filters: int = 128,
    kernel_size: int | tuple[int, int] = 3,
    residual_blocks: int = 1,
    pool_size: int | tuple[int, int] = 2,
    dense_units: int = 128,
    dense_layers: int = 2,
    dropout: float = 0.2,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.004,
    seed: int | None = None,
) -> keras.Model:
    """2-D ResNet classifier over a window seen as an image.

    The ``(time, channels)`` input becomes ``(time, channels, 1)`` (default) or,
    with ``reshape_to=(height, width)``, a ``(height, width, channels)`` image
    (``height * width`` must equal ``time``, e.g. ``(11, 17)`` for a
    187-sample beat). Then ``Conv2D`` + ``BatchNormalization`` +
    ReLU -> ``residual_blocks`` 2-D ResNet blocks -> ``MaxPooling2D`` (``same``
    padding, so a width of 1 is kept) -> ``Flatten`` -> ``dense_layers`` ×
    (``Dense(dense_units, relu)`` + ``Dropout``) -> softmax.

    Args:
        input_shape: ``(time, channels)``, or an image ``(height, width, channels)``
            used as is.
        num_classes: number of classes.
        reshape_to: ``(height, width)`` to fold the time axis into an image.
        filters: convolution filters (the study used 128; 32 for CPU runs).
        kernel_size: convolution kernel.
        residual_blocks: number of residual blocks.
        pool_size: max-pooling size.
        dense_units: width of the hidden dense layers.
        dense_layers: number of hidden dense layers.
        dropout: dropout rate after each hidden dense layer.
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        weight_decay: weight decay for ``adamw``.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: if ``reshape_to`` does not hold exactly ``time`` samples, or
            for a malformed ``input_shape``.
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"build_cnn2d_resnet expects input_shape (time, channels) or (height, width, "
            f"channels), got {shape}"
        )
    check_counts(residual_blocks=residual_blocks, dense_layers=dense_layers)
    seeds = Seeds(seed)
    inputs = keras.Input(shape=shape, name="window")
    x = _as_image(inputs, shape, reshape_to)
    x = conv_bn_relu(x, conv=layers.Conv2D, filters=filters, kernel_size=kernel_size, seeds=seeds)
    for _ in range(residual_blocks):
        x = residual_block(
            x, conv=layers.Conv2D, filters=filters, kernel_size=kernel_size, seeds=seeds
        )
    x = layers.MaxPooling2D(pool_size, padding="same")(x)
    x = layers.Flatten()(x)
    x = dense_stack(
        x,
        [dense_units] * dense_layers,
        "relu",
        seeds=seeds,
        dropout=dropout,
        dropout_at_zero=True,
    )
    return finish(
        inputs,
        x,
        name="cnn2d_resnet",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )
