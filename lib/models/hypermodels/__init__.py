"""The studies' KerasTuner hypermodels, one module per study (see :mod:`lib.models`).

Each module's docstring names its study. Importing this package imports every module in it,
and each subclass of :class:`~lib.models.hypermodels._base.StudyHyperModel` they define
registers itself in :data:`HYPERMODELS` (``{class name: class}``, see
:class:`~lib.models.hypermodels._base.StudyHyperModel`); this package and :mod:`lib.models`
export every registered class under its name. A new hypermodel is a new module here (or a
class in an existing one): no list to edit.

Also exported: :class:`TSCHyperModel` (the base of the time-series classification
hypermodels, not registered), :func:`weighted_classes` (study 2, inter-patient) and
:data:`SUBSET_SEPARATOR` (study 4).

Hypermodels with :meth:`~lib.models.hypermodels._base.AdaptsToData.adapt_to_data` take their
input shape and class count from the data a :mod:`lib.tuning` search receives, or refuse
declared values that disagree with it, before the first trial.
"""

import importlib
import pkgutil

from lib.models.hypermodels._base import HYPERMODELS
from lib.models.hypermodels.beat_rr import weighted_classes
from lib.models.hypermodels.hand_poses import SUBSET_SEPARATOR
from lib.models.hypermodels.tsc import TSCHyperModel

# Import every module of the package: defining a hypermodel class registers it.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

globals().update(HYPERMODELS)  # MLPHyperModel, FCNHyperModel, ...: one name per hypermodel

__all__ = [*HYPERMODELS, "HYPERMODELS", "TSCHyperModel", "weighted_classes", "SUBSET_SEPARATOR"]
