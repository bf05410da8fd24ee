"""Keras / KerasTuner toolkit for hyperparameter-tuning studies on sensor time series.

The flow, one module per step::

    datasets -> splits -> windows / padding -> resampling -> models -> tuning -> evaluation / plots

Importing ``lib`` imports TensorFlow with its start-up log lines filtered by
``TF_CPP_MIN_LOG_LEVEL`` (2, errors only, unless set; see :mod:`lib._quiet`), so notebooks and
trial workers do not repeat TensorFlow's start-up chatter. Set TensorFlow's other environment
variables (``TF_ENABLE_ONEDNN_OPTS``...) before importing ``lib``: TensorFlow reads them when it
loads.
"""

from __future__ import annotations

import os
import random

from lib._quiet import import_tensorflow
from lib.study import Study, study_setup

import_tensorflow()

__version__ = "0.1.0"

__all__ = ["set_seed", "quick_mode", "study_setup", "Study", "__version__"]


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seeds Python, NumPy and Keras (hence TensorFlow) from one integer.

    On CPU, with the same seed, package versions and thread counts, a training
    run gives the same weights. What is *not* bit-reproducible without
    ``deterministic=True``: reductions TensorFlow splits across threads (their
    float sums may change order), so metrics can differ in the last digits.
    ``deterministic=True`` calls ``tf.config.experimental.enable_op_determinism()``,
    which fixes that at some speed cost and cannot be undone in the process.

    Args:
        seed: the one seed.
        deterministic: also switch on TensorFlow's deterministic ops.
    """
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import numpy as np

    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def quick_mode(default: bool = False) -> bool:
    """True when the environment asks for the small, fast version of a study
    (``QUICK=1``, set by the test suite)."""
    value = os.environ.get("QUICK")
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
