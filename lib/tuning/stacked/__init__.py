"""The stacked executor: many small dense configurations trained as one Keras model.

A study that searches small MLPs spends almost all of a trial on overhead (building,
compiling, the fit loop) rather than arithmetic. This executor holds K configurations in one
:class:`StackedMLP` whose weights carry a leading model axis (kernels ``(K, in, out)``
applied with ``einsum``), feeds every model the same mini-batches, sums the per-model losses
(the parameters are disjoint, so each model gets exactly its own gradient) and updates each
model with its own optimizer (:class:`PerModelOptimizer`: Keras' SGD-momentum or Adam
formulas, per-model hyperparameters in tensors). Each model keeps its own validation
history, best epoch, best weights and early stopping.

A hypermodel takes part by declaring a stacked form, ``stacked_form(values)`` (see
:func:`form_of`); :func:`run_stacked` is the entry point the tuners call.
"""

from lib.tuning.stacked._check import max_weight_difference
from lib.tuning.stacked._crossval import cross_validate
from lib.tuning.stacked._engine import StackedTrainer, model_bytes, plan_stacks, run_stacked
from lib.tuning.stacked._form import StackedForm, check_stackable, form_of
from lib.tuning.stacked._metrics import confusion_matrices, confusion_metrics

_NETWORK = ("PerModelOptimizer", "StackedDense", "StackedMLP")


def __getattr__(name: str):
    """The Keras classes, imported on first use (importing this package loads no TensorFlow)."""
    if name in _NETWORK:
        from lib.tuning.stacked import _network

        return getattr(_network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "run_stacked",
    "cross_validate",
    "plan_stacks",
    "model_bytes",
    "StackedForm",
    "form_of",
    "check_stackable",
    "StackedMLP",
    "StackedDense",
    "PerModelOptimizer",
    "StackedTrainer",
    "confusion_matrices",
    "confusion_metrics",
    "max_weight_difference",
]
