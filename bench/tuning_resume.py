"""Resume after ``kill -9``: no finished trial rerun, same best trial as an uninterrupted run.

Starts a seeded ``lib.tuning.search`` in a subprocess, kills its process group with SIGKILL
once ``--kill-after`` trials are recorded (the running trial is lost), resumes it in a new
subprocess with the same arguments, and runs the same search uninterrupted in a third
directory. Prints one JSON line: ``trials_total``, ``trials_rerun`` (finished trials that
were run again, or whose stored record changed), ``same_best`` (same best trial index,
hyperparameters and objective), plus ``same_trials`` (same hyperparameters trial by trial).

Usage::

    .venv/bin/python bench/tuning_resume.py                    # grid of 12 trials
    .venv/bin/python bench/tuning_resume.py --tuner bayesian --trials 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import keras_tuner as kt  # noqa: E402


class SmallMLP(kt.HyperModel):
    """A 3 x 2 x 2 grid of small MLPs on 25 features / 3 classes."""

    def build(self, hp):
        import keras

        model = keras.Sequential(
            [
                keras.Input((25,)),
                keras.layers.Dense(hp.Choice("units", [8, 16, 32]), activation="relu"),
                keras.layers.Dropout(hp.Choice("dropout", [0.0, 0.2])),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3])),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def child(directory: str, tuner: str, trials: int, epochs: int) -> None:
    """One search run (what gets killed, resumed, or run uninterrupted)."""
    import numpy as np

    from lib.tuning import GridSearch, RandomSearch

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 25)).astype("float32")
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=3000), [-0.5, 0.5])
    cls = {"grid": GridSearch, "random": RandomSearch}[tuner]
    search = cls(
        SmallMLP(),
        objective="val_accuracy",
        max_trials=trials,
        seed=7,
        directory=os.path.dirname(directory),
        project_name=os.path.basename(directory),
        workers=1,
        threads=1,
    )
    search.search(
        x[:2400],
        y[:2400],
        validation_data=(x[2400:], y[2400:]),
        epochs=epochs,
        batch_size=64,
        verbose=0,
    )


def records(directory: str) -> list[dict]:
    path = os.path.join(directory, "trials.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as handle:
        for line in handle:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def best(rows: list[dict]) -> tuple:
    done = [r for r in rows if r.get("status") == "COMPLETED"]
    top = max(done, key=lambda r: (r["objective"], -r["trial"]))
    return top["trial"], top["hyperparameters"], top["objective"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuner", default="grid")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tuner, args.trials, args.epochs)
        return

    base = tempfile.mkdtemp(prefix="bench-tuning-resume-")
    killed, straight = os.path.join(base, "killed"), os.path.join(base, "straight")

    def command(directory: str) -> list[str]:
        return [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            directory,
            "--tuner",
            args.tuner,
            "--trials",
            str(args.trials),
            "--epochs",
            str(args.epochs),
        ]

    began = time.perf_counter()
    process = subprocess.Popen(
        command(killed),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while len(records(killed)) < args.kill_after and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # into the next trial, so a running trial is lost
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = {r["trial"]: r for r in records(killed)}

    subprocess.run(command(killed), check=True, capture_output=True)
    resumed = records(killed)
    subprocess.run(command(straight), check=True, capture_output=True)
    reference = records(straight)

    indices = [r["trial"] for r in resumed]
    duplicates = len(indices) - len(set(indices))
    changed = sum(1 for r in resumed if r["trial"] in before and r != before[r["trial"]])
    by_index = {r["trial"]: r["hyperparameters"] for r in resumed}
    same_trials = by_index == {r["trial"]: r["hyperparameters"] for r in reference}
    resumed_best, reference_best = best(resumed), best(reference)
    print(
        json.dumps(
            {
                "tuner": args.tuner,
                "trials_total": len(set(indices)),
                "trials_before_kill": len(before),
                "trials_rerun": duplicates + changed,
                "same_trials": same_trials,
                "same_best": resumed_best[:2] == reference_best[:2],
                "best_objective_resumed": resumed_best[2],
                "best_objective_uninterrupted": reference_best[2],
                "wall_s": round(time.perf_counter() - began, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
