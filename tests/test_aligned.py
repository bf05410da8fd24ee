"""lib.aligned.AlignedWindows: windows of several lengths over one split series, same targets."""

from __future__ import annotations

import numpy as np
import pytest

from lib.aligned import AlignedWindows
from lib.splits import chronological_split
from lib.windows import sliding_windows, sliding_windows_segments


def gappy_series(seed=0, n=300):
    """Two channels with whole rows missing (NaN), and a target with one row per reading."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    x[rng.choice(n, size=10, replace=False)] = np.nan
    return x, x[:, 0] * 2.0


def test_split_parts_keep_windows_inside_one_part_and_off_the_gaps():
    x, target = gappy_series()
    split = chronological_split(len(x), validation=0.2, test=0.2)
    parts = AlignedWindows.split_parts(x, split, longest=12, horizon=3, target=target)
    assert list(parts) == ["train", "validation", "test"]
    # The same starts as sliding_windows_segments with the parts as segments.
    segments = np.zeros(len(x), dtype=np.int64)
    segments[split.validation], segments[split.test] = 1, 2
    _, _, starts = sliding_windows_segments(x, 12, horizon=3, segments=segments)
    for number, (name, windows) in enumerate(parts.items()):
        expected = starts[segments[starts] == number]
        np.testing.assert_array_equal(windows.starts(12), expected)
        assert len(windows) == expected.size > 0
        rows = getattr(split, name)
        covered = windows.starts(12)[:, None] + np.arange(12 + 3)
        assert np.isin(covered, rows).all()  # window and target inside the part
        assert np.isfinite(x[covered]).all()


@pytest.mark.parametrize("length", [1, 5, 12])
@pytest.mark.parametrize("stride", [1, 4])
def test_every_length_predicts_the_same_targets(length, stride):
    x, target = gappy_series()
    parts = AlignedWindows.split_parts(
        x,
        {"train": np.arange(200), "test": np.arange(200, 300)},
        longest=12,
        horizon=3,
        target=target,
    )
    test = parts["test"]
    X, y = test.arrays(length, stride=stride)
    X_long, y_long = test.arrays(12, stride=stride)
    assert X.shape == (len(X_long), length, 2) and X.flags.c_contiguous
    np.testing.assert_array_equal(X, X_long[:, 12 - length :])  # the tail of the longest window
    np.testing.assert_array_equal(y, y_long)
    np.testing.assert_array_equal(y, target[test.target_rows(stride=stride)])
    # The copies equal the plain sliding windows at the same starts.
    view = sliding_windows(np.nan_to_num(x), length)
    np.testing.assert_array_equal(X, view[test.starts(length, stride=stride)])


def test_channels_and_feed_serve_the_same_windows_as_arrays():
    x, target = gappy_series()
    test = AlignedWindows.split_parts(
        x, {"all": np.arange(len(x))}, longest=8, horizon=2, target=target
    )["all"]
    X, y = test.arrays(5, channels=[1])
    assert X.shape[2] == 1
    np.testing.assert_array_equal(X[..., 0], test.arrays(5)[0][..., 1])
    feed = test.feed(5, channels=[1], batch_size=7)
    served = [feed[k] for k in range(len(feed))]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in served]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in served]), y)


def test_target_column_and_one_dimensional_series():
    series = np.arange(40.0)
    windows = AlignedWindows(series, [0, 10, 20], longest=6, horizon=1)
    X, y = windows.arrays(3)
    np.testing.assert_array_equal(X[:, :, 0], [[3, 4, 5], [13, 14, 15], [23, 24, 25]])
    np.testing.assert_array_equal(y[:, 0], [6, 16, 26])
    two = np.column_stack([series, -series])
    _, y_column = AlignedWindows(two, [0, 10], longest=6, horizon=1, target=1).arrays(6)
    np.testing.assert_array_equal(y_column, [-6, -16])


def test_bad_input_is_refused_with_what_to_do():
    x, target = gappy_series()
    with pytest.raises(ValueError, match="one target row per reading"):
        AlignedWindows(x, [0], longest=5, horizon=1, target=target[:-1])
    with pytest.raises(ValueError, match="needs row"):
        AlignedWindows(x, [len(x) - 3], longest=5, horizon=1)
    with pytest.raises(ValueError, match="shares rows"):
        AlignedWindows.split_parts(
            x, {"a": np.arange(10), "b": np.arange(5, 20)}, longest=3, horizon=1
        )
    gap = int(np.flatnonzero(np.isnan(x[:, 0]))[0])
    start = max(gap - 2, 0)
    with pytest.raises(ValueError, match="NaN or inf"):
        AlignedWindows(x, [start], longest=5, horizon=1).arrays(5)
    with pytest.raises(ValueError, match="between 1 and longest"):
        AlignedWindows(x, [0], longest=5, horizon=1).arrays(6)
