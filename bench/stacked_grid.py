"""Stacked executor vs the per-trial engine on study 5's MLP grid, and their weight agreement.

The same configurations (an even sample of ``MLPHyperModel``'s 1,008-configuration grid),
data and epochs go through the per-trial engine (``lib.tuning._trial.run_trial``, in this
process, after one untimed warm-up trial; a sample of ``--per-trial`` configurations, scaled)
and through ``lib.tuning.stacked.run_stacked`` (``--models`` configurations in one stack),
side by side. Data: the schema-identical mice-sleep stand-in (``lib.datasets.synthetic``;
the course data is not public): mouse 1 trains, mouse 2 validates, log amplitudes of the
first 25 frequencies standardised on the training rows only.

Then ``max_abs_weight_diff_float64``: ``--equivalence-models`` configurations (SGD with
momentum and Adam, both losses, one and two layers) trained one epoch as separate float64
Keras models and as one float64 stack from the same initial weights and batches.

Prints one JSON line: ``speedup`` (configurations per second, stacked / per-trial),
``per_trial_configs_per_second``, ``stacked_configs_per_second``, ``max_abs_weight_diff_float64``
and the settings. ``--stacked-only`` times the stack alone and reports this process's peak RSS
(for the whole grid at full size).

Usage::

    .venv/bin/python bench/stacked_grid.py                       # K = 256, batch 32, 2 epochs
    .venv/bin/python bench/stacked_grid.py --models 1008 --rows 36000 --epochs 1
    .venv/bin/python bench/stacked_grid.py --models 1008 --rows 36000 --epochs 2 --stacked-only
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402


def study5_grid() -> list[dict]:
    """The 1,008 configurations of ``MLPHyperModel.DEFAULT_SPACE``, in a fixed order."""
    from lib.models import MLPHyperModel

    space = MLPHyperModel.DEFAULT_SPACE
    layers = [(False, None, None)] + [
        (True, u, a) for u, a in itertools.product(space["units"], space["activation"])
    ]
    optimizers = [("adam", None)] + [("sgd", m) for m in space["momentum"]]
    grid = []
    combinations = itertools.product(
        layers,
        space["units"],
        space["activation"],
        optimizers,
        space["learning_rate"],
        space["loss"],
    )
    for layer_2, units_1, activation_1, (optimizer, momentum), rate, loss in combinations:
        second, units_2, activation_2 = layer_2
        values = {
            "second_layer": second,
            "units_1": units_1,
            "activation_1": activation_1,
            "optimizer": optimizer,
            "learning_rate": rate,
            "loss": loss,
            "batch_size": space["batch_size"],
        }
        if second:
            values.update(units_2=units_2, activation_2=activation_2)
        if momentum is not None:
            values["momentum"] = momentum
        grid.append(values)
    return grid


def mice_arrays(rows: int, val_rows: int, seed: int) -> dict:
    """Stand-in mice-sleep rows: mouse 1 for training, mouse 2 for validation, scaled on train."""
    from lib.datasets import synthetic

    frame = synthetic.mice_sleep(mice=2, epochs_per_mouse=max(rows, val_rows), seed=seed)
    columns = [f"amplitude_around_{h}_Hertz" for h in range(1, 26)]
    codes = {"w": 0, "n": 1, "r": 2}
    parts = {}
    for name, mouse, count in (("train", 1, rows), ("val", 2, val_rows)):
        part = frame[frame["mouse"] == f"synthetic_mouse_{mouse}"].iloc[:count]
        parts[f"x_{name}"] = np.log(part[columns].to_numpy())
        parts[f"y_{name}"] = part["state"].map(codes).to_numpy().astype(np.int64)
    mean, std = parts["x_train"].mean(axis=0), parts["x_train"].std(axis=0)
    for name in ("train", "val"):
        parts[f"x_{name}"] = ((parts[f"x_{name}"] - mean) / std).astype(np.float32)
    return parts


def per_trial(hypermodel, configs, arrays, *, epochs: int, batch_size: int, seed: int) -> float:
    """Seconds the per-trial engine takes for ``configs`` (one untimed warm-up trial first)."""
    from lib.tuning._settings import TrialSettings
    from lib.tuning._trial import run_trial
    from lib.tuning.spaces import trial_seed

    settings = TrialSettings(
        objective="val_weighted_f1",
        direction="max",
        task="classification",
        epochs=epochs,
        batch_size=batch_size,
        monitor="val_loss",
        monitor_mode="min",
    )
    run_trial(hypermodel, configs[0], arrays, None, settings.replace(epochs=1), seed=seed)
    start = time.perf_counter()
    for number, values in enumerate(configs):
        run_trial(hypermodel, values, arrays, None, settings, seed=trial_seed(seed, number))
    return time.perf_counter() - start


def stacked(hypermodel, configs, arrays, *, epochs: int, batch_size: int, seed: int) -> float:
    """Seconds ``run_stacked`` takes for ``configs`` in one stack."""
    from lib.tuning.stacked import run_stacked

    records = []
    start = time.perf_counter()
    run_stacked(
        hypermodel,
        list(enumerate(configs)),
        arrays,
        objective="val_weighted_f1",
        epochs=epochs,
        batch_size=batch_size,
        early_stopping=None,
        seed=seed,
        max_models=len(configs),
        memory_budget_mb=4096,
        on_stack_done=lambda r, extract: records.extend(r),
    )
    seconds = time.perf_counter() - start
    if len(records) != len(configs) or len({r["stack"] for r in records}) != 1:
        raise RuntimeError(f"expected one stack of {len(configs)} records, got {len(records)}")
    return seconds


def equivalence(grid: list[dict], models: int, seed: int) -> float:
    """Max weight difference, float64, separate Keras models vs one stack, one epoch."""
    import keras

    from lib.models import MLPHyperModel
    from lib.tuning.stacked import form_of, max_weight_difference

    previous = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        hypermodel = MLPHyperModel()
        picks = np.linspace(0, len(grid) - 1, models).round().astype(int)
        forms = [form_of(hypermodel, grid[i], batch_size=32) for i in picks]
        arrays = mice_arrays(1024, 10, seed)
        return max_weight_difference(forms, arrays["x_train"], arrays["y_train"], seed=seed)
    finally:
        keras.config.set_floatx(previous[0])
        keras.config.set_dtype_policy(previous[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=256, help="configurations stacked (K)")
    parser.add_argument("--per-trial", type=int, default=4, help="configurations run per trial")
    parser.add_argument("--rows", type=int, default=6000, help="training rows")
    parser.add_argument("--val-rows", type=int, default=2000, help="validation rows")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--equivalence-models", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stacked-only",
        action="store_true",
        help="time the stack alone (no per-trial sample, no equivalence check)",
    )
    args = parser.parse_args()

    import keras_tuner  # noqa: F401  (imported before timing, like the engine's workers)

    from lib.models import MLPHyperModel

    grid = study5_grid()
    picks = np.linspace(0, len(grid) - 1, min(args.models, len(grid))).round().astype(int)
    configs = [dict(grid[i], batch_size=args.batch_size) for i in picks]
    spread = np.linspace(0, len(configs) - 1, args.per_trial).round().astype(int)
    sample = [configs[i] for i in spread]
    arrays = mice_arrays(args.rows, args.val_rows, args.seed)
    hypermodel = MLPHyperModel()
    common = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    if args.stacked_only:
        stack_seconds = stacked(hypermodel, configs, arrays, **common)
        print(
            json.dumps(
                {
                    "stacked_seconds": round(stack_seconds, 2),
                    "stacked_models": len(configs),
                    "stacked_configs_per_second": round(len(configs) / stack_seconds, 3),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                    "rows": args.rows,
                    "val_rows": args.val_rows,
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "load_average": list(os.getloadavg()),
                }
            )
        )
        return
    trial_seconds = per_trial(hypermodel, sample, arrays, **common)
    stack_seconds = stacked(hypermodel, configs, arrays, **common)
    difference = equivalence(grid, args.equivalence_models, args.seed)
    per_trial_rate = len(sample) / trial_seconds
    stacked_rate = len(configs) / stack_seconds
    print(
        json.dumps(
            {
                "speedup": round(stacked_rate / per_trial_rate, 1),
                "per_trial_configs_per_second": round(per_trial_rate, 4),
                "stacked_configs_per_second": round(stacked_rate, 3),
                "per_trial_seconds": round(trial_seconds, 2),
                "per_trial_sample": len(sample),
                "stacked_seconds": round(stack_seconds, 2),
                "stacked_models": len(configs),
                "max_abs_weight_diff_float64": difference,
                "equivalence_models": args.equivalence_models,
                "rows": args.rows,
                "val_rows": args.val_rows,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "load_average": list(os.getloadavg()),
            }
        )
    )


if __name__ == "__main__":
    main()
