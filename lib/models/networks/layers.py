"""Custom Keras layers and losses of the networks, registered for saving and loading.

They are registered under the package name ``"lib"`` (``"lib>SelectFeatures"`` ...), the
name saved models carry: keep it when moving them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops


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
class ReadingMask(layers.Layer):
    """Tells real readings from padding: returns the inputs with the filler set to 0, and the mask.

    A time step is padding when all its channels equal ``mask_value`` (the rule of
    ``keras.layers.Masking``). Convolutions do not carry a Keras mask, so a convolutional
    network takes the mask from this layer and hands it to its global pooling
    (``GlobalAveragePooling1D()(x, mask=mask)``), which then averages over real readings
    only. The filler is replaced by 0 so that its value never enters a convolution.

    Args:
        mask_value: the padding filler (e.g. :data:`lib.padding.MASK_VALUE`).
        **kwargs: ``keras.layers.Layer`` arguments (``name`` ...).
    """

    def __init__(self, mask_value: float, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def call(self, inputs):
        mask = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)
        cleaned = ops.where(ops.expand_dims(mask, -1), inputs, ops.zeros_like(inputs))
        return cleaned, mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


@keras.saving.register_keras_serializable(package="lib")
class ZeroPadded(layers.Layer):
    """Sets the padded steps of a feature sequence to 0: ``x * readings[..., None]``; no weights.

    Applied after each convolutional layer of a masked network, it keeps the features at the
    padded steps what a convolution sees beyond the end of an unpadded series (zeros), so a
    padded sample's features at its real readings are those of the sample alone.

    Args:
        **kwargs: ``keras.layers.Layer`` arguments (``name`` ...).
    """

    def call(self, inputs, readings):
        return inputs * ops.expand_dims(ops.cast(readings, inputs.dtype), -1)
