"""Ray Tune through ``RayTuneSearch`` and ``lib/tuning/_ray.py``: the translation of a
KerasTuner space to a Ray one (``to_ray_space``), a random search over given configurations
that pins its trials to cores and resumes, the local Ray environment defaults
(``_local_ray_defaults``) and ``init_ray`` leaving the driver's priority alone. Every test
that starts Ray is skipped when Ray is not installed."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.tuning import RayTuneSearch  # noqa: E402
from tests.helpers import TinyMLP, classification  # noqa: E402


@pytest.mark.slow
def test_to_ray_space_translates_each_kind():
    pytest.importorskip("ray")
    from ray.tune.search.sample import Categorical, Float, Integer

    from lib.tuning._ray import to_ray_space

    hp = kt.HyperParameters()
    hp.Choice("units", [4, 8])
    hp.Int("layers", 1, 3)
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    hp.Float("dropout", 0.0, 0.4, step=0.1)
    hp.Boolean("norm")
    hp.Fixed("epochs", 3)
    space = to_ray_space(hp)
    assert isinstance(space["units"], Categorical) and space["units"].categories == [4, 8]
    assert isinstance(space["layers"], Integer)
    assert (space["layers"].lower, space["layers"].upper) == (1, 3)
    assert isinstance(space["lr"], Float) and space["lr"].lower == 1e-4
    assert space["dropout"].sampler.q == 0.1
    assert space["norm"].categories == [False, True]
    assert space["epochs"] == 3


@pytest.mark.slow
def test_ray_random_runs_given_configurations_and_resumes(tmp_path, monkeypatch, capfd, caplog):
    pytest.importorskip("ray")
    import ray

    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)
    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)

    x, y = classification()
    configs = [{"units": 4}, {"units": 8}]

    def run():
        tuner = RayTuneSearch(
            TinyMLP(),
            objective="val_accuracy",
            max_trials=2,
            seed=0,
            keep_models=0,
            searcher="random",
            searcher_options={"points_to_evaluate": configs},
            max_concurrent_trials=2,
            directory=str(tmp_path),
            project_name="ray",
            pin_cores=True,  # each trial process pins itself to a core of its own
        )
        return tuner.search(
            x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=1, batch_size=32, verbose=0
        )

    try:
        try:
            frame = run()
        except RuntimeError as error:  # only a local Ray that cannot start (loaded machine)
            if "Ray did not start" not in str(error):
                raise
            pytest.skip(str(error))
        assert sorted(frame["units"]) == [4, 8]
        assert sorted(frame["trial"]) == [0, 1]
        assert (frame["status"] == "COMPLETED").all()
        assert frame["val_accuracy"].between(0, 1).all()
        # trials.jsonl is the record: Tune's automatic per-trial loggers stay off, and the
        # switch is put back afterwards
        written = {p.name for p in (tmp_path / "ray").rglob("*")}
        assert "trials.jsonl" in written
        assert not [name for name in written if name.endswith(".keras")]  # keep_models=0
        assert not {"progress.csv", "result.json"} & written
        assert not any(name.startswith("events.out.tfevents") for name in written)
        assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ
        # verbose=0 is quiet: no experiment table, no warnings about the files not written
        # or about max_concurrent_trials (the random search's generator has its own limit)
        printed = "".join(capfd.readouterr())  # Ray's loggers write to the process' stderr
        printed += "".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
        for noise in ("Configuration for experiment", "Failed to fetch metrics", "max_concurrent"):
            assert noise not in printed
        assert "RAY_AIR_NEW_OUTPUT" not in os.environ
        again = run()  # resume: nothing left to run
        np.testing.assert_array_equal(again["seconds"], frame["seconds"])
    finally:
        ray.shutdown()


def test_local_ray_defaults_fill_unset_keys_and_restore(monkeypatch):
    from lib.tuning._ray import LOCAL_RAY_ENVIRONMENT, _local_ray_defaults

    for key in LOCAL_RAY_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RAY_worker_niceness", "5")  # the caller's choice wins
    with _local_ray_defaults(True):
        assert os.environ["RAY_worker_niceness"] == "5"
        assert os.environ["RAY_prestart_worker_first_driver"] == "0"
    assert os.environ["RAY_worker_niceness"] == "5"
    assert "RAY_prestart_worker_first_driver" not in os.environ
    with _local_ray_defaults(False):  # a cluster address: nothing changed
        assert "RAY_prestart_worker_first_driver" not in os.environ


@pytest.mark.slow
def test_init_ray_local_workers_keep_driver_priority():
    pytest.importorskip("ray")
    import ray

    from lib.tuning import init_ray
    from lib.tuning._ray import LOCAL_RAY_ENVIRONMENT

    if ray.is_initialized() or any(k in os.environ for k in LOCAL_RAY_ENVIRONMENT):
        pytest.skip("needs a fresh local Ray started by init_ray with the default environment")
    try:
        try:
            init_ray(attempts=2, num_cpus=1, include_dashboard=False, log_to_driver=False)
        except RuntimeError as error:  # only a local Ray that cannot start (loaded machine)
            pytest.skip(str(error))

        @ray.remote(num_cpus=1)
        def niceness() -> int:
            return os.nice(0)

        assert ray.get(niceness.remote(), timeout=120) == os.nice(0)  # Ray's default: +15
        assert not any(k in os.environ for k in LOCAL_RAY_ENVIRONMENT)  # put back
    finally:
        ray.shutdown()
