"""Probe the toolkit as a careless user would: every bad input must be refused, nothing lost.

Each probe feeds one bad input (NaN features, no epochs, labels the model cannot output,
a directory another search holds, ``overwrite=True`` on a folder with the user's files, a
different model on a resumed search, a flipped byte in the household-power parquet, a mice
CSV missing an amplitude column, a notebook under pytest, a notebook offline) and records
whether it was refused with a message (and, where it matters, whether the files were left
as they were). Prints one JSON line: ``probes`` (name -> refused / untouched / message) and
``all_refused``. Needs the mirror (``LIB_DATA_DIR``) for the parquet probe; the notebook
probes run pytest on notebook 04 (about a minute).

    .venv/bin/python bench/probe_guards.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402

from lib.tuning import GridSearch  # noqa: E402
from lib.tuning._store import TrialStore  # noqa: E402


class Net(kt.HyperModel):
    def __init__(self, outputs: int = 3):
        super().__init__()
        self.outputs = outputs

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Choice("units", [4]), activation="relu"),
                keras.layers.Dense(self.outputs, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        return model


def data(n: int = 90):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8).astype(int)
    return dict(x_train=x[:60], y_train=y[:60], x_val=x[60:], y_val=y[60:])


def snapshot(folder: str) -> dict:
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                found[os.path.relpath(os.path.join(root, name), folder)] = hashlib.sha256(
                    handle.read()
                ).hexdigest()
    return found


def refused(action, folder: str | None = None) -> dict:
    before = snapshot(folder) if folder else None
    try:
        action()
    except Exception as error:  # a refusal is an exception with a message
        result = {"refused": True, "message": f"{type(error).__name__}: {error}".split("\n")[0]}
    else:
        result = {"refused": False, "message": ""}
    if folder:
        result["untouched"] = snapshot(folder) == before
    return result


def run(hypermodel, values, folder, *, max_trials=None, overwrite=False, **kwargs):
    """A grid search on ``val_accuracy`` in ``folder``; ``values`` as :func:`data` makes them."""
    tuner = GridSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=max_trials,
        directory=folder.parent,
        project_name=folder.name,
        overwrite=overwrite,
        workers=0,
    )
    options = {"epochs": 1, "verbose": 0, **kwargs}
    return tuner.search(
        values["x_train"],
        values["y_train"],
        validation_data=(values["x_val"], values["y_val"]),
        **options,
    )


def tuning_probes(work: Path) -> dict:
    probes = {}
    nan = data()
    nan["x_train"][[1, 7], 0] = np.nan
    probes["nan_inputs"] = refused(lambda: run(Net(), nan, work / "nan"))
    probes["zero_epochs"] = refused(lambda: run(Net(), data(), work / "epochs", epochs=0))
    labels = data()
    labels["y_train"] = np.where(labels["y_train"] > 0, 7, 3)
    probes["labels_outside_outputs"] = refused(lambda: run(Net(2), labels, work / "labels"))
    busy = work / "busy"
    run(Net(), data(), busy)
    holder = TrialStore(str(busy))
    holder.lock()
    other = data()
    other["y_train"] = other["y_train"][::-1].copy()
    probes["busy_directory"] = refused(lambda: run(Net(), other, busy, max_trials=2), str(busy))
    holder.unlock()
    (busy / "notes.txt").write_text("the user's")
    probes["overwrite_foreign_files"] = refused(
        lambda: run(Net(), data(), busy, overwrite=True), str(busy)
    )
    (busy / "notes.txt").unlink()
    probes["changed_model"] = refused(lambda: run(Net(4), data(), busy), str(busy))
    return probes


def data_probes(work: Path) -> dict:
    from lib.datasets import household_power
    from lib.datasets.mice_sleep import read_mice_sleep_file

    probes = {}
    mirror = os.environ.get("LIB_DATA_DIR")
    source = Path(mirror or "") / "household_power" / "minute.parquet"
    if mirror and source.exists():
        cache = work / "cache" / "household_power"
        cache.mkdir(parents=True)
        copy = cache / "minute.parquet"
        shutil.copyfile(source, copy)
        with open(copy, "r+b") as handle:
            handle.seek(4_000_000)
            byte = handle.read(1)
            handle.seek(4_000_000)
            handle.write(bytes([byte[0] ^ 0xFF]))
        os.environ["LIB_CACHE_DIR"] = str(work / "cache")
        probes["flipped_parquet_byte"] = refused(lambda: household_power.verify_parquet(copy))
    columns = ["state"] + [f"amplitude_around_{i}_Hertz" for i in range(1, 102) if i != 13]
    rng = np.random.default_rng(0)
    rows = [",".join(["W"] + [repr(float(v)) for v in rng.random(100) * 1e-5]) for _ in range(5)]
    path = work / "mouse.csv"
    path.write_text(",".join(columns) + "\n" + "\n".join(rows) + "\n")
    probes["missing_mice_column"] = refused(lambda: read_mice_sleep_file(path))
    return probes


def notebook_probes() -> dict:
    notebook = "notebooks/04_hand_poses_search.ipynb"
    before = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    env = dict(os.environ, QUICK="0")
    quick = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", notebook],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    after = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    probes = {
        "notebook_under_pytest": {
            "refused": quick.returncode == 0,
            "untouched": before == after,
            "message": quick.stdout.strip().splitlines()[-1] if quick.stdout.strip() else "",
        }
    }
    offline = {k: v for k, v in os.environ.items() if k != "LIB_DATA_DIR"}
    offline.update(LIB_OFFLINE="1", LIB_CACHE_DIR=tempfile.mkdtemp(prefix="probe-cache-"))
    skipped = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", notebook],
        cwd=ROOT,
        env=offline,
        capture_output=True,
        text=True,
        timeout=900,
    )
    last = skipped.stdout.strip().splitlines()[-1] if skipped.stdout.strip() else ""
    probes["offline_notebook"] = {
        "refused": "1 skipped" in last and "failed" not in last,
        "message": last,
    }
    return probes


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="probe-guards-"))
    probes = {}
    probes.update(tuning_probes(work))
    probes.update(data_probes(work))
    probes.update(notebook_probes())
    ok = all(p["refused"] and p.get("untouched", True) for p in probes.values())
    print(json.dumps({"probes": probes, "all_refused": ok}))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
