"""lib.scaling.scale_parts and lib.windows.bout_windows: the MHEALTH study's preparation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.scaling import ChannelScaler, scale_parts
from lib.splits import group_split
from lib.windows import bout_windows, bouts, segment_windows


def activity_frame(seed=0, subjects=4, rows=120):
    """Subjects with a few activity bouts each and two channels on different scales."""
    rng = np.random.default_rng(seed)
    pieces = []
    for subject in range(1, subjects + 1):
        activity = np.repeat(rng.integers(0, 4, size=6), rng.integers(5, 40, size=6))[:rows]
        pieces.append(
            pd.DataFrame(
                {
                    "subject": subject,
                    "activity": activity,
                    "a": rng.normal(10 * subject, 3, size=len(activity)),
                    "b": rng.normal(-5, 0.1 * subject, size=len(activity)),
                }
            )
        )
    return pd.concat(pieces, ignore_index=True)


def test_scale_parts_uses_training_statistics_only():
    frame = activity_frame()
    split = group_split(frame.subject.to_numpy(), test=1, validation=1, seed=0)
    parts = scale_parts(frame, split, ["a", "b"], keep=["subject", "activity"])
    assert list(parts) == ["train", "validation", "test"]
    train = frame.iloc[split.train]
    np.testing.assert_allclose(parts["train"][["a", "b"]].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(parts["train"][["a", "b"]].std(ddof=0), 1.0)
    mean, std = train[["a", "b"]].mean(), train[["a", "b"]].std(ddof=0)
    expected = (frame.iloc[split.test][["a", "b"]] - mean) / std
    np.testing.assert_allclose(parts["test"][["a", "b"]].to_numpy(), expected.to_numpy())
    assert list(parts["test"].columns) == ["subject", "activity", "a", "b"]
    pd.testing.assert_index_equal(parts["test"].index, frame.index[split.test])
    np.testing.assert_array_equal(parts["test"].activity, frame.activity.iloc[split.test])
    # Changing the held-out rows does not change the training part's scaling.
    shifted = frame.copy()
    shifted.loc[shifted.index[split.test], "a"] += 1000
    again = scale_parts(shifted, split, ["a", "b"])
    pd.testing.assert_frame_equal(again["train"], parts["train"][["a", "b"]])


def test_scale_parts_with_another_scaler_and_bad_input():
    frame = activity_frame()
    rows = {"fit": np.arange(100), "other": np.arange(100, 200)}
    parts = scale_parts(frame, rows, ["a"], fit_on="fit", scaler="minmax")
    assert parts["fit"].a.min() == 0.0 and parts["fit"].a.max() == 1.0
    minmax = ChannelScaler("minmax").fit(frame[["a"]].iloc[:100])
    expected = minmax.transform(frame[["a"]].iloc[100:200])
    np.testing.assert_allclose(parts["other"].a.to_numpy(), expected[:, 0])
    with pytest.raises(ValueError, match="not one of the parts"):
        scale_parts(frame, rows, ["a"])
    with pytest.raises(ValueError, match=r"columns \['c'\] not in frame"):
        scale_parts(frame, rows, ["a", "c"], fit_on="fit")


def test_bout_windows_stay_inside_one_subject_and_one_activity():
    frame = activity_frame()
    X, y, groups = bout_windows(frame, 8, label="activity", group_by="subject")
    reference = segment_windows(
        frame,
        8,
        group_by=["subject", bouts(frame.activity.to_numpy())],
        label="activity",
        policy="max",
    )
    for found, expected in zip((X, y, groups), reference, strict=True):
        np.testing.assert_array_equal(found, expected)
    assert X.shape[1:] == (8, 2) and X.dtype == np.float32
    # Every window is a run of rows of one subject and one activity, labelled with it.
    values = frame[["a", "b"]].to_numpy(np.float32)
    for window, label, subject in zip(X, y, groups, strict=True):
        start = int(np.flatnonzero((values == window[0]).all(axis=1))[0])
        block = frame.iloc[start : start + 8]
        assert (block.activity == label).all() and (block.subject == subject).all()


def test_bout_windows_without_groups_and_with_stride():
    frame = pd.DataFrame({"activity": [1] * 10 + [2] * 7, "x": np.arange(17.0)})
    X, y, bout = bout_windows(frame, 3, label="activity", stride=2)
    np.testing.assert_array_equal(X[:, 0, 0], [0, 2, 4, 6, 10, 12, 14])  # none across row 10
    np.testing.assert_array_equal(y, [1, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(bout, [0, 0, 0, 0, 1, 1, 1])  # bout ids
    with pytest.raises(ValueError, match="label column 'label' not in frame"):
        bout_windows(frame, 3, label="label")


def test_channel_scaler_skips_nan_readings_and_keeps_them_in_place():
    rng = np.random.default_rng(1)
    windows = rng.normal([0, 10], [1, 3], size=(6, 5, 2))
    gappy = windows.copy()
    gappy[2, 1:3, 0] = np.nan  # a gap in channel 0
    scaler = ChannelScaler("standard").fit(gappy)
    kept = gappy[..., 0][~np.isnan(gappy[..., 0])]
    np.testing.assert_allclose(scaler.scaler_.mean_, [kept.mean(), windows[..., 1].mean()])
    out = scaler.transform(gappy)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(gappy))
    assert np.isfinite(scaler.scaler_.scale_).all()


@pytest.mark.parametrize("scaler", ["standard", "minmax", "robust"])
def test_channel_scaler_refuses_a_channel_without_finite_readings(scaler):
    windows = np.random.default_rng(2).standard_normal((4, 5, 3))
    windows[..., 1] = np.nan  # 20 NaN: the channel's statistics would be NaN
    windows[0, 0, 2] = np.nan
    with pytest.raises(ValueError, match=r"channels \[1\] .*21 NaN among 60 readings.*impute"):
        ChannelScaler(scaler).fit(windows)


def test_channel_scaler_refuses_inf_and_nan_statistics_of_a_custom_scaler():
    from sklearn.base import BaseEstimator, TransformerMixin

    class PlainMean(TransformerMixin, BaseEstimator):  # does not skip NaN
        def fit(self, X, y=None):
            self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
            return self

        def transform(self, X):
            return np.asarray(X) - self.mean_

    windows = np.random.default_rng(3).standard_normal((4, 5, 2))
    windows[1, 2, 0] = np.inf
    windows[3, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 inf values \(channels \[0\]\) and 1 NaN.*impute"):
        ChannelScaler("standard").fit(windows)
    windows[1, 2, 0] = 0.0
    with pytest.raises(ValueError, match=r"NaN statistics \(mean_\).*1 NaN among 40"):
        ChannelScaler(PlainMean()).fit(windows)
    assert np.isfinite(ChannelScaler(PlainMean()).fit(np.nan_to_num(windows)).scaler_.mean_).all()
