"""KerasTuner's "Getting started with KerasTuner" guide, tuner code, run on lib.tuning.

Source: keras-team/keras-io, guides/keras_tuner/getting_started.py (Apache License 2.0,
Copyright the keras-io authors; https://github.com/keras-team/keras-io).

This file follows the guide's tuner code section by section, re-written for this test (not
a verbatim copy). What differs from the guide:
- the tuner classes come from ``lib.tuning`` (``keras_tuner.RandomSearch`` ->
  ``lib.tuning.RandomSearch``); ``keras_tuner`` stays for HyperModel, HyperParameters and
  Objective; ``keras`` 3 instead of ``tensorflow.keras``;
- MNIST is replaced by generated arrays of its shapes (64 train / 32 validation rows of
  28x28x1 float32, one-hot over 10 classes); the guide's own random regression data is
  kept at its shapes;
- the saved models of "keep Keras code separate" go to ``./saved_models``, not ``/tmp``;
  HyperModel.fit normalises with numpy instead of an un-adapted ``layers.Normalization``;
- ``best_model.build(input_shape=...)`` only when the model is not built: Keras 3 returns it
  built, and the guide's call raises, with keras_tuner's own RandomSearch too;
- the pre-made HyperResNet section is left out (a heavy hypermodel, no other tuner call);
- each section reports what the guide shows as one ``GUIDE_RESULT`` json line.
Budgets are the guide's (max_trials=3, epochs=2; max_trials=20 for "tune any function").
"""

from lib.tuning import RandomSearch  # the only change a KerasTuner user makes  # noqa: I001  (lib before keras: TensorFlow loads quietly)

import json
import os
import sys
import traceback

import keras
import keras_tuner
import numpy as np
from keras import layers


# -- tune the model architecture ---------------------------------------------------------------


