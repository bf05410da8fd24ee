"""lib.datasets.series (read_ts, read_long_csv, load_ucr, SampleSet) and the length and
scale helpers of "your own series" (lib.padding.pad_samples / resample_samples,
lib.scaling.znormalize_samples). The .ts and CSV files are written here, small."""

from __future__ import annotations

import hashlib
import re

import keras
import numpy as np
import pytest

from conftest import mirror
from lib.datasets import (
    ChecksumError,
    DatasetNotAvailableError,
    SampleSet,
    load_ucr,
    read_long_csv,
    read_ts,
)
from lib.datasets import series as series_module
from lib.padding import pad_samples, resample_samples
from lib.scaling import znormalize_samples

UNIVARIATE = """\
# a comment
#another one
@problemName Tiny
@timeStamps false
@missing true
@univariate true
@equalLength true
@seriesLength 4
@classLabel true walk run sit
@data
1,2,3,4:run
0.5,?,-1e1, 2:walk

5,5,5,5:run
"""

MULTIVARIATE_UNEQUAL = """\
@problemName Wave
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true 2 10 1
@data
1,2,3:4,5,6:10
7,8:9,10:1
1,2,3,4:5,6,7,8:10
"""


def write(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- read_ts


def test_read_ts_univariate_equal_length_string_labels_and_missing(tmp_path):
    data = read_ts(write(tmp_path, UNIVARIATE))
    assert data.name == "Tiny" and len(data) == 3 and data.equal_length and data.n_channels == 1
    assert data.samples.shape == (3, 4, 1) and data.samples.dtype == np.float64
    np.testing.assert_array_equal(
        data.samples[..., 0], [[1, 2, 3, 4], [0.5, np.nan, -10, 2], [5, 5, 5, 5]]
    )
    assert data.class_names == ("walk", "run", "sit")  # the header's order, not sorted
    assert data.labels.tolist() == [1, 0, 1]
    assert data.label_names.tolist() == ["run", "walk", "run"]
    assert data.lengths.tolist() == [4, 4, 4]


def test_read_ts_multivariate_unequal_length(tmp_path):
    data = read_ts(write(tmp_path, MULTIVARIATE_UNEQUAL))
    assert not data.equal_length and data.n_channels == 2
    assert data.lengths.tolist() == [3, 2, 4]
    np.testing.assert_array_equal(data.samples[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(data.samples[1], [[7, 9], [8, 10]])
    assert data.class_names == ("2", "10", "1") and data.labels.tolist() == [1, 2, 1]


def test_read_ts_equal_lengths_give_one_array_and_dimensions_from_the_first_line(tmp_path):
    text = "@problemName M\n@univariate false\n@equalLength false\n@classLabel true a b\n@data\n"
    text += "1,2:3,4:5,6:a\n7,8:9,10:11,12:b\n"
    data = read_ts(write(tmp_path, text))
    assert data.equal_length and data.samples.shape == (2, 2, 3)
    np.testing.assert_array_equal(data.samples[1], [[7, 9, 11], [8, 10, 12]])


def test_read_ts_unlabelled_file_and_tags_in_any_case(tmp_path):
    text = "@PROBLEMNAME u\n@Univariate true\n@classlabel false\n@DATA\n1,2\n3\n"
    data = read_ts(write(tmp_path, text))
    assert data.labels is None and data.class_names == () and data.label_names is None
    assert data.lengths.tolist() == [2, 1]


def error_of(tmp_path, text, name="x.ts"):
    path = write(tmp_path, text, name)
    with pytest.raises(ValueError) as caught:
        read_ts(path)
    return str(caught.value)


HEADER_3D = "@problemName P\n@univariate false\n@dimensions 3\n@equalLength false\n"
HEADER_3D += "@classLabel true a b\n@data\n"


def test_read_ts_wrong_dimension_count_names_file_line_expected_found(tmp_path):
    message = error_of(tmp_path, HEADER_3D + "1,2:3,4:5,6:a\n\n1,2:3,4:b\n")
    assert message.startswith(
        "x.ts line 9: expected 3 dimensions separated by ':' then the class label "
        "(from @dimensions 3), found 2"
    )
    assert str(tmp_path / "x.ts") in message
    text = "@univariate false\n@classLabel true a\n@data\n1:2:a\n1:a\n"
    message = error_of(tmp_path, text)
    assert "line 5: expected 2 dimensions" in message
    assert "(from the first data line, line 4), found 1" in message
    text = "@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n"
    assert (
        "line 4: expected 1 dimension separated by ':' then the class label (from "
        "@univariate true), found 2" in error_of(tmp_path, text)
    )


def test_read_ts_text_in_numbers_names_value_and_dimension(tmp_path):
    message = error_of(tmp_path, HEADER_3D + "1,2:3,4:5,6:a\n1,2:3,x4:5,6:b\n", "bad.ts")
    assert message.startswith(
        "bad.ts line 8: expected a number or '?' as value 2 of dimension 2, found 'x4'"
    )
    message = error_of(tmp_path, HEADER_3D + "1,2,:3,4,5:5,6,7:a\n")
    assert "line 7: expected a number or '?' as value 3 of dimension 1, found ''" in message


def test_read_ts_label_not_in_header(tmp_path):
    message = error_of(tmp_path, UNIVARIATE.replace("5,5,5,5:run", "5,5,5,5:jump"))
    assert message.startswith(
        "x.ts line 14: expected a class label listed in @classLabel (walk run sit), found 'jump'"
    )


def test_read_ts_lengths_checked_against_the_header(tmp_path):
    message = error_of(tmp_path, UNIVARIATE.replace("5,5,5,5:run", "5,5,5:run"))
    assert (
        "x.ts line 14: expected 4 values per dimension (from @seriesLength 4), found 3" in message
    )
    text = UNIVARIATE.replace("@seriesLength 4\n", "").replace("5,5,5,5:run", "5,5,5,5,5:run")
    message = error_of(tmp_path, text)
    assert (
        "line 13: expected 4 values per dimension (from @equalLength true and line 10), "
        "found 5" in message
    )
    message = error_of(tmp_path, HEADER_3D + "1,2:3,4,5:5,6:a\n")
    assert (
        "line 7: expected every dimension of a sample to have the same length, found "
        "lengths [2, 3, 2]" in message
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@problemName p\n@classLabel true a\n1,2:a\n", "line 3: expected a header line"),
        ("@classLabel true a\n", "expected a line @data before the data, found none"),
        ("@univariate true\n@data\n1:a\n", "expected a header line '@classLabel true"),
        ("@univariate maybe\n", "line 1: expected 'true' or 'false' after @univariate, found"),
        ("@dimensions two\n", "line 1: expected a positive integer after @dimensions, found"),
        ("@color red\n", "line 1: expected one of the header tags @problemName"),
        ("@classLabel true a\n@classLabel true b\n", "line 2: expected @classLabel once"),
        ("@classLabel true a\n@data\n# nothing\n", "expected at least one data line"),
        ("@timeStamps true\n", "line 1: expected @timeStamps false, found true"),
        (
            "@univariate true\n@dimensions 2\n@classLabel true a\n@data\n1:a\n",
            "line 2: expected @dimensions 1 (from @univariate true), found 2",
        ),
    ],
)
def test_read_ts_malformed_headers(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message.startswith("x.ts") and expected in message


# ---------------------------------------------------------------------- SampleSet


def test_sample_set_checks_its_parts():
    with pytest.raises(ValueError, match=r"lengths \[3\] disagree with the samples' lengths \[2\]"):
        SampleSet([np.zeros((2, 1))], np.array([0]), ("a",), lengths=np.array([3]))
    with pytest.raises(ValueError, match=r"same number of channels; found \[1, 2\]"):
        SampleSet([np.zeros((2, 1)), np.zeros((2, 2))], None)
    with pytest.raises(ValueError, match=r"one class id per sample: 2 samples"):
        SampleSet(np.zeros((2, 3, 1)), np.array([0]), ("a",))
    with pytest.raises(ValueError, match=r"integer class ids 0\.\.0 .*values \[0, 1\]"):
        SampleSet(np.zeros((2, 3, 1)), np.array([0, 1]), ("a",))


# ---------------------------------------------------------------------- read_long_csv


LONG_CSV = """\
sample,time,label,x,y
s2,1,run,20,21
s1,2,walk,12,13
s1,1,walk,10,11
s2,0,run,,19
s1,3,walk,14,15
"""


def test_read_long_csv_sorts_time_within_a_sample(tmp_path):
    data = read_long_csv(write(tmp_path, LONG_CSV, "gait.csv"))
    assert data.name == "gait" and data.lengths.tolist() == [2, 3]  # order of first appearance
    np.testing.assert_array_equal(data.samples[0], [[np.nan, 19], [20, 21]])
    np.testing.assert_array_equal(data.samples[1], [[10, 11], [12, 13], [14, 15]])
    assert data.class_names == ("run", "walk") and data.labels.tolist() == [0, 1]
    renamed = LONG_CSV.replace("sample,time,label", "id,t,activity")
    data = read_long_csv(
        write(tmp_path, renamed, "r.csv"), sample="id", time="t", label="activity", channels=["y"]
    )
    assert data.n_channels == 1 and data.samples[1][:, 0].tolist() == [11, 13, 15]
    equal = LONG_CSV.replace("s1,3,walk,14,15\n", "")
    data = read_long_csv(write(tmp_path, equal, "e.csv"), label=None, channels=["x", "y"])
    assert data.equal_length and data.samples.shape == (2, 2, 2) and data.labels is None


def test_read_long_csv_errors_name_the_sample_or_line(tmp_path):
    two_labels = LONG_CSV.replace("s1,3,walk", "s1,3,run")
    with pytest.raises(
        ValueError,
        match=r"gait\.csv: expected one label per sample, found 1 "
        r"sample\(s\) with more: sample 's1' has labels \['walk', 'run'\]",
    ):
        read_long_csv(write(tmp_path, two_labels, "gait.csv"))
    with pytest.raises(ValueError, match=r"line 3: expected a number in channel 'y', found 'oops'"):
        read_long_csv(write(tmp_path, LONG_CSV.replace("12,13", "12,oops"), "n.csv"))
    with pytest.raises(ValueError, match=r"expected columns \['sample', 'time', 'label', 'z'\]"):
        read_long_csv(write(tmp_path, LONG_CSV, "c.csv"), channels=["z"])
    with pytest.raises(ValueError, match=r"found sample 's1' at time 2 on lines \[3, 7\]"):
        read_long_csv(write(tmp_path, LONG_CSV + "s1,2,walk,0,0\n", "d.csv"))
    with pytest.raises(ValueError, match=r"column 'label': labels \['walk'\] are not in classes"):
        read_long_csv(write(tmp_path, LONG_CSV, "k.csv"), classes=["run"])


# ---------------------------------------------------------------------- load_ucr


def test_load_ucr_not_available_says_where_to_put_the_files(tmp_cache):
    with pytest.raises(DatasetNotAvailableError) as caught:
        load_ucr("OSULeaf", "train")
    message = str(caught.value)
    assert "ucr/OSULeaf/OSULeaf_TRAIN.ts" in message and str(tmp_cache) in message
    assert "no per-file download" in message and "timeseriesclassification.com" in message
    assert str(tmp_cache / "ucr" / "OSULeaf") in message
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_ucr("OSULeaf", "validation")
    with pytest.raises(ValueError, match="name must be a UCR/UEA set's name"):
        load_ucr("../OSULeaf", "train")


def test_load_ucr_reads_the_cache_and_checks_known_sha256(tmp_cache, monkeypatch):
    folder = tmp_cache / "ucr" / "Tiny"
    folder.mkdir(parents=True)
    path = folder / "Tiny_TEST.ts"
    path.write_text(UNIVARIATE)
    assert load_ucr("Tiny", "TEST").class_names == ("walk", "run", "sit")  # unknown: no check
    relative = "ucr/Tiny/Tiny_TEST.ts"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(series_module.UCR_SHA256, relative, digest)
    assert len(load_ucr("Tiny", "test")) == 3
    monkeypatch.setitem(series_module.UCR_SHA256, relative, "0" * 64)
    with pytest.raises(ChecksumError, match=re.escape(f"sha256 of {path} is {digest}")):
        load_ucr("Tiny", "test")
    assert path.exists()  # a file put there by hand is never deleted


def test_ucr_sha256_are_the_mirror_readme_s():
    assert len(series_module.UCR_SHA256) == 6
    assert series_module.UCR_SHA256["ucr/OSULeaf/OSULeaf_TRAIN.ts"].startswith("86b9d6e8")


UCR_MIRROR = mirror() is not None and (mirror() / "ucr").is_dir()


@pytest.mark.slow
@pytest.mark.skipif(not UCR_MIRROR, reason="LIB_DATA_DIR unset or without ucr/")
@pytest.mark.parametrize(
    ("name", "split", "count", "shortest", "longest", "per_class"),
    [
        ("PickupGestureWiimoteZ", "train", 50, 29, 361, [5] * 10),
        ("PickupGestureWiimoteZ", "test", 50, 37, 324, [5] * 10),
        ("OSULeaf", "train", 200, 427, 427, [34, 29, 33, 53, 36, 15]),
        ("OSULeaf", "test", 242, 427, 427, None),
        ("ACSF1", "train", 100, 1460, 1460, [10] * 10),
        ("ACSF1", "test", 100, 1460, 1460, [10] * 10),
    ],
)
def test_load_ucr_from_the_mirror(name, split, count, shortest, longest, per_class):
    data = load_ucr(name, split)
    assert data.name == name and len(data) == count and data.n_channels == 1
    assert (data.lengths.min(), data.lengths.max()) == (shortest, longest)
    assert data.equal_length == (shortest == longest)
    first = {"PickupGestureWiimoteZ": 1, "OSULeaf": 1, "ACSF1": 0}[name]
    k = {"PickupGestureWiimoteZ": 10, "OSULeaf": 6, "ACSF1": 10}[name]
    assert data.class_names == tuple(str(i) for i in range(first, first + k))
    if per_class is not None:
        assert np.bincount(data.labels, minlength=k).tolist() == per_class


# ---------------------------------------------------------------------- pad_samples


SHORT_AND_LONG = [np.array([[1.0], [2.0]]), np.array([[3.0], [4.0], [5.0], [6.0]])]


def test_pad_samples_post_and_pre_with_masks():
    x, mask = pad_samples(SHORT_AND_LONG)
    np.testing.assert_array_equal(x[..., 0], [[1, 2, 0, 0], [3, 4, 5, 6]])
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0], [1, 1, 1, 1]])
    x, mask = pad_samples(SHORT_AND_LONG, padding="pre", value=-1)
    np.testing.assert_array_equal(x[..., 0], [[-1, -1, 1, 2], [3, 4, 5, 6]])
    np.testing.assert_array_equal(mask, [[0, 0, 1, 1], [1, 1, 1, 1]])
    assert x.dtype == np.float64 and mask.dtype == bool


