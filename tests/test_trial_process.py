"""The set-up of the processes trials run in, testing internals on purpose
(``lib/tuning/_process.py``, ``_pool.py``, ``_trial.py``): imports frozen out of the garbage
collector (``freeze_imports``), the quiet input pipeline of one-thread trials, a core of its own
per trial process (``claim_core``), the pool's recycled workers and its two workers kept busy,
workers kept between searches, workers forked from a forkserver, and the clear error of a
script with no ``__main__`` guard. Several run a fresh Python so the
once-per-process steps start from a clean slate."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.evaluation import classification_metrics  # noqa: E402
from lib.tuning import GridSearch, RandomSearch  # noqa: E402
from tests.helpers import TinyMLP, classification  # noqa: E402


@pytest.mark.slow
def test_worker_processes_are_recycled_and_match_in_process(tmp_path):
    x, y = classification()

    def run(project, **options):
        tuner = RandomSearch(
            TinyMLP(layers=True),
            objective="val_accuracy",
            max_trials=2,
            seed=5,
            threads=1,
            directory=tmp_path,
            project_name=project,
            **options,
        )
        return tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)

    spawned = run("w", workers=1, trials_per_worker=1)
    local = run("l", workers=0)
    assert (spawned["status"] == "COMPLETED").all()
    columns = ["units", "layers"]
    assert spawned[columns].to_dict("records") == local[columns].to_dict("records")
    np.testing.assert_allclose(spawned["objective"], local["objective"], atol=0.05)
    records = [json.loads(line) for line in (tmp_path / "w" / "trials.jsonl").open()]
    assert [r["trial"] for r in records] == [0, 1]


def _run_json_script(script: str) -> dict:
    """Runs ``script`` in a fresh Python (the repository importable) and parses its last line."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


_FREEZE = """
import gc, json
from lib.tuning import _trial
_trial.freeze_imports()
frozen = gc.get_freeze_count()
_trial.freeze_imports()  # once per process
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle made after the freeze
del a, b
collected = gc.collect()
again = gc.get_freeze_count()
from tests.helpers import TinyMLP, classification, split_data
arrays = split_data(*classification())
from lib.tuning._settings import TrialSettings
settings = TrialSettings(objective="val_accuracy", direction="max", task="classification",
                         epochs=1, batch_size=32)
record = _trial.run_trial(TinyMLP(), {"units": 4}, arrays, None, settings, seed=0)
print(json.dumps({"frozen": frozen, "again": again, "collected": collected,
                  "keras": "keras" in __import__("sys").modules,
                  "after_trial": gc.get_freeze_count(), "objective": record["objective"]}))
"""


@pytest.mark.slow
def test_freeze_imports_keeps_imported_objects_out_of_collections_but_collects_new_garbage():
    result = _run_json_script(_FREEZE)
    assert result["keras"]  # imported first, so Keras' and TensorFlow's objects are frozen
    assert result["frozen"] > 100_000
    assert result["again"] == result["frozen"]
    assert result["collected"] >= 2  # garbage made after the freeze is still collected
    # what TensorFlow and Keras keep from a trial is frozen after its last collection, so the
    # next trial's collections do not walk it again
    assert result["after_trial"] > result["again"]
    assert 0 <= result["objective"] <= 1


_QUIET = """
import json
import numpy as np
import keras
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from lib.tuning import _trial

x = np.arange(60, dtype="float32").reshape(30, 2)
y = np.arange(30) % 3

def batches():
    keras.utils.set_random_seed(0)
    dataset = ArrayDataAdapter(x, y, batch_size=4, shuffle=True).get_tf_dataset()
    return dataset, [b[1].numpy().tolist() for b in dataset]

plain, before = batches()
_trial.quiet_input_pipeline(2)  # only one-thread trials are changed
_, two = batches()
_trial.quiet_input_pipeline(1)
quiet, after = batches()
print(json.dumps({"before": before, "two": two, "after": after,
                  "autotune": [plain.options().autotune.enabled, quiet.options().autotune.enabled],
                  "pool": quiet.options().threading.private_threadpool_size}))
"""


@pytest.mark.slow
def test_quiet_input_pipeline_turns_off_autotuning_and_keeps_the_batches():
    result = _run_json_script(_QUIET)
    assert result["autotune"] == [None, False]  # Keras leaves it on (unset); the trial turns it off
    assert result["pool"] == 1
    # same seed, same shuffled batches: the change is in scheduling, not in the data
    assert result["after"] == result["before"] == result["two"]
    assert sorted(v for batch in result["after"] for v in batch) == sorted(
        (np.arange(30) % 3).tolist()
    )


