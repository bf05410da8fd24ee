"""The time-series classification networks and hypermodels (FCN, ResNet, InceptionTime):
published defaults, variable length with masked pooling, and shapes / classes from the data
(``adapt_to_data``, called by the lib.tuning tuners before the first trial)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib import models  # noqa: E402
from lib.padding import MASK_VALUE, pad_samples  # noqa: E402
from lib.tuning import RandomSearch  # noqa: E402

TSC = (models.FCNHyperModel, models.ResNetHyperModel, models.InceptionTimeHyperModel)


def _conv_widths(model):
    return [
        (layer.filters, layer.kernel_size[0])
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv1D)
    ]


def test_fcn_and_resnet_default_point_is_wang_et_al():
    fcn = models.FCNHyperModel((64, 1), 3, seed=0).build(kt.HyperParameters())
    assert _conv_widths(fcn) == [(128, 8), (256, 5), (128, 3)]
    resnet = models.ResNetHyperModel((64, 1), 3, seed=0).build(kt.HyperParameters())
    inside = [(f, k) for f, k in _conv_widths(resnet) if k != 1]
    assert inside == [
        (64, 8),
        (64, 5),
        (64, 3),
        (128, 8),
        (128, 5),
        (128, 3),
        (128, 8),
        (128, 5),
        (128, 3),
    ]
    shortcuts = [f for f, k in _conv_widths(resnet) if k == 1]
    assert shortcuts == [64, 128]  # 1 -> 64 and 64 -> 128 channels; 128 -> 128 is BN only
    for model in (fcn, resnet):
        kinds = {type(layer).__name__ for layer in model.layers}
        assert "BatchNormalization" in kinds and "GlobalAveragePooling1D" in kinds
        assert "Flatten" not in kinds
        assert model.output_shape == (None, 3)


def test_inception_default_point_is_the_published_network():
    model = models.InceptionTimeHyperModel((64, 2), 4, seed=0).build(kt.HyperParameters())
    kernels = sorted({k for f, k in _conv_widths(model) if k > 1})
    assert kernels == [10, 20, 40]
    modules = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(modules) == 6 and all(m.output.shape[-1] == 4 * 32 for m in modules)
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 2
    # the first module of two-channel input starts with a 32-filter bottleneck
    assert _conv_widths(model)[0] == (32, 1)


def _pooled(model):
    return keras.Model(model.inputs, model.get_layer("global_average").output)


@pytest.mark.slow
@pytest.mark.parametrize(
    "builder", [models.build_fcn, models.build_resnet, models.build_inception_time]
)
def test_padding_is_left_out_of_the_pooling(builder):
    rng = np.random.default_rng(0)
    short = rng.normal(size=(12, 1)).astype("float32")
    long = rng.normal(size=(30, 1)).astype("float32")
    padded, mask = pad_samples([short, long], value=MASK_VALUE)
    masked = _pooled(builder(input_shape=(None, 1), num_classes=3, mask_value=MASK_VALUE, seed=0))
    alone = np.asarray(masked(short[None], training=False))[0]
    together = np.asarray(masked(padded, training=False))[0]
    scale = np.abs(alone).mean()
    if builder is models.build_inception_time:  # its max-pooling sees the filler's 0 at the
        assert np.abs(together - alone).mean() < 0.05 * scale  # last reading
    else:
        assert together == pytest.approx(alone, rel=1e-4, abs=1e-6)
    unmasked = _pooled(builder(input_shape=(None, 1), num_classes=3, seed=0))
    diluted = np.asarray(unmasked(np.where(mask[..., None], padded, 0.0), training=False))[0]
    assert np.abs(diluted - alone).mean() > 0.2 * scale  # 18 of 30 steps are filler


@pytest.mark.slow
def test_a_hypermodel_without_shape_or_classes_takes_them_from_the_data():
    for cls in TSC:
        hypermodel = cls(seed=0, filters=4)
        hp = kt.HyperParameters()
        stand_in = hypermodel.build(hp)  # a tuner's first build: the space, no network yet
        assert "filters" in hp.values and "batch_size" in hp.values
        with pytest.raises(ValueError, match="input_shape and num_classes yet"):
            stand_in.predict(np.zeros((2, 20, 2)), verbose=0)
        hypermodel.adapt_to_data(np.zeros((6, 20, 2)), np.array([0, 1, 2, 0, 1, 2]))
        assert (hypermodel.input_shape, hypermodel.num_classes) == ((20, 2), 3)
        assert hypermodel.build(kt.HyperParameters()).output_shape == (None, 3)
    beats = models.CNN1DResNetHyperModel(input_shape=None, num_classes=None, filters=2)
    hp = kt.HyperParameters()
    with pytest.raises(ValueError, match="input_shape and num_classes yet"):
        beats.build(hp).predict(np.zeros((2, 30, 1)), verbose=0)
    assert "residual_blocks" in hp.values
    beats.adapt_to_data(np.zeros((4, 30)), np.array([0, 1, 2, 1]))
    assert beats.build(kt.HyperParameters()).output_shape == (None, 3)
    resnet = models.ResNetHyperModel(filters=4)
    resnet.adapt_to_data(np.zeros((4, 15)), np.eye(4))  # 2-D x is one channel; one-hot y
    assert (resnet.input_shape, resnet.num_classes) == ((15, 1), 4)
    resnet.adapt_to_data(np.zeros((4, 9, 3)), np.array([0, 1, 1, 0]))  # a new search: new data
    assert (resnet.input_shape, resnet.num_classes) == ((9, 3), 2)


def test_declared_values_that_disagree_with_the_data_are_refused_with_both():
    hypermodel = models.ResNetHyperModel((50, 1), 5)
    with pytest.raises(ValueError, match=r"input_shape=\(50, 1\).*shape \(40, 1\)"):
        hypermodel.adapt_to_data(np.zeros((8, 40, 1)), np.arange(8) % 5)
    with pytest.raises(ValueError, match=r"num_classes=5.*2 classes.*num_classes=2"):
        hypermodel.adapt_to_data(np.zeros((8, 50, 1)), np.arange(8) % 2)
    # the heartbeat hypermodels keep their study defaults and are checked the same way
    with pytest.raises(ValueError, match=r"num_classes=5.*2 classes"):
        models.CNN1DResNetHyperModel().adapt_to_data(np.zeros((4, 187)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"input_shape=\(187, 1\).*\(140, 1\)"):
        models.CNN1DResNetGRUHyperModel().adapt_to_data(np.zeros((5, 140)), np.arange(5))


def test_agreeing_declared_values_are_kept():
    variable = models.FCNHyperModel((None, 1), 3, mask_value=MASK_VALUE)
    variable.adapt_to_data(np.zeros((3, 77, 1)), [0, 1, 2])
    assert (variable.input_shape, variable.num_classes) == ((None, 1), 3)
    beats = models.CNN1DResNetHyperModel()
    beats.adapt_to_data(np.zeros((5, 187)), np.arange(5))  # 2-D beats feed a (187, 1) input
    assert (beats.input_shape, beats.num_classes) == ((187, 1), 5)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        models.ResNetHyperModel(num_classes=1)


def _tiny(**space):
    return models.FCNHyperModel(seed=0, filters=2, batch_size=8, **space)


@pytest.mark.slow
def test_search_takes_shape_and_classes_from_the_data(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(24) % 3
    x = rng.normal(size=(24, 16, 1)) + y[:, None, None]
    tuner = RandomSearch(
        _tiny(), max_trials=1, directory=tmp_path, project_name="fit", workers=0, seed=0
    )
    tuner.search(x[:18], y[:18], validation_data=(x[18:], y[18:]), epochs=1, verbose=0)
    assert tuner.hypermodel.input_shape == (16, 1) and tuner.hypermodel.num_classes == 3
    model = tuner.get_best_models(1)[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 3)


@pytest.mark.parametrize(
    "make, length, message",
    [
        (lambda: models.FCNHyperModel(num_classes=5, filters=2), 16, r"num_classes=5.*2 classes"),
        (
            lambda: models.FCNHyperModel(input_shape=(20, 1), filters=2),
            16,
            r"input_shape=\(20, 1\).*\(16, 1\)",
        ),
        # the heartbeat study's defaults, (187, 1) and 5 classes, on 2-class beats
        (lambda: models.CNN1DResNetHyperModel(), 187, r"num_classes=5.*2 classes"),
    ],
    ids=["classes", "shape", "heartbeat_defaults"],
)
def test_search_refuses_a_declared_shape_or_class_count_before_any_trial(
    tmp_path, make, length, message
):
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    x = rng.normal(size=(20, length, 1))
    tuner = RandomSearch(
        make(),
        objective="val_accuracy",
        max_trials=1,
        directory=tmp_path,
        project_name="refused",
        workers=0,
        seed=0,
    )
    with pytest.raises(ValueError, match=message):
        tuner.search(x[:14], y[:14], validation_data=(x[14:], y[14:]), epochs=1, verbose=0)
    assert len(tuner.oracle.trials) == 0
    assert not (tmp_path / "refused" / "trials.jsonl").exists()


def test_training_follows_dl_4_tsc_and_batch_norm_statistics_follow_the_weights():
    hypermodel = models.ResNetHyperModel((32, 1), 3, filters=4)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    (reduce_lr,) = hypermodel.callbacks(hp)
    assert (reduce_lr.monitor, reduce_lr.factor, reduce_lr.patience, reduce_lr.min_lr) == (
        "loss",
        0.5,
        50,
        0.0001,
    )
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {0.9}
    slow = models.ResNetHyperModel((32, 1), 3, filters=4, batch_norm_momentum=0.99)
    assert {
        layer.momentum
        for layer in slow.build(kt.HyperParameters()).layers
        if isinstance(layer, keras.layers.BatchNormalization)
    } == {0.99}


@pytest.mark.slow
def test_the_lstm_classifier_reads_padded_series_through_masking():
    hypermodel = models.LSTMClassifierHyperModel(
        (None, 2), 3, mask_value=MASK_VALUE, seed=0, units=(4,)
    )
    model = hypermodel.build(kt.HyperParameters())
    assert any(isinstance(layer, keras.layers.Masking) for layer in model.layers)
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(7, 2)), rng.normal(size=(15, 2))
    padded, _ = pad_samples([short, long], value=MASK_VALUE)
    alone = np.asarray(model(short[None], training=False))[0]
    assert np.asarray(model(padded, training=False))[0] == pytest.approx(alone, abs=1e-5)
    plain = models.LSTMClassifierHyperModel((None, 2), 3, seed=0, units=(4,))
    unmasked = np.asarray(plain.build(kt.HyperParameters())(padded, training=False))[0]
    assert np.abs(unmasked - alone).max() > 1e-3  # without the mask the filler is read
