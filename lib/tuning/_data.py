"""The data of a search: validation split or folds, input checks, content fingerprints."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib import splits as lib_splits
from lib.evaluation import metric_direction


@dataclass
class Data:
    """Training data of a search, with validation data or folds.

    Attributes:
        x_train: training inputs (2-D features or 3-D windows); with folds, all the data
            the folds are drawn from.
        y_train: training targets (1-D integer labels, or real values).
        x_val: validation inputs, or None when the search uses folds.
        y_val: validation targets, or None.
        groups: group of every training row (subject, record) for grouped folds, or None.
    """

    x_train: Any
    y_train: Any
    x_val: Any = None
    y_val: Any = None
    groups: Any = None


def direction_of(name: str) -> str:
    """``"min"`` or ``"max"`` for a metric name (:func:`lib.evaluation.metric_direction`:
    KerasTuner's inference for Keras metrics); an unknown name is a ``ValueError``."""
    return metric_direction(name)


def class_labels(y: np.ndarray) -> list:
    """The classes of a target array: sorted labels (1-D) or column indices (one-hot)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return list(range(y.shape[1]))
    return [v.item() for v in np.unique(y.reshape(-1))]


def engine_metric_names(task: str, labels: Sequence | None) -> list[str]:
    """The ``val_*`` names the engine computes for a task (with these class labels)."""
    from lib.evaluation import classification_metrics, regression_metrics

    if task == "classification":
        labels = list(labels or [0, 1])
        names = classification_metrics(np.asarray(labels), np.asarray(labels), labels=labels)
    else:
        names = regression_metrics(np.zeros(2), np.zeros(2))
    return [f"val_{k}" for k in names]


def infer_task(objective: str, y: np.ndarray, task: str | None) -> str:
    """``task`` if given, else from the objective's name, else from the targets: integer,
    boolean or one-hot targets (also as floats, as ``keras.utils.to_categorical`` makes them)
    are classes, other real values a regression."""
    if task is not None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        return task
    bare = objective[4:] if objective.startswith("val_") else objective
    if bare in ("mse", "mae", "rmse"):
        return "regression"
    if bare in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1"):
        return "classification"
    if bare.startswith("recall_"):
        return "classification"
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool or _one_hot(y):
        return "classification"
    return "regression"


def _one_hot(y: np.ndarray) -> bool:
    """True for one-hot rows (2-D, several columns, each row one 1 and zeros), float or not."""
    if y.ndim != 2 or y.shape[1] < 2 or not np.issubdtype(y.dtype, np.number) or not len(y):
        return False
    return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())


def make_splits(
    data: Data, folds: Any, *, task: str, seed: int
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Fold index pairs over ``x_train`` (stratified / grouped as the data allows), or None."""
    if folds is None:
        if data.x_val is None or data.y_val is None:
            raise ValueError(
                "no validation data: pass data with x_val and y_val, or folds=k (an int) or a "
                "list of (train_idx, val_idx) pairs"
            )
        return None
    if data.x_val is not None:
        raise ValueError(
            "both folds and x_val were given; with folds the validation rows come from "
            "x_train. Drop x_val/y_val or pass folds=None"
        )
    n = len(data.x_train)
    if isinstance(folds, (int, np.integer)):  # the folds of lib.splits, seeded by the search
        k = int(folds)
        if k < 2:
            raise ValueError(f"folds must be at least 2, got {k}")
        y = np.asarray(data.y_train)
        labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(n, -1)[:, 0]
        if task == "classification":
            pairs = lib_splits.stratified_kfold(labels, k, seed, groups=data.groups)
        elif data.groups is not None:
            pairs = lib_splits.group_kfold(data.groups, k, seed=None)
        else:
            pairs = lib_splits.kfold(n, k, seed)
        return [
            (np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)) for tr, va in pairs
        ]
    splits = []
    for number, pair in enumerate(folds):
        try:
            tr, va = pair
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"fold {number} must be a (train_idx, val_idx) pair, got {type(pair).__name__}"
            ) from error
        tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
        if np.intersect1d(tr, va).size:
            raise ValueError(f"fold {number}: training and validation indices overlap")
        if (
            tr.size == 0
            or va.size == 0
            or max(tr.max(), va.max()) >= n
            or min(tr.min(), va.min()) < 0
        ):
            raise ValueError(f"fold {number}: indices must be non-empty and within [0, {n})")
        splits.append((tr, va))
    if not splits:
        raise ValueError("folds is an empty list; give at least one (train_idx, val_idx) pair")
    return splits


