"""Memory and per-trial overhead of a long grid search: lib.tuning vs plain KerasTuner.

A grid of at least ``--trials`` small-MLP trials (25 features, 3 classes, 10,000 rows,
``--epochs`` epochs) runs once through ``lib.tuning.GridSearch`` (recycled worker process) and once
through ``keras_tuner.GridSearch`` (in one process), each in a fresh subprocess. After every
trial the bench records the resident memory summed over every process of the search (parent
and workers) and the trial's overhead: the wall time from the end of the previous trial to
the end of this one, minus the time spent inside ``model.fit``.

Prints one JSON line: ``rss_mb_trial10``, ``rss_mb_trial100`` (the last trial, N), the peak
RSS over the first and over the last ``--trials-per-worker`` trials (a recycled worker makes
RSS a saw-tooth of that period), the parent process's own RSS at trial 10 and trial N,
``overhead_s_first10_median``, ``overhead_s_last10_median``, their ratio and growth, and the
same figures for KerasTuner prefixed ``kt_``.

Usage::

    .venv/bin/python bench/tuning_memory.py --trials 100          # full (several minutes)
    .venv/bin/python bench/tuning_memory.py --trials 20 --epochs 1 # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import keras_tuner as kt  # noqa: E402

UNITS = [8, 16, 32, 64]
RATES = [1e-2, 3e-3, 1e-3]
DROPOUT = [0.0, 0.1, 0.2]
ACTIVATIONS = ["relu", "tanh", "elu"]


class SmallMLP(kt.HyperModel):
    """Two dense layers; a 4 x 3 x 3 x 3 = 108-point grid (fourth hp widened if needed)."""

    def __init__(self, trials: int = 100):
        super().__init__()
        self.activations = ACTIVATIONS + [f"act{i}" for i in range(max(0, trials // 36 - 2))]

    def build(self, hp):
        import keras

        activation = hp.Choice("activation", self.activations)
        if activation.startswith("act"):
            activation = "relu"
        model = keras.Sequential(
            [
                keras.Input((25,)),
                keras.layers.Dense(hp.Choice("units", UNITS), activation=activation),
                keras.layers.Dropout(hp.Choice("dropout", DROPOUT)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", RATES)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def make_data(seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(10_000, 25)).astype("float32")
    score = x[:, 0] + 0.5 * x[:, 1] - 0.5 * x[:, 2] + 0.3 * rng.normal(size=10_000)
    y = np.digitize(score, [-0.5, 0.5]).astype("int64")
    return x[:8000], y[:8000], x[8000:], y[8000:]


def rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of the process and all its children, RSS of the process alone), in MB."""
    import psutil

    process = psutil.Process(pid)
    own = process.memory_info().rss
    total = own
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20, own / 2**20


def run_ours(args) -> dict:
    """lib.tuning.GridSearch with a trial watcher thread (samples RSS when a trial is recorded)."""
    from lib.tuning import GridSearch

    x, y, xv, yv = make_data()
    directory = tempfile.mkdtemp(prefix="bench-tuning-memory-")
    path = os.path.join(directory, "trials.jsonl")
    ends, rss = [], []
    stop = threading.Event()

    def watch():
        seen = 0
        while not stop.is_set():
            count = 0
            if os.path.exists(path):
                with open(path) as handle:
                    count = sum(1 for _ in handle)
            while seen < count:
                seen += 1
                ends.append(time.perf_counter())
                rss.append(rss_mb(os.getpid()))
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    start = time.perf_counter()
    tuner = GridSearch(
        SmallMLP(args.trials),
        objective="val_accuracy",
        max_trials=args.trials,
        seed=0,
        directory=os.path.dirname(directory),
        project_name=os.path.basename(directory),
        workers=1,
        threads=args.threads,
        trials_per_worker=args.trials_per_worker,
        keep_models=0,
    )
    frame = tuner.search(
        x, y, validation_data=(xv, yv), epochs=args.epochs, batch_size=128, verbose=0
    )
    time.sleep(0.1)
    stop.set()
    thread.join()
    fits = [float(v) for v in frame.sort_values("trial")["seconds"]]
    fit_only = [float(r) for r in _fit_seconds(directory)]
    return {"start": start, "ends": ends, "fit": fit_only or fits, "rss": rss}


