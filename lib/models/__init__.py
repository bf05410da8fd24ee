"""Keras model builders and the KerasTuner hypermodels of the five studies.

The package keeps the network builders (:mod:`lib.models.networks`, one module per family)
apart from the studies' hypermodels (:mod:`lib.models.hypermodels`, one module per study);
every public name is importable from ``lib.models``. Two layers of API:

* **Builders** (``build_lstm``, ``build_lstm_forecaster``, ``build_cnn1d_resnet_gru``,
  ``build_cnn1d_resnet``, ``build_cnn2d_resnet``, ``build_mlp``,
  ``build_beat_rr_classifier``, ``build_fcn``, ``build_resnet``,
  ``build_inception_time``) take keyword
  arguments and return a *compiled* ``keras.Model``. A classifier (``num_classes``
  given) ends in a softmax and is compiled with a sparse loss (integer class ids)
  and the ``"accuracy"`` metric; a regressor (``num_classes=None``) ends in a
  linear layer and is compiled with MSE and MAE.
* **Hypermodels** (``MLPHyperModel``, ``FCNHyperModel`` ...: every class registered in
  ``lib.models.hypermodels.HYPERMODELS``, exported here under its name) subclass
  ``keras_tuner.HyperModel``. Their ``DEFAULT_SPACE`` is the original study's search
  space (for the three time-series classification ones, the published network); every
  entry can be overridden with a constructor keyword.
* **Adapting to the data**: hypermodels with ``adapt_to_data(x, y)`` (the time-series
  classification ones and the 1-D heartbeat networks) are called by the :mod:`lib.tuning`
  tuners before the first trial: an ``input_shape`` or ``num_classes`` left out is taken
  from the training data, a declared one that disagrees with it is refused with both
  values.

Search-space entries (``DEFAULT_SPACE`` values and constructor overrides) are:

* a tuple or list of values -> ``hp.Choice`` (one value -> ``hp.Fixed``);
* a :class:`Range` -> ``hp.Int`` (integer bounds and step) or ``hp.Float``;
* a scalar -> ``hp.Fixed``;
* ``None`` (only where documented) -> the hyperparameter is not declared.

Conventions the tuning engine relies on (all hypermodels):

* ``build(hp)`` declares *every* hyperparameter of the space, including the
  training-side ones (``batch_size``, ``reduce_lr_factor``, ``resampling``), so
  the whole space is known after one build.
* ``fit(hp, model, *args, **kwargs)`` calls ``model.fit(*args,
  batch_size=hp["batch_size"], **kwargs)``; other keyword arguments (epochs,
  callbacks, class_weight, validation data) pass through. It also adds the
  hypermodel's :meth:`callbacks` unless a callback of the same type is already
  in ``callbacks``.
* ``callbacks(hp)`` returns the callbacks that are hyperparameters (a
  ``ReduceLROnPlateau`` whose ``factor`` is tuned); the engine appends them to
  its own.
* ``objective`` (class attribute) names the study's objective, in the metric
  names of :mod:`lib.evaluation` with a ``val_`` prefix.
* ``data_hyperparameters`` (class attribute) lists hyperparameters the model
  does not use itself and the engine applies to the data (``"resampling"``:
  ``"smote"`` or ``"random_over"`` on the training fold).

Adding a hypermodel:

1. Write ``class FooHyperModel(StudyHyperModel)`` in a module of ``lib/models/hypermodels/``
   (an existing study's, or a new ``foo.py``): defining it registers and exports it (see
   :class:`~lib.models.hypermodels._base.StudyHyperModel`, which also documents the optional
   ``stacked_form`` hook of the stacked executor).
2. Give it a golden reference: add a ``("FooHyperModel", lambda: ...)`` line to
   ``_hypermodels`` in ``tests/fixtures/models_reference.py`` and run
   ``python tests/fixtures/models_reference.py --add`` (writes the missing entries only).
3. Run ``pytest tests/test_models_reference.py tests/test_models.py``.

Randomness: every builder and hypermodel takes ``seed``. With ``seed=None``
weights and dropout draw from Keras' global generator (seed it with
:func:`lib.set_seed`); with an integer they are seeded layer by layer, without
touching global state.
"""

from lib.models._space import Range
from lib.models.hypermodels import HYPERMODELS, SUBSET_SEPARATOR, weighted_classes
from lib.models.networks import (
    OneHotLoss,
    ReadingMask,
    SelectFeatures,
    ZeroPadded,
    build_beat_rr_classifier,
    build_cnn1d_resnet,
    build_cnn1d_resnet_gru,
    build_cnn2d_resnet,
    build_fcn,
    build_inception_time,
    build_lstm,
    build_lstm_forecaster,
    build_mlp,
    build_resnet,
    make_optimizer,
)

globals().update(HYPERMODELS)  # MLPHyperModel, FCNHyperModel, ...: one name per hypermodel

__all__ = [
    "Range",
    "make_optimizer",
    "OneHotLoss",
    "SelectFeatures",
    "build_lstm",
    "build_lstm_forecaster",
    "build_cnn1d_resnet_gru",
    "build_cnn1d_resnet",
    "build_cnn2d_resnet",
    "build_mlp",
    "build_beat_rr_classifier",
    "weighted_classes",
    "SUBSET_SEPARATOR",
    "ReadingMask",
    "ZeroPadded",
    "build_fcn",
    "build_resnet",
    "build_inception_time",
    *HYPERMODELS,
]