def _digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(str((array.shape, array.dtype.str)).encode())
    h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def fingerprint(arrays: dict[str, np.ndarray], splits: list | None) -> tuple[dict, str | None]:
    """Content hashes of the data arrays and of the folds (what resume must match)."""
    data = {name: _digest(np.asarray(a)) for name, a in sorted(arrays.items())}
    folds = None
    if splits is not None:
        h = hashlib.blake2b(digest_size=16)
        for tr, va in splits:
            h.update(_digest(tr).encode())
            h.update(_digest(va).encode())
        folds = h.hexdigest()
    return data, folds


def _nonfinite_rows(array: np.ndarray) -> int:
    """Rows of ``array`` holding NaN or infinity (0 for non-float arrays)."""
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(
        array.dtype, np.complexfloating
    ):
        return 0
    bad = ~np.isfinite(array.reshape(len(array), -1))
    return int(bad.any(axis=1).sum())


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_target_dtype(name: str, y: np.ndarray) -> None:
    if y.dtype == object or y.dtype.kind in "USV":
        raise ValueError(
            f"{name} has dtype {y.dtype} (e.g. {y.reshape(-1)[:3].tolist()}); a search needs "
            "numeric targets: integer class ids 0..k-1 for classification (encode the labels "
            "with lib.labels.encode_labels, which keeps the class names) or floats for "
            "regression"
        )
    bad = _nonfinite_rows(y) if len(y) else 0
    if bad:
        raise ValueError(
            f"{name} has {bad} of {len(y)} rows with NaN or infinity; a target must be a class "
            "id or a finite value. Drop those rows (e.g. keep = np.isfinite(y)) before the "
            "search"
        )


def _check_float32_range(name: str, x: np.ndarray) -> None:
    """Refuses values that are finite here but infinite once Keras casts them to float32."""
    if x.dtype.kind != "f" or x.dtype.itemsize <= 4 or not x.size:
        return  # float32 / float16 and integers (at most 9.2e18) fit
    largest = float(np.nanmax(np.abs(np.where(np.isfinite(x), x, 0.0))))
    if largest > FLOAT32_MAX:
        raise ValueError(
            f"{name} holds values up to {largest:.3g}, beyond float32's range (+-3.4e38); Keras "
            "trains in float32, where they become infinity and every trial scores garbage. "
            "Scale the inputs first (e.g. lib.scaling.ChannelScaler, or divide by a constant)"
        )


def check_inputs(data: Data, *, epochs: int, allow_nonfinite: bool = False) -> None:
    """Refuses inputs that would train on garbage, before any trial starts.

    Checks row counts of every pair, numeric targets, NaN / infinity in the inputs and the
    number of epochs.

    Raises:
        ValueError: what was expected, what was found and what to do.
    """
    if int(epochs) <= 0:
        raise ValueError(
            f"epochs must be at least 1, got {epochs}: a trial with no epoch scores an "
            "untrained model"
        )
    if data.x_train is None or len(data.x_train) == 0:
        raise ValueError("x_train is empty; a search needs training rows")
    pairs = [("x_train", data.x_train, "y_train", data.y_train)]
    if data.x_val is not None or data.y_val is not None:
        if data.x_val is None or data.y_val is None:
            raise ValueError(
                "give both x_val and y_val (validation_data=(x_val, y_val)), or neither"
            )
        pairs.append(("x_val", data.x_val, "y_val", data.y_val))
    for x_name, x, y_name, y in pairs:
        if len(x) != len(y):
            raise ValueError(
                f"{x_name} has {len(x)} rows but {y_name} has {len(y)}; give one target per row"
            )
        _check_target_dtype(y_name, np.asarray(y))
        x = np.asarray(x)
        if not len(x):
            raise ValueError(
                f"{x_name} is empty (shape {x.shape}); a search needs rows in both the training "
                "and the validation set. Give more rows or another split"
            )
        if x.dtype == object or x.dtype.kind in "USV":
            raise ValueError(
                f"{x_name} has dtype {x.dtype} (e.g. {x.reshape(-1)[:3].tolist()}); a search "
                "needs numeric inputs. Convert them (np.asarray(x, dtype='float32')) or encode "
                "text columns first"
            )
        _check_float32_range(x_name, x)
        bad = _nonfinite_rows(x)
        if bad and not allow_nonfinite:
            raise ValueError(
                f"{x_name} has {bad} of {len(x)} rows with NaN or infinity; trials would score "
                "garbage. Impute or drop those rows, or pass allow_nonfinite=True if the model "
                "handles them (e.g. a Masking layer)"
            )
    if data.groups is not None and len(data.groups) != len(data.x_train):
        raise ValueError(
            f"groups has {len(data.groups)} entries but x_train has {len(data.x_train)} rows"
        )


