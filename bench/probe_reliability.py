"""Probe the tuners as a careful but unlucky user would: bad inputs, odd arguments, damaged
directories and stuck trials. Every probe must end in a clear error before the first trial
(nothing written), or in a correct result; nothing outside what a search wrote is deleted,
and nothing waits for ever.

Each probe is classified:

- ``clear``: refused with a message holding the words that say what to do, nothing written
  (where the input alone shows the problem), or the correct result;
- ``unclear``: refused, but the message lacks those words, or came after a trial ran;
- ``silent_wrong``: a result where a refusal (or a FAILED trial) was due;
- ``data_loss``: a file the search did not write was changed or deleted;
- ``hang``: no answer within the probe's time limit.

Prints one JSON line: the counts per class and every probe's class and message.

    LIB_DATA_DIR=../shared/data .venv/bin/python bench/probe_reliability.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402

from lib.tuning import (  # noqa: E402
    GridSearch,
    Hyperband,
    RandomSearch,
    RayTuneSearch,
    fit_final,
)


class Net(kt.HyperModel):
    def __init__(self, outputs=3, loss="sparse_categorical_crossentropy", modes=("fast",)):
        super().__init__()
        self.outputs, self.loss, self.modes = outputs, loss, list(modes)

    def build(self, hp):
        if hp.Choice("mode", self.modes) == "slow":
            time.sleep(3600)
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Choice("units", [4]), activation="relu"),
                keras.layers.Dense(self.outputs, activation="softmax"),
            ]
        )
        model.compile("adam", self.loss, metrics=["accuracy"])
        return model


class Regressor(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Choice("u", [8]), activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
            "mse",
            metrics=["mean_absolute_error"],
        )
        return model


RNG = np.random.default_rng(0)
X = RNG.normal(size=(90, 5)).astype("float32")
Y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.8).astype(int)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def snapshot(folder: Path) -> dict:
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def written(folder: Path) -> bool:
    return (folder / "search.json").exists() or (folder / "trials.jsonl").exists()


def probe(
    action,
    *,
    words=(),
    folder: Path | None = None,
    keep: dict | None = None,
    check=None,
    limit: float = 120.0,
    before_trial: bool = True,
) -> dict:
    """Runs ``action``; a refusal must carry ``words``; ``check(result)`` judges a result
    (True: correct); ``keep``: files (path -> hash) that must survive."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    began = time.perf_counter()
    outcome: dict = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = action()
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome["message"] = "; ".join(
            str(w.message)[:160] for w in caught if issubclass(w.category, UserWarning)
        )[:300]
        correct = check(result, caught) if check else False
        outcome["class"] = "clear" if correct else "silent_wrong"
    except Hang:
        outcome = {"class": "hang", "message": f"no answer in {limit:g} s"}
    except Exception as error:  # a refusal
        signal.setitimer(signal.ITIMER_REAL, 0)
        message = f"{type(error).__name__}: {error}".split("\n")[0]
        outcome["message"] = message[:300]
        clear = all(w.lower() in message.lower() for w in words) and not check
        if clear and before_trial and folder is not None and (folder / "trials.jsonl").exists():
            clear = False  # the input alone showed it: no trial should have run
        outcome["class"] = "clear" if clear else "unclear"
    outcome["seconds"] = round(time.perf_counter() - began, 1)
    if keep is not None:
        now = {
            p: hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).exists() else None
            for p in keep
        }
        if now != keep:
            outcome["class"] = "data_loss"
    return outcome


def tuner(folder: Path, hypermodel=None, cls=GridSearch, **kwargs):
    options = dict(
        objective="val_accuracy",
        directory=folder.parent,
        project_name=folder.name,
        workers=0,
        seed=0,
    )
    options.update(kwargs)
    return cls(hypermodel or Net(), **options)


def search(folder: Path, x=X, y=Y, x_val=X, y_val=Y, hypermodel=None, tuner_kwargs=None, **kwargs):
    options = dict(epochs=1, verbose=0)
    options.update(kwargs)
    t = tuner(folder, hypermodel, **(tuner_kwargs or {}))
    t.search(x, y, validation_data=None if x_val is None else (x_val, y_val), **options)
    return t


