"""Rebalancing classes of windows with imbalanced-learn, for 2-D and 3-D arrays.

.. warning::
   **Resample training folds only.** Oversampling before a split puts synthetic
   copies of validation or test windows into training (SMOTE interpolates between
   neighbours, so a synthetic window carries its neighbours' readings), and
   undersampling a test set changes the class mix the metrics describe. Split
   first (:mod:`lib.splits`), then resample only the training part of each fold;
   the tuning code does this per fold. These functions cannot tell which part
   they are given and refuse nothing, so this is on the caller.

* :func:`resample`: SMOTE, ADASYN, random over- and under-sampling; 3-D windows
  ``(n, length, channels)`` are flattened to ``(n, length * channels)``, resampled
  and reshaped back (SMOTE then interpolates whole windows).
* :func:`drop_windows`: drop a fraction of the windows of one class (the MHEALTH
  study drops 95 % of the null-class windows).
* :func:`class_weights`: balanced weights for ``model.fit(class_weight=...)``,
  the alternative that changes no data.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from imblearn.utils import check_sampling_strategy
from sklearn.utils.class_weight import compute_class_weight

__all__ = ["METHODS", "resample", "oversample_minorities", "drop_windows", "class_weights"]

METHODS = ("smote", "adasyn", "random_over", "random_under")


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim not in (2, 3):
        raise ValueError(
            f"X must be 2-D (n, features) or 3-D (n, length, channels); got shape {X.shape}"
        )
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels; got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}; pass one label each")
    if X.shape[0] == 0:
        raise ValueError("X is empty; nothing to resample")
    return X, y


def _check_finite(X: np.ndarray) -> None:
    """Raises ValueError when ``X`` holds NaN or inf, counting the values and samples."""
    if X.dtype.kind in "fc":
        values = X
    elif X.dtype.kind == "O":
        try:
            values = X.astype(np.float64)
        except (TypeError, ValueError):
            return  # not numbers; imbalanced-learn reports that itself
    else:
        return  # integers and booleans are always finite
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    n_nan = int(np.isnan(values).sum())
    n_inf = int(bad.sum()) - n_nan
    rows = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))
    shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
    raise ValueError(
        f"X holds {n_nan + n_inf} non-finite values ({n_nan} NaN, {n_inf} inf) in "
        f"{rows.size} of its {len(values)} samples (rows {shown}); the samplers would copy "
        "or interpolate them into the resampled set. Drop or impute those samples (or "
        "readings) before resampling"
    )


def resample(
    X: Any,
    y: Any,
    *,
    method: Any = "smote",
    seed: int = 0,
    k_neighbors: int = 5,
    sampling_strategy: Any = "auto",
    reduce_k: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Over- or under-samples classes of a **training** set (see the module warning).

    Args:
        X: ``(n, features)`` or ``(n, length, channels)`` windows, without NaN or inf.
        y: ``(n,)`` class labels.
        method: ``"smote"``, ``"adasyn"``, ``"random_over"``, ``"random_under"``,
            or an imbalanced-learn sampler instance (used as given).
        seed: ``random_state`` of the sampler.
        k_neighbors: neighbours for SMOTE (``k_neighbors``) and ADASYN
            (``n_neighbors``); every class to be oversampled needs more members
            than this.
        sampling_strategy: as in imbalanced-learn (``"auto"``, ``"minority"``,
            a float or ``{class: n_samples}``).
        reduce_k: when a class to oversample has too few members for
            ``k_neighbors``, lower ``k_neighbors`` to (smallest such class - 1)
            and warn, instead of raising.

    Returns:
        ``(X_res, y_res)`` with ``X_res`` shaped like ``X`` except for the
        number of samples; original samples come first for the oversamplers.

    Raises:
        ValueError: on an unknown method, wrong dimensions, NaN or inf, or a class too
            small for ``k_neighbors`` (always for a 1-sample class, which SMOTE
            cannot interpolate; use ``"random_over"`` there).
    """
    X, y = _check_xy(X, y)
    _check_finite(X)
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or a sampler; got {method!r}")
        if method in ("smote", "adasyn"):
            k_neighbors = _checked_k(y, k_neighbors, sampling_strategy, method, reduce_k)
        sampler = {
            "smote": lambda: SMOTE(
                sampling_strategy=sampling_strategy, random_state=seed, k_neighbors=k_neighbors
            ),
            "adasyn": lambda: ADASYN(
                sampling_strategy=sampling_strategy, random_state=seed, n_neighbors=k_neighbors
            ),
            "random_over": lambda: RandomOverSampler(
                sampling_strategy=sampling_strategy, random_state=seed
            ),
            "random_under": lambda: RandomUnderSampler(
                sampling_strategy=sampling_strategy, random_state=seed
            ),
        }[method]()
    elif hasattr(method, "fit_resample"):
        sampler = method
    else:
        raise ValueError(f"method must be one of {METHODS} or a sampler; got {method!r}")
    flat = X.reshape(X.shape[0], -1)
    X_res, y_res = sampler.fit_resample(flat, y)
    X_res = np.asarray(X_res, dtype=X.dtype if X.dtype.kind == "f" else None)
    return X_res.reshape((-1, *X.shape[1:])), np.asarray(y_res)


