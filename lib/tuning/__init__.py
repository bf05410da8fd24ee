"""Hyperparameter search with KerasTuner's API and an engine for long searches behind it.

Write KerasTuner code; import the tuners from here::

    from lib.tuning import GridSearch, RandomSearch, BayesianOptimization, Hyperband

    tuner = RandomSearch(build, objective="val_accuracy", max_trials=20,
                         directory="runs", project_name="demo", workers=2)
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)
    tuner.results_summary()
    model = tuner.get_best_models(num_models=1)[0]
    frame = tuner.results  # one row per trial

What the engine adds (the options are keyword arguments of the tuners, see
:class:`lib.tuning.tuners.EngineTuner`): trials in recycled worker processes (flat memory over
hundreds of trials), resume from ``trials.jsonl`` after any interruption (construct the same
tuner on the same directory), objectives from :mod:`lib.evaluation` (macro F1, weighted F1,
per-class recall), k-fold objectives (``search(folds=...)``), the stacked executor for grids of
small dense networks, a progress bar, a directory lock and data fingerprints.
:class:`RayTuneSearch` runs the same search on Ray Tune; :func:`fit_final` retrains a
configuration with the trials' own fit path.

The public API is the names of ``__all__``; every module with a leading underscore is
internal. Inside, each module imports only modules of the levels below it:

1. ``_process`` (set-up of a trial process, pickling, the atomic model save), ``_data``
   (inputs, their checks, folds), ``spaces`` (a hypermodel's space, the model at a point,
   grid arithmetic), ``oracles`` (oracles kept by the trial store; a trial's end told to one);
2. ``_trial`` (the one fit path of a trial and of ``fit_final``), ``_settings`` (the typed
   settings: ``TrialSettings``, ``EngineOptions``, ``SearchPlan``, the workers' tasks, and
   ``Executor``, the protocol of the executors), ``_store`` (the search
   directory, ``trials.jsonl``, kept models, and ``finish_trial``, the one end of a trial for
   every executor), ``_progress``, ``stacked`` (the stacked executor);
3. ``_pool`` (worker processes or this one) and the executors: ``_loop`` (the oracle loop,
   ``PoolExecutor`` and ``StackedExecutor``), ``_ray`` (``RayExecutor``, Ray Tune);
4. ``tuners`` (the tuner classes); 5. this package.

Extension points:

* **A new tuner** is one class: a KerasTuner oracle of its own and a subclass of
  :class:`Tuner`, which runs it on the engine (workers, ``trials.jsonl``, resume); see
  ``tests/test_extension_points.py``. A tuner whose oracle should hand out points before the
  running trials finish subclasses :class:`~lib.tuning.tuners.EngineTuner` with an oracle of
  :mod:`lib.tuning.oracles`, as :class:`GridSearch` does.
* **A new hypermodel** is a ``keras_tuner.HyperModel`` (or a ``build(hp)`` function); the
  project's own register themselves in :mod:`lib.models` (see its docstring, with the hook
  that gives one a stacked form).
* **A new executor** (where and how trials run) subclasses
  :class:`lib.tuning._settings.Executor`: it declares what it can apply, refuses the rest in
  ``check`` and runs the trials in ``run``; a tuner's ``_make_executor`` returns it, as
  :class:`RayTuneSearch`'s returns its ``RayExecutor``. The tuner calls nothing else of it.
* **How a trial ends** (stored, told to the oracle, its model kept, counted) is
  :func:`lib.tuning._store.finish_trial`, for every executor.
"""

from __future__ import annotations

from lib.tuning._ray import init_ray  # imports Ray only when called
from lib.tuning._store import DirectoryInUseError
from lib.tuning._trial import fit_final
from lib.tuning.spaces import build_model, space_table
from lib.tuning.stacked import cross_validate
from lib.tuning.tuners import (
    BayesianOptimization,
    GridSearch,
    Hyperband,
    RandomSearch,
    RayTuneSearch,
    Tuner,
)

__all__ = [
    "GridSearch",
    "RandomSearch",
    "BayesianOptimization",
    "Hyperband",
    "RayTuneSearch",
    "Tuner",
    "fit_final",
    "build_model",
    "space_table",
    "cross_validate",
    "init_ray",
    "DirectoryInUseError",
]
