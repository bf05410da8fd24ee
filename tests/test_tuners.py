"""The KerasTuner-style tuner classes: KerasTuner's API, resume, options, progress, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner as kt  # noqa: E402
import pytest  # noqa: E402

from lib.tuning import (  # noqa: E402
    BayesianOptimization,
    GridSearch,
    Hyperband,
    RandomSearch,
    RayTuneSearch,
    space_table,
)
from lib.tuning.spaces import space_size  # noqa: E402
from tests.helpers import FEATURES, TinyMLP, classification, split_data  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data():
    x, y = classification()
    return x[:80], y[:80], x[80:], y[80:]


def _run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


# A script written for keras_tuner.RandomSearch, with only the import changed (first, so
# TensorFlow loads quietly) and the __main__ guard worker processes need.
_KERAS_TUNER_SCRIPT = """
import os, sys
from lib.tuning import RandomSearch
import keras
import numpy as np


def build(hp):
    model = keras.Sequential([
        keras.Input((25,)),
        keras.layers.Dense(hp.Int("units", 4, 32, step=4), activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3])),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 25)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    tuner = RandomSearch(build, objective="val_accuracy", max_trials=int(sys.argv[2]),
                         directory=sys.argv[1], project_name="demo", seed=1)
    tuner.search(x[:80], y[:80], epochs=2, validation_data=(x[80:], y[80:]), verbose=0)
    best = tuner.get_best_models(num_models=1)[0]
    tuner.results_summary()
    print("PIDS", os.getpid(), best.predict(x[80:82], verbose=0).shape)
"""


@pytest.mark.slow
def test_a_keras_tuner_script_runs_in_workers_and_resumes_with_more_trials(tmp_path):
    script = tmp_path / "kt_script.py"
    script.write_text(_KERAS_TUNER_SCRIPT)
    first = _run(str(script), str(tmp_path / "runs"), "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Results summary" in first.stdout and "Score:" in first.stdout
    assert "(2, 3)" in first.stdout  # the best model predicts three class probabilities
    for line in ("absl::InitializeLog", "oneDNN custom operations", "cuInit"):
        assert line not in first.stderr  # neither the script nor its workers print them
    trials = tmp_path / "runs" / "demo" / "trials.jsonl"
    records = [json.loads(line) for line in trials.read_text().splitlines()]
    assert [r["trial"] for r in records] == [0, 1]
    parent = int(first.stdout.split("PIDS ")[1].split()[0])
    assert all(r["pid"] != parent for r in records)  # not in the script

    second = _run(str(script), str(tmp_path / "runs"), "4")
    assert second.returncode == 0, second.stderr[-3000:]
    again = [json.loads(line) for line in trials.read_text().splitlines()]
    assert [r["trial"] for r in again] == [0, 1, 2, 3]  # only the two new trials ran
    assert again[:2] == records  # the first two lines untouched


@pytest.mark.slow
def test_tuner_classes_are_keras_tuner_tuners_with_its_result_api(tmp_path, capsys):
    x, y, xv, yv = _data()
    tuner = GridSearch(
        TinyMLP(),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="grid",
        workers=0,
        seed=3,
        keep_models=2,
    )
    assert isinstance(tuner, kt.Tuner)
    tuner.search_space_summary()
    assert "units (Choice)" in capsys.readouterr().out
    frame = tuner.search(x, y, validation_data=(xv, yv), epochs=2, verbose=0)
    assert list(frame["trial"]) == [0, 1] and (frame["status"] == "COMPLETED").all()
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best_row = frame.loc[frame["objective"].idxmax()]
    assert best_hp.values["units"] == best_row["units"]
    trials = tuner.oracle.get_best_trials(2)
    assert [t.score for t in trials] == sorted(frame["objective"], reverse=True)
    models = tuner.get_best_models(num_models=2)
    assert len(models) == 2
    from lib.evaluation import classification_metrics

    for model, trial in zip(models, trials, strict=True):
        score = classification_metrics(yv, model.predict(xv, verbose=0), labels=[0, 1, 2])
        assert score["accuracy"] == pytest.approx(trial.score)
    tuner.results_summary(1)
    out = capsys.readouterr().out
    assert "Results summary" in out and f"Score: {trials[0].score}" in out


@pytest.mark.slow
def test_a_constructed_tuner_reads_a_finished_search_and_continues_it(tmp_path):
    x, y, xv, yv = _data()
    kwargs = dict(objective="val_accuracy", directory=tmp_path, project_name="r", workers=0, seed=5)
    RandomSearch(TinyMLP(layers=True), max_trials=2, **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=1, verbose=0
    )
    reread = RandomSearch(TinyMLP(layers=True), max_trials=4, **kwargs)
    assert len(reread.oracle.trials) == 2  # replayed from trials.jsonl, before any search
    assert reread.get_best_hyperparameters(1)[0].values
    frame = reread.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert list(frame["trial"]) == [0, 1, 2, 3]
    straight = RandomSearch(TinyMLP(layers=True), max_trials=4, **dict(kwargs, project_name="s"))
    whole = straight.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    columns = ["units", "layers", "objective"]
    assert frame[columns].to_dict("records") == whole[columns].to_dict("records")


_GRID_SCRIPT = """
import sys
import numpy as np
from tests.helpers import TinyMLP, classification
from lib.tuning import GridSearch