def completed_only(t, caught=()) -> bool:
    return set(t.results["status"]) == {"COMPLETED"}


def search_probes(work: Path) -> dict:
    probes = {}
    inputs = {
        "nan_x": (np.where(X > 2, np.nan, X), Y, X, Y, ("NaN", "allow_nonfinite")),
        "inf_x_val": (X, Y, np.where(X > 2, np.inf, X), Y, ("x_val", "infinity")),
        "float32_overflow": (
            np.where(X > 2.5, 1e39, X.astype("float64")),
            Y,
            X,
            Y,
            ("float32", "scale"),
        ),
        "one_class_train": (X, np.zeros_like(Y), X, Y, ("one class", "two classes")),
        "one_class_val": (X, Y, X, np.ones_like(Y), ("one class", "stratify")),
        "wrong_x_shape": (X[:, :4], Y, X[:, :4], Y, ("x_train", "shape", "no trial")),
        "x_val_fewer_features": (X, Y, X[:, :4], Y, ("x_val", "shape")),
        "string_x": (X.astype(str), Y, X, Y, ("numeric", "float32")),
        "one_hot_into_sparse": (X, np.eye(3)[Y], X, np.eye(3)[Y], ("loss", "one-hot")),
        "nan_float_labels": (
            X,
            np.where(Y == 2, np.nan, Y.astype(float)),
            X,
            Y,
            ("y_train", "NaN", "drop"),
        ),
        "string_labels": (X, np.array(["a", "b", "c"])[Y], X, Y, ("encode_labels",)),
        "empty_validation": (X, Y, X[:0], Y[:0], ("x_val is empty",)),
        "rows_mismatch": (X, Y[:-1], X, Y, ("rows", "one target per row")),
        "labels_outside_outputs": (X, Y + 5, X, Y + 5, ("outside", "encode_labels")),
        "val_class_unseen": (X, np.minimum(Y, 1), X, Y, ("never sees",)),
        "object_x": (X.astype(object), Y, X, Y, ("numeric",)),
    }
    for name, (x, y, xv, yv, words) in inputs.items():
        folder = work / name
        probes[name] = probe(
            lambda x=x, y=y, xv=xv, yv=yv, folder=folder: search(folder, x, y, xv, yv),
            words=words,
            folder=folder,
        )
        if probes[name]["class"] == "clear" and written(folder):
            probes[name]["class"] = "unclear"
    arguments = {
        "epochs_0": ({"epochs": 0}, ("epochs must be at least 1",)),
        "batch_size_0": ({"batch_size": 0}, ("batch_size", "at least 1")),
        "batch_size_negative": ({"batch_size": -1}, ("batch_size", "at least 1")),
        "class_weight_typo": ({"class_weight": "balancd"}, ("balanced",)),
        "unknown_argument": ({"epoch": 3}, ("unsupported", "epochs")),
        "validation_split_and_data": ({"validation_split": 0.2}, ("one of them",)),
        "folds_1": ({"folds": 1}, ("at least 2",)),
    }
    for name, (kwargs, words) in arguments.items():
        folder = work / name
        xv = None if "folds" in kwargs else X
        probes[name] = probe(
            lambda kwargs=kwargs, folder=folder, xv=xv: search(folder, x_val=xv, **kwargs),
            words=words,
            folder=folder,
        )
    constructors = {
        "max_trials_0": (lambda f: tuner(f, cls=RandomSearch, max_trials=0), ("max_trials",)),
        "max_trials_negative": (
            lambda f: tuner(f, cls=RandomSearch, max_trials=-3),
            ("max_trials",),
        ),
        "hyperband_max_epochs_0": (
            lambda f: tuner(f, cls=Hyperband, max_epochs=0),
            ("max_epochs",),
        ),
        "hyperband_factor_1": (lambda f: tuner(f, cls=Hyperband, factor=1), ("factor",)),
        "workers_negative": (lambda f: tuner(f, workers=-1), ("workers",)),
        "unknown_option": (lambda f: tuner(f, worker=2), ("Unrecognized", "workers")),
        "unknown_objective": (lambda f: tuner(f, objective="val_acuracy"), ("direction",)),
        "timeout_zero": (lambda f: tuner(f, trial_timeout_seconds=0), ("trial_timeout",)),
        "stacked_option_alone": (lambda f: tuner(f, max_models=4), ("executor='stacked'",)),
    }
    for name, (make, words) in constructors.items():
        probes[name] = probe(lambda make=make, f=work / name: make(f), words=words)
    return probes


