"""Tests of lib.padding: alignment with full windows, padding sides, masking."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.padding import MASK_VALUE, streaming_windows
from lib.windows import sliding_windows


def ref_streaming(x, length, horizon, min_history, padding, value):
    rows, ys, hs = [], [], []
    for h in range(min_history, len(x) - horizon + 1):
        history = x[max(0, h - length) : h]
        filler = np.full((length - len(history),) + x.shape[1:], value)
        parts = [filler, history] if padding == "pre" else [history, filler]
        rows.append(np.concatenate(parts))
        ys.append(x[h + horizon - 1])
        hs.append(len(history))
    return np.array(rows), np.array(ys), np.array(hs)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 40),
    length=st.integers(1, 8),
    horizon=st.integers(0, 4),
    min_history=st.integers(1, 8),
    padding=st.sampled_from(["pre", "post"]),
    seed=st.integers(0, 1000),
)
def test_streaming_equals_reference(n, length, horizon, min_history, padding, seed):
    if min_history > length or min_history + horizon > n:
        return
    x = np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)
    X, y, history = streaming_windows(
        x, length, horizon=horizon, min_history=min_history, padding=padding, value=-3.0
    )
    X_ref, y_ref, h_ref = ref_streaming(x, length, horizon, min_history, padding, -3.0)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(history, h_ref)


def test_full_rows_are_the_sliding_windows_and_targets_align():
    x = np.arange(40, dtype=np.float32)
    X, y, history = streaming_windows(x, 30, horizon=5, min_history=2)
    X_full, y_full = sliding_windows(x, 30, horizon=5)
    assert len(X) == 40 - 5 - 2 + 1
    np.testing.assert_array_equal(X[30 - 2 :], X_full)
    np.testing.assert_array_equal(y[30 - 2 :], y_full)
    # first row: two readings seen, pre-padded with zeros, predicts reading 2 + 5 - 1
    np.testing.assert_array_equal(X[0], np.r_[np.zeros(28), 0.0, 1.0])
    assert y[0] == 6.0 and history[0] == 2 and history[-1] == 30


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_padding_gives_the_short_history_prediction(padding):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((12, 2)).astype(np.float32)
    X, _, history = streaming_windows(x, 6, horizon=1, min_history=2, padding=padding, mask=True)
    assert (X == MASK_VALUE).any()
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.Masking(mask_value=MASK_VALUE),
            keras.layers.LSTM(3),
            keras.layers.Dense(1),
        ]
    )
    padded = np.asarray(model(X[:4], training=False))  # predict() would trace every length
    for k in range(4):
        short = np.asarray(model(x[None, : history[k]], training=False))
        np.testing.assert_allclose(padded[k], short[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.array([0.0, np.nan, 1.0, 2.0, 3.0]), {}, "NaN"),
        (np.zeros(10), {"min_history": 0}, "min_history"),
        (np.zeros(10), {"min_history": 5}, "min_history"),
        (np.zeros(10), {"padding": "middle"}, "padding"),
        (np.zeros(3), {"horizon": 3}, "too short"),
        (np.zeros((3, 2, 2)), {}, "1-D"),
        (np.r_[1.0, MASK_VALUE, 2.0, 3.0, 4.0], {"mask": True}, "padding value"),
    ],
)
def test_streaming_errors(x, kwargs, match):
    kwargs = {"horizon": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        streaming_windows(x, 4, **kwargs)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_streaming_refuses_inf_readings_and_targets(bad):
    x = np.arange(12, dtype=np.float64)
    x[4] = bad
    with pytest.raises(ValueError, match=r"x must be finite.*rows 4"):
        streaming_windows(x, 3, horizon=1)
    target = np.arange(12, dtype=np.float64)
    target[7] = bad
    with pytest.raises(ValueError, match=r"target must be finite on the rows predicted.*rows 7\)"):
        streaming_windows(np.zeros(12), 3, horizon=1, target=target)
    target[7], target[0] = 7.0, bad  # row 0 is never predicted (min_history=2): fine
    assert np.isfinite(streaming_windows(np.zeros(12), 3, horizon=1, target=target)[1]).all()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, "0", None])
def test_streaming_refuses_a_non_finite_filler(value):
    x = np.arange(12, dtype=np.float64)
    if value is None:  # the default filler is fine
        assert np.isfinite(streaming_windows(x, 4, horizon=1, value=value)[0]).all()
        return
    with pytest.raises(ValueError, match="value .*must be"):
        streaming_windows(x, 4, horizon=1, value=value)
    with pytest.raises(ValueError, match="value .*must be"):
        streaming_windows(x, 4, horizon=1, value=value, mask=True)
