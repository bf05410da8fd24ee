"""Loaders, cache and stand-ins, on small files the tests write (plus real-data checks
when the LIB_DATA_DIR mirror is present)."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import mirror, requires_mirror
from lib.datasets import (
    ChecksumError,
    DatasetNotAvailableError,
    _cache,
    hand_poses,
    household_power,
    load_hand_poses,
    load_household_power,
    load_mhealth,
    load_mice_sleep,
    mhealth,
    parse_household_power_text,
    read_mhealth_csv,
    read_mhealth_log,
    read_mice_sleep_file,
    synthetic,
)

UCI_TEXT = (
    "Date;Time;Global_active_power;Global_reactive_power;Voltage;Global_intensity;"
    "Sub_metering_1;Sub_metering_2;Sub_metering_3\n"
    "16/12/2006;17:24:00;4.216;0.418;234.840;18.400;0.000;1.000;17.000\n"
    "16/12/2006;17:25:00;5.360;0.436;233.630;23.000;0.000;1.000;16.000\n"
    "1/2/2007;9:05:00;?;?;?;?;?;?;\n"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def no_partial_files(folder) -> bool:
    return not list(folder.rglob("*.part"))


# --- cache -----------------------------------------------------------------------------


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    with pytest.raises(RuntimeError):
        with _cache.atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert no_partial_files(tmp_path)
    with _cache.atomic_path(target) as temporary:
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert no_partial_files(tmp_path)


def test_download_checksum_mismatch_deletes_and_raises(tmp_path, tmp_cache):
    source = tmp_path / "remote.csv"
    source.write_bytes(b"not the published file")
    destination = tmp_cache / "x" / "file.csv"
    with pytest.raises(ChecksumError, match="expected"):
        _cache.download(source.as_uri(), destination, sha256="0" * 64)
    assert not destination.exists()
    assert no_partial_files(tmp_cache)


def test_mirror_is_searched_before_cache(tmp_path, tmp_cache, monkeypatch):
    mirror_dir = tmp_path / "mirror"
    (mirror_dir / "a").mkdir(parents=True)
    (mirror_dir / "a" / "f.txt").write_text("mirror")
    (tmp_cache / "a").mkdir()
    (tmp_cache / "a" / "f.txt").write_text("cache")
    monkeypatch.setenv("LIB_DATA_DIR", str(mirror_dir))
    assert _cache.find_file("a/f.txt").read_text() == "mirror"
    monkeypatch.delenv("LIB_DATA_DIR")
    assert _cache.find_file("a/f.txt").read_text() == "cache"
    assert _cache.find_file("a/missing.txt") is None


def test_offline_error_names_dataset_url_and_folders(tmp_cache):
    with pytest.raises(DatasetNotAvailableError) as info:
        _cache.fetch("Some dataset", "some/file.csv", "https://example.org/file.csv")
    message = str(info.value)
    assert "Some dataset" in message and "https://example.org/file.csv" in message
    assert str(tmp_cache) in message and "some/file.csv" in message


# --- household power -------------------------------------------------------------------


def test_household_parser_reads_uci_format():
    frame = parse_household_power_text(io.StringIO(UCI_TEXT))
    assert list(frame.columns) == ["datetime", *household_power.MEASUREMENTS]
    assert frame["datetime"].dtype == "datetime64[ms]"
    assert frame["datetime"].iloc[2] == pd.Timestamp("2007-02-01 09:05:00")
    assert frame["Global_active_power"].iloc[0] == pytest.approx(4.216)
    assert frame.iloc[2, 1:].isna().all() and not frame.iloc[:2, 1:].isna().any().any()
    assert (frame.dtypes.iloc[1:] == np.float64).all()


def test_household_parser_rejects_other_header():
    with pytest.raises(ValueError, match="UCI header"):
        parse_household_power_text(io.StringIO("a;b\n1;2\n"))


def test_household_download_parse_and_cache(tmp_path, tmp_cache, monkeypatch):
    archive = tmp_path / "power.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(household_power.TEXT_NAME, UCI_TEXT)
    monkeypatch.setenv("LIB_OFFLINE", "0")
    monkeypatch.setattr(household_power, "URL", archive.as_uri())
    monkeypatch.setattr(household_power, "ROWS", 3)
    frame = load_household_power()
    assert len(frame) == 3
    cached = tmp_cache / household_power.PARQUET
    assert cached.is_file() and no_partial_files(tmp_cache)
    pd.testing.assert_frame_equal(pd.read_parquet(cached), frame)
    indexed = load_household_power(index=True)  # now from the cache
    assert indexed.index.name == "datetime" and len(indexed) == 3


def test_household_wrong_row_count_is_refused(tmp_cache):
    frame = parse_household_power_text(io.StringIO(UCI_TEXT))
    (tmp_cache / "household_power").mkdir()
    path = tmp_cache / household_power.PARQUET
    frame.to_parquet(path)
    Path(f"{path}.sha256").write_text(_cache.sha256_file(path))  # as the loader records it
    with pytest.raises(ValueError, match="expected 2,075,259 minutes, found 3"):
        load_household_power()


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_household_cached_parquet_with_a_flipped_byte_is_refused_and_rebuilt(
    tmp_path, tmp_cache, monkeypatch
):
    archive = tmp_path / "power.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(household_power.TEXT_NAME, UCI_TEXT)
    monkeypatch.setenv("LIB_OFFLINE", "0")
    monkeypatch.setattr(household_power, "URL", archive.as_uri())
    monkeypatch.setattr(household_power, "ROWS", 3)
    original = load_household_power()
    cached = tmp_cache / household_power.PARQUET
    digest = Path(f"{cached}.sha256")
    recorded = digest.read_text().strip()
    assert recorded == _cache.sha256_file(cached)
    _flip_byte(cached)
    with pytest.raises(ChecksumError, match="file was deleted") as caught:
        load_household_power()
    assert str(cached) in str(caught.value) and recorded in str(caught.value)
    assert not cached.exists() and not digest.exists()
    monkeypatch.setenv("LIB_OFFLINE", "1")  # the archive is cached: rebuilt without download
    pd.testing.assert_frame_equal(load_household_power(), original)


def test_household_cached_parquet_without_recorded_digest_is_refused(tmp_cache):
    frame = parse_household_power_text(io.StringIO(UCI_TEXT))
    (tmp_cache / "household_power").mkdir()
    path = tmp_cache / household_power.PARQUET
    frame.to_parquet(path)
    with pytest.raises(ChecksumError, match="minute.parquet.sha256, which is missing"):
        load_household_power()
    assert not path.exists()


def test_household_mirror_parquet_is_verified_but_never_deleted(tmp_path, tmp_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "household_power").mkdir(parents=True)
    path = mirror / household_power.PARQUET
    parse_household_power_text(io.StringIO(UCI_TEXT)).to_parquet(path)
    Path(f"{path}.sha256").write_text(_cache.sha256_file(path))  # not trusted in a mirror
    path.chmod(0o444)
    monkeypatch.setenv("LIB_DATA_DIR", str(mirror))
    with pytest.raises(ChecksumError, match="unset LIB_DATA_DIR") as caught:
        load_household_power()
    assert household_power.MIRROR_PARQUET_SHA256 in str(caught.value)
    assert path.is_file()


# --- hand poses ------------------------------------------------------------------------


def _hand_pose_csv() -> bytes:
    header = ",".join([*hand_poses.FEATURES, "class"])
    rows = [
        "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.25,0.333333333,1FS",
        "-0.1,-0.2,-0.3,-0.4,-0.5,-0.6,-0.7,0.5,0,4FJ",
    ]
    return ("\n".join([header, *rows]) + "\n").encode()


def test_hand_poses_verified_download(tmp_path, tmp_cache, monkeypatch):
    data = _hand_pose_csv()
    (tmp_path / "dtagain.csv").write_bytes(data)
    monkeypatch.setenv("LIB_OFFLINE", "0")
    monkeypatch.setattr(hand_poses, "URL", (tmp_path / "dtagain.csv").as_uri())
    monkeypatch.setattr(hand_poses, "SHA256", sha(data))
    frame = load_hand_poses()
    assert list(frame.columns) == [*hand_poses.FEATURES, "class"] and len(frame) == 2
    assert (tmp_cache / hand_poses.RELATIVE).read_bytes() == data


def test_hand_poses_bad_checksum_deletes_cached_copy(tmp_path, tmp_cache, monkeypatch):
    (tmp_path / "dtagain.csv").write_bytes(_hand_pose_csv())
    monkeypatch.setenv("LIB_OFFLINE", "0")
    monkeypatch.setattr(hand_poses, "URL", (tmp_path / "dtagain.csv").as_uri())
    with pytest.raises(ChecksumError):
        load_hand_poses()
    assert not (tmp_cache / hand_poses.RELATIVE).exists()
    assert no_partial_files(tmp_cache)


def test_hand_poses_mirror_copy_is_checked_but_never_deleted(tmp_path, tmp_cache, monkeypatch):
    mirror_file = tmp_path / "mirror" / hand_poses.RELATIVE
    mirror_file.parent.mkdir(parents=True)
    mirror_file.write_bytes(_hand_pose_csv())
    monkeypatch.setenv("LIB_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(ChecksumError):
        load_hand_poses()
    assert mirror_file.exists()


def test_damaged_mirror_files_inside_the_cache_folder_are_never_deleted(
    tmp_path, tmp_cache, monkeypatch
):
    mirror = tmp_cache / "mirror"  # e.g. LIB_DATA_DIR=data/mirror with the default cache
    hand = mirror / hand_poses.RELATIVE
    hand.parent.mkdir(parents=True)
    hand.write_bytes(_hand_pose_csv())  # not the published file: its checksum fails
    (mirror / "household_power").mkdir()
    parquet = mirror / household_power.PARQUET
    parse_household_power_text(io.StringIO(UCI_TEXT)).to_parquet(parquet)
    digest = Path(f"{parquet}.sha256")
    digest.write_text(_cache.sha256_file(parquet))
    monkeypatch.setenv("LIB_DATA_DIR", str(mirror))
    with pytest.raises(ChecksumError) as caught:
        load_hand_poses()
    assert hand.read_bytes() == _hand_pose_csv()  # the data loss: it was deleted
    assert str(hand) in str(caught.value) and "mirror's file was left in place" in str(caught.value)
    with pytest.raises(ChecksumError, match="unset LIB_DATA_DIR"):
        load_household_power()
    assert parquet.is_file() and digest.is_file()
    assert not _cache.is_cache_file(hand) and not _cache.is_cache_file(parquet)
    with pytest.raises(ChecksumError, match="left in place"):
        _cache.verify_sha256(hand, "0" * 64)  # delete=True still spares a mirror file
    assert hand.read_bytes() == _hand_pose_csv() and parquet.is_file() and digest.is_file()
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(b"x")
    with pytest.raises(ChecksumError, match="left in place"):
        _cache.verify_sha256(outside, "0" * 64)
    assert outside.is_file()
    own = tmp_cache / "copy.csv"  # the cache's own file still goes
    own.write_bytes(b"x")
    assert _cache.is_cache_file(own)
    with pytest.raises(ChecksumError, match="file was deleted"):
        _cache.verify_sha256(own, "0" * 64)
    assert not own.exists()


def test_is_cache_file_when_the_cache_sits_inside_the_mirror_or_is_the_mirror(
    tmp_path, monkeypatch
):
    mirror = tmp_path / "mirror"
    monkeypatch.setenv("LIB_DATA_DIR", str(mirror))
    monkeypatch.setenv("LIB_CACHE_DIR", str(mirror / "cache"))
    assert _cache.is_cache_file(mirror / "cache" / "a.csv")
    assert not _cache.is_cache_file(mirror / "a.csv")
    monkeypatch.setenv("LIB_CACHE_DIR", str(mirror))  # one folder: read-only, never deleted
    assert not _cache.is_cache_file(mirror / "a.csv")
    monkeypatch.delenv("LIB_DATA_DIR")
    assert _cache.is_cache_file(mirror / "a.csv")
    assert not _cache.is_cache_file(tmp_path / "a.csv")


# --- MHEALTH ---------------------------------------------------------------------------


def _mhealth_log(rows: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, 23)).round(4)
    labels = np.repeat([0, 1, 0, 12], rows // 4 + 1)[:rows]
    lines = ("\t".join(map(str, [*v, lab])) for v, lab in zip(values, labels, strict=True))
    return "\n".join(lines) + "\n"


def test_mhealth_log_parser_picks_study_channels():
    text = _mhealth_log(8, 0)
    frame = read_mhealth_log(io.StringIO(text), subject=3)
    assert list(frame.columns) == [*mhealth.CHANNELS, "activity", "subject"]
    raw = np.loadtxt(io.StringIO(text))
    np.testing.assert_allclose(frame["alx"], raw[:, 5], rtol=1e-6)  # log column 6
    np.testing.assert_allclose(frame["grz"], raw[:, 19], rtol=1e-6)  # log column 20
    assert frame["activity"].tolist() == raw[:, 23].astype(int).tolist()
    assert (frame["subject"] == 3).all()
    assert read_mhealth_log(io.StringIO(text), subject=3, all_channels=True).shape[1] == 25


def test_mhealth_log_parser_rejects_wrong_width():
    with pytest.raises(ValueError, match="24 columns"):
        read_mhealth_log(io.StringIO("1 2 3\n4 5 6\n"), subject=1)


def test_mhealth_loads_logs_verifies_and_caches(tmp_cache, monkeypatch):
    folder = tmp_cache / "mhealth"
    folder.mkdir()
    digests = {}
    for subject in mhealth.SUBJECTS:
        text = _mhealth_log(12, subject).encode()
        (folder / f"mHealth_subject{subject}.log").write_bytes(text)
        digests[subject] = sha(text)
    monkeypatch.setattr(mhealth, "SHA256", digests)
    frame = load_mhealth(subjects=(2, 5))
    assert sorted(frame["subject"].unique()) == [2, 5] and len(frame) == 24
    assert list(folder.glob("mhealth_study_v*.parquet"))  # parsed once, cached
    assert len(load_mhealth()) == 120
    (folder / "mHealth_subject1.log").write_bytes(b"tampered")
    for cached in folder.glob("*.parquet"):
        cached.unlink()
    with pytest.raises(ChecksumError, match="mHealth_subject1.log"):
        load_mhealth()


def test_mhealth_offline_fails_fast_with_instructions(tmp_cache, monkeypatch):
    monkeypatch.setenv("LIB_OFFLINE", "0")  # really try the network: there is none here
    monkeypatch.setattr(mhealth, "URL", "http://nonexistent.invalid/mhealth+dataset.zip")
    start = time.monotonic()
    with pytest.raises(DatasetNotAvailableError) as info:
        load_mhealth()
    assert time.monotonic() - start < 60
    message = str(info.value)
    assert "MHEALTH" in message and str(tmp_cache) in message
    assert "mHealth_subject" in message and "archive.ics.uci.edu" in message


def test_mhealth_kaggle_csv(tmp_path):
    columns = [*mhealth.CHANNELS, "Activity", "subject"]
    rows = [[*range(12), 4, "subject9"], [*range(12), 0, "subject1"]]
    path = tmp_path / "mhealth_raw_data.csv"
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    frame = read_mhealth_csv(path)
    assert frame["subject"].tolist() == [9, 1] and frame["activity"].tolist() == [4, 0]
    assert list(frame.columns) == [*mhealth.CHANNELS, "activity", "subject"]
    pd.DataFrame({"alx": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing"):
        read_mhealth_csv(path)


# --- mice sleep ------------------------------------------------------------------------


def _mouse_csv(path, states=("w", "n", "r", "w")):
    columns = {
        f"amplitude_around_{h}_Hertz": np.linspace(1, 2, len(states)) * h for h in range(1, 102)
    }
    pd.DataFrame({"state": list(states), **columns}).to_csv(path, index=False)


def test_mice_sleep_reader_and_loader(tmp_cache):
    folder = tmp_cache / "mice_sleep"
    folder.mkdir()
    _mouse_csv(folder / "EEG_mouse_data_1.csv")
    _mouse_csv(folder / "EEG_mouse_data_2.csv", states=("n", "n"))
    frame = load_mice_sleep()
    assert frame["mouse"].tolist() == ["EEG_mouse_data_1"] * 4 + ["EEG_mouse_data_2"] * 2
    assert frame["state"].tolist() == ["w", "n", "r", "w", "n", "n"]
    pd.read_csv(folder / "EEG_mouse_data_2.csv").drop(columns="state").to_csv(
        folder / "test_mouse.csv", index=False
    )
    with pytest.raises(ValueError, match="no 'state' column"):
        load_mice_sleep()
    frame = load_mice_sleep(require_state=False)
    assert frame.loc[frame["mouse"] == "test_mouse", "state"].isna().all()
    assert len(frame) == 8


def test_mice_sleep_bad_states_and_missing_columns(tmp_path):
    _mouse_csv(tmp_path / "bad.csv", states=("w", "x"))
    with pytest.raises(ValueError, match="found \\['x'\\] on 1 lines \\(3\\)"):
        read_mice_sleep_file(tmp_path / "bad.csv")
    pd.DataFrame({"state": ["w"], "eeg": [1.0]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(ValueError, match="amplitude_around_N_Hertz"):
        read_mice_sleep_file(tmp_path / "other.csv")


HERTZ = [f"amplitude_around_{h}_Hertz" for h in range(1, 102)]


def _course_csv(path, rows=6, *, labelled=True, seed=0) -> pd.DataFrame:
    """A file in the real course layout: ``state`` then 101 full-precision amplitudes
    (e.g. 9.123150377376987e-06); the test mouse's file has no ``state``."""
    rng = np.random.default_rng(seed)
    amplitudes = rng.lognormal(-11.0, 1.0, size=(rows, 101)) / np.arange(1, 102)
    frame = pd.DataFrame(amplitudes, columns=HERTZ)
    if labelled:
        frame.insert(0, "state", rng.choice(list("wnr"), size=rows))
    frame.to_csv(path, index=False)
    return frame