def check_labels(data: Data, outputs: int | None) -> None:
    """Refuses class labels that do not fit a model with ``outputs`` units, or each other.

    Args:
        data: the search data (classification).
        outputs: size of the model's last axis (1 for a sigmoid output), or None if unknown.

    Raises:
        ValueError: labels outside ``0..k-1``, non-integer labels, or a validation class the
            training data does not hold.
    """
    y = np.asarray(data.y_train)
    if y.ndim == 2 and y.shape[1] > 1:
        return  # one-hot targets: their width is checked by Keras itself
    flat = y.reshape(-1)
    if not np.all(np.isfinite(flat.astype(float))) or np.any(flat != np.round(flat)):
        raise ValueError(
            "y_train holds non-integer values for a classification objective; give class ids "
            "0..k-1, or use a regression objective (val_mse) with task='regression'"
        )
    train_classes = set(np.unique(flat).tolist())
    k = max(int(outputs or 0), 2)
    outside = sorted(c for c in train_classes if c < 0 or c >= k)
    if outputs is not None and outside:
        raise ValueError(
            f"y_train holds classes {outside} outside 0..{k - 1}, but the model has {outputs} "
            f"output unit(s); encode the labels as 0..k-1 (lib.labels.encode_labels) or build "
            "the model with one output per class"
        )
    if data.y_val is not None:
        val_classes = set(np.unique(np.asarray(data.y_val).reshape(-1)).tolist())
        missing = sorted(val_classes - train_classes)
        if missing:
            raise ValueError(
                f"y_val holds classes {missing} that y_train does not; a model cannot learn a "
                "class it never sees. Split stratified (sklearn's train_test_split(x, y, "
                "stratify=y)) or drop those rows"
            )


def _class_ids(y: Any) -> np.ndarray:
    y = np.asarray(y)
    return y.argmax(axis=1) if _one_hot(y) else y.reshape(len(y), -1)[:, 0]


def check_classes(data: Data, *, validation_split: bool = False) -> None:
    """Refuses a classification search whose training rows, or validation rows, hold one
    class only; warns when the validation rows miss classes the training rows hold.

    Raises:
        ValueError: one class in ``y_train`` (nothing to learn: every trial would score its
            share), or in ``y_val`` while ``y_train`` holds several (the score would measure
            one class only).
    """
    import warnings

    train = np.unique(_class_ids(data.y_train))
    fix = (
        "Split stratified: x_train, x_val, y_train, y_val = sklearn.model_selection."
        "train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)"
    )
    if len(train) < 2:
        raise ValueError(
            f"y_train holds one class only ({train.tolist()}); a classifier has nothing to "
            "learn and every trial would score that class's share. Give rows of at least two "
            "classes (or a regression objective for real-valued targets)"
        )
    if data.y_val is None:
        return
    val = np.unique(_class_ids(data.y_val))
    where = "the last rows that validation_split took" if validation_split else "y_val"
    if len(val) < 2:
        raise ValueError(
            f"{where} hold(s) one class only ({val.tolist()}) while y_train holds "
            f"{len(train)}; every trial's score would measure that class alone. {fix}"
        )
    missing = sorted(set(train.tolist()) - set(val.tolist()))
    if missing:
        warnings.warn(
            f"{where} miss(es) classes {missing} that y_train holds: the score says nothing "
            f"about them. {fix}",
            UserWarning,
            stacklevel=4,
        )