if __name__ == "__main__":
    x, y = classification()
    tuner = GridSearch(TinyMLP(layers=True), objective="val_accuracy", directory=sys.argv[1],
                       project_name="grid", seed=0, threads=1)
    tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)
"""


@pytest.mark.slow
def test_grid_search_resumes_after_sigkill_without_rerunning_a_trial(tmp_path):
    """keras-team/keras-tuner#1055: KerasTuner 1.4.8's own GridSearch cannot resume."""
    script = tmp_path / "grid.py"
    script.write_text(_GRID_SCRIPT)
    runs = tmp_path / "runs"
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(runs)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    trials = runs / "grid" / "trials.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (
        not trials.exists() or len(trials.read_text().splitlines()) < 2
    ):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the search and its worker
    process.wait()
    before = [json.loads(line) for line in trials.read_text().splitlines() if line.strip()]
    assert 2 <= len(before) < 4
    finished = _run(str(script), str(runs))
    assert finished.returncode == 0, finished.stderr[-3000:]
    after = [json.loads(line) for line in trials.read_text().splitlines()]
    assert sorted(r["trial"] for r in after) == [0, 1, 2, 3]  # each trial once
    assert after[: len(before)] == before
    assert len({tuple(sorted(r["hyperparameters"].items())) for r in after}) == 4


@pytest.mark.slow
def test_options_of_another_engine_are_type_errors(tmp_path):
    with pytest.raises(TypeError, match=r"ray_address.*RayTuneSearch"):
        RandomSearch(TinyMLP(), objective="val_accuracy", ray_address="auto", directory=tmp_path)
    with pytest.raises(TypeError, match="workers"):
        RayTuneSearch(TinyMLP(), objective="val_accuracy", workers=2, directory=tmp_path)
    with pytest.raises(TypeError, match="unsupported"):
        GridSearch(TinyMLP(), objective="val_accuracy", directory=tmp_path, workers=0).search(
            *_data()[:2], validation_data=_data()[2:], steps_per_epoch=2
        )


