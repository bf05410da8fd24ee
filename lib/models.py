"""Keras model builders and the KerasTuner hypermodels of the five studies.

Two layers of API:

* **Builders** (``build_lstm``, ``build_gru``, ``build_cnn1d_resnet_gru``,
  ``build_cnn1d_resnet``, ``build_cnn2d_resnet``, ``build_transformer``, ``build_mlp``) take keyword
  arguments and return a *compiled* ``keras.Model``. A classifier (``num_classes``
  given) ends in a softmax and is compiled with a sparse loss (integer class ids)
  and the ``"accuracy"`` metric; a regressor (``num_classes=None``) ends in a
  linear layer and is compiled with MSE and MAE.
* **Hypermodels** (``LSTMClassifierHyperModel``, ``LSTMRegressorHyperModel``,
  ``GRUHyperModel``, ``CNN1DResNetGRUHyperModel``, ``CNN1DResNetHyperModel``,
  ``CNN2DResNetHyperModel``,
  ``TransformerHyperModel``, ``FeatureSubsetMLPHyperModel``, ``MLPHyperModel``)
  subclass ``keras_tuner.HyperModel``. Their ``DEFAULT_SPACE`` is the original
  study's search space; every entry can be overridden with a constructor keyword.

Search-space entries (``DEFAULT_SPACE`` values and constructor overrides) are:

* a tuple or list of values -> ``hp.Choice`` (one value -> ``hp.Fixed``);
* a :class:`Range` -> ``hp.Int`` (integer bounds and step) or ``hp.Float``;
* a scalar -> ``hp.Fixed``;
* ``None`` (only where documented) -> the hyperparameter is not declared.

Conventions the tuning engine relies on (all hypermodels):

* ``build(hp)`` declares *every* hyperparameter of the space, including the
  training-side ones (``batch_size``, ``reduce_lr_factor``, ``resampling``), so
  the whole space is known after one build.
* ``fit(hp, model, *args, **kwargs)`` calls ``model.fit(*args,
  batch_size=hp["batch_size"], **kwargs)``; other keyword arguments (epochs,
  callbacks, class_weight, validation data) pass through. It also adds the
  hypermodel's :meth:`callbacks` unless a callback of the same type is already
  in ``callbacks``.
* ``callbacks(hp)`` returns the callbacks that are hyperparameters (a
  ``ReduceLROnPlateau`` whose ``factor`` is tuned); the engine appends them to
  its own.
* ``objective`` (class attribute) names the study's objective, in the metric
  names of :mod:`lib.evaluation` with a ``val_`` prefix.
* ``data_hyperparameters`` (class attribute) lists hyperparameters the model
  does not use itself and the engine applies to the data (``"resampling"``:
  ``"smote"`` or ``"random_over"`` on the training fold).

Randomness: every builder and hypermodel takes ``seed``. With ``seed=None``
weights and dropout draw from Keras' global generator (seed it with
:func:`lib.set_seed`); with an integer they are seeded layer by layer, without
touching global state.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
import keras_tuner
from keras import layers, ops

__all__ = [
    "Range",
    "make_optimizer",
    "OneHotLoss",
    "SelectFeatures",
    "PositionEmbedding",
    "build_lstm",
    "build_gru",
    "build_cnn1d_resnet_gru",
    "build_cnn1d_resnet",
    "build_cnn2d_resnet",
    "build_transformer",
    "build_mlp",
    "LSTMClassifierHyperModel",
    "LSTMRegressorHyperModel",
    "GRUHyperModel",
    "CNN1DResNetGRUHyperModel",
    "CNN1DResNetHyperModel",
    "CNN2DResNetHyperModel",
    "TransformerHyperModel",
    "FeatureSubsetMLPHyperModel",
    "MLPHyperModel",
    "build_beat_rr_classifier",
    "weighted_classes",
    "BeatRRHyperModel",
]


# Separates the feature names in a FeatureSubsetMLPHyperModel "features" value.
SUBSET_SEPARATOR = "+"

# --------------------------------------------------------------------------- helpers


@dataclasses.dataclass(frozen=True)
class Range:
    """A numeric search-space range: ``hp.Int`` when bounds (and step) are ints, else ``hp.Float``.

    Args:
        low: smallest value (inclusive).
        high: largest value (inclusive).
        step: grid step; ``None`` is 1 for integers and continuous for floats
            (a continuous range cannot be grid-searched).
        sampling: ``"linear"``, ``"log"`` or ``"reverse_log"``.
    """

    low: float
    high: float
    step: float | None = None
    sampling: str = "linear"

    def __post_init__(self):
        if self.low > self.high:
            raise ValueError(
                f"Range low={self.low} is above high={self.high}; swap the bounds"
            )

    @property
    def is_int(self) -> bool:
        values = (self.low, self.high) if self.step is None else (self.low, self.high, self.step)
        return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _python(value: Any) -> Any:
    """numpy scalars -> Python scalars (KerasTuner stores plain values)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        return value.item()
    return value


def _declare(hp: keras_tuner.HyperParameters, name: str, spec: Any) -> Any:
    """Registers hyperparameter ``name`` from a space entry and returns its current value."""
    if isinstance(spec, Range):
        if spec.is_int:
            return hp.Int(name, spec.low, spec.high, step=spec.step or 1, sampling=spec.sampling)
        return hp.Float(name, spec.low, spec.high, step=spec.step, sampling=spec.sampling)
    if isinstance(spec, (list, tuple)):
        values = [_python(v) for v in spec]
        if len(values) == 1:
            return hp.Fixed(name, values[0])
        if all(isinstance(v, bool) for v in values) and len(set(values)) == 2:
            return hp.Boolean(name, default=values[0])
        return hp.Choice(name, values)
    return hp.Fixed(name, _python(spec))


class _Seeds:
    """Hands out per-layer seeded initializers (or Keras defaults when ``seed`` is None)."""

    def __init__(self, seed: int | None):
        self.seed = seed
        self._counter = itertools.count()

    def _next(self) -> int | None:
        return None if self.seed is None else self.seed + 7919 * next(self._counter)

    def kernel(self) -> dict[str, Any]:
        """``kernel_initializer`` for Dense / Conv layers."""
        if self.seed is None:
            return {}
        return {"kernel_initializer": keras.initializers.GlorotUniform(seed=self._next())}

    def recurrent(self) -> dict[str, Any]:
        """Kernel and recurrent initializers for LSTM / GRU layers."""
        if self.seed is None:
            return {}
        return {
            "kernel_initializer": keras.initializers.GlorotUniform(seed=self._next()),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=self._next()),
        }

    def dropout(self, rate: float) -> layers.Layer:
        """A Dropout layer (seeded when the builder has a seed)."""
        return layers.Dropout(rate, seed=self._next())


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


@keras.saving.register_keras_serializable(package="lib")
class OneHotLoss(keras.losses.Loss):
    """A one-hot loss (KL divergence, categorical cross-entropy) that accepts integer labels.

    The tuning engine always passes integer class ids; losses such as KL
    divergence need one-hot targets. This wrapper one-hot encodes ids inside
    the loss, and passes targets that are already one-hot through unchanged.

    Args:
        loss: name of a Keras loss function that takes one-hot targets and
            probabilities (``"kl_divergence"``, ``"categorical_crossentropy"``).
        num_classes: number of classes (the width of the model output).
        name: loss name (defaults to ``loss``).
        reduction: Keras reduction.
        dtype: Keras loss dtype.
    """

    def __init__(
        self,
        loss: str = "kl_divergence",
        *,
        num_classes: int,
        name: str | None = None,
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ):
        super().__init__(name=name or loss, reduction=reduction, dtype=dtype)
        if int(num_classes) < 2:
            raise ValueError(
                f"num_classes must be at least 2 for a one-hot loss, got {num_classes}"
            )
        self.loss = loss
        self.num_classes = int(num_classes)
        self._function = keras.losses.get(loss)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == self.num_classes:
            target = ops.cast(y_true, y_pred.dtype)
        else:
            ids = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            target = ops.one_hot(ids, self.num_classes, dtype=y_pred.dtype)
        return self._function(target, y_pred)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(loss=self.loss, num_classes=self.num_classes)
        return config


