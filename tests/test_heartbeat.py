"""Tests of the MIT-BIH heartbeat loader (lib.datasets.heartbeat).

Offline tests build tiny WFDB records, zips and Kaggle-layout files themselves;
the real-data checks run when LIB_DATA_DIR points at the mirror.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import mirror, requires_mirror
from lib.datasets import _cache
from lib.datasets import heartbeat as hb

# --------------------------------------------------------------------------- helpers


def reference_segments(signal, peaks, *, window=1250, rr_factor=1.2, length=187):
    """Beat-by-beat reference implementation of segment_beats (loops on purpose)."""
    signal = np.asarray(signal, dtype=float)
    rr_all = np.diff(peaks)
    record_median = np.median(rr_all) if rr_all.size else None
    out = np.zeros((len(peaks), length))
    for i, peak in enumerate(peaks):
        w = peak // window
        part = signal[w * window : (w + 1) * window + length]
        low, high = part.min(), part.max()
        in_window = [j for j in range(1, len(peaks)) if peaks[j] // window == w]
        rr = [peaks[j] - peaks[j - 1] for j in in_window]
        if rr:
            median = np.median(rr)
        elif record_median is not None:
            median = record_median
        else:
            median = None
        span = length if median is None else min(int(np.rint(rr_factor * median)), length)
        piece = signal[peak : min(peak + span, signal.size)]
        scale = high - low if high > low else 1.0
        out[i, : piece.size] = (piece - low) / scale
    return out


def write_record(directory: Path, record: int, *, lead_names, seconds=40, seed=0):
    """Writes a 360 Hz, 2-lead WFDB record: the MLII lead (if any) has positive
    spikes at the beats, the other lead negative ones. Returns (samples, symbols)."""
    import wfdb

    fs = 360
    rng = np.random.default_rng(seed)
    n = seconds * fs
    intervals = rng.integers(250, 330, size=n // 250)
    samples = np.cumsum(intervals)
    samples = samples[(samples > 20) & (samples < n - 20)]
    time = np.arange(n)
    spikes = np.exp(-0.5 * ((time[:, None] - samples[None, :]) / 6.0) ** 2).sum(axis=1)
    noise = 0.02 * rng.standard_normal((n, 2))
    leads = np.stack([spikes, -spikes], axis=1) + noise
    if lead_names[1] == "MLII":
        leads = leads[:, ::-1]
    digital = np.rint(leads * 200 + 1024).astype(np.int64)
    wfdb.wrsamp(
        str(record), fs=fs, units=["mV", "mV"], sig_name=list(lead_names),
        d_signal=digital, fmt=["212", "212"], adc_gain=[200.0, 200.0],
        baseline=[1024, 1024], write_dir=str(directory),
    )  # fmt: skip
    beat_symbols = np.array(list("NLRejAaJSVEF/fQ"))
    symbols = beat_symbols[rng.integers(0, beat_symbols.size, size=samples.size)]
    # non-beat annotations between beats: rhythm change and noise
    extra_samples = samples[:2] + 5
    all_samples = np.concatenate([samples, extra_samples])
    all_symbols = np.concatenate([symbols, ["+", "~"]])
    order = np.argsort(all_samples, kind="stable")
    wfdb.wrann(str(record), "atr", all_samples[order], symbol=list(all_symbols[order]),
               write_dir=str(directory))  # fmt: skip
    return samples, symbols


def write_sums(directory: Path) -> str:
    """Writes SHA256SUMS.txt for the files in ``directory``; returns its sha256."""
    lines = [
        f"{_cache.sha256_file(path)} {path.name}"
        for path in sorted(directory.iterdir())
        if path.suffix in {".dat", ".hea", ".atr"}
    ]
    lines.append(f"{'0' * 64} mitdbdir/intro.htm")
    (directory / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    return _cache.sha256_file(directory / "SHA256SUMS.txt")


@pytest.fixture
def synthetic_mitdb(tmp_path):
    """A folder holding records 100 (MLII first) and 101 (MLII second)."""
    directory = tmp_path / "mirror" / "mitdb"
    directory.mkdir(parents=True)
    truth = {
        100: write_record(directory, 100, lead_names=("MLII", "V5"), seed=1),
        101: write_record(directory, 101, lead_names=("V5", "MLII"), seed=2),
    }
    return directory, write_sums(directory), truth


@pytest.fixture
def two_record_study(synthetic_mitdb, tmp_cache, monkeypatch):
    """The loader switched to the two synthetic records (100 in DS2, 101 in DS1)."""
    directory, sums, truth = synthetic_mitdb
    monkeypatch.setenv("LIB_DATA_DIR", str(directory.parent))
    monkeypatch.setattr(hb, "RECORDS", (100, 101))
    monkeypatch.setattr(hb, "MITDB_SUMS_SHA256", sums)
    return directory, truth


# --------------------------------------------------------------------------- segmentation


def test_segment_beats_matches_reference_on_irregular_rhythm():
    rng = np.random.default_rng(3)
    signal = np.cumsum(rng.standard_normal(6000))  # 48 s at 125 Hz, wandering baseline
    first = np.cumsum(rng.integers(60, 90, size=40))  # fast rhythm in the first windows
    second = first[-1] + np.cumsum(rng.integers(130, 200, size=20))  # slow rhythm later
    peaks = np.concatenate([first, second])
    peaks = peaks[peaks < signal.size]
    beats = hb.segment_beats(signal, peaks)
    assert beats.shape == (peaks.size, 187) and beats.dtype == np.float32
    np.testing.assert_allclose(beats, reference_segments(signal, peaks), atol=1e-6)
    assert beats.min() >= 0.0 and beats.max() <= 1.0


def test_segment_beats_lengths_and_zero_padding():
    # strictly increasing, so a window's minimum is its first sample and, with no
    # peak on a window's first sample, every sample of a beat is above 0
    signal = np.linspace(0.0, 1.0, 5000)
    fast = np.arange(50, 1250, 100)  # window 0: RR 100 -> 120 samples
    slow = np.arange(1310, 5000, 200)  # windows 1-3: RR 200 -> 240, cut at 187
    peaks = np.concatenate([fast, slow])
    assert not np.any(peaks % 1250 == 0)
    beats = hb.segment_beats(signal, peaks)
    nonzero = (beats > 0).sum(axis=1)
    assert (nonzero[: fast.size] == 120).all()
    assert np.all(beats[: fast.size, 120:] == 0.0)
    assert (nonzero[fast.size : -1] == 187).all()
    # the last beat is cut by the end of the signal, then zero-padded
    assert nonzero[-1] == signal.size - peaks[-1] == 90
    assert np.all(beats[-1, 90:] == 0.0)
    # each beat is its samples scaled by its window's (extended) range
    window_low = signal[(peaks // 1250) * 1250]
    window_high = signal[np.minimum((peaks // 1250 + 1) * 1250 + 186, signal.size - 1)]
    expected = (signal[peaks] - window_low) / (window_high - window_low)
    np.testing.assert_allclose(beats[:, 0], expected, rtol=1e-5)


def test_segment_beats_edge_cases_and_errors():
    signal = np.sin(np.linspace(0, 20, 3000))
    single = hb.segment_beats(signal, [100])  # no RR interval at all: full length
    assert single.shape == (1, 187) and (single[0] > 0).sum() >= 180
    assert hb.segment_beats(signal, np.array([], dtype=int)).shape == (0, 187)
    flat = hb.segment_beats(np.ones(2000), [10, 110, 210])
    assert np.all(flat == 0.0)  # constant window: no division by zero
    with pytest.raises(ValueError, match="sorted"):
        hb.segment_beats(signal, [300, 200])
    with pytest.raises(ValueError, match=r"peaks must lie in \[0, 2999\]"):
        hb.segment_beats(signal, [10, 3000])
    with pytest.raises(ValueError, match="1-D signal"):
        hb.segment_beats(signal.reshape(2, -1), [10])
    with pytest.raises(ValueError, match="shorter than the beat length"):
        hb.segment_beats(signal, [10], window_seconds=1.0)
    with pytest.raises(ValueError, match="NaN"):
        hb.segment_beats(np.r_[signal, np.nan], [10])


def test_aami_labels_maps_every_symbol():
    symbols = list("NLRejAaJSVEF/fQ") + ["+", "~", "!", "x", "|", '"', "[", "]"]
    expected = [0] * 5 + [1] * 4 + [2] * 2 + [3] + [4] * 3 + [-1] * 8
    np.testing.assert_array_equal(hb.aami_labels(symbols), expected)
    assert hb.aami_labels([]).shape == (0,)


# --------------------------------------------------------------------------- records


def test_derive_beats_chooses_mlii_by_name_and_drops_non_beats(synthetic_mitdb):
    directory, sums, truth = synthetic_mitdb
    arrays = hb.derive_beats(directory, records=(100, 101), sums_sha256=sums)
    for record, (samples, symbols) in truth.items():
        mine = arrays["records"] == record
        assert mine.sum() == samples.size  # '+' and '~' were dropped
        np.testing.assert_array_equal(arrays["symbols"][mine], symbols)
        np.testing.assert_array_equal(arrays["labels"][mine], hb.aami_labels(symbols))
        np.testing.assert_array_equal(arrays["samples"][mine], np.rint(samples * 125 / 360))
        # MLII carries positive spikes: every beat starts at its maximum
        beats = arrays["beats"][mine]
        assert beats[:, 0].min() > 0.8, f"record {record}: beats do not start at the R-peak"
    signal, _, _, lead = hb.read_record(directory, 101)
    assert lead == "MLII" and signal.size == int(np.ceil(40 * 360 * 125 / 360))


def test_checksum_mismatch_names_the_file(synthetic_mitdb):
    directory, sums, _ = synthetic_mitdb
    data = bytearray((directory / "101.dat").read_bytes())
    data[100] ^= 0xFF
    (directory / "101.dat").write_bytes(bytes(data))
    with pytest.raises(_cache.ChecksumError, match=r"101\.dat"):
        hb.derive_beats(directory, records=(100, 101), sums_sha256=sums)
    with pytest.raises(_cache.ChecksumError, match="SHA256SUMS.txt"):
        hb.verify_mitdb(directory, records=(100,))  # the pinned mitdb digest
    assert (directory / "101.dat").exists()  # a mirror file is never deleted


def test_missing_annotation_file_is_named_with_what_to_do(synthetic_mitdb, tmp_cache, monkeypatch):
    directory, sums, _ = synthetic_mitdb
    (directory / "100.atr").unlink()  # the .dat and .hea are there
    for call in (
        lambda: hb.read_record(directory, 100),
        lambda: hb.derive_beats(directory, records=(100, 101), sums_sha256=sums),
        lambda: hb.derive_beats(directory, records=(100,), verify=False),
        lambda: hb.verify_mitdb(directory, records=(100,), sums_sha256=sums),
    ):
        with pytest.raises(FileNotFoundError) as caught:
            call()
        message = str(caught.value)
        assert f"{directory / '100.atr'} is missing" in message
        assert "NNN.atr (its beat annotations)" in message
        assert f"Copy them into {directory} from the PhysioNet zip" in message
    hb.read_record(directory, 101)  # a complete record still reads
    # the loader's search: offline, the incomplete mirror folder is named with its gap
    monkeypatch.setenv("LIB_DATA_DIR", str(directory.parent))
    with pytest.raises(_cache.DatasetNotAvailableError, match=r"mitdb lacks 100\.atr"):
        hb.mitdb_dir(records=(100, 101), sums_sha256=sums)
    monkeypatch.delenv("LIB_DATA_DIR")
    cached = tmp_cache / "mitdb"
    cached.mkdir()
    (cached / "100.hea").write_text("100 2 360 100\n")
    with pytest.raises(FileNotFoundError, match=rf"Delete {cached} and call again"):
        hb.read_record(cached, 100)


def make_zip(directory: Path, archive: Path, *, corrupt: str | None = None) -> None:
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("mit-bih-arrhythmia-database-1.0.0/mitdbdir/intro.htm", "<html/>")
        for path in sorted(directory.iterdir()):
            payload = path.read_bytes()
            if path.name == corrupt:
                payload = payload[:-1] + bytes([payload[-1] ^ 1])
            bundle.writestr(f"mit-bih-arrhythmia-database-1.0.0/{path.name}", payload)


def test_download_from_zip_url(synthetic_mitdb, tmp_cache, monkeypatch, tmp_path):
    directory, sums, _ = synthetic_mitdb
    archive = tmp_path / "mitdb.zip"
    make_zip(directory, archive)
    with pytest.raises(_cache.DatasetNotAvailableError, match="LIB_OFFLINE"):
        hb.mitdb_dir(records=(100, 101), url=archive.as_uri(), sums_sha256=sums)
    monkeypatch.delenv("LIB_OFFLINE")
    found = hb.mitdb_dir(records=(100, 101), url=archive.as_uri(), sums_sha256=sums)
    assert found == tmp_cache / "mitdb"
    for name in ["SHA256SUMS.txt", "100.dat", "100.hea", "100.atr", "101.dat"]:
        assert (found / name).read_bytes() == (directory / name).read_bytes()
    assert sorted(p.name for p in found.iterdir()) == sorted(p.name for p in directory.iterdir())
    hb.verify_mitdb(found, records=(100, 101), sums_sha256=sums)
    # found locally now: no second download
    again = hb.mitdb_dir(records=(100, 101), url="file:///nonexistent.zip", sums_sha256=sums)
    assert again == found


def test_download_rejects_bad_archives(synthetic_mitdb, tmp_cache, monkeypatch, tmp_path):
    directory, sums, _ = synthetic_mitdb
    monkeypatch.delenv("LIB_OFFLINE")
    corrupt = tmp_path / "corrupt.zip"
    make_zip(directory, corrupt, corrupt="101.atr")
    with pytest.raises(_cache.ChecksumError, match=r"101\.atr"):
        hb.mitdb_dir(records=(100, 101), url=corrupt.as_uri(), sums_sha256=sums)
    assert not (tmp_cache / "mitdb" / "101.atr").exists()
    with pytest.raises(_cache.ChecksumError, match="SHA256SUMS.txt"):
        hb.mitdb_dir(records=(100, 101), url=corrupt.as_uri(), sums_sha256="f" * 64)
    not_zip = tmp_path / "page.zip"
    not_zip.write_text("<html>not found</html>")
    with pytest.raises(_cache.DatasetNotAvailableError, match="not a zip"):
        hb.mitdb_dir(records=(100, 101), url=not_zip.as_uri(), sums_sha256=sums)
    with pytest.raises(_cache.DatasetNotAvailableError, match="mitdb"):
        hb.mitdb_dir(records=(100, 101), url=(tmp_path / "absent.zip").as_uri())
    leftovers = list((tmp_cache / "mitdb").glob("*.zip")) + list(tmp_cache.rglob("*.part"))
    assert leftovers == []


# --------------------------------------------------------------------------- loading and cache


def test_load_heartbeat_schemes_on_synthetic_records(two_record_study, tmp_cache):
    _, truth = two_record_study
    x_all, y_all, r_all = hb.load_heartbeat("all", return_records=True)
    total = sum(samples.size for samples, _ in truth.values())
    assert x_all.shape == (total, 187) and x_all.dtype == np.float32 and y_all.dtype == np.int64
    assert (tmp_cache / "heartbeat" / f"beats-v{hb.DERIVATION_VERSION}.npz").is_file()

    x_train, y_train, r_train = hb.load_heartbeat("train", scheme="inter-patient",
                                                  return_records=True)  # fmt: skip
    x_test, y_test, r_test = hb.load_heartbeat("test", scheme="inter-patient",
                                               return_records=True)  # fmt: skip
    assert set(r_train) == {101} and set(r_test) == {100}  # 101 in DS1, 100 in DS2
    assert len(y_train) == truth[101][0].size and len(y_test) == truth[100][0].size

    x_train, y_train, r_train = hb.load_heartbeat("train", seed=1, return_records=True)
    x_test, y_test, r_test = hb.load_heartbeat("test", seed=1, return_records=True)
    assert len(y_train) + len(y_test) == total
    assert abs(len(y_test) - 0.2 * total) <= 1
    merged = np.concatenate([x_train, x_test])
    assert np.unique(merged, axis=0).shape[0] == np.unique(x_all, axis=0).shape[0]
    again = hb.load_heartbeat("test", seed=1)[1]
    np.testing.assert_array_equal(again, y_test)
    assert not np.array_equal(hb.load_heartbeat("test", seed=2)[0], x_test)
    # stratified: each class's share in test is within one beat of 20 %
    counts_all, counts_test = np.bincount(y_all, minlength=5), np.bincount(y_test, minlength=5)
    assert np.all(np.abs(counts_test - 0.2 * counts_all) <= 1.0)


def test_cached_beats_are_reused(two_record_study, monkeypatch):
    first = hb.heartbeat_beats()

    def no_derivation(*args, **kwargs):
        raise AssertionError("derived again although the cache exists")

    monkeypatch.setattr(hb, "derive_beats", no_derivation)
    second = hb.heartbeat_beats()
    assert sorted(second) == sorted(first)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_unreadable_cache_is_rebuilt(two_record_study, tmp_cache):
    _, truth = two_record_study
    cached = tmp_cache / "heartbeat" / f"beats-v{hb.DERIVATION_VERSION}.npz"
    cached.parent.mkdir()
    cached.write_bytes(b"truncated")
    with pytest.warns(RuntimeWarning, match="unreadable beat cache"):
        rebuilt = hb.heartbeat_beats()
    assert rebuilt["beats"].shape[0] == sum(samples.size for samples, _ in truth.values())
    with np.load(cached) as stored:  # replaced by a good file
        np.testing.assert_array_equal(stored["beats"], rebuilt["beats"])


def test_cache_write_is_atomic(two_record_study, tmp_cache, monkeypatch):
    real_savez = np.savez

    def failing_savez(handle, **arrays):
        real_savez(handle, **arrays)  # bytes reach the temporary file...
        raise OSError("disk full")  # ...then the write fails

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        hb.heartbeat_beats()
    assert list((tmp_cache / "heartbeat").iterdir()) == []  # no .part, no half file


def test_load_heartbeat_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        hb.load_heartbeat("validation")
    with pytest.raises(ValueError, match="scheme must be one of"):
        hb.load_heartbeat(scheme="intra-patient")
    with pytest.raises(ValueError, match="test_size"):
        hb.load_heartbeat(test_size=1.5)


def test_missing_data_says_where_and_how(tmp_cache):
    with pytest.raises(_cache.DatasetNotAvailableError, match="physionet.org"):
        hb.load_heartbeat()


# --------------------------------------------------------------------------- Kaggle files


def kaggle_rows(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 187))
    x[:, 150:] = 0.0
    y = np.arange(n) % 5
    return x, y


def test_read_kaggle_csv_and_parquet(tmp_path):
    x, y = kaggle_rows()
    table = np.column_stack([x, y.astype(float)])
    csv = tmp_path / "mitbih_train.csv"
    np.savetxt(csv, table, delimiter=",", fmt="%.18e")  # no header, label as 0.0e+00
    got_x, got_y = hb.read_heartbeat_file(csv)
    np.testing.assert_allclose(got_x, x, rtol=1e-6)
    np.testing.assert_array_equal(got_y, y)
    assert got_x.dtype == np.float32 and got_y.dtype == np.int64

    named = pd.DataFrame(table, columns=[f"c{i}" for i in range(187)] + ["label"])
    named.to_csv(tmp_path / "with_header.csv", index=False)
    np.testing.assert_array_equal(hb.read_heartbeat_file(tmp_path / "with_header.csv")[1], y)
    named.to_parquet(tmp_path / "train.parquet")
    got_x, got_y = hb.read_heartbeat_file(tmp_path / "train.parquet")
    np.testing.assert_allclose(got_x, x, rtol=1e-6)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.iloc[:, :-1], "expected 188 columns"),
        (lambda t: t.assign(**{t.columns[-1]: 5.0}), r"label 0\.\.4, found \[5\.0\]"),
        (lambda t: t.assign(**{t.columns[-1]: 1.5}), r"found \[1\.5\]"),
        (lambda t: t.assign(**{t.columns[3]: 1.7}), r"\[0, 1\]"),
        (lambda t: t.assign(**{t.columns[3]: np.nan}), "missing or non-numeric"),
        (lambda t: t.iloc[:0], "no rows"),
    ],
)
def test_read_heartbeat_file_rejects_bad_content(tmp_path, mutate, message):
    x, y = kaggle_rows()
    table = pd.DataFrame(np.column_stack([x, y]), columns=[f"c{i}" for i in range(188)])
    path = tmp_path / "bad.parquet"
    mutate(table).to_parquet(path)
    with pytest.raises(ValueError, match=message):
        hb.read_heartbeat_file(path)


def test_read_heartbeat_file_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hb.read_heartbeat_file(tmp_path / "absent.csv")
    (tmp_path / "beats.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="expected a .csv"):
        hb.read_heartbeat_file(tmp_path / "beats.txt")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        hb.read_heartbeat_file(tmp_path / "empty.csv")
    x, y = kaggle_rows()
    rows = [",".join(map(str, row)) for row in np.column_stack([x, y])]
    rows[4] = rows[4].replace(rows[4].split(",")[7], "abc", 1)
    (tmp_path / "text.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"row 4, column 7 \('abc'\)"):
        hb.read_heartbeat_file(tmp_path / "text.csv")


# --------------------------------------------------------------------------- RR intervals


def reference_rr(peaks, *, rate=125.0, local=10):
    """Beat-by-beat reference implementation of rr_features (loops on purpose)."""
    peaks = [float(p) for p in peaks]
    n = len(peaks)
    intervals = [(peaks[i] - peaks[i - 1]) / rate for i in range(1, n)]
    record = sum(intervals) / len(intervals)
    rows = []
    for i in range(n):
        pre = intervals[i - 1] if i > 0 else intervals[0]
        post = intervals[i] if i < n - 1 else intervals[-1]
        previous = []
        for j in range(max(0, i - local), i):
            previous.append(intervals[j - 1] if j > 0 else intervals[0])
        mean = sum(previous) / len(previous) if previous else pre
        pres = [intervals[0], *intervals]  # pre_rr of every beat
        centred = [pres[min(max(j, 0), n - 1)] for j in range(i - local, i + local + 1)]
        local_median = float(np.median(centred))
        median = float(np.median(intervals))
        values = {
            "pre_rr": pre, "post_rr": post, "local_rr": mean, "record_rr": record,
            "pre_rr_to_record": pre / record, "post_rr_to_record": post / record,
            "local_rr_to_record": mean / record, "pre_rr_to_local": pre / mean,
            "post_rr_to_local": post / mean, "pre_rr_to_post": pre / post,
            "pre_rr_to_median": pre / median, "post_rr_to_median": post / median,
            "pre_rr_to_local_median": pre / local_median,
            "post_rr_to_local_median": post / local_median,
        }  # fmt: skip
        rows.append([values[name] for name in hb.RR_FEATURES])
    return np.array(rows)


def irregular_peaks(count=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.integers(40, 160, size=count)) + 7


@pytest.mark.parametrize("local", [1, 3, 10])
def test_rr_features_match_reference(local):
    peaks = irregular_peaks()
    features = hb.rr_features(peaks, local_beats=local)
    assert features.shape == (peaks.size, len(hb.RR_FEATURES)) and features.dtype == np.float32
    np.testing.assert_allclose(features, reference_rr(peaks, local=local), rtol=1e-5)
    at_360 = hb.rr_features(peaks, sampling_rate=360, local_beats=local)
    np.testing.assert_allclose(at_360, reference_rr(peaks, rate=360, local=local), rtol=1e-5)


def test_causal_rr_features_ignore_later_beats_and_lookahead_ones_do_not():
    peaks = irregular_peaks(count=30, seed=3)
    changed = peaks.copy()
    changed[21:] += 25 * np.arange(1, peaks.size - 20)  # beats from 21 on: longer intervals
    before, after = hb.rr_features(peaks), hb.rr_features(changed)
    names = list(hb.RR_FEATURES)
    causal = [names.index(n) for n in names if n not in hb.LOOKAHEAD_RR_FEATURES]
    assert {names[i] for i in causal} == {"pre_rr", "local_rr", "pre_rr_to_local"}
    np.testing.assert_array_equal(before[:21, causal], after[:21, causal])
    # every look-ahead feature changes somewhere before beat 21 (beat 20's next interval,
    # the record mean and median for every beat, the centred medians before beat 21)
    for name in hb.LOOKAHEAD_RR_FEATURES:
        column = names.index(name)
        assert not np.array_equal(before[:21, column], after[:21, column]), name


def test_premature_beat_stands_out_in_its_ratios():
    peaks = np.arange(30) * 100  # 0.8 s at 125 Hz
    peaks[15] -= 40  # premature beat, then a compensatory pause
    features = dict(zip(hb.RR_FEATURES, hb.rr_features(peaks).T, strict=True))
    assert features["pre_rr_to_local"][15] == pytest.approx(0.6)
    assert features["post_rr_to_local"][15] == pytest.approx(1.4)
    others = np.delete(np.arange(30), [15, 16])
    assert np.all(features["pre_rr_to_local"][others] > 0.9)
    assert features["pre_rr"][14] == pytest.approx(0.8)


def test_rr_features_reject_bad_peaks():
    with pytest.raises(ValueError, match="at least two beats"):
        hb.rr_features(np.array([5]))
    with pytest.raises(ValueError, match="1-D"):
        hb.rr_features(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"beat 2 \(sample 30\) does not come after beat 1"):
        hb.rr_features(np.array([10, 30, 30, 40]))
    with pytest.raises(ValueError, match="local_beats"):
        hb.rr_features(np.array([10, 30]), local_beats=0)


def test_table_rr_features_restart_at_every_record():
    first, second = irregular_peaks(25, seed=1), irregular_peaks(18, seed=2)
    samples = np.concatenate([first, second])
    records = np.repeat([7, 3], [first.size, second.size])
    table = hb.table_rr_features(samples, records)
    np.testing.assert_array_equal(table[: first.size], hb.rr_features(first))
    np.testing.assert_array_equal(table[first.size :], hb.rr_features(second))
    with pytest.raises(ValueError, match="contiguous"):
        hb.table_rr_features(samples, np.tile([7, 3], samples.size // 2 + 1)[: samples.size])
    with pytest.raises(ValueError, match="record 3: RR intervals need at least two beats"):
        hb.table_rr_features(np.array([1, 5, 9, 4]), np.array([7, 7, 7, 3]))
    with pytest.raises(ValueError, match="one length"):
        hb.table_rr_features(samples, records[:-1])


def test_load_heartbeat_rr_features_on_synthetic_records(two_record_study, tmp_cache):
    _, truth = two_record_study
    x, y, records, rr = hb.load_heartbeat("all", return_records=True, rr=True)
    assert rr.shape == (y.size, len(hb.RR_FEATURES)) and rr.dtype == np.float32
    for record, (samples, _) in truth.items():
        peaks = np.rint(samples * 125 / 360).astype(np.int64)  # the beats' 125 Hz peaks
        np.testing.assert_allclose(rr[records == record], reference_rr(peaks), rtol=1e-5)
    x_test, y_test, rr_test = hb.load_heartbeat("test", scheme="inter-patient", rr=True)
    np.testing.assert_array_equal(rr_test, rr[records == 100])  # DS2 holds record 100
    _, _, rr_random = hb.load_heartbeat("test", seed=1, rr=True)
    assert rr_random.shape[0] == hb.load_heartbeat("test", seed=1)[1].size


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    """All 48 records derived once (seconds) into a throwaway cache, so the
    repository's data/ is never touched and a clean checkout passes."""
    cache = tmp_path_factory.mktemp("heartbeat_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIB_CACHE_DIR", str(cache))
        patch.setenv("LIB_OFFLINE", "1")
        table = hb.heartbeat_beats()
    return cache, table