def result_probes(work: Path) -> dict:
    probes = {}

    def mae_is_minimised():
        t = search(
            work / "mae",
            X,
            X[:, 0],
            X,
            X[:, 0],
            hypermodel=Regressor(),
            tuner_kwargs={"objective": "val_mean_absolute_error"},
        )
        frame = t.results
        best = t.oracle.get_best_trials(1)[0]
        return float(best.score) == float(frame["objective"].min())

    probes["keras_mae_objective_minimised"] = probe(mae_is_minimised, check=lambda r, c: r)

    def diverged():
        t = search(
            work / "diverged",
            X * np.float32(1e30),
            Y,
            X * np.float32(1e30),
            Y,
            epochs=2,
            tuner_kwargs={"keep_models": 1},
        )
        return t

    probes["nan_outputs_trial"] = probe(
        diverged,
        check=lambda t, c: (
            list(t.results["status"]) == ["FAILED"] and "NaN" in t.results["error"][0]
        ),
    )

    def best_models_of_failed():
        return tuner(work / "diverged").get_best_models(1)

    probes["get_best_models_all_failed"] = probe(
        best_models_of_failed, words=("no trial completed",)
    )
    probes["no_model_kept_of_failed_trials"] = probe(
        lambda: sorted(p.name for p in (work / "diverged").rglob("*.keras")),
        check=lambda kept, c: kept == [],
    )

    def missing_class_warned():
        keep = Y != 2
        return search(work / "missing_class", x_val=X[keep], y_val=Y[keep])

    probes["validation_missing_a_class"] = probe(
        missing_class_warned,
        check=lambda t, c: any("miss(es) classes" in str(w.message) for w in c),
    )
    probes["fit_final_nan"] = probe(
        lambda: fit_final(
            Net(), {"mode": "fast", "units": 4}, np.where(X > 2, np.nan, X), Y, epochs=1
        ),
        words=("NaN",),
    )
    return probes


def directory_probes(work: Path) -> dict:
    probes = {}
    base = work / "dir"
    search(base)
    (base / "notes.txt").write_text("the user's")
    (base / "data").mkdir(exist_ok=True)
    (base / "data" / "features.npy").write_bytes(b"the user's array")
    (base / "ray").mkdir(exist_ok=True)
    (base / "ray" / "mine.txt").write_text("the user's")
    users = {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (base / "notes.txt", base / "data" / "features.npy", base / "ray" / "mine.txt")
    }
    probes["overwrite_keeps_user_files"] = probe(
        lambda: search(base, tuner_kwargs={"overwrite": True}),
        keep=users,
        words=("did not write", "nothing was deleted"),
        before_trial=False,
    )
    x2 = X[::-1].copy()
    probes["resume_on_other_data"] = probe(
        lambda: search(base, x2, Y[::-1].copy()), words=("other data",), before_trial=False
    )
    probes["resume_other_model"] = probe(
        lambda: search(base, hypermodel=Net(outputs=4)), words=("different",), before_trial=False
    )
    probes["other_tuner_class"] = probe(
        lambda: tuner(base, cls=RandomSearch), words=("overwrite=True",), before_trial=False
    )
    stale = work / "stale"
    search(stale)
    os.remove(stale / "search.json")
    probes["stale_trials_without_spec"] = probe(
        lambda: search(stale, x2, Y), words=("search.json is missing",), before_trial=False
    )
    truncated = work / "truncated"
    search(truncated)
    spec = truncated / "search.json"
    spec.write_text(spec.read_text()[:50])
    probes["truncated_search_json"] = probe(
        lambda: search(truncated),
        words=("search.json is damaged", "overwrite=True"),
        before_trial=False,
    )
    edited = work / "edited"
    search(edited)
    lines = (edited / "trials.jsonl").read_text().replace('"objective": 0.', '"objective": 9.')
    (edited / "trials.jsonl").write_text(lines)
    probes["edited_trial_record"] = probe(
        lambda: search(edited), words=("checksum",), before_trial=False
    )
    kept = work / "kept"
    search(kept, tuner_kwargs={"keep_models": 2})
    os.remove(kept / "best_model.keras")
    probes["best_model_file_deleted"] = probe(  # the kept trial models still serve
        lambda: tuner(kept).get_best_models(1)[0], check=lambda model, c: model.count_params() > 0
    )
    stacked = work / "stacked"

    def plain(hp):
        return Net().build(hp)

    probes["stacked_without_form"] = probe(
        lambda: search(stacked, hypermodel=plain, tuner_kwargs={"executor": "stacked"}),
        words=("stacked form",),
        folder=stacked,
    )
    probes["stacked_retry_per_trial"] = probe(
        lambda: search(stacked, hypermodel=plain), check=completed_only
    )
    return probes


