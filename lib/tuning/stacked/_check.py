"""Checks a stack against the same models trained separately (what the executor rests on)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from lib.tuning.stacked._form import StackedForm


def max_weight_difference(
    forms: Sequence[StackedForm],
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    seed: int = 0,
) -> float:
    """Largest weight difference between a stack and the same models trained one by one.

    Each form is built as an ordinary model by :func:`lib.models.build_mlp` (Keras' own
    ``SGD`` / ``Adam`` and loss) and trained with ``model.fit`` on the rows in a seeded order
    (``shuffle=False``, the form's batch size); a :class:`StackedMLP` starts from the same
    initial weights and trains on the same batches. Compare in float64
    (``keras.config.set_dtype_policy("float64")``) to see only rounding differences.

    Args:
        forms: the models (dropout must be 0: masks cannot be matched); one batch size.
        x: ``(rows, input_dim)`` training rows.
        y: ``(rows,)`` integer labels.
        epochs: epochs to train.
        seed: seeds the initial weights and the row order.

    Returns:
        The maximum absolute difference over every weight of every model.

    Raises:
        ValueError: if a form has dropout or the forms' batch sizes differ.
    """
    from lib.models import build_mlp
    from lib.tuning.stacked._engine import StackedTrainer
    from lib.tuning.stacked._network import PerModelOptimizer, StackedMLP

    forms = list(forms)
    if any(f.dropout for f in forms) or len({f.batch_size for f in forms}) != 1:
        raise ValueError(
            "forms must have dropout 0 and one batch size to be compared with separate models"
        )
    stack = StackedMLP(forms)
    x, y = np.asarray(x, dtype=stack.weight_dtype), np.asarray(y).astype(np.int32)
    models = []
    for k, form in enumerate(forms):
        keras.utils.set_random_seed(seed + k)
        arguments = {k: v for k, v in form.__dict__.items() if k != "batch_size"}
        arguments["loss"] = None if form.loss.startswith("sparse") else form.loss
        model = build_mlp(**arguments)
        stack.set_model_weights(k, model.get_weights())
        models.append(model)
    optimizer = PerModelOptimizer(stack.variables_by_model(), forms)
    trainer = StackedTrainer(stack, optimizer, forms[0].batch_size)
    active = tf.ones([len(forms)], dtype=tf.bool)
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(x))
        trainer.train_epoch(tf.constant(x), tf.constant(y), tf.constant(order, tf.int32), active)
        for model in models:
            model.fit(
                x[order],
                y[order],
                batch_size=forms[0].batch_size,
                epochs=1,
                shuffle=False,
                verbose=0,
            )
    difference = 0.0
    for k, model in enumerate(models):
        for ours, theirs in zip(stack.model_weights(k), model.get_weights(), strict=True):
            difference = max(difference, float(np.max(np.abs(ours - theirs))))
    return difference
