"""The tuning engine through the public tuners (``GridSearch``, ``RandomSearch``) on tiny
data: the documented result frame, the saved best model and its metric against a refit with
``fit_final``, resume (finished trials read back, a torn line ignored, conditional
hyperparameters, a changed search space refused), folds and stratified k-fold, the
regression objective minimised, a Keras history objective and the clear errors of a
misconfigured search."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.evaluation import classification_metrics  # noqa: E402
from lib.tuning import (  # noqa: E402
    GridSearch,
    RandomSearch,
    build_model,
    fit_final,
    spaces,
)
from tests.helpers import CLASSES, FEATURES, TinyMLP, classification  # noqa: E402


class ConditionalMLP(kt.HyperModel):
    """A second layer whose width exists only when ``layers == 2`` (conditional hp)."""

    def build(self, hp):
        layers = hp.Choice("layers", [1, 2])
        x = inputs = keras.Input((FEATURES,))
        x = keras.layers.Dense(4, activation="relu")(x)
        with hp.conditional_scope("layers", [2]):
            if layers == 2:
                x = keras.layers.Dense(hp.Choice("units_2", [2, 3]), activation="relu")(x)
        outputs = keras.layers.Dense(CLASSES, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


class TinyRegressor(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(hp.Choice("units", [2, 4]), activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(keras.optimizers.Adam(hp.Choice("lr", [0.01])), "mse")
        return model


@pytest.mark.slow
def test_grid_search_returns_documented_frame(tmp_path):
    x, y = classification()
    tuner = GridSearch(
        TinyMLP(),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="grid",
        workers=0,
        seed=3,
    )
    frame = tuner.search(
        x[:80],
        y[:80],
        validation_data=(x[80:], y[80:]),
        epochs=2,
        early_stopping=1,
        reduce_lr={"patience": 1},
        class_weight="balanced",
        verbose=0,
    )
    assert list(frame["trial"]) == [0, 1]
    assert sorted(frame["units"]) == [4, 8]
    for column in [
        "objective",
        "val_accuracy",
        "val_macro_recall",
        "val_macro_f1",
        "val_weighted_f1",
        "best_epoch",
        "epochs_run",
        "seconds",
        "overhead_seconds",
        "status",
        "history",
    ]:
        assert column in frame.columns, column
    assert (frame["status"] == "COMPLETED").all()
    np.testing.assert_allclose(frame["objective"], frame["val_accuracy"])
    assert ((frame["best_epoch"] >= 1) & (frame["best_epoch"] <= frame["epochs_run"])).all()
    assert (frame["epochs_run"] <= 2).all()
    assert (frame["overhead_seconds"] >= 0).all()
    # sequential trials: the wall clock of trial k's end covers every trial before it
    elapsed = frame["elapsed_seconds"].to_numpy()
    assert np.all(np.diff(elapsed) > 0)
    assert elapsed[-1] >= frame["seconds"].sum() - 1e-6
    history = frame["history"].iloc[0]
    assert len(history["val_loss"]) == frame["epochs_run"].iloc[0]
    assert frame.attrs["direction"] == "max" and frame.attrs["objective"] == "val_accuracy"
    assert tuner.oracle.get_best_trials(1)[0].score == frame["objective"].max()
    assert frame.loc[frame["rank"] == 1, "objective"].iloc[0] == frame["objective"].max()
    assert (tmp_path / "grid" / "best_model.keras").exists()
    for saved in (
        keras.saving.load_model(tmp_path / "grid" / "best_model.keras"),
        tuner.get_best_models(1)[0],
    ):
        score = classification_metrics(y[80:], saved.predict(x[80:], verbose=0), labels=[0, 1, 2])
        assert score["accuracy"] == pytest.approx(frame["objective"].max())
    # the parent folder holds no search: a tuner opened there finds no trial, no best model
    parent = GridSearch(
        TinyMLP(),
        objective="val_accuracy",
        directory=tmp_path.parent,
        project_name=tmp_path.name,
        workers=0,
    )
    assert parent.results.empty and parent.get_best_models(1) == []

    # The engine's metric is classification_metrics on the restored best-epoch weights:
    # retrain trial 0 through the same fit path with its seed and recompute it.
    row = frame.iloc[0]
    model, _ = fit_final(
        TinyMLP(),
        {"units": int(row["units"])},
        x[:80],
        y[:80],
        validation_data=(x[80:], y[80:]),
        epochs=2,
        seed=spaces.trial_seed(3, 0),
        early_stopping=1,
        reduce_lr={"patience": 1},
        class_weight="balanced",
    )
    expected = classification_metrics(y[80:], model.predict(x[80:], verbose=0), labels=[0, 1, 2])
    assert row["val_accuracy"] == pytest.approx(expected["accuracy"])
    assert row["val_macro_f1"] == pytest.approx(expected["macro_f1"])


def _best_trial_number(frame):
    """The trial ranked first in ``tuner.results`` (the order of ``get_best_trials``)."""
    return int(frame.loc[frame["rank"] == 1, "trial"].iloc[0])


@pytest.mark.slow
def test_resume_skips_finished_trials_and_matches_uninterrupted(tmp_path):
    x, y = classification()
    model = TinyMLP(layers=True)

    def run(project, max_trials):
        tuner = RandomSearch(
            model,
            objective="val_macro_f1",
            max_trials=max_trials,
            directory=tmp_path,
            project_name=project,
            workers=0,
            seed=1,
        )
        return tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)

    full = run("full", 3)
    part = run("part", 1)
    assert len(part) == 1
    # a kill during a write leaves a torn line: it must be ignored
    with open(tmp_path / "part" / "trials.jsonl", "a") as handle:
        handle.write('{"trial": 1, "hyperpa')
    resumed = run("part", 3)  # the same folder, overwrite=False: the search goes on
    assert len(resumed) == 3
    # finished trials were read back, not rerun (their timings are the stored ones)
    np.testing.assert_array_equal(resumed["seconds"].iloc[:1], part["seconds"])
    lines = (tmp_path / "part" / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(line.endswith("}") for line in lines)
    columns = ["units", "layers"]
    assert resumed[columns].to_dict("records") == full[columns].to_dict("records")
    assert _best_trial_number(resumed) == _best_trial_number(full)

    # nothing left to do: no trial runs again
    again = run("part", 3)
    np.testing.assert_array_equal(again["seconds"], resumed["seconds"])


@pytest.mark.slow
def test_conditional_hyperparameters_are_stored_and_resumed(tmp_path):
    x, y = classification()

    def run():
        tuner = GridSearch(
            ConditionalMLP(),
            objective="val_accuracy",
            directory=tmp_path,
            project_name="conditional",
            workers=0,
            seed=0,
        )
        return tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)

    frame = run()
    assert len(frame) == 3  # layers=1, then layers=2 with units_2 in {2, 3}
    assert frame.loc[frame["layers"] == 1, "units_2"].isna().all()
    assert sorted(frame.loc[frame["layers"] == 2, "units_2"]) == [2, 3]
    again = run()  # resume: nothing to rerun
    assert list(again["trial"]) == list(frame["trial"])
    np.testing.assert_allclose(again["objective"], frame["objective"])


@pytest.mark.slow
def test_resume_refuses_a_different_search_space(tmp_path):
    x, y = classification()

    def run(hypermodel):
        tuner = GridSearch(
            hypermodel,
            objective="val_accuracy",
            max_trials=1,
            directory=tmp_path,
            project_name="run",
            workers=0,
        )
        return tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)

    first = run(TinyMLP())
    with pytest.raises(ValueError, match="different search space"):
        run(TinyMLP(layers=True))
    # the refused search changed nothing: the first one resumes with its trial as it was
    again = run(TinyMLP())
    np.testing.assert_array_equal(again["seconds"], first["seconds"])


@pytest.mark.slow
def test_folds_resample_training_rows_only(tmp_path, monkeypatch):
    import lib.resampling

    x, y = classification(n=90)
    x[:, -1] = np.arange(len(x))  # row id in the last column (not used by the subset model)
    seen = []

    def spy(features, targets, *, method, seed=0, **kwargs):
        seen.append(np.asarray(features)[:, -1].astype(int).copy())
        return features, targets

    monkeypatch.setattr(lib.resampling, "resample", spy)
    folds = [(np.arange(0, 60), np.arange(60, 90)), (np.arange(30, 90), np.arange(0, 30))]
    tuner = GridSearch(
        TinyMLP(resampling=True),
        objective="val_accuracy",
        max_trials=1,
        directory=tmp_path,
        project_name="folds",
        workers=0,
    )
    frame = tuner.search(x, y, folds=folds, epochs=1, verbose=0)
    assert len(seen) == 2
    for ids, (train, val) in zip(seen, folds, strict=True):
        np.testing.assert_array_equal(np.sort(ids), train)
        assert not np.intersect1d(ids, val).size
    per_fold = frame[["val_accuracy_fold0", "val_accuracy_fold1"]].to_numpy()[0]
    assert frame["objective"].iloc[0] == pytest.approx(per_fold.mean())
    assert frame["val_accuracy_std"].iloc[0] == pytest.approx(per_fold.std())


@pytest.mark.slow
def test_kfold_int_is_stratified_and_feature_subsets_get_full_x(tmp_path):
    x, y = classification(n=90)
    tuner = GridSearch(
        TinyMLP(subsets=True),
        objective="val_weighted_f1",
        max_trials=2,
        directory=tmp_path,
        project_name="kfold",
        workers=0,
    )
    frame = tuner.search(x, y, folds=2, epochs=1, verbose=0)
    assert set(frame["features"]) == {"first10", "all"}
    assert {"val_weighted_f1_fold0", "val_weighted_f1_fold1", "val_weighted_f1_std"} <= set(
        frame.columns
    )
    assert "fold1/val_loss" in frame["history"].iloc[0]


@pytest.mark.slow
def test_regression_objective_is_minimised(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, FEATURES)).astype("float32")
    y = (x[:, :3].sum(axis=1) + 0.1 * rng.normal(size=100)).astype("float32")
    tuner = GridSearch(
        TinyRegressor(),
        objective="val_mse",
        directory=tmp_path,
        project_name="regression",
        workers=0,
    )
    frame = tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)
    assert frame.attrs["task"] == "regression" and frame.attrs["direction"] == "min"
    assert {"val_mse", "val_mae", "val_rmse"} <= set(frame.columns)
    assert tuner.oracle.get_best_trials(1)[0].score == frame["objective"].min()
    assert tuner.get_best_hyperparameters(1)[0].values == {
        "units": int(frame.loc[frame["objective"].idxmin(), "units"]),
        "lr": 0.01,
    }
    model = build_model(TinyRegressor(), {"units": 4})
    assert model.layers[0].units == 4


def test_errors_are_clear(tmp_path):
    x, y = classification()

    def run(hypermodel, project, objective="val_accuracy", validation=True):
        tuner = GridSearch(
            hypermodel, objective=objective, directory=tmp_path, project_name=project, workers=0
        )
        validation_data = (x[80:], y[80:]) if validation else None
        return tuner.search(x[:80], y[:80], validation_data=validation_data, epochs=1, verbose=0)

    def fixed(hp):
        model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES)])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    with pytest.raises(ValueError, match="empty search space"):
        run(fixed, "b")
    with pytest.raises(ValueError, match="no validation data"):
        run(TinyMLP(), "d", validation=False)


@pytest.mark.slow
def test_an_objective_the_model_does_not_log_is_named_with_those_it_does(tmp_path):
    # found only once the first trial has trained (as in KerasTuner): end-to-end
    x, y = classification()
    tuner = GridSearch(
        TinyMLP(), objective="val_auc", directory=tmp_path, project_name="c", workers=0
    )
    with pytest.raises(ValueError, match="val_auc.*available.*val_accuracy"):
        tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)


@pytest.mark.slow
def test_keras_history_objective(tmp_path):
    x, y = classification()
    tuner = GridSearch(
        TinyMLP(),
        objective="val_loss",
        max_trials=1,
        directory=tmp_path,
        project_name="history",
        workers=0,
    )
    frame = tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=2, verbose=0)
    history = frame["history"].iloc[0]
    assert frame["objective"].iloc[0] == pytest.approx(min(history["val_loss"]))
    assert frame.attrs["direction"] == "min"
