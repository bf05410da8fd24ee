"""The stacked executor behind the tuner classes: GridSearch(executor="stacked")."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.evaluation import classification_metrics  # noqa: E402
from lib.models import MLPHyperModel  # noqa: E402
from lib.tuning import BayesianOptimization, GridSearch, RandomSearch  # noqa: E402
from tests.helpers import TinyMLP  # noqa: E402


def _mice(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 25)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    return x[:180], y[:180], x[180:], y[180:]


def _space():
    # 2 x 2 x 2 = 8 one-layer configurations
    return MLPHyperModel(
        second_layer=False,
        units=(2, 8),
        activation=("relu",),
        optimizer=("adam", "sgd"),
        learning_rate=(0.01,),
        momentum=(0.8,),
        loss=("categorical_crossentropy", "kl_divergence"),
        batch_size=32,
    )


@pytest.mark.slow
def test_grid_search_stacked_records_every_configuration_and_keeps_real_models(tmp_path):
    x, y, xv, yv = _mice()
    tuner = GridSearch(
        _space(),
        objective="val_weighted_f1",
        directory=tmp_path,
        project_name="stacked",
        executor="stacked",
        max_models=3,
        keep_models=2,
    )
    frame = tuner.search(x, y, validation_data=(xv, yv), epochs=3, verbose=0)
    assert len(frame) == 8 and (frame["status"] == "COMPLETED").all()
    records = [
        json.loads(line)
        for line in (tmp_path / "stacked" / "trials.jsonl").read_text().splitlines()
    ]
    assert sorted(r["trial"] for r in records) == list(range(8))
    assert {r["executor"] for r in records} == {"stacked"}
    assert len({r["stack"] for r in records}) == 3  # K = 3: stacks of 3, 3 and 2
    best, second = tuner.get_best_models(num_models=2)
    trials = tuner.oracle.get_best_trials(2)
    for model, trial in zip((best, second), trials, strict=True):
        score = classification_metrics(yv, model.predict(xv, verbose=0), labels=[0, 1, 2])
        assert score["weighted_f1"] == pytest.approx(trial.score, abs=1e-6)


@pytest.mark.slow
def test_a_stacked_search_resumes_with_more_trials_without_retraining(tmp_path):
    x, y, xv, yv = _mice()
    kwargs = dict(
        objective="val_accuracy", directory=tmp_path, project_name="r", executor="stacked", seed=4
    )
    RandomSearch(_space(), max_trials=3, **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=2, verbose=0
    )
    path = tmp_path / "r" / "trials.jsonl"
    first = path.read_text().splitlines()
    frame = RandomSearch(_space(), max_trials=5, **kwargs).search(
        x, y, validation_data=(xv, yv), epochs=2, verbose=0
    )
    assert list(frame["trial"]) == [0, 1, 2, 3, 4]
    assert path.read_text().splitlines()[:3] == first


def test_the_stacked_executor_refuses_what_it_cannot_run(tmp_path):
    x, y, xv, yv = _mice()
    with pytest.raises(TypeError, match="stacked"):
        GridSearch(
            TinyMLP(),
            objective="val_accuracy",
            directory=tmp_path,
            project_name="a",
            executor="stacked",
        ).search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="executor"):
        BayesianOptimization(
            _space(),
            objective="val_accuracy",
            executor="stacked",
            directory=tmp_path,
            project_name="b",
        )
    with pytest.raises(TypeError, match="max_models"):
        GridSearch(
            _space(), objective="val_accuracy", max_models=4, directory=tmp_path, project_name="c"
        )
    with pytest.raises(ValueError, match="folds"):
        GridSearch(
            _space(),
            objective="val_accuracy",
            executor="stacked",
            directory=tmp_path,
            project_name="d",
        ).search(x, y, folds=2, epochs=1, verbose=0)


def test_a_stacked_search_refuses_search_arguments_it_would_not_apply(tmp_path):
    import keras

    x, y, xv, yv = _mice()
    tuner = GridSearch(
        _space(), objective="val_accuracy", directory=tmp_path, project_name="s", executor="stacked"
    )
    refused = [
        ("class_weight", dict(class_weight="balanced")),
        ("reduce_lr", dict(reduce_lr={"factor": 0.5, "patience": 1})),
        ("callbacks", dict(callbacks=[keras.callbacks.TerminateOnNaN()])),
        ("shuffle=False", dict(shuffle=False)),
    ]
    for name, arguments in refused:
        with pytest.raises(ValueError, match=rf"does not apply \['{name}'\]"):
            tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0, **arguments)
    with pytest.raises(ValueError, match=r"does not apply \['folds'\]"):
        tuner.search(np.vstack([x, xv]), np.concatenate([y, yv]), folds=2, epochs=1, verbose=0)
    assert not (tmp_path / "s" / "search.json").exists()  # refused before writing anything