def oversample_minorities(
    X: Any,
    y: Any,
    target: int,
    *,
    method: Any = "smote",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Raises every class smaller than ``target`` to ``target`` samples (training data only).

    Classes already at or above ``target`` are left as they are, so the majority class
    keeps its size and the training set grows by much less than full balancing would
    (SMOTE lowers its neighbour count for classes with few members, with a warning).

    Args:
        X: ``(n, features)`` or ``(n, length, channels)`` windows.
        y: ``(n,)`` integer class labels.
        target: samples per minority class afterwards.
        method: an oversampling method of :func:`resample` (``"smote"``, ``"random_over"``,
            ``"adasyn"``).
        seed: ``random_state`` of the sampler.

    Returns:
        ``(X_res, y_res)``; the inputs themselves when no class is below ``target``.

    Raises:
        ValueError: ``target`` is not positive, ``method`` is ``"random_under"``, or ``X``
            holds NaN or inf.
    """
    X, y = _check_xy(X, y)
    _check_finite(X)
    if target < 1:
        raise ValueError(f"target must be a positive number of samples per class, got {target}")
    if method == "random_under":
        raise ValueError("oversample_minorities needs an oversampling method, got 'random_under'")
    classes, counts = np.unique(y, return_counts=True)
    strategy = {c.item(): int(target) for c, n in zip(classes, counts, strict=True) if n < target}
    if not strategy:
        return X, y
    return resample(X, y, method=method, sampling_strategy=strategy, seed=seed, reduce_k=True)


def _checked_k(y: np.ndarray, k: int, strategy: Any, method: str, reduce_k: bool) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k_neighbors must be a positive int; got {k!r}")
    targets = check_sampling_strategy(strategy, y, "over-sampling")
    classes, counts = np.unique(y, return_counts=True)
    count = dict(zip(classes.tolist(), counts.tolist(), strict=True))
    plain = {c: c.item() if isinstance(c, np.generic) else c for c in targets}
    grown = {plain[c]: count[plain[c]] for c, extra in targets.items() if extra > 0}
    if not grown:
        return k
    smallest_class = min(grown, key=grown.get)
    smallest = grown[smallest_class]
    if smallest > k:
        return k
    if smallest < 2:
        raise ValueError(
            f"class {smallest_class!r} has 1 sample; {method} needs at least 2 to interpolate. "
            "Use method='random_over', exclude the class from sampling_strategy, or gather "
            "more samples"
        )
    if not reduce_k:
        raise ValueError(
            f"class {smallest_class!r} has {smallest} samples but {method} needs more than "
            f"k_neighbors={k}; pass k_neighbors<={smallest - 1}, reduce_k=True to lower it "
            "automatically, or method='random_over'"
        )
    warnings.warn(
        f"{method}: class {smallest_class!r} has only {smallest} samples; "
        f"k_neighbors reduced from {k} to {smallest - 1}",
        UserWarning,
        stacklevel=3,
    )
    return smallest - 1


def drop_windows(
    X: Any,
    y: Any,
    label: Any,
    p: float,
    seed: int = 0,
    *,
    return_index: bool = False,
) -> tuple[np.ndarray, ...]:
    """Drops a fraction ``p`` of the windows labelled ``label`` (training folds only).

    Exactly ``round(p * count)`` windows of that class are dropped, chosen at
    random; order is kept.

    Args:
        X: windows, first axis samples.
        y: ``(n,)`` labels.
        label: the class to thin out (0, the null class, in MHEALTH).
        p: fraction to drop, in [0, 1].
        seed: seed of the choice.
        return_index: also return the kept indices (to subset groups or times).

    Returns:
        ``(X_kept, y_kept)`` or ``(X_kept, y_kept, kept_index)``.

    Raises:
        ValueError: on ``p`` outside [0, 1] or mismatched lengths.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1 or X.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X (shape {X.shape}) and y (shape {y.shape}) must have the same number of samples "
            "and y must be 1-D"
        )
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a fraction in [0, 1]; got {p}")
    candidates = np.flatnonzero(y == label)
    n_drop = int(round(p * candidates.size))
    rng = np.random.default_rng(seed)
    keep = np.ones(y.size, dtype=bool)
    keep[rng.choice(candidates, size=n_drop, replace=False)] = False
    index = np.flatnonzero(keep)
    if return_index:
        return X[index], y[index], index
    return X[index], y[index]


def class_weights(y: Any, *, classes: Any = None) -> dict[Any, float]:
    """Balanced class weights ``n / (n_classes * count)`` for ``model.fit(class_weight=...)``.

    Args:
        y: training labels.
        classes: all classes to weight (default: those present in ``y``);
            a class absent from ``y`` raises, as in scikit-learn.

    Returns:
        ``{class: weight}`` with plain Python keys and float weights.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D label array; got shape {y.shape}")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {c: float(w) for c, w in zip(classes.tolist(), weights, strict=True)}
