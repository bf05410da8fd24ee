"""K dense classifiers held in one Keras model: weights with a leading model axis.

Every weight of :class:`StackedMLP` has shape ``(models, ...)``. The hidden layers are padded
to the widest model of the stack and to its deepest: a mask per weight zeroes the padding (so
padded units neither contribute to any output nor receive any gradient), a model with fewer
layers passes its activations through the layers it lacks unchanged, and a feature subset is a
mask on the first layer's rows. The per-model losses are summed, not averaged: the models'
parameters are disjoint, so each receives exactly the gradient of its own loss.
:class:`PerModelOptimizer` then applies Keras' SGD (with momentum) or Adam update, chosen per
model, with per-model hyperparameters held in tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lib.tuning.stacked._form import ACTIVATIONS, StackedForm


@keras.saving.register_keras_serializable(package="lib")
class StackedDense(keras.layers.Layer):
    """``models`` dense layers side by side: ``(models, batch, in) -> (models, batch, units)``.

    The kernel has shape ``(models, in, units)`` and is applied with ``einsum``; the first
    layer of a stack takes the shared ``(batch, in)`` rows directly. The kernel and bias are
    multiplied by fixed 0/1 masks before use, so masked entries get exactly zero gradient.

    Args:
        models: number of models in the stack.
        units: padded output width.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, models: int, units: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.models = int(models)
        self.units = int(units)

    def build(self, input_shape: Sequence[int | None]) -> None:
        fan_in = int(input_shape[-1])
        shape = (self.models, fan_in, self.units)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="zeros")
        self.bias = self.add_weight(
            name="bias", shape=(self.models, self.units), initializer="zeros"
        )
        self.kernel_mask = self.add_weight(
            name="kernel_mask", shape=shape, initializer="ones", trainable=False
        )
        self.bias_mask = self.add_weight(
            name="bias_mask", shape=(self.models, self.units), initializer="ones", trainable=False
        )

    def call(self, inputs: Any) -> Any:
        kernel = self.kernel * self.kernel_mask
        bias = self.bias * self.bias_mask
        if len(inputs.shape) == 2:
            # shared rows: one (batch, in) x (in, models * units) product, then the model axis
            # first; TensorFlow's einsum would run a batched product per model instead
            fan_in = kernel.shape[1]
            flat = tf.reshape(tf.transpose(kernel, [1, 0, 2]), [fan_in, -1])
            outputs = tf.reshape(tf.matmul(inputs, flat), [-1, self.models, self.units])
            outputs = tf.transpose(outputs, [1, 0, 2])
        else:
            outputs = tf.einsum("kbi,kio->kbo", inputs, kernel)
        return outputs + bias[:, None, :]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "models": self.models, "units": self.units}


def _activation(name: str) -> Any:
    """The Keras activation ``name`` (``linear`` is the identity)."""
    return keras.activations.get(None if name == "linear" else name)


def _per_model(values: Any, rank: int) -> Any:
    """``(models,)`` values reshaped to broadcast against a rank-``rank`` tensor."""
    return tf.reshape(values, [-1] + [1] * (rank - 1))


