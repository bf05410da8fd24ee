"""The extension points written in ``lib/tuning/__init__.py``'s docstring, exercised.

A new tuner is one class (here, in this test file): a KerasTuner oracle of its own and a
subclass of ``lib.tuning.Tuner``. Its trials run in the engine's worker processes, land in
``trials.jsonl`` and resume, with nothing registered anywhere else.

A new executor is one class too: a subclass of ``lib.tuning._settings.Executor`` (the
protocol, an internal on purpose) that a tuner's ``_make_executor`` returns.
"""

from __future__ import annotations

import json
import time

import keras
import keras_tuner as kt
import numpy as np
import pytest

from lib.tuning import GridSearch, Tuner
from lib.tuning._settings import Executor

pytestmark = pytest.mark.slow  # a search in the engine's worker processes


class DescendingOracle(kt.Oracle):
    """Walks the ``units`` choice from its largest value down (a toy search strategy)."""

    def populate_space(self, trial_id):
        tried = [
            t.hyperparameters.values.get("units")
            for t in self.trials.values()
            if t.trial_id != trial_id
        ]
        values = self.hyperparameters.copy()
        choices = sorted(
            self.hyperparameters.get_config()["space"][0]["config"]["values"], reverse=True
        )
        left = [v for v in choices if v not in tried]
        if not left:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        values.values["units"] = left[0]
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values.values}


class DescendingSearch(Tuner):
    """The whole new tuner: an oracle and a constructor."""

    def __init__(self, hypermodel, objective, max_trials=None, **kwargs):
        oracle = DescendingOracle(objective=objective, max_trials=max_trials)
        oracle.hyperparameters.Choice("units", [2, 4, 8])
        super().__init__(oracle, hypermodel, **kwargs)


def build(hp):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Choice("units", [2, 4, 8]), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_new_tuner_is_one_class_and_runs_on_the_engine(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    kwargs = dict(objective="val_accuracy", directory=tmp_path, project_name="p", workers=1)
    tuner = DescendingSearch(build, max_trials=2, **kwargs)
    frame = tuner.search(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=1, verbose=0)
    assert list(frame["units"]) == [8, 4]  # the new oracle's order, run in a worker process
    lines = (tmp_path / "p" / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["hyperparameters"]["units"] for line in lines] == [8, 4]
    again = DescendingSearch(build, max_trials=3, **kwargs)  # resumes: only trial 3 runs
    frame = again.search(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=1, verbose=0)
    assert list(frame["units"]) == [8, 4, 2]
    assert len((tmp_path / "p" / "trials.jsonl").read_text().splitlines()) == 3


class UnitsExecutor(Executor):
    """Scores each configuration by its ``units`` without training (a toy executor)."""

    name = "units"
    in_process = True

    def check(self, tuner, plan):
        if plan.splits is not None:
            raise ValueError("UnitsExecutor scores one validation set: no folds")

    def run(self, tuner, plan, pool, state):
        pool.close()
        while (chosen := state.next_trial()) is not None:
            number, trial = chosen
            state.finish(
                number,
                trial,
                {"status": "COMPLETED", "objective": trial.hyperparameters["units"] / 10},
                time.perf_counter(),
            )


class UnitsGrid(GridSearch):
    def _make_executor(self, name, stacked):
        return UnitsExecutor()


def test_a_new_executor_is_one_class_behind_the_protocol(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    kwargs = dict(objective="val_accuracy", directory=tmp_path, project_name="p")
    with pytest.raises(ValueError, match="no folds"):  # check(): before any file is written
        UnitsGrid(build, **kwargs).search(x, y, folds=2, epochs=1, verbose=0)
    assert not (tmp_path / "p" / "trials.jsonl").exists()
    tuner = UnitsGrid(build, max_trials=2, **kwargs)
    frame = tuner.search(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=1, verbose=0)
    assert list(frame["units"]) == [2, 4] and list(frame["objective"]) == [0.2, 0.4]
    spec = json.loads((tmp_path / "p" / "search.json").read_text())
    assert spec["executor"] == "units"  # recorded: a resume must run on the same executor
    again = UnitsGrid(build, **kwargs)  # the rest of the grid: trial 3 only
    frame = again.search(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=1, verbose=0)
    assert list(frame["units"]) == [2, 4, 8]
    assert again.get_best_hyperparameters()[0]["units"] == 8
