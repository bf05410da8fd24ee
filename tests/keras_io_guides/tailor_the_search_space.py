"""KerasTuner's "Tailor the search space" guide, tuner code, run on lib.tuning.

Source: keras-team/keras-io, guides/keras_tuner/tailor_the_search_space.py (Apache License
2.0, Copyright the keras-io authors; https://github.com/keras-team/keras-io).

This file follows the guide's tuner code section by section, re-written for this test (not
a verbatim copy). What differs from the guide:
- the tuner class comes from ``lib.tuning`` (``keras_tuner.RandomSearch`` ->
  ``lib.tuning.RandomSearch``); ``keras_tuner`` stays for HyperParameters; ``keras`` 3;
- the guide's random data keeps its shapes (28x28x1 inputs, integer labels 0-9) with
  64 train / 32 validation rows; budgets are the guide's (max_trials=3, epochs=1);
- the model ends in a 10-way softmax (the guide's ``model.add`` without a layer is dropped);
- the HyperXception section (``hyperparameters=`` with ``tune_new_entries=False`` and a
  ``loss=`` / ``metrics=`` override) runs the same tuner call on this build function instead of
  the heavy pre-made Xception;
- each section reports what the guide shows as one ``GUIDE_RESULT`` json line.
"""

from lib.tuning import RandomSearch  # the only change a KerasTuner user makes  # noqa: I001  (lib before keras: TensorFlow loads quietly)

import json
import sys
import traceback

import keras
import keras_tuner
import numpy as np
from keras import layers


def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(
        layers.Dense(
            units=hp.Int("units", min_value=32, max_value=128, step=32, default=64),
            activation="relu",
        )
    )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def data():
    rng = np.random.default_rng(0)
    return (
        rng.random((64, 28, 28, 1)),
        rng.integers(0, 10, (64, 1)),
        rng.random((32, 28, 28, 1)),
        rng.integers(0, 10, (32, 1)),
    )


def summary(tuner):
    trials = list(tuner.oracle.trials.values())
    return {
        "trials": len(trials),
        "statuses": sorted({str(t.status) for t in trials}),
        "space": sorted(hp.name for hp in tuner.oracle.get_space().space),
        "best_keys": sorted(tuner.get_best_hyperparameters()[0].values),
        "values": [dict(t.hyperparameters.values) for t in trials],
    }


def search_a_few(x_train, y_train, x_val, y_val):
    hp = keras_tuner.HyperParameters()
    hp.Float("learning_rate", min_value=1e-4, max_value=1e-2, sampling="log")  # overrides it
    tuner = RandomSearch(
        hypermodel=build_model,
        hyperparameters=hp,
        tune_new_entries=False,  # the unlisted ones keep their defaults
        objective="val_accuracy",
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name="search_a_few",
    )
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    tuner.search_space_summary()
    return summary(tuner)


def fix_a_few(x_train, y_train, x_val, y_val):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("learning_rate", value=1e-4)
    tuner = RandomSearch(
        build_model,
        hyperparameters=hp,
        tune_new_entries=True,
        objective="val_accuracy",
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name="fix_a_few",
    )
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    tuner.search_space_summary()
    return summary(tuner)


def override_compile(x_train, y_train, x_val, y_val):
    tuner = RandomSearch(
        build_model,
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        metrics=["sparse_categorical_crossentropy"],
        objective="val_loss",
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name="override_compile",
    )
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    model = tuner.get_best_models()[0]
    print(model.loss)  # the guide shows the loss has changed to MSE
    trial = tuner.oracle.get_best_trials(1)[0]
    return {
        **summary(tuner),
        "loss": str(model.loss),
        "metrics": sorted(trial.metrics.metrics),
        "optimizer": type(model.optimizer).__name__,
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
    }


def override_loss_of_a_fixed_hypermodel(x_train, y_train, x_val, y_val):
    hp = keras_tuner.HyperParameters()
    hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    tuner = RandomSearch(
        build_model,
        hyperparameters=hp,
        tune_new_entries=False,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        objective="val_accuracy",
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name="helloworld",
    )
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    tuner.search_space_summary()
    return summary(tuner)


SECTIONS = [search_a_few, fix_a_few, override_compile, override_loss_of_a_fixed_hypermodel]


def main(names):
    arrays = data()
    for section in SECTIONS:
        if names and section.__name__ not in names:
            continue
        try:
            result = {"ok": True, **section(*arrays)}
        except Exception as error:  # reported; the other sections still run
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print("GUIDE_RESULT " + json.dumps({"section": section.__name__, **result}), flush=True)


if __name__ == "__main__":  # trials run in spawned worker processes
    main(sys.argv[1:])
