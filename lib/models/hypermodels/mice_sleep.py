"""Study 5 (mice sleep stages): the MLP grid of the original study."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from lib.models._space import declare, possible_values
from lib.models.hypermodels._base import StudyHyperModel, stacked_form
from lib.models.networks.mlp import build_mlp


class MLPHyperModel(StudyHyperModel):
    """Mice sleep-stage MLP grid: 25 features -> 1 or 2 hidden layers -> 3-class softmax.

    Default space (the original grid, 1,008 combinations): ``second_layer``
    {False, True}; ``units_1`` and ``activation_1`` for the first layer,
    ``units_2`` and ``activation_2`` only when ``second_layer`` (conditional
    scope), from ``units`` {2, 4, 8} and ``activation`` {sigmoid, relu};
    ``optimizer`` {adam, sgd}; ``learning_rate`` {0.01, 0.001, 0.0001};
    ``momentum`` {0, 0.8, 0.99} only when ``optimizer`` is sgd (conditional
    scope); ``loss`` {kl_divergence, categorical_crossentropy}; ``batch_size``
    fixed 32; ``resampling`` not declared (the original grid did not resample;
    ``resampling="smote"`` declares it, and the tuning engine then oversamples
    each training fold, never a validation fold). ``units_2`` and
    ``activation_2`` take the first layer's values unless given their own
    (e.g. one value each, to fix a single configuration: a space of one point).
    Both losses take integer labels (:class:`OneHotLoss`). The study's
    objective is the validation weighted F1 (``objective``).

    Args:
        input_dim: number of input features (25).
        num_classes: number of sleep stages (3).
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "second_layer": (False, True),
        "units": (2, 4, 8),
        "activation": ("sigmoid", "relu"),
        "optimizer": ("adam", "sgd"),
        "learning_rate": (0.01, 0.001, 0.0001),
        "momentum": (0.0, 0.8, 0.99),
        "loss": ("kl_divergence", "categorical_crossentropy"),
        "batch_size": 32,
        "resampling": None,
        "units_2": None,
        "activation_2": None,
    }
    objective = "val_weighted_f1"
    data_hyperparameters = ("resampling",)

    def __init__(self, input_dim: int = 25, num_classes: int = 3, **kwargs: Any):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.num_classes = num_classes

    def stacked_form(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration as the stacked executor trains it (``lib.tuning.stacked``).

        One- and two-layer models share a stack (a one-layer model passes the second layer
        by); the optimizer (Adam or SGD with its momentum), learning rate and loss are per
        model. On one-hot targets, KL divergence and cross-entropy differ only through Keras'
        clipping to ``[1e-7, 1]``: the clipped zeros of the target add terms of order 1e-7,
        and under KL a probability below 1e-7 gets no gradient; otherwise their gradients
        agree, so the two halves of the original grid (``loss``) are nearly duplicates.

        Args:
            values: one configuration's hyperparameter values.

        Returns:
            :func:`build_mlp` keyword arguments (``input_dim``, ``num_classes``, ``units``,
            ``activations``, ``optimizer``, ``learning_rate``, ``momentum``, ``loss``) plus
            ``batch_size``.
        """
        return stacked_form(self, values)

    def _build_model(self, hp):
        return build_mlp(**self._mlp_arguments(hp))

    def _second(self, name: str) -> Any:
        """The second layer's values of ``name`` (``units`` / ``activation``): its own
        ``<name>_2`` entry when given, else the first layer's."""
        own = self.space.get(f"{name}_2")
        return self.space[name] if own is None else own

    def _mlp_arguments(self, hp) -> dict[str, Any]:
        """Declares the model's hyperparameters on ``hp``; returns :func:`build_mlp`'s keywords."""
        second = self._hp(hp, "second_layer")
        units = [declare(hp, "units_1", self.space["units"])]
        activations = [declare(hp, "activation_1", self.space["activation"])]
        second_values = [v for v in possible_values(self.space["second_layer"]) if v]
        if second_values:
            with hp.conditional_scope("second_layer", second_values):
                units_2 = declare(hp, "units_2", self._second("units"))
                activation_2 = declare(hp, "activation_2", self._second("activation"))
            if second:
                units.append(units_2)
                activations.append(activation_2)
        optimizer = self._hp(hp, "optimizer")
        momentum = 0.0
        if "sgd" in possible_values(self.space["optimizer"]):
            with hp.conditional_scope("optimizer", ["sgd"]):
                value = self._hp(hp, "momentum")
            if optimizer == "sgd":
                momentum = value
        return dict(
            input_dim=self.input_dim,
            num_classes=self.num_classes,
            units=units,
            activations=activations,
            optimizer=optimizer,
            momentum=momentum,
            **self._declare_all(hp, ("learning_rate", "loss")),
            seed=self.seed,
        )
