"""Classification metrics of many models at once, from their confusion matrices.

The same definitions as :func:`lib.evaluation.classification_metrics` (scikit-learn with
``zero_division=0``), vectorised over a leading model axis so that a stack of models is scored
every epoch without a loop over models or rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrices(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrices ``(models, true class, predicted class)``.

    Args:
        y_true: ``(rows,)`` integer class ids in ``0..num_classes-1``.
        y_pred: ``(models, rows)`` predicted class ids.
        num_classes: number of classes.

    Returns:
        An int64 array ``(models, num_classes, num_classes)``.
    """
    models = y_pred.shape[0]
    offsets = np.arange(models, dtype=np.int64)[:, None] * (num_classes * num_classes)
    index = offsets + y_true[None, :].astype(np.int64) * num_classes + y_pred.astype(np.int64)
    counts = np.bincount(index.ravel(), minlength=models * num_classes * num_classes)
    return counts.reshape(models, num_classes, num_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def confusion_metrics(
    confusion: np.ndarray, labels: Sequence[int] | None = None
) -> dict[str, np.ndarray]:
    """Per-model metrics with the names of :func:`lib.evaluation.classification_metrics`.

    Args:
        confusion: ``(models, classes, classes)`` counts (true class first).
        labels: the classes to score. Default: per model, the classes present in its true
            or predicted labels (what ``classification_metrics`` does without ``labels``).

    Returns:
        ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``, ``weighted_f1``
        and ``recall_<class>`` for every class, each a ``(models,)`` float array.
        ``recall_<class>`` is NaN for a model whose label set lacks that class.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    classes = confusion.shape[1]
    true_positive = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    if labels is None:
        scored = (support > 0) | (predicted > 0)
    else:
        scored = np.zeros(confusion.shape[:2], dtype=bool)
        scored[:, list(labels)] = True
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2 * true_positive, support + predicted)
    count = scored.sum(axis=1)
    weights = support * scored
    result = {
        "accuracy": _ratio(true_positive.sum(axis=1), confusion.sum(axis=(1, 2))),
        "macro_precision": _ratio((precision * scored).sum(axis=1), count),
        "macro_recall": _ratio((recall * scored).sum(axis=1), count),
        "macro_f1": _ratio((f1 * scored).sum(axis=1), count),
        "weighted_f1": _ratio((f1 * weights).sum(axis=1), weights.sum(axis=1)),
    }
    for label in range(classes):
        result[f"recall_{label}"] = np.where(scored[:, label], recall[:, label], np.nan)
    return result
