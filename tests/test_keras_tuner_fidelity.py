"""KerasTuner code behaves as in KerasTuner: objective directions and conditional grids,
checked against ``keras_tuner`` itself (the ported suite in ``tests/keras_tuner_suite`` is the
wider specification)."""

from __future__ import annotations

import gc
import os
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.tuning import GridSearch, RandomSearch  # noqa: E402


class ConditionalMLP(kt.HyperModel):
    """Hyperparameters declared under Python ``if``s, as KerasTuner users write them; ``fit``
    returns a score without training, so a grid of it runs in seconds."""

    def build(self, hp):
        model = keras.Sequential([keras.Input((5,))])
        model.add(keras.layers.Dense(hp.Choice("units_1", [4, 8]), activation="relu"))
        if hp.Boolean("second_layer"):
            model.add(
                keras.layers.Dense(
                    hp.Choice("units_2", [2, 4]), activation=hp.Choice("act_2", ["relu", "tanh"])
                )
            )
        model.add(keras.layers.Dense(3, activation="softmax"))
        if hp.Choice("optimizer", ["sgd", "adam"]) == "sgd":
            optimizer = keras.optimizers.SGD(momentum=hp.Choice("momentum", [0.0, 0.9]))
        else:
            optimizer = keras.optimizers.Adam()
        model.compile(optimizer, "sparse_categorical_crossentropy")
        return model

    def fit(self, hp, model, *args, **kwargs):
        return float(sum(len(str(value)) for value in hp.values.values()))


def _points(values_list):
    return sorted(tuple(sorted(values.items())) for values in values_list)


def _tiny_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 5)).astype("float32"), rng.integers(0, 3, 12)


@pytest.fixture(scope="module")
def keras_tuners_conditional_grid(tmp_path_factory):
    """The configurations KerasTuner's own GridSearch runs on :class:`ConditionalMLP` (once
    per module: both parametrisations compare against it)."""
    x, y = _tiny_data()
    reference = kt.GridSearch(
        ConditionalMLP(),
        objective=kt.Objective("score", "max"),
        directory=tmp_path_factory.mktemp("keras_tuner"),
    )
    with mock.patch.object(gc, "collect", lambda generation=2: 0):  # a full collection per
        reference.search(x, y, validation_data=(x, y), epochs=1, verbose=0)  # trial: 0.4 s
    return _points(t.hyperparameters.values for t in reference.oracle.trials.values())


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 1])
def test_a_conditional_grid_runs_exactly_keras_tuners_configurations(
    tmp_path, workers, keras_tuners_conditional_grid
):
    x, y = _tiny_data()
    objective = kt.Objective("score", "max")
    expected = keras_tuners_conditional_grid

    tuner = GridSearch(
        ConditionalMLP(),
        objective=objective,
        directory=tmp_path,
        project_name="ours",
        workers=workers,
        trials_per_worker=None,
    )
    frame = tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    found = _points(t.hyperparameters.values for t in tuner.oracle.trials.values())

    assert len(frame) == len(expected)
    assert found == expected  # same configurations (the second layer's are walked too)
    assert {"units_2", "act_2", "momentum"} <= set(frame.columns)
    # a resume replays the grown space: the same directory continues with nothing to run
    again = GridSearch(
        ConditionalMLP(),
        objective=objective,
        directory=tmp_path,
        project_name="ours",
        workers=workers,
    )
    assert _points(t.hyperparameters.values for t in again.oracle.trials.values()) == expected
    assert len(again.search(x, y, validation_data=(x, y), epochs=1, verbose=0)) == len(expected)


@pytest.mark.parametrize(
    "name",
    [
        "val_mean_absolute_error",
        "val_mean_squared_error",
        "val_root_mean_squared_error",
        "val_mape",
        "val_categorical_crossentropy",
        "val_sparse_categorical_crossentropy",
        "val_kl_divergence",
        "val_loss",
        "val_accuracy",
        "val_auc",
        "val_mse",
        "val_mae",
    ],
)
def test_an_objective_name_gets_keras_tuners_direction(tmp_path, name):
    from keras_tuner.src.engine.objective import create_objective

    tuner = RandomSearch(ConditionalMLP(), objective=name, max_trials=1, directory=tmp_path)
    assert tuner.oracle.objective.direction == create_objective(name).direction


def test_an_objective_whose_direction_cannot_be_inferred_is_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="Could not infer optimization direction"):
        RandomSearch(ConditionalMLP(), objective="val_custom_metric", directory=tmp_path)
    assert not os.path.exists(tmp_path / "untitled_project" / "search.json")
    tuner = RandomSearch(
        ConditionalMLP(), objective=kt.Objective("val_custom_metric", "min"), directory=tmp_path
    )
    assert tuner.oracle.objective.direction == "min"


