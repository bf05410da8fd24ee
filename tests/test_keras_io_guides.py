"""The tuner code of keras-io's KerasTuner guides runs on lib.tuning as on KerasTuner.

``tests/keras_io_guides/<guide>.py`` follows each guide of keras-team/keras-io's
``guides/keras_tuner/`` with only the tuner import changed, small generated data and small
budgets (each file's header says what differs). Each runs once as a script in a subprocess
(trials run in spawned workers, which re-import it), in a temporary folder; its sections
print ``GUIDE_RESULT`` json lines, and the tests below check what the guide shows. What
keras_tuner 1.4.8's own tuners give on the same scripts is the reference for the expected
values (the differences found are the strict xfails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = Path(__file__).resolve().parent / "keras_io_guides"
TAG = "GUIDE_RESULT "

pytestmark = pytest.mark.slow


def run_guide(name: str, cwd: Path, timeout: float = 400) -> dict:
    """Runs ``keras_io_guides/<name>.py`` in ``cwd``; its results by section ("" when the
    guide has no sections)."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    process = subprocess.run(
        [sys.executable, str(GUIDES / f"{name}.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
    assert process.returncode == 0, (
        f"{name}.py failed (exit {process.returncode}):\n{process.stdout[-3000:]}\n"
        f"{process.stderr[-6000:]}"
    )
    results = {}
    for line in process.stdout.splitlines():
        if line.startswith(TAG):
            result = json.loads(line[len(TAG) :])
            results[result.pop("section", "")] = result
    assert results, f"{name}.py printed no result:\n{process.stdout[-3000:]}"
    results["_stdout"] = process.stdout
    results["_stderr"] = process.stderr
    return results


def section(results: dict, name: str) -> dict:
    result = results[name]
    assert result.get("ok", True), (
        f"section {name} failed: {result.get('error')}\n" + (results["_stderr"][-4000:])
    )
    return result


@pytest.fixture(scope="module")
def getting_started(tmp_path_factory):
    return run_guide("getting_started", tmp_path_factory.mktemp("getting_started"))


@pytest.fixture(scope="module")
def tailor(tmp_path_factory):
    return run_guide("tailor_the_search_space", tmp_path_factory.mktemp("tailor"))


@pytest.fixture(scope="module")
def failed_trials(tmp_path_factory):
    return run_guide("failed_trials", tmp_path_factory.mktemp("failed_trials"))


# -- getting_started.py ----------------------------------------------------------------------


def test_getting_started_tunes_the_architecture_and_returns_the_best_models(getting_started):
    result = section(getting_started, "tune_architecture")
    assert result["trials"] == 3
    assert result["models"] == 2  # get_best_models(num_models=2)
    assert result["best_hps"] == 3  # get_best_hyperparameters(5) of 3 trials
    assert {"num_layers", "units_0", "activation", "dropout", "lr"} <= set(result["keys"])
    assert result["predict_shape"] == [2, 10]
    assert "Search space summary" in getting_started["_stdout"]
    assert "Results summary" in getting_started["_stdout"]


def test_getting_started_hypermodel_fit_tunes_shuffle_and_preprocessing(getting_started):
    result = section(getting_started, "tune_hypermodel")
    assert result["trials"] == 3
    assert result["keys"] == ["image_size", "normalize", "shuffle", "units"]
    assert result["retrained_epochs"] == 1  # HyperModel.fit(best_hp, model, ..., epochs=1)


@pytest.mark.parametrize(
    "name, objective",
    [("built_in_metric", "val_mean_absolute_error"), ("custom_metric", "val_custom_metric")],
)
def test_getting_started_metric_objectives(getting_started, name, objective):
    result = section(getting_started, name)
    assert (result["trials"], result["objective"], result["direction"]) == (3, objective, "min")
    assert result["statuses"] == ["COMPLETED"] and result["scores_finite"]


@pytest.mark.parametrize(
    "name, objective, direction",
    [
        pytest.param(
            "returned_float",
            "default_objective",
            "min",
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=(
                    "objective left unspecified: keras_tuner names it 'default_objective' (the "
                    "float fit returns, minimised); with arrays lib.tuning's engine names its "
                    "default objective 'val_loss' and scores the returned float under that name"
                ),
            ),
        ),
        ("returned_dict", "metric_a", "max"),
    ],
)
def test_getting_started_hypermodel_fit_returning_the_objective(
    getting_started, name, objective, direction
):
    result = section(getting_started, name)
    assert (result["trials"], result["objective"], result["direction"]) == (3, objective, direction)
    assert result["statuses"] == ["COMPLETED"] and result["scores_finite"]


def test_getting_started_run_trial_overrides_tune_anything(getting_started):
    function = section(getting_started, "tune_any_function")
    assert function["trials"] == 20
    assert abs(function["best_x"]) < 0.5  # x*x + 1 minimised over [-1, 1]
    assert function["best_score"] == pytest.approx(function["best_x"] ** 2 + 1)
    separate = section(getting_started, "keep_code_separate")
    assert separate["trials"] == 3
    assert separate["keys"] == ["optimizer", "units"]
    assert len(separate["saved"]) == 4 and "best_model.keras" in separate["saved"]


# -- tailor_the_search_space.py --------------------------------------------------------------


def test_tailor_search_a_few_tunes_only_the_listed_hyperparameter(tailor):
    result = section(tailor, "search_a_few")
    assert result["trials"] == 3 and result["statuses"] == ["COMPLETED"]
    assert result["space"] == ["learning_rate"]  # search_space_summary shows one
    rates = [values["learning_rate"] for values in result["values"]]
    assert len(set(rates)) == 3 and all(1e-4 <= rate <= 1e-2 for rate in rates)


def test_tailor_search_a_few_trials_carry_the_unlisted_ones_at_their_defaults(tailor):
    result = section(tailor, "search_a_few")
    assert result["best_keys"] == ["dropout", "learning_rate", "units"]
    assert all(
        values.get("units") == 64 and values.get("dropout") is False for values in result["values"]
    )


def test_tailor_fix_a_few_and_tune_the_rest(tailor):
    result = section(tailor, "fix_a_few")
    assert result["trials"] == 3 and result["statuses"] == ["COMPLETED"]
    assert result["space"] == ["dropout", "learning_rate", "units"]
    assert all(values["learning_rate"] == 1e-4 for values in result["values"])


def test_tailor_compile_overrides_change_the_models(tailor):
    result = section(tailor, "override_compile")
    assert result["trials"] == 3 and result["statuses"] == ["COMPLETED"]
    assert result["loss"] == "mse"  # the guide shows the loss has changed to MSE
    assert result["optimizer"] == "Adam"
    assert result["learning_rate"] == pytest.approx(1e-3)


def test_tailor_metrics_override_is_recorded_in_the_trials(tailor):
    result = section(tailor, "override_compile")
    assert "val_sparse_categorical_crossentropy" in result["metrics"]


def test_tailor_a_fixed_hypermodel_with_its_loss_overridden(tailor):
    result = section(tailor, "override_loss_of_a_fixed_hypermodel")
    assert result["trials"] == 3 and result["statuses"] == ["COMPLETED"]
    assert result["space"] == ["learning_rate"]
    assert {values["learning_rate"] for values in result["values"]} <= {1e-2, 1e-3, 1e-4}


# -- custom_tuner.py ---------------------------------------------------------------------------


def test_custom_tuner_runs_its_own_training_loop(tmp_path):
    result = run_guide("custom_tuner", tmp_path)[""]
    assert result["trials"] == 2 and result["statuses"] == ["COMPLETED"]
    assert {
        "batch_size",
        "learning_rate",
        "conv_layers",
        "optimizer",
        "global_pooling",
        "filters_0",
        "kernel_size_0",
        "pooling0",
    } <= set(result["keys"])
    assert all(0 < loss < 10 for loss in result["losses"])
    assert result["predict_shape"] == [2, 10]  # get_best_models()[0]
    assert (tmp_path / "results" / "mnist_custom_training").is_dir()


def test_custom_tuner_guide_subclasses_the_tuner_base_class_with_an_oracle():
    import keras_tuner as kt

    from lib.tuning import Tuner

    assert issubclass(Tuner, kt.Tuner)  # the guide's `class MyTuner(kt.Tuner)`, import swapped


# -- failed_trials.py --------------------------------------------------------------------------

TOO_LARGE = [[30, 20], [30, 30], [40, 10], [40, 20], [40, 30]]  # over 1,200 parameters


@pytest.mark.parametrize("name", ["tolerate_failed_trials", "mark_a_trial_as_failed"])
def test_failed_trials_are_marked_failed_and_the_search_goes_on(failed_trials, name):
    result = section(failed_trials, name)
    assert len(result["trials"]) == 12  # the whole grid
    for units_1, units_2, status in result["trials"]:
        expected = "FAILED" if [units_1, units_2] in TOO_LARGE else "COMPLETED"
        assert status == expected, (units_1, units_2, status)
    assert [v for _, v in result["best"]] not in TOO_LARGE


def test_failed_trial_error_is_not_retried(failed_trials):
    result = section(failed_trials, "mark_a_trial_as_failed")
    assert sorted(map(lambda r: [int(v) for v in r], result["refused"])) == TOO_LARGE


def test_max_retries_per_trial_retries_a_failing_trial(failed_trials):
    result = section(failed_trials, "tolerate_failed_trials")
    refused = [[int(v) for v in row] for row in result["refused"]]
    assert sorted(refused) == sorted(TOO_LARGE * 4)


def test_fatal_error_terminates_the_search(failed_trials):
    result = section(failed_trials, "terminate_the_search")
    assert result["terminated"] and result["error"] == "FatalError"
    assert result["refused"] == [["30", "20"]]  # the first too-large point in grid order


# -- visualize_tuning.py ------------------------------------------------------------------------


def test_visualize_tuning_logs_each_trial_for_tensorboard(tmp_path):
    result = run_guide("visualize_tuning", tmp_path)[""]
    assert result["statuses"] == ["COMPLETED"] and len(result["trial_ids"]) == 3
    assert sorted(result["logs"]) == result["trial_ids"]  # tb_logs/<trial_id>/execution0
    assert all(folders == ["execution0"] for folders in result["logs"].values())
    for trial_id in result["trial_ids"]:
        assert any((tmp_path / "tb_logs" / trial_id / "execution0").rglob("events.out.*"))
