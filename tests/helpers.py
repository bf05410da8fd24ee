"""Plain helpers shared by the tuning tests (no fixtures: those live in ``conftest.py``).

A tiny 25-feature, 3-class problem and the hypermodel that fits it; importable from a
subprocess too (``from tests.helpers import TinyMLP``) with the repository on the path.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np

FEATURES, CLASSES = 25, 3


class TinyMLP(kt.HyperModel):
    """1-2 layer MLP on 25 features / 3 classes; optional resampling and feature-subset hps."""

    def __init__(self, *, resampling=False, subsets=False, layers=False):
        super().__init__()
        self.resampling, self.subsets, self.layers = resampling, subsets, layers

    def build(self, hp):
        units = hp.Choice("units", [4, 8])
        inputs = keras.Input((FEATURES,))
        x = inputs
        if self.subsets:
            columns = {"first10": list(range(10)), "all": list(range(FEATURES))}[
                hp.Choice("features", ["first10", "all"])
            ]
            x = keras.layers.Lambda(lambda t, c=columns: keras.ops.take(t, c, axis=1))(x)
        for _ in range(hp.Int("layers", 1, 2) if self.layers else 1):
            x = keras.layers.Dense(units, activation="relu")(x)
        if self.resampling:
            hp.Choice("resampling", ["random_over"])
        outputs = keras.layers.Dense(CLASSES, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model


def classification(n=120, seed=0):
    """``(x, y)``: ``n`` rows of 25 normal features, 3 classes read off the first two."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    return x, y


def split_data(x, y, n_train=80):
    """The first ``n_train`` rows train, the rest validate: a dict of the four arrays."""
    return dict(x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:], y_val=y[n_train:])
