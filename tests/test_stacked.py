"""The stacked executor: equivalence with separate Keras models, masks, stopping, extraction."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib.evaluation import classification_metrics
from lib.models import FeatureSubsetMLPHyperModel, MLPHyperModel
from lib.tuning.stacked import (
    PerModelOptimizer,
    StackedMLP,
    StackedTrainer,
    confusion_matrices,
    confusion_metrics,
    form_of,
    max_weight_difference,
    plan_stacks,
    run_stacked,
)

FEATURES = ["a", "b", "c", "d", "e", "f"]


@pytest.fixture
def float64():
    previous = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous[0])
    keras.config.set_dtype_policy(previous[1])


def _data(rows: int, columns: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, columns))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    return x, y


def _mlp_values():
    """Study-5 configurations: one/two layers, relu/sigmoid, Adam and SGD, both losses."""
    return [
        {
            "second_layer": False,
            "units_1": 4,
            "activation_1": "relu",
            "optimizer": "adam",
            "learning_rate": 0.01,
            "loss": "kl_divergence",
        },
        {
            "second_layer": True,
            "units_1": 8,
            "activation_1": "sigmoid",
            "units_2": 2,
            "activation_2": "relu",
            "optimizer": "sgd",
            "momentum": 0.99,
            "learning_rate": 0.01,
            "loss": "categorical_crossentropy",
        },
        {
            "second_layer": True,
            "units_1": 2,
            "activation_1": "relu",
            "units_2": 8,
            "activation_2": "sigmoid",
            "optimizer": "adam",
            "learning_rate": 0.001,
            "loss": "categorical_crossentropy",
        },
        {
            "second_layer": False,
            "units_1": 8,
            "activation_1": "sigmoid",
            "optimizer": "sgd",
            "momentum": 0.8,
            "learning_rate": 0.01,
            "loss": "kl_divergence",
        },
    ]


def _subset_values():
    return [
        {
            "use_a": True,
            "use_b": False,
            "use_c": True,
            "use_d": False,
            "use_e": True,
            "use_f": True,
            "layers": 2,
            "units": 16,
            "activation": "tanh",
            "dropout": 0.0,
            "learning_rate": 0.01,
            "batch_size": 16,
        },
        {
            "use_a": False,
            "use_b": False,
            "use_c": False,
            "use_d": True,
            "use_e": False,
            "use_f": True,
            "layers": 1,
            "units": 32,
            "activation": "relu",
            "dropout": 0.0,
            "learning_rate": 0.001,
            "batch_size": 16,
        },
    ]


@pytest.mark.slow
def test_stack_equals_separate_keras_models_in_float64(float64):
    x, y = _data(120)
    hypermodel = MLPHyperModel(input_dim=6)
    forms = [form_of(hypermodel, v, batch_size=32) for v in _mlp_values()]
    assert {f.optimizer for f in forms} == {"adam", "sgd"}
    assert max_weight_difference(forms, x, y, epochs=1, seed=3) <= 1e-9


@pytest.mark.slow
def test_feature_subsets_equal_separate_keras_models_in_float64(float64):
    x, y = _data(80)
    hypermodel = FeatureSubsetMLPHyperModel(FEATURES)
    forms = [form_of(hypermodel, v, batch_size=32) for v in _subset_values()]
    assert forms[0].feature_indices == (0, 2, 4, 5) and forms[0].batch_size == 16
    assert max_weight_difference(forms, x, y, epochs=1, seed=1) <= 1e-9


def test_padding_and_unused_features_get_exactly_zero_gradient():
    x, y = _data(64)
    hypermodel = FeatureSubsetMLPHyperModel(FEATURES, units=(16, 32), layers=(1, 2))
    values = _subset_values()
    values[0]["units"], values[0]["layers"] = 32, 2
    values[1]["units"] = 16  # model 1: one layer of 16, padded to 32
    forms = [form_of(hypermodel, v, batch_size=16) for v in values]
    stack = StackedMLP(forms)
    stack.set_initial_weights([1, 2])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(stack.per_model_loss(stack.logits(x.astype("float32")), y))
    gradients = tape.gradient(loss, stack.variables_by_model())
    layers = [*stack.hidden, stack.head]
    masks = [m for layer in layers for m in (layer.kernel_mask, layer.bias_mask)]
    for gradient, mask in zip(gradients, masks, strict=True):
        gradient, mask = np.asarray(gradient), np.asarray(mask)
        assert np.all(gradient[mask == 0] == 0.0)
    first = np.asarray(gradients[0])
    assert np.any(first[0, 0] != 0) and np.all(first[0, 1] == 0)  # feature b unused by model 0
    assert np.all(first[1, 0] == 0) and np.any(first[1, 3] != 0)  # model 1 uses d and f only
    second = np.asarray(gradients[2])
    assert np.all(second[1] == 0) and np.any(second[0] != 0)  # model 1 has no second layer
    assert np.all(first[1][:, 16:] == 0) and np.any(first[1][:, :16] != 0)  # its padding


def test_kl_divergence_and_cross_entropy_gradients_nearly_agree(float64):
    x, y = _data(64)
    hypermodel = MLPHyperModel(input_dim=6)
    values = _mlp_values()[0]
    forms = [
        form_of(hypermodel, dict(values, loss=loss), batch_size=32)
        for loss in ("kl_divergence", "categorical_crossentropy")
    ]
    stack = StackedMLP(forms)
    stack.set_initial_weights([3, 3])  # the same weights, only the loss differs
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.reduce_mean(stack.per_model_loss(stack.logits(x), y), axis=1))
    gradients = [np.asarray(g) for g in tape.gradient(loss, stack.variables_by_model())]
    for gradient in gradients:
        difference = np.max(np.abs(gradient[0] - gradient[1]))
        assert difference <= 1e-5 * max(np.max(np.abs(gradient[1])), 1e-12)
    assert max(np.max(np.abs(g[0] - g[1])) for g in gradients) > 0  # not identical


@pytest.mark.slow
def test_stopped_model_does_not_move():
    x, y = _data(96)
    hypermodel = MLPHyperModel(input_dim=6)
    forms = [form_of(hypermodel, v, batch_size=32) for v in _mlp_values()]
    stack = StackedMLP(forms)
    stack.set_initial_weights([1, 2, 3, 4])
    optimizer = PerModelOptimizer(stack.variables_by_model(), forms)
    trainer = StackedTrainer(stack, optimizer, 32)
    active = np.array([True, False, True, False])
    before = [stack.model_weights(k) for k in range(4)]
    order = tf.constant(np.arange(96), tf.int32)
    for _ in range(2):
        trainer.train_epoch(
            tf.constant(x, tf.float32), tf.constant(y, tf.int32), order, tf.constant(active)
        )
    for k in range(4):
        after = stack.model_weights(k)
        moved = [np.max(np.abs(a - b)) for a, b in zip(before[k], after, strict=True)]
        assert (max(moved) > 0) == active[k]
    for slot in (*optimizer.first, *optimizer.second):
        assert np.all(np.asarray(slot)[~active] == 0)


@pytest.mark.slow
def test_dropout_draws_independent_masks_per_model():
    x, y = _data(32)
    hypermodel = FeatureSubsetMLPHyperModel(FEATURES)
    for rate, expect_equal in ((0.5, False), (0.0, True)):
        form = form_of(hypermodel, dict(_subset_values()[0], dropout=rate), batch_size=32)
        stack = StackedMLP([form, form], dropout_seed=1)
        stack.set_initial_weights([7, 7])  # two identical models
        optimizer = PerModelOptimizer(stack.variables_by_model(), [form, form])
        trainer = StackedTrainer(stack, optimizer, 32)
        trainer.train_epoch(
            tf.constant(x, tf.float32),
            tf.constant(y, tf.int32),
            tf.constant(np.arange(32), tf.int32),
            tf.ones([2], tf.bool),
        )
        first, second = stack.model_weights(0), stack.model_weights(1)
        same = all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
        assert same == expect_equal


def test_confusion_metrics_match_classification_metrics():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 200)
    y_pred = rng.integers(0, 3, (4, 200))
    y_pred[1] = np.where(y_pred[1] == 2, 0, y_pred[1])  # never predicts class 2
    y_pred[2] = y_true
    metrics = confusion_metrics(confusion_matrices(y_true, y_pred, 3))
    for k in range(4):
        expected = classification_metrics(y_true, y_pred[k])
        for name, value in expected.items():
            assert metrics[name][k] == pytest.approx(value, abs=1e-12), name


def test_plan_groups_by_batch_size_and_caps_models():
    hypermodel = FeatureSubsetMLPHyperModel(FEATURES)
    values = [dict(_subset_values()[i % 2], batch_size=16 * (1 + i % 2)) for i in range(7)]
    forms = [form_of(hypermodel, v, batch_size=32) for v in values]
    plan = plan_stacks(forms, rows_val=100, max_models=2, memory_budget_mb=100)
    assert sorted(p for stack in plan for p in stack) == list(range(7))
    assert all(len({forms[p].batch_size for p in stack}) == 1 for stack in plan)
    assert max(len(stack) for stack in plan) == 2
    tight = plan_stacks(forms, rows_val=100, max_models=None, memory_budget_mb=0.02)
    assert max(len(stack) for stack in tight) < 4


def test_hypermodel_without_stacked_form_is_refused():
    class Plain:
        def build(self, hp):
            return None

    x, y = _data(20)
    arrays = {"x_train": x, "y_train": y, "x_val": x, "y_val": y}
    with pytest.raises(TypeError, match="Plain has no stacked form.*stacked_form"):
        run_stacked(
            Plain(),
            [(0, {})],
            arrays,
            objective="val_accuracy",
            epochs=1,
            batch_size=8,
            early_stopping=None,
            seed=0,
            on_stack_done=lambda r, e: None,
        )


def test_bad_input_is_refused_with_what_was_expected():
    x, y = _data(40)
    good = {"x_train": x, "y_train": y, "x_val": x, "y_val": y}
    run = dict(
        objective="val_accuracy",
        epochs=1,
        batch_size=8,
        early_stopping=None,
        seed=0,
        on_stack_done=lambda r, e: None,
    )
    trials = [(0, _mlp_values()[0])]
    hypermodel = MLPHyperModel(input_dim=6)
    with pytest.raises(ValueError, match="1-D integer class ids"):
        run_stacked(hypermodel, trials, dict(good, y_train=np.eye(3)[y]), **run)
    with pytest.raises(ValueError, match="not computed by the stacked executor"):
        run_stacked(hypermodel, trials, good, **dict(run, objective="val_auc"))
    with pytest.raises(ValueError, match="take \\[6\\] input columns but x_train has 5"):
        run_stacked(hypermodel, trials, dict(good, x_train=x[:, :5]), **run)
    with pytest.raises(ValueError, match="optimizer 'rmsprop' has no stacked form"):
        run_stacked(
            MLPHyperModel(input_dim=6, optimizer=("adam", "rmsprop")),
            [(0, dict(_mlp_values()[0], optimizer="rmsprop"))],
            good,
            **run,
        )


@pytest.mark.slow
def test_run_stacked_records_and_extracted_models(tmp_path):
    x, y = _data(300)
    arrays = {"x_train": x[:200], "y_train": y[:200], "x_val": x[200:], "y_val": y[200:]}
    trials = list(enumerate(_mlp_values()))
    results, checks = [], []

    def done(records, extract):
        results.extend(records)
        for record in records:
            model = extract(record["trial"])
            path = tmp_path / f"m{record['trial']}.keras"
            model.save(path)
            loaded = keras.saving.load_model(path)
            probabilities = np.asarray(loaded.predict(arrays["x_val"], verbose=0))
            metrics = classification_metrics(arrays["y_val"], probabilities)
            checks.append((record, metrics, type(loaded.optimizer).__name__))

    settings = dict(
        objective="val_weighted_f1",
        epochs=4,
        batch_size=32,
        early_stopping=1,
        seed=5,
        max_models=3,
        on_stack_done=done,
    )
    run_stacked(MLPHyperModel(input_dim=6), trials, arrays, **settings)
    assert sorted(r["trial"] for r in results) == [0, 1, 2, 3]
    assert {r["stack"] for r in results} == {0, 1}
    for record, metrics, optimizer in checks:
        assert record["status"] == "COMPLETED" and record["executor"] == "stacked"
        assert 1 <= record["best_epoch"] <= record["epochs_run"] <= 4
        assert len(record["history"]["val_weighted_f1"]) == record["epochs_run"]
        assert record["objective"] == max(record["history"]["val_weighted_f1"])
        for name, value in metrics.items():
            assert record[f"val_{name}"] == pytest.approx(value, abs=1e-9), name
        assert optimizer.lower() == record["hyperparameters"]["optimizer"]
    again = []
    run_stacked(
        MLPHyperModel(input_dim=6),
        trials,
        arrays,
        **dict(settings, on_stack_done=lambda r, e: again.extend(r)),
    )
    assert [r["history"] for r in again] == [r["history"] for r in results]


@pytest.mark.slow
def test_training_does_not_depend_on_stack_mates_or_compaction():
    x, y = _data(260, seed=2)
    arrays = {"x_train": x[:200], "y_train": y[:200], "x_val": x[200:], "y_val": y[200:]}
    values = _mlp_values()
    slow = dict(values[2], learning_rate=0.0001)  # barely learns: its accuracy stalls first
    trials = [(0, values[0]), (1, slow), (2, dict(slow, units_1=4)), (3, values[3])]
    together, alone = [], []
    common = dict(objective="val_accuracy", epochs=8, batch_size=32, early_stopping=1, seed=4)
    run_stacked(
        MLPHyperModel(input_dim=6),
        trials,
        arrays,
        on_stack_done=lambda r, e: together.extend(r),
        **common,
    )
    for trial in trials:
        run_stacked(
            MLPHyperModel(input_dim=6),
            [trial],
            arrays,
            on_stack_done=lambda r, e: alone.extend(r),
            **common,
        )
    assert len({r["stack"] for r in together}) == 1
    runs = [r["epochs_run"] for r in together]
    # at least half stopped while others trained on: the stack was rebuilt without them
    assert sum(run < max(runs) for run in runs) >= 2, runs
    for record in alone:
        mate = next(r for r in together if r["trial"] == record["trial"])
        assert mate["epochs_run"] == record["epochs_run"]
        assert mate["best_epoch"] == record["best_epoch"]
        np.testing.assert_allclose(
            mate["history"]["val_loss"], record["history"]["val_loss"], rtol=1e-5
        )
