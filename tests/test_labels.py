"""lib.labels.encode_labels and lib.evaluation.to_class_ids: labels to ids 0..k-1, names kept.

Every error message in lib/ that recommends a helper for labels is followed here, to check
that the advice works.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.datasets import SampleSet
from lib.evaluation import classification_metrics, encode_labels, to_class_ids
from lib.labels import encode_labels as encode_labels_from_module


def test_encode_labels_sorted_strings_keep_their_names():
    ids, names = encode_labels(["walk", "run", "walk", "sit"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [2, 0, 2, 1]
    assert names == ("run", "sit", "walk")
    assert all(type(name) is str for name in names)  # not numpy scalars
    assert encode_labels is encode_labels_from_module


def test_encode_labels_numbers_series_and_given_classes():
    ids, names = encode_labels(np.array([10, 3, 3, 7]))
    assert ids.tolist() == [2, 0, 0, 1] and names == (3, 7, 10)
    assert type(names[0]) is int
    ids, names = encode_labels(pd.Series(["b", "a"]), classes=["b", "c", "a"])
    assert ids.tolist() == [0, 2] and names == ("b", "c", "a")  # the given order, unused "c" kept
    ids, names = encode_labels([], classes=["x"])
    assert ids.tolist() == [] and ids.dtype == np.int64 and names == ("x",)
    ids, names = encode_labels([("a", 1), ("b", 2), ("a", 1)])  # any hashable label
    assert ids.tolist() == [0, 1, 0] and names == (("a", 1), ("b", 2))


def test_encode_labels_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"labels \['d', 'e'\] are not in classes \['a', 'b'\]"):
        encode_labels(["a", "d", "e", "d"], classes=["a", "b"])
    with pytest.raises(ValueError, match=r"'a' appear more than once"):
        encode_labels(["a"], classes=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"1 missing value.*positions \[1\]"):
        encode_labels(["a", None, "b"])
    with pytest.raises(ValueError, match=r"cannot be sorted .*pass classes="):
        encode_labels(["a", 1])
    assert encode_labels(["a", 1], classes=[1, "a"])[0].tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"must be 1-D .*got shape \(2, 2\)"):
        encode_labels(np.zeros((2, 2)))


def test_to_class_ids_encodes_string_labels_and_keeps_integer_ids():
    np.testing.assert_array_equal(to_class_ids(np.array(["b", "a", "b"])), [1, 0, 1])
    np.testing.assert_array_equal(to_class_ids(["N", "V"], classes=["V", "N"]), [1, 0])
    np.testing.assert_array_equal(to_class_ids(np.array([3, 1])), [3, 1])  # ids stay ids
    np.testing.assert_array_equal(to_class_ids(np.array([3, 1]), classes=[1, 3]), [1, 0])
    np.testing.assert_array_equal(to_class_ids([[0.1, 0.9], [0.8, 0.2]]), [1, 0])
    with pytest.raises(ValueError, match=r"y_test: labels \['z'\] are not in classes"):
        to_class_ids(["z"], name="y_test", classes=["a"])


def test_metrics_still_compare_string_labels_label_by_label():
    # y_pred lacks "a": encoding each array on its own would give "b" two ids
    scores = classification_metrics(["a", "b", "b"], ["b", "b", "b"])
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["recall_b"] == 1.0 and scores["recall_a"] == 0.0


# ---------------------------------------------------------------------- advice in messages


def _ids_pass_the_search_checks(ids: np.ndarray, k: int) -> bool:
    """What the tuners' input checks ask of classification targets (lib/tuning/_data.py):
    a numeric dtype, integers, and classes inside 0..k-1."""
    return ids.dtype.kind in "iu" and ids.ndim == 1 and ids.min() >= 0 and ids.max() <= k - 1


def test_advice_of_the_tuning_checks_to_class_ids_works_for_string_labels():
    # lib/tuning/_data.py refuses string targets and says "map the labels with
    # lib.evaluation.to_class_ids or sklearn's LabelEncoder": doing so gives valid ids.
    y = np.array(["walk", "run", "sit", "run"])
    ids = to_class_ids(y)
    assert _ids_pass_the_search_checks(ids, k=3)
    # For numbers not starting at 0 (which to_class_ids keeps, as ids), encode_labels maps.
    ids, names = encode_labels(np.array([1, 10, 5]))
    assert _ids_pass_the_search_checks(ids, k=3) and names == (1, 5, 10)


def test_advice_of_sample_set_message_encode_labels_works():
    samples = np.zeros((3, 4, 1))
    with pytest.raises(ValueError, match=r"lib\.labels\.encode_labels\(labels\)") as caught:
        SampleSet(samples, np.array(["x", "y", "x"]), class_names=("x", "y"))
    assert "integer class ids 0..1" in str(caught.value)
    ids, names = encode_labels(np.array(["x", "y", "x"]))  # the advice
    sample_set = SampleSet(samples, ids, class_names=names)
    assert sample_set.labels.tolist() == [0, 1, 0]
    assert sample_set.label_names.tolist() == ["x", "y", "x"]
