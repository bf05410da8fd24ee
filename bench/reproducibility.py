"""Which TensorFlow settings give the same trained weights? oneDNN, its ISA cap, op determinism.

Trains a few small fixed models, each in a fresh process per setting (the variables must be
set before TensorFlow loads), on notebook 01's data (the MHEALTH stand-in prepared as the
notebook does: split by subject, scaled on the training subjects, 100-reading windows inside
activity bouts, 95 % of the null training windows dropped), and compares the trained weights
bit for bit between settings:

* ``lstm``: study 1's LSTM at the grid winner's point (batch 64, 64 units, learning rate 0.01);
  ``lstm512`` the same at batch 512 (the grid's largest batch);
* ``resnet``: a 1-D ResNet (``CNN1DResNetHyperModel``, 4 residual blocks) as in study 1's
  "beyond" section (the same network family as study 2's);
* ``mlp``: a two-layer MLP (``MLPHyperModel``, study 5's family, trained by Keras, not by the
  stacked engine) on the windows' channel means and standard deviations.

A setting is ``onednn0`` / ``onednn1`` (``TF_ENABLE_ONEDNN_OPTS``), optionally followed by
``-isa_<ISA>`` (``ONEDNN_MAX_CPU_ISA``, e.g. ``isa_avx2``, ``isa_avx512_core``: oneDNN's
kernels capped at that instruction set), ``-det`` (``tf.config.experimental.
enable_op_determinism()``) and ``-threads<N>`` (TensorFlow threads, default 2, the notebooks'
``THREADS``); ``#2`` after a setting runs it again (same-machine repeat). For each oneDNN-on
setting a short probe with ``ONEDNN_VERBOSE=1`` reports the instruction set oneDNN says it
uses. Prints one JSON line: per setting and model the validation accuracy, the first 12 hex
digits of the weights' SHA-256, the largest absolute weight difference from the first
setting, the fit's seconds, and which settings gave identical weights.

Usage::

    .venv/bin/python bench/reproducibility.py                  # the default settings below
    .venv/bin/python bench/reproducibility.py --settings onednn0 onednn0#2 onednn1 \
        --models lstm --epochs 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

DEFAULT_SETTINGS = (
    "onednn0",
    "onednn0#2",
    "onednn0-det",
    "onednn0-isa_avx2",
    "onednn0-threads1",
    "onednn1",
    "onednn1#2",
    "onednn1-det",
    "onednn1-isa_avx512_core",
    "onednn1-isa_avx2",
    "onednn1-isa_avx2#2",
    "onednn1-isa_avx2-det",
)
MODELS = ("lstm", "lstm512", "resnet", "mlp")


def parse_setting(setting: str) -> dict:
    """``"onednn1-isa_avx2-det#2"`` -> environment and options of that run."""
    name = setting.split("#")[0]
    parts = name.split("-")
    if parts[0] not in ("onednn0", "onednn1"):
        raise ValueError(f"a setting starts with onednn0 or onednn1; got {setting!r}")
    options = {"env": {"TF_ENABLE_ONEDNN_OPTS": parts[0][-1]}, "deterministic": False, "threads": 2}
    for part in parts[1:]:
        if part.startswith("isa_"):
            options["env"]["ONEDNN_MAX_CPU_ISA"] = part[4:].upper()
        elif part == "det":
            options["deterministic"] = True
        elif part.startswith("threads"):
            options["threads"] = int(part[7:])
        else:
            raise ValueError(
                f"unknown part {part!r} of setting {setting!r}; expected isa_<ISA>, det, threads<N>"
            )
    return options


def prepare(path: str, seed: int) -> None:
    """Notebook 01's training (null thinned) and validation windows, saved to ``path``."""
    from lib import resampling, scaling, splits, windows
    from lib.datasets import synthetic
    from lib.datasets.mhealth import CHANNELS

    frame = synthetic.mhealth(seed=seed, all_channels=True)
    split = splits.group_split(frame.subject.to_numpy(), test=2, validation=2, seed=seed)
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    scaled = scaling.scale_parts(frame, parts, list(CHANNELS), keep=["subject", "activity"])
    X_train, y_train, _ = windows.bout_windows(
        scaled["train"], 100, label="activity", group_by="subject"
    )
    X_val, y_val, _ = windows.bout_windows(
        scaled["validation"], 100, label="activity", group_by="subject"
    )
    X_train, y_train = resampling.drop_windows(X_train, y_train, label=0, p=0.95, seed=seed)
    np.savez(path, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val)


