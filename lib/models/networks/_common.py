"""What every builder shares: seeded initializers, input checks, blocks, the head and compile."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks.layers import OneHotLoss


class Seeds:
    """Hands out per-layer seeded initializers (or Keras defaults when ``seed`` is None).

    Each call draws the next seed of the builder's sequence, so the order in which a builder
    creates its layers fixes their initial weights.
    """

    def __init__(self, seed: int | None):
        self.seed = seed
        self._counter = itertools.count()

    def next(self) -> int | None:
        """The next seed (None without a builder seed)."""
        return None if self.seed is None else self.seed + 7919 * next(self._counter)

    def kernel(self) -> dict[str, Any]:
        """``kernel_initializer`` for Dense / Conv layers."""
        if self.seed is None:
            return {}
        return {"kernel_initializer": keras.initializers.GlorotUniform(seed=self.next())}

    def recurrent(self) -> dict[str, Any]:
        """Kernel and recurrent initializers for LSTM / GRU layers."""
        if self.seed is None:
            return {}
        return {
            "kernel_initializer": keras.initializers.GlorotUniform(seed=self.next()),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=self.next()),
        }

    def dropout(self, rate: float) -> layers.Layer:
        """A Dropout layer (seeded when the builder has a seed)."""
        return layers.Dropout(rate, seed=self.next())


def make_optimizer(
    name: str | keras.optimizers.Optimizer = "adam",
    *,
    learning_rate: float = 1e-3,
    momentum: float = 0.0,
    weight_decay: float = 0.004,
) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer from a name.

    Args:
        name: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``"rmsprop"``; an optimizer
            instance is returned unchanged.
        learning_rate: the learning rate.
        momentum: momentum of ``sgd`` and ``rmsprop`` (ignored by the Adam family).
        weight_decay: decoupled weight decay of ``adamw`` (Keras' default).

    Returns:
        A ``keras.optimizers.Optimizer``.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(name, keras.optimizers.Optimizer):
        return name
    key = str(name).lower()
    if key == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if key == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    if key == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if key == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, momentum=momentum)
    raise ValueError(
        f"unknown optimizer {name!r}; use 'adam', 'adamw', 'sgd', 'rmsprop' or pass an instance"
    )


def as_tuple(value: int | Sequence[int], *, name: str) -> tuple[int, ...]:
    """Layer sizes as a tuple of positive ints (one int -> one layer)."""
    result = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if any(v < 1 for v in result):
        raise ValueError(f"{name} must hold positive layer sizes, got {value!r}")
    return result


def check_shape(input_shape: Sequence[int], *, rank: int, name: str) -> tuple[int, ...]:
    """``input_shape`` as a tuple, checked to have ``rank`` dimensions (no batch axis)."""
    shape = tuple(input_shape)
    if len(shape) != rank:
        expected = {1: "(features,)", 2: "(time, channels)"}.get(rank, f"{rank} dimensions")
        raise ValueError(
            f"{name} expects input_shape {expected} without the batch axis, got {shape}"
        )
    return shape


def check_counts(**counts: int) -> None:
    """Raises when a layer or block count is negative."""
    negative = {name: count for name, count in counts.items() if count < 0}
    if negative:
        wanted = " and ".join(f"{name} >= 0" for name in counts)
        found = " and ".join(str(count) for count in counts.values())
        raise ValueError(f"need {wanted}, got {found}")


def dense_stack(
    x,
    sizes: Sequence[int],
    activations: str | None | Sequence[str | None],
    *,
    seeds: Seeds,
    dropout: float = 0.0,
    dropout_at_zero: bool = False,
):
    """One ``Dense`` per entry of ``sizes``, each followed by ``Dropout(dropout)``.

    ``activations`` is one activation for every layer or one per layer. The dropout layer is
    left out at rate 0 unless ``dropout_at_zero`` (a network that always had one keeps its
    seed sequence).
    """
    if isinstance(activations, str) or activations is None:
        activations = (activations,) * len(sizes)
    for size, activation in zip(sizes, activations, strict=True):
        x = layers.Dense(size, activation=activation, **seeds.kernel())(x)
        if dropout or dropout_at_zero:
            x = seeds.dropout(dropout)(x)
    return x


def residual_block(
    x,
    *,
    conv: type[layers.Layer],
    filters: int,
    kernel_size: Any,
    seeds: Seeds,
    batch_norm: bool = True,
):
    """conv-BN-ReLU-conv-BN, add the input, ReLU (ResNet basic block, same width).

    ``batch_norm=False`` leaves out both BatchNormalization layers (Kachuee et al.'s block).
    """
    shortcut = x
    y = conv(filters, kernel_size, padding="same", **seeds.kernel())(x)
    if batch_norm:
        y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = conv(filters, kernel_size, padding="same", **seeds.kernel())(y)
    if batch_norm:
        y = layers.BatchNormalization()(y)
    y = layers.Add()([shortcut, y])
    return layers.Activation("relu")(y)


def conv_bn_relu(x, *, conv: type[layers.Layer], filters: int, kernel_size: Any, seeds: Seeds):
    """The stem of the batch-normalised ResNets: convolution, BatchNormalization, ReLU."""
    x = conv(filters, kernel_size, padding="same", **seeds.kernel())(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def head(x, *, num_classes: int | None, outputs: int, seeds: Seeds):
    """Softmax over ``num_classes`` or ``outputs`` linear units (regression)."""
    if num_classes is not None:
        if num_classes < 2:
            raise ValueError(
                f"num_classes must be at least 2 for a classifier, got {num_classes}; "
                "use num_classes=None for a regressor"
            )
        return layers.Dense(
            num_classes, activation="softmax", name="probabilities", **seeds.kernel()
        )(x)
    return layers.Dense(outputs, activation="linear", name="prediction", **seeds.kernel())(x)


def compile_model(
    model: keras.Model,
    *,
    num_classes: int | None,
    optimizer: Any,
    learning_rate: float,
    loss: Any = None,
    momentum: float = 0.0,
    weight_decay: float = 0.004,
) -> keras.Model:
    """Compiles with a sparse classification loss + accuracy, or MSE + MAE."""
    if num_classes is not None:
        if loss is None:
            loss = "sparse_categorical_crossentropy"
        elif isinstance(loss, str) and loss in {"kl_divergence", "categorical_crossentropy"}:
            loss = OneHotLoss(loss, num_classes=num_classes)
        metrics = ["accuracy"]
    else:
        loss = "mse" if loss is None else loss
        metrics = ["mae"]
    model.compile(
        optimizer=make_optimizer(
            optimizer, learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay
        ),
        loss=loss,
        metrics=metrics,
    )
    return model


def finish(
    inputs,
    x,
    *,
    name: str,
    seeds: Seeds,
    num_classes: int | None,
    outputs: int = 1,
    **compile_arguments: Any,
) -> keras.Model:
    """Adds the head (:func:`head`) to ``x``, makes the model and compiles it.

    Args:
        inputs: the model's input tensor.
        x: the last hidden tensor.
        name: the model's name.
        seeds: the builder's seeds (the head draws the next one).
        num_classes: number of classes; ``None`` builds a regressor.
        outputs: regression outputs (ignored for classifiers).
        **compile_arguments: ``optimizer``, ``learning_rate``, ``loss``, ``momentum``,
            ``weight_decay`` of :func:`compile_model`.

    Returns:
        The compiled ``keras.Model``.
    """
    tensor = head(x, num_classes=num_classes, outputs=outputs, seeds=seeds)
    model = keras.Model(inputs, tensor, name=name)
    return compile_model(model, num_classes=num_classes, **compile_arguments)
