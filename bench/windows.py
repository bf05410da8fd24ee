"""Benchmark: building regression windows (length 30, horizon 5) of a 2,000,000-sample series.

Times, for the materialised ``(X, y)`` of every window:

* ``naive_s``: the original study's loop (``seq.append(df[cols][i:i+L])`` then
  ``np.array(seq, dtype=object).astype(np.float32)``), timed on ``--naive-rows`` rows and
  scaled linearly to the full series;
* ``keras_s``: ``keras.utils.timeseries_dataset_from_array`` iterated fully, timed on
  ``--keras-rows`` rows and scaled;
* ``lib_s``: ``lib.windows.sliding_windows(..., copy=True)`` on the full series;
* ``lib_view_s``: the same as zero-copy views (``copy=False``);
* ``feed_s``: one pass of ``lib.windows.WindowFeed`` (stride 1, batch 1024) over every
  window, which never holds more than one batch.

Checks that the toolkit's windows equal the naive loop's and Keras's on their prefixes, then
prints one JSON line. Run: ``python bench/windows.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def naive(df: pd.DataFrame, cols: list[str], target: str, length: int, horizon: int):
    """The original study's loop, verbatim in spirit."""
    seq, tgt = [], []
    for i in range(len(df) - length - horizon):
        seq.append(df[cols][i : i + length])
        tgt.append(df[target][i + length + horizon - 1])
    return np.array(seq, dtype=object).astype(np.float32), np.array(tgt, dtype=np.float32)


def keras_windows(values: np.ndarray, length: int, horizon: int, batch_size: int = 1024):
    import keras

    dataset = keras.utils.timeseries_dataset_from_array(
        values,
        targets=values[length + horizon - 1 :, 0],
        sequence_length=length,
        batch_size=batch_size,
        shuffle=False,
    )
    xs, ys = [], []
    for xb, yb in dataset:
        xs.append(xb.numpy())
        ys.append(yb.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--length", type=int, default=30)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument("--keras-rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    length, horizon, n = args.length, args.horizon, args.n

    from lib.windows import WindowFeed, sliding_windows

    rng = np.random.default_rng(args.seed)
    values = rng.standard_normal((n, 1)).astype(np.float32)
    n_windows = n - length - horizon + 1

    # (a) naive loop on a prefix, scaled to every window.
    df = pd.DataFrame(values[: args.naive_rows], columns=["power"])
    t0 = time.perf_counter()
    X_naive, y_naive = naive(df, ["power"], "power", length, horizon)
    naive_s = (time.perf_counter() - t0) * n_windows / len(X_naive)
    del df

    # (b) keras utility on a prefix, scaled.
    t0 = time.perf_counter()
    X_keras, y_keras = keras_windows(values[: args.keras_rows], length, horizon)
    keras_s = (time.perf_counter() - t0) * n_windows / len(X_keras)

    # (c) the toolkit on the whole series.
    t0 = time.perf_counter()
    X_view, y_view = sliding_windows(values, length, horizon=horizon, target=0)
    lib_view_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X, y = sliding_windows(values, length, horizon=horizon, target=0, copy=True)
    lib_s = time.perf_counter() - t0

    assert X.shape == (n_windows, length, 1) and y.shape == (n_windows,)
    assert np.array_equal(X[: len(X_naive)], X_naive) and np.array_equal(y[: len(y_naive)], y_naive)
    assert np.array_equal(X[: len(X_keras)], X_keras) and np.array_equal(y[: len(y_keras)], y_keras)
    assert np.shares_memory(X_view, values) and np.array_equal(X_view[-1], X[-1])
    del X, y, X_view, y_view

    feed = WindowFeed(values, length, horizon=horizon, target=0, batch_size=1024)
    t0 = time.perf_counter()
    served = 0
    for k in range(len(feed)):
        xb, _ = feed[k]
        served += len(xb)
    feed_s = time.perf_counter() - t0
    assert served == n_windows

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "bench": "windows",
                "n": n,
                "length": length,
                "horizon": horizon,
                "windows": n_windows,
                "naive_s": round(naive_s, 2),
                "naive_rows": args.naive_rows,
                "keras_s": round(keras_s, 2),
                "keras_rows": args.keras_rows,
                "lib_s": round(lib_s, 4),
                "lib_view_s": round(lib_view_s, 6),
                "feed_s": round(feed_s, 3),
                "speedup_vs_naive": round(naive_s / lib_s),
                "speedup_vs_keras": round(keras_s / lib_s),
                "peak_rss_mb": round(peak_rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