class StackedMLP(keras.Model):
    """A stack of MLP classifiers trained as one model.

    Built from the :class:`StackedForm` of each model: ``depth`` hidden
    :class:`StackedDense` layers of the stack's widest size, then a softmax head. Per model
    and layer it applies that model's activation, or passes the layer by (a model with fewer
    layers); dropout draws an independent mask per model.

    Args:
        forms: one :class:`StackedForm` per model; all with the same ``input_dim`` and
            ``num_classes``.
        dropout_seed: seed of the dropout masks.
        width: padded hidden width (default: the widest model's).
        depth: padded number of hidden layers (default: the deepest model's).
        **kwargs: ``keras.Model`` arguments.

    Raises:
        ValueError: if the forms disagree on ``input_dim`` or ``num_classes``.
    """

    def __init__(
        self,
        forms: Sequence[StackedForm],
        *,
        dropout_seed: int = 0,
        width: int | None = None,
        depth: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        forms = list(forms)
        for key in ("input_dim", "num_classes"):
            found = sorted({getattr(f, key) for f in forms})
            if len(found) != 1:
                raise ValueError(
                    f"models of one stack must share {key}, found {found}; stack them apart"
                )
        self.forms = forms
        self.input_dim = forms[0].input_dim
        self.num_classes = forms[0].num_classes
        self.depth = max(max(f.depth for f in forms), int(depth or 0))
        self.width = max(max(max(f.units) for f in forms), int(width or 0))
        count = len(forms)
        self.hidden = [
            StackedDense(count, self.width, name=f"hidden_{i}") for i in range(self.depth)
        ]
        self.head = StackedDense(count, self.num_classes, name="head")
        activation = np.zeros((count, self.depth), dtype=np.int32)
        present = np.zeros((count, self.depth), dtype=bool)
        for k, form in enumerate(forms):
            present[k, : form.depth] = True
            activation[k, : form.depth] = [ACTIVATIONS.index(a) for a in form.activations]
        self._activation = activation
        self._used_activations = sorted(set(activation[present].tolist()))
        self._present = present
        self._dropout = np.asarray([f.dropout for f in forms])
        self._kl = np.asarray([f.loss == "kl_divergence" for f in forms])
        self._dropout_seed = int(dropout_seed)
        self._generator = None
        self.build((None, self.input_dim))
        self._set_masks()

    def build(self, input_shape: Sequence[int | None]) -> None:
        shape = (None, int(input_shape[-1]))
        for layer in self.hidden:
            layer.build(shape)
            shape = (None, self.width)
        self.head.build(shape)
        self.built = True

    @property
    def weight_dtype(self) -> str:
        """The dtype of the stack's weights (Keras' dtype policy when it was built)."""
        return str(self.head.kernel.dtype)

    def _set_masks(self) -> None:
        """Zero masks on the padding, the unused features and the missing layers."""
        count = len(self.forms)
        dtype = self.weight_dtype
        for index, layer in enumerate(self.hidden):
            rows = self.input_dim if index == 0 else self.width
            kernel = np.zeros((count, rows, self.width), dtype=dtype)
            bias = np.zeros((count, self.width), dtype=dtype)
            for k, form in enumerate(self.forms):
                if index >= form.depth:
                    continue
                inputs = list(form.features) if index == 0 else slice(0, form.units[index - 1])
                kernel[k, inputs, : form.units[index]] = 1.0
                bias[k, : form.units[index]] = 1.0
            layer.kernel_mask.assign(kernel)
            layer.bias_mask.assign(bias)
        kernel = np.zeros((count, self.width, self.num_classes), dtype=dtype)
        for k, form in enumerate(self.forms):
            kernel[k, : form.units[-1], :] = 1.0
        self.head.kernel_mask.assign(kernel)

    def _activate(self, z: Any, index: int) -> Any:
        codes = sorted(set(self._activation[self._present[:, index], index].tolist()))
        if len(codes) == 1:
            return _activation(ACTIVATIONS[codes[0]])(z)
        out = 0.0
        for code in codes:
            chosen = _per_model(self._constant(self._activation[:, index] == code, z), 3)
            out = out + chosen * _activation(ACTIVATIONS[code])(z)
        return out

    def _constant(self, flags: np.ndarray, like: Any) -> Any:
        """0/1 per-model flags as a tensor of ``like``'s dtype."""
        return tf.constant(np.asarray(flags, dtype=like.dtype.as_numpy_dtype))

    def _drop(self, h: Any, index: int) -> Any:
        rate = self._dropout
        if not np.any(rate > 0):
            return h
        if self._generator is None:
            self._generator = tf.random.Generator.from_seed(self._dropout_seed)
        rate = _per_model(tf.constant(rate, dtype=h.dtype), 3)
        keep = tf.cast(self._generator.uniform(tf.shape(h), dtype=h.dtype) >= rate, h.dtype)
        return h * keep / (1.0 - rate)

    def logits(self, x: Any, training: bool = False) -> Any:
        """Per-model logits ``(models, batch, classes)`` of rows ``x``, ``(batch, features)``."""
        h = x
        for index, layer in enumerate(self.hidden):
            if not self._present[:, index].any():
                continue  # padding of a compacted stack: no model has this layer
            out = self._activate(layer(h), index)
            if training:
                out = self._drop(out, index)
            if index == 0 or self._present[:, index].all():
                h = out
            else:  # 0/1 arithmetic is exact and faster than a broadcast tf.where
                present = _per_model(self._constant(self._present[:, index], out), 3)
                h = present * out + (1.0 - present) * h
        return self.head(h)

    def call(self, x: Any, training: bool = False) -> Any:
        """Per-model class probabilities ``(models, batch, num_classes)``."""
        return tf.nn.softmax(self.logits(x, training=training), axis=-1)

    def per_model_loss(self, logits: Any, labels: Any) -> Any:
        """Per-model losses ``(models, batch)`` of integer ``labels`` ``(batch,)``.

        Cross-entropy (sparse or categorical: Keras computes both from the softmax's logits)
        or Keras' KL divergence with its clipping of the probabilities and of the one-hot
        targets to ``[epsilon, 1]``, per model. Computed with the class axis first (the
        reductions over a few classes are then elementwise operations over the models and
        rows), from a shifted log-sum-exp.
        """
        by_class = tf.transpose(logits, [2, 0, 1])  # (classes, models, batch)
        onehot = tf.transpose(
            tf.one_hot(tf.cast(labels, tf.int32), self.num_classes, dtype=logits.dtype)
        )[:, None, :]
        shifted = by_class - tf.stop_gradient(tf.reduce_max(by_class, axis=0))
        log_probabilities = shifted - tf.math.log(tf.reduce_sum(tf.exp(shifted), axis=0))
        if np.all(self._kl):
            cross_entropy = None
        else:
            cross_entropy = -tf.reduce_sum(onehot * log_probabilities, axis=0)
        if not np.any(self._kl):
            return cross_entropy
        epsilon = keras.config.epsilon()
        clipped = tf.clip_by_value(onehot, epsilon, 1.0)
        probabilities = tf.clip_by_value(tf.exp(log_probabilities), epsilon, 1.0)
        kl = tf.reduce_sum(clipped * tf.math.log(clipped / probabilities), axis=0)
        if cross_entropy is None:
            return kl
        chosen = self._constant(self._kl, kl)[:, None]
        return chosen * kl + (1.0 - chosen) * cross_entropy

    def variables_by_model(self) -> list[Any]:
        """Trainable weights in a fixed order (kernel, bias per layer, head last)."""
        return [w for layer in [*self.hidden, self.head] for w in (layer.kernel, layer.bias)]

    def set_initial_weights(self, seeds: Sequence[int]) -> None:
        """Glorot-uniform kernels of each model's true layer sizes, zero biases.

        Model ``k`` draws from ``numpy.random.default_rng(seeds[k])``, layer by layer, so its
        initial weights do not depend on the other models of the stack.
        """
        dtype = self.weight_dtype
        weights = [np.zeros(tuple(w.shape), dtype=dtype) for w in self.variables_by_model()]
        for k, (form, seed) in enumerate(zip(self.forms, seeds, strict=True)):
            rng = np.random.default_rng(int(seed))
            sizes = [len(form.features), *form.units, self.num_classes]
            for index in range(form.depth + 1):
                fan_in, fan_out = sizes[index], sizes[index + 1]
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                values = rng.uniform(-limit, limit, size=(fan_in, fan_out))
                slot = index if index < form.depth else self.depth
                rows = list(form.features) if index == 0 else slice(0, fan_in)
                weights[2 * slot][k, rows, :fan_out] = values
        for variable, value in zip(self.variables_by_model(), weights, strict=True):
            variable.assign(value)

    def model_weights(self, k: int, weights: Sequence[np.ndarray] | None = None) -> list:
        """Model ``k``'s weights as the Dense layers of ``lib.models.build_mlp`` hold them.

        Args:
            k: the model's position in the stack.
            weights: arrays in :meth:`variables_by_model` order (default: the current ones).

        Returns:
            ``[kernel, bias]`` per hidden layer then the head's, at the true sizes.
        """
        if weights is None:
            weights = [np.asarray(w) for w in self.variables_by_model()]
        return slice_model_weights(self.forms[k], [w[k] for w in weights], depth=self.depth)

    def set_model_weights(self, k: int, weights: Sequence[np.ndarray]) -> None:
        """Loads one Keras MLP's ``get_weights()`` into model ``k`` (inverse of
        :meth:`model_weights`)."""
        form = self.forms[k]
        arrays = [np.asarray(w) for w in self.variables_by_model()]
        sizes = [*form.units, self.num_classes]
        if len(weights) != 2 * (form.depth + 1):
            raise ValueError(
                f"model {k} has {form.depth} hidden layers and a head, so it takes "
                f"{2 * (form.depth + 1)} arrays; got {len(weights)}"
            )
        for index in range(form.depth + 1):
            slot = index if index < form.depth else self.depth
            rows = list(form.features) if index == 0 else slice(0, form.units[index - 1])
            arrays[2 * slot][k, rows, : sizes[index]] = weights[2 * index]
            arrays[2 * slot + 1][k, : sizes[index]] = weights[2 * index + 1]
        for variable, value in zip(self.variables_by_model(), arrays, strict=True):
            variable.assign(value)


def slice_model_weights(form: StackedForm, weights: Sequence[np.ndarray], *, depth: int) -> list:
    """One model's padded stack weights cut to its true layer sizes.

    Args:
        form: the model's :class:`StackedForm`.
        weights: its slice of each stack weight (model axis removed), in
            :meth:`StackedMLP.variables_by_model` order.
        depth: the stack's number of hidden layers.

    Returns:
        ``[kernel, bias]`` per hidden layer then the head's, as ``lib.models.build_mlp``'s
        Dense layers hold them (first kernel: the rows of the used features, in order).
    """
    out = []
    sizes = [*form.units, form.num_classes]
    for index in range(form.depth + 1):
        slot = index if index < form.depth else depth
        kernel, bias = weights[2 * slot], weights[2 * slot + 1]
        rows = list(form.features) if index == 0 else slice(0, form.units[index - 1])
        out += [np.array(kernel[rows, : sizes[index]]), np.array(bias[: sizes[index]])]
    return out


class PerModelOptimizer:
    """SGD (with momentum) or Adam per model, with Keras' update formulas.

    The stack's weights all carry the model axis first; the learning rate, momentum and
    optimizer choice are ``(models,)`` tensors broadcast over it. Adam uses Keras' defaults
    (``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``, bias correction folded into the step
    size as ``keras.optimizers.Adam`` does); SGD is ``keras.optimizers.SGD`` without Nesterov.
    Like Keras, the momentum and the betas in Adam's bias correction go through float32 before
    the variables' dtype, so float64 stacks match float64 Keras models to rounding.
    A model whose ``active`` flag is off keeps its weights and optimizer state unchanged.

    Args:
        variables: the stack's trainable weights (model axis first).
        forms: one :class:`StackedForm` per model.
    """

    BETA_1 = 0.9
    BETA_2 = 0.999
    EPSILON = 1e-7

    def __init__(self, variables: Sequence[Any], forms: Sequence[StackedForm]):
        dtype = str(variables[0].dtype)
        self.learning_rate = tf.constant([f.learning_rate for f in forms], dtype=dtype)
        # keras.optimizers.SGD casts its Python-float momentum through a float32 tensor
        momentum = np.asarray([f.momentum for f in forms], dtype=np.float32)
        self.momentum = tf.constant(momentum.astype(dtype))
        self.adam = tf.constant([float(f.optimizer == "adam") for f in forms], dtype=dtype)
        self.any_adam = any(f.optimizer == "adam" for f in forms)
        self.first = [tf.Variable(tf.zeros(tuple(v.shape), dtype=dtype)) for v in variables]
        self.second = [tf.Variable(tf.zeros(tuple(v.shape), dtype=dtype)) for v in variables]
        self.iterations = tf.Variable(0, dtype=tf.int64)

    def state(self) -> dict[str, Any]:
        """Slot values as numpy (``first`` is SGD's velocity or Adam's first moment)."""
        return {
            "first": [v.numpy() for v in self.first],
            "second": [v.numpy() for v in self.second],
            "iterations": int(self.iterations.numpy()),
        }

    def load_state(self, state: dict[str, Any], keep: np.ndarray) -> None:
        """Takes the slots of the models ``keep`` (indices) from another optimizer's state."""
        for slot, values in zip(self.first, state["first"], strict=True):
            slot.assign(values[keep])
        for slot, values in zip(self.second, state["second"], strict=True):
            slot.assign(values[keep])
        self.iterations.assign(state["iterations"])

    def apply(self, gradients: Sequence[Any], variables: Sequence[Any], active: Any) -> None:
        """One update of every active model."""
        dtype = self.learning_rate.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        # keras.optimizers.Adam raises ops.cast(beta, dtype) to the step: the Python float
        # becomes a float32 tensor first, so its powers start from the float32-rounded betas
        beta_1_power = tf.pow(tf.cast(tf.constant(self.BETA_1, tf.float32), dtype), local_step)
        beta_2_power = tf.pow(tf.cast(tf.constant(self.BETA_2, tf.float32), dtype), local_step)
        for gradient, variable, first, second in zip(
            gradients, variables, self.first, self.second, strict=True
        ):
            # per-model choices as 0/1 factors: x * 1 + y * 0 == x exactly (x, y finite, and a
            # model's values never mix with another's), faster than a broadcast tf.where
            rank = len(variable.shape)
            rate = _per_model(self.learning_rate, rank)
            keep = _per_model(tf.cast(active, dtype), rank)
            weights = variable.value if hasattr(variable, "value") else variable
            new_first = first * _per_model(self.momentum, rank) - gradient * rate
            update = new_first
            if self.any_adam:
                adam = _per_model(self.adam, rank)
                first_adam = first + (gradient - first) * (1 - self.BETA_1)
                second_adam = second + (tf.square(gradient) - second) * (1 - self.BETA_2)
                alpha = rate * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
                step_adam = -((first_adam * alpha) / (tf.sqrt(second_adam) + self.EPSILON))
                update = adam * step_adam + (1.0 - adam) * new_first
                new_first = adam * first_adam + (1.0 - adam) * new_first
                second.assign(keep * adam * second_adam + (1.0 - keep * adam) * second)
            first.assign(keep * new_first + (1.0 - keep) * first)
            variable.assign(weights + keep * update)
        self.iterations.assign_add(1)