@pytest.mark.slow
def test_executions_per_trial_average_fits_from_successive_seeds():
    """KerasTuner's executions_per_trial: the objective is the mean of the executions, each
    scored on its own best epoch; execution j of fold i uses seed + i + j * folds."""
    from lib.tuning import _trial
    from lib.tuning._settings import TrialSettings

    x, y, xv, yv = _data()
    arrays = split_data(*classification())
    settings = TrialSettings(
        objective="val_loss",
        direction="min",
        task="classification",
        labels=[0, 1, 2],
        epochs=2,
        batch_size=16,
        monitor="val_loss",
    )

    def objective(executions, seed, splits=None):
        return _trial.run_trial(
            TinyMLP(),
            {"units": 4},
            arrays,
            splits,
            settings.replace(executions=executions),
            seed=seed,
        )

    single = [objective(1, seed)["objective"] for seed in (7, 8)]
    assert single[0] != single[1]  # the two seeds train different models
    both = objective(2, 7)
    assert both["objective"] == pytest.approx(sum(single) / 2, rel=1e-6)
    assert [both["val_loss_execution0"], both["val_loss_execution1"]] == pytest.approx(single)
    assert {"val_loss", "execution1/val_loss"} <= set(both["history"])
    assert objective(1, 7)["objective"] == single[0]  # one execution: the seed as before

    folds = [(range(0, 40), range(40, 80)), (range(40, 80), range(0, 40))]
    folds = [(list(a), list(b)) for a, b in folds]
    crossed = objective(2, 3, folds)
    fold0 = [objective(1, seed, folds[:1])["objective"] for seed in (3, 5)]  # j = 0, 1
    fold1 = [objective(1, seed, folds[1:])["objective"] for seed in (4, 6)]
    assert crossed["val_loss_fold0"] == pytest.approx(sum(fold0) / 2, rel=1e-6)
    assert crossed["val_loss_fold1"] == pytest.approx(sum(fold1) / 2, rel=1e-6)
    assert crossed["val_loss_execution1"] == pytest.approx((fold0[1] + fold1[1]) / 2, rel=1e-6)
    assert crossed["objective"] == pytest.approx((sum(fold0) + sum(fold1)) / 4, rel=1e-6)


@pytest.mark.slow
def test_a_tuner_with_executions_per_trial_keeps_the_best_execution_and_resumes_only_alike(
    tmp_path,
):
    import keras

    x, y, xv, yv = _data()
    kwargs = dict(
        objective="val_loss", directory=tmp_path, project_name="e", workers=0, seed=2, keep_models=1
    )
    tuner = RandomSearch(TinyMLP(layers=True), max_trials=2, executions_per_trial=2, **kwargs)
    frame = tuner.search(x, y, validation_data=(xv, yv), epochs=2, verbose=0)
    executions = frame[["val_loss_execution0", "val_loss_execution1"]]
    assert frame["objective"].to_numpy() == pytest.approx(executions.mean(axis=1).to_numpy())
    best = frame.loc[frame["objective"].idxmin()]
    model = tuner.get_best_models(1)[0]
    kept_loss = keras.losses.SparseCategoricalCrossentropy()(yv, model.predict(xv, verbose=0))
    assert float(kept_loss) == pytest.approx(
        min(best["val_loss_execution0"], best["val_loss_execution1"]), rel=1e-4
    )
    spec = json.loads((tmp_path / "e" / "search.json").read_text())
    assert spec["executions_per_trial"] == 2

    with pytest.raises(ValueError, match="executions_per_trial"):
        RandomSearch(TinyMLP(layers=True), max_trials=3, **kwargs).search(
            x, y, validation_data=(xv, yv), epochs=2, verbose=0
        )
    again = RandomSearch(
        TinyMLP(layers=True), max_trials=3, executions_per_trial=2, **kwargs
    ).search(x, y, validation_data=(xv, yv), epochs=2, verbose=0)
    assert list(again["trial"]) == [0, 1, 2]


@pytest.mark.slow
def test_a_search_stored_before_executions_per_trial_existed_still_resumes(tmp_path):
    x, y, xv, yv = _data()
    kwargs = dict(
        objective="val_accuracy", directory=tmp_path, project_name="old", workers=0, seed=1
    )
    RandomSearch(TinyMLP(), max_trials=1, **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=1, verbose=0
    )
    path = tmp_path / "old" / "search.json"
    spec = json.loads(path.read_text())
    assert spec["executions_per_trial"] is None  # one execution is stored as before
    del spec["executions_per_trial"]
    path.write_text(json.dumps(spec))
    frame = RandomSearch(TinyMLP(), max_trials=2, **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=1, verbose=0
    )
    assert list(frame["trial"]) == [0, 1]