@pytest.fixture
def real_beats(real_cache, monkeypatch):
    """The real beat table, with the loader pointed at its cache for this test."""
    cache, table = real_cache
    monkeypatch.setenv("LIB_CACHE_DIR", str(cache))
    monkeypatch.setenv("LIB_OFFLINE", "1")
    return table


@requires_mirror
@pytest.mark.slow
def test_real_class_totals(real_beats):
    table = real_beats
    assert table["beats"].shape == (109_494, 187)
    np.testing.assert_array_equal(np.bincount(table["labels"]), [90_631, 2_781, 7_236, 803, 8_043])
    assert table["beats"].min() >= 0.0 and table["beats"].max() <= 1.0
    assert sorted(set(table["records"].tolist())) == sorted(hb.RECORDS)
    assert abs(table["labels"].size - 109_446) / 109_446 < 0.005  # the Kaggle total


@requires_mirror
@pytest.mark.slow
def test_real_split_sizes_and_disjoint_records(real_beats):
    table = real_beats
    _, y_train = hb.load_heartbeat("train")
    _, y_test = hb.load_heartbeat("test")
    total = y_train.size + y_test.size
    assert total == table["labels"].size and abs(total - 109_446) / 109_446 < 0.005
    assert abs(y_test.size / total - 0.2) < 1e-4
    _, _, r_train = hb.load_heartbeat("train", scheme="inter-patient", return_records=True)
    _, _, r_test = hb.load_heartbeat("test", scheme="inter-patient", return_records=True)
    assert set(r_train) == set(hb.DS1) and set(r_test) == set(hb.DS2)
    assert not set(r_train) & set(r_test)
    assert not (set(r_train) | set(r_test)) & set(hb.PACED_RECORDS)
    expected = np.isin(table["records"], hb.DS1 + hb.DS2).sum()
    assert r_train.size + r_test.size == expected


