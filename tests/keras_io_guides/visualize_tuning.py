"""KerasTuner's "Visualize the hyperparameter tuning process" guide, tuner code, run on
lib.tuning.

Source: keras-team/keras-io, guides/keras_tuner/visualize_tuning.py (Apache License 2.0,
Copyright the keras-io authors; https://github.com/keras-team/keras-io).

This file follows the guide's code, re-written for this test (not a verbatim copy). What
differs from the guide:
- the tuner class comes from ``lib.tuning`` (``keras_tuner.RandomSearch`` ->
  ``lib.tuning.RandomSearch``); ``keras_tuner`` stays for HyperParameters;
- MNIST is replaced by 80 generated images of its shape (28x28x1 float32, labels 0-9);
  max_trials=10 -> 3, epochs=2 -> 1; the folders ``/tmp/tb`` and ``/tmp/tb_logs`` are
  ``tb`` and ``tb_logs`` in the working directory;
- the result (trial ids, the TensorBoard folders written) is one ``GUIDE_RESULT`` json line.
"""

from lib.tuning import RandomSearch  # the only change a KerasTuner user makes  # noqa: I001  (lib before keras: TensorFlow loads quietly)

import json
import os

import keras
import keras_tuner
import numpy as np
from keras import layers


def build_model(hp):
    inputs = keras.Input(shape=(28, 28, 1))
    model_type = hp.Choice("model_type", ["mlp", "cnn"])
    x = inputs
    if model_type == "mlp":
        x = layers.Flatten()(x)
        for i in range(hp.Int("mlp_layers", 1, 3)):
            x = layers.Dense(units=hp.Int(f"units_{i}", 32, 128, step=32), activation="relu")(x)
    else:
        for i in range(hp.Int("cnn_layers", 1, 3)):
            x = layers.Conv2D(
                hp.Int(f"filters_{i}", 32, 128, step=32), kernel_size=(3, 3), activation="relu"
            )(x)
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        x = layers.Flatten()(x)
    if hp.Boolean("dropout"):
        x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(units=10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="adam")
    return model


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x_train = rng.random((80, 28, 28, 1), dtype=np.float32)
    y_train = rng.integers(0, 10, 80)
    hp = keras_tuner.HyperParameters()  # the guide's quick check of both model types
    for model_type in ("cnn", "mlp"):
        hp.values["model_type"] = model_type
        model = build_model(hp)
        model(x_train[:10])
        model.summary()
    tuner = RandomSearch(
        build_model, max_trials=3, overwrite=True, objective="val_accuracy", directory="tb"
    )
    tuner.search(
        x_train,
        y_train,
        validation_split=0.2,
        epochs=1,
        callbacks=[keras.callbacks.TensorBoard("tb_logs")],
    )
    trials = list(tuner.oracle.trials.values())
    print(
        "GUIDE_RESULT "
        + json.dumps(
            {
                "trial_ids": sorted(t.trial_id for t in trials),
                "statuses": sorted({str(t.status) for t in trials}),
                "logs": {
                    d: sorted(os.listdir(os.path.join("tb_logs", d)))
                    for d in sorted(os.listdir("tb_logs"))
                },
            }
        )
    )
