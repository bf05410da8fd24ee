"""Metrics and baselines that every study reports next to its tuned model.

Metrics come from scikit-learn; this module only fixes their names, their
averaging and how model outputs (probabilities, one-hot labels) are turned into
class ids, so that every study and the tuning engine use the same numbers:

* :func:`classification_metrics` returns ``accuracy``, ``macro_precision``,
  ``macro_recall``, ``macro_f1``, ``weighted_f1`` and ``recall_<label>`` per class.
* :func:`regression_metrics` returns ``mse``, ``mae`` and ``rmse``.
* :func:`per_class_report` returns, per class, recall (sensitivity) and precision
  (positive predictivity) as the AAMI heartbeat reports give them, with accuracy and
  macro F1 over all classes and without the excluded ones (AAMI's Q).
* :func:`paired_accuracy_test` asks whether two models' accuracies on the same test rows
  differ by more than chance (McNemar's exact test, a paired bootstrap interval).

In tuning result frames these names carry a ``val_`` or ``test_`` prefix;
:func:`metric_direction` says whether a name is minimised or maximised.

Baselines give the floor a tuned model must beat: persistence and window-mean
forecasts, linear regression on the flattened lags, the majority class, and
gradient boosting / random forest on flattened windows.
:func:`comparison_table` puts rows of metrics side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from keras_tuner.src.engine.metrics_tracking import infer_metric_direction
from sklearn import metrics as sk_metrics

from lib.labels import encode_labels

__all__ = [
    "classification_metrics",
    "regression_metrics",
    "per_class_report",
    "average_probabilities",
    "metric_direction",
    "to_class_ids",
    "encode_labels",
    "persistence_forecast",
    "window_mean_forecast",
    "linear_regression_baseline",
    "majority_class_baseline",
    "gradient_boosting_baseline",
    "random_forest_baseline",
    "comparison_table",
]

# Directions of the names computed here (with a val_ / test_ prefix in result frames), and of
# the Keras scores KerasTuner's inference gets backwards (Keras declares them "up").
_MAXIMISED = frozenset(
    {
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "weighted_f1",
        "f1_score",
        "fbeta_score",
        "r2_score",
    }
)
_MAXIMISED_PREFIXES = ("recall_", "precision_", "f1_")
_MINIMISED = frozenset({"loss", "mse", "mae", "rmse"})


# --------------------------------------------------------------------------- metrics


def _class_ids(values: Any, *, name: str = "values") -> np.ndarray:
    """One-hot rows, probabilities or logits to 1-D arg-max ids; 1-D labels unchanged.

    What the metrics use: they compare ``y_true`` and ``y_pred`` label by label, so string
    labels must stay strings here (encoding each array on its own could give the same
    class two ids).
    """
    array = np.asarray(values)
    if array.ndim == 0:
        raise ValueError(f"{name} must be 1-D labels or 2-D scores, got a scalar {array!r}")
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    if array.ndim == 2:
        return np.argmax(array, axis=1)
    if array.ndim > 2:
        raise ValueError(
            f"{name} must be 1-D labels or 2-D (samples, classes) scores, got shape "
            f"{array.shape}; reshape or take the arg-max over the class axis first"
        )
    return array


def to_class_ids(
    values: Any, *, name: str = "values", classes: Sequence[Any] | None = None
) -> np.ndarray:
    """Turns labels, one-hot rows, probabilities or logits into 1-D integer class ids.

    Integer labels are returned unchanged (they may be ids already, and predicted ids need
    not cover every class). Labels that are not numbers (strings, mixed objects) are encoded
    to ``0..k-1`` in sorted order by :func:`lib.labels.encode_labels`; so are numeric labels
    when ``classes`` is given. Encoding one array at a time gives ids that depend on which
    labels that array holds: to encode train and test labels alike, call
    :func:`lib.labels.encode_labels` on the training labels and pass its class names as
    ``classes`` here (or to ``encode_labels``), which also keeps the names for tables.

    Args:
        values: 1-D labels or class ids, a 2-D array with one column per class (one-hot
            labels, probabilities or logits: the arg-max is taken), or a 2-D array with a
            single column (squeezed).
        name: how to call ``values`` in error messages.
        classes: class names in id order; labels are then encoded against them
            (``classes[i]`` gets id ``i``).

    Returns:
        A 1-D numpy array of class ids.

    Raises:
        ValueError: if ``values`` has more than two dimensions, or labels are missing or
            not among ``classes`` (see :func:`lib.labels.encode_labels`).
    """
    array = _class_ids(values, name=name)
    if classes is not None or array.dtype.kind in "OUS":
        try:
            return encode_labels(array, classes)[0]
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from error
    return array


def _label_key(label: Any) -> str:
    """``recall_<label>`` suffix: integers print without numpy decoration."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label)


