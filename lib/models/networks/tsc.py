"""The standard deep time-series classification networks: FCN, ResNet (Wang et al. 2017) and
the Inception network of InceptionTime (Ismail Fawaz et al. 2020).

All three end in global average pooling over time instead of ``Flatten``, so one network
takes series of any length: build it with ``input_shape=(None, channels)`` or with the
training length and predict on padded series. With ``mask_value`` set, a
:class:`~lib.models.networks.layers.ReadingMask` finds the padded steps (all channels equal
to ``mask_value``, as :func:`lib.padding.pad_samples` with ``value=lib.padding.MASK_VALUE``
writes them), sets them to 0 before the first convolution and after every convolutional layer
(what a convolution sees beyond the end of an unpadded series) and leaves them out of the
global average, so padding neither changes nor dilutes a sample's pooled features. Two
places still see the padding: batch normalisation's statistics while training, and the
max-pooling branch of the Inception modules at the last real reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks._common import Seeds, as_tuple, check_shape, finish
from lib.models.networks.layers import ReadingMask, ZeroPadded


def series_input(input_shape: Sequence[int], *, mask_value: float | None, name: str):
    """The model input and, with ``mask_value``, the cleaned tensor and the mask of readings.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None``.
        mask_value: the padding filler, or ``None`` for no mask.
        name: the builder's name (for the shape error).

    Returns:
        ``(inputs, x, mask)``: the ``keras.Input``, the tensor the network reads (the inputs
        with the filler set to 0) and the ``(batch, time)`` bool mask (``None`` without
        ``mask_value``).
    """
    shape = check_shape(input_shape, rank=2, name=name)
    inputs = keras.Input(shape=shape, name="series")
    if mask_value is None:
        return inputs, inputs, None
    x, mask = ReadingMask(mask_value, name="reading_mask")(inputs)
    return inputs, x, mask


def keep_readings(x, mask):
    """``x`` with its padded steps set to 0 (unchanged without a mask)."""
    return x if mask is None else ZeroPadded()(x, readings=mask)


def global_average(x, mask):
    """Global average over time, over the real readings only when ``mask`` is given."""
    return layers.GlobalAveragePooling1D(name="global_average")(x, mask=mask)


def _widths(filters: int | Sequence[int], kernel_sizes: int | Sequence[int], *, name: str):
    widths = as_tuple(filters, name=f"{name} filters")
    kernels = as_tuple(kernel_sizes, name=f"{name} kernel_sizes")
    if len(kernels) == 1 and len(widths) > 1:
        kernels = kernels * len(widths)
    if len(widths) != len(kernels):
        raise ValueError(
            f"{name}: filters {widths} and kernel_sizes {kernels} need one entry per layer"
        )
    return widths, kernels


def build_fcn(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    filters: int | Sequence[int] = (128, 256, 128),
    kernel_sizes: int | Sequence[int] = (8, 5, 3),
    mask_value: float | None = None,
    batch_norm_momentum: float = 0.9,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """Fully convolutional network for time-series classification (Wang et al. 2017).

    Layers: one ``Conv1D(filters[i], kernel_sizes[i], padding="same")`` +
    ``BatchNormalization`` + ReLU per entry -> global average pooling over time (over real
    readings with ``mask_value``) -> softmax. The published network is the default: 128,
    256 and 128 filters of lengths 8, 5 and 3.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` for variable length.
        num_classes: number of classes.
        filters: filters of each convolution (one int: one layer).
        kernel_sizes: kernel length of each convolution (one int: the same for all).
        mask_value: the padding filler to leave out of the pooling (``None``: no mask).
        batch_norm_momentum: momentum of the ``BatchNormalization`` moving statistics that
            inference uses. 0.9 lets them follow the weights within a few dozen steps, which
            a small set trained for a few hundred steps needs (with Keras' default, 0.99,
            they lag behind and predictions at inference can be near chance while training
            accuracy is high).
        optimizer: optimizer name (see :func:`lib.models.make_optimizer`) or instance.
        learning_rate: learning rate.
        seed: seeds the initializers; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: a malformed ``input_shape``, non-positive sizes, or ``filters`` and
            ``kernel_sizes`` of different lengths.
    """
    widths, kernels = _widths(filters, kernel_sizes, name="build_fcn")
    momentum = batch_norm_momentum
    seeds = Seeds(seed)
    inputs, x, mask = series_input(input_shape, mask_value=mask_value, name="build_fcn")
    for width, kernel in zip(widths, kernels, strict=True):
        x = layers.Conv1D(width, kernel, padding="same", **seeds.kernel())(x)
        x = layers.BatchNormalization(momentum=momentum)(x)
        x = keep_readings(layers.Activation("relu")(x), mask)
    x = global_average(x, mask)
    return finish(
        inputs,
        x,
        name="fcn",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
    )


def build_resnet(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    filters: int | Sequence[int] = (64, 128, 128),
    kernel_sizes: int | Sequence[int] = (8, 5, 3),
    mask_value: float | None = None,
    batch_norm_momentum: float = 0.9,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """Residual network for time-series classification (Wang et al. 2017).

    One residual block per entry of ``filters``: three ``Conv1D(width, k, padding="same")``
    + ``BatchNormalization`` layers, one per entry of ``kernel_sizes`` (ReLU after the first
    two), added to the block's input (through a 1x1 convolution when the width changes, then
    ``BatchNormalization``), then ReLU; global average pooling over time (over real readings
    with ``mask_value``) -> softmax. The published network is the default: blocks of 64, 128
    and 128 filters, kernels 8, 5 and 3.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` for variable length.
        num_classes: number of classes.
        filters: width of each block (one int: one block).
        kernel_sizes: kernel lengths of the convolutions inside every block.
        mask_value: the padding filler to leave out of the pooling (``None``: no mask).
        batch_norm_momentum: momentum of the ``BatchNormalization`` moving statistics that
            inference uses. 0.9 lets them follow the weights within a few dozen steps, which
            a small set trained for a few hundred steps needs (with Keras' default, 0.99,
            they lag behind and predictions at inference can be near chance while training
            accuracy is high).
        optimizer: optimizer name (see :func:`lib.models.make_optimizer`) or instance.
        learning_rate: learning rate.
        seed: seeds the initializers; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: a malformed ``input_shape`` or non-positive sizes.
    """
    widths = as_tuple(filters, name="build_resnet filters")
    kernels = as_tuple(kernel_sizes, name="build_resnet kernel_sizes")
    momentum = batch_norm_momentum
    seeds = Seeds(seed)
    inputs, x, mask = series_input(input_shape, mask_value=mask_value, name="build_resnet")
    for width in widths:
        y = x
        for index, kernel in enumerate(kernels):
            y = layers.Conv1D(width, kernel, padding="same", **seeds.kernel())(y)
            y = layers.BatchNormalization(momentum=momentum)(y)
            if index < len(kernels) - 1:
                y = keep_readings(layers.Activation("relu")(y), mask)
        shortcut = x
        if x.shape[-1] != width:
            shortcut = layers.Conv1D(width, 1, padding="same", **seeds.kernel())(shortcut)
        shortcut = layers.BatchNormalization(momentum=momentum)(shortcut)
        x = keep_readings(layers.Activation("relu")(layers.Add()([shortcut, y])), mask)
    x = global_average(x, mask)
    return finish(
        inputs,
        x,
        name="resnet",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
    )


def _inception_module(
    x, mask, *, filters: int, kernels: Sequence[int], bottleneck: int, momentum: float, seeds: Seeds
):
    """Bottleneck, parallel convolutions and a max-pooled 1x1 branch, concatenated, BN, ReLU."""
    start = x
    if bottleneck and x.shape[-1] > 1:
        start = layers.Conv1D(bottleneck, 1, padding="same", use_bias=False, **seeds.kernel())(x)
        start = keep_readings(start, mask)
    branches = [
        layers.Conv1D(filters, kernel, padding="same", use_bias=False, **seeds.kernel())(start)
        for kernel in kernels
    ]
    pooled = layers.MaxPooling1D(3, strides=1, padding="same")(x)
    branches.append(
        layers.Conv1D(filters, 1, padding="same", use_bias=False, **seeds.kernel())(pooled)
    )
    y = layers.Concatenate(axis=-1)(branches)
    y = layers.BatchNormalization(momentum=momentum)(y)
    return keep_readings(layers.Activation("relu")(y), mask)


def build_inception_time(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    filters: int = 32,
    depth: int = 6,
    kernel_size: int = 40,
    bottleneck: int = 32,
    residual: bool = True,
    mask_value: float | None = None,
    batch_norm_momentum: float = 0.9,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """The Inception network of InceptionTime (Ismail Fawaz et al. 2020).

    ``depth`` Inception modules, each: a 1x1 bottleneck convolution of ``bottleneck``
    filters (on input with more than one channel), three parallel convolutions of
    ``filters`` filters with kernels ``kernel_size``, ``kernel_size // 2`` and
    ``kernel_size // 4``, and a ``MaxPooling1D(3)`` branch with a 1x1 convolution,
    concatenated (``4 * filters`` channels), ``BatchNormalization``, ReLU. With ``residual``,
    every third module's output is added to a 1x1-convolved, batch-normalised shortcut from
    three modules back, then ReLU. Global average pooling over time (over real readings with
    ``mask_value``) -> softmax. The defaults are the published network (32 filters, depth 6,
    kernels 40/20/10, bottleneck 32); InceptionTime itself is the average of five such
    networks trained from different initial weights.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` for variable length.
        num_classes: number of classes.
        filters: filters of each branch.
        depth: number of Inception modules.
        kernel_size: the longest kernel.
        bottleneck: filters of the bottleneck convolution (0: no bottleneck).
        residual: residual connections every three modules.
        mask_value: the padding filler to leave out of the pooling (``None``: no mask).
        batch_norm_momentum: momentum of the ``BatchNormalization`` moving statistics that
            inference uses. 0.9 lets them follow the weights within a few dozen steps, which
            a small set trained for a few hundred steps needs (with Keras' default, 0.99,
            they lag behind and predictions at inference can be near chance while training
            accuracy is high).
        optimizer: optimizer name (see :func:`lib.models.make_optimizer`) or instance.
        learning_rate: learning rate.
        seed: seeds the initializers; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: a malformed ``input_shape``, ``depth`` below 1, ``kernel_size`` below 4
            or non-positive ``filters``.
    """
    if depth < 1 or kernel_size < 4 or filters < 1 or bottleneck < 0:
        raise ValueError(
            "build_inception_time needs depth >= 1, kernel_size >= 4, filters >= 1 and "
            f"bottleneck >= 0, got depth={depth}, kernel_size={kernel_size}, "
            f"filters={filters}, bottleneck={bottleneck}"
        )
    kernels = [kernel_size // 2**index for index in range(3)]
    momentum = batch_norm_momentum
    seeds = Seeds(seed)
    inputs, x, mask = series_input(input_shape, mask_value=mask_value, name="build_inception_time")
    shortcut = x
    for index in range(depth):
        x = _inception_module(
            x,
            mask,
            filters=filters,
            kernels=kernels,
            bottleneck=bottleneck,
            momentum=momentum,
            seeds=seeds,
        )
        if residual and index % 3 == 2:
            y = layers.Conv1D(x.shape[-1], 1, padding="same", use_bias=False, **seeds.kernel())(
                shortcut
            )
            y = layers.BatchNormalization(momentum=momentum)(y)
            x = keep_readings(layers.Activation("relu")(layers.Add()([y, x])), mask)
            shortcut = x
    x = global_average(x, mask)
    return finish(
        inputs,
        x,
        name="inception_time",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
    )