def _fit_seconds(directory: str) -> list[float]:
    with open(os.path.join(directory, "trials.jsonl")) as handle:
        records = sorted((json.loads(line) for line in handle), key=lambda r: r["trial"])
    return [r.get("fit_seconds", 0.0) for r in records]


def run_keras_tuner(args) -> dict:
    """Plain keras_tuner.GridSearch in this process, recording per-trial ends, fit time, RSS."""
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    x, y, xv, yv = make_data()
    ends, fit, rss = [], [], []

    class FitTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.began = time.perf_counter()

        def on_train_end(self, logs=None):
            fit.append(time.perf_counter() - self.began)

    class Recorded(kt.GridSearch):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            ends.append(time.perf_counter())
            rss.append(rss_mb(os.getpid()))

    tuner = Recorded(
        SmallMLP(args.trials),
        objective="val_accuracy",
        max_trials=args.trials,
        seed=1,
        directory=tempfile.mkdtemp(prefix="bench-kt-"),
        project_name="grid",
        overwrite=True,
    )
    start = time.perf_counter()
    tuner.search(
        x,
        y,
        validation_data=(xv, yv),
        epochs=args.epochs,
        batch_size=128,
        callbacks=[FitTimer()],
        verbose=0,
    )
    return {"start": start, "ends": ends, "fit": fit, "rss": rss}


def summarise(run: dict, trials: int, period: int) -> dict:
    """Figures of one run; ``period`` is the worker's lifetime in trials (``--trials-per-worker``).

    With recycled workers RSS is a saw-tooth of that period, so besides trial 10 vs trial N the
    peaks of the first and the last ``period`` trials are compared, and the parent process alone.
    """
    from statistics import median

    ends = [run["start"]] + run["ends"]
    cycle = [b - a for a, b in zip(ends[:-1], ends[1:], strict=True)]
    overhead = [c - f for c, f in zip(cycle, run["fit"], strict=False)]
    n = len(overhead)
    first = median(overhead[1:11]) if n > 11 else median(overhead[:10])  # trial 0: start-up
    last = median(overhead[-10:])
    total = [t for t, _ in run["rss"]]
    parent = [p for _, p in run["rss"]]
    at10, atn = min(9, n - 1), min(trials, n) - 1
    return {
        "trials": n,
        "rss_mb_trial10": round(total[at10], 1),
        "rss_mb_trial100": round(total[atn], 1),
        "rss_growth_mb": round(total[atn] - total[at10], 1),
        "rss_mb_peak_first_period": round(max(total[:period]), 1),
        "rss_mb_peak_last_period": round(max(total[-period:]), 1),
        "parent_rss_mb_trial10": round(parent[at10], 1),
        "parent_rss_mb_trial100": round(parent[atn], 1),
        "overhead_s_first10_median": round(first, 3),
        "overhead_s_last10_median": round(last, 3),
        "overhead_ratio": round(last / first, 3) if first > 0 else None,
        "fit_s_median": round(median(run["fit"]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trials-per-worker", type=int, default=10)
    parser.add_argument("--only", choices=["ours", "kt"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trials < 10:
        parser.error("--trials must be at least 10")
    if args.only:
        run = run_ours(args) if args.only == "ours" else run_keras_tuner(args)
        print(json.dumps(summarise(run, args.trials, args.trials_per_worker)))
        return
    result = {
        "trials": args.trials,
        "epochs": args.epochs,
        "threads": args.threads,
        "trials_per_worker": args.trials_per_worker,
    }
    for which, prefix in (("ours", ""), ("kt", "kt_")):
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--only",
            which,
            "--trials",
            str(args.trials),
            "--epochs",
            str(args.epochs),
            "--threads",
            str(args.threads),
            "--trials-per-worker",
            str(args.trials_per_worker),
        ]
        began = time.perf_counter()
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        figures["wall_s"] = round(time.perf_counter() - began, 1)
        result.update({prefix + k: v for k, v in figures.items() if k != "trials"})
    load = os.getloadavg()
    result["loadavg_1m_end"] = round(load[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
