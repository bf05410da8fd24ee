"""k-fold cross-validation of a list of configurations with the stacked executor."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.models import MLPHyperModel  # noqa: E402
from lib.tuning import cross_validate  # noqa: E402
from lib.tuning.stacked import run_stacked  # noqa: E402
from lib.tuning.stacked._crossval import _fold_pairs  # noqa: E402


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 25)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    return x, y


def _model():
    return MLPHyperModel(
        second_layer=False,
        units=(2, 8),
        activation=("relu",),
        optimizer=("adam", "sgd"),
        learning_rate=(0.01,),
        momentum=(0.8,),
        loss=("categorical_crossentropy",),
        batch_size=32,
    )


def _configurations():
    base = {
        "units_1": 8,
        "activation_1": "relu",
        "optimizer": "adam",
        "learning_rate": 0.01,
        "momentum": 0.8,
        "loss": "categorical_crossentropy",
        "batch_size": 32,
    }
    return [base, {**base, "units_1": 2}, {**base, "optimizer": "sgd"}]


@pytest.mark.slow
def test_every_configuration_gets_one_score_per_fold_and_their_mean():
    x, y = _data()
    configurations = _configurations()
    frame = cross_validate(_model(), configurations, x, y, folds=3, epochs=3, seed=1)
    assert len(frame) == 3 and list(frame["units_1"]) == [8, 2, 8]
    folds = frame[["fold_0", "fold_1", "fold_2"]].to_numpy()
    assert np.isfinite(folds).all() and ((folds > 0) & (folds <= 1)).all()
    np.testing.assert_allclose(frame["mean"], folds.mean(axis=1))
    assert all(
        len(epochs) == 3 and all(1 <= e <= 3 for e in epochs) for epochs in frame["best_epochs"]
    )
    assert frame.attrs == {"objective": "val_accuracy", "folds": 3}


@pytest.mark.slow
def test_a_fold_score_is_what_the_stacked_executor_gives_on_that_fold():
    # the fold's rows, initial weights (trial number = position) and batches are the same
    x, y = _data()
    configurations = _configurations()
    frame = cross_validate(_model(), configurations, x, y, folds=3, epochs=2, seed=5)
    train, val = _fold_pairs(y, 3, None, 5)[1]
    scores = {}

    def collect(records, _extract):
        scores.update({r["trial"]: r["objective"] for r in records})

    run_stacked(
        _model(),
        list(enumerate(configurations)),
        {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val]},
        objective="val_accuracy",
        epochs=2,
        batch_size=32,
        early_stopping=None,
        seed=5,
        on_stack_done=collect,
        labels=[0, 1, 2],
    )
    np.testing.assert_allclose(frame["fold_1"], [scores[i] for i in range(3)], atol=1e-6)


def test_grouped_folds_keep_each_group_in_one_fold():
    x, y = _data()
    groups = np.repeat(np.arange(10), 30)
    pairs = _fold_pairs(y, 5, groups, 0)
    for train, val in pairs:
        assert not set(groups[train]) & set(groups[val])
    assert sorted(np.concatenate([val for _, val in pairs]).tolist()) == list(range(300))


def test_bad_input_is_refused_with_what_was_expected():
    x, y = _data()
    with pytest.raises(ValueError, match="configurations is empty"):
        cross_validate(_model(), [], x, y)
    with pytest.raises(ValueError, match="same length"):
        cross_validate(_model(), _configurations(), x, y[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        cross_validate(_model(), _configurations(), x, y, folds=1)
    with pytest.raises(ValueError, match="one group per row"):
        cross_validate(_model(), _configurations(), x, y, groups=np.zeros(5))