@pytest.mark.slow
@requires_mirror
def test_real_lead_choice():
    directory = mirror() / "mitdb"
    assert hb.read_record(directory, 114)[3] == "MLII"  # MLII is channel 1 there
    assert hb.read_record(directory, 102)[3] == "V5"  # no MLII: first channel
    signal, peaks, symbols, lead = hb.read_record(directory, 100)
    assert lead == "MLII" and signal.size == int(np.ceil(650_000 * 125 / 360))
    assert peaks.size == symbols.size == 2_273  # 2,273 beats, all N or A (record 100)


@requires_mirror
@pytest.mark.slow
def test_real_rr_features_follow_the_annotations(real_beats):
    import wfdb

    x, y, records, rr = hb.load_heartbeat("all", return_records=True, rr=True)
    names = list(hb.RR_FEATURES)
    annotation = wfdb.rdann(str(mirror() / "mitdb" / "100"), "atr")
    beats = np.asarray(annotation.sample)[hb.aami_labels(annotation.symbol) >= 0]
    mean_rr = np.diff(beats).mean() / 360  # at the annotations' own 360 Hz
    record_rr = rr[records == 100, names.index("record_rr")]
    assert np.all(np.abs(record_rr - mean_rr) < 0.001)  # 125 Hz rounding averages out
    pre = rr[records == 100, names.index("pre_rr")][1:]
    assert np.max(np.abs(pre - np.diff(beats) / 360)) <= 1 / 125 + 1e-6
    # supraventricular beats come early: their RR ratio to the local mean is lower
    ratio = rr[:, names.index("pre_rr_to_local")]
    assert np.median(ratio[y == 1]) < 0.9 < np.median(ratio[y == 0])


