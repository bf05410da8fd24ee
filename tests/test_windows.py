"""Tests of lib.windows against plain-loop reference implementations."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import MinMaxScaler

from lib.windows import (
    ChannelScaler,
    WindowFeed,
    bouts,
    segment_windows,
    sliding_windows,
    sliding_windows_segments,
    standardize_groups,
    window_starts,
)

FAST = settings(max_examples=40, deadline=None)


# --------------------------------------------------------------------------- references


def ref_sliding(x, length, horizon, stride=1):
    xs, ys = [], []
    for i in range(0, len(x) - length - horizon + 1, stride):
        xs.append(x[i : i + length])
        ys.append(x[i + length + horizon - 1])
    return np.array(xs), np.array(ys)


def ref_segments(x, length, horizon, ids, stride):
    """Windows whose rows (and target) are all valid and in one contiguous run; the
    stride counts from the first row of that run."""
    valid = ~np.isnan(x).any(axis=1)
    starts = []
    for i in range(len(x) - length - horizon + 1):
        span = slice(i, i + length + horizon)
        if valid[span].all() and len(set(ids[span].tolist())) == 1:
            first = i
            while first > 0 and valid[first - 1] and ids[first - 1] == ids[i]:
                first -= 1
            if (i - first) % stride == 0:
                starts.append(i)
    return np.array(starts, dtype=np.int64)


def ref_segment_windows(values, labels, keys, length, stride, policy):
    xs, ys, gs = [], [], []
    start = 0
    n = len(values)
    for end in range(1, n + 1):
        if end == n or any(k[end] != k[end - 1] for k in keys):
            for i in range(start, end - length + 1, stride):
                window = labels[i : i + length]
                if policy == "max":
                    lab = window.max()
                elif policy == "last":
                    lab = window[-1]
                else:
                    vals, counts = np.unique(window, return_counts=True)
                    lab = vals[np.argmax(counts)]
                xs.append(values[i : i + length])
                ys.append(lab)
                gs.append(keys[0][i])
            start = end
    return np.array(xs), np.array(ys), np.array(gs)


# --------------------------------------------------------------------------- sliding_windows


@FAST
@given(
    n=st.integers(5, 60),
    channels=st.integers(1, 3),
    length=st.integers(1, 10),
    horizon=st.integers(0, 5),
    stride=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_sliding_windows_equal_reference(n, channels, length, horizon, stride, seed):
    if length + horizon > n:
        return
    x = np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)
    X, y = sliding_windows(x, length, horizon=horizon, stride=stride)
    X_ref, y_ref = ref_sliding(x, length, horizon, stride)
    assert X.shape == (len(X_ref), length, channels)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_sliding_windows_match_keras_utility():
    x = np.random.default_rng(1).standard_normal((200, 2)).astype(np.float32)
    length, horizon = 7, 3
    dataset = keras.utils.timeseries_dataset_from_array(
        x, targets=x[length + horizon - 1 :, 1], sequence_length=length, batch_size=64
    )
    X_keras = np.concatenate([xb.numpy() for xb, _ in dataset])
    y_keras = np.concatenate([yb.numpy() for _, yb in dataset])
    X, y = sliding_windows(x, length, horizon=horizon, target=1)
    np.testing.assert_array_equal(X, X_keras)
    np.testing.assert_array_equal(y, y_keras)


def test_views_by_default_copies_on_request():
    x = np.arange(50, dtype=np.float32)
    X, y = sliding_windows(x, 5, horizon=2)
    assert np.shares_memory(X, x) and not X.flags.writeable
    X_copy, y_copy = sliding_windows(x, 5, horizon=2, copy=True)
    assert not np.shares_memory(X_copy, x) and X_copy.flags.c_contiguous
    np.testing.assert_array_equal(X, X_copy)
    # 1-D input keeps 1-D windows; the target of window i is x[i + 5 + 2 - 1]
    assert X.shape == (50 - 5 - 2 + 1, 5)
    np.testing.assert_array_equal(y, x[6:])


def test_windows_without_horizon_are_every_window():
    x = np.arange(10.0)
    X = sliding_windows(x, 4, stride=3)
    np.testing.assert_array_equal(X[:, 0], [0, 3, 6])


def test_target_array_and_columns():
    x = np.random.default_rng(2).standard_normal((30, 3))
    other = np.arange(30.0)
    _, y = sliding_windows(x, 4, horizon=1, target=other)
    np.testing.assert_array_equal(y, other[4:])
    _, y2 = sliding_windows(x, 4, horizon=1, target=[0, 2])
    np.testing.assert_array_equal(y2, x[4:, [0, 2]])


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.zeros(10), {"length": 11}, "exceeds series length"),
        (np.zeros(10), {"length": 8, "horizon": 3}, "exceeds series length"),
        (np.array([0.0, np.nan, 1.0, 2.0]), {"length": 2, "horizon": 1}, "NaN"),
        (np.zeros((4, 3, 2)), {"length": 2}, "1-D"),
        (np.zeros(10), {"length": 0}, "positive"),
        (np.zeros(10), {"length": 2, "stride": 0}, "stride"),
        (np.zeros(10), {"length": 2, "horizon": -1}, "horizon"),
        (np.zeros(10), {"length": 2, "horizon": 1, "target": np.zeros(9)}, "target has 9 rows"),
    ],
)
def test_sliding_windows_errors(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(x, **kwargs)


# --------------------------------------------------------------------------- segments


@FAST
@given(
    n=st.integers(8, 80),
    length=st.integers(1, 6),
    horizon=st.integers(0, 3),
    stride=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_sliding_windows_segments_equal_reference(n, length, horizon, stride, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    x[rng.random(n) < 0.1, rng.integers(0, 2)] = np.nan
    ids = np.repeat(rng.integers(0, 3, n // 5 + 1), 5)[:n]
    expected = ref_segments(x, length, horizon, ids, stride)
    if expected.size == 0:
        with pytest.raises(ValueError, match="no run|exceeds series length"):
            sliding_windows_segments(x, length, horizon=horizon, segments=ids, stride=stride)
        return
    X, y, starts = sliding_windows_segments(x, length, horizon=horizon, segments=ids, stride=stride)
    np.testing.assert_array_equal(starts, expected)
    np.testing.assert_array_equal(X, np.stack([x[i : i + length] for i in expected]))
    np.testing.assert_array_equal(y, x[expected + length + horizon - 1])
    assert not np.isnan(X).any() and not np.isnan(y).any()


def test_segments_never_cross_a_split_boundary_or_gap():
    x = np.arange(20.0)
    x[10] = np.nan
    mask = np.ones(20, dtype=bool)
    mask[15] = False  # a reading flagged invalid
    X, y, starts = sliding_windows_segments(x, 3, horizon=1, segments=mask)
    np.testing.assert_array_equal(starts, [0, 1, 2, 3, 4, 5, 6, 11, 16])
    assert X.shape == (9, 3)
    np.testing.assert_array_equal(y, x[starts + 3])
    part = np.repeat([0, 1], [13, 7])  # train rows 0-12, test rows 13-19
    _, _, starts = sliding_windows_segments(x, 3, horizon=1, segments=part)
    np.testing.assert_array_equal(starts, [0, 1, 2, 3, 4, 5, 6, 13, 14, 15, 16])


def test_window_starts_counts_at_edges():
    ids = np.repeat([0, 1, 2, 3], [250, 99, 100, 201])
    assert window_starts(ids, 100, stride=100).size == 2 + 0 + 1 + 2
    starts = window_starts(ids, 100, stride=50)
    assert starts.size == 4 + 0 + 1 + 3
    np.testing.assert_array_equal(starts[:4], [0, 50, 100, 150])


# --------------------------------------------------------------------------- segment_windows


def test_bouts_equal_groupby():
    labels = np.array([3, 3, 1, 1, 1, 3, 0, 0, 3])
    expected = [k for k, (_, run) in enumerate(itertools.groupby(labels)) for _ in run]
    np.testing.assert_array_equal(bouts(labels), expected)
    assert bouts(pd.Series([], dtype=float)).size == 0


def _frame(rng, n, n_subjects=3):
    channels = [f"c{i}" for i in range(3)]
    frame = pd.DataFrame(rng.standard_normal((n, 3)).astype(np.float32), columns=channels)
    frame["activity"] = np.repeat(rng.integers(0, 4, n // 7 + 1), 7)[:n]
    frame["subject"] = np.sort(rng.integers(1, n_subjects + 1, n))
    return frame


@FAST
@given(
    n=st.integers(20, 150),
    length=st.integers(2, 12),
    stride=st.one_of(st.none(), st.integers(1, 5)),
    policy=st.sampled_from(["max", "last", "majority"]),
    by_bout=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_segment_windows_equal_reference(n, length, stride, policy, by_bout, seed):
    frame = _frame(np.random.default_rng(seed), n)
    group_by = ["subject", bouts(frame.activity)] if by_bout else "subject"
    keys = [frame.subject.to_numpy()] + ([bouts(frame.activity)] if by_bout else [])
    values = frame[["c0", "c1", "c2"]].to_numpy()
    X_ref, y_ref, g_ref = ref_segment_windows(
        values, frame.activity.to_numpy(), keys, length, stride or length, policy
    )
    if len(X_ref) == 0:
        with pytest.raises(ValueError, match="no group"):
            segment_windows(
                frame, length, group_by=group_by, label="activity", policy=policy, stride=stride
            )
        return
    X, y, groups = segment_windows(
        frame, length, group_by=group_by, label="activity", policy=policy, stride=stride
    )
    assert X.shape == (len(X_ref), length, 3) and X.dtype == np.float32
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(groups, g_ref)


def test_label_policies_on_one_window():
    frame = pd.DataFrame({"a": np.arange(5.0), "activity": [2, 0, 0, 5, 1], "subject": 1})
    for policy, expected in [("max", 5), ("last", 1), ("majority", 0)]:
        _, y, _ = segment_windows(frame, 5, group_by="subject", label="activity", policy=policy)
        assert y.tolist() == [expected]
    # majority tie goes to the smallest label
    frame["activity"] = [4, 4, 1, 1, 9]
    _, y, _ = segment_windows(frame, 5, group_by="subject", label="activity", policy="majority")
    assert y.tolist() == [1]


def test_windows_do_not_cross_subjects_or_bouts():
    frame = pd.DataFrame(
        {
            "a": np.arange(12.0),
            "activity": [1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1],
            "subject": [1] * 8 + [2] * 4,
        }
    )
    X, y, groups = segment_windows(frame, 3, group_by="subject", label="activity")
    np.testing.assert_array_equal(X[:, 0, 0], [0, 3, 8])  # rows 6-7 and 11 left over
    np.testing.assert_array_equal(y, [1, 2, 1])
    X, y, groups = segment_windows(
        frame, 3, group_by=["subject", bouts(frame.activity)], label="activity"
    )
    np.testing.assert_array_equal(X[:, 0, 0], [0, 3, 8])
    np.testing.assert_array_equal(groups, [1, 1, 2])
    X, y, _ = segment_windows(
        frame, 3, group_by=["subject", bouts(frame.activity)], label="activity", stride=1
    )
    assert X.shape == (1 + 2 + 0 + 2, 3, 1)  # bout lengths 3, 4, 1 (subject 1), 4 (subject 2)


def test_segment_windows_errors():
    frame = pd.DataFrame({"a": [0.0, np.nan, 1.0, 2.0], "activity": 0, "subject": 1})
    with pytest.raises(ValueError, match="NaN"):
        segment_windows(frame, 2, group_by="subject", label="activity")
    frame["a"] = 0.0
    with pytest.raises(ValueError, match="policy"):
        segment_windows(frame, 2, group_by="subject", label="activity", policy="mean")
    with pytest.raises(ValueError, match="exceeds series length"):
        segment_windows(frame, 5, group_by="subject", label="activity")
    with pytest.raises(ValueError, match="not in frame"):
        segment_windows(frame, 2, group_by="mouse", label="activity")
    with pytest.raises(ValueError, match="one entry per row"):
        segment_windows(frame, 2, group_by=[np.zeros(3)], label="activity")


# --------------------------------------------------------------------------- feed


def test_feed_batches_equal_materialised_windows():
    x = np.random.default_rng(3).standard_normal((103, 2)).astype(np.float32)
    X, y = sliding_windows(x, 6, horizon=2, target=0)
    feed = WindowFeed(x, 6, horizon=2, target=0, batch_size=16)
    assert len(feed) == int(np.ceil(len(X) / 16))
    np.testing.assert_array_equal(np.concatenate([feed[k][0] for k in range(len(feed))]), X)
    np.testing.assert_array_equal(np.concatenate([feed[k][1] for k in range(len(feed))]), y)
    with pytest.raises(IndexError):
        feed[len(feed)]


def test_feed_shuffles_each_epoch_and_serves_every_window_once():
    x = np.arange(60, dtype=np.float32)
    feed = WindowFeed(x, 4, horizon=1, batch_size=7, shuffle=True, seed=5)
    first = np.concatenate([feed[k][0][:, 0] for k in range(len(feed))])
    feed.on_epoch_end()
    second = np.concatenate([feed[k][0][:, 0] for k in range(len(feed))])
    np.testing.assert_array_equal(np.sort(first), np.arange(60 - 4 - 1 + 1))
    np.testing.assert_array_equal(np.sort(second), np.sort(first))
    assert not np.array_equal(first, second)
    again = WindowFeed(x, 4, horizon=1, batch_size=7, shuffle=True, seed=5)
    np.testing.assert_array_equal(again[0][0][:, 0], first[:7])  # same seed, same order


def test_feed_memory_does_not_grow_with_windows():
    def private_bytes(feed, x):
        return sum(
            v.nbytes
            for v in vars(feed).values()
            if isinstance(v, np.ndarray) and not np.shares_memory(v, x)
        )

    small = np.zeros(1_000, dtype=np.float32)
    large = np.zeros(200_000, dtype=np.float32)
    feed_small = WindowFeed(small, 30, horizon=5, batch_size=64)
    feed_large = WindowFeed(large, 30, horizon=5, batch_size=64)
    assert private_bytes(feed_large, large) == private_bytes(feed_small, small)
    assert feed_large[0][0].shape == (64, 30)


def test_feed_with_segment_starts_and_fit():
    x = np.random.default_rng(4).standard_normal((120, 1)).astype(np.float32)
    x[50] = np.nan
    _, y_ref, starts = sliding_windows_segments(x, 5, horizon=1)
    feed = WindowFeed(x, 5, horizon=1, starts=starts, batch_size=32)
    np.testing.assert_array_equal(np.concatenate([feed[k][1] for k in range(len(feed))]), y_ref)
    with pytest.raises(ValueError, match="NaN"):
        WindowFeed(x, 5, horizon=1)
    model = keras.Sequential([keras.Input((5, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(feed, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# --------------------------------------------------------------------------- scaling


def test_channel_scaler_fits_per_channel_on_train_only():
    rng = np.random.default_rng(6)
    train = rng.normal([0, 10, -5], [1, 3, 0.5], size=(20, 8, 3))
    test = rng.normal([0, 10, -5], [1, 3, 0.5], size=(5, 8, 3))
    scaler = ChannelScaler("standard").fit(train)
    mean, std = train.mean(axis=(0, 1)), train.std(axis=(0, 1))
    np.testing.assert_allclose(scaler.transform(test), (test - mean) / std, rtol=1e-10)
    scaled = scaler.fit_transform(train)
    np.testing.assert_allclose(scaled.mean(axis=(0, 1)), 0, atol=1e-10)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), train)
    minmax = ChannelScaler(MinMaxScaler((-1, 1))).fit_transform(train.astype(np.float32))
    assert minmax.dtype == np.float32
    np.testing.assert_allclose(minmax.min(axis=(0, 1)), -1, atol=1e-6)
    np.testing.assert_allclose(minmax.max(axis=(0, 1)), 1, atol=1e-6)


def test_channel_scaler_errors():
    with pytest.raises(ValueError, match="not fitted"):
        ChannelScaler().transform(np.zeros((2, 3, 1)))
    scaler = ChannelScaler().fit(np.random.default_rng(0).standard_normal((4, 3, 2)))
    with pytest.raises(ValueError, match="fitted on 2 channels"):
        scaler.transform(np.zeros((4, 3, 5)))
    with pytest.raises(ValueError, match="3-D"):
        scaler.transform(np.zeros(4))
    with pytest.raises(ValueError, match="scaler must be one of"):
        ChannelScaler("zscore").fit(np.zeros((4, 3, 2)))


# --------------------------------------------------------------------------- per-group scaling


def test_standardize_groups_gives_each_group_zero_mean_unit_std():
    rng = np.random.default_rng(0)
    groups = np.repeat([7, 3, 5], [40, 25, 60])[rng.permutation(125)]  # interleaved rows
    x = (rng.normal(size=(125, 4)) * [1, 5, 0.1, 2] + [0, -3, 10, 1]).astype(np.float32)
    out = standardize_groups(x, groups)
    assert out.shape == x.shape and out.dtype == np.float32
    for g in (3, 5, 7):
        rows = out[groups == g]
        np.testing.assert_allclose(rows.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(rows.std(axis=0), 1, atol=1e-5)
    # the same as scaling each group on its own
    for g in (3, 5, 7):
        rows = x[groups == g].astype(np.float64)
        expected = (rows - rows.mean(axis=0)) / rows.std(axis=0)
        np.testing.assert_allclose(out[groups == g], expected, atol=1e-5)


def test_standardize_groups_removes_a_per_group_gain_and_offset():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(200, 3))
    groups = np.repeat([1, 2], 100)
    shifted = base.copy()
    shifted[100:] = base[:100] * [2.0, 0.5, 3.0] + [1.0, -4.0, 0.2]  # group 2 = group 1, rescaled
    shifted[:100] = base[:100]
    out = standardize_groups(shifted, groups)
    np.testing.assert_allclose(out[100:], out[:100], atol=1e-10)
    assert out.dtype == np.float64  # float64 in, float64 out


def test_standardize_groups_constant_channel_and_errors():
    x = np.column_stack([np.ones(6), np.arange(6.0)])
    out = standardize_groups(x, [0, 0, 0, 1, 1, 1])
    assert np.isfinite(out).all() and (out[:, 0] == 0).all()
    assert standardize_groups(np.arange(4.0), [0, 0, 1, 1]).shape == (4,)
    with pytest.raises(ValueError, match="one id per row"):
        standardize_groups(x, [0, 1])
    with pytest.raises(ValueError, match="before windowing"):
        standardize_groups(np.zeros((2, 3, 4)), [0, 1])
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        standardize_groups(x, [0] * 6)


# --------------------------------------------------------------------------- non-finite input


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_sliding_windows_refuse_non_finite_readings_and_targets(bad):
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    x[6, 1] = bad
    with pytest.raises(ValueError, match=r"x must be finite; 1 rows hold NaN or inf \(rows 6\)"):
        sliding_windows(x, 3, horizon=1)
    with pytest.raises(ValueError, match="x must be finite"):
        sliding_windows(x, 3)  # windows only, for inference
    target = np.arange(10, dtype=np.float64)
    target[8] = bad
    with pytest.raises(ValueError, match=r"target must be finite.*rows 8"):
        sliding_windows(np.zeros((10, 2)), 3, horizon=1, target=target)


def test_sliding_windows_segments_skip_nan_gaps_but_refuse_inf():
    x = np.arange(30, dtype=np.float64)
    x[10] = np.nan  # a gap: skipped
    X, y, starts = sliding_windows_segments(x, 4, horizon=1)
    assert np.isfinite(X).all() and np.isfinite(y).all()
    assert not ((starts <= 10) & (starts + 4 >= 10)).any()
    x[20] = np.inf  # not a gap: refused
    with pytest.raises(ValueError, match=r"x must be finite; 1 rows hold inf \(rows 20\).*NaN"):
        sliding_windows_segments(x, 4, horizon=1)
    target = np.zeros(30)
    target[3] = -np.inf
    with pytest.raises(ValueError, match=r"target must be finite.*rows 3"):
        sliding_windows_segments(np.zeros(30), 4, horizon=1, target=target)


def test_segment_windows_refuse_inf_channels_and_missing_labels():
    frame = pd.DataFrame({"a": np.arange(8.0), "activity": [1.0] * 8, "subject": 1})
    assert segment_windows(frame, 2, group_by="subject", label="activity")[0].shape == (4, 2, 1)
    with_inf = frame.assign(a=frame["a"].where(frame.index != 5, np.inf))
    with pytest.raises(ValueError, match=r"channels must be finite.*rows 5"):
        segment_windows(with_inf, 2, group_by="subject", label="activity")
    for missing in (np.nan, None):
        labels = frame["activity"].astype(object)
        labels[3] = missing
        with pytest.raises(ValueError, match=r"label column 'activity' is missing .*rows 3\)"):
            segment_windows(
                frame.assign(activity=labels), 2, group_by="subject", label="activity", policy="max"
            )


def test_window_starts_refuses_a_span_below_one():
    with pytest.raises(ValueError, match="span must be a positive int.*-1"):
        window_starts(np.zeros(10), -1)
    with pytest.raises(ValueError, match="span must be a positive int.*0"):
        window_starts(np.zeros(10), 0)
    assert window_starts(np.zeros(10), 10).tolist() == [0]


def test_feed_refuses_non_finite_served_windows_only():
    x = np.arange(100, dtype=np.float32)
    x[50] = np.inf
    with pytest.raises(ValueError, match=r"x must be finite.*rows 50"):
        WindowFeed(x, 5, horizon=1)
    target = np.arange(100, dtype=np.float32)
    target[30] = np.nan
    with pytest.raises(ValueError, match=r"target must be finite.*rows 30"):
        WindowFeed(np.zeros(100, np.float32), 5, horizon=1, target=target)
    # Starts whose windows and targets avoid row 50 are served; one touching it is refused.
    clean = np.array([0, 10, 44, 51])  # 44: rows 44..48, target 49
    feed = WindowFeed(x, 5, horizon=1, starts=clean, batch_size=8)
    assert np.isfinite(feed[0][0]).all() and np.isfinite(feed[0][1]).all()
    with pytest.raises(ValueError, match=r"2 of the 3 starts .* \(starts 45, 46\)"):
        WindowFeed(x, 5, horizon=1, starts=[0, 45, 46])  # 45: target row 50; 46: window
    x[50] = np.nan  # NaN is refused the same way
    with pytest.raises(ValueError, match=r"1 of the 1 starts"):
        WindowFeed(x, 5, horizon=1, starts=[48])
