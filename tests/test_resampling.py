"""Tests of lib.resampling: shapes and class counts, equality with imbalanced-learn on
flattened arrays, errors on classes too small for SMOTE."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from lib.resampling import class_weights, drop_windows, resample


def _data(counts=(40, 12, 6), shape=(5, 2), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.standard_normal((y.size, *shape)) + y.reshape(-1, 1, 1)
    return X.astype(np.float32), y


def test_smote_3d_shapes_counts_and_equality_with_imblearn():
    X, y = _data()
    X_res, y_res = resample(X, y, method="smote", seed=3)
    assert X_res.shape == (3 * 40, 5, 2) and X_res.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y_res), [40, 40, 40])
    flat, y_flat = SMOTE(random_state=3).fit_resample(X.reshape(len(X), -1), y)
    np.testing.assert_allclose(X_res.reshape(len(X_res), -1), flat)
    np.testing.assert_array_equal(y_res, y_flat)
    np.testing.assert_array_equal(X_res[: len(X)], X)  # originals first
    # synthetic windows interpolate their own class: inside its per-feature range
    for label in (1, 2):
        own = X[y == label]
        new = X_res[len(X) :][y_res[len(X) :] == label]
        assert (new >= own.min(axis=0) - 1e-6).all() and (new <= own.max(axis=0) + 1e-6).all()


def test_2d_and_3d_give_the_same_samples():
    X, y = _data()
    X3, y3 = resample(X, y, method="adasyn", seed=1)
    X2, y2 = resample(X.reshape(len(X), -1), y, method="adasyn", seed=1)
    np.testing.assert_allclose(X3.reshape(len(X3), -1), X2)
    np.testing.assert_array_equal(y3, y2)
    assert X3.shape[1:] == (5, 2) and len(np.unique(y3)) == 3


@pytest.mark.parametrize(
    ("method", "expected"), [("random_over", [40, 40, 40]), ("random_under", [6, 6, 6])]
)
def test_random_samplers_balance(method, expected):
    X, y = _data()
    X_res, y_res = resample(X, y, method=method, seed=0)
    np.testing.assert_array_equal(np.bincount(y_res), expected)
    # random samplers only copy real windows
    real = {row.tobytes() for row in X}
    assert all(row.tobytes() in real for row in X_res)


def test_sampling_strategy_is_passed_through():
    X, y = _data()
    _, y_res = resample(X, y, sampling_strategy={2: 20}, seed=0)
    np.testing.assert_array_equal(np.bincount(y_res), [40, 12, 20])


def test_too_few_samples_for_k_raise_or_reduce_with_warning():
    X, y = _data(counts=(30, 4))
    with pytest.raises(ValueError, match="class 1 has 4 samples .* k_neighbors=5"):
        resample(X, y, method="smote")
    with pytest.warns(UserWarning, match="k_neighbors reduced from 5 to 3"):
        X_res, y_res = resample(X, y, method="smote", reduce_k=True)
    np.testing.assert_array_equal(np.bincount(y_res), [30, 30])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resample(X, y, method="smote", k_neighbors=3)  # enough samples: no warning


def test_one_sample_class_always_raises():
    X, y = _data(counts=(30, 1))
    with pytest.raises(ValueError, match="class 1 has 1 sample"):
        resample(X, y, method="smote", reduce_k=True)
    _, y_res = resample(X, y, method="random_over")
    np.testing.assert_array_equal(np.bincount(y_res), [30, 30])


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (np.zeros(5), np.zeros(5), {}, "2-D"),
        (np.zeros((5, 2, 2, 2)), np.zeros(5), {}, "2-D"),
        (np.zeros((5, 2)), np.zeros(4), {}, "5 samples but y has 4"),
        (np.zeros((5, 2)), np.zeros((5, 1)), {}, "1-D"),
        (np.full((5, 2), np.nan), np.zeros(5), {}, "NaN"),
        (np.zeros((5, 2)), np.zeros(5), {"method": "tomek"}, "method"),
        (np.zeros((5, 2)), np.zeros(5), {"k_neighbors": 0}, "k_neighbors"),
    ],
)
def test_resample_errors(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        resample(X, y, **kwargs)


def test_drop_windows_drops_the_asked_fraction_of_one_class():
    X, y = _data(counts=(100, 20, 10))
    X_kept, y_kept, index = drop_windows(X, y, 0, 0.95, seed=4, return_index=True)
    np.testing.assert_array_equal(np.bincount(y_kept), [5, 20, 10])
    np.testing.assert_array_equal(X_kept, X[index])
    assert np.all(np.diff(index) > 0)  # order kept
    X_again, _ = drop_windows(X, y, 0, 0.95, seed=4)
    np.testing.assert_array_equal(X_again, X_kept)
    _, _, other = drop_windows(X, y, 0, 0.95, seed=5, return_index=True)
    assert not np.array_equal(other, index)
    with pytest.raises(ValueError, match="fraction"):
        drop_windows(X, y, 0, 1.5)
    with pytest.raises(ValueError, match="same number of samples"):
        drop_windows(X, y[:-1], 0, 0.5)


def test_class_weights_are_balanced():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    weights = class_weights(y)
    assert list(weights) == [0, 1, 2] and all(type(k) is int for k in weights)
    for label, count in zip([0, 1, 2], [60, 30, 10], strict=True):
        assert weights[label] == pytest.approx(100 / (3 * count))
    # weighted class totals are equal
    totals = [weights[c] * n for c, n in zip([0, 1, 2], [60, 30, 10], strict=True)]
    assert np.allclose(totals, totals[0])
    with pytest.raises(ValueError):
        class_weights(y, classes=[0, 1, 2, 3])


@pytest.mark.parametrize("method", ["smote", "random_over"])
def test_oversample_minorities_raises_small_classes_to_the_target_only(method):
    from lib.resampling import oversample_minorities

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [500, 40, 8, 300])
    X = rng.normal(size=(y.size, 6, 2)) + y[:, None, None]
    X_res, y_res = oversample_minorities(X, y, 200, method=method, seed=1)
    assert X_res.shape[1:] == X.shape[1:]
    assert np.bincount(y_res).tolist() == [500, 200, 200, 300]
    np.testing.assert_array_equal(X_res[: y.size], X)  # originals first
    same, _ = oversample_minorities(X, y, 5)
    assert same is not None and len(same) == len(y)
    with pytest.raises(ValueError, match="oversampling"):
        oversample_minorities(X, y, 200, method="random_under")


@pytest.mark.parametrize("method", ["random_over", "smote", "adasyn", "random_under"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_resample_refuses_non_finite_windows_instead_of_copying_them(method, bad):
    X, y = _data(counts=(20, 8))
    X[25, 2, 1] = bad  # a minority window: random_over would copy it, SMOTE interpolate it
    X[3, 0, 0] = bad
    with pytest.raises(
        ValueError,
        match=r"2 non-finite values .* in 2 of its 28 samples \(rows 3, 25\).*Drop or impute",
    ):
        resample(X, y, method=method, k_neighbors=3)
    with pytest.raises(ValueError, match="non-finite"):  # object arrays are checked too
        resample(X.astype(object), y, method=method, k_neighbors=3)


def test_oversample_minorities_refuses_non_finite_windows():
    from lib.resampling import oversample_minorities

    X, y = _data(counts=(20, 8))
    X[25, 0, 0] = np.inf
    for target in (30, 5):  # with and without resampling to do
        with pytest.raises(ValueError, match="1 non-finite values .*1 inf"):
            oversample_minorities(X, y, target, method="random_over")