def test_pad_samples_truncates_and_takes_a_sample_set():
    x, mask = pad_samples(SHORT_AND_LONG, 3)
    np.testing.assert_array_equal(x[..., 0], [[1, 2, 0], [3, 4, 5]])
    x, mask = pad_samples(SHORT_AND_LONG, 3, padding="pre", truncating="pre")
    np.testing.assert_array_equal(x[..., 0], [[0, 1, 2], [4, 5, 6]])
    np.testing.assert_array_equal(mask, [[0, 1, 1], [1, 1, 1]])
    data = SampleSet([np.array([[1, 10], [2, 20]]), np.array([[3, 30]])], None)
    x, mask = pad_samples(data)
    np.testing.assert_array_equal(x, [[[1, 10], [2, 20]], [[3, 30], [0, 0]]])
    assert x.dtype == np.float64  # integers become floats
    x, _ = pad_samples([np.array([1, 2], dtype=np.float32), np.array([3], dtype=np.float32)])
    assert x.dtype == np.float32 and x.shape == (2, 2, 1)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_samples_matches_keras_pad_sequences(padding, truncating):
    rng = np.random.default_rng(0)
    samples = [rng.normal(size=(size, 2)) for size in (5, 1, 8, 3, 0)]
    x, mask = pad_samples(samples, 4, padding=padding, truncating=truncating, value=7.0)
    expected = keras.utils.pad_sequences(
        samples, maxlen=4, dtype="float64", padding=padding, truncating=truncating, value=7.0
    )
    np.testing.assert_array_equal(x, expected)
    assert mask.sum(axis=1).tolist() == [4, 1, 4, 3, 0]