def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    for i in range(hp.Int("num_layers", 1, 3)):  # a conditional number of layers
        model.add(
            layers.Dense(
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


# -- tune model training and data preprocessing (HyperModel.build and .fit) -------------------


class MyHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        image_size = hp.Int("image_size", 10, 28)
        inputs = keras.Input(shape=(image_size, image_size, 1))
        outputs = layers.Flatten()(inputs)
        outputs = layers.Dense(
            units=hp.Int("units", min_value=32, max_value=512, step=32), activation="relu"
        )(outputs)
        outputs = layers.Dense(10, activation="softmax")(outputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if hp.Boolean("normalize"):
            x = (x - np.mean(x)) / (np.std(x) + 1e-7)
        image_size = hp.get("image_size")
        cropped_x = x[:, :image_size, :image_size, :]
        if validation_data:
            x_val, y_val = validation_data
            validation_data = (x_val[:, :image_size, :image_size, :], y_val)
        return model.fit(
            cropped_x,
            y,
            shuffle=hp.Boolean("shuffle"),  # tunes shuffle
            validation_data=validation_data,
            **kwargs,
        )


# -- objectives: a built-in metric, a custom metric, a returned float or dict -----------------


def build_regressor(hp):
    model = keras.Sequential(
        [layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"), layers.Dense(units=1)]
    )
    model.compile(
        optimizer="adam", loss="mean_squared_error", metrics=[keras.metrics.MeanAbsoluteError()]
    )
    return model


class CustomMetric(keras.metrics.Metric):
    def __init__(self, **kwargs):
        super().__init__(name="custom_metric", **kwargs)  # the objective's name
        self.sum = self.add_weight(name="sum", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = keras.ops.square(
            keras.ops.cast(y_pred, "float32") - keras.ops.cast(y_true, "float32")
        )
        self.sum.assign_add(keras.ops.sum(values))
        self.count.assign_add(keras.ops.cast(keras.ops.size(values), "float32"))

    def result(self):
        return self.sum / self.count

    def reset_state(self):
        self.sum.assign(0.0)
        self.count.assign(0.0)


def build_custom_metric_regressor(hp):
    model = keras.Sequential(
        [layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"), layers.Dense(units=1)]
    )
    model.compile(optimizer="adam", loss="mean_squared_error", metrics=[CustomMetric()])
    return model


class HyperRegressor(keras_tuner.HyperModel):
    def build(self, hp):
        model = keras.Sequential(
            [
                layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
                layers.Dense(units=1),
            ]
        )
        model.compile(optimizer="adam", loss="mean_squared_error")
        return model

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        return float(np.mean(np.abs(model.predict(x_val, verbose=0) - y_val)))  # minimised


class HyperRegressorDict(HyperRegressor):
    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        y_pred = model.predict(x_val, verbose=0)
        return {
            "metric_a": -float(np.mean(np.abs(y_pred - y_val))),
            "metric_b": float(np.mean(np.square(y_pred - y_val))),
        }


# -- tune end-to-end workflows (run_trial overrides) -------------------------------------------


class FunctionTuner(RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        x = hp.Float("x", min_value=-1.0, max_value=1.0)
        return x * x + 1  # minimised


def keras_code(units, optimizer, saving_path):
    model = keras.Sequential([layers.Dense(units=units, activation="relu"), layers.Dense(units=1)])
    model.compile(optimizer=optimizer, loss="mean_squared_error")
    x_train, y_train = np.random.rand(100, 10), np.random.rand(100, 1)
    x_val, y_val = np.random.rand(20, 10), np.random.rand(20, 1)
    model.fit(x_train, y_train, verbose=0)
    model.save(saving_path)
    return float(np.mean(np.abs(model.predict(x_val, verbose=0) - y_val)))


class SeparateCodeTuner(RandomSearch):
    def run_trial(self, trial, **kwargs):
        hp = trial.hyperparameters
        os.makedirs("saved_models", exist_ok=True)
        return keras_code(
            units=hp.Int("units", 32, 128, 32),
            optimizer=hp.Choice("optimizer", ["adam", "adadelta"]),
            saving_path=os.path.join("saved_models", f"{trial.trial_id}.keras"),
        )


# -- the sections ---------------------------------------------------------------------------


def mnist_like():
    rng = np.random.default_rng(0)
    x = rng.random((96, 28, 28, 1), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 96), 10)
    return x[:64], y[:64], x[64:], y[64:]


def tune_architecture(x_train, y_train, x_val, y_val):
    build_model(keras_tuner.HyperParameters())  # the guide's quick check
    tuner = RandomSearch(
        hypermodel=build_model,
        objective="val_accuracy",
        max_trials=3,
        executions_per_trial=2,
        overwrite=True,
        directory="my_dir",
        project_name="helloworld",
    )
    tuner.search_space_summary()
    tuner.search(x_train, y_train, epochs=2, validation_data=(x_val, y_val))
    models = tuner.get_best_models(num_models=2)
    best_model = models[0]
    if not best_model.built:  # Keras 3 loads it built (the guide's build() then raises, as
        best_model.build(input_shape=(None, 28, 28, 1))  # with keras_tuner's own tuner)
    best_model.summary()
    tuner.results_summary()
    best_hps = tuner.get_best_hyperparameters(5)
    model = build_model(best_hps[0])  # retrain on all the data
    model.fit(x=np.concatenate((x_train, x_val)), y=np.concatenate((y_train, y_val)), epochs=1)
    return {
        "trials": len(tuner.oracle.trials),
        "models": len(models),
        "best_hps": len(best_hps),
        "keys": sorted(best_hps[0].values),
        "predict_shape": list(best_model.predict(x_val[:2], verbose=0).shape),
    }


def tune_hypermodel(x_train, y_train, x_val, y_val):
    hp = keras_tuner.HyperParameters()  # the guide's quick check of build and fit
    hypermodel = MyHyperModel()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, np.random.rand(100, 28, 28, 1), np.random.rand(100, 10))
    tuner = RandomSearch(
        MyHyperModel(),
        objective="val_accuracy",
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name="tune_hypermodel",
    )
    tuner.search(x_train, y_train, epochs=2, validation_data=(x_val, y_val))
    hypermodel = MyHyperModel()
    best_hp = tuner.get_best_hyperparameters()[0]
    model = hypermodel.build(best_hp)
    history = hypermodel.fit(
        best_hp, model, np.concatenate((x_train, x_val)), np.concatenate((y_train, y_val)), epochs=1
    )
    return {
        "trials": len(tuner.oracle.trials),
        "keys": sorted(best_hp.values),
        "retrained_epochs": len(history.history["loss"]),
    }


def regression_search(hypermodel, objective, project_name):
    kwargs = {} if objective is None else {"objective": objective}
    tuner = RandomSearch(
        hypermodel=hypermodel,
        max_trials=3,
        overwrite=True,
        directory="my_dir",
        project_name=project_name,
        **kwargs,
    )
    tuner.search(
        x=np.random.rand(100, 10),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(20, 10), np.random.rand(20, 1)),
    )
    tuner.results_summary()
    trials = list(tuner.oracle.trials.values())
    return {
        "trials": len(trials),
        "objective": tuner.oracle.objective.name,
        "direction": tuner.oracle.objective.direction,
        "statuses": sorted({str(t.status) for t in trials}),
        "scores_finite": all(t.score is not None and np.isfinite(t.score) for t in trials),
    }


def built_in_metric(*data):
    return regression_search(
        build_regressor,
        keras_tuner.Objective("val_mean_absolute_error", direction="min"),
        "built_in_metrics",
    )


def custom_metric(*data):
    return regression_search(
        build_custom_metric_regressor,
        keras_tuner.Objective("val_custom_metric", direction="min"),
        "custom_metrics",
    )


def returned_float(*data):
    return regression_search(HyperRegressor(), None, "custom_eval")


def returned_dict(*data):
    return regression_search(
        HyperRegressorDict(), keras_tuner.Objective("metric_a", "max"), "custom_eval_dict"
    )


def tune_any_function(*data):
    tuner = FunctionTuner(
        max_trials=20, overwrite=True, directory="my_dir", project_name="tune_anything"
    )
    tuner.search()
    best_x = tuner.get_best_hyperparameters()[0].get("x")
    print(best_x)
    return {
        "trials": len(tuner.oracle.trials),
        "best_x": best_x,
        "best_score": tuner.oracle.get_best_trials(1)[0].score,
    }


def keep_code_separate(*data):
    tuner = SeparateCodeTuner(
        max_trials=3, overwrite=True, directory="my_dir", project_name="keep_code_separate"
    )
    tuner.search()
    best_hp = tuner.get_best_hyperparameters()[0]
    keras_code(**best_hp.values, saving_path=os.path.join("saved_models", "best_model.keras"))
    return {
        "trials": len(tuner.oracle.trials),
        "keys": sorted(best_hp.values),
        "saved": sorted(os.listdir("saved_models")),
    }


SECTIONS = [
    tune_architecture,
    tune_hypermodel,
    built_in_metric,
    custom_metric,
    returned_float,
    returned_dict,
    tune_any_function,
    keep_code_separate,
]


def main(names):
    data = mnist_like()
    for section in SECTIONS:
        if names and section.__name__ not in names:
            continue
        try:
            result = {"ok": True, **section(*data)}
        except Exception as error:  # reported; the other sections still run
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print("GUIDE_RESULT " + json.dumps({"section": section.__name__, **result}), flush=True)


if __name__ == "__main__":  # trials run in spawned worker processes
    main(sys.argv[1:])
