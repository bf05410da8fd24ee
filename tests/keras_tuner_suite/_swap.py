"""KerasTuner's modules as its tuner tests import them, with the tuner classes swapped.

The files of this folder are KerasTuner's own tuner tests (keras-team/keras-tuner at commit
417e5b5, the engine keras-tuner 1.4.8 ships under ``keras_tuner/src/``). Each of their
``import keras_tuner...`` lines imports the same name from here instead; every attribute is
KerasTuner's, except ``GridSearch``, ``RandomSearch``, ``BayesianOptimization`` and
``Hyperband``, which are :mod:`lib.tuning`'s wherever a test reaches them
(``keras_tuner.RandomSearch``, ``keras_tuner.tuners.RandomSearch``,
``keras_tuner.tuners.randomsearch.RandomSearch``, ``gridsearch.GridSearch``, ...).

Setting an attribute (``keras_tuner.tuners.bayesian.scipy = None``) sets it on KerasTuner's
module, as in the original tests.

With ``KT_SUITE_ORIGINAL=1`` in the environment nothing is swapped: the same files then test
KerasTuner itself (the reference the swapped run is compared with).
"""

from __future__ import annotations

import os
import types

import keras_tuner as _keras_tuner
from keras_tuner.src import backend as _backend
from keras_tuner.src import distribute as _distribute
from keras_tuner.src import engine as _engine
from keras_tuner.src import tuners as _tuners
from keras_tuner.src import utils as _utils
from keras_tuner.src.distribute import oracle_client as _oracle_client  # noqa: F401
from keras_tuner.src.engine import base_tuner as _base_tuner  # noqa: F401
from keras_tuner.src.engine import hypermodel as _hypermodel  # noqa: F401
from keras_tuner.src.engine import hyperparameters as _hyperparameters  # noqa: F401
from keras_tuner.src.engine import trial as _trial  # noqa: F401
from keras_tuner.src.engine import tuner as _tuner  # noqa: F401
from keras_tuner.src.engine import tuner_utils as _tuner_utils  # noqa: F401
from keras_tuner.src.tuners import bayesian as _bayesian
from keras_tuner.src.tuners import gridsearch as _gridsearch
from keras_tuner.src.tuners import hyperband as _hyperband
from keras_tuner.src.tuners import randomsearch as _randomsearch

import lib.tuning  # noqa: F401  (before keras_tuner: TensorFlow loads quietly)

ORIGINAL = os.environ.get("KT_SUITE_ORIGINAL") == "1"

if ORIGINAL:
    SWAPPED: dict = {}
else:
    SWAPPED = {
        "GridSearch": lib.tuning.GridSearch,
        "RandomSearch": lib.tuning.RandomSearch,
        "BayesianOptimization": lib.tuning.BayesianOptimization,
        "Hyperband": lib.tuning.Hyperband,
    }


class _Swapped(types.ModuleType):
    """A view of a KerasTuner module: ``swapped`` names first, then the module's own."""

    def __init__(self, real: types.ModuleType, **swapped: object) -> None:
        super().__init__(real.__name__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_swapped", swapped)

    def __getattr__(self, name: str) -> object:
        swapped = object.__getattribute__(self, "_swapped")
        if name in swapped:
            return swapped[name]
        return getattr(object.__getattribute__(self, "_real"), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(object.__getattribute__(self, "_real"), name, value)


def _tuner_names(module: types.ModuleType) -> dict:
    return {name: cls for name, cls in SWAPPED.items() if hasattr(module, name)}


gridsearch = _Swapped(_gridsearch, **_tuner_names(_gridsearch))
randomsearch = _Swapped(_randomsearch, **_tuner_names(_randomsearch))
bayesian = _Swapped(_bayesian, **_tuner_names(_bayesian))
hyperband = _Swapped(_hyperband, **_tuner_names(_hyperband))
tuners = _Swapped(
    _tuners, gridsearch=gridsearch, randomsearch=randomsearch, bayesian=bayesian,
    hyperband=hyperband, **SWAPPED,
)
engine = _Swapped(_engine)
backend = _backend
errors = _keras_tuner.errors
oracle_client = _distribute.oracle_client
base_tuner = _engine.base_tuner
hypermodel = _engine.hypermodel
hyperparameters = _engine.hyperparameters
trial = _engine.trial
tuner = _engine.tuner
tuner_utils = _engine.tuner_utils
utils = _utils
keras = _backend.keras
config = _backend.config
keras_tuner = _Swapped(
    _keras_tuner, tuners=tuners, engine=engine, backend=backend, distribute=_distribute,
    utils=utils, **SWAPPED,
)

__all__ = [
    "backend", "base_tuner", "bayesian", "config", "engine", "errors", "gridsearch",
    "hyperband", "hypermodel", "hyperparameters", "keras", "keras_tuner", "oracle_client",
    "randomsearch", "trial", "tuner", "tuner_utils", "tuners", "utils",
]
