"""KerasTuner's "Handling failed trials in KerasTuner" guide, tuner code, run on lib.tuning.

Source: keras-team/keras-io, guides/keras_tuner/failed_trials.py (Apache License 2.0,
Copyright the keras-io authors; https://github.com/keras-team/keras-io).

This file follows the guide's three sections, re-written for this test (not a verbatim
copy). What differs from the guide:
- the tuner class comes from ``lib.tuning`` (``keras_tuner.GridSearch`` ->
  ``lib.tuning.GridSearch``); ``keras_tuner.errors`` stays; ``keras`` 3, ``keras.Input``
  instead of ``input_shape=``;
- epochs=10 -> 2 (the guide's random data, 100 rows, is kept); the one build function takes
  the error to raise as an argument (the guide repeats it three times), and appends every
  refused build to ``refused_builds.txt`` so the test can count the retries;
- each section reports what the guide shows as one ``GUIDE_RESULT`` json line.
Grid: units_1 in 10..40, units_2 in 10..30 (12 points); 5 of them exceed 1,200 parameters.
"""

from lib.tuning import GridSearch  # the only change a KerasTuner user makes  # noqa: I001  (lib before keras: TensorFlow loads quietly)

import functools
import json
import sys
import traceback

import keras
import keras_tuner
import numpy as np
from keras import layers


def build_model(hp, error=ValueError):
    units_1 = hp.Int("units_1", 10, 40, step=10)
    units_2 = hp.Int("units_2", 10, 30, step=10)
    model = keras.Sequential(
        [
            keras.Input((20,)),
            layers.Dense(units=units_1),
            layers.Dense(units=units_2),
            layers.Dense(units=1),
        ]
    )
    model.compile(loss="mse")
    n_params = model.count_params()
    if n_params > 1200:
        with open("refused_builds.txt", "a") as log:
            log.write(f"{error.__name__} {units_1} {units_2}\n")
        raise error(f"Model too large! It contains {n_params} params.")
    return model


def search(error):
    tuner = GridSearch(
        hypermodel=functools.partial(build_model, error=error),
        objective="val_loss",
        overwrite=True,
        max_retries_per_trial=3,
        max_consecutive_failed_trials=8,
    )
    tuner.search(
        x=np.random.rand(100, 20),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(100, 20), np.random.rand(100, 1)),
        epochs=2,
    )
    return tuner


def report(tuner):
    trials = list(tuner.oracle.trials.values())
    return {
        "trials": [
            [t.hyperparameters.get("units_1"), t.hyperparameters.get("units_2"), str(t.status)]
            for t in trials
        ],
        "best": sorted(tuner.get_best_hyperparameters()[0].values.items()),
    }


def refused(error_name):
    with open("refused_builds.txt") as log:
        return [line.split()[1:] for line in log if line.split()[0] == error_name]


def tolerate_failed_trials():
    tuner = search(ValueError)  # retried 3 times, then FAILED
    tuner.results_summary()
    return {**report(tuner), "refused": refused("ValueError")}


def mark_a_trial_as_failed():
    tuner = search(keras_tuner.errors.FailedTrialError)  # FAILED at once, no retry
    tuner.results_summary()
    return {**report(tuner), "refused": refused("FailedTrialError")}


def terminate_the_search():
    try:
        tuner = search(keras_tuner.errors.FatalError)
        return {"terminated": False, **report(tuner)}
    except keras_tuner.errors.FatalError as error:
        print("The search is terminated.")
        return {"terminated": True, "error": type(error).__name__, "refused": refused("FatalError")}


SECTIONS = [tolerate_failed_trials, mark_a_trial_as_failed, terminate_the_search]


def main(names):
    for section in SECTIONS:
        if names and section.__name__ not in names:
            continue
        try:
            result = {"ok": True, **section()}
        except Exception as error:  # reported; the other sections still run
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print("GUIDE_RESULT " + json.dumps({"section": section.__name__, **result}), flush=True)


if __name__ == "__main__":  # trials run in spawned worker processes
    main(sys.argv[1:])