@keras.saving.register_keras_serializable(package="lib")
class SelectFeatures(layers.Layer):
    """Keeps the given columns of the last axis (``keras.ops.take``); no weights.

    Args:
        indices: column indices to keep, in order.
        **kwargs: ``keras.layers.Layer`` arguments (``name`` ...).
    """

    def __init__(self, indices: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]
        if not self.indices:
            raise ValueError("indices is empty; select at least one feature")

    def build(self, input_shape):
        width = input_shape[-1]
        if width is not None and max(self.indices) >= width:
            raise ValueError(
                f"feature index {max(self.indices)} does not exist in inputs with {width} "
                "features; pass all features to the model"
            )

    def call(self, inputs):
        return ops.take(inputs, ops.convert_to_tensor(self.indices, dtype="int32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.indices))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "indices": list(self.indices)}


@keras.saving.register_keras_serializable(package="lib")
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding of the time-step index to a ``(batch, time, dim)`` sequence.

    Args:
        initializer: initializer of the ``(time, dim)`` table.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, initializer: Any = "glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        if input_shape[-2] is None:
            raise ValueError(
                "PositionEmbedding needs a fixed sequence length; give input_shape=(time, channels)"
            )
        self.table = self.add_weight(
            name="table", shape=tuple(input_shape[-2:]), initializer=self.initializer
        )

    def call(self, inputs):
        return inputs + ops.cast(self.table, inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initializer": keras.initializers.serialize(self.initializer),
        }


def _as_tuple(value: int | Sequence[int], *, name: str) -> tuple[int, ...]:
    result = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if any(v < 1 for v in result):
        raise ValueError(f"{name} must hold positive layer sizes, got {value!r}")
    return result


def _check_shape(input_shape: Sequence[int], *, rank: int, name: str) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if len(shape) != rank:
        expected = {1: "(features,)", 2: "(time, channels)"}.get(rank, f"{rank} dimensions")
        raise ValueError(
            f"{name} expects input_shape {expected} without the batch axis, got {shape}"
        )
    return shape


def _head(x, *, num_classes: int | None, outputs: int, seeds: _Seeds):
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


def _compile(
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


# --------------------------------------------------------------------------- builders


def _build_recurrent(
    cell: type[layers.Layer],
    *,
    name: str,
    input_shape: Sequence[int],
    num_classes: int | None,
    outputs: int,
    units: int | Sequence[int],
    dropout: float,
    layer_norm: bool,
    dense_units: int | Sequence[int] | None,
    dense_activation: str | None,
    mask_value: float | None,
    optimizer: Any,
    learning_rate: float,
    loss: Any,
    seed: int | None,
) -> keras.Model:
    shape = _check_shape(input_shape, rank=2, name=name)
    sizes = _as_tuple(units, name="units")
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=shape, name="window")
    x = inputs
    if mask_value is not None:
        x = layers.Masking(mask_value=mask_value, name="mask")(x)
    for index, size in enumerate(sizes):
        last = index == len(sizes) - 1
        x = cell(size, return_sequences=not last, **seeds.recurrent())(x)
        if layer_norm:
            x = layers.LayerNormalization()(x)
        if dropout:
            x = seeds.dropout(dropout)(x)
    for size in _as_tuple(dense_units, name="dense_units") if dense_units else ():
        x = layers.Dense(size, activation=dense_activation, **seeds.kernel())(x)
    outputs_tensor = _head(x, num_classes=num_classes, outputs=outputs, seeds=seeds)
    model = keras.Model(inputs, outputs_tensor, name=name)
    return _compile(
        model, num_classes=num_classes, optimizer=optimizer, learning_rate=learning_rate, loss=loss
    )


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
        optimizer: optimizer name (see :func:`make_optimizer`) or instance.
        learning_rate: learning rate.
        loss: loss override; default sparse categorical cross-entropy or MSE.
        seed: seeds initializers and dropout; ``None`` uses Keras' global seed.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape``, ``units`` or ``num_classes``.
    """
    return _build_recurrent(
        layers.LSTM,
        name="lstm",
        input_shape=input_shape,
        num_classes=num_classes,
        outputs=outputs,
        units=units,
        dropout=dropout,
        layer_norm=False,
        dense_units=dense_units,
        dense_activation=dense_activation,
        mask_value=mask_value,
        optimizer=optimizer,
        learning_rate=learning_rate,
        loss=loss,
        seed=seed,
    )


def build_gru(
    *,
    input_shape: Sequence[int],
    num_classes: int | None = None,
    outputs: int = 1,
    units: int | Sequence[int] = (64,),
    dropout: float = 0.0,
    layer_norm: bool = False,
    dense_units: int | Sequence[int] | None = None,
    dense_activation: str | None = "relu",
    mask_value: float | None = None,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    loss: Any = None,
    seed: int | None = None,
) -> keras.Model:
    """Stacked GRU classifier or regressor, optionally with ``LayerNormalization``.

    Same layout as :func:`build_lstm`, with ``GRU`` layers; ``layer_norm=True``
    puts a ``LayerNormalization`` after each GRU (before its dropout).

    Args:
        input_shape: ``(time, channels)``.
        num_classes: number of classes; ``None`` builds a regressor.
        outputs: regression outputs (ignored for classifiers).
        units: GRU sizes, one per layer.
        dropout: dropout rate after each GRU layer.
        layer_norm: add ``LayerNormalization`` after each GRU layer.
        dense_units: hidden dense layer sizes before the output.
        dense_activation: their activation.
        mask_value: when set, a ``Masking`` layer skips padded time steps.
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        loss: loss override.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: for a malformed ``input_shape``, ``units`` or ``num_classes``.
    """
    return _build_recurrent(
        layers.GRU,
        name="gru",
        input_shape=input_shape,
        num_classes=num_classes,
        outputs=outputs,
        units=units,
        dropout=dropout,
        layer_norm=layer_norm,
        dense_units=dense_units,
        dense_activation=dense_activation,
        mask_value=mask_value,
        optimizer=optimizer,
        learning_rate=learning_rate,
        loss=loss,
        seed=seed,
    )


def _residual_block(
    x,
    *,
    conv: type[layers.Layer],
    filters: int,
    kernel_size: Any,
    seeds: _Seeds,
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
    shape = _check_shape(input_shape, rank=2, name="build_cnn1d_resnet_gru")
    if residual_blocks < 0 or gru_layers < 1:
        raise ValueError(
            f"need residual_blocks >= 0 and gru_layers >= 1, got {residual_blocks} and {gru_layers}"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=shape, name="beat")
    x = layers.Conv1D(filters, kernel_size, padding="same", **seeds.kernel())(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for _ in range(residual_blocks):
        x = _residual_block(
            x, conv=layers.Conv1D, filters=filters, kernel_size=kernel_size, seeds=seeds
        )
    x = layers.MaxPooling1D(pool_size, padding="same")(x)
    x = layers.Dense(projection_units, activation="relu", name="projection", **seeds.kernel())(x)
    for index in range(gru_layers):
        x = layers.GRU(gru_units, return_sequences=index < gru_layers - 1, **seeds.recurrent())(x)
    x = seeds.dropout(dropout)(x)
    x = layers.Dense(dense_units, activation="relu", **seeds.kernel())(x)
    x = seeds.dropout(dropout)(x)
    outputs = _head(x, num_classes=num_classes, outputs=1, seeds=seeds)
    model = keras.Model(inputs, outputs, name="cnn1d_resnet_gru")
    return _compile(
        model,
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
    shape = _check_shape(input_shape, rank=2, name="build_cnn1d_resnet")
    if residual_blocks < 0 or dense_layers < 0:
        raise ValueError(
            f"need residual_blocks >= 0 and dense_layers >= 0, got {residual_blocks} and "
            f"{dense_layers}"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=shape, name="beat")
    x = layers.Conv1D(filters, kernel_size, padding="same", **seeds.kernel())(inputs)
    for _ in range(residual_blocks):
        x = _residual_block(
            x, conv=layers.Conv1D, filters=filters, kernel_size=kernel_size, seeds=seeds,
            batch_norm=False,
        )
        x = layers.MaxPooling1D(pool_size, strides=pool_strides, padding="same")(x)
    x = layers.Flatten()(x)
    for _ in range(dense_layers):
        x = layers.Dense(dense_units, activation="relu", **seeds.kernel())(x)
        if dropout:
            x = seeds.dropout(dropout)(x)
    outputs = _head(x, num_classes=num_classes, outputs=1, seeds=seeds)
    model = keras.Model(inputs, outputs, name="cnn1d_resnet")
    return _compile(
        model,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )


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
    if residual_blocks < 0 or dense_layers < 0:
        raise ValueError(
            f"need residual_blocks >= 0 and dense_layers >= 0, got {residual_blocks} and "
            f"{dense_layers}"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=shape, name="window")
    if len(shape) == 3:
        if reshape_to is not None:
            raise ValueError("reshape_to only applies to (time, channels) inputs; drop it")
        x = inputs
    elif reshape_to is None:
        x = layers.Reshape((shape[0], shape[1], 1))(inputs)
    else:
        height, width = (int(v) for v in reshape_to)
        if height * width != shape[0]:
            raise ValueError(
                f"reshape_to={tuple(reshape_to)} holds {height * width} samples but the window "
                f"has {shape[0]}; choose height * width == {shape[0]} or pad the window"
            )
        x = layers.Reshape((height, width, shape[1]))(inputs)
    x = layers.Conv2D(filters, kernel_size, padding="same", **seeds.kernel())(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for _ in range(residual_blocks):
        x = _residual_block(
            x, conv=layers.Conv2D, filters=filters, kernel_size=kernel_size, seeds=seeds
        )
    x = layers.MaxPooling2D(pool_size, padding="same")(x)
    x = layers.Flatten()(x)
    for _ in range(dense_layers):
        x = layers.Dense(dense_units, activation="relu", **seeds.kernel())(x)
        x = seeds.dropout(dropout)(x)
    outputs = _head(x, num_classes=num_classes, outputs=1, seeds=seeds)
    model = keras.Model(inputs, outputs, name="cnn2d_resnet")
    return _compile(
        model,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )


def build_transformer(
    *,
    input_shape: Sequence[int],
    num_classes: int | None = None,
    outputs: int = 1,
    model_dim: int = 32,
    num_heads: int = 2,
    ff_dim: int = 64,
    encoder_blocks: int = 2,
    dense_units: int = 32,
    dropout: float = 0.1,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """A small pre-norm Transformer encoder for fixed-length windows.

    Layers: per-step ``Dense(model_dim)`` projection + learned position
    embedding -> ``encoder_blocks`` × (LayerNorm -> ``MultiHeadAttention`` ->
    Dropout -> residual; LayerNorm -> ``Dense(ff_dim, relu)`` -> Dropout ->
    ``Dense(model_dim)`` -> residual) -> LayerNorm -> global average pooling ->
    ``Dense(dense_units, relu)`` -> softmax (classifier) or linear (regressor).

    Args:
        input_shape: ``(time, channels)`` with a fixed ``time``.
        num_classes: number of classes; ``None`` builds a regressor.
        outputs: regression outputs.
        model_dim: width of the encoder.
        num_heads: attention heads (``key_dim = model_dim // num_heads``).
        ff_dim: width of the feed-forward layer.
        encoder_blocks: number of encoder blocks.
        dense_units: width of the hidden dense layer of the head.
        dropout: dropout rate.
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model``.

    Raises:
        ValueError: if ``model_dim`` is not divisible by ``num_heads`` or the
            input shape is malformed.
    """
    shape = _check_shape(input_shape, rank=2, name="build_transformer")
    if model_dim % num_heads:
        raise ValueError(
            f"model_dim {model_dim} is not divisible by num_heads {num_heads}; "
            "pick model_dim as a multiple of num_heads"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=shape, name="window")
    x = layers.Dense(model_dim, name="embedding", **seeds.kernel())(inputs)
    x = PositionEmbedding(
        initializer=keras.initializers.RandomNormal(stddev=0.02, seed=seeds._next()),
        name="position",
    )(x)
    for _ in range(encoder_blocks):
        y = layers.LayerNormalization(epsilon=1e-6)(x)
        y = layers.MultiHeadAttention(
            num_heads=num_heads,
            key_dim=model_dim // num_heads,
            dropout=dropout,
            seed=seeds._next(),
            **seeds.kernel(),
        )(y, y)
        y = seeds.dropout(dropout)(y)
        x = layers.Add()([x, y])
        y = layers.LayerNormalization(epsilon=1e-6)(x)
        y = layers.Dense(ff_dim, activation="relu", **seeds.kernel())(y)
        y = seeds.dropout(dropout)(y)
        y = layers.Dense(model_dim, **seeds.kernel())(y)
        x = layers.Add()([x, y])
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(dense_units, activation="relu", **seeds.kernel())(x)
    x = seeds.dropout(dropout)(x)
    outputs_tensor = _head(x, num_classes=num_classes, outputs=outputs, seeds=seeds)
    model = keras.Model(inputs, outputs_tensor, name="transformer")
    return _compile(
        model, num_classes=num_classes, optimizer=optimizer, learning_rate=learning_rate
    )


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
    sizes = () if units in ((), []) else _as_tuple(units, name="units")
    if isinstance(activations, str) or activations is None:
        activations = (activations,) * len(sizes)
    activations = tuple(activations)
    if len(activations) != len(sizes):
        raise ValueError(
            f"got {len(activations)} activations for {len(sizes)} hidden layers; "
            "pass one activation, or one per layer"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=(int(input_dim),), name="features")
    x = inputs
    if feature_indices is not None:
        bad = [i for i in feature_indices if not 0 <= int(i) < input_dim]
        if bad:
            raise ValueError(
                f"feature indices {bad} are outside 0..{input_dim - 1}; pass column positions"
            )
        x = SelectFeatures(feature_indices, name="select_features")(x)
    for size, activation in zip(sizes, activations, strict=True):
        x = layers.Dense(size, activation=activation, **seeds.kernel())(x)
        if dropout:
            x = seeds.dropout(dropout)(x)
    outputs_tensor = _head(x, num_classes=num_classes, outputs=outputs, seeds=seeds)
    model = keras.Model(inputs, outputs_tensor, name="mlp")
    return _compile(
        model,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        loss=loss,
    )


# --------------------------------------------------------------------------- hypermodels


class _ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` on ``val_loss``, or on ``loss`` when the fit has no validation
    data (a final fit on all training data), instead of warning every epoch."""

    def __init__(self, **kwargs: Any):
        super().__init__(monitor="val_loss", **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "val_loss" not in logs and "loss" in logs:
            self.monitor = "loss"
        super().on_epoch_end(epoch, logs)


class _StudyHyperModel(keras_tuner.HyperModel):
    """Base of the study hypermodels: space overrides, batch size in ``fit``, callbacks.

    Subclasses set ``DEFAULT_SPACE`` and implement ``_build_model(hp)``.

    Every study hypermodel also takes ``jit_compile`` (True, False or "auto", the default):
    whether Keras compiles the train and predict steps with XLA. Keras' "auto" turns XLA
    off on a CPU-only machine; True compiles each model once (seconds) and can make its
    epochs faster: ``bench/xla_epoch.py`` measures it per network (figures in
    ``bench/README.md``).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {}
    objective: ClassVar[str] = "val_accuracy"
    data_hyperparameters: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        seed: int | None = None,
        reduce_lr_patience: int = 3,
        name: str | None = None,
        tunable: bool = True,
        jit_compile: bool | str = "auto",
        **space: Any,
    ):
        super().__init__(name=name, tunable=tunable)
        if jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"jit_compile must be True, False or 'auto', got {jit_compile!r}; 'auto' keeps "
                "Keras' choice (XLA off on a CPU-only machine)"
            )
        self.jit_compile = jit_compile
        unknown = sorted(set(space) - set(self.DEFAULT_SPACE))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no hyperparameter(s) {unknown}; "
                f"the space has {sorted(self.DEFAULT_SPACE)}"
            )
        for key, value in space.items():
            if isinstance(value, (list, tuple)) and not value:
                raise ValueError(f"{key} is an empty sequence; give at least one value")
        self.space: dict[str, Any] = {**self.DEFAULT_SPACE, **space}
        self.seed = seed
        self.reduce_lr_patience = reduce_lr_patience

    # Space helpers.
    def _hp(self, hp: keras_tuner.HyperParameters, name: str) -> Any:
        return _declare(hp, name, self.space[name])

    def _declare_training(self, hp: keras_tuner.HyperParameters) -> None:
        """Declares the training- and data-side hyperparameters of the space."""
        for name in ("batch_size", "reduce_lr_factor", "resampling"):
            if self.space.get(name) is not None:
                self._hp(hp, name)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Declares the whole space on ``hp`` and returns the compiled model."""
        self._declare_training(hp)
        model = self._build_model(hp)
        if self.jit_compile != "auto":
            # Keras resolves "auto" to no XLA on a CPU-only machine; the setter warns and
            # falls back when a layer cannot be compiled.
            model.jit_compile = self.jit_compile
        return model

    def _build_model(self, hp: keras_tuner.HyperParameters) -> keras.Model:  # pragma: no cover
        raise NotImplementedError

    def callbacks(self, hp: keras_tuner.HyperParameters) -> list[keras.callbacks.Callback]:
        """Callbacks that carry hyperparameters (``ReduceLROnPlateau(factor=...)``).

        Args:
            hp: the trial's hyperparameters.

        Returns:
            A list of fresh callbacks (empty when the space has no such entry).
        """
        if self.space.get("reduce_lr_factor") is None:
            return []
        factor = self._hp(hp, "reduce_lr_factor")
        return [_ReduceLROnPlateau(factor=factor, patience=self.reduce_lr_patience, verbose=0)]

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """Fits with the trial's batch size and hyperparameter callbacks.

        Args:
            hp: the trial's hyperparameters.
            model: the model ``build(hp)`` returned.
            *args: passed to ``model.fit`` (``x``, ``y`` ...).
            **kwargs: passed to ``model.fit`` (``epochs``, ``callbacks``,
                ``validation_data``, ``class_weight`` ...). Callbacks of the same
                type as :meth:`callbacks` returns are not added twice.

        Returns:
            The ``keras.callbacks.History`` of ``model.fit``.

        Raises:
            ValueError: if ``batch_size`` is passed while the space tunes it
                (construct with ``batch_size=None`` to control it yourself, e.g.
                for ``tf.data`` input).
        """
        self._declare_training(hp)
        if self.space.get("batch_size") is not None:
            if "batch_size" in kwargs:
                raise ValueError(
                    f"batch_size={kwargs['batch_size']} was passed to fit but "
                    f"{type(self).__name__} tunes batch_size; construct it with "
                    "batch_size=None to set it yourself"
                )
            kwargs["batch_size"] = hp.get("batch_size")
        callbacks = list(kwargs.pop("callbacks", None) or [])
        present = {type(callback) for callback in callbacks}
        callbacks += [c for c in self.callbacks(hp) if type(c) not in present]
        return model.fit(*args, callbacks=callbacks, **kwargs)


class LSTMClassifierHyperModel(_StudyHyperModel):
    """MHEALTH activity classifier: one LSTM + a linear hidden dense layer + softmax.

    Default space (the original grid, 4 × 3 × 3 = 36 trials): ``batch_size``
    {64, 128, 256, 512} × ``learning_rate`` {0.001, 0.01, 0.1} × ``units``
    {16, 32, 64} (LSTM width, also the width of the linear dense layer). Adam,
    sparse categorical cross-entropy. ``dropout`` is fixed at 0.

    Args:
        input_shape: ``(time, channels)``; MHEALTH windows are ``(100, 12)``.
        num_classes: number of activities (13 with the null class).
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries (``units=(16, 32)`` ...).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "units": (16, 32, 64),
        "learning_rate": (0.001, 0.01, 0.1),
        "batch_size": (64, 128, 256, 512),
        "dropout": 0.0,
    }
    objective = "val_accuracy"

    def __init__(
        self, input_shape: Sequence[int] = (100, 12), num_classes: int = 13, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes

    def _build_model(self, hp):
        units = self._hp(hp, "units")
        return build_lstm(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            units=(units,),
            dropout=self._hp(hp, "dropout"),
            dense_units=units,
            dense_activation=None,
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class LSTMRegressorHyperModel(_StudyHyperModel):
    """Household power forecaster: stacked LSTM with dropout, linear output, MSE.

    The original model is 2 layers of 5 and 3 units, dropout 0.2, Adam lr 0.01.
    Default space: ``layers`` {1, 2, 3}; ``units_<i>`` for each active layer
    (conditional on ``layers``) from ``units`` {3, 5, 8, 16, 32};
    ``learning_rate`` {0.01, 0.003, 0.001}; ``dropout`` fixed 0.2;
    ``batch_size`` fixed 32. ``mask_value`` (constructor argument, not tuned)
    adds a ``Masking`` layer for padded input.

    Args:
        input_shape: ``(time, channels)``.
        outputs: number of predicted values (horizons).
        mask_value: padding value to mask, or ``None``.
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "layers": (1, 2, 3),
        "units": (3, 5, 8, 16, 32),
        "learning_rate": (0.01, 0.003, 0.001),
        "dropout": 0.2,
        "batch_size": 32,
    }
    objective = "val_loss"

    def __init__(
        self,
        input_shape: Sequence[int] = (30, 1),
        *,
        outputs: int = 1,
        mask_value: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.outputs = outputs
        self.mask_value = mask_value

    def _build_model(self, hp):
        count = self._hp(hp, "layers")
        possible = _possible_values(self.space["layers"])
        units = []
        for index in range(max(possible)):
            with hp.conditional_scope("layers", [n for n in possible if n > index]):
                value = _declare(hp, f"units_{index}", self.space["units"])
            if index < count:
                units.append(value)
        return build_lstm(
            input_shape=self.input_shape,
            num_classes=None,
            outputs=self.outputs,
            units=units,
            dropout=self._hp(hp, "dropout"),
            mask_value=self.mask_value,
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


def _possible_values(spec: Any) -> list[Any]:
    """Every value a space entry can take (a Range must be an integer range)."""
    if isinstance(spec, Range):
        if not spec.is_int:
            raise ValueError(f"expected an integer Range for a layer count, got {spec}")
        return list(range(spec.low, spec.high + 1, spec.step or 1))
    if isinstance(spec, (list, tuple)):
        return [_python(v) for v in spec]
    return [_python(spec)]


class GRUHyperModel(_StudyHyperModel):
    """Stacked GRU classifier or regressor with optional ``LayerNormalization``.

    Default space: ``layers`` {1, 2}, ``units`` {16, 32, 64} (one width for all
    layers), ``layer_norm`` {False, True}, ``dropout`` {0.0, 0.2},
    ``learning_rate`` {0.001, 0.01}, ``batch_size`` {32, 64}.

    Args:
        input_shape: ``(time, channels)``.
        num_classes: classes, or ``None`` for a regressor (objective ``val_loss``).
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "layers": (1, 2),
        "units": (16, 32, 64),
        "layer_norm": (False, True),
        "dropout": (0.0, 0.2),
        "learning_rate": (0.001, 0.01),
        "batch_size": (32, 64),
    }

    def __init__(self, input_shape: Sequence[int], num_classes: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.objective = "val_accuracy" if num_classes is not None else "val_loss"

    def _build_model(self, hp):
        return build_gru(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            units=(self._hp(hp, "units"),) * self._hp(hp, "layers"),
            layer_norm=self._hp(hp, "layer_norm"),
            dropout=self._hp(hp, "dropout"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class CNN1DResNetGRUHyperModel(_StudyHyperModel):
    """MIT-BIH beat classifier: 1-D ResNet + stacked GRU (:func:`build_cnn1d_resnet_gru`).

    Default space (the original study): ``gru_units`` {32, 64, 128, 256, 512},
    ``batch_size`` {16, 32, 48, 60}, ``gru_layers`` {2, 3, 4},
    ``residual_blocks`` 1-5, ``dropout`` {0.2, 0.3, 0.4}, ``optimizer``
    {adam, adamw}, ``reduce_lr_factor`` 0.1-0.4 (step 0.1), ``learning_rate``
    fixed 0.001, and ``resampling`` {"smote", "random_over"}.

    ``reduce_lr_factor`` is the ``factor`` of a ``ReduceLROnPlateau`` on
    ``val_loss`` returned by :meth:`callbacks` (the tuning engine appends it to
    its callbacks; :meth:`fit` adds it when absent). ``resampling`` is a
    *data-side* hyperparameter listed in ``data_hyperparameters``: the model
    ignores it, and the tuning engine reads ``hp["resampling"]`` to build the
    trial's training set (SMOTE or random over-sampling). Pass
    ``resampling=None`` to leave it out of the space.

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``.
        num_classes: number of beat classes (5 AAMI classes).
        filters: convolution filters (not tuned; 128 as in the study, 32 on CPU).
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "gru_units": (32, 64, 128, 256, 512),
        "batch_size": (16, 32, 48, 60),
        "gru_layers": (2, 3, 4),
        "residual_blocks": Range(1, 5),
        "dropout": (0.2, 0.3, 0.4),
        "optimizer": ("adam", "adamw"),
        "reduce_lr_factor": Range(0.1, 0.4, step=0.1),
        "learning_rate": 0.001,
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)

    def __init__(
        self,
        input_shape: Sequence[int] = (187, 1),
        num_classes: int = 5,
        *,
        filters: int = 128,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.filters = filters

    def _build_model(self, hp):
        return build_cnn1d_resnet_gru(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            filters=self.filters,
            residual_blocks=self._hp(hp, "residual_blocks"),
            gru_units=self._hp(hp, "gru_units"),
            gru_layers=self._hp(hp, "gru_layers"),
            dropout=self._hp(hp, "dropout"),
            optimizer=self._hp(hp, "optimizer"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class CNN1DResNetHyperModel(_StudyHyperModel):
    """MIT-BIH beat classifier: pooled 1-D ResNet (:func:`build_cnn1d_resnet`).

    Not one of the original study's models: the network Kachuee et al. (2018) published with
    the Kaggle beat set, added as a stronger CPU-sized baseline. Default space: their
    published configuration, fixed (``filters`` 32, ``residual_blocks`` 5, ``dense_units``
    32, ``dropout`` 0, ``learning_rate`` 0.001, ``batch_size`` 64), ``reduce_lr_factor``
    0.4 and ``resampling`` {"smote", "random_over"}; override any entry with a tuple or a
    :class:`Range` to search it (see :class:`CNN1DResNetGRUHyperModel` for ``callbacks``
    and ``resampling``).

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``.
        num_classes: number of beat classes.
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "filters": 32,
        "residual_blocks": 5,
        "dense_units": 32,
        "dropout": 0.0,
        "learning_rate": 0.001,
        "batch_size": 64,
        "reduce_lr_factor": 0.4,
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)

    def __init__(
        self, input_shape: Sequence[int] = (187, 1), num_classes: int = 5, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes

    def _build_model(self, hp):
        return build_cnn1d_resnet(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            filters=self._hp(hp, "filters"),
            residual_blocks=self._hp(hp, "residual_blocks"),
            dense_units=self._hp(hp, "dense_units"),
            dropout=self._hp(hp, "dropout"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class CNN2DResNetHyperModel(_StudyHyperModel):
    """MIT-BIH beat classifier: 2-D ResNet on the beat as an image (:func:`build_cnn2d_resnet`).

    Default space (the original study): ``batch_size`` {16, 32, 48},
    ``dense_units`` 62-256, ``dense_layers`` {2, 3, 4}, ``residual_blocks``
    1-7, ``dropout`` 0.1-0.4 (step 0.1), ``reduce_lr_factor`` 0.1-0.4 (step
    0.1), ``learning_rate`` fixed 0.001, ``optimizer`` fixed adam, and the
    data-side ``resampling`` {"smote", "random_over"} (see
    :class:`CNN1DResNetGRUHyperModel` for ``callbacks`` and ``resampling``).

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``.
        num_classes: number of beat classes.
        filters: convolution filters (not tuned; 128 as in the study, 32 on CPU).
        reshape_to: optional ``(height, width)`` image shape of the window.
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "batch_size": (16, 32, 48),
        "dense_units": Range(62, 256),
        "dense_layers": (2, 3, 4),
        "residual_blocks": Range(1, 7),
        "dropout": Range(0.1, 0.4, step=0.1),
        "reduce_lr_factor": Range(0.1, 0.4, step=0.1),
        "learning_rate": 0.001,
        "optimizer": "adam",
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)

    def __init__(
        self,
        input_shape: Sequence[int] = (187, 1),
        num_classes: int = 5,
        *,
        filters: int = 128,
        reshape_to: Sequence[int] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.filters = filters
        self.reshape_to = reshape_to

    def _build_model(self, hp):
        return build_cnn2d_resnet(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            reshape_to=self.reshape_to,
            filters=self.filters,
            residual_blocks=self._hp(hp, "residual_blocks"),
            dense_units=self._hp(hp, "dense_units"),
            dense_layers=self._hp(hp, "dense_layers"),
            dropout=self._hp(hp, "dropout"),
            optimizer=self._hp(hp, "optimizer"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class TransformerHyperModel(_StudyHyperModel):
    """Small Transformer encoder (:func:`build_transformer`), e.g. for MIT-BIH beats.

    Default space: ``model_dim`` {16, 32}, ``num_heads`` {2, 4},
    ``encoder_blocks`` {1, 2}, ``ff_dim`` {32, 64}, ``dropout`` {0.1, 0.2},
    ``learning_rate`` {0.001, 0.0003}, ``batch_size`` {32, 64},
    ``reduce_lr_factor`` fixed 0.2 (see :meth:`callbacks`).

    Args:
        input_shape: ``(time, channels)``.
        num_classes: classes, or ``None`` for a regressor.
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "model_dim": (16, 32),
        "num_heads": (2, 4),
        "encoder_blocks": (1, 2),
        "ff_dim": (32, 64),
        "dropout": (0.1, 0.2),
        "learning_rate": (0.001, 0.0003),
        "batch_size": (32, 64),
        "reduce_lr_factor": 0.2,
    }

    def __init__(
        self, input_shape: Sequence[int] = (187, 1), num_classes: int | None = 5, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.objective = "val_accuracy" if num_classes is not None else "val_loss"

    def _build_model(self, hp):
        return build_transformer(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            model_dim=self._hp(hp, "model_dim"),
            num_heads=self._hp(hp, "num_heads"),
            encoder_blocks=self._hp(hp, "encoder_blocks"),
            ff_dim=self._hp(hp, "ff_dim"),
            dropout=self._hp(hp, "dropout"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


def _stacked_form(hypermodel: _StudyHyperModel, values: Mapping[str, Any]) -> dict[str, Any]:
    """The stacked form of one configuration of an MLP hypermodel (``lib.tuning.stacked``).

    Declares the hypermodel's space on a ``HyperParameters`` holding ``values`` and returns the
    :func:`build_mlp` keyword arguments its ``build`` would use (without ``seed``), plus
    ``batch_size``; the mapping from hyperparameters to builder arguments is the one
    ``_mlp_arguments`` declares for ``build``.
    """
    hp = keras_tuner.HyperParameters()
    hp.values = dict(values)
    hypermodel._declare_training(hp)
    form = hypermodel._mlp_arguments(hp)
    form.pop("seed", None)
    form["batch_size"] = hp.values.get("batch_size")
    return form


class FeatureSubsetMLPHyperModel(_StudyHyperModel):
    """Hand-pose MLP whose input-feature subset is a hyperparameter.

    One ``hp.Boolean("use_<name>")`` per feature (all ``True`` by default
    values) decides which columns the model sees. The model always takes *all*
    features and gathers the chosen columns inside the network with a
    weight-free :class:`SelectFeatures` layer (``keras.ops.take``), so every
    tuner (KerasTuner or Ray Tune) can pass the full ``X``.

    Why independent booleans: each feature is its own binary dimension, so a
    TPE or Bayesian oracle can learn per feature whether using it helps (a
    single categorical over all 2^9 subsets would share no information between
    neighbouring subsets).

    Repair: when fewer than ``min_features`` booleans are on, the first
    features in ``feature_names`` order that are off are switched on until
    ``min_features`` are used (none on -> the first two; only ``ang`` on ->
    the first feature and ``ang``). The repaired set is what
    :meth:`selected_features` returns and what the model uses; the trial's
    booleans are left as sampled, so the oracle sees its own draws.

    Rest of the default space: ``layers`` {1, 2, 3}, ``units`` {16, 32, 64,
    128} (one width for all layers), ``activation`` {relu, tanh, sigmoid},
    ``dropout`` 0.0-0.5 (step 0.1), ``learning_rate`` {0.01, 0.001, 0.0001},
    ``batch_size`` {16, 32, 64, 128}; Adam.

    Subset as one choice (``subset_choice=True``): instead of the booleans, one
    ``hp.Choice("features")`` whose values are every subset of at least
    ``min_features`` features (:meth:`feature_subsets`, written as names joined by
    ``"+"``, smallest subsets first). A grid search then walks each distinct subset
    exactly once (the booleans give ``2**n`` patterns, some of which the repair maps
    onto the same subset).

    Args:
        feature_names: the input columns, in the order of ``X``'s columns.
        num_classes: number of poses (3 in the hand-poses data).
        min_features: the fewest features a model may use.
        search_features: False declares no ``use_<name>`` booleans and uses every
            feature (e.g. a coarse grid over the other hyperparameters only).
        subset_choice: True declares the subset as one ``"features"`` choice (above)
            instead of one boolean per feature.
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.

    Raises:
        ValueError: duplicate feature names, ``min_features`` outside 1..n, a feature
            name holding ``"+"`` with ``subset_choice``, or ``subset_choice`` together
            with ``search_features=False``.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "layers": (1, 2, 3),
        "units": (16, 32, 64, 128),
        "activation": ("relu", "tanh", "sigmoid"),
        "dropout": Range(0.0, 0.5, step=0.1),
        "learning_rate": (0.01, 0.001, 0.0001),
        "batch_size": (16, 32, 64, 128),
    }
    objective = "val_accuracy"

    def __init__(
        self,
        feature_names: Sequence[str],
        num_classes: int = 3,
        *,
        min_features: int = 2,
        search_features: bool = True,
        subset_choice: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.search_features = search_features
        self.subset_choice = bool(subset_choice)
        self.feature_names = [str(name) for name in feature_names]
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"feature_names has duplicates: {self.feature_names}")
        if not 1 <= min_features <= len(self.feature_names):
            raise ValueError(
                f"min_features must be in 1..{len(self.feature_names)} (the number of "
                f"features), got {min_features}"
            )
        self.num_classes = num_classes
        self.min_features = min_features
        if self.subset_choice:
            if not search_features:
                raise ValueError(
                    "subset_choice=True tunes the feature subset but search_features=False "
                    "fixes it to all features; pass one of them"
                )
            joined = [name for name in self.feature_names if SUBSET_SEPARATOR in name]
            if joined:
                raise ValueError(
                    f"feature names {joined} contain {SUBSET_SEPARATOR!r}, which separates the "
                    "names in a subset value; rename those columns to use subset_choice=True"
                )

    def feature_subsets(self) -> list[str]:
        """Every subset of at least ``min_features`` features, as ``"+"``-joined names.

        Returns:
            The values of the ``"features"`` choice: smaller subsets first, each subset
            and the subsets of one size in ``feature_names`` order
            (``itertools.combinations``); ``2**n`` minus the subsets below
            ``min_features`` in all.
        """
        return [
            SUBSET_SEPARATOR.join(combination)
            for size in range(self.min_features, len(self.feature_names) + 1)
            for combination in itertools.combinations(self.feature_names, size)
        ]

    def selected_features(
        self, hp_values: Mapping[str, Any] | keras_tuner.HyperParameters
    ) -> list[str]:
        """The features a trial's model uses, after the repair.

        Args:
            hp_values: a trial's hyperparameter values (a dict such as
                ``trial.hyperparameters.values`` or a Ray config) or a
                ``HyperParameters`` object. Missing ``use_<name>`` count as on; a
                ``"features"`` value (``subset_choice``) names the subset itself.

        Returns:
            The used feature names, in ``feature_names`` order.

        Raises:
            ValueError: a ``"features"`` value naming an unknown feature.
        """
        values = hp_values.values if hasattr(hp_values, "values") and not isinstance(
            hp_values, Mapping
        ) else hp_values
        subset = values.get("features")
        if isinstance(subset, str):
            chosen = set(subset.split(SUBSET_SEPARATOR))
            unknown = sorted(chosen - set(self.feature_names))
            if unknown:
                raise ValueError(
                    f"features={subset!r} names {unknown}, not among the feature names "
                    f"{self.feature_names}; pass one of feature_subsets()"
                )
            return [name for name in self.feature_names if name in chosen]
        used = [bool(values.get(f"use_{name}", True)) for name in self.feature_names]
        for index in range(len(used)):
            if sum(used) >= self.min_features:
                break
            used[index] = True
        return [name for name, on in zip(self.feature_names, used, strict=True) if on]

    def stacked_form(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration as the stacked executor trains it (``lib.tuning.stacked``).

        The chosen features become a per-model input mask; every layer has the same width.

        Args:
            values: one configuration's hyperparameter values.

        Returns:
            :func:`build_mlp` keyword arguments (``input_dim``, ``num_classes``,
            ``feature_indices``, ``units``, ``activations``, ``dropout``, ``learning_rate``)
            plus ``batch_size``.
        """
        return _stacked_form(self, values)

    def _build_model(self, hp):
        return build_mlp(**self._mlp_arguments(hp))

    def _mlp_arguments(self, hp) -> dict[str, Any]:
        """Declares the model's hyperparameters on ``hp``; returns :func:`build_mlp`'s keywords."""
        if self.search_features and self.subset_choice:
            subsets = self.feature_subsets()
            hp.Choice("features", subsets, default=subsets[-1])  # default: every feature
        elif self.search_features:
            for name in self.feature_names:
                hp.Boolean(f"use_{name}", default=True)
        chosen = set(self.selected_features(hp))
        indices = [i for i, name in enumerate(self.feature_names) if name in chosen]
        return dict(
            input_dim=len(self.feature_names),
            num_classes=self.num_classes,
            feature_indices=indices,
            units=(self._hp(hp, "units"),) * self._hp(hp, "layers"),
            activations=self._hp(hp, "activation"),
            dropout=self._hp(hp, "dropout"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )


class MLPHyperModel(_StudyHyperModel):
    """Mice sleep-stage MLP grid: 25 features -> 1 or 2 hidden layers -> 3-class softmax.

    Default space (the original grid, 1,008 combinations): ``second_layer``
    {False, True}; ``units_1`` and ``activation_1`` for the first layer,
    ``units_2`` and ``activation_2`` only when ``second_layer`` (conditional
    scope), from ``units`` {2, 4, 8} and ``activation`` {sigmoid, relu};
    ``optimizer`` {adam, sgd}; ``learning_rate`` {0.01, 0.001, 0.0001};
    ``momentum`` {0, 0.8, 0.99} only when ``optimizer`` is sgd (conditional
    scope); ``loss`` {kl_divergence, categorical_crossentropy}; ``batch_size``
    fixed 32; ``resampling`` not declared (the original grid did not resample;
    ``resampling="smote"`` declares it, and the tuning engine then oversamples
    each training fold, never a validation fold). ``units_2`` and
    ``activation_2`` take the first layer's values unless given their own
    (e.g. one value each, to fix a single configuration: a space of one point).
    Both losses take integer labels (:class:`OneHotLoss`). The study's
    objective is the validation weighted F1 (``objective``).

    Args:
        input_dim: number of input features (25).
        num_classes: number of sleep stages (3).
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "second_layer": (False, True),
        "units": (2, 4, 8),
        "activation": ("sigmoid", "relu"),
        "optimizer": ("adam", "sgd"),
        "learning_rate": (0.01, 0.001, 0.0001),
        "momentum": (0.0, 0.8, 0.99),
        "loss": ("kl_divergence", "categorical_crossentropy"),
        "batch_size": 32,
        "resampling": None,
        "units_2": None,
        "activation_2": None,
    }
    objective = "val_weighted_f1"
    data_hyperparameters = ("resampling",)

    def __init__(self, input_dim: int = 25, num_classes: int = 3, **kwargs: Any):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.num_classes = num_classes

    def stacked_form(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration as the stacked executor trains it (``lib.tuning.stacked``).

        One- and two-layer models share a stack (a one-layer model passes the second layer
        by); the optimizer (Adam or SGD with its momentum), learning rate and loss are per
        model. On one-hot targets, KL divergence and cross-entropy differ only through Keras'
        clipping to ``[1e-7, 1]``: the clipped zeros of the target add terms of order 1e-7,
        and under KL a probability below 1e-7 gets no gradient; otherwise their gradients
        agree, so the two halves of the original grid (``loss``) are nearly duplicates.

        Args:
            values: one configuration's hyperparameter values.

        Returns:
            :func:`build_mlp` keyword arguments (``input_dim``, ``num_classes``, ``units``,
            ``activations``, ``optimizer``, ``learning_rate``, ``momentum``, ``loss``) plus
            ``batch_size``.
        """
        return _stacked_form(self, values)

    def _build_model(self, hp):
        return build_mlp(**self._mlp_arguments(hp))

    def _second(self, name: str) -> Any:
        """The second layer's values of ``name`` (``units`` / ``activation``): its own
        ``<name>_2`` entry when given, else the first layer's."""
        own = self.space.get(f"{name}_2")
        return self.space[name] if own is None else own

    def _mlp_arguments(self, hp) -> dict[str, Any]:
        """Declares the model's hyperparameters on ``hp``; returns :func:`build_mlp`'s keywords."""
        second = self._hp(hp, "second_layer")
        units = [_declare(hp, "units_1", self.space["units"])]
        activations = [_declare(hp, "activation_1", self.space["activation"])]
        second_values = [v for v in _possible_values(self.space["second_layer"]) if v]
        if second_values:
            with hp.conditional_scope("second_layer", second_values):
                units_2 = _declare(hp, "units_2", self._second("units"))
                activation_2 = _declare(hp, "activation_2", self._second("activation"))
            if second:
                units.append(units_2)
                activations.append(activation_2)
        optimizer = self._hp(hp, "optimizer")
        momentum = 0.0
        if "sgd" in _possible_values(self.space["optimizer"]):
            with hp.conditional_scope("optimizer", ["sgd"]):
                value = self._hp(hp, "momentum")
            if optimizer == "sgd":
                momentum = value
        return dict(
            input_dim=self.input_dim,
            num_classes=self.num_classes,
            units=units,
            activations=activations,
            optimizer=optimizer,
            learning_rate=self._hp(hp, "learning_rate"),
            momentum=momentum,
            loss=self._hp(hp, "loss"),
            seed=self.seed,
        )


# --------------------------------------------------------------------------- beat + RR intervals


def build_beat_rr_classifier(
    *,
    beat_length: int = 187,
    rr_features: int = 9,
    beat_samples: int | None = None,
    rr_indices: Sequence[int] | None = None,
    num_classes: int = 5,
    filters: int = 32,
    kernel_size: int = 5,
    residual_blocks: int = 3,
    rr_units: int = 16,
    rr_layers: int = 1,
    dense_units: int = 64,
    dropout: float = 0.2,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.004,
    seed: int | None = None,
) -> keras.Model:
    """Two-branch beat classifier: a 1-D convolutional branch on the beat, a dense branch
    on its RR-interval features, merged before the softmax.

    The input is one row per beat, the beat's ``beat_length`` samples followed by its
    ``rr_features`` RR features (:meth:`BeatRRHyperModel.pack` builds it), so that
    resampling, folds and the tuning engine handle a single array; the model splits the
    row with :class:`SelectFeatures` layers into its two inputs:

    - beat branch: the first ``beat_samples`` samples as a ``(beat_samples, 1)``
      sequence -> ``Conv1D(filters, kernel_size)`` -> ``residual_blocks`` pooled residual
      blocks (as :func:`build_cnn1d_resnet`, max-pooling 5 with stride 2) -> global
      average pooling;
    - RR branch: the columns ``rr_indices`` of the RR features -> ``rr_layers`` ×
      ``Dense(rr_units, relu)``;
    - merged: concatenate -> ``Dense(dense_units, relu)`` -> ``Dropout`` -> softmax.

    Args:
        beat_length: samples per beat in the input row.
        rr_features: RR features after the beat in the input row.
        beat_samples: samples of the beat the convolutional branch sees, from the
            R-peak on (None: all ``beat_length``).
        rr_indices: which of the ``rr_features`` columns the RR branch uses, counted
            from the first RR column (None: all).
        num_classes: number of beat classes.
        filters: convolution filters.
        kernel_size: convolution kernel length.
        residual_blocks: pooled residual blocks (0 allowed).
        rr_units: width of the RR branch's dense layers.
        rr_layers: number of dense layers of the RR branch (0: the features go straight
            to the merge).
        dense_units: width of the dense layer after the merge.
        dropout: dropout rate after that layer.
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        weight_decay: weight decay for ``adamw``.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model`` taking ``(batch, beat_length + rr_features)``.

    Raises:
        ValueError: ``beat_samples`` outside ``[1, beat_length]``, RR indices outside
            ``[0, rr_features)``, or negative sizes.
    """
    if beat_length < 1 or rr_features < 1:
        raise ValueError(
            f"need beat_length >= 1 and rr_features >= 1, got {beat_length} and {rr_features}"
        )
    beat_samples = beat_length if beat_samples is None else int(beat_samples)
    if not 1 <= beat_samples <= beat_length:
        raise ValueError(
            f"beat_samples must lie in [1, {beat_length}] (the beat length), got {beat_samples}"
        )
    rr_indices = list(range(rr_features)) if rr_indices is None else [int(i) for i in rr_indices]
    if not rr_indices or min(rr_indices) < 0 or max(rr_indices) >= rr_features:
        raise ValueError(
            f"rr_indices must be a non-empty list of columns in [0, {rr_features}), got "
            f"{rr_indices}"
        )
    if residual_blocks < 0 or rr_layers < 0:
        raise ValueError(
            f"need residual_blocks >= 0 and rr_layers >= 0, got {residual_blocks} and {rr_layers}"
        )
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=(beat_length + rr_features,), name="beat_and_rr")
    beat = SelectFeatures(range(beat_samples), name="beat")(inputs)
    beat = layers.Reshape((beat_samples, 1))(beat)
    x = layers.Conv1D(filters, kernel_size, padding="same", **seeds.kernel())(beat)
    for _ in range(residual_blocks):
        x = _residual_block(
            x, conv=layers.Conv1D, filters=filters, kernel_size=kernel_size, seeds=seeds,
            batch_norm=False,
        )
        x = layers.MaxPooling1D(5, strides=2, padding="same")(x)
    x = layers.GlobalAveragePooling1D()(x)
    rr = SelectFeatures([beat_length + i for i in rr_indices], name="rr_features")(inputs)
    for _ in range(rr_layers):
        rr = layers.Dense(rr_units, activation="relu", **seeds.kernel())(rr)
    x = layers.Concatenate()([x, rr])
    x = layers.Dense(dense_units, activation="relu", **seeds.kernel())(x)
    if dropout:
        x = seeds.dropout(dropout)(x)
    outputs = _head(x, num_classes=num_classes, outputs=1, seeds=seeds)
    model = keras.Model(inputs, outputs, name="beat_rr_classifier")
    return _compile(
        model,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )


def weighted_classes(y: Any, num_classes: int, method: str) -> dict[int, float] | None:
    """Class weights for ``model.fit(class_weight=...)`` from the training labels.

    Args:
        y: training class ids (after any resampling).
        num_classes: number of classes; classes absent from ``y`` get weight 1.
        method: ``"none"`` (returns None), ``"balanced"`` (``n / (k * count)``, ``k`` the
            classes present) or ``"sqrt"`` (the square root of the balanced weight: rare
            classes count more, but less than in proportion).

    Returns:
        ``{class id: weight}`` for every class, or None for ``"none"``.

    Raises:
        ValueError: unknown ``method``, or ``y`` empty or holding ids outside
            ``[0, num_classes)``.
    """
    if method not in ("none", "balanced", "sqrt"):
        raise ValueError(
            f"class weighting must be 'none', 'balanced' or 'sqrt', got {method!r}"
        )
    if method == "none":
        return None
    import numpy as np

    y = np.asarray(y).reshape(-1)
    if y.size == 0 or y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"expected a non-empty array of class ids in [0, {num_classes}), found "
            f"{y.size} labels" + (f" in {y.min()}..{y.max()}" if y.size else "")
        )
    counts = np.bincount(y.astype(np.int64), minlength=num_classes).astype(np.float64)
    present = counts > 0
    balanced = np.where(present, y.size / (present.sum() * np.maximum(counts, 1)), 1.0)
    weights = np.sqrt(balanced) if method == "sqrt" else balanced
    return {c: float(w) for c, w in enumerate(weights)}


class BeatRRHyperModel(_StudyHyperModel):
    """MIT-BIH beat classifier on the beat and its RR intervals
    (:func:`build_beat_rr_classifier`), for the inter-patient scheme.

    Not one of the original study's models: a premature supraventricular beat looks like
    a normal beat and differs in timing, which a single beat cut at its R-peak does not
    show, so the RR features of :func:`lib.datasets.heartbeat.rr_features` join the beat.

    Default space: ``beat_samples`` {187, 94} (the whole beat, or its first 750 ms),
    ``rr_features`` {"relative", "all"} (see ``rr_subsets``), ``filters`` 32,
    ``residual_blocks`` 3, ``rr_units`` 16, ``dense_units`` 64, ``dropout`` 0.2,
    ``learning_rate`` 0.001, ``batch_size`` 64, ``reduce_lr_factor`` 0.4, the data-side
    ``resampling`` {"none", "random_over"} (applied by the tuning engine to the training
    fold) and ``class_weighting`` {"none", "sqrt", "balanced"}: :meth:`fit` weights the
    loss with :func:`weighted_classes` computed from the labels it is given (the training
    fold after resampling).

    Args:
        rr_names: names of the RR columns after the beat, in order.
        beat_length: samples per beat in the input row.
        num_classes: number of beat classes.
        rr_subsets: ``{choice: names}`` of the ``rr_features`` hyperparameter. Default:
            ``"all"`` the columns ``rr_names``, ``"relative"`` the dimensionless ones
            (names containing ``"_to_"``, the ratios of
            :data:`lib.datasets.heartbeat.RR_FEATURES`), which do not tell one patient's
            heart rate from another's.
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.

    Raises:
        ValueError: empty ``rr_names``, or an ``rr_subsets`` entry naming a column not
            in ``rr_names`` (or empty).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "beat_samples": (187, 94),
        "rr_features": ("relative", "all"),
        "filters": 32,
        "residual_blocks": 3,
        "rr_units": 16,
        "dense_units": 64,
        "dropout": 0.2,
        "learning_rate": 0.001,
        "batch_size": 64,
        "reduce_lr_factor": 0.4,
        "resampling": ("none", "random_over"),
        "class_weighting": ("none", "sqrt", "balanced"),
    }
    objective = "val_macro_f1"
    data_hyperparameters = ("resampling",)

    def __init__(
        self,
        rr_names: Sequence[str],
        beat_length: int = 187,
        num_classes: int = 5,
        *,
        rr_subsets: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.rr_names = tuple(rr_names)
        if not self.rr_names:
            raise ValueError("rr_names is empty; name the RR columns that follow the beat")
        if rr_subsets is None:
            rr_subsets = {
                "all": self.rr_names,
                "relative": tuple(name for name in self.rr_names if "_to_" in name),
            }
        for choice, names in rr_subsets.items():
            unknown = [name for name in names if name not in self.rr_names]
            if unknown or not names:
                raise ValueError(
                    f"rr_subsets[{choice!r}] must name columns of rr_names {self.rr_names}; "
                    f"found {list(names)}"
                )
        self.rr_subsets = {choice: tuple(names) for choice, names in rr_subsets.items()}
        self.beat_length = beat_length
        self.num_classes = num_classes

    @staticmethod
    def pack(beats: Any, rr_features: Any) -> Any:
        """One input row per beat: the beat's samples, then its RR features.

        Args:
            beats: ``(n, beat_length)`` or ``(n, beat_length, 1)`` beats.
            rr_features: ``(n, k)`` RR features of the same beats.

        Returns:
            float32 array ``(n, beat_length + k)``.

        Raises:
            ValueError: different numbers of beats, or arrays of the wrong rank.
        """
        import numpy as np

        beats = np.asarray(beats, dtype=np.float32)
        rr_features = np.asarray(rr_features, dtype=np.float32)
        if beats.ndim == 3 and beats.shape[-1] == 1:
            beats = beats[..., 0]
        if beats.ndim != 2 or rr_features.ndim != 2:
            raise ValueError(
                f"expected beats (n, length) and rr_features (n, k), found shapes "
                f"{beats.shape} and {rr_features.shape}"
            )
        if beats.shape[0] != rr_features.shape[0]:
            raise ValueError(
                f"{beats.shape[0]} beats but {rr_features.shape[0]} rows of RR features; "
                "pass the features of exactly these beats"
            )
        return np.concatenate([beats, rr_features], axis=1)

    def _declare_training(self, hp: keras_tuner.HyperParameters) -> None:
        super()._declare_training(hp)
        if self.space.get("class_weighting") is not None:
            self._hp(hp, "class_weighting")

    def _build_model(self, hp):
        subset = self._hp(hp, "rr_features")
        if subset not in self.rr_subsets:
            raise ValueError(
                f"rr_features {subset!r} is not a key of rr_subsets {sorted(self.rr_subsets)}"
            )
        return build_beat_rr_classifier(
            beat_length=self.beat_length,
            rr_features=len(self.rr_names),
            beat_samples=min(self._hp(hp, "beat_samples"), self.beat_length),
            rr_indices=[self.rr_names.index(name) for name in self.rr_subsets[subset]],
            num_classes=self.num_classes,
            filters=self._hp(hp, "filters"),
            residual_blocks=self._hp(hp, "residual_blocks"),
            rr_units=self._hp(hp, "rr_units"),
            dense_units=self._hp(hp, "dense_units"),
            dropout=self._hp(hp, "dropout"),
            learning_rate=self._hp(hp, "learning_rate"),
            seed=self.seed,
        )

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """Fits as :meth:`_StudyHyperModel.fit`, with the trial's class weighting.

        Args:
            hp: the trial's hyperparameters.
            model: the model ``build(hp)`` returned.
            *args: ``x``, ``y`` ... of ``model.fit``; the weights come from ``y``.
            **kwargs: passed on; a ``class_weight`` given here is kept only when the
                trial's ``class_weighting`` is ``"none"``.

        Returns:
            The ``keras.callbacks.History`` of ``model.fit``.

        Raises:
            ValueError: a ``class_weight`` was passed while the trial weights classes itself.
        """
        self._declare_training(hp)
        method = hp.get("class_weighting") if self.space.get("class_weighting") else "none"
        if method != "none":
            if kwargs.get("class_weight") is not None:
                raise ValueError(
                    f"class_weight was passed to fit but the trial's class_weighting is "
                    f"{method!r}; pass class_weight=None or fix class_weighting to 'none'"
                )
            y = args[1] if len(args) > 1 else kwargs.get("y")
            kwargs["class_weight"] = weighted_classes(y, self.num_classes, method)
        return super().fit(hp, model, *args, **kwargs)