def test_executions_per_trial_is_checked_and_refused_where_it_cannot_apply(tmp_path):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="executions_per_trial must be a whole number"):
            RandomSearch(
                TinyMLP(), objective="val_accuracy", executions_per_trial=bad, directory=tmp_path
            )
    with pytest.raises(ValueError, match="stacked"):
        GridSearch(
            TinyMLP(),
            objective="val_accuracy",
            executions_per_trial=2,
            executor="stacked",
            directory=tmp_path,
        )
    with pytest.raises(ValueError, match="asha"):
        RayTuneSearch(
            TinyMLP(),
            objective="val_accuracy",
            executions_per_trial=2,
            asha=True,
            directory=tmp_path,
        )


@pytest.mark.slow
def test_validation_split_holds_out_the_last_rows_as_keras_fit_does(tmp_path):
    x, y = classification(100)
    kwargs = dict(objective="val_accuracy", directory=tmp_path, workers=0, seed=4)
    split = GridSearch(TinyMLP(), project_name="split", **kwargs).search(
        x, y, validation_split=0.25, epochs=1, verbose=0
    )
    explicit = GridSearch(TinyMLP(), project_name="explicit", **kwargs).search(
        x[:75], y[:75], validation_data=(x[75:], y[75:]), epochs=1, verbose=0
    )
    columns = ["units", "objective", "val_macro_f1"]
    assert split[columns].to_dict("records") == explicit[columns].to_dict("records")
    stored = json.loads((tmp_path / "split" / "search.json").read_text())
    assert stored["data"] == json.loads((tmp_path / "explicit" / "search.json").read_text())["data"]

    tuner = GridSearch(TinyMLP(), project_name="bad", **kwargs)
    with pytest.raises(ValueError, match="validation_split=0.2 and validation_data"):
        tuner.search(x, y, validation_split=0.2, validation_data=(x, y), epochs=1)
    with pytest.raises(ValueError, match="validation_split=0.2 and folds"):
        tuner.search(x, y, validation_split=0.2, folds=2, epochs=1)
    for bad in (1.0, -0.1, 1.5, "0.2"):
        with pytest.raises(ValueError, match="validation_split must be a fraction"):
            tuner.search(x, y, validation_split=bad, epochs=1)
    with pytest.raises(ValueError, match="leaves no validation rows"):
        tuner.search(x[:3], y[:3], validation_split=0.1, epochs=1)


@pytest.mark.slow
def test_a_tensorboard_callback_logs_each_trial_and_execution_in_its_own_folder(tmp_path):
    """As KerasTuner does: <log_dir>/<trial_id>/execution<j>, with the trial's hparams."""
    import keras

    x, y, xv, yv = _data()
    logs = tmp_path / "tb"
    tuner = GridSearch(
        TinyMLP(),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="g",
        workers=0,
        executions_per_trial=2,
    )
    frame = tuner.search(
        x,
        y,
        validation_data=(xv, yv),
        epochs=1,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(str(logs))],
    )
    trial_ids = sorted(t.trial_id for t in tuner.oracle.trials.values())
    assert len(trial_ids) == len(frame) == 2
    assert sorted(p.name for p in logs.iterdir()) == trial_ids
    for trial_id in trial_ids:
        for execution in ("execution0", "execution1"):
            folder = logs / trial_id / execution
            assert any((folder / "train").glob("events.out.tfevents.*"))
            assert any((folder / "validation").glob("events.out.tfevents.*"))
            assert any(folder.glob("events.out.tfevents.*"))  # the hparams summary
    folded = GridSearch(
        TinyMLP(),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="f",
        workers=0,
        max_trials=1,
    )
    folded.search(
        x,
        y,
        folds=2,
        epochs=1,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "tbf"))],
    )
    assert sorted(p.name for p in (tmp_path / "tbf" / "0").iterdir()) == ["fold0", "fold1"]
    assert (tmp_path / "tbf" / "0" / "fold1" / "execution0" / "train").is_dir()


