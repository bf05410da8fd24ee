"""Tests of the beat + RR-interval classifier of lib.models (builder, hypermodel, weights)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib import models, tuning  # noqa: E402

NAMES = ("pre_rr", "post_rr", "pre_rr_to_local", "post_rr_to_local")
BEAT = 24


def _rows(count, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((count, BEAT)).astype(np.float32), rng.random((count, len(NAMES)))


class _RecordingModel:
    def fit(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        return "history"


@pytest.mark.slow
def test_builder_branches_see_only_their_columns():
    beats, rr = _rows(6)
    model = models.build_beat_rr_classifier(
        beat_length=BEAT,
        rr_features=len(NAMES),
        beat_samples=10,
        rr_indices=[2, 3],
        filters=4,
        residual_blocks=1,
        rr_units=3,
        dense_units=5,
        num_classes=3,
        seed=0,
    )
    x = models.BeatRRHyperModel.pack(beats, rr)
    assert model.input_shape == (None, BEAT + len(NAMES)) and model.output_shape == (None, 3)
    before = model.predict(x, verbose=0)
    np.testing.assert_allclose(before.sum(axis=1), 1.0, rtol=1e-5)
    unseen = x.copy()
    unseen[:, 10:BEAT] = 0.5  # beat samples after beat_samples
    unseen[:, BEAT : BEAT + 2] = 9.0  # RR columns 0 and 1, not in rr_indices
    np.testing.assert_allclose(model.predict(unseen, verbose=0), before, rtol=1e-6)
    seen = x.copy()
    seen[:, BEAT + 3] += 1.0
    assert not np.allclose(model.predict(seen, verbose=0), before)
    seen = x.copy()
    seen[:, :10] = 1.0 - seen[:, :10]
    assert not np.allclose(model.predict(seen, verbose=0), before)
    history = model.fit(x, np.arange(6) % 3, epochs=1, batch_size=6, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_builder_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"beat_samples must lie in \[1, 24\]"):
        models.build_beat_rr_classifier(beat_length=BEAT, rr_features=2, beat_samples=30)
    with pytest.raises(ValueError, match=r"rr_indices must be .* in \[0, 2\)"):
        models.build_beat_rr_classifier(beat_length=BEAT, rr_features=2, rr_indices=[2])
    with pytest.raises(ValueError, match="residual_blocks >= 0"):
        models.build_beat_rr_classifier(beat_length=BEAT, rr_features=2, residual_blocks=-1)


def test_weighted_classes():
    y = np.array([0] * 8 + [1] * 2)
    balanced = models.weighted_classes(y, 3, "balanced")
    assert balanced == pytest.approx({0: 10 / 16, 1: 10 / 4, 2: 1.0})
    root = models.weighted_classes(y, 3, "sqrt")
    assert root == pytest.approx({c: np.sqrt(w) for c, w in balanced.items()})
    assert models.weighted_classes(y, 3, "none") is None
    with pytest.raises(ValueError, match="'none', 'balanced' or 'sqrt'"):
        models.weighted_classes(y, 3, "inverse")
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\), found 10 labels in 1..2"):
        models.weighted_classes(y + 1, 2, "balanced")


def test_pack_checks_shapes():
    beats, rr = _rows(4)
    packed = models.BeatRRHyperModel.pack(beats[..., None], rr)
    assert packed.shape == (4, BEAT + len(NAMES)) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[:, BEAT:], rr.astype(np.float32))
    with pytest.raises(ValueError, match="4 beats but 3 rows of RR features"):
        models.BeatRRHyperModel.pack(beats, rr[:3])
    with pytest.raises(ValueError, match="expected beats"):
        models.BeatRRHyperModel.pack(beats[0], rr)


def test_hypermodel_space_subsets_and_class_weighting():
    hypermodel = models.BeatRRHyperModel(
        NAMES,
        beat_length=BEAT,
        num_classes=2,
        filters=2,
        beat_samples=(12, 24),
        class_weighting="sqrt",
    )
    assert hypermodel.rr_subsets["relative"] == ("pre_rr_to_local", "post_rr_to_local")
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert {"beat_samples", "rr_features", "class_weighting", "resampling"} <= set(hp.values)
    assert hp.values["rr_features"] == "relative"
    rr_layer = model.get_layer("rr_features")
    assert rr_layer.indices == [BEAT + 2, BEAT + 3]
    assert model.get_layer("beat").indices == list(range(12))

    y = np.array([0, 0, 0, 1])
    recording = _RecordingModel()
    assert hypermodel.fit(hp, recording, "x", y, epochs=1, class_weight=None) == "history"
    assert recording.kwargs["class_weight"] == pytest.approx(models.weighted_classes(y, 2, "sqrt"))
    with pytest.raises(ValueError, match="class_weighting is 'sqrt'"):
        hypermodel.fit(hp, recording, "x", y, class_weight={0: 1.0, 1: 2.0})
    unweighted = models.BeatRRHyperModel(NAMES, beat_length=BEAT, class_weighting="none")
    hp = kt.HyperParameters()
    unweighted._declare_training(hp)
    unweighted.fit(hp, recording, "x", y, class_weight={0: 1.0, 1: 2.0})
    assert recording.kwargs["class_weight"] == {0: 1.0, 1: 2.0}

    with pytest.raises(ValueError, match="rr_names is empty"):
        models.BeatRRHyperModel(())
    with pytest.raises(ValueError, match=r"rr_subsets\['timing'\] must name columns"):
        models.BeatRRHyperModel(NAMES, rr_subsets={"timing": ["heart_rate"]})


@pytest.mark.slow
def test_hypermodel_trains_through_the_tuning_engine(tmp_path):
    rng = np.random.default_rng(0)
    beats, rr = _rows(48)
    y = (rr[:, 2] > 0.5).astype(np.int64)  # the class is in an RR ratio
    x = models.BeatRRHyperModel.pack(beats, rr)
    hypermodel = models.BeatRRHyperModel(
        NAMES,
        beat_length=BEAT,
        num_classes=2,
        seed=0,
        filters=2,
        residual_blocks=0,
        beat_samples=BEAT,
        rr_features=("relative", "all"),
        class_weighting="balanced",
        resampling="none",
        batch_size=16,
    )
    groups = rng.integers(0, 4, size=48)
    tuner = tuning.GridSearch(
        hypermodel, objective="val_macro_f1", workers=0, directory=tmp_path, project_name="search"
    )
    trials = tuner.search(x, y, folds=2, groups=groups, epochs=1, verbose=0)
    assert len(trials) == 2 and set(trials["rr_features"]) == {"relative", "all"}
    best = tuner.get_best_hyperparameters(1)[0].values
    assert best["rr_features"] == trials.loc[trials["rank"] == 1, "rr_features"].iloc[0]
    model, history = tuning.fit_final(hypermodel, best, x, y, epochs=1, seed=0)
    assert isinstance(model, keras.Model) and np.isfinite(history["loss"][-1])