# --------------------------------------------------------------------------- morphology


def two_record_beats(seed=0):
    """Two records of generated beats: record 5 has a narrow spike, record 9 a wider one,
    and record 9's beat 3 has a different (inverted) shape."""
    rng = np.random.default_rng(seed)
    t = np.arange(hb.BEAT_LENGTH)
    narrow = np.exp(-0.5 * ((t - 3) / 2.0) ** 2)
    wide = np.exp(-0.5 * ((t - 6) / 5.0) ** 2)
    first = narrow + 0.01 * rng.standard_normal((8, t.size))
    second = 0.5 * wide + 0.01 * rng.standard_normal((7, t.size))
    second[3] = 1.0 - second[3]
    beats = np.vstack([first, second]).astype(np.float32)
    return beats, np.repeat([5, 9], [8, 7])


def test_morphology_features_are_relative_to_each_records_median_beat():
    beats, records = two_record_beats()
    features = hb.beat_morphology_features(beats, records)
    names = hb.morphology_feature_names()
    assert features.shape == (15, len(names)) and features.dtype == np.float32
    column = dict(zip(names, features.T, strict=True))
    # the deviation from the record's own median is small for typical beats of both records
    typical = np.delete(np.arange(15), 11)
    deviation = features[:, [i for i, n in enumerate(names) if n.startswith("deviation_")]]
    assert np.abs(deviation[typical]).max() < 0.1
    assert np.abs(deviation[11]).max() > 0.5  # the inverted beat of record 9
    assert column["correlation"][typical].min() > 0.9 and column["correlation"][11] < 0
    assert column["distance"][11] > 10 * column["distance"][typical].max()
    # the wider spike of record 9 stays high for more samples
    assert column["qrs_width"][8:11].min() > column["qrs_width"][:8].max()
    # shuffling the rows changes nothing but their order (medians are per record)
    order = np.random.default_rng(1).permutation(15)
    np.testing.assert_allclose(
        hb.beat_morphology_features(beats[order], records[order]), features[order], rtol=1e-6
    )


def test_morphology_features_reject_bad_input():
    beats, records = two_record_beats()
    with pytest.raises(ValueError, match="one record number per beat"):
        hb.beat_morphology_features(beats, records[:-1])
    with pytest.raises(ValueError, match="shape"):
        hb.beat_morphology_features(beats[0], records)
    with pytest.raises(ValueError, match="span"):
        hb.beat_morphology_features(beats, records, span=400)
    assert len(hb.morphology_feature_names(span=60, step=4)) == 15 + 5