@pytest.mark.slow
def test_grid_search_keeps_two_workers_busy_in_the_sequential_order(tmp_path, monkeypatch):
    from lib.tuning import _pool

    # unset (the default): no kept worker, so both are started here and closed at the end
    monkeypatch.delenv(_pool.IDLE_VARIABLE, raising=False)

    events, workers = [], []
    for name in ("__init__", "receive"):

        def wrapped(self, *args, _original=getattr(_pool.Worker, name), _name=name, **kw):  # noqa: B008
            events.append(_name)
            if _name == "__init__":
                workers.append(self)
            return _original(self, *args, **kw)

        monkeypatch.setattr(_pool.Worker, name, wrapped)
    x, y = classification()

    def run(project, workers):
        tuner = GridSearch(
            TinyMLP(layers=True),
            objective="val_accuracy",
            seed=2,
            threads=1,
            workers=workers,
            directory=tmp_path,
            project_name=project,
        )
        tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)
        return tuner

    parallel_tuner = run("p", workers=2)
    parallel = parallel_tuner.results
    # both workers start before the first one has discovered the space (they import
    # TensorFlow side by side, not one after the other)
    assert events[:3] == ["__init__", "__init__", "receive"]
    assert len(workers) == 2 and not set(workers) & set(_pool._PARKED)
    for worker in workers:  # the search closed them when it ended
        worker.process.join(timeout=10)
        assert not worker.process.is_alive()
    local = run("l", workers=0).results
    columns = ["units", "layers"]
    assert len(parallel) == 4 and (parallel["status"] == "COMPLETED").all()
    assert parallel[columns].to_dict("records") == local[columns].to_dict("records")
    records = sorted(
        (json.loads(line) for line in (tmp_path / "p" / "trials.jsonl").open()),
        key=lambda r: r["trial"],
    )
    finished = [r["finished_at"] for r in records]
    started = [r["finished_at"] - r["wall_seconds"] for r in records]
    # before the fix, trial k started only once trial k - 1 had finished
    assert any(started[k] < finished[k - 1] for k in range(2, len(records)))
    # concurrent trials: the saved model is the best trial's, whichever finished last
    saved = keras.saving.load_model(tmp_path / "p" / "best_model.keras")
    score = classification_metrics(y[80:], saved.predict(x[80:], verbose=0), labels=[0, 1, 2])
    assert score["accuracy"] == pytest.approx(parallel["objective"].max())
    assert parallel_tuner.oracle.get_best_trials(1)[0].score == parallel["objective"].max()
    assert not [p for p in os.listdir(tmp_path / "p") if p.startswith(".trial-")]


@pytest.mark.slow
def test_a_script_without_a_main_guard_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import numpy as np\n"
        "from tests.helpers import TinyMLP, classification\n"
        "from lib.tuning import GridSearch\n"
        "x, y = classification()\n"
        "tuner = GridSearch(TinyMLP(), objective='val_accuracy', max_trials=1, workers=1,\n"
        f"                   directory={str(tmp_path)!r}, project_name='run')\n"
        "tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr
    assert "workers=0" in done.stderr


_CLAIM = """
import json, os, sys
from lib.tuning import _trial
core = _trial.claim_core(sys.argv[1])
again = _trial.claim_core(sys.argv[1])
tasks = os.listdir("/proc/self/task")
print(json.dumps({"core": core, "again": again, "affinity": sorted(os.sched_getaffinity(0)),
                  "threads": [sorted(os.sched_getaffinity(int(t))) for t in tasks]}))
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least two cores",
)
@pytest.mark.slow
def test_claim_core_pins_a_process_to_a_core_no_other_trial_holds(tmp_path):
    import fcntl
    import subprocess
    import sys

    def claim():
        done = subprocess.run(
            [sys.executable, "-c", _CLAIM, str(tmp_path)],
            check=True,
            capture_output=True,
            text=True,
            cwd=os.getcwd(),
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    cores = sorted(os.sched_getaffinity(0))
    alone = claim()
    assert alone["core"] == cores[0] and alone["affinity"] == [cores[0]]
    assert all(mask == [cores[0]] for mask in alone["threads"])  # every thread moved
    assert alone["again"] is None  # one core per process
    # the lock dies with the process; while this test holds the first core, the next is taken
    held = [os.open(tmp_path / f"core{cores[0]}.lock", os.O_CREAT | os.O_RDWR)]
    fcntl.flock(held[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
    second = claim()
    assert second["core"] == cores[1] and second["affinity"] == [cores[1]]
    # every core held: the process stays unpinned rather than doubling up
    for core in cores[1:]:
        held.append(os.open(tmp_path / f"core{core}.lock", os.O_CREAT | os.O_RDWR))
        fcntl.flock(held[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
    full = claim()
    assert full["core"] is None and full["affinity"] == cores
    for fd in held:
        os.close(fd)
    assert claim()["core"] == cores[0]
    assert sorted(os.sched_getaffinity(0)) == cores  # the test process itself never pinned


_MODULE = """
import keras


