"""Search inputs and search directories: clear errors before work, nothing lost."""

from __future__ import annotations

import hashlib
import json
import os
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.tuning import DirectoryInUseError, GridSearch  # noqa: E402
from lib.tuning._store import TrialStore  # noqa: E402
from tests.helpers import TinyMLP, classification, split_data  # noqa: E402


class Outputs(kt.HyperModel):
    """A one-hp MLP with ``outputs`` softmax units."""

    def __init__(self, outputs=3):
        super().__init__()
        self.outputs = outputs

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((25,)),
                keras.layers.Dense(hp.Choice("units", [4]), activation="relu"),
                keras.layers.Dense(self.outputs, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        return model


def _search(
    data, directory, *, hypermodel=None, max_trials=None, overwrite=False, workers=0, **fit
):
    """A grid search on ``val_accuracy`` in the folder ``directory`` (``data``: split_data's)."""
    tuner = GridSearch(
        hypermodel or TinyMLP(),
        objective="val_accuracy",
        max_trials=max_trials,
        directory=directory.parent,
        project_name=directory.name,
        overwrite=overwrite,
        workers=workers,
    )
    fit = {"epochs": 1, "verbose": 0, **fit}
    return tuner.search(
        data["x_train"], data["y_train"], validation_data=(data["x_val"], data["y_val"]), **fit
    )


def _snapshot(folder) -> dict:
    """Every file under ``folder`` with its content hash."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return found


# -- search inputs -------------------------------------------------------------------------


@pytest.mark.slow
def test_nonfinite_inputs_are_refused_naming_the_array_and_rows(tmp_path):
    x, y = classification()
    x[[3, 90], 2] = np.nan
    x[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"x_train has 2 of 80 rows with NaN or infinity"):
        _search(split_data(x, y), tmp_path / "a")
    x, y = classification()
    x[100, 1] = np.nan
    with pytest.raises(ValueError, match=r"x_val has 1 of 40 rows.*allow_nonfinite=True"):
        _search(split_data(x, y), tmp_path / "b")
    assert not (tmp_path / "a").exists() or not os.listdir(tmp_path / "a")
    frame = _search(split_data(x, y), tmp_path / "c", allow_nonfinite=True, max_trials=1)
    assert len(frame) == 1  # the caller said the model handles them: the trial runs


def test_epochs_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="epochs must be at least 1, got 0"):
        _search(split_data(*classification()), tmp_path, epochs=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(
                y_train=np.where(d["y_train"] > 0, 7, 3), y_val=np.where(d["y_val"] > 0, 7, 3)
            ),
            r"classes \[3, 7\] outside 0..1, but the model has 2 output",
        ),
        (lambda d: d.update(y_train=d["y_train"].astype(str)), "dtype <U"),
        (lambda d: d.update(y_train=d["y_train"].astype(object)), "dtype object"),
        (
            lambda d: d.update(y_train=np.minimum(d["y_train"], 0)),
            r"y_train holds one class only \(\[0\]\)",
        ),
        (
            lambda d: d.update(y_val=np.where(d["y_val"] > 0, 2, d["y_val"])),
            r"y_val holds classes \[2\] that y_train does not",
        ),
        (lambda d: d.update(y_val=d["y_val"][:-1]), "x_val has 40 rows but y_val has 39"),
        (lambda d: d.update(x_train=d["x_train"].astype(object)), "x_train has dtype object"),
    ],
)
def test_labels_that_do_not_fit_the_model_or_each_other_are_refused(tmp_path, change, message):
    x, y = classification()
    y = (y > 0).astype(int)  # two classes
    data = split_data(x, y)
    change(data)
    with pytest.raises(ValueError, match=message):
        _search(data, tmp_path, hypermodel=Outputs(2))
    assert not (tmp_path / "trials.jsonl").exists()


def test_a_hypermodel_that_cannot_be_pickled_is_named_with_its_attribute(tmp_path):
    model = TinyMLP()
    model.lock = threading.Lock()
    with pytest.raises(TypeError, match=r"its attribute 'lock' cannot be pickled.*workers=0"):
        _search(split_data(*classification()), tmp_path, hypermodel=model, workers=1)


# -- search directories --------------------------------------------------------------------


@pytest.mark.slow
def test_a_busy_directory_is_refused_and_left_untouched(tmp_path):
    x, y = classification()
    folder = tmp_path / "busy"
    _search(split_data(x, y), folder, max_trials=1, workers=1)
    before = _snapshot(folder)
    holder = TrialStore(str(folder))
    holder.lock()  # another search runs here
    try:
        other = split_data(x[::-1].copy(), y[::-1].copy())
        with pytest.raises(DirectoryInUseError, match="in use by another search"):
            _search(other, folder, max_trials=2, workers=1)
        with pytest.raises(DirectoryInUseError):
            GridSearch(
                TinyMLP(),
                objective="val_accuracy",
                directory=tmp_path,
                project_name="busy",
                overwrite=True,
            )
    finally:
        holder.unlock()
    assert _snapshot(folder) == before  # data/*.npy, records and models as they were


@pytest.mark.slow
def test_saved_data_changed_after_the_search_is_refused(tmp_path):
    x, y = classification()
    folder = tmp_path / "run"
    _search(split_data(x, y), folder, max_trials=1, workers=1)
    saved = folder / "data" / "y_train.npy"
    labels = np.load(saved)
    np.save(saved, (labels + 1) % 3)
    with pytest.raises(ValueError, match=r"y_train.npy is changed since the search saved it"):
        _search(split_data(x, y), folder, max_trials=2, workers=1)
    records = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
    assert len(records) == 1  # nothing trained on it


def test_a_worker_refuses_data_that_does_not_match_the_fingerprint(tmp_path):
    from lib.tuning import _pool
    from lib.tuning._data import fingerprint
    from lib.tuning._settings import WorkerSetup

    arrays = {k: v for k, v in split_data(*classification()).items()}
    store = TrialStore(str(tmp_path))
    digest, folds = fingerprint(arrays, None)
    store.save_data(arrays, None, {"data": digest, "folds": folds})
    setup = WorkerSetup(
        hypermodel=b"",
        data_dir=store.data_dir,
        array_names=sorted(arrays),
        threads=1,
        pin_cores=False,
        fingerprint=(digest, folds),
    )
    loaded, _ = _pool._load_checked(setup)
    assert np.array_equal(loaded["y_train"], arrays["y_train"])
    np.save(tmp_path / "data" / "x_val.npy", arrays["x_val"] * 2)
    with pytest.raises(ValueError, match="changed since the search saved it"):
        _pool._load_checked(setup)


@pytest.mark.slow
def test_resume_refuses_a_different_model_with_the_same_space(tmp_path):
    x, y = classification()
    y = (y > 0).astype(int)
    _search(split_data(x, y), tmp_path, hypermodel=Outputs(2))
    with pytest.raises(ValueError, match=r"holds a different model \(differs in: \['model'\]\)"):
        _search(split_data(x, y), tmp_path, hypermodel=Outputs(3))


@pytest.mark.slow
def test_resume_refuses_another_onednn_setting(tmp_path, monkeypatch):
    x, y = classification()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    _search(split_data(x, y), tmp_path, max_trials=1)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    with pytest.raises(ValueError, match=r"differs in: \['onednn'\]"):
        _search(split_data(x, y), tmp_path, max_trials=2)


@pytest.mark.slow
def test_overwrite_deletes_only_what_the_search_wrote(tmp_path):
    x, y = classification()
    folder = tmp_path / "run"
    _search(split_data(x, y), folder, max_trials=1)
    (folder / "notes.txt").write_text("mine")
    (folder / ".trial-mine.keras").write_text("mine too")
    before = _snapshot(folder)
    with pytest.raises(ValueError, match=r"holds 2 file\(s\) this search did not write"):
        _search(split_data(x, y), folder, max_trials=1, overwrite=True)
    assert _snapshot(folder) == before
    (folder / "notes.txt").unlink()
    (folder / ".trial-mine.keras").unlink()
    frame = _search(split_data(x, y), folder, max_trials=2, overwrite=True)
    assert list(frame["trial"]) == [0, 1]  # started again


def _engine_files(folder) -> None:
    """What a finished search (process pool, then Ray) leaves in its directory."""
    for relative in (
        "search.json",
        "trials.jsonl",
        "best_model.keras",
        ".keep-threshold.json",
        "data/x_train.npy",
        "data/y_train.npy",
        "data/x_val.npy",
        "data/y_val.npy",
        "data/y_val.tmp-123.npy",
        "data/folds.npz",
        "data/w_train.npy",
        "models/trial-00000.keras",
        "ray/ray/experiment_state-1.json",
        "ray/ray/.validate_storage_marker",
        "ray/ray/_trainable_1/result.json",
    ):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("engine")
    # an array name save_data recorded beyond the tuners' four
    (folder / "data" / "fingerprint.json").write_text(
        json.dumps({"data": {"x_train": "a", "y_train": "b", "w_train": "c"}, "folds": None})
    )


@pytest.mark.parametrize(
    "mine",
    [
        "data/features.npy",
        "ray/notes.txt",
        "data/x_train.npy.bak",
        "ray/other_experiment/result.json",
        "models/notes.txt",
    ],
)
def test_overwrite_spares_the_users_files_under_data_and_ray(tmp_path, mine):
    folder = tmp_path / "run"
    _engine_files(folder)
    user = folder / mine
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("mine")
    before = _snapshot(folder)
    shown = "/".join(mine.split("/")[:2])  # a foreign folder is named, not its files
    refused = rf"holds 1 file\(s\) this search did not write \({shown}\); nothing was deleted"
    with pytest.raises(ValueError, match=refused):
        GridSearch(
            TinyMLP(),
            objective="val_accuracy",
            directory=tmp_path,
            project_name="run",
            overwrite=True,
        )
    after = _snapshot(folder)
    after.pop(".lock")  # the refusing tuner took the lock
    assert after == before and user.read_text() == "mine"  # nothing deleted
    user.unlink()
    if user.parent.name not in ("data", "ray", "models"):
        user.parent.rmdir()
    GridSearch(
        TinyMLP(), objective="val_accuracy", directory=tmp_path, project_name="run", overwrite=True
    )
    assert sorted(os.listdir(folder)) == [".lock"]  # the engine's own files, folders and all


def test_remove_own_files_deletes_only_the_engines_names(tmp_path):
    store = TrialStore(str(tmp_path))
    _engine_files(tmp_path)
    assert store.foreign_files() == []
    (tmp_path / "data" / "features.npy").write_text("mine")
    (tmp_path / "ray" / "notes.txt").write_text("mine")
    assert store.foreign_files() == ["data/features.npy", "ray/notes.txt"]
    with pytest.raises(ValueError, match=r"holds 2 file\(s\).*nothing was deleted"):
        store.remove_own_files()
    assert (tmp_path / "data" / "x_train.npy").is_file()
    (tmp_path / "data" / "features.npy").unlink()
    (tmp_path / "ray" / "notes.txt").unlink()
    store.remove_own_files()
    assert os.listdir(tmp_path) == []
    store.remove_own_files()  # an empty or absent directory: nothing to do


@pytest.mark.slow
def test_a_line_that_is_not_a_trial_record_names_file_and_line(tmp_path):
    x, y = classification()
    _search(split_data(x, y), tmp_path, max_trials=2)
    path = tmp_path / "trials.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"note": "mine"}', lines[1]]) + "\n")
    with pytest.raises(ValueError, match=r"trials.jsonl, line 2 is not a trial record"):
        _search(split_data(x, y), tmp_path, max_trials=2)
    record = json.loads(lines[1])
    record["objective"] = 0.999
    path.write_text("\n".join([lines[0], json.dumps(record)]) + "\n")
    with pytest.raises(ValueError, match=r"line 2: trial 1's record does not match its checksum"):
        _search(split_data(x, y), tmp_path, max_trials=2)


@pytest.mark.slow
def test_a_finished_search_is_read_without_writing(tmp_path):
    x, y = classification()
    frame = _search(split_data(x, y), tmp_path / "done", max_trials=2)
    before = _snapshot(tmp_path / "done")
    stamps = {p: os.stat(tmp_path / "done" / p).st_mtime_ns for p in before}
    tuner = GridSearch(
        TinyMLP(), objective="val_accuracy", directory=tmp_path, project_name="done", workers=0
    )
    assert tuner.results["objective"].tolist() == frame["objective"].tolist()
    assert tuner.get_best_models(1)[0].count_params() > 0
    tuner.results_summary()
    assert _snapshot(tmp_path / "done") == before
    assert {p: os.stat(tmp_path / "done" / p).st_mtime_ns for p in before} == stamps


def test_the_private_keras_adapter_the_quiet_pipeline_wraps_still_exists():
    """quiet_input_pipeline wraps Keras' ArrayDataAdapter.get_tf_dataset (a private class):
    if a Keras release moves or renames it, this fails instead of the wrap going silent."""
    from keras.src.trainers.data_adapters import array_data_adapter

    adapter = array_data_adapter.ArrayDataAdapter
    assert callable(getattr(adapter, "get_tf_dataset", None))
    assert "x" in adapter.__init__.__code__.co_varnames