def test_an_objective_given_against_its_metrics_direction_is_warned_about(tmp_path):
    with pytest.warns(UserWarning, match="val_accuracy.*'min'.*'max'"):
        RandomSearch(
            ConditionalMLP(), objective=kt.Objective("val_accuracy", "min"), directory=tmp_path
        )


class RecordingHyperband(kt.HyperModel):
    """Reports the epoch a fit starts at and the weights it starts and ends with."""

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Choice("units", [4, 6, 8, 10]), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    def fit(self, hp, model, *args, **kwargs):
        def total():
            return float(sum(np.abs(w).sum() for w in model.get_weights()))

        start = total()
        history = model.fit(*args, **kwargs)
        losses = history.history.get("val_loss") or [0.0]  # none in the dry fit of discovery
        return {
            "val_loss": min(losses),
            "start_weights": start,
            "end_weights": total(),
            "initial_epoch": float(kwargs.get("initial_epoch", 0)),
        }


@pytest.mark.slow
def test_hyperband_continues_a_promoted_trial_from_its_parents_weights(tmp_path):
    from lib.tuning import Hyperband

    x, y = _tiny_data()
    tuner = Hyperband(
        RecordingHyperband(),
        objective="val_loss",
        max_epochs=4,
        factor=2,
        directory=tmp_path,
        workers=1,
    )
    tuner.search(x, y, validation_data=(x, y), verbose=0)
    records = {r["trial_id"]: r for r in tuner._store.load()}
    promoted = [r for r in records.values() if "tuner/trial_id" in r["hyperparameters"]]
    assert promoted, "the schedule promotes trials"
    for child in promoted:
        values = child["hyperparameters"]
        parent = records[values["tuner/trial_id"]]
        assert child["initial_epoch"] == values["tuner/initial_epoch"] > 0
        # it starts where its parent ended (the parent's best weights), not from a new model
        assert child["start_weights"] == pytest.approx(parent["end_weights"], rel=1e-6)
        assert os.path.exists(
            tmp_path / "untitled_project" / f"trial_{child['trial_id']}" / "checkpoint.weights.h5"
        )


class BatchSizeInFit(kt.HyperModel):
    """KerasTuner's getting-started guide: the batch size tuned in ``fit``."""

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.layers.Dense(hp.Choice("units", [4, 8]), "relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [4, 6]), **kwargs)


@pytest.mark.slow
def test_a_fit_that_tunes_the_batch_size_and_an_unbuilt_sequential_search_as_in_keras_tuner(
    tmp_path,
):
    x, y = _tiny_data()
    tuner = GridSearch(BatchSizeInFit(), objective="val_accuracy", directory=tmp_path)
    frame = tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    assert (frame["status"] == "COMPLETED").all()
    points = sorted(zip(frame["units"], frame["batch_size"], strict=True))
    assert points == [(4, 4), (4, 6), (8, 4), (8, 6)]
    # given to search(), the batch size reaches fit() as in KerasTuner, and clashes as there
    clash = GridSearch(
        BatchSizeInFit(), objective="val_accuracy", directory=tmp_path, project_name="clash"
    )
    with pytest.raises(TypeError, match="multiple values for keyword argument 'batch_size'"):
        clash.search(x, y, validation_data=(x, y), epochs=1, batch_size=2, verbose=0)


def test_one_hot_float_targets_are_classes_and_real_values_a_regression():
    from lib.tuning._data import infer_task  # the rule itself, on its own

    one_hot = keras.utils.to_categorical(np.array([0, 2, 1, 2]), 3)  # float32 rows
    assert infer_task("val_loss", one_hot, None) == "classification"
    assert infer_task("val_loss", np.array([[0.2, 0.8], [1.0, 0.0]]), None) == "regression"
    assert infer_task("val_loss", np.array([0.5, 1.5]), None) == "regression"
    assert infer_task("val_loss", np.array([[1.0, 1.0], [0.0, 1.0]]), None) == "regression"


def test_callbacks_are_told_apart_by_their_top_level_package_only():
    from lib.tuning.tuners import _callbacks_of_caller

    class Recorder(keras.callbacks.Callback):
        pass

    Recorder.__module__ = "keras_tuner_suite.tuner_test"  # a test module whose name starts "keras"
    assert _callbacks_of_caller([Recorder()])
    assert not _callbacks_of_caller([keras.callbacks.EarlyStopping(), keras.callbacks.History()])
    assert not _callbacks_of_caller(None)