def test_pad_samples_refuses_bad_arguments():
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'; got 'middle'"):
        pad_samples(SHORT_AND_LONG, padding="middle")
    with pytest.raises(ValueError, match="length must be a positive integer; got 0"):
        pad_samples(SHORT_AND_LONG, 0)
    with pytest.raises(ValueError, match="sample 0 has 1, sample 1 has 2"):
        pad_samples([np.zeros((2, 1)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="samples is empty"):
        pad_samples([])


# ---------------------------------------------------------------------- resample_samples


def test_resample_samples_linear_interpolation_exact_values():
    out = resample_samples([np.array([0.0, 10.0]), np.array([0.0, 1.0, 4.0])], 5)
    np.testing.assert_allclose(out[..., 0], [[0, 2.5, 5, 7.5, 10], [0, 0.5, 1, 2.5, 4]])
    out = resample_samples([np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])], 2)
    np.testing.assert_array_equal(out, [[[1, 2], [5, 10]]])
    np.testing.assert_array_equal(resample_samples([np.array([7.0])], 3)[..., 0], [[7, 7, 7]])
    np.testing.assert_array_equal(resample_samples([np.array([4.0, 5.0])], 1)[..., 0], [[4]])


def test_resample_samples_matches_np_interp_and_keeps_same_length_samples():
    rng = np.random.default_rng(1)
    samples = [rng.normal(size=(size, 2)) for size in (29, 361, 100, 2)]
    out = resample_samples(samples, 100)
    assert out.shape == (4, 100, 2)
    for sample, row in zip(samples, out, strict=True):
        grid = np.linspace(0, len(sample) - 1, 100)
        for channel in range(2):
            expected = np.interp(grid, np.arange(len(sample)), sample[:, channel])
            np.testing.assert_allclose(row[:, channel], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out[2], samples[2])  # already 100 long: unchanged
    with pytest.raises(ValueError, match=r"samples \[1\] have no step"):
        resample_samples([np.ones(3), np.ones(0)], 4)


