"""Tests of lib.evaluation: metrics against scikit-learn / numpy, baselines, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk_metrics

from lib import evaluation

METRIC_KEYS = {"accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1"}


# --------------------------------------------------------------------------- classification


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 4, size=200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, size=200))
    result = evaluation.classification_metrics(y_true, y_pred)

    assert set(result) == METRIC_KEYS | {f"recall_{k}" for k in range(4)}
    assert result["accuracy"] == pytest.approx(sk_metrics.accuracy_score(y_true, y_pred))
    assert result["macro_precision"] == pytest.approx(
        sk_metrics.precision_score(y_true, y_pred, average="macro")
    )
    assert result["macro_recall"] == pytest.approx(
        sk_metrics.recall_score(y_true, y_pred, average="macro")
    )
    assert result["macro_f1"] == pytest.approx(sk_metrics.f1_score(y_true, y_pred, average="macro"))
    assert result["weighted_f1"] == pytest.approx(
        sk_metrics.f1_score(y_true, y_pred, average="weighted")
    )
    per_class = sk_metrics.recall_score(y_true, y_pred, average=None)
    for label in range(4):
        assert result[f"recall_{label}"] == pytest.approx(per_class[label])
    assert all(type(value) is float for value in result.values())


def test_classification_metrics_takes_argmax_of_scores_and_one_hot_labels():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 3, size=50)
    scores = rng.random((50, 3))
    one_hot = np.eye(3)[y_true]
    from_scores = evaluation.classification_metrics(one_hot, scores)
    from_ids = evaluation.classification_metrics(y_true, scores.argmax(axis=1))
    assert from_scores == from_ids


def test_classification_metrics_labels_include_never_seen_class():
    result = evaluation.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1, 2])
    assert result["recall_0"] == pytest.approx(0.5)
    assert result["recall_1"] == pytest.approx(1.0)
    assert result["recall_2"] == 0.0
    # class 2 is averaged in as zero: macro recall = (0.5 + 1 + 0) / 3
    assert result["macro_recall"] == pytest.approx(0.5)


def test_classification_metrics_default_labels_are_union_of_both_arrays():
    result = evaluation.classification_metrics([0, 0, 1], [0, 2, 1])
    assert {"recall_0", "recall_1", "recall_2"} <= set(result)


def test_classification_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="samples"):
        evaluation.classification_metrics([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="shape"):
        evaluation.classification_metrics(np.zeros((2, 3, 4)), [0, 1])
    with pytest.raises(ValueError, match="empty"):
        evaluation.classification_metrics([], [])


# --------------------------------------------------------------------------- regression


def test_per_class_report_matches_sklearn_per_class():
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 5, size=300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, size=300))
    names = ["N", "S", "V", "F", "Q"]
    report = evaluation.per_class_report(y_true, y_pred, class_names=names)
    recall = sk_metrics.recall_score(y_true, y_pred, average=None, labels=range(5))
    precision = sk_metrics.precision_score(y_true, y_pred, average=None, labels=range(5))
    for index, name in enumerate(names):
        assert report["recall"][name] == pytest.approx(recall[index])
        assert report["precision"][name] == pytest.approx(precision[index])
        assert report["support"][name] == int(np.sum(y_true == index))
    assert report["accuracy"] == pytest.approx(sk_metrics.accuracy_score(y_true, y_pred))
    assert report["macro_f1"] == pytest.approx(
        sk_metrics.f1_score(y_true, y_pred, average="macro", labels=range(5))
    )
    # nothing excluded: the second view is the full one
    assert report["accuracy_without"] == report["accuracy"]
    assert report["macro_f1_without"] == pytest.approx(report["macro_f1"])
    probabilities = np.eye(5)[y_pred] * 0.8 + 0.04
    assert evaluation.per_class_report(y_true, probabilities, class_names=names) == report


def test_per_class_report_excludes_true_q_beats_but_counts_q_predictions_as_errors():
    names = ["N", "S", "Q"]
    y_true = np.array([0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 2, 1, 0, 0, 2])
    report = evaluation.per_class_report(y_true, y_pred, class_names=names, exclude=["Q"])
    kept = y_true != 2
    assert report["accuracy_without"] == pytest.approx(np.mean(y_true[kept] == y_pred[kept]))
    expected = sk_metrics.f1_score(y_true[kept], y_pred[kept], labels=[0, 1], average=None)
    assert report["macro_f1_without"] == pytest.approx(expected.mean())
    # the N beat predicted as Q is an error in both views; a true Q beat only in the full one
    assert report["accuracy"] < report["accuracy_without"]
    assert report["recall"]["Q"] == pytest.approx(0.5) and report["excluded"] == ["Q"]
    # a class never predicted gets precision 0, one never present recall 0
    never = evaluation.per_class_report([0, 0, 1], [0, 0, 0], class_names=names)
    assert never["precision"]["S"] == 0.0 and never["recall"]["Q"] == 0.0


def test_per_class_report_rejects_bad_input():
    names = ["N", "S"]
    with pytest.raises(ValueError, match="y_true has 2 samples and y_pred 3"):
        evaluation.per_class_report([0, 1], [0, 1, 1], class_names=names)
    with pytest.raises(ValueError, match=r"y_pred holds class ids \[2\] outside 0..1"):
        evaluation.per_class_report([0, 1], [0, 2], class_names=names)
    with pytest.raises(ValueError, match="not in class_names"):
        evaluation.per_class_report([0, 1], [0, 1], class_names=names, exclude=["Q"])
    with pytest.raises(ValueError, match="leaves no class"):
        evaluation.per_class_report([0, 1], [0, 1], class_names=names, exclude=names)


def test_regression_metrics_match_numpy_and_reshape_column_output():
    rng = np.random.default_rng(3)
    y_true = rng.normal(size=40)
    y_pred = y_true + rng.normal(scale=0.3, size=40)
    result = evaluation.regression_metrics(y_true, y_pred[:, None])
    error = y_pred - y_true
    assert set(result) == {"mse", "mae", "rmse"}
    assert result["mse"] == pytest.approx(np.mean(error**2))
    assert result["mae"] == pytest.approx(np.mean(np.abs(error)))
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean(error**2)))


def test_regression_metrics_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        evaluation.regression_metrics(np.zeros(4), np.zeros(5))


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("val_loss", "min"),
        ("test_rmse", "min"),
        ("val_mae", "min"),
        ("mse", "min"),
        ("val_accuracy", "max"),
        ("val_weighted_f1", "max"),
        ("test_recall_3", "max"),
        ("val_macro_f1", "max"),
        # Keras metrics: KerasTuner's directions (these were maximised by a name rule)
        ("val_mean_absolute_error", "min"),
        ("val_mean_squared_error", "min"),
        ("val_root_mean_squared_error", "min"),
        ("val_mape", "min"),
        ("val_mean_absolute_percentage_error", "min"),
        ("val_categorical_crossentropy", "min"),
        ("val_sparse_categorical_crossentropy", "min"),
        ("val_kl_divergence", "min"),
        ("val_msle", "min"),
        ("val_huber", "min"),
        ("val_auc", "max"),
        ("val_precision", "max"),
        ("val_sparse_categorical_accuracy", "max"),
        ("val_acc", "max"),
        # Keras declares these higher-is-better; KerasTuner's list misses them
        ("val_f1_score", "max"),
        ("val_r2_score", "max"),
    ],
)
def test_metric_direction(name, direction):
    assert evaluation.metric_direction(name) == direction


def test_metric_direction_agrees_with_keras_tuner_wherever_it_infers_one():
    from keras_tuner.src.engine.metrics_tracking import infer_metric_direction

    names = [
        "val_loss",
        "val_accuracy",
        "val_mean_absolute_error",
        "val_mean_squared_error",
        "val_root_mean_squared_error",
        "val_mape",
        "val_categorical_crossentropy",
        "val_kl_divergence",
        "val_binary_accuracy",
        "val_auc",
        "val_recall",
        "val_mse",
        "val_mae",
        "val_sparse_categorical_crossentropy",
        "val_log_cosh",
        "val_hinge",
        "val_top_k_categorical_accuracy",
        "val_poisson",
        "val_cosine_similarity",
    ]
    for name in names:
        assert evaluation.metric_direction(name) == infer_metric_direction(name), name


def test_metric_direction_of_an_unknown_name_is_refused_or_the_default():
    with pytest.raises(ValueError, match="Could not infer optimization direction.*custom"):
        evaluation.metric_direction("val_custom_metric")
    assert evaluation.metric_direction("val_custom_metric", default="max") == "max"


# --------------------------------------------------------------------------- baselines


def test_persistence_and_window_mean_forecasts():
    X = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    np.testing.assert_array_equal(evaluation.persistence_forecast(X, channel=1), X[:, -1, 1])
    np.testing.assert_allclose(evaluation.window_mean_forecast(X, channel=2), X[:, :, 2].mean(1))
    flat = X[:, :, 0]
    np.testing.assert_array_equal(evaluation.persistence_forecast(flat), flat[:, -1])
    with pytest.raises(ValueError, match="channel 3"):
        evaluation.persistence_forecast(X, channel=3)
    with pytest.raises(ValueError, match="one channel"):
        evaluation.window_mean_forecast(flat, channel=1)
    with pytest.raises(ValueError, match="shape"):
        evaluation.persistence_forecast(np.zeros(5))


def test_linear_regression_baseline_recovers_a_linear_target():
    rng = np.random.default_rng(4)
    X_train = rng.normal(size=(60, 5, 2))
    X_test = rng.normal(size=(10, 5, 2))
    weights = rng.normal(size=10)
    y_train = X_train.reshape(60, -1) @ weights + 0.5
    predictions = evaluation.linear_regression_baseline(X_train, y_train, X_test)
    np.testing.assert_allclose(predictions, X_test.reshape(10, -1) @ weights + 0.5, atol=1e-8)
    with pytest.raises(ValueError, match="features"):
        evaluation.linear_regression_baseline(X_train, y_train, X_test[:, :4])
    with pytest.raises(ValueError, match="samples"):
        evaluation.linear_regression_baseline(X_train, y_train[:-1], X_test)


def test_majority_class_baseline():
    np.testing.assert_array_equal(evaluation.majority_class_baseline([2, 1, 2, 0], 3), [2, 2, 2])
    # ties go to the smallest class, as DummyClassifier(strategy="most_frequent")
    np.testing.assert_array_equal(evaluation.majority_class_baseline([3, 1, 3, 1], 2), [1, 1])
    one_hot = np.eye(3)[[1, 1, 0]]
    np.testing.assert_array_equal(evaluation.majority_class_baseline(one_hot, 2), [1, 1])
    with pytest.raises(ValueError, match="empty"):
        evaluation.majority_class_baseline([], 2)


def _separable(seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=150)
    X = rng.normal(scale=0.3, size=(150, 4, 2)) + y[:, None, None]
    return X[:120], y[:120], X[120:], y[120:]


@pytest.mark.parametrize(
    "baseline", [evaluation.gradient_boosting_baseline, evaluation.random_forest_baseline]
)
@pytest.mark.slow
def test_tree_baselines_learn_separable_classes_reproducibly(baseline):
    X_train, y_train, X_test, y_test = _separable(5)
    kwargs = (
        {"max_iter": 10}
        if baseline is evaluation.gradient_boosting_baseline
        else {"n_estimators": 20}
    )
    first = baseline(X_train, y_train, X_test, seed=3, **kwargs)
    second = baseline(X_train, y_train, X_test, seed=3, **kwargs)
    assert first.shape == y_test.shape
    np.testing.assert_array_equal(first, second)
    assert np.mean(first == y_test) > 0.9
    with pytest.raises(ValueError, match="features"):
        baseline(X_train, y_train, X_test[:, :2], seed=3, **kwargs)


# --------------------------------------------------------------------------- tables


def test_comparison_table():
    table = evaluation.comparison_table(
        {
            "original study": {"accuracy": 0.9},
            "majority class": {"accuracy": 0.3, "macro_f1": 0.1},
        }
    )
    assert list(table.columns) == ["accuracy", "macro_f1"]
    assert list(table.index) == ["original study", "majority class"]
    assert table.index.name == "model"
    assert np.isnan(table.loc["original study", "macro_f1"])
    assert table.loc["majority class", "macro_f1"] == 0.1

    ordered = evaluation.comparison_table(
        {"a": {"x": 1, "y": 2}}, columns=["y", "x"], index_name="run"
    )
    pd.testing.assert_frame_equal(
        ordered, pd.DataFrame({"y": [2], "x": [1]}, index=pd.Index(["a"], name="run"))
    )
    with pytest.raises(ValueError, match="appear in no row"):
        evaluation.comparison_table({"a": {"x": 1}}, columns=["z"])
    with pytest.raises(ValueError, match="empty"):
        evaluation.comparison_table({})


def test_average_probabilities_adds_mean_of_members():
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.5, 0.5], [0.6, 0.4]])
    out = evaluation.average_probabilities({"a": a, "b": b}, {"both": ["a", "b"]})
    assert list(out) == ["a", "b", "both"]
    np.testing.assert_allclose(out["both"], [[0.7, 0.3], [0.4, 0.6]])
    with pytest.raises(ValueError, match="members among"):
        evaluation.average_probabilities({"a": a}, {"both": ["a", "c"]})
    with pytest.raises(ValueError, match="differ in shape"):
        evaluation.average_probabilities({"a": a, "c": a[:1]}, {"both": ["a", "c"]})


def test_paired_accuracy_test_counts_discordant_rows_and_brackets_the_difference():
    from scipy.stats import binomtest

    from lib.evaluation import paired_accuracy_test

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=400)
    a = y.copy()
    a[:40] = (y[:40] + 1) % 3  # a wrong on rows 0-39
    b = y.copy()
    b[30:90] = (y[30:90] + 1) % 3  # b wrong on rows 30-89
    result = paired_accuracy_test(y, a, np.eye(3)[b], resamples=2000, seed=0)  # b as scores
    assert (result["only_a"], result["only_b"]) == (50, 30)  # rows 40-89 vs rows 0-29
    assert result["difference"] == pytest.approx((50 - 30) / 400)
    assert result["accuracy_a"] - result["accuracy_b"] == pytest.approx(result["difference"])
    assert result["mcnemar_p"] == pytest.approx(binomtest(50, 80, 0.5).pvalue)
    assert result["ci_low"] < result["difference"] < result["ci_high"]
    assert result["mcnemar_p"] < 0.05 and result["ci_low"] > 0  # 50 vs 30: both see it
    same = paired_accuracy_test(y, a, a, resamples=100)
    assert same["mcnemar_p"] == 1.0 and same["ci_low"] == same["ci_high"] == 0.0
    assert paired_accuracy_test(y, a, b, resamples=2000, seed=0) == result  # same seed
    with pytest.raises(ValueError, match="same non-empty rows"):
        paired_accuracy_test(y, a, b[:10])
