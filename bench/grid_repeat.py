"""Does the same seeded grid give the same trials twice? Notebook 01's grid, run repeatedly.

Prepares the MHEALTH stand-in like notebook 01 (split by subject, scale on the training
subjects, 100-reading windows inside activity bouts, 95 % of the null training windows
dropped), then runs the same seeded ``GridSearch`` of ``LSTMClassifierHyperModel`` twice per
setting, each time in a fresh directory, and compares the runs trial by trial. Settings are
``N`` (``threads=N``, the TensorFlow threads of the worker process) or ``Ndet`` (also
``TF_DETERMINISTIC_OPS=1``, inherited by the worker). Prints one JSON line per setting: the
largest difference in validation accuracy between the runs, how many trials differ, each
run's winner and the first run's validation accuracy per trial (to compare settings). The
worker processes inherit the environment, so ``TF_ENABLE_ONEDNN_OPTS=0`` (or ``=1``) in front
of the command compares TensorFlow with and without its oneDNN kernels.

Usage::

    .venv/bin/python bench/grid_repeat.py                          # threads 2 and 1
    .venv/bin/python bench/grid_repeat.py --settings 2 1 2det --subjects 10 --epochs 8
    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python bench/grid_repeat.py --subjects 10 --epochs 8 \
        --units 16 --batch-sizes 64 --learning-rates 0.001 0.01 0.1 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from lib import models, resampling, splits, windows  # noqa: E402
from lib.datasets import synthetic  # noqa: E402
from lib.datasets.mhealth import ACTIVITIES, CHANNELS  # noqa: E402
from lib.tuning import GridSearch  # noqa: E402


def prepare(subjects: int, seed: int) -> dict:
    """Training (null thinned) and validation windows of the first ``subjects`` subjects."""
    frame = synthetic.mhealth(seed=seed, all_channels=True)  # the notebook's frame
    frame = frame[frame.subject <= subjects].reset_index(drop=True)
    held = 1 if subjects < 6 else 2
    split = splits.group_split(frame.subject.to_numpy(), test=held, validation=held, seed=seed)
    channels = list(CHANNELS)
    scaler = windows.ChannelScaler().fit(frame.loc[split.train, channels].to_numpy())
    arrays = {}
    for name, rows in (("train", split.train), ("val", split.validation)):
        part = frame.loc[rows, ["subject", "activity"]].copy()
        part[channels] = scaler.transform(frame.loc[rows, channels].to_numpy())
        X, y, _ = windows.segment_windows(
            part,
            100,
            group_by=["subject", windows.bouts(part.activity.to_numpy())],
            label="activity",
            policy="max",
            channels=channels,
        )
        arrays[name] = (X, y)
    X, y = arrays["train"]
    arrays["train"] = resampling.drop_windows(X, y, label=0, p=0.95, seed=seed)
    return arrays


def run_grid(arrays: dict, setting: str, args: argparse.Namespace, directory: str):
    threads = int(setting.rstrip("det"))
    if setting.endswith("det"):
        os.environ["TF_DETERMINISTIC_OPS"] = "1"  # inherited by the spawned worker
    else:
        os.environ.pop("TF_DETERMINISTIC_OPS", None)
    hypermodel = models.LSTMClassifierHyperModel(
        input_shape=arrays["train"][0].shape[1:],
        num_classes=len(ACTIVITIES),
        seed=args.seed,
        units=tuple(args.units),
        learning_rate=tuple(args.learning_rates),
        batch_size=tuple(args.batch_sizes),
    )
    tuner = GridSearch(
        hypermodel,
        objective="val_accuracy",
        seed=args.seed,
        directory=directory,
        project_name=f"grid-{setting}",
        workers=1,
        threads=threads,
        keep_models=0,
    )
    return tuner.search(
        *arrays["train"],
        validation_data=arrays["val"],
        epochs=args.epochs,
        early_stopping=2,
        monitor="val_accuracy",
        verbose=0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["2", "1"],
        help="thread counts, a suffix 'det' adds TF_DETERMINISTIC_OPS=1",
    )
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", type=int, nargs="+", default=[32])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    arrays = prepare(args.subjects, args.seed)
    for setting in args.settings:
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="grid-repeat-") as directory:
                runs.append(run_grid(arrays, setting, args, directory))
        accuracy = np.array([run.sort_values("trial").val_accuracy.to_numpy() for run in runs])
        spread = accuracy.max(axis=0) - accuracy.min(axis=0)
        winners = [
            {
                k: run.loc[run.val_accuracy.idxmax(), k].item()
                for k in ("trial", "batch_size", "learning_rate", "units", "val_accuracy")
            }
            for run in runs
        ]
        print(
            json.dumps(
                {
                    "setting": setting,
                    "subjects": args.subjects,
                    "epochs": args.epochs,
                    "trials": int(accuracy.shape[1]),
                    "train_windows": int(len(arrays["train"][1])),
                    "trials_differing": int((spread > 0).sum()),
                    "max_val_accuracy_difference": float(spread.max()),
                    "same_winner": len({w["trial"] for w in winners}) == 1,
                    "winners": winners,
                    "val_accuracy": [round(float(v), 4) for v in accuracy[0]],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