def build(model: str, shape: tuple, seed: int):
    """The hypermodel of ``model`` with a one-point space (no hyperparameter left to choose)."""
    from lib import models
    from lib.datasets.mhealth import ACTIVITIES

    classes = len(ACTIVITIES)
    if model in ("lstm", "lstm512"):
        return models.LSTMClassifierHyperModel(
            input_shape=shape,
            num_classes=classes,
            seed=seed,
            units=64,
            learning_rate=0.01,
            batch_size=512 if model == "lstm512" else 64,
        )
    if model == "resnet":
        return models.CNN1DResNetHyperModel(
            input_shape=shape,
            num_classes=classes,
            seed=seed,
            filters=16,
            residual_blocks=4,
            dense_units=64,
            dropout=0.0,
            learning_rate=0.001,
            batch_size=64,
            reduce_lr_factor=None,
            resampling=None,
        )
    if model == "mlp":
        return models.MLPHyperModel(
            input_dim=shape[0],
            num_classes=classes,
            seed=seed,
            second_layer=True,
            units=8,
            activation="relu",
            optimizer="adam",
            learning_rate=0.01,
            momentum=0.0,
            loss="categorical_crossentropy",
            batch_size=32,
        )
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def child(args: argparse.Namespace) -> None:
    """One setting in this fresh process: train each model, save its weights, print JSON."""
    options = parse_setting(args.setting)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(options["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(options["threads"])
    if options["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    from lib.machine import machine_record
    from lib.tuning import fit_final

    data = np.load(args.data)
    out = {"setting": args.setting, "machine": machine_record(), "models": {}}
    for model in args.models:
        x, y = data["X_train"], data["y_train"]
        x_val, y_val = data["X_val"], data["y_val"]
        if model == "mlp":  # channel means and standard deviations of each window
            x = np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1)
            x_val = np.concatenate([x_val.mean(axis=1), x_val.std(axis=1)], axis=1)
        hypermodel = build(model, x.shape[1:], args.seed)
        start = time.perf_counter()
        trained, _ = fit_final(
            hypermodel, {}, x, y, validation_data=(x_val, y_val), epochs=args.epochs, seed=args.seed
        )
        seconds = time.perf_counter() - start
        weights = [w.astype(np.float32) for w in trained.get_weights()]
        digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
        np.savez(os.path.join(args.out, f"{args.setting.replace('#', '_')}-{model}.npz"), *weights)
        accuracy = float(np.mean(trained.predict(x_val, verbose=0).argmax(axis=1) == y_val))
        out["models"][model] = {
            "val_accuracy": round(accuracy, 4),
            "sha256": digest[:12],
            "fit_seconds": round(seconds, 1),
        }
    print("RESULT " + json.dumps(out))


def onednn_isa(env: dict) -> str | None:
    """The instruction set oneDNN reports (``ONEDNN_VERBOSE=1``) under ``env``, one matmul."""
    code = "import tensorflow as tf; tf.linalg.matmul(tf.ones((64, 64)), tf.ones((64, 64)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ONEDNN_VERBOSE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for line in done.stdout.splitlines():
        if ",info,cpu,isa:" in line:
            return line.split("isa:", 1)[1].strip()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS))
    parser.add_argument("--models", nargs="+", default=["lstm", "resnet", "mlp"], choices=MODELS)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for setting in args.settings:
        parse_setting(setting)  # refuse a misspelt setting before any training
    started = time.time()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="reproducibility-") as folder:
        data = os.path.join(folder, "data.npz")
        prepare(data, args.seed)
        runs, isa = [], {}
        for setting in args.settings:
            options = parse_setting(setting)
            env = {
                key: value
                for key, value in os.environ.items()
                if key not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")
            }
            env.update(options["env"])
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
            done = subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--child",
                    "--setting",
                    setting,
                    "--data",
                    data,
                    "--out",
                    folder,
                    "--epochs",
                    str(args.epochs),
                    "--seed",
                    str(args.seed),
                    "--models",
                    *args.models,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"setting {setting} failed:\n{done.stderr[-3000:]}")
            runs.append(json.loads(lines[-1][len("RESULT ") :]))
            key = json.dumps(options["env"], sort_keys=True)
            if options["env"]["TF_ENABLE_ONEDNN_OPTS"] == "1" and key not in isa:
                isa[key] = onednn_isa(env)
            runs[-1]["onednn_isa"] = isa.get(key)
        reference = args.settings[0].replace("#", "_")
        for run in runs:
            name = run["setting"].replace("#", "_")
            for model, figures in run["models"].items():
                mine = np.load(os.path.join(folder, f"{name}-{model}.npz"))
                theirs = np.load(os.path.join(folder, f"{reference}-{model}.npz"))
                figures["max_abs_diff_vs_first"] = float(
                    max(np.max(np.abs(mine[k] - theirs[k])) for k in mine.files)
                )
                figures["identical_to"] = [
                    other["setting"]
                    for other in runs
                    if other is not run and other["models"][model]["sha256"] == figures["sha256"]
                ]
    machine = runs[0]["machine"]
    print(
        json.dumps(
            {
                "machine": {
                    key: machine[key]
                    for key in ("cpu_model", "isa", "cpu_flags", "cores", "tensorflow", "keras")
                },
                "epochs": args.epochs,
                "seed": args.seed,
                "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                "wall_seconds": round(time.time() - started, 1),
                "runs": [
                    {
                        "setting": run["setting"],
                        "onednn_enabled": run["machine"]["onednn_enabled"],
                        "op_determinism": run["machine"]["op_determinism"],
                        "onednn_isa": run["onednn_isa"],
                        "models": run["models"],
                    }
                    for run in runs
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