class _ReturnsObjective(TinyMLP):
    """KerasTuner's custom objective: fit() returns a number or a dict of metrics."""

    def __init__(self, returns):
        super().__init__()
        self.returns = returns

    def fit(self, hp, model, x, y, **kwargs):
        history = model.fit(x, y, **kwargs)
        units = hp.values["units"]
        if self.returns == "history":
            return history.history
        return float(units) if self.returns == "number" else {"custom": units / 10, "n": 1}


@pytest.mark.slow
def test_a_number_or_dict_returned_by_hypermodel_fit_is_the_objective(tmp_path):
    x, y, xv, yv = _data()
    kwargs = dict(directory=tmp_path, workers=0)
    number = GridSearch(
        _ReturnsObjective("number"),
        objective=kt.Objective("score", "min"),
        project_name="number",
        **kwargs,
    )
    frame = number.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert frame["objective"].tolist() == frame["units"].astype(float).tolist()
    assert number.get_best_hyperparameters(1)[0].values["units"] == 4  # the smallest score
    assert "val_accuracy" in frame  # the engine's metrics are still recorded

    metrics = GridSearch(
        _ReturnsObjective("dict"),
        objective=kt.Objective("custom", "max"),
        project_name="dict",
        **kwargs,
    )
    frame = metrics.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert frame["objective"].tolist() == pytest.approx((frame["units"] / 10).tolist())
    assert metrics.get_best_hyperparameters(1)[0].values["units"] == 8

    epochs = GridSearch(
        _ReturnsObjective("history"), objective="val_loss", project_name="history", **kwargs
    )
    frame = epochs.search(x, y, validation_data=(xv, yv), epochs=2, verbose=0)
    assert [len(h["val_loss"]) for h in frame["history"]] == [2, 2]  # read as the history
    assert frame["objective"].tolist() == [min(h["val_loss"]) for h in frame["history"]]

    with pytest.raises(ValueError, match="'missing' is not reported"):
        GridSearch(
            _ReturnsObjective("dict"),
            objective=kt.Objective("missing", "max"),
            project_name="missing",
            **kwargs,
        ).search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)