def _edit_line(path, line: int, column: str, value: str) -> None:
    """Writes ``value`` verbatim into ``column`` of CSV line ``line`` (header = 1)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_mice_sleep_real_layout_round_trips_full_precision(tmp_path):
    written = _course_csv(tmp_path / "EEG_mouse_data_1.csv")
    assert len(written.columns) == 102
    assert "e-0" in (tmp_path / "EEG_mouse_data_1.csv").read_text().splitlines()[1]
    frame = read_mice_sleep_file(tmp_path / "EEG_mouse_data_1.csv")
    assert frame.columns.tolist() == ["mouse", "state", *HERTZ]
    np.testing.assert_array_equal(frame[HERTZ].to_numpy(), written[HERTZ].to_numpy())
    from lib.datasets import amplitude_columns

    assert amplitude_columns(frame) == HERTZ[:25]
    assert amplitude_columns(frame, n=None) == HERTZ


def test_mice_sleep_missing_frequency_is_named_not_shifted(tmp_path):
    from lib.datasets import amplitude_columns

    _course_csv(tmp_path / "m.csv").drop(columns="amplitude_around_13_Hertz").to_csv(
        tmp_path / "gap.csv", index=False
    )
    frame = pd.read_csv(tmp_path / "gap.csv")
    with pytest.raises(ValueError, match="missing amplitude_around_13_Hertz"):
        amplitude_columns(frame, n=25)
    assert amplitude_columns(frame, n=12) == HERTZ[:12]  # below the gap is fine
    with pytest.raises(ValueError, match="gap.csv.*missing amplitude_around_13_Hertz"):
        read_mice_sleep_file(tmp_path / "gap.csv")


@pytest.mark.parametrize("value", ["", "abc", "inf", " "])
def test_mice_sleep_blank_or_non_numeric_amplitude_names_the_line(tmp_path, value):
    path = tmp_path / "m.csv"
    _course_csv(path, rows=8)
    _edit_line(path, 5, "amplitude_around_7_Hertz", value)
    with pytest.raises(ValueError, match="lines 5;.*amplitude_around_7_Hertz") as caught:
        read_mice_sleep_file(path)
    assert str(path) in str(caught.value) and "1 rows" in str(caught.value)


def test_mice_sleep_blank_state_names_the_lines(tmp_path):
    path = tmp_path / "m.csv"
    _course_csv(path, rows=8)
    _edit_line(path, 4, "state", "")
    _edit_line(path, 9, "state", "x")
    with pytest.raises(ValueError, match=r"found \['<blank>', 'x'\] on 2 lines \(4, 9\)"):
        read_mice_sleep_file(path)


def test_mice_sleep_empty_files_name_the_path(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=f"{empty} is empty"):
        read_mice_sleep_file(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(["state", *HERTZ]) + "\n")
    with pytest.raises(ValueError, match=f"{header_only} has a header but no rows"):
        load_mice_sleep([header_only])


def test_mice_sleep_files_with_different_columns_are_refused(tmp_path):
    _course_csv(tmp_path / "a.csv")
    _course_csv(tmp_path / "b.csv", seed=1)[["state", *HERTZ[:25]]].to_csv(
        tmp_path / "b.csv", index=False
    )
    with pytest.raises(ValueError, match="b.csv has other columns than .*a.csv") as caught:
        load_mice_sleep([tmp_path / "a.csv", tmp_path / "b.csv"], frequencies=None)
    assert "amplitude_around_26_Hertz" in str(caught.value)
    with pytest.raises(ValueError, match="b.csv: expected 101 amplitude columns"):
        load_mice_sleep([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_mice_sleep_file_missing_its_last_frequency_is_refused(tmp_path):
    from lib.datasets import amplitude_columns

    path = tmp_path / "short.csv"
    _course_csv(tmp_path / "m.csv").drop(columns=HERTZ[-1]).to_csv(path, index=False)
    with pytest.raises(ValueError) as caught:
        read_mice_sleep_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "expected 101 amplitude columns amplitude_around_1_Hertz ... " in message
    assert "found 100 (amplitude_around_1_Hertz ... amplitude_around_100_Hertz)" in message
    assert "missing amplitude_around_101_Hertz" in message and "frequencies=None" in message
    with pytest.raises(ValueError, match="short.csv: expected 101"):
        load_mice_sleep([path], require_state=False)
    frame = read_mice_sleep_file(path, frequencies=None)  # another layout, said out loud
    assert amplitude_columns(frame, n=None) == HERTZ[:100]
    with pytest.raises(ValueError, match="frequencies must be a positive int"):
        read_mice_sleep_file(path, frequencies=0)


@pytest.mark.parametrize(
    "column", ["amplitude_around_7_Hertz", "amplitude_around_101_Hertz", "state"]
)
def test_mice_sleep_duplicated_column_is_refused(tmp_path, column):
    from lib.datasets import amplitude_columns

    path = tmp_path / "twice.csv"
    _course_csv(path, rows=4)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    where = header.index(column)
    lines = [",".join(cells + [cells[where]]) for cells in (ln.split(",") for ln in lines)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as caught:
        read_mice_sleep_file(path)
    message = str(caught.value)
    assert str(path) in message and "expected each column ('state', amplitude_around_1" in message
    assert f"found {column} more than once" in message and "remove the duplicate" in message
    if column != "state":  # a frame read by pandas: the renamed copy is caught too
        frame = pd.read_csv(path)
        with pytest.raises(ValueError, match=f"found {column} more than once"):
            amplitude_columns(frame, n=None)
        with pytest.raises(ValueError, match=f"found {column} more than once"):
            amplitude_columns(frame.rename(columns={f"{column}.1": column}), n=25)


def test_mice_sleep_unlabelled_test_mouse_joins_labelled_ones(tmp_path):
    _course_csv(tmp_path / "EEG_mouse_data_1.csv", rows=5)
    _course_csv(tmp_path / "test_mouse.csv", rows=7, labelled=False, seed=2)
    paths = [tmp_path / "EEG_mouse_data_1.csv", tmp_path / "test_mouse.csv"]
    frame = load_mice_sleep(paths, require_state=False)
    assert len(frame) == 12 and frame.columns.tolist() == ["mouse", "state", *HERTZ]
    assert frame.loc[frame["mouse"] == "test_mouse", "state"].isna().all()
    assert frame.loc[frame["mouse"] == "EEG_mouse_data_1", "state"].isin(list("wnr")).all()


@pytest.mark.parametrize("as_type", [str, Path])
def test_mice_sleep_single_path_is_one_file(tmp_path, as_type):
    _course_csv(tmp_path / "EEG_mouse_data_1.csv", rows=5)
    frame = load_mice_sleep(as_type(tmp_path / "EEG_mouse_data_1.csv"))
    assert len(frame) == 5 and set(frame["mouse"]) == {"EEG_mouse_data_1"}
    with pytest.raises(TypeError, match="found 3"):
        load_mice_sleep([tmp_path / "EEG_mouse_data_1.csv", 3])
    with pytest.raises(ValueError, match="paths is empty"):
        load_mice_sleep([])


def test_mice_sleep_absent_says_where_to_put_files(tmp_cache):
    with pytest.raises(DatasetNotAvailableError, match="not public.*mice_sleep"):
        load_mice_sleep()


# --- stand-ins -------------------------------------------------------------------------


def test_synthetic_mhealth_schema_and_seed():
    frame = synthetic.mhealth(subjects=3, duration_scale=0.02, seed=1)
    assert frame.attrs["synthetic"] is True
    assert list(frame.columns) == [*mhealth.CHANNELS, "activity", "subject"]
    assert frame[list(mhealth.CHANNELS)].dtypes.eq(np.float32).all()
    assert set(frame["activity"].unique()) == set(range(13))
    assert sorted(frame["subject"].unique()) == [1, 2, 3]
    pd.testing.assert_frame_equal(frame, synthetic.mhealth(subjects=3, duration_scale=0.02, seed=1))
    assert not frame.equals(synthetic.mhealth(subjects=3, duration_scale=0.02, seed=2))
    full = synthetic.mhealth(subjects=1)
    per_activity = full["activity"].value_counts()
    assert per_activity[1] == 3072 and per_activity[12] == 1024 and per_activity[0] > 30_000


def test_synthetic_mice_schema_matches_loader(tmp_path):
    frame = synthetic.mice_sleep(mice=2, epochs_per_mouse=3000, seed=0)
    assert frame.attrs["synthetic"] is True
    assert frame.columns[:2].tolist() == ["mouse", "state"]
    assert frame.columns[2:].tolist() == [f"amplitude_around_{h}_Hertz" for h in range(1, 102)]
    share = frame["state"].value_counts(normalize=True)
    assert 0.45 < share["w"] < 0.75 and 0.2 < share["n"] < 0.45 and 0.02 < share["r"] < 0.15
    one = frame[frame["mouse"] == "synthetic_mouse_1"].drop(columns="mouse").head(100)
    one.to_csv(tmp_path / "m.csv", index=False)  # the schema: 100 rows say as much as 3,000
    reread = read_mice_sleep_file(tmp_path / "m.csv")
    assert reread.columns.tolist() == ["mouse", *one.columns]


# --- real data (only with the mirror) --------------------------------------------------


@pytest.mark.slow
@requires_mirror
def test_real_household_power_facts():
    frame = load_household_power()
    assert len(frame) == 2_075_259
    assert frame[list(household_power.MEASUREMENTS)].isna().all(axis=1).sum() == 25_979
    assert frame["datetime"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
    power = frame["Global_active_power"]
    assert power.mean() == pytest.approx(1.09162, abs=1e-4)
    assert power.var() == pytest.approx(1.1179, abs=1e-3) and power.max() == pytest.approx(11.122)


@pytest.mark.slow
@requires_mirror
def test_real_hand_poses_facts():
    frame = load_hand_poses()
    assert len(frame) == 5203
    assert frame["class"].value_counts().to_dict() == {"4FJ": 1848, "2FJ": 1683, "1FS": 1672}
    assert frame.duplicated().sum() == 20
    assert (mirror() / hand_poses.RELATIVE).is_file()
