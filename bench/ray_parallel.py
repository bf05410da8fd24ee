"""Throughput of the Ray Tune backend at 2 concurrent trials vs the same trials in sequence.

The same ``--trials`` small-MLP configurations (a grid) run once through ``lib.tuning.search``
with one worker process (``tuner="grid"``, one TensorFlow thread) and once through the Ray
backend (``tuner="ray-random"`` given exactly these configurations, two concurrent trials, one
CPU and one thread each), and, for contrast, through the lib's own pool with two worker
processes (``workers=2``, no Ray). Ray is started before the timed Ray search (as in a
notebook or on a cluster, where it is already up); its start-up time is reported as
``ray_init_s``. The timed figures include starting the worker processes that import TensorFlow.

Prints one JSON line: ``sequential_s``, ``ray_s``, ``speedup`` (sequential_s / ray_s),
``speedup_with_init`` (counting ``ray_init_s`` against Ray), ``ray_init_s``,
``workers2_s`` / ``workers2_speedup`` (the lib pool at 2 workers), and the steady-state
speed-ups ``*_steady_speedup``: trials finished per second between the first and the last
finished trial, relative to the sequential run (start-up and the last straggler excluded).

Usage::

    .venv/bin/python bench/ray_parallel.py --trials 12
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import keras_tuner as kt  # noqa: E402

UNITS, RATES, DROPOUT = [16, 32, 64, 128], [1e-2, 1e-3], [0.0, 0.2]


class SmallMLP(kt.HyperModel):
    def build(self, hp):
        import keras

        model = keras.Sequential([
            keras.Input((25,)),
            keras.layers.Dense(hp.Choice("units", UNITS), activation="relu"),
            keras.layers.Dropout(hp.Choice("dropout", DROPOUT)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ])
        model.compile(keras.optimizers.Adam(hp.Choice("learning_rate", RATES)),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    import numpy as np
    import ray

    from lib.tuning import init_ray, search

    rng = np.random.default_rng(0)
    n = args.rows
    x = rng.normal(size=(n, 25)).astype("float32")
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=n), [-0.5, 0.5])
    cut = int(0.8 * n)
    data = dict(x_train=x[:cut], y_train=y[:cut], x_val=x[cut:], y_val=y[cut:])
    configs = [
        {"units": u, "dropout": d, "learning_rate": r}
        for u, d, r in itertools.product(UNITS, DROPOUT, RATES)
    ][: args.trials]
    common = dict(objective="val_accuracy", max_trials=args.trials, epochs=args.epochs,
                  batch_size=64, seed=0, verbose=0, checkpoint=False)

    began = time.perf_counter()
    sequential = search(SmallMLP(), data, tuner="grid", workers=1, threads=1,
                        directory=tempfile.mkdtemp(prefix="bench-seq-"), **common)
    sequential_s = time.perf_counter() - began

    began = time.perf_counter()
    init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - began
    began = time.perf_counter()
    parallel = search(SmallMLP(), data, tuner="ray-random", max_concurrent_trials=2,
                      tuner_options={"points_to_evaluate": configs},
                      directory=tempfile.mkdtemp(prefix="bench-ray-"), **common)
    ray_s = time.perf_counter() - began
    ray.shutdown()

    began = time.perf_counter()
    pooled = search(SmallMLP(), data, tuner="grid", workers=2, threads=1,
                    directory=tempfile.mkdtemp(prefix="bench-pool-"), **common)
    workers2_s = time.perf_counter() - began

    def steady_rate(frame):  # trials per second from the first finish to the last
        ends = np.sort(frame["elapsed_seconds"].to_numpy(dtype=float))
        return (len(ends) - 1) / (ends[-1] - ends[0])

    names = ["units", "dropout", "learning_rate"]
    same = sorted(map(tuple, sequential[names].to_numpy().tolist())) == sorted(
        map(tuple, parallel[names].to_numpy().tolist())
    )
    print(json.dumps({
        "trials": args.trials,
        "epochs": args.epochs,
        "same_configurations": same,
        "sequential_s": round(sequential_s, 1),
        "ray_s": round(ray_s, 1),
        "speedup": round(sequential_s / ray_s, 2),
        "ray_init_s": round(ray_init_s, 1),
        "speedup_with_init": round(sequential_s / (ray_s + ray_init_s), 2),
        "workers2_s": round(workers2_s, 1),
        "workers2_speedup": round(sequential_s / workers2_s, 2),
        "ray_steady_speedup": round(steady_rate(parallel) / steady_rate(sequential), 2),
        "workers2_steady_speedup": round(steady_rate(pooled) / steady_rate(sequential), 2),
        "workers2_fit_s_median": round(float(pooled["seconds"].median()), 2),
        "sequential_fit_s_median": round(float(sequential["seconds"].median()), 2),
        "ray_fit_s_median": round(float(parallel["seconds"].median()), 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