def test_datasets_and_generators_are_refused_with_how_to_pass_arrays(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    x, y, xv, yv = _data()
    tuner = RandomSearch(TinyMLP(), objective="val_accuracy", directory=tmp_path, workers=0)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return x, y

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    for data, kind in [
        (dataset, "tf.data.Dataset"),
        (Batches(), "PyDataset"),
        ((row for row in x), "generator"),
    ]:
        with pytest.raises(TypeError, match=f"x is a .*{kind}.*numpy arrays"):
            tuner.search(data, None, validation_data=(xv, yv), epochs=1)
    with pytest.raises(TypeError, match="validation_data is a tf.data.Dataset"):
        tuner.search(x, y, validation_data=dataset, epochs=1)
    # the conversion the message suggests gives the arrays back
    batches = list(dataset.as_numpy_iterator())
    x_back, y_back = (np.concatenate(part) for part in zip(*batches, strict=True))
    np.testing.assert_array_equal(x_back, x)
    np.testing.assert_array_equal(y_back, y)
    assert not (tmp_path / "untitled_project" / "search.json").exists()


@pytest.mark.slow
def test_shuffle_false_keeps_the_rows_in_order_and_is_part_of_the_search(tmp_path):
    x, y, xv, yv = _data()
    kwargs = dict(objective="val_loss", directory=tmp_path, workers=0, seed=3, max_trials=1)

    def run(project, **search_kwargs):
        tuner = GridSearch(TinyMLP(), project_name=project, **kwargs)
        return tuner.search(
            x, y, validation_data=(xv, yv), epochs=2, batch_size=8, verbose=0, **search_kwargs
        )["objective"].iloc[0]

    ordered, again, shuffled = run("a", shuffle=False), run("b", shuffle=False), run("c")
    assert ordered == again  # deterministic
    assert ordered != shuffled  # the order of the batches changed the training
    with pytest.raises(ValueError, match="shuffle"):  # a resumed search must shuffle alike
        GridSearch(TinyMLP(), project_name="a", **dict(kwargs, max_trials=2)).search(
            x, y, validation_data=(xv, yv), epochs=2, batch_size=8, verbose=0
        )


@pytest.mark.slow
def test_progress_bar_shows_trials_best_and_is_silent_at_verbose_0(tmp_path, capfd):
    x, y, xv, yv = _data()
    kwargs = dict(objective="val_accuracy", directory=tmp_path, workers=0)
    GridSearch(TinyMLP(), project_name="quiet", **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=1, verbose=0
    )
    out, err = capfd.readouterr()
    assert out == "" and "trials" not in err
    GridSearch(TinyMLP(), project_name="bar", **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=1, verbose=2
    )
    out, err = capfd.readouterr()
    shown = out + err
    assert "2/2" in shown and "best val_accuracy=" in shown  # done of total, best so far
    assert "trial 2/2" in shown  # verbose=2: one line per trial
    assert "search: 2 of 2 trials done, best val_accuracy=" in out  # kept by saved notebooks


@pytest.mark.slow
def test_bayesian_and_hyperband_run_through_the_engine(tmp_path):
    x, y, xv, yv = _data()
    bayes = BayesianOptimization(
        TinyMLP(layers=True),
        objective="val_accuracy",
        max_trials=3,
        num_initial_points=2,
        directory=tmp_path,
        project_name="b",
        workers=0,
    )
    frame = bayes.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert len(frame) == 3 and (frame["status"] == "COMPLETED").all()
    band = Hyperband(
        TinyMLP(),
        objective="val_accuracy",
        max_epochs=2,
        factor=2,
        directory=tmp_path,
        project_name="h",
        workers=0,
    )
    frame = band.search(x, y, validation_data=(xv, yv), verbose=0)
    assert set(frame["tuner/epochs"]) <= {1, 2} and len(frame) >= 2
    assert (frame["epochs_run"] <= frame["tuner/epochs"]).all()


def _learning_rate_mlp(hp):
    import keras

    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")  # no repeats: every trial runs
    model.compile(
        keras.optimizers.Adam(rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


@pytest.mark.slow
def test_hyperband_progress_knows_its_total_from_the_bracket_schedule(tmp_path, capfd):
    x, y, xv, yv = _data()
    band = Hyperband(
        _learning_rate_mlp,
        objective="val_accuracy",
        max_epochs=4,
        factor=2,
        directory=tmp_path,
        project_name="h",
        workers=0,
    )
    # KerasTuner's brackets start at 1, 2 and 4 epochs: rounds of 4 + 2 + 1, 3 + 2 and 3 trials
    assert band._space_total(None) == 15
    frame = band.search(x, y, validation_data=(xv, yv), verbose=1)
    assert len(frame) == 15
    out, err = capfd.readouterr()
    assert "/15" in err and "search: 15 of 15 trials done" in out


def test_space_size_counts_grid_points_with_conditions():
    space = kt.HyperParameters()
    space.Choice("optimizer", ["adam", "sgd"])
    layers = space.Choice("layers", [1, 2])
    with space.conditional_scope("layers", [2]):
        space.Int("units_2", 2, 8, step=2)  # 4 values, only when layers == 2
    space.Fixed("epochs", 3)
    assert layers == 1
    assert space_size(space) == 2 * (1 + 4)
    table = space_table(space)
    assert list(table["name"]) == ["optimizer", "layers", "units_2", "epochs"]
    assert table.attrs["size"] == 10
    space.Float("dropout", 0.0, 0.5)  # no step: KerasTuner's grid walks 10 evenly spaced values
    assert space_size(space) == 10 * 10


@pytest.mark.slow
def test_ray_tune_search_on_a_cluster_started_as_on_a_head_node(tmp_path, monkeypatch):
    """``ray start --head``, a search by address, ``ray stop``: what the README shows."""
    import tempfile
    from pathlib import Path

    import psutil

    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must be short
    port = 6390 + os.getpid() % 100
    # the cluster's workers import this checkout (lib and the tests' hypermodel)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=ROOT)
    # as the README says: a token in ~/.ray/auth_token (made once per machine; kept if there)
    # makes `ray start` turn on token authentication
    token = subprocess.run(
        [ray_bin, "get-auth-token", "--generate"], capture_output=True, text=True, env=env
    )
    assert token.returncode == 0, token.stderr[-3000:]
    start = subprocess.run(
        [
            ray_bin,
            "start",
            "--head",
            "--num-cpus",
            "2",
            f"--port={port}",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert start.returncode == 0, start.stderr[-3000:]
    assert "Token authentication is disabled" not in start.stdout + start.stderr
    # a driver that joins the cluster reads the token when RAY_AUTH_MODE=token
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    try:
        x, y, xv, yv = _data()
        tuner = RayTuneSearch(
            TinyMLP(),
            objective="val_accuracy",
            max_trials=2,
            searcher="random",
            ray_address=f"127.0.0.1:{port}",
            directory=tmp_path,
            project_name="ray",
            seed=0,
        )
        frame = tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
        assert len(frame) == 2 and (frame["status"] == "COMPLETED").all()
        assert tuner.get_best_hyperparameters(1)[0].values["units"] in (4, 8)
        # the cluster's node sees the search directory: the best trial kept its model, as
        # get_best_models expects (keep_models=1 by default), and nothing else was left
        from lib.evaluation import classification_metrics

        best_trial = tuner.oracle.get_best_trials(1)[0]
        model = tuner.get_best_models(num_models=1)[0]
        score = classification_metrics(yv, model.predict(xv, verbose=0), labels=[0, 1, 2])
        assert score["accuracy"] == pytest.approx(best_trial.score)
        kept = sorted(p.name for p in (tmp_path / "ray").rglob("*.keras"))
        assert kept == ["best_model.keras", f"trial-{int(best_trial.trial_id):05d}.keras"]
        # later trials save their model only if it beats the keep_models-th best so far
        threshold = json.loads((tmp_path / "ray" / ".keep-threshold.json").read_text())
        assert threshold == {"threshold": best_trial.score}
        records = [
            json.loads(line)
            for line in (tmp_path / "ray" / "trials.jsonl").read_text().splitlines()
        ]
        sessions = list((temp / "session_latest" / "logs").glob("worker-*"))
        assert sessions, "no Ray worker ran on the cluster"
        assert {r["trial"] for r in records} == {0, 1}
        # everything the search wrote is its own: overwrite=True clears it
        RayTuneSearch(
            TinyMLP(),
            objective="val_accuracy",
            max_trials=2,
            searcher="random",
            directory=tmp_path,
            project_name="ray",
            overwrite=True,
        )
        assert not (tmp_path / "ray" / "trials.jsonl").exists()
    finally:  # `ray stop` would stop every Ray on the machine: stop this cluster's processes
        ours = [
            p
            for p in psutil.process_iter(["cmdline"])
            if str(temp) in " ".join(p.info["cmdline"] or [])
        ]
        for process in ours:
            process.kill()
        psutil.wait_procs(ours, timeout=30)
        assert not [
            p
            for p in psutil.process_iter(["cmdline"])
            if str(temp) in " ".join(p.info["cmdline"] or [])
        ]
