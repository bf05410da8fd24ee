"""Throughput of the Ray Tune backend at 2 concurrent trials vs the same trials in sequence.

The same ``--trials`` small-MLP configurations (a grid) run once through ``lib.tuning.search``
with one worker process (``tuner="grid"``, one TensorFlow thread) and once through the Ray
backend (``tuner="ray-random"`` given exactly these configurations, two concurrent trials, one
CPU and one thread each), and, for contrast, through the lib's own pool with two worker
processes (``workers=2``, no Ray). Ray is started before the timed Ray search (as in a
notebook or on a cluster, where it is already up); its start-up time is reported as
``ray_init_s``. The timed figures include starting the worker processes that import TensorFlow.

Each of the three runs is repeated with ``pin_cores=True``: every trial process pinned to a
core of its own. A one-thread TensorFlow trial still runs the Python thread and tf.data's
threads beside its op pool; unpinned, the threads of two concurrent trials move between the
cores; pinned, a trial gets exactly one core in both settings. ``ray_pinned_speedup``
compares like with like (pinned Ray against the pinned sequential run, one core per trial
in both); ``ray_pinned_vs_unpinned_sequential`` compares pinned Ray with the plain
sequential run a user would start by default.

Prints one JSON line: ``sequential_s``, ``ray_s``, ``speedup`` (sequential_s / ray_s),
``speedup_with_init`` (counting ``ray_init_s`` against Ray), ``ray_init_s``,
``workers2_s`` / ``workers2_speedup`` (the lib pool at 2 workers), the same with ``_pinned``
(``sequential_pinned_s``, ``ray_pinned_s``, ``workers2_pinned_s`` ...), and the steady-state
speed-ups ``*_steady_speedup``: trials finished per second between the first and the last
finished trial, relative to the sequential run (start-up and the last straggler excluded), and
``*_outside_trials_s``: the time of each search before its first trial started and after its
last trial finished (set-up and teardown).

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

    def timed(**options):
        began = time.perf_counter()
        frame = search(SmallMLP(), data, directory=tempfile.mkdtemp(prefix="bench-"), **common,
                       **options)
        return frame, time.perf_counter() - began

    # untimed: read TensorFlow and Ray from disk once, so the first timed run is not the cold one
    import subprocess

    subprocess.run([sys.executable, "-c", "import keras, ray.tune"], check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    runs = {}
    for pinned in (False, True):
        tag = "_pinned" if pinned else ""
        runs["sequential" + tag] = timed(tuner="grid", workers=1, threads=1, pin_cores=pinned)
        began = time.perf_counter()
        init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
        runs["ray_init" + tag] = (None, time.perf_counter() - began)
        runs["ray" + tag] = timed(tuner="ray-random", max_concurrent_trials=2,
                                  tuner_options={"points_to_evaluate": configs},
                                  pin_cores=pinned)
        ray.shutdown()
        runs["workers2" + tag] = timed(tuner="grid", workers=2, threads=1, pin_cores=pinned)

    def steady_rate(frame):  # trials per second from the first finish to the last
        ends = np.sort(frame["elapsed_seconds"].to_numpy(dtype=float))
        return (len(ends) - 1) / (ends[-1] - ends[0])

    names = ["units", "dropout", "learning_rate"]
    same = sorted(map(tuple, runs["sequential"][0][names].to_numpy().tolist())) == sorted(
        map(tuple, runs["ray"][0][names].to_numpy().tolist())
    )
    report = {"trials": args.trials, "epochs": args.epochs, "same_configurations": same}
    for tag in ("", "_pinned"):
        sequential_frame, sequential_s = runs["sequential" + tag]
        ray_frame, ray_s = runs["ray" + tag]
        pool_frame, pool_s = runs["workers2" + tag]
        ray_init_s = runs["ray_init" + tag][1]
        report.update({
            f"sequential{tag}_s": round(sequential_s, 1),
            f"ray{tag}_s": round(ray_s, 1),
            ("speedup" if not tag else "ray_pinned_speedup"): round(sequential_s / ray_s, 2),
            f"ray_init{tag}_s": round(ray_init_s, 1),
            f"speedup{tag}_with_init": round(sequential_s / (ray_s + ray_init_s), 2),
            f"workers2{tag}_s": round(pool_s, 1),
            f"workers2{tag}_speedup": round(sequential_s / pool_s, 2),
            f"ray{tag}_steady_speedup": round(
                steady_rate(ray_frame) / steady_rate(sequential_frame), 2),
            f"workers2{tag}_steady_speedup": round(
                steady_rate(pool_frame) / steady_rate(sequential_frame), 2),
            f"sequential{tag}_fit_s_median": round(float(sequential_frame["seconds"].median()), 2),
            f"ray{tag}_fit_s_median": round(float(ray_frame["seconds"].median()), 2),
            f"workers2{tag}_fit_s_median": round(float(pool_frame["seconds"].median()), 2),
        })
        for name in ("sequential", "ray", "workers2"):
            frame, total = runs[name + tag]
            # before the first trial started and after the last one finished (set-up, teardown)
            report[f"{name}{tag}_outside_trials_s"] = round(
                total - float(frame["elapsed_seconds"].max()), 1)
    report["ray_pinned_vs_unpinned_sequential"] = round(
        runs["sequential"][1] / runs["ray_pinned"][1], 2)
    report["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
