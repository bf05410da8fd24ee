"""lib.windows.aligned_starts / target_rows: several window lengths predicting the same targets."""

from __future__ import annotations

import numpy as np
import pytest

from lib.windows import aligned_starts, sliding_windows, sliding_windows_segments, target_rows


def gappy_series(seed=0, n=400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    x[rng.choice(n, size=12, replace=False), rng.integers(0, 2, size=12)] = np.nan  # gaps
    segments = np.repeat([0, 1, 2], [150, 100, n - 250])  # e.g. train / validation / test
    return x, segments


@pytest.mark.parametrize("length", [1, 5, 12])
@pytest.mark.parametrize("stride", [1, 3])
def test_shorter_windows_are_the_tails_of_the_longest_and_share_their_targets(length, stride):
    longest, horizon = 12, 4
    x, segments = gappy_series()
    X_long, y_long, starts = sliding_windows_segments(
        x, longest, horizon=horizon, segments=segments, target=0
    )
    short = aligned_starts(starts, length, longest=longest, stride=stride)
    assert short.dtype == np.int64 and short.shape == starts[::stride].shape
    view = sliding_windows(np.nan_to_num(x), length)
    np.testing.assert_array_equal(view[short], X_long[::stride, longest - length :])
    rows = target_rows(short, length, horizon=horizon)
    np.testing.assert_array_equal(rows, target_rows(starts, longest, horizon=horizon)[::stride])
    np.testing.assert_array_equal(x[rows, 0], y_long[::stride])
    # every short window and its target stay inside one segment and hold no NaN
    assert not np.isnan(x[short[:, None] + np.arange(length)]).any()
    assert (segments[short] == segments[rows]).all()


def test_target_rows_follow_the_sliding_windows_convention():
    x = np.arange(30.0)
    X, y = sliding_windows(x, 4, horizon=3)
    rows = target_rows(np.arange(len(X)), 4, horizon=3)
    np.testing.assert_array_equal(x[rows], y)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: aligned_starts(np.arange(5), 13, longest=12), "between 1 and longest=12"),
        (lambda: aligned_starts(np.arange(5), 0, longest=12), "between 1 and longest=12"),
        (lambda: aligned_starts(np.arange(5.0), 3, longest=12), "integer start rows"),
        (lambda: aligned_starts(np.zeros((2, 2), int), 3, longest=12), "1-D array"),
        (lambda: aligned_starts(np.array([-1, 2]), 3, longest=12), ">= 0"),
        (lambda: aligned_starts(np.arange(5), 3, longest=12, stride=0), "stride"),
        (lambda: target_rows(np.arange(5), 0, horizon=1), "positive int"),
        (lambda: target_rows(np.arange(5), 3, horizon=-1), "horizon"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_expected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
