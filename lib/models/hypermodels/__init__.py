"""The studies' KerasTuner hypermodels, one module per study (see :mod:`lib.models`).

* :mod:`~lib.models.hypermodels.mhealth`: :class:`LSTMClassifierHyperModel` (study 1);
* :mod:`~lib.models.hypermodels.heartbeat`: :class:`CNN1DResNetGRUHyperModel`,
  :class:`CNN2DResNetHyperModel`, :class:`CNN1DResNetHyperModel` (study 2, random split);
* :mod:`~lib.models.hypermodels.beat_rr`: :class:`BeatRRHyperModel` and
  :func:`weighted_classes` (study 2, inter-patient);
* :mod:`~lib.models.hypermodels.household_power`: :class:`LSTMForecasterHyperModel` (study 3);
* :mod:`~lib.models.hypermodels.hand_poses`: :class:`FeatureSubsetMLPHyperModel` (study 4);
* :mod:`~lib.models.hypermodels.mice_sleep`: :class:`MLPHyperModel` (study 5);
* :mod:`~lib.models.hypermodels.tsc`: :class:`FCNHyperModel`, :class:`ResNetHyperModel`,
  :class:`InceptionTimeHyperModel` (time-series classification on any data; study 6).

Hypermodels with :meth:`~lib.models.hypermodels._base.AdaptsToData.adapt_to_data` take their
input shape and class count from the data a :mod:`lib.tuning` search receives, or refuse
declared values that disagree with it, before the first trial.
"""

from lib.models.hypermodels.beat_rr import BeatRRHyperModel, weighted_classes
from lib.models.hypermodels.hand_poses import SUBSET_SEPARATOR, FeatureSubsetMLPHyperModel
from lib.models.hypermodels.heartbeat import (
    CNN1DResNetGRUHyperModel,
    CNN1DResNetHyperModel,
    CNN2DResNetHyperModel,
)
from lib.models.hypermodels.household_power import LSTMForecasterHyperModel
from lib.models.hypermodels.mhealth import LSTMClassifierHyperModel
from lib.models.hypermodels.mice_sleep import MLPHyperModel
from lib.models.hypermodels.tsc import (
    FCNHyperModel,
    InceptionTimeHyperModel,
    ResNetHyperModel,
    TSCHyperModel,
)

__all__ = [
    "LSTMClassifierHyperModel",
    "LSTMForecasterHyperModel",
    "CNN1DResNetGRUHyperModel",
    "CNN1DResNetHyperModel",
    "CNN2DResNetHyperModel",
    "FeatureSubsetMLPHyperModel",
    "MLPHyperModel",
    "BeatRRHyperModel",
    "weighted_classes",
    "SUBSET_SEPARATOR",
    "TSCHyperModel",
    "FCNHyperModel",
    "ResNetHyperModel",
    "InceptionTimeHyperModel",
]
