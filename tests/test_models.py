"""Tests of lib.models: builder shapes, one training step, search spaces, fit conventions."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib import models  # noqa: E402

RNG = np.random.default_rng(0)


def _train_one_step(model, x, y):
    """One epoch of one batch; returns the loss, which must be finite.

    Eager execution: tracing recurrent layers into a graph costs ~10x the step itself.
    """
    model.run_eagerly = True
    history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    loss = history.history["loss"][-1]
    assert np.isfinite(loss)
    return loss


def _layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _space(hp):
    return {entry.name: entry for entry in hp.space}


def _values(entry):
    """The values a hyperparameter can take (Choice values, or a Fixed value)."""
    if isinstance(entry, kt.engine.hyperparameters.Fixed):
        return [entry.value]
    if isinstance(entry, kt.engine.hyperparameters.Boolean):
        return [False, True]
    if isinstance(entry, (kt.engine.hyperparameters.Int, kt.engine.hyperparameters.Float)):
        return (entry.min_value, entry.max_value, entry.step)
    return list(entry.values)


# --------------------------------------------------------------------------- builders


@pytest.mark.slow
def test_build_lstm_classifier_shapes_and_training():
    model = models.build_lstm(
        input_shape=(6, 3), num_classes=4, units=8, dense_units=8, dense_activation=None
    )
    x = RNG.normal(size=(8, 6, 3)).astype("float32")
    y = RNG.integers(0, 4, size=8)
    assert model.output_shape == (None, 4)
    _train_one_step(model, x, y)
    np.testing.assert_allclose(model.predict(x, verbose=0).sum(axis=1), 1.0, rtol=1e-5)
    assert "accuracy" in model.get_metrics_result()


def test_build_lstm_household_regressor_is_the_original_architecture():
    model = models.build_lstm(input_shape=(10, 1), units=(5, 3), dropout=0.2, learning_rate=0.01)
    lstms = _layers_of(model, keras.layers.LSTM)
    assert [layer.units for layer in lstms] == [5, 3]
    assert [layer.return_sequences for layer in lstms] == [True, False]
    assert [layer.rate for layer in _layers_of(model, keras.layers.Dropout)] == [0.2, 0.2]
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "linear"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    _train_one_step(model, RNG.normal(size=(8, 10, 1)), RNG.normal(size=8))


def test_masking_ignores_pre_padding():
    model = models.build_lstm(input_shape=(None, 2), units=(4,), mask_value=0.0, seed=1)
    series = RNG.normal(size=(1, 5, 2)).astype("float32")
    padded = np.concatenate([np.zeros((1, 3, 2), dtype="float32"), series], axis=1)
    np.testing.assert_allclose(  # called eagerly: predict() would trace both lengths
        model(series, training=False), model(padded, training=False), rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_build_cnn1d_resnet_gru_structure_and_training():
    model = models.build_cnn1d_resnet_gru(
        input_shape=(16, 1),
        num_classes=5,
        filters=4,
        residual_blocks=2,
        projection_units=4,
        gru_units=4,
        gru_layers=3,
        dense_units=4,
    )
    assert model.output_shape == (None, 5)
    assert len(_layers_of(model, keras.layers.Add)) == 2
    assert len(_layers_of(model, keras.layers.GRU)) == 3
    assert {layer.filters for layer in _layers_of(model, keras.layers.Conv1D)} == {4}
    _train_one_step(model, RNG.normal(size=(8, 16, 1)), RNG.integers(0, 5, size=8))


def test_build_cnn1d_resnet_gru_adamw():
    model = models.build_cnn1d_resnet_gru(
        input_shape=(8, 1),
        filters=2,
        gru_units=2,
        projection_units=2,
        dense_units=2,
        optimizer="adamw",
        weight_decay=0.01,
    )
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(0.01)


@pytest.mark.slow
def test_build_cnn1d_resnet_pools_every_block_and_trains():
    model = models.build_cnn1d_resnet(
        input_shape=(32, 1),
        num_classes=5,
        filters=4,
        kernel_size=3,
        residual_blocks=3,
        dense_units=4,
        dense_layers=2,
        dropout=0.1,
    )
    assert model.output_shape == (None, 5)
    assert len(_layers_of(model, keras.layers.Add)) == 3
    pools = _layers_of(model, keras.layers.MaxPooling1D)
    assert [tuple(p.output.shape[1:]) for p in pools] == [(16, 4), (8, 4), (4, 4)]
    assert {layer.filters for layer in _layers_of(model, keras.layers.Conv1D)} == {4}
    assert len(_layers_of(model, keras.layers.Dropout)) == 2
    assert not _layers_of(model, keras.layers.BatchNormalization)  # Kachuee et al.'s block
    assert (
        len(
            _layers_of(
                models.build_cnn1d_resnet(input_shape=(32, 1), filters=2, residual_blocks=1),
                keras.layers.Dropout,
            )
        )
        == 0
    )
    _train_one_step(model, RNG.normal(size=(8, 32, 1)), RNG.integers(0, 5, size=8))
    with pytest.raises(ValueError, match="residual_blocks >= 0"):
        models.build_cnn1d_resnet(residual_blocks=-1)


def test_cnn1d_resnet_hypermodel_space_is_overridable():
    hp = kt.HyperParameters()
    hypermodel = models.CNN1DResNetHyperModel(input_shape=(32, 1), seed=0)
    model = hypermodel.build(hp)
    assert hp.values["filters"] == 32 and hp.values["residual_blocks"] == 5
    assert _values(_space(hp)["resampling"]) == ["smote", "random_over"]
    assert len(_layers_of(model, keras.layers.Add)) == 5
    assert hypermodel.data_hyperparameters == ("resampling",)

    hp2 = kt.HyperParameters()
    searched = models.CNN1DResNetHyperModel(
        input_shape=(32, 1), filters=(4, 8), residual_blocks=models.Range(1, 2)
    )
    model2 = searched.build(hp2)
    assert _values(_space(hp2)["filters"]) == [4, 8]
    assert _values(_space(hp2)["residual_blocks"]) == (1, 2, 1)
    assert {layer.filters for layer in _layers_of(model2, keras.layers.Conv1D)} == {4}


@pytest.mark.slow
@pytest.mark.parametrize(("reshape_to", "image"), [(None, (12, 1, 1)), ((3, 4), (3, 4, 1))])
def test_build_cnn2d_resnet_shapes_and_training(reshape_to, image):
    model = models.build_cnn2d_resnet(
        input_shape=(12, 1),
        num_classes=5,
        reshape_to=reshape_to,
        filters=4,
        residual_blocks=1,
        dense_units=4,
        dense_layers=3,
    )
    conv = _layers_of(model, keras.layers.Conv2D)[0]
    assert tuple(conv.input.shape[1:]) == image
    assert len(_layers_of(model, keras.layers.Dense)) == 4  # 3 hidden + softmax
    assert model.output_shape == (None, 5)
    _train_one_step(model, RNG.normal(size=(8, 12, 1)), RNG.integers(0, 5, size=8))


def test_build_cnn2d_resnet_rejects_wrong_reshape():
    with pytest.raises(ValueError, match="height \\* width == 12"):
        models.build_cnn2d_resnet(input_shape=(12, 1), reshape_to=(5, 2), filters=2)


def test_build_mlp_gathers_feature_subset_inside_the_model():
    model = models.build_mlp(input_dim=9, num_classes=3, units=(4,), feature_indices=[7, 2])
    select = model.get_layer("select_features")
    x = RNG.normal(size=(5, 9)).astype("float32")
    np.testing.assert_allclose(np.asarray(select(x)), x[:, [7, 2]])
    assert not select.weights
    assert tuple(_layers_of(model, keras.layers.Dense)[0].kernel.shape) == (2, 4)
    _train_one_step(model, x, RNG.integers(0, 3, size=5))
    with pytest.raises(ValueError, match="outside 0..8"):
        models.build_mlp(input_dim=9, num_classes=3, feature_indices=[9])


def test_build_mlp_sgd_momentum_and_per_layer_activations():
    model = models.build_mlp(
        input_dim=5,
        num_classes=3,
        units=(4, 2),
        activations=("sigmoid", "relu"),
        optimizer="sgd",
        momentum=0.8,
        learning_rate=0.01,
        loss="kl_divergence",
    )
    dense = _layers_of(model, keras.layers.Dense)
    assert [layer.activation.__name__ for layer in dense] == ["sigmoid", "relu", "softmax"]
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == pytest.approx(0.8)
    assert isinstance(model.loss, models.OneHotLoss)
    _train_one_step(model, RNG.normal(size=(6, 5)), RNG.integers(0, 3, size=6))
    with pytest.raises(ValueError, match="activations"):
        models.build_mlp(input_dim=5, units=(4, 2), activations=("relu",))


@pytest.mark.parametrize("loss", ["kl_divergence", "categorical_crossentropy"])
def test_one_hot_loss_matches_keras_loss_on_one_hot_targets(loss):
    labels = np.array([0, 2, 1, 2])
    probabilities = keras.ops.softmax(RNG.normal(size=(4, 3)).astype("float32"))
    wrapped = models.OneHotLoss(loss, num_classes=3)
    reference = {
        "kl_divergence": keras.losses.KLDivergence(),
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy(),
    }[loss]
    expected = float(reference(np.eye(3)[labels], probabilities))
    assert float(wrapped(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(wrapped(np.eye(3)[labels], probabilities)) == pytest.approx(expected, rel=1e-5)
    assert models.OneHotLoss.from_config(wrapped.get_config()).num_classes == 3


def test_seed_makes_builders_reproducible():
    def weights(seed):
        model = models.build_lstm(input_shape=(4, 2), num_classes=3, units=(3,), seed=seed)
        return np.concatenate([np.ravel(w) for w in model.get_weights()])

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.allclose(weights(3), weights(4))


def test_make_optimizer_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        models.make_optimizer("lion")


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.slow
def test_saved_model_with_custom_layers_round_trips(tmp_path):
    model = models.build_beat_rr_classifier(
        beat_length=6,
        rr_features=2,
        num_classes=3,
        filters=2,
        residual_blocks=1,
        rr_units=2,
        dense_units=2,
        seed=0,
    )
    subset = models.build_mlp(
        input_dim=4, num_classes=3, units=(2,), feature_indices=[1, 3], loss="kl_divergence"
    )
    x = RNG.normal(size=(2, 8)).astype("float32")
    for built, data in ((model, x), (subset, RNG.normal(size=(2, 4)).astype("float32"))):
        path = tmp_path / f"{built.name}.keras"
        built.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            loaded.predict(data, verbose=0), built.predict(data, verbose=0), rtol=1e-5
        )
        assert type(loaded.loss) is type(built.loss)


# --------------------------------------------------------------------------- hypermodels


def test_exported_hypermodels_are_the_registered_ones():
    from lib.models import hypermodels
    from lib.models.hypermodels import HYPERMODELS

    registered = set(HYPERMODELS)
    assert "MLPHyperModel" in registered and "FCNHyperModel" in registered
    assert "TSCHyperModel" not in registered  # a base class, class ... register=False
    for package in (models, hypermodels):
        exported = {name for name in package.__all__ if name.endswith("HyperModel")}
        assert exported - {"TSCHyperModel"} == registered, package.__name__
        assert len(package.__all__) == len(set(package.__all__)), package.__name__
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.__all__ names missing {name}"
    for name, cls in HYPERMODELS.items():
        assert getattr(models, name) is cls
        assert cls.__name__ == name and issubclass(cls, hypermodels._base.StudyHyperModel)
    # Every public StudyHyperModel subclass defined in the package is registered or opted out.
    defined = {
        name
        for module in vars(hypermodels).values()
        if getattr(module, "__name__", "").startswith("lib.models.hypermodels.")
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, hypermodels._base.StudyHyperModel)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }
    assert defined - {"StudyHyperModel", "TSCHyperModel"} == registered


def test_a_new_hypermodel_class_registers_itself():
    from lib.models.hypermodels import HYPERMODELS
    from lib.models.hypermodels._base import StudyHyperModel

    before = dict(HYPERMODELS)
    try:

        class TinyHyperModel(StudyHyperModel):  # as if written in lib/models/hypermodels/tiny.py
            __module__ = "lib.models.hypermodels.tiny"
            DEFAULT_SPACE = {"units": (2, 3), "batch_size": 4}
            builder = models.build_mlp
            BUILDER_SPACE = ("units",)

            def _builder_arguments(self):
                return {"input_dim": 3, "num_classes": 2}

        class TinyBase(StudyHyperModel, register=False):  # a base class opts out
            __module__ = "lib.models.hypermodels.tiny"

        class _Private(StudyHyperModel):
            __module__ = "lib.models.hypermodels.tiny"

        class OutsideHyperModel(StudyHyperModel):  # a user's subclass in a notebook or test
            pass

        assert list(HYPERMODELS) == [*before, "TinyHyperModel"]
        assert HYPERMODELS["TinyHyperModel"] is TinyHyperModel
        assert {TinyBase, _Private, OutsideHyperModel}.isdisjoint(HYPERMODELS.values())
        model = HYPERMODELS["TinyHyperModel"](seed=0).build(kt.HyperParameters())
        assert model.output.shape == (None, 2)

        with pytest.raises(TypeError, match="name ends in 'HyperModel'.*register=False"):

            class Tiny(StudyHyperModel):
                __module__ = "lib.models.hypermodels.tiny"

        with pytest.raises(TypeError, match="lib.models.hypermodels.mice_sleep already defines"):

            class MLPHyperModel(StudyHyperModel):
                __module__ = "lib.models.hypermodels.tiny"

        assert HYPERMODELS["MLPHyperModel"] is before["MLPHyperModel"]
    finally:
        HYPERMODELS.clear()
        HYPERMODELS.update(before)


def test_lstm_classifier_default_space_is_the_mhealth_grid():
    hypermodel = models.LSTMClassifierHyperModel()
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    space = _space(hp)
    assert _values(space["batch_size"]) == [64, 128, 256, 512]
    assert _values(space["learning_rate"]) == [0.001, 0.01, 0.1]
    assert _values(space["units"]) == [16, 32, 64]
    assert model.input_shape == (None, 100, 12)
    assert model.output_shape == (None, 13)
    assert len(_layers_of(model, keras.layers.LSTM)) == 1
    hidden = _layers_of(model, keras.layers.Dense)[0]
    assert hidden.activation.__name__ == "linear" and hidden.units == hp["units"]
    assert hypermodel.objective == "val_accuracy"


def test_space_overrides_and_unknown_names():
    hypermodel = models.LSTMClassifierHyperModel(
        input_shape=(6, 2), num_classes=3, units=(4, 8), learning_rate=(1e-3,)
    )
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    space = _space(hp)
    assert _values(space["units"]) == [4, 8]
    assert isinstance(space["learning_rate"], kt.engine.hyperparameters.Fixed)
    with pytest.raises(TypeError, match="no hyperparameter"):
        models.LSTMClassifierHyperModel(hidden_units=(4,))
    with pytest.raises(ValueError, match="empty"):
        models.LSTMClassifierHyperModel(units=())


class _RecordingModel:
    """Stands in for a compiled model: records what fit receives."""

    def fit(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        return "history"


def test_fit_passes_batch_size_and_hyperparameter_callbacks():
    hypermodel = models.CNN1DResNetGRUHyperModel(filters=2)
    hp = kt.HyperParameters()
    hp.values.update({"batch_size": 48, "reduce_lr_factor": 0.3})
    hypermodel._declare_training(hp)
    model = _RecordingModel()
    stop = keras.callbacks.EarlyStopping()
    assert hypermodel.fit(hp, model, "x", "y", epochs=2, callbacks=[stop]) == "history"
    assert model.args == ("x", "y")
    assert model.kwargs["batch_size"] == 48 and model.kwargs["epochs"] == 2
    callbacks = model.kwargs["callbacks"]
    assert callbacks[0] is stop
    reduce = [c for c in callbacks if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
    assert len(reduce) == 1 and reduce[0].factor == pytest.approx(0.3)

    # the engine may append callbacks(hp) itself: no duplicate
    engine_callbacks = hypermodel.callbacks(hp)
    hypermodel.fit(hp, model, callbacks=engine_callbacks)
    assert model.kwargs["callbacks"] == engine_callbacks

    with pytest.raises(ValueError, match="tunes batch_size"):
        hypermodel.fit(hp, model, batch_size=8)
    untuned = models.CNN1DResNetGRUHyperModel(filters=2, batch_size=None)
    untuned.fit(hp, model, batch_size=8)
    assert model.kwargs["batch_size"] == 8


def test_mitbih_hypermodels_default_spaces():
    hp = kt.HyperParameters()
    hypermodel = models.CNN1DResNetGRUHyperModel(input_shape=(16, 1), filters=2, gru_units=(2,))
    model = hypermodel.build(hp)
    space = _space(hp)
    assert _values(space["batch_size"]) == [16, 32, 48, 60]
    assert _values(space["gru_layers"]) == [2, 3, 4]
    assert _values(space["residual_blocks"]) == (1, 5, 1)
    assert _values(space["dropout"]) == [0.2, 0.3, 0.4]
    assert _values(space["optimizer"]) == ["adam", "adamw"]
    assert _values(space["reduce_lr_factor"]) == (0.1, 0.4, 0.1)
    assert _values(space["resampling"]) == ["smote", "random_over"]
    assert hypermodel.data_hyperparameters == ("resampling",)
    assert len(_layers_of(model, keras.layers.GRU)) == hp["gru_layers"]
    assert len(_layers_of(model, keras.layers.Add)) == hp["residual_blocks"]
    assert models.CNN1DResNetGRUHyperModel().space["gru_units"] == (32, 64, 128, 256, 512)

    hp2 = kt.HyperParameters()
    cnn2d = models.CNN2DResNetHyperModel(input_shape=(16, 1), filters=2, resampling=None)
    cnn2d.build(hp2)
    space2 = _space(hp2)
    assert _values(space2["batch_size"]) == [16, 32, 48]
    assert _values(space2["dense_units"]) == (62, 256, 1)
    assert _values(space2["dense_layers"]) == [2, 3, 4]
    assert _values(space2["residual_blocks"]) == (1, 7, 1)
    assert _values(space2["dropout"]) == (0.1, 0.4, 0.1)
    assert "resampling" not in space2


@pytest.mark.slow
def test_cnn2d_hypermodel_trains_one_step():
    x = RNG.normal(size=(8, 12, 1)).astype("float32")
    y = RNG.integers(0, 5, size=8)
    hypermodel = models.CNN2DResNetHyperModel(
        input_shape=(12, 1),
        filters=2,
        dense_units=(4,),
        residual_blocks=(1,),
        dense_layers=(2,),
        batch_size=(8,),
    )
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    model.run_eagerly = True
    history = hypermodel.fit(hp, model, x, y, validation_data=(x, y), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mice_mlp_space_is_conditional():
    hypermodel = models.MLPHyperModel(input_dim=25, num_classes=3)
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    space = _space(hp)
    assert _values(space["units_1"]) == [2, 4, 8]
    assert _values(space["activation_1"]) == ["sigmoid", "relu"]
    assert _values(space["optimizer"]) == ["adam", "sgd"]
    assert _values(space["learning_rate"]) == [0.01, 0.001, 0.0001]
    assert _values(space["momentum"]) == [0.0, 0.8, 0.99]
    assert _values(space["loss"]) == ["kl_divergence", "categorical_crossentropy"]
    assert hypermodel.objective == "val_weighted_f1"
    assert not hp.is_active("momentum") and not hp.is_active("units_2")
    assert "resampling" not in space  # the original grid does not resample
    smote = kt.HyperParameters()
    models.MLPHyperModel(resampling="smote").build(smote)
    assert smote.values["resampling"] == "smote"
    assert "resampling" in models.MLPHyperModel.data_hyperparameters
    from lib.tuning.spaces import space_size

    one = kt.HyperParameters()
    fixed = models.MLPHyperModel(
        second_layer=(True,),
        units=(8,),
        activation=("sigmoid",),
        units_2=(2,),
        activation_2=("relu",),
        optimizer=("adam",),
        learning_rate=(0.01,),
        loss=("kl_divergence",),
    )
    model = fixed.build(one)
    assert space_size(one) == 1
    assert [layer.units for layer in _layers_of(model, keras.layers.Dense)] == [8, 2, 3]
    assert _values(space["units_2"]) == [2, 4, 8]  # default: the first layer's values

    hp.values.update(
        {
            "optimizer": "sgd",
            "momentum": 0.99,
            "second_layer": True,
            "units_2": 8,
            "activation_2": "relu",
            "loss": "categorical_crossentropy",
        }
    )
    model = hypermodel.build(hp)
    assert hp.is_active("momentum") and hp.is_active("units_2")
    assert model.optimizer.momentum == pytest.approx(0.99)
    dense = _layers_of(model, keras.layers.Dense)
    assert [layer.units for layer in dense] == [hp["units_1"], 8, 3]
    assert isinstance(model.loss, models.OneHotLoss)
    assert model.loss.loss == "categorical_crossentropy"
    _train_one_step(model, RNG.normal(size=(6, 25)), RNG.integers(0, 3, size=6))


FEATURES = ["m50w", "t85w", "COG", "mean", "ang", "std", "kurt", "sm2std", "grmn"]


def test_feature_subset_selection_and_repair():
    hypermodel = models.FeatureSubsetMLPHyperModel(FEATURES, num_classes=3)
    all_off = {f"use_{name}": False for name in FEATURES}
    assert hypermodel.selected_features(all_off) == ["m50w", "t85w"]
    assert hypermodel.selected_features({**all_off, "use_ang": True}) == ["m50w", "ang"]
    chosen = {**all_off, "use_kurt": True, "use_COG": True}
    assert hypermodel.selected_features(chosen) == ["COG", "kurt"]
    assert hypermodel.selected_features({}) == FEATURES

    hp = kt.HyperParameters()
    hypermodel.build(hp)
    assert {f"use_{name}" for name in FEATURES} <= set(hp.values)
    hp.values.update(chosen)
    model = hypermodel.build(hp)
    assert model.input_shape == (None, 9)
    assert model.get_layer("select_features").indices == [2, 6]
    assert hypermodel.selected_features(hp) == ["COG", "kurt"]
    x = RNG.normal(size=(6, 9)).astype("float32")
    model.run_eagerly = True
    history = hypermodel.fit(hp, model, x, RNG.integers(0, 3, size=6), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="duplicates"):
        models.FeatureSubsetMLPHyperModel(["a", "a"])
    fixed = models.FeatureSubsetMLPHyperModel(FEATURES, search_features=False)
    hp = kt.HyperParameters()
    model = fixed.build(hp)
    assert not any(name.startswith("use_") for name in hp.values)
    assert fixed.selected_features(hp) == list(FEATURES)
    assert model.get_layer("select_features").indices == list(range(9))


@pytest.mark.slow
def test_keras_tuner_search_runs_a_hypermodel(tmp_path):
    x = RNG.normal(size=(24, 25)).astype("float32")
    y = RNG.integers(0, 3, size=24)
    tuner = kt.RandomSearch(
        models.MLPHyperModel(batch_size=(8, 12), seed=0),
        objective="val_accuracy",
        max_trials=2,
        seed=0,
        directory=tmp_path,
        project_name="mice",
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    assert all(trial.hyperparameters["batch_size"] in (8, 12) for trial in trials)
    assert all(np.isfinite(trial.score) for trial in trials)


@pytest.mark.slow
def test_reduce_lr_callback_falls_back_to_training_loss_without_validation():
    hypermodel = models.CNN1DResNetGRUHyperModel(filters=4)
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    (callback,) = hypermodel.callbacks(hp)
    callback.min_delta = 1e9  # every epoch is a plateau
    callback.patience = 0
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(np.ones((8, 3)), np.ones(8), epochs=2, verbose=0, callbacks=[callback])
    assert callback.monitor == "loss"
    assert float(model.optimizer.learning_rate) < 0.1


@pytest.mark.slow
def test_hypermodel_jit_compile_option_reaches_the_model_and_trains():
    x = RNG.normal(size=(16, 32, 1)).astype("float32")
    y = RNG.integers(0, 5, size=16)
    small = dict(input_shape=(32, 1), filters=4, residual_blocks=1, dense_units=4, seed=0)
    # "auto" keeps Keras' resolution (no XLA without an accelerator on this machine)
    auto = models.CNN1DResNetHyperModel(**small).build(kt.HyperParameters())
    assert auto.jit_compile == auto._resolve_auto_jit_compile()
    off = models.CNN1DResNetHyperModel(**small, jit_compile=False).build(kt.HyperParameters())
    assert off.jit_compile is False
    hp = kt.HyperParameters()
    hypermodel = models.CNN1DResNetHyperModel(**small, jit_compile=True)
    model = hypermodel.build(hp)
    assert model.jit_compile is True
    history = hypermodel.fit(hp, model, x, y, epochs=2, verbose=0)  # compiled with XLA
    assert np.all(np.isfinite(history.history["loss"]))
    # XLA on the CPU is deterministic: two fresh builds with one seed train to the same weights
    trained = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        hp_again = kt.HyperParameters()
        again = models.CNN1DResNetHyperModel(**small, jit_compile=True)
        model_again = again.build(hp_again)
        again.fit(hp_again, model_again, x, y, epochs=2, verbose=0)
        trained.append(model_again.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*trained, strict=True))
    # and training did move them away from the same seed's untrained weights
    untrained = auto.get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(trained[0], untrained, strict=True))


def test_hypermodel_rejects_an_unknown_jit_compile_value():
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto', got 'yes'"):
        models.CNN2DResNetHyperModel(jit_compile="yes")


def test_feature_subset_as_one_choice_walks_each_subset_once():
    from lib.tuning.spaces import space_size

    hypermodel = models.FeatureSubsetMLPHyperModel(
        FEATURES,
        subset_choice=True,
        layers=(1, 2),
        units=(8,),
        activation=("relu",),
        dropout=(0.0,),
        learning_rate=(0.01,),
        batch_size=(64,),
    )
    subsets = hypermodel.feature_subsets()
    assert len(subsets) == len(set(subsets)) == 2**9 - 1 - 9  # every subset of >= 2 of 9
    assert subsets[0] == "m50w+t85w" and subsets[-1] == "+".join(FEATURES)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert not any(name.startswith("use_") for name in hp.values)
    assert hp.values["features"] == subsets[-1]  # default: every feature
    assert model.get_layer("select_features").indices == list(range(9))
    assert space_size(hp) == len(subsets) * 2
    hp.values["features"] = "COG+kurt"
    assert hypermodel.selected_features(hp) == ["COG", "kurt"]
    assert hypermodel.build(hp).get_layer("select_features").indices == [2, 6]
    assert hypermodel.stacked_form(hp.values)["feature_indices"] == [2, 6]
    three = models.FeatureSubsetMLPHyperModel(["a", "b", "c"], subset_choice=True, min_features=1)
    assert three.feature_subsets() == ["a", "b", "c", "a+b", "a+c", "b+c", "a+b+c"]
    with pytest.raises(ValueError, match="not among the feature names"):
        hypermodel.selected_features({"features": "COG+speed"})
    with pytest.raises(ValueError, match=r"contain '\+'"):
        models.FeatureSubsetMLPHyperModel(["a+b", "c"], subset_choice=True)
    with pytest.raises(ValueError, match="search_features=False"):
        models.FeatureSubsetMLPHyperModel(FEATURES, subset_choice=True, search_features=False)


def _same_weights(a, b):
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]
    for left, right in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(left, right)


def test_lstm_forecaster_tapers_and_matches_build_lstm():
    model = models.build_lstm_forecaster(input_shape=(12, 3), layers=3, units=16, seed=4)
    assert [layer.units for layer in _layers_of(model, keras.layers.LSTM)] == [16, 8, 4]
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "linear"
    _same_weights(model, models.build_lstm(input_shape=(12, 3), units=(16, 8, 4), seed=4))
    one = models.build_lstm_forecaster(input_shape=(12, 3), layers=1, units=5, seed=4)
    assert [layer.units for layer in _layers_of(one, keras.layers.LSTM)] == [5]
    _train_one_step(model, RNG.normal(size=(8, 12, 3)), RNG.normal(size=8))


def test_lstm_forecaster_rejects_layers_it_cannot_build():
    with pytest.raises(ValueError, match="positive int"):
        models.build_lstm_forecaster(input_shape=(12, 3), layers=0)
    with pytest.raises(ValueError, match="no cell"):
        models.build_lstm_forecaster(input_shape=(12, 3), layers=3, units=3)


@pytest.mark.slow
def test_lstm_forecaster_hypermodel_space_and_masked_copy():
    hypermodel = models.LSTMForecasterHyperModel((6, 2), seed=0)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert [entry.name for entry in hp.space] == ["layers", "units", "learning_rate"]
    assert hp.values == {"layers": 1, "units": 16, "learning_rate": 0.003}
    assert hypermodel.objective == "val_mse"
    hp.values.update(layers=2, units=32, learning_rate=0.001)
    model = hypermodel.build(hp)
    assert [layer.units for layer in _layers_of(model, keras.layers.LSTM)] == [32, 16]
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    # The notebook's own build function (before the hypermodel) gives the same weights.
    reference = models.build_lstm(input_shape=(6, 2), units=(32, 16), learning_rate=0.001, seed=0)
    _same_weights(model, reference)
    masked = models.LSTMForecasterHyperModel((6, 2), mask_value=-9.0, seed=0).build(hp)
    masked.set_weights(model.get_weights())
    x = RNG.normal(size=(4, 6, 2)).astype("float32")
    np.testing.assert_allclose(masked(x, training=False), model(x, training=False), atol=1e-6)
    padded = np.concatenate([np.full((4, 3, 2), -9.0, dtype="float32"), x], axis=1)
    np.testing.assert_allclose(
        models.LSTMForecasterHyperModel((9, 2), mask_value=-9.0, seed=0).build(hp)(
            padded, training=False
        ),
        reference(x, training=False),
        atol=1e-5,
    )
    with pytest.raises(TypeError, match="no hyperparameter"):
        models.LSTMForecasterHyperModel((6, 2), batch_size=(32,))