def classification_metrics(
    y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None
) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1, weighted F1 and per-class recall.

    Classes absent from both arrays but listed in ``labels`` count as zero
    (scikit-learn's ``zero_division=0``), so a model that never predicts a
    class is penalised rather than ignored.

    Args:
        y_true: true labels: 1-D class ids or one-hot 2-D rows (arg-max taken).
        y_pred: predictions: 1-D class ids, or 2-D probabilities / logits with
            one column per class (arg-max taken).
        labels: the classes to score, in order. Defaults to the sorted union of
            the classes seen in ``y_true`` and ``y_pred``.

    Returns:
        A dict with keys ``accuracy``, ``macro_precision``, ``macro_recall``,
        ``macro_f1``, ``weighted_f1`` and ``recall_<label>`` for each label, all
        plain Python floats.

    Raises:
        ValueError: if the two arrays hold different numbers of samples, or are empty.
    """
    true_ids = _class_ids(y_true, name="y_true")
    pred_ids = _class_ids(y_pred, name="y_pred")
    if true_ids.shape[0] != pred_ids.shape[0]:
        raise ValueError(
            f"y_true has {true_ids.shape[0]} samples but y_pred has {pred_ids.shape[0]}; "
            "pass predictions for exactly the labelled samples"
        )
    if true_ids.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty; metrics need at least one sample")
    if labels is None:
        labels = np.union1d(true_ids, pred_ids)
    labels = list(labels)

    precision, recall, f1, _ = sk_metrics.precision_recall_fscore_support(
        true_ids, pred_ids, labels=labels, average="macro", zero_division=0
    )
    result = {
        "accuracy": float(sk_metrics.accuracy_score(true_ids, pred_ids)),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
        "weighted_f1": float(
            sk_metrics.f1_score(
                true_ids, pred_ids, labels=labels, average="weighted", zero_division=0
            )
        ),
    }
    per_class = sk_metrics.recall_score(
        true_ids, pred_ids, labels=labels, average=None, zero_division=0
    )
    for label, value in zip(labels, per_class, strict=True):
        result[f"recall_{_label_key(label)}"] = float(value)
    return result


def per_class_report(
    y_true: Any,
    y_pred: Any,
    *,
    class_names: Sequence[str],
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """Per-class recall and precision, accuracy and macro F1, as in AAMI beat reports.

    Class ``i`` is named ``class_names[i]``. Recall is the sensitivity (Se,
    ``TP / (TP + FN)``), precision the positive predictivity (+P, ``TP / (TP + FP)``);
    a class with no true beats has recall 0, one never predicted has precision 0
    (``zero_division=0``), so a model that never says "S" is not excused.

    The view without ``exclude`` (AAMI recommends leaving out Q, the unclassifiable
    and paced beats) drops the beats whose *true* class is excluded; a remaining beat
    predicted as an excluded class counts as an error, and the macro F1 averages the
    remaining classes only.

    Args:
        y_true: true class ids 0..k-1 (or one-hot rows).
        y_pred: predicted class ids, or ``(n, k)`` probabilities (arg-max taken).
        class_names: the name of every class id, in order.
        exclude: names of classes left out of the second view.

    Returns:
        A dict: ``accuracy`` and ``macro_f1`` over all classes; ``recall``,
        ``precision``, ``f1`` and ``support`` (true beats), each a dict keyed by class
        name; ``excluded`` (the list ``exclude``), and ``accuracy_without`` and
        ``macro_f1_without``, the two figures of the view without them (equal to the
        full ones when ``exclude`` is empty).

    Raises:
        ValueError: the arrays differ in length or are empty, a class id lies outside
            ``class_names``, an ``exclude`` name is not a class, or every class is
            excluded.
    """
    names = [str(name) for name in class_names]
    true_ids = _class_ids(y_true, name="y_true")
    pred_ids = _class_ids(y_pred, name="y_pred")
    if true_ids.shape[0] != pred_ids.shape[0] or true_ids.shape[0] == 0:
        raise ValueError(
            f"y_true has {true_ids.shape[0]} samples and y_pred {pred_ids.shape[0]}; pass "
            "one prediction for each of at least one labelled sample"
        )
    for label, ids in (("y_true", true_ids), ("y_pred", pred_ids)):
        outside = ids[(ids < 0) | (ids >= len(names))]
        if outside.size:
            raise ValueError(
                f"{label} holds class ids {np.unique(outside)[:5].tolist()} outside 0.."
                f"{len(names) - 1}, the ids of class_names {names}"
            )
    unknown = [name for name in exclude if name not in names]
    if unknown:
        raise ValueError(f"exclude names {unknown}, which are not in class_names {names}")
    labels = list(range(len(names)))
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        true_ids, pred_ids, labels=labels, average=None, zero_division=0
    )
    kept = [i for i, name in enumerate(names) if name not in exclude]
    if not kept:
        raise ValueError(f"exclude {list(exclude)} leaves no class to score")
    rows = np.isin(true_ids, kept)
    if rows.any():
        _, _, f1_kept, _ = sk_metrics.precision_recall_fscore_support(
            true_ids[rows], pred_ids[rows], labels=kept, average=None, zero_division=0
        )
        accuracy_without = float(np.mean(true_ids[rows] == pred_ids[rows]))
        macro_f1_without = float(np.mean(f1_kept))
    else:
        accuracy_without = macro_f1_without = 0.0
    return {
        "accuracy": float(np.mean(true_ids == pred_ids)),
        "macro_f1": float(np.mean(f1)),
        "recall": {name: float(value) for name, value in zip(names, recall, strict=True)},
        "precision": {name: float(value) for name, value in zip(names, precision, strict=True)},
        "f1": {name: float(value) for name, value in zip(names, f1, strict=True)},
        "support": {name: int(value) for name, value in zip(names, support, strict=True)},
        "excluded": list(exclude),
        "accuracy_without": accuracy_without,
        "macro_f1_without": macro_f1_without,
    }


def average_probabilities(
    probabilities: Mapping[str, Any], ensembles: Mapping[str, Sequence[str]]
) -> dict[str, np.ndarray]:
    """Adds ensembles (the mean class probabilities of their members) to a dict of models.

    Args:
        probabilities: model name -> ``(n, classes)`` predicted probabilities.
        ensembles: ensemble name -> the names of its member models.

    Returns:
        A new dict: the given models, then every ensemble.

    Raises:
        ValueError: an ensemble is empty, names a model not in ``probabilities``, reuses a
            model's name, or its members' arrays differ in shape.
    """
    result = {name: np.asarray(values) for name, values in probabilities.items()}
    for name, members in ensembles.items():
        missing = [m for m in members if m not in probabilities]
        if not members or missing or name in probabilities:
            raise ValueError(
                f"ensemble {name!r}: expected a new name and members among "
                f"{sorted(probabilities)}, found members {list(members)}"
            )
        shapes = {result[m].shape for m in members}
        if len(shapes) > 1:
            raise ValueError(f"ensemble {name!r}: members' probabilities differ in shape {shapes}")
        result[name] = np.mean([result[m] for m in members], axis=0)
    return result


def paired_accuracy_test(
    y_true: Any,
    a: Any,
    b: Any,
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Do two models' accuracies on the same rows differ by more than chance?

    Only the rows where exactly one model is right tell them apart: McNemar's exact test
    asks whether those split evenly (two-sided binomial test on the ``only_a`` of
    ``only_a + only_b`` discordant rows, p = 1 when there are none). The interval is a
    percentile bootstrap of ``accuracy_a - accuracy_b`` over the rows, both models
    resampled together.

    Args:
        y_true: true class ids.
        a, b: the two models' predictions (class ids, or scores as :func:`to_class_ids`
            takes them), on the rows of ``y_true``.
        resamples: bootstrap resamples.
        confidence: coverage of the interval.
        seed: seed of the bootstrap.

    Returns:
        ``rows``, ``accuracy_a``, ``accuracy_b``, ``difference`` (a - b), ``only_a`` / ``only_b``
        (rows only that model gets right), ``mcnemar_p``, ``ci_low`` and ``ci_high``.

    Raises:
        ValueError: the three disagree in length, are empty, or ``resamples`` / ``confidence``
            are out of range.
    """
    from scipy.stats import binomtest

    y = _class_ids(y_true, name="y_true")
    predicted_a, predicted_b = _class_ids(a, name="a"), _class_ids(b, name="b")
    if y.size == 0 or not len(predicted_a) == len(predicted_b) == y.size:
        raise ValueError(
            f"expected predictions a and b for the same non-empty rows as y_true ({y.size}), "
            f"found {len(predicted_a)} and {len(predicted_b)} rows"
        )
    right_a, right_b = predicted_a == y, predicted_b == y
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(
            f"resamples must be positive and confidence in (0, 1), found {resamples} and "
            f"{confidence}"
        )
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(right_b & ~right_a))
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    gain = right_a.astype(np.int8) - right_b.astype(np.int8)  # +1, 0 or -1 per row
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for start in range(0, resamples, 1000):  # blocks of 1,000 resamples bound the memory
        count = min(1000, resamples - start)
        rows = rng.integers(0, y.size, size=(count, y.size))
        differences[start : start + count] = gain[rows].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1.0 - tail])
    return {
        "rows": int(y.size),
        "accuracy_a": float(right_a.mean()),
        "accuracy_b": float(right_b.mean()),
        "difference": float(gain.mean()),
        "only_a": only_a,
        "only_b": only_b,
        "mcnemar_p": p_value,
        "ci_low": float(low),
        "ci_high": float(high),
    }


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Mean squared error, mean absolute error and root mean squared error.

    Args:
        y_true: true targets, shape ``(n,)`` or ``(n, outputs)``.
        y_pred: predictions with the same number of values; a ``(n, 1)`` model
            output against ``(n,)`` targets is reshaped, nothing else is.
            Multi-output errors are averaged uniformly over outputs.

    Returns:
        A dict with keys ``mse``, ``mae`` and ``rmse`` (plain Python floats).

    Raises:
        ValueError: if the shapes cannot be matched, or the arrays are empty.
    """
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    if pred.shape != true.shape:
        if pred.size == true.size and pred.squeeze().shape == true.squeeze().shape:
            pred = pred.reshape(true.shape)
        else:
            raise ValueError(
                f"y_true has shape {true.shape} but y_pred has shape {pred.shape}; "
                "predict one value per target"
            )
    if true.size == 0:
        raise ValueError("y_true and y_pred are empty; metrics need at least one sample")
    mse = float(sk_metrics.mean_squared_error(true, pred))
    return {
        "mse": mse,
        "mae": float(sk_metrics.mean_absolute_error(true, pred)),
        "rmse": float(np.sqrt(mse)),
    }


def metric_direction(name: str, *, default: str | None = None) -> str:
    """``"min"`` or ``"max"``: the direction in which a metric's values get better.

    The names this module computes come first (``accuracy``, ``macro_f1``, ``weighted_f1``,
    ``macro_recall``, ``macro_precision``, ``recall_<label>`` ... are maximised; ``mse``,
    ``mae``, ``rmse`` and ``loss`` minimised). Every other name gets KerasTuner's own
    inference (``keras_tuner``'s ``infer_metric_direction``: Keras' losses and error metrics
    such as ``mean_absolute_error``, ``mape``, ``kl_divergence`` or
    ``sparse_categorical_crossentropy`` are minimised, its accuracies, AUC, precision and
    recall maximised), except for the three scores Keras declares higher-is-better that
    KerasTuner's list misses and would minimise: ``f1_score``, ``fbeta_score`` and
    ``r2_score``.

    Args:
        name: a metric name, with or without a ``val_`` / ``test_`` prefix.
        default: returned for a name whose direction cannot be inferred; None raises.

    Returns:
        ``"min"`` or ``"max"``.

    Raises:
        ValueError: the direction of ``name`` cannot be inferred and no ``default`` was given.
    """
    base = name
    for prefix in ("val_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    if base in _MAXIMISED or base.startswith(_MAXIMISED_PREFIXES):
        return "max"
    if base in _MINIMISED:
        return "min"
    direction = infer_metric_direction(name)
    if direction is not None:
        return direction
    if default is not None:
        return default
    raise ValueError(
        f'Could not infer optimization direction ("min" or "max") for unknown metric '
        f'"{name}": it is neither a metric of lib.evaluation ({sorted(_MAXIMISED | _MINIMISED)}, '
        f"recall_<class>, ...) nor one KerasTuner knows. Pass it as a keras_tuner.Objective, "
        f'for example keras_tuner.Objective("{name}", direction="min")'
    )


# --------------------------------------------------------------------------- baselines


def _windows(X: Any, *, channel: int) -> np.ndarray:
    """``(n, window)`` series of one channel from ``(n, window)`` or ``(n, window, channels)``."""
    array = np.asarray(X, dtype=float)
    if array.ndim == 2:
        if channel not in (0, -1):
            raise ValueError(
                f"X has shape {array.shape} (one channel) but channel={channel} was asked; "
                "use channel=0 or pass (samples, window, channels)"
            )
        return array
    if array.ndim != 3:
        raise ValueError(
            f"X must be (samples, window) or (samples, window, channels), got shape {array.shape}"
        )
    if not -array.shape[2] <= channel < array.shape[2]:
        raise ValueError(
            f"channel {channel} is out of range for X with {array.shape[2]} channels; "
            f"use a channel in 0..{array.shape[2] - 1}"
        )
    return array[:, :, channel]


def persistence_forecast(X: Any, *, channel: int = 0) -> np.ndarray:
    """Forecasts that the target keeps its last observed value.

    Args:
        X: input windows, ``(samples, window)`` or ``(samples, window, channels)``.
        channel: the channel that holds the forecast variable.

    Returns:
        A ``(samples,)`` array: the last reading of each window.

    Raises:
        ValueError: if ``X`` has the wrong number of dimensions or ``channel``
            does not exist.
    """
    return _windows(X, channel=channel)[:, -1].copy()


def window_mean_forecast(X: Any, *, channel: int = 0) -> np.ndarray:
    """Forecasts the mean of the input window.

    Args:
        X: input windows, ``(samples, window)`` or ``(samples, window, channels)``.
        channel: the channel that holds the forecast variable.

    Returns:
        A ``(samples,)`` array: the mean of each window.

    Raises:
        ValueError: if ``X`` has the wrong number of dimensions or ``channel``
            does not exist.
    """
    return _windows(X, channel=channel).mean(axis=1)


def _flatten(X: Any, *, name: str) -> np.ndarray:
    """``(samples, features)`` view of windows of any rank (a copy only if needed)."""
    array = np.asarray(X)
    if array.ndim < 1 or array.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {array.shape}")
    return array.reshape(array.shape[0], -1)


def _check_pair(X_train: np.ndarray, X_test: np.ndarray, y_train: np.ndarray) -> None:
    if X_train.shape[0] != y_train.shape[0]:
        raise ValueError(
            f"X_train has {X_train.shape[0]} samples but y_train has {y_train.shape[0]}; "
            "pass one target per training window"
        )
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"X_train has {X_train.shape[1]} features per sample after flattening but X_test "
            f"has {X_test.shape[1]}; use windows of the same length and channels"
        )


def linear_regression_baseline(X_train: Any, y_train: Any, X_test: Any) -> np.ndarray:
    """Ordinary least squares on the flattened lags (all readings of all channels).

    Args:
        X_train: training windows, ``(samples, window[, channels])``.
        y_train: training targets, ``(samples,)`` or ``(samples, outputs)``.
        X_test: windows to predict, same window length and channels as ``X_train``.

    Returns:
        Predictions for ``X_test``, shaped like ``y_train`` minus its first axis.

    Raises:
        ValueError: if sample counts or window shapes do not match.
    """
    from sklearn.linear_model import LinearRegression

    train = _flatten(X_train, name="X_train")
    test = _flatten(X_test, name="X_test")
    target = np.asarray(y_train, dtype=float)
    _check_pair(train, test, target)
    return LinearRegression().fit(train, target).predict(test)


def majority_class_baseline(y_train: Any, n: int) -> np.ndarray:
    """Predicts the most frequent training class for every sample.

    Ties go to the smallest class id (as scikit-learn's ``DummyClassifier``).

    Args:
        y_train: training labels, 1-D ids or one-hot rows.
        n: how many predictions to return.

    Returns:
        A ``(n,)`` array filled with the majority class.

    Raises:
        ValueError: if ``y_train`` is empty or ``n`` is negative.
    """
    ids = _class_ids(y_train, name="y_train")
    if ids.size == 0:
        raise ValueError("y_train is empty; the majority class needs at least one label")
    if n < 0:
        raise ValueError(f"n must be a non-negative number of predictions, got {n}")
    classes, counts = np.unique(ids, return_counts=True)
    return np.full(n, classes[np.argmax(counts)], dtype=ids.dtype)


def gradient_boosting_baseline(
    X_train: Any, y_train: Any, X_test: Any, *, seed: int = 0, **params: Any
) -> np.ndarray:
    """Histogram gradient boosting on flattened windows (scikit-learn).

    Args:
        X_train: training windows or feature rows, ``(samples, ...)``.
        y_train: training class ids (or one-hot rows).
        X_test: rows to predict, same per-sample shape as ``X_train``.
        seed: ``random_state`` of the classifier (it subsamples for early stopping).
        **params: further ``HistGradientBoostingClassifier`` arguments
            (``max_iter``, ``learning_rate``, ``class_weight`` ...).

    Returns:
        The predicted class ids for ``X_test``.

    Raises:
        ValueError: if sample counts or window shapes do not match.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = _flatten(X_train, name="X_train")
    test = _flatten(X_test, name="X_test")
    target = _class_ids(y_train, name="y_train")
    _check_pair(train, test, target)
    model = HistGradientBoostingClassifier(random_state=seed, **params)
    return model.fit(train, target).predict(test)


def random_forest_baseline(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    *,
    seed: int = 0,
    n_estimators: int = 100,
    n_jobs: int | None = 1,
    **params: Any,
) -> np.ndarray:
    """Random forest on flattened windows (scikit-learn).

    Args:
        X_train: training windows or feature rows, ``(samples, ...)``.
        y_train: training class ids (or one-hot rows).
        X_test: rows to predict, same per-sample shape as ``X_train``.
        seed: ``random_state`` of the forest.
        n_estimators: number of trees.
        n_jobs: parallel jobs (``-1``: all cores).
        **params: further ``RandomForestClassifier`` arguments.

    Returns:
        The predicted class ids for ``X_test``.

    Raises:
        ValueError: if sample counts or window shapes do not match.
    """
    from sklearn.ensemble import RandomForestClassifier

    train = _flatten(X_train, name="X_train")
    test = _flatten(X_test, name="X_test")
    target = _class_ids(y_train, name="y_train")
    _check_pair(train, test, target)
    model = RandomForestClassifier(
        n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, **params
    )
    return model.fit(train, target).predict(test)


# --------------------------------------------------------------------------- tables


def comparison_table(
    rows: Mapping[str, Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    index_name: str = "model",
) -> pd.DataFrame:
    """One row per model (original study, baselines, this run), one column per metric.

    Args:
        rows: ``{row name: {metric name: value}}``; rows may have different
            metrics (missing cells are NaN).
        columns: the columns to keep, in order. Defaults to every metric in
            first-seen order.
        index_name: name of the index.

    Returns:
        A ``pandas.DataFrame`` indexed by row name.

    Raises:
        ValueError: if ``rows`` is empty or ``columns`` names a metric no row has.
    """
    if not rows:
        raise ValueError("rows is empty; pass {model name: {metric: value}}")
    seen: dict[str, None] = {}
    for metrics in rows.values():
        seen.update(dict.fromkeys(metrics))
    if columns is None:
        columns = list(seen)
    else:
        missing = [column for column in columns if column not in seen]
        if missing:
            raise ValueError(f"columns {missing} appear in no row; available metrics: {list(seen)}")
    frame = pd.DataFrame.from_dict(
        {name: dict(metrics) for name, metrics in rows.items()}, orient="index"
    )
    frame = frame.reindex(columns=list(columns))
    frame.index.name = index_name
    return frame