# ---------------------------------------------------------------------- znormalize_samples


def test_znormalize_samples_exact_values_and_constant_series():
    x = np.array([[[1.0, 5.0], [3.0, 5.0]], [[0.0, 2.0], [4.0, 2.0]]])
    out = znormalize_samples(x)
    np.testing.assert_array_equal(out[..., 0], [[-1, 1], [-1, 1]])
    np.testing.assert_array_equal(out[..., 1], [[0, 0], [0, 0]])  # constant: zeros, not NaN
    x = np.array([[[2.0], [4.0], [6.0]]])  # mean 4, population std sqrt(8/3)
    np.testing.assert_allclose(out := znormalize_samples(x)[0, :, 0], [-2, 0, 2] / np.sqrt(8 / 3))
    assert out.dtype == np.float64


def test_znormalize_samples_ignores_masked_steps_and_nan():
    x = np.array([[[1.0], [3.0], [-9999.0]], [[5.0], [np.nan], [7.0]]])
    mask = np.array([[True, True, False], [True, True, True]])
    out = znormalize_samples(x, mask)
    np.testing.assert_array_equal(out[0, :, 0], [-1, 1, -9999])  # the filler is kept
    np.testing.assert_array_equal(out[1, :, 0], [-1, np.nan, 1])  # the gap stays NaN
    padded, padded_mask = pad_samples([np.array([1.0, 3.0]), np.array([2.0, 2.0, 2.0])])
    np.testing.assert_array_equal(
        znormalize_samples(padded, padded_mask)[..., 0], [[-1, 1, 0], [0, 0, 0]]
    )
    x32 = np.ones((1, 3, 1), dtype=np.float32)
    assert znormalize_samples(x32).dtype == np.float32


def test_znormalize_samples_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"got shape \(2, 3\); for univariate series pass"):
        znormalize_samples(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"mask must be \(samples, time\) = \(2, 3\)"):
        znormalize_samples(np.zeros((2, 3, 1)), np.ones((2, 4), dtype=bool))


def test_read_ts_windows_line_endings_and_byte_order_mark(tmp_path):
    path = tmp_path / "win.ts"
    path.write_bytes(b"\xef\xbb\xbf@univariate true\r\n@classLabel true a\r\n@data\r\n1,2:a\r\n")
    data = read_ts(path)
    assert data.name == "win" and data.samples.tolist() == [[[1.0], [2.0]]]
