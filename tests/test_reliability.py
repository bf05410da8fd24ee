"""Second reliability round: no silent result, no lost file, no endless wait.

Each bad input or fault ends in a clear error before the first trial (nothing written), or
in a correct result: a diverged trial is FAILED with its reason, never a score.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.labels import encode_labels  # noqa: E402
from lib.tuning import GridSearch, Hyperband, RandomSearch, fit_final  # noqa: E402


class Net(kt.HyperModel):
    """Five inputs, three softmax outputs; ``mode='slow'`` sleeps in build (a stuck trial)."""

    def __init__(self, loss="sparse_categorical_crossentropy", modes=("fast",)):
        super().__init__()
        self.loss, self.modes = loss, list(modes)

    def build(self, hp):
        if hp.Choice("mode", self.modes) == "slow":
            time.sleep(600)
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Choice("units", [4]), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", self.loss, metrics=["accuracy"])
        return model


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    return x, y


def _tuner(tmp_path, hypermodel=None, **kwargs):
    options = dict(
        objective="val_accuracy", directory=tmp_path, project_name="search", workers=0, seed=0
    )
    options.update(kwargs)
    return GridSearch(hypermodel or Net(), **options)


def _nothing_written(tmp_path):
    folder = tmp_path / "search"
    return not (folder / "search.json").exists() and not (folder / "trials.jsonl").exists()


X, Y = _data()

BAD_SEARCH_INPUTS = {
    "one value beyond float32": (
        lambda: (np.where(X > 2.5, 1e39, X.astype("float64")), Y, X, Y),
        "beyond float32",
    ),
    "one class in y_train": (lambda: (X, np.zeros_like(Y), X, Y), "one class only"),
    "one class in y_val": (lambda: (X, Y, X, np.ones_like(Y)), "one class only"),
    "x of the wrong shape": (lambda: (X[:, :4], Y, X[:, :4], Y), "fails on two rows of x_train"),
    "x_val with fewer features": (lambda: (X, Y, X[:, :4], Y), "fails on two rows of x_val"),
    "text x": (lambda: (X.astype(str), Y, X, Y), "needs numeric inputs"),
    "one-hot y into a sparse loss": (
        lambda: (X, np.eye(3)[Y], X, np.eye(3)[Y]),
        "targets fit its loss",
    ),
    "NaN in float labels": (
        lambda: (X, np.where(Y == 2, np.nan, Y.astype(float)), X, Y),
        "NaN or infinity",
    ),
    "empty validation set": (lambda: (X, Y, X[:0], Y[:0]), "x_val is empty"),
    "string labels": (
        lambda: (X, np.array(["sit", "walk", "run"])[Y], X, Y),
        "lib.labels.encode_labels",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEARCH_INPUTS))
def test_bad_search_input_is_refused_before_any_trial(tmp_path, case):
    make, message = BAD_SEARCH_INPUTS[case]
    x, y, x_val, y_val = make()
    tuner = _tuner(tmp_path)
    with pytest.raises(ValueError, match=message):
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=1, verbose=0)
    assert _nothing_written(tmp_path)


def test_regression_targets_with_infinity_are_refused(tmp_path):
    def build(hp):
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(hp.Choice("u", [2])), keras.layers.Dense(1)]
        )
        model.compile("adam", "mse")
        return model

    tuner = RandomSearch(
        build,
        objective="val_mse",
        max_trials=1,
        directory=tmp_path,
        project_name="search",
        workers=0,
    )
    y = X[:, 0].astype("float64")
    y[3] = np.inf
    with pytest.raises(ValueError, match="y_train has 1 of 90 rows with NaN or infinity"):
        tuner.search(X, y, validation_data=(X, X[:, 1]), epochs=1, verbose=0)
    assert _nothing_written(tmp_path)


@pytest.mark.slow
def test_following_the_string_label_advice_works(tmp_path):
    labels = np.array(["sit", "walk", "run"])[Y]
    ids, names = encode_labels(labels)
    tuner = _tuner(tmp_path)
    tuner.search(X, ids, validation_data=(X, ids), epochs=1, verbose=0)
    assert tuner.results["status"].tolist() == ["COMPLETED"]
    assert set(names) == {"sit", "walk", "run"}


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_a_batch_size_below_one_is_refused(tmp_path, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a whole number of at least 1"):
        _tuner(tmp_path).search(
            X, Y, validation_data=(X, Y), epochs=1, batch_size=batch_size, verbose=0
        )
    assert _nothing_written(tmp_path)


def test_a_misspelt_class_weight_is_refused_before_any_trial(tmp_path):
    with pytest.raises(ValueError, match="'balancd'"):
        _tuner(tmp_path).search(
            X, Y, validation_data=(X, Y), epochs=1, class_weight="balancd", verbose=0
        )
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize("max_trials", [0, -3])
def test_max_trials_below_one_is_refused(tmp_path, max_trials):
    with pytest.raises(ValueError, match="max_trials must be a whole number of at least 1"):
        RandomSearch(Net(), objective="val_accuracy", max_trials=max_trials, directory=tmp_path)


@pytest.mark.parametrize("arguments", [{"max_epochs": 0}, {"factor": 1}])
def test_hyperband_without_a_schedule_is_refused(tmp_path, arguments):
    with pytest.raises(ValueError, match=f"Hyperband's {next(iter(arguments))} must be"):
        Hyperband(Net(), objective="val_accuracy", directory=tmp_path, **arguments)


@pytest.mark.slow
def test_validation_rows_missing_a_class_are_warned_about(tmp_path):
    keep = Y != 2
    with pytest.warns(UserWarning, match=r"miss\(es\) classes \[2\]"):
        _tuner(tmp_path).search(X, Y, validation_data=(X[keep], Y[keep]), epochs=1, verbose=0)


def test_validation_split_of_one_class_is_refused(tmp_path):
    order = np.argsort(Y, kind="stable")  # a class-sorted file: the last rows are one class
    assert (Y[order][-9:] == 2).all()
    with pytest.raises(ValueError, match="the last rows that validation_split took"):
        _tuner(tmp_path).search(X[order], Y[order], validation_split=0.1, epochs=1, verbose=0)
    assert _nothing_written(tmp_path)


# -- diverged trials ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_network_with_nan_outputs_is_a_failed_trial_never_a_score(tmp_path):
    tuner = _tuner(tmp_path, keep_models=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tuner.search(
            X * np.float32(1e30), Y, validation_data=(X * np.float32(1e30), Y), epochs=2, verbose=0
        )
    row = tuner.results.iloc[0]
    assert row["status"] == "FAILED"
    assert "NaN or infinite" in row["error"]
    assert not np.isfinite(row["objective"])
    with pytest.raises(RuntimeError, match="no trial completed"):
        tuner.get_best_models(1)
    kept = [p.name for p in (tmp_path / "search").rglob("*.keras")]
    assert kept == []  # keep_models=1, but a FAILED trial keeps no model


def test_fit_final_checks_its_inputs():
    hp = {"mode": "fast", "units": 4}
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_final(Net(), hp, np.where(X > 2, np.nan, X), Y, epochs=1)
    with pytest.raises(ValueError, match="beyond float32"):
        fit_final(Net(), hp, X.astype("float64") * 1e38 * 10, Y, epochs=1)
    with pytest.raises(ValueError, match="batch_size"):
        fit_final(Net(), hp, X, Y, epochs=1, batch_size=0)


# -- files ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_trials_without_their_search_json_are_not_mixed_into_a_new_search(tmp_path):
    _tuner(tmp_path).search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    folder = tmp_path / "search"
    os.remove(folder / "search.json")
    before = (folder / "trials.jsonl").read_bytes()
    x2, y2 = _data(seed=1)
    with pytest.raises(ValueError, match="search.json is missing"):
        _tuner(tmp_path).search(x2, y2, validation_data=(x2, y2), epochs=1, verbose=0)
    assert (folder / "trials.jsonl").read_bytes() == before
    tuner = _tuner(tmp_path, overwrite=True)  # the advised way out
    tuner.search(x2, y2, validation_data=(x2, y2), epochs=1, verbose=0)
    assert len(tuner.results) == 1


@pytest.mark.slow
def test_a_truncated_search_json_is_named(tmp_path):
    _tuner(tmp_path).search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    spec = tmp_path / "search" / "search.json"
    spec.write_text(spec.read_text()[:40])
    with pytest.raises(ValueError, match=r"search\.json is damaged"):
        _tuner(tmp_path)


@pytest.mark.slow
def test_get_best_models_loads_the_kept_trial_model_after_best_model_keras_is_deleted(tmp_path):
    tuner = _tuner(tmp_path, keep_models=2)
    tuner.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    before = keras.saving.load_model(tmp_path / "search" / "best_model.keras").predict(X, verbose=0)
    os.remove(tmp_path / "search" / "best_model.keras")
    best = tuner.oracle.get_best_trials(1)[0]
    assert (tmp_path / "search" / "models" / f"trial-{int(best.trial_id):05d}.keras").exists()
    reopened = _tuner(tmp_path)  # a later session: the search read back from its folder
    np.testing.assert_allclose(
        reopened.get_best_models(1)[0].predict(X, verbose=0), before, rtol=1e-6
    )


@pytest.mark.slow  # the advised retry trains a trial
def test_a_stacked_refusal_leaves_nothing_behind(tmp_path):
    def build(hp):
        return Net().build(hp)

    tuner = GridSearch(
        build,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="search",
        executor="stacked",
    )
    with pytest.raises(TypeError, match="has no stacked form"):
        tuner.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    assert _nothing_written(tmp_path)
    retry = GridSearch(
        build, objective="val_accuracy", directory=tmp_path, project_name="search", workers=0
    )  # the advised retry, same folder
    retry.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    assert retry.results["status"].tolist() == ["COMPLETED"]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (root only; skipped elsewhere)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_while_saving_the_data_is_a_clear_error(small_disk):
    x, y = _data(n=40_000)
    tuner = GridSearch(
        Net(), objective="val_accuracy", directory=small_disk, project_name="search", workers=1
    )
    with pytest.raises(OSError, match="could not save the search's data .* is the disk full"):
        tuner.search(x, y, validation_data=(x[:100], y[:100]), epochs=1, verbose=0)
    leftovers = [name for name in os.listdir(small_disk / "search" / "data") if ".tmp-" in name]
    assert leftovers == []


# -- hangs -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stuck_trial_is_stopped_and_failed_and_the_search_goes_on(tmp_path):
    tuner = _tuner(
        tmp_path, hypermodel=Net(modes=("fast", "slow")), workers=1, trial_timeout_seconds=15
    )
    began = time.perf_counter()
    tuner.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    assert time.perf_counter() - began < 120
    rows = tuner.results.set_index("mode")
    assert rows.loc["fast", "status"] == "COMPLETED"
    assert rows.loc["slow", "status"] == "FAILED"
    assert "trial_timeout_seconds=15" in rows.loc["slow", "error"]


def test_a_trial_time_limit_needs_worker_processes(tmp_path):
    tuner = _tuner(tmp_path, trial_timeout_seconds=5)  # workers=0
    with pytest.raises(ValueError, match="needs trials in worker processes"):
        tuner.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)


@pytest.mark.slow
def test_a_wrong_ray_address_gives_up_quickly_naming_it(tmp_path):
    from lib.tuning import RayTuneSearch

    tuner = RayTuneSearch(
        Net(),
        objective="val_accuracy",
        max_trials=1,
        directory=tmp_path,
        project_name="search",
        ray_address="127.0.0.1:1",
    )
    began = time.perf_counter()
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        tuner.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    assert time.perf_counter() - began < 30


# -- ties ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_trials_tied_on_the_objective_are_ranked_by_the_monitored_loss(tmp_path, capsys):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(hp.Choice("units", [2, 4, 8]), "relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    x = (rng.normal(size=(60, 2)) * 0.3 + (2 * y[:, None] - 1) * 3).astype("float32")
    tuner = GridSearch(
        build, objective="val_accuracy", directory=tmp_path, workers=0, keep_models=1
    )
    tuner.search(x, y, validation_data=(x, y), epochs=8, verbose=1)
    frame = tuner.results
    assert (frame["objective"] == 1.0).all()  # the three trials tie
    val_loss = np.array(
        [h["val_loss"][b - 1] for h, b in zip(frame["history"], frame["best_epoch"], strict=True)]
    )
    assert frame["rank"].tolist() == (np.argsort(np.argsort(val_loss)) + 1).tolist()
    best = int(frame.loc[frame["rank"] == 1, "trial"].iloc[0])
    assert tuner.get_best_hyperparameters(1)[0].values["units"] == frame.loc[best, "units"]
    assert "3 trials tie on val_accuracy" in capsys.readouterr().out
    kept = keras.saving.load_model(tmp_path / "untitled_project" / "best_model.keras")
    np.testing.assert_allclose(
        kept.predict(x, verbose=0), tuner.get_best_models(1)[0].predict(x, verbose=0), rtol=1e-6
    )


# -- objectives -------------------------------------------------------------------------------


KERAS_METRICS = {  # objective -> (metric given to compile, task)
    "val_mean_absolute_error": ("mean_absolute_error", "regression"),
    "val_mean_squared_error": ("mean_squared_error", "regression"),
    "val_root_mean_squared_error": ("root_mean_squared_error", "regression"),
    "val_mape": ("mape", "regression"),
    "val_categorical_crossentropy": ("categorical_crossentropy", "classification"),
    "val_kl_divergence": ("kl_divergence", "classification"),
}


@pytest.mark.slow
@pytest.mark.parametrize("objective", sorted(KERAS_METRICS))
def test_keras_metric_objectives_are_minimised_end_to_end(tmp_path, objective):
    metric, task = KERAS_METRICS[objective]
    classes = task == "classification"

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(3 if classes else 1, activation="softmax" if classes else None),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Choice("learning_rate", [1e-4, 3e-2])),
            "categorical_crossentropy" if classes else "mse",
            metrics=[metric],
        )
        return model

    y = np.eye(3)[Y] if classes else X[:, 0] * 2 + 5
    tuner = GridSearch(build, objective=objective, directory=tmp_path, workers=0)
    tuner.search(X, y, validation_data=(X, y), epochs=3, verbose=0)
    frame = tuner.results
    assert tuner.oracle.objective.direction == "min"
    assert frame["objective"].nunique() == 2
    best = tuner.oracle.get_best_trials(1)[0].score
    assert best == frame["objective"].min()
    assert int(frame.loc[frame["rank"] == 1, "trial"].iloc[0]) == int(frame["objective"].idxmin())


def test_the_keeper_saves_a_model_tied_with_the_kept_one_and_ranks_it_by_the_monitored_loss(
    tmp_path,
):
    """The stacked executor hands the keeper a model to save (``take(model=...)``): one tied
    with the kept trial on the objective but lower on the monitored loss ranks first, so it
    must be saved (as a worker saves a tied checkpoint), and best_model.keras is it."""
    from lib.tuning._store import ModelKeeper

    class Saved:
        def __init__(self, name):
            self.name = name

        def save(self, path):
            Path(path).write_text(self.name)

    keeper = ModelKeeper(str(tmp_path), keep=1, direction="max", tie_break=("val_loss", "min"))
    records = []
    for number, loss in ((0, 0.5), (1, 0.2)):  # both 0.8 accuracy; trial 1 has the lower loss
        record = {
            "trial": number,
            "status": "COMPLETED",
            "objective": 0.8,
            "best_epoch": 1,
            "history": {"val_loss": [loss]},
        }
        keeper.take(number, record, records, model=lambda n=number: Saved(f"trial {n}"))
        records.append(record)
        keeper.settle(number, records)
    assert (tmp_path / "best_model.keras").read_text() == "trial 1"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["trial-00001.keras"]


def test_the_keepers_best_over_a_growing_search_equal_a_full_ranking(tmp_path):
    """The keeper ranks only the records appended since its last call (a search of 12,048
    configurations asked it twice per trial to sort every record): its best ``keep`` and its
    threshold stay those of ranking the whole list, after each append, with failed and
    non-finite trials, ties broken on the monitored loss, and for a new list (a resumed search)."""
    import math
    import random

    from lib.tuning._store import ModelKeeper

    def full_ranking(records, direction):
        done = [r for r in records if r["status"] == "COMPLETED" and math.isfinite(r["objective"])]
        sign = 1.0 if direction == "min" else -1.0
        done.sort(key=lambda r: (sign * r["objective"], r["history"]["val_loss"][0], r["trial"]))
        return [r["trial"] for r in done]

    rng = random.Random(0)
    for keep, direction in ((1, "max"), (3, "min"), (0, "max")):
        keeper = ModelKeeper(str(tmp_path), keep, direction, tie_break=("val_loss", "min"))
        records = []
        for number in range(60):
            ranked = full_ranking(records, direction)
            if keep == 0:  # nothing is kept: nothing beats the threshold
                expected = math.inf
            else:
                expected = records[ranked[keep - 1]]["objective"] if len(ranked) >= keep else None
            assert keeper.threshold(records) == expected
            records.append(
                {
                    "trial": number,
                    "status": rng.choice(["COMPLETED"] * 4 + ["FAILED"]),
                    "objective": rng.choice([0.25, 0.5, 0.75, float("nan"), rng.random()]),
                    "best_epoch": 1,
                    "history": {"val_loss": [rng.choice([0.1, 0.2, rng.random()])]},
                }
            )
            assert keeper._ranked(records) == full_ranking(records, direction)[:keep]
        resumed = [dict(r) for r in records]
        assert keeper._ranked(resumed) == full_ranking(resumed, direction)[:keep]