def build(hp):
    model = keras.Sequential([
        keras.Input((25,)),
        keras.layers.Dense(hp.Choice("units", [4, 8, 16]), activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
"""


@pytest.mark.slow
def test_a_finished_searchs_workers_serve_the_next_one_unless_their_code_changed(
    tmp_path, monkeypatch
):
    from lib.tuning import _pool

    (tmp_path / "kept_worker_model.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import kept_worker_model

    monkeypatch.setenv(_pool.IDLE_VARIABLE, "30")
    started = []
    original = _pool.Worker.__init__

    def counting(self, *args, **kw):
        started.append(self)
        original(self, *args, **kw)

    monkeypatch.setattr(_pool.Worker, "__init__", counting)
    x, y = classification()

    def run(project):
        tuner = RandomSearch(
            kept_worker_model.build,
            objective="val_loss",
            max_trials=2,
            seed=3,
            threads=1,
            workers=1,
            directory=tmp_path,
            project_name=project,
        )
        frame = tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)
        return frame[["units", "objective"]].to_dict("records")

    first = run("a")
    assert len(started) == 1
    parked = _pool._PARKED[-1]
    assert parked.process.is_alive()
    second = run("b")  # the parked worker serves it: no new process, the same results
    assert len(started) == 1 and parked.process.is_alive() and parked in _pool._PARKED
    assert second == first
    # a module the worker imported changed on disk: it answers "stale" and exits
    later = os.stat(tmp_path / "kept_worker_model.py").st_mtime + 5
    os.utime(tmp_path / "kept_worker_model.py", (later, later))
    assert run("c") == first
    assert len(started) == 2
    parked.process.join(timeout=10)
    assert not parked.process.is_alive()
    # unset (the default), the workers are closed when the search ends: see
    # test_grid_search_keeps_two_workers_busy_in_the_sequential_order


def _empty_pool():
    """A pool of one worker slot that starts nothing (the variables are read when it is made)."""
    from lib.tuning import _pool

    return _pool.Pool(
        workers=1, trials_per_worker=None, max_worker_memory_mb=None, setup=None, in_process=None
    )


def test_the_idle_time_of_kept_workers_is_checked_before_any_worker_starts(monkeypatch):
    from lib.tuning import _pool

    monkeypatch.setenv(_pool.IDLE_VARIABLE, "soon")
    with pytest.raises(ValueError, match="LIB_WORKER_IDLE_SECONDS must be a number of seconds"):
        _empty_pool()
    monkeypatch.setenv(_pool.IDLE_VARIABLE, "-1")
    with pytest.raises(ValueError, match="got '-1'"):
        _pool.worker_idle_seconds()
    monkeypatch.setenv(_pool.IDLE_VARIABLE, " 2.5 ")
    assert _pool.worker_idle_seconds() == 2.5
    monkeypatch.delenv(_pool.IDLE_VARIABLE)
    assert _pool.worker_idle_seconds() == 0


def test_the_worker_start_method_is_checked_before_any_worker_starts(monkeypatch):
    from lib.tuning import _pool

    monkeypatch.setenv(_pool.START_VARIABLE, "fork")
    with pytest.raises(ValueError, match="LIB_WORKER_START_METHOD must be one of .* got 'fork'"):
        _empty_pool()
    monkeypatch.delenv(_pool.START_VARIABLE)
    assert _pool.worker_start_method() == "spawn"
    monkeypatch.setenv(_pool.START_VARIABLE, " forkserver ")
    assert _pool.worker_start_method() == "forkserver"


def test_the_forkserver_starts_workers_only_while_it_matches_this_process(monkeypatch):
    import time

    from lib.tuning import _pool

    def method():
        return _pool._start_context().get_start_method()

    monkeypatch.setenv(_pool.START_VARIABLE, "forkserver")
    # as if this process had started its server just now (this test starts no process)
    server = {"environment": _pool._environment(), "started": time.time() + 1}
    monkeypatch.setattr(_pool, "_SERVER", server)
    assert method() == "forkserver"
    monkeypatch.setenv(_pool.IDLE_VARIABLE, "7")  # read by this process only: still alike
    assert method() == "forkserver"
    monkeypatch.setenv("LIB_TEST_ANOTHER_VARIABLE", "1")  # a forked worker would not have it
    assert method() == "spawn"
    monkeypatch.delenv("LIB_TEST_ANOTHER_VARIABLE")
    assert method() == "forkserver"
    # a module the server imported changed on disk after it started: forks would run old code
    server["started"] = os.stat(_pool._trial.__file__).st_mtime - 1
    assert method() == "spawn"
    server["started"] = time.time() + 1
    monkeypatch.setenv(_pool.START_VARIABLE, "spawn")
    assert method() == "spawn"
    # a forkserver that other code of this process started is not set up for the workers
    from multiprocessing import forkserver

    monkeypatch.setenv(_pool.START_VARIABLE, "forkserver")
    monkeypatch.setattr(_pool, "_SERVER", {})
    monkeypatch.setattr(forkserver._forkserver, "_forkserver_pid", 12345)
    assert method() == "spawn" and not _pool._SERVER


_FORKSERVER = """
import json, os, psutil
from lib.tuning import RandomSearch, _pool
from tests.helpers import TinyMLP, classification
os.environ.pop(_pool.IDLE_VARIABLE, None)  # each search starts its own workers
started = []
original = _pool.Worker.__init__
def recording(self, *args, **kw):
    original(self, *args, **kw)
    started.append([self.start_method, psutil.Process(self.process.pid).ppid()])
_pool.Worker.__init__ = recording
x, y = classification()
def run(project, method, per_worker):
    os.environ[_pool.START_VARIABLE] = method
    tuner = RandomSearch(TinyMLP(layers=True), objective="val_accuracy", max_trials=2, seed=5,
                         threads=1, workers=1, trials_per_worker=per_worker,
                         directory=DIRECTORY, project_name=project)
    frame = tuner.search(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, verbose=0)
    return frame[["units", "layers", "objective", "status"]].to_dict("records")
forked = run("f", "forkserver", 1)  # a new worker for each task
forked_workers = list(started)
started.clear()
spawned = run("s", "spawn", None)
print(json.dumps({"pid": os.getpid(), "forked": forked, "spawned": spawned,
                  "forked_workers": forked_workers, "spawned_workers": started}))
"""


@pytest.mark.slow
def test_workers_forked_from_the_forkserver_train_as_spawned_ones(tmp_path):
    result = _run_json_script(_FORKSERVER.replace("DIRECTORY", repr(str(tmp_path))))
    forked, servers = result["forked_workers"], {ppid for _, ppid in result["forked_workers"]}
    assert len(forked) >= 2 and {m for m, _ in forked} == {"forkserver"}
    assert len(servers) == 1 and result["pid"] not in servers  # forks of one server process
    assert result["spawned_workers"] == [["spawn", result["pid"]]]
    assert result["forked"] == result["spawned"]  # the same trials, bit for bit
    assert [r["status"] for r in result["forked"]] == ["COMPLETED"] * 2


def test_workers_pinned_to_a_core_are_never_kept():
    from lib.tuning import _pool
    from lib.tuning._settings import WorkerSetup

    def pool(pin_cores):
        setup = WorkerSetup(b"", "/nowhere", [], 1, pin_cores, ())
        return _pool.Pool(
            workers=1,
            trials_per_worker=None,
            max_worker_memory_mb=None,
            setup=setup,
            in_process=None,
        )

    assert pool(True).key is None
    assert pool(False).key is not None


def test_a_module_changed_on_disk_after_a_time_is_noticed(tmp_path, monkeypatch):
    import time

    from lib.tuning import _pool

    (tmp_path / "changed_module_probe.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import changed_module_probe  # noqa: F401

    now = time.time() + 1
    assert not _pool._modules_changed_since(now)
    os.utime(tmp_path / "changed_module_probe.py", (now + 5, now + 5))
    assert _pool._modules_changed_since(now)
    monkeypatch.delitem(sys.modules, "changed_module_probe")
    assert not _pool._modules_changed_since(now)
