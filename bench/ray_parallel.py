"""Throughput of the Ray Tune backend at 2 concurrent trials vs the same trials in sequence.

The same ``--trials`` small-MLP configurations (a grid) run once through ``GridSearch`` with
one worker process (one TensorFlow thread) and once through the Ray backend
(``RayTuneSearch(searcher="random")`` given exactly these configurations, two concurrent
trials, one CPU and one thread each), and, for contrast, through the lib's own pool with two worker
processes (``workers=2``, no Ray). Ray is started before the timed Ray search (as in a
notebook or on a cluster, where it is already up); its start-up time is reported as
``ray_init_s``. Both drivers have their tuning framework imported before the timed runs
(KerasTuner with TensorFlow at the top of this file, Ray Tune in ``main``: about 1 s of CPU
the first time in a process, ``ray.data`` included). The timed figures include starting the
worker processes and Ray's trial actors, which import TensorFlow (and Ray Tune) themselves.

Each of the three runs is repeated with ``pin_cores=True``: every trial process pinned to a
core of its own. A one-thread TensorFlow trial still runs the Python thread and tf.data's
threads beside its op pool; unpinned, the threads of two concurrent trials move between the
cores; pinned, a trial gets exactly one core in both settings. ``ray_pinned_speedup``
compares like with like (pinned Ray against the pinned sequential run, one core per trial
in both); ``ray_pinned_vs_unpinned_sequential`` compares pinned Ray with the plain
sequential run a user would start by default.

With ``--repeat N`` every search runs N times, interleaved (sequential, Ray, pool, then again),
and the figures are medians (``*_s_runs`` and ``speedup_runs`` list each repeat): this VM's
speed drifts by 10-30 % within minutes, so one sequential run alone can make the ratio.
``--skip-pinned`` leaves out the pinned variants (half the time).

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
    .venv/bin/python bench/ray_parallel.py --trials 16 --epochs 4 --repeat 3 --skip-pinned
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

        model = keras.Sequential(
            [
                keras.Input((25,)),
                keras.layers.Dense(hp.Choice("units", UNITS), activation="relu"),
                keras.layers.Dropout(hp.Choice("dropout", DROPOUT)),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Choice("learning_rate", RATES)),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every search this many times, interleaved; report medians",
    )
    parser.add_argument(
        "--skip-pinned", action="store_true", help="only the default (unpinned) runs"
    )
    args = parser.parse_args()
    import numpy as np
    import ray
    import ray.tune  # noqa: F401  (see the docstring: imported before timing, as KerasTuner is)

    from lib.tuning import GridSearch, RayTuneSearch, init_ray

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

    def timed(cls, **options):
        began = time.perf_counter()
        folder = tempfile.mkdtemp(prefix="bench-")
        tuner = cls(
            SmallMLP(),
            objective="val_accuracy",
            max_trials=args.trials,
            seed=0,
            directory=os.path.dirname(folder),
            project_name=os.path.basename(folder),
            **options,
        )
        frame = tuner.search(
            data["x_train"],
            data["y_train"],
            epochs=args.epochs,
            validation_data=(data["x_val"], data["y_val"]),
            batch_size=64,
            verbose=0,
        )
        return frame, time.perf_counter() - began

    # untimed: read TensorFlow and Ray from disk once, so the first timed run is not the cold one
    import subprocess

    subprocess.run(
        [sys.executable, "-c", "import keras, ray.tune"],
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    variants = (False,) if args.skip_pinned else (False, True)
    runs: dict[str, list] = {}  # name -> [(frame, seconds)] in repeat order
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits all runs
        for pinned in variants:
            tag = "_pinned" if pinned else ""
            runs.setdefault("sequential" + tag, []).append(
                timed(GridSearch, workers=1, threads=1, pin_cores=pinned, keep_models=0)
            )
            began = time.perf_counter()
            init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
            runs.setdefault("ray_init" + tag, []).append((None, time.perf_counter() - began))
            runs.setdefault("ray" + tag, []).append(
                timed(
                    RayTuneSearch,
                    searcher="random",
                    max_concurrent_trials=2,
                    searcher_options={"points_to_evaluate": configs},
                    pin_cores=pinned,
                )
            )
            ray.shutdown()
            runs.setdefault("workers2" + tag, []).append(
                timed(GridSearch, workers=2, threads=1, pin_cores=pinned, keep_models=0)
            )

    def steady_rate(frame):  # trials per second from the first finish to the last
        ends = np.sort(frame["elapsed_seconds"].to_numpy(dtype=float))
        return (len(ends) - 1) / (ends[-1] - ends[0])

    def median(values):
        return float(np.median(np.asarray(values, dtype=float)))

    def seconds(name):
        return [total for _, total in runs[name]]

    names = ["units", "dropout", "learning_rate"]
    same = all(
        sorted(map(tuple, seq[0][names].to_numpy().tolist()))
        == sorted(map(tuple, par[0][names].to_numpy().tolist()))
        for seq, par in zip(runs["sequential"], runs["ray"], strict=True)
    )
    report = {
        "trials": args.trials,
        "epochs": args.epochs,
        "repeat": args.repeat,
        "same_configurations": same,
    }
    for tag in ("", "_pinned")[: len(variants)]:
        sequential_s, ray_s, pool_s = (
            median(seconds(n + tag)) for n in ("sequential", "ray", "workers2")
        )
        ray_init_s = median(seconds("ray_init" + tag))
        pairs = list(zip(seconds("sequential" + tag), seconds("ray" + tag), strict=True))
        report.update(
            {
                f"sequential{tag}_s": round(sequential_s, 1),
                f"ray{tag}_s": round(ray_s, 1),
                ("speedup" if not tag else "ray_pinned_speedup"): round(sequential_s / ray_s, 2),
                f"ray_init{tag}_s": round(ray_init_s, 1),
                f"speedup{tag}_with_init": round(sequential_s / (ray_s + ray_init_s), 2),
                f"workers2{tag}_s": round(pool_s, 1),
                f"workers2{tag}_speedup": round(sequential_s / pool_s, 2),
            }
        )
        if args.repeat > 1:
            report[f"sequential{tag}_s_runs"] = [round(v, 1) for v in seconds("sequential" + tag)]
            report[f"ray{tag}_s_runs"] = [round(v, 1) for v in seconds("ray" + tag)]
            report[f"workers2{tag}_s_runs"] = [round(v, 1) for v in seconds("workers2" + tag)]
            report[f"speedup{tag}_runs"] = [round(a / b, 2) for a, b in pairs]
        for name in ("ray", "workers2"):
            report[f"{name}{tag}_steady_speedup"] = round(
                median(
                    [
                        steady_rate(frame) / steady_rate(seq_frame)
                        for (frame, _), (seq_frame, _) in zip(
                            runs[name + tag], runs["sequential" + tag], strict=True
                        )
                    ]
                ),
                2,
            )
        for name in ("sequential", "ray", "workers2"):
            report[f"{name}{tag}_fit_s_median"] = round(
                median([float(frame["seconds"].median()) for frame, _ in runs[name + tag]]), 2
            )
            # before the first trial started and after the last one finished (set-up, teardown)
            report[f"{name}{tag}_outside_trials_s"] = round(
                median(
                    [
                        total - float(frame["elapsed_seconds"].max())
                        for frame, total in runs[name + tag]
                    ]
                ),
                1,
            )
    if len(variants) > 1:
        report["ray_pinned_vs_unpinned_sequential"] = round(
            median(seconds("sequential")) / median(seconds("ray_pinned")), 2
        )
    report["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
