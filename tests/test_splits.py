"""Tests of lib.splits: parts are disjoint, sized as asked, and leakage is caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.splits import (
    LeakageError,
    check_no_leakage,
    chronological_split,
    group_kfold,
    group_split,
    stratified_kfold,
    time_series_kfold,
)


def _groups(n_groups=10, size=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(np.repeat(np.arange(1, n_groups + 1), size))


@settings(max_examples=30, deadline=None)
@given(
    n_groups=st.integers(3, 15),
    test=st.one_of(st.integers(1, 3), st.floats(0.05, 0.3)),
    validation=st.one_of(st.integers(0, 2), st.floats(0.0, 0.3)),
    seed=st.integers(0, 100),
)
def test_group_split_parts_are_disjoint_and_sized(n_groups, test, validation, seed):
    groups = _groups(n_groups, seed=seed)
    expect_test = test if isinstance(test, int) else int(np.ceil(test * n_groups))
    expect_val = validation if isinstance(validation, int) else int(np.ceil(validation * n_groups))
    if expect_test + expect_val >= n_groups:
        with pytest.raises(ValueError, match="no training group"):
            group_split(groups, test=test, validation=validation, seed=seed)
        return
    split = group_split(groups, test=test, validation=validation, seed=seed)
    check_no_leakage(split.take(groups))
    assert np.array_equal(np.sort(np.concatenate(split)), np.arange(groups.size))
    assert np.unique(groups[split.test]).size == expect_test
    assert np.unique(groups[split.validation]).size == expect_val
    masks = split.masks(groups.size)
    assert (masks["train"].astype(int) + masks["validation"] + masks["test"] == 1).all()


def test_group_split_is_seeded():
    groups = _groups(20)
    a = group_split(groups, test=4, validation=2, seed=1)
    b = group_split(groups, test=4, validation=2, seed=1)
    c = group_split(groups, test=4, validation=2, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(np.unique(groups[a.test]), np.unique(groups[c.test]))


def test_group_split_errors():
    with pytest.raises(ValueError, match="one-dimensional"):
        group_split(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="fraction"):
        group_split(_groups(), test=1.5)
    with pytest.raises(TypeError, match="int count or a float"):
        group_split(_groups(), test="2")


def test_chronological_split_by_fraction():
    split = chronological_split(100, validation=0.1, test=0.2)
    np.testing.assert_array_equal(split.train, np.arange(70))
    np.testing.assert_array_equal(split.validation, np.arange(70, 80))
    np.testing.assert_array_equal(split.test, np.arange(80, 100))
    split = chronological_split(10, validation=0.0, test=0.2)
    assert split.validation.size == 0 and split.test.tolist() == [8, 9]
    check_no_leakage(times=split.take(np.arange(10)))


def test_chronological_split_by_time():
    times = np.arange("2007-01-01", "2007-01-11", dtype="datetime64[D]")
    split = chronological_split(
        times, validation=np.datetime64("2007-01-07"), test=np.datetime64("2007-01-09")
    )
    assert times[split.train].max() < np.datetime64("2007-01-07")
    np.testing.assert_array_equal(times[split.validation], times[6:8])
    np.testing.assert_array_equal(times[split.test], times[8:])
    check_no_leakage(times=split.take(times))


def test_chronological_split_errors():
    with pytest.raises(ValueError, match="sorted"):
        chronological_split(np.array([3, 1, 2]))
    with pytest.raises(ValueError, match="no training sample"):
        chronological_split(10, validation=0.5, test=0.5)
    with pytest.raises(ValueError, match="validation starts after test"):
        chronological_split(np.arange(10), validation=8, test=5)
    with pytest.raises(TypeError, match="fraction"):
        chronological_split(10, test=5)


def test_group_kfold_validates_each_group_once():
    groups = _groups(10)
    seen = []
    for train, val in group_kfold(groups, n_splits=5, seed=3):
        assert not set(groups[train]) & set(groups[val])
        seen.extend(np.unique(groups[val]).tolist())
    assert sorted(seen) == list(range(1, 11))
    with pytest.raises(ValueError, match="at least n_splits=5 groups"):
        list(group_kfold(_groups(3), n_splits=5))


def test_stratified_kfold_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    folds = list(stratified_kfold(y, n_splits=5, seed=0))
    assert len(folds) == 5
    all_val = np.concatenate([val for _, val in folds])
    np.testing.assert_array_equal(np.sort(all_val), np.arange(100))
    for _, val in folds:
        np.testing.assert_array_equal(np.bincount(y[val]), [10, 6, 4])
    groups = np.repeat(np.arange(20), 5)
    for train, val in stratified_kfold(y, n_splits=4, seed=0, groups=groups):
        check_no_leakage({"train": groups[train], "validation": groups[val]})


def test_time_series_kfold_validates_on_the_future():
    for train, val in time_series_kfold(100, n_splits=3, gap=5):
        assert train.max() + 5 < val.min()
        check_no_leakage(times={"train": train, "validation": val}, gap=5)


def test_check_no_leakage_catches_shared_groups_and_overlaps():
    with pytest.raises(LeakageError, match="'train' and 'test' share 1 group"):
        check_no_leakage({"train": [1, 2, 3], "validation": [4], "test": [3, 5]})
    check_no_leakage({"train": [1, 2], "validation": [], "test": [3]})
    with pytest.raises(LeakageError, match="time spans"):
        check_no_leakage(times={"train": np.arange(0, 80), "test": np.arange(79, 100)})
    with pytest.raises(LeakageError, match="time spans"):  # interleaved, e.g. a shuffled split
        check_no_leakage(times={"train": [0, 2, 4], "test": [1, 3]})
    check_no_leakage(times={"train": np.arange(0, 80), "test": np.arange(80, 100)})
    with pytest.raises(LeakageError, match="not more than 34 apart"):
        check_no_leakage(times={"train": np.arange(0, 80), "test": np.arange(80, 100)}, gap=34)
    with pytest.raises(LeakageError, match="not more than"):
        t = np.arange("2007-01-01T00:00", "2007-01-01T00:10", dtype="datetime64[m]")
        check_no_leakage(times={"train": t[:6], "test": t[5:]})
    with pytest.raises(LeakageError):  # a shuffled split of a series leaks time
        rng = np.random.default_rng(0)
        order = rng.permutation(100)
        check_no_leakage(times={"train": order[:80], "test": order[80:]})
    with pytest.raises(ValueError, match="nothing to check"):
        check_no_leakage()


@pytest.mark.parametrize(
    "times",
    [
        np.array([0.0, 1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
        np.array(["2020-01-01", "2020-01-02", "NaT", "2020-01-04"] * 3, dtype="datetime64[ns]"),
    ],
)
def test_chronological_split_refuses_missing_times(times):
    expected = r"times must all be present; \d+ are NaN/NaT \(positions 2"
    with pytest.raises(ValueError, match=expected):
        chronological_split(times, validation=0.1, test=0.2)


@pytest.mark.parametrize("gap", [-1, -30, 1.5, True])
def test_time_series_kfold_refuses_a_gap_that_is_not_a_count(gap):
    with pytest.raises(ValueError, match="gap must be an int >= 0"):
        list(time_series_kfold(100, n_splits=3, gap=gap))


def test_time_series_kfold_negative_gap_would_have_overlapped():
    # What the guard prevents: scikit-learn's splitter lets the parts overlap.
    from sklearn.model_selection import TimeSeriesSplit

    train, val = next(TimeSeriesSplit(n_splits=3, gap=-5).split(np.empty((100, 1))))
    assert np.intersect1d(train, val).size > 0
    with pytest.raises(ValueError, match="n_splits must be an int >= 2"):
        list(time_series_kfold(100, n_splits=1))
    with pytest.raises(ValueError, match="test_size must be a positive int"):
        list(time_series_kfold(100, n_splits=3, test_size=0))


def test_stratified_subset_keeps_the_class_mix_and_only_given_rows():
    from lib.splits import stratified_subset

    labels = np.repeat([0, 1, 2], [800, 150, 50])
    index = np.arange(100, 1000)  # rows 0..99 are not candidates
    picked = stratified_subset(index, labels, 300, seed=3)
    assert picked.size == 300 and np.all(np.diff(picked) > 0) and picked.min() >= 100
    share = np.bincount(labels[picked], minlength=3) / 300
    expected = np.bincount(labels[index], minlength=3) / index.size
    np.testing.assert_allclose(share, expected, atol=0.01)
    np.testing.assert_array_equal(stratified_subset(index, labels, 300, seed=3), picked)
    np.testing.assert_array_equal(stratified_subset(index[::-1], labels, None), index)
    with pytest.raises(ValueError, match="positive"):
        stratified_subset(index, labels, 0)


def test_kfold_partitions_the_rows_and_is_the_tuners_regression_folds():
    from lib.splits import kfold

    folds = list(kfold(23, n_splits=4, seed=3))
    assert sorted(np.concatenate([val for _, val in folds]).tolist()) == list(range(23))
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0 and train.size + val.size == 23
    assert [v.tolist() for _, v in kfold(23, 4, seed=3)] == [v.tolist() for _, v in folds]
    assert [v.tolist() for _, v in kfold(23, 4, seed=4)] != [v.tolist() for _, v in folds]
    # a tuner's search(folds=k) on regression targets takes these folds (one place for folds)
    from lib.tuning import _data

    data = _data.Data(np.zeros((23, 2)), np.linspace(0, 1, 23))
    tuner_folds = _data.make_splits(data, 4, task="regression", seed=3)
    assert [v.tolist() for _, v in tuner_folds] == [v.tolist() for _, v in folds]