def fault_probes(work: Path) -> dict:
    probes = {}
    probes["stuck_trial_timeout"] = probe(
        lambda: search(
            work / "stuck",
            hypermodel=Net(modes=("fast", "slow")),
            tuner_kwargs={"workers": 1, "trial_timeout_seconds": 20},
        ),
        check=lambda t, c: sorted(t.results["status"]) == ["COMPLETED", "FAILED"],
        limit=240,
    )
    for number, address in enumerate(("127.0.0.1:1", "10.255.255.1:6379")):
        name = f"ray_address_{address}"

        def ray_search(address=address, number=number):
            ray = RayTuneSearch(
                Net(),
                objective="val_accuracy",
                max_trials=1,
                directory=work,
                project_name=f"ray{number}",
                ray_address=address,
            )
            return ray.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)

        probes[name] = probe(ray_search, words=(address,), limit=60)
        if probes[name]["class"] == "clear" and probes[name]["seconds"] > 30:
            probes[name]["class"] = "unclear"
    return probes


def data_probes(work: Path) -> dict:
    from lib.datasets.mice_sleep import read_mice_sleep_file
    from lib.resampling import resample
    from lib.scaling import ChannelScaler

    probes = {}
    columns = ["state"] + [f"amplitude_around_{i}_Hertz" for i in range(1, 102) if i != 13]
    rows = [",".join(["W"] + [repr(float(v)) for v in RNG.random(100) * 1e-5]) for _ in range(5)]
    path = work / "mouse.csv"
    path.write_text(",".join(columns) + "\n" + "\n".join(rows) + "\n")
    probes["mice_csv_missing_column"] = probe(
        lambda: read_mice_sleep_file(path), words=("amplitude",)
    )
    windows = RNG.normal(size=(20, 10, 3))
    windows[2, 3, 1] = np.nan
    probes["scaler_fit_on_nan"] = probe(  # NaN marks a missing reading: skipped, not spread
        lambda: ChannelScaler().fit(windows).transform(windows),
        check=lambda out, c: np.isnan(out).sum() == 1 and np.isnan(out[2, 3, 1]),
    )
    bad = X.copy()
    bad[0, 0] = np.inf
    probes["random_over_with_inf"] = probe(
        lambda: resample(bad, Y, method="random_over", seed=0), words=("inf", "drop")
    )
    return probes


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="probe-reliability-"))
    began = time.perf_counter()
    probes = {}
    for group in (search_probes, result_probes, directory_probes, data_probes, fault_probes):
        probes.update(group(work))
    counts = {
        name: sum(p["class"] == name for p in probes.values())
        for name in ("clear", "unclear", "silent_wrong", "data_loss", "hang")
    }
    print(
        json.dumps(
            {
                "probes": len(probes),
                **counts,
                "seconds": round(time.perf_counter() - began, 1),
                "detail": probes,
            }
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
