"""Study 4 (hand poses): the MLP whose input-feature subset is a hyperparameter."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras_tuner

from lib.models._space import Range
from lib.models.hypermodels._base import StudyHyperModel, stacked_form
from lib.models.networks.mlp import build_mlp

# Separates the feature names in a FeatureSubsetMLPHyperModel "features" value.
SUBSET_SEPARATOR = "+"


class FeatureSubsetMLPHyperModel(StudyHyperModel):
    """Hand-pose MLP whose input-feature subset is a hyperparameter.

    One ``hp.Boolean("use_<name>")`` per feature (all ``True`` by default
    values) decides which columns the model sees. The model always takes *all*
    features and gathers the chosen columns inside the network with a
    weight-free :class:`SelectFeatures` layer (``keras.ops.take``), so every
    tuner (KerasTuner or Ray Tune) can pass the full ``X``.

    Why independent booleans: each feature is its own binary dimension, so a
    TPE or Bayesian oracle can learn per feature whether using it helps (a
    single categorical over all 2^9 subsets would share no information between
    neighbouring subsets).

    Repair: when fewer than ``min_features`` booleans are on, the first
    features in ``feature_names`` order that are off are switched on until
    ``min_features`` are used (none on -> the first two; only ``ang`` on ->
    the first feature and ``ang``). The repaired set is what
    :meth:`selected_features` returns and what the model uses; the trial's
    booleans are left as sampled, so the oracle sees its own draws.

    Rest of the default space: ``layers`` {1, 2, 3}, ``units`` {16, 32, 64,
    128} (one width for all layers), ``activation`` {relu, tanh, sigmoid},
    ``dropout`` 0.0-0.5 (step 0.1), ``learning_rate`` {0.01, 0.001, 0.0001},
    ``batch_size`` {16, 32, 64, 128}; Adam.

    Subset as one choice (``subset_choice=True``): instead of the booleans, one
    ``hp.Choice("features")`` whose values are every subset of at least
    ``min_features`` features (:meth:`feature_subsets`, written as names joined by
    ``"+"``, smallest subsets first). A grid search then walks each distinct subset
    exactly once (the booleans give ``2**n`` patterns, some of which the repair maps
    onto the same subset).

    Args:
        feature_names: the input columns, in the order of ``X``'s columns.
        num_classes: number of poses (3 in the hand-poses data).
        min_features: the fewest features a model may use.
        search_features: False declares no ``use_<name>`` booleans and uses every
            feature (e.g. a coarse grid over the other hyperparameters only).
        subset_choice: True declares the subset as one ``"features"`` choice (above)
            instead of one boolean per feature.
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries.

    Raises:
        ValueError: duplicate feature names, ``min_features`` outside 1..n, a feature
            name holding ``"+"`` with ``subset_choice``, or ``subset_choice`` together
            with ``search_features=False``.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "layers": (1, 2, 3),
        "units": (16, 32, 64, 128),
        "activation": ("relu", "tanh", "sigmoid"),
        "dropout": Range(0.0, 0.5, step=0.1),
        "learning_rate": (0.01, 0.001, 0.0001),
        "batch_size": (16, 32, 64, 128),
    }
    objective = "val_accuracy"

    def __init__(
        self,
        feature_names: Sequence[str],
        num_classes: int = 3,
        *,
        min_features: int = 2,
        search_features: bool = True,
        subset_choice: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.search_features = search_features
        self.subset_choice = bool(subset_choice)
        self.feature_names = [str(name) for name in feature_names]
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"feature_names has duplicates: {self.feature_names}")
        if not 1 <= min_features <= len(self.feature_names):
            raise ValueError(
                f"min_features must be in 1..{len(self.feature_names)} (the number of "
                f"features), got {min_features}"
            )
        self.num_classes = num_classes
        self.min_features = min_features
        if self.subset_choice:
            if not search_features:
                raise ValueError(
                    "subset_choice=True tunes the feature subset but search_features=False "
                    "fixes it to all features; pass one of them"
                )
            joined = [name for name in self.feature_names if SUBSET_SEPARATOR in name]
            if joined:
                raise ValueError(
                    f"feature names {joined} contain {SUBSET_SEPARATOR!r}, which separates the "
                    "names in a subset value; rename those columns to use subset_choice=True"
                )

    def feature_subsets(self) -> list[str]:
        """Every subset of at least ``min_features`` features, as ``"+"``-joined names.

        Returns:
            The values of the ``"features"`` choice: smaller subsets first, each subset
            and the subsets of one size in ``feature_names`` order
            (``itertools.combinations``); ``2**n`` minus the subsets below
            ``min_features`` in all.
        """
        return [
            SUBSET_SEPARATOR.join(combination)
            for size in range(self.min_features, len(self.feature_names) + 1)
            for combination in itertools.combinations(self.feature_names, size)
        ]

    def selected_features(
        self, hp_values: Mapping[str, Any] | keras_tuner.HyperParameters
    ) -> list[str]:
        """The features a trial's model uses, after the repair.

        Args:
            hp_values: a trial's hyperparameter values (a dict such as
                ``trial.hyperparameters.values`` or a Ray config) or a
                ``HyperParameters`` object. Missing ``use_<name>`` count as on; a
                ``"features"`` value (``subset_choice``) names the subset itself.

        Returns:
            The used feature names, in ``feature_names`` order.

        Raises:
            ValueError: a ``"features"`` value naming an unknown feature.
        """
        values = (
            hp_values.values
            if hasattr(hp_values, "values") and not isinstance(hp_values, Mapping)
            else hp_values
        )
        subset = values.get("features")
        if isinstance(subset, str):
            chosen = set(subset.split(SUBSET_SEPARATOR))
            unknown = sorted(chosen - set(self.feature_names))
            if unknown:
                raise ValueError(
                    f"features={subset!r} names {unknown}, not among the feature names "
                    f"{self.feature_names}; pass one of feature_subsets()"
                )
            return [name for name in self.feature_names if name in chosen]
        used = [bool(values.get(f"use_{name}", True)) for name in self.feature_names]
        for index in range(len(used)):
            if sum(used) >= self.min_features:
                break
            used[index] = True
        return [name for name, on in zip(self.feature_names, used, strict=True) if on]

    def stacked_form(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration as the stacked executor trains it (``lib.tuning.stacked``).

        The chosen features become a per-model input mask; every layer has the same width.

        Args:
            values: one configuration's hyperparameter values.

        Returns:
            :func:`build_mlp` keyword arguments (``input_dim``, ``num_classes``,
            ``feature_indices``, ``units``, ``activations``, ``dropout``, ``learning_rate``)
            plus ``batch_size``.
        """
        return stacked_form(self, values)

    def _build_model(self, hp):
        return build_mlp(**self._mlp_arguments(hp))

    def _mlp_arguments(self, hp) -> dict[str, Any]:
        """Declares the model's hyperparameters on ``hp``; returns :func:`build_mlp`'s keywords."""
        if self.search_features and self.subset_choice:
            subsets = self.feature_subsets()
            hp.Choice("features", subsets, default=subsets[-1])  # default: every feature
        elif self.search_features:
            for name in self.feature_names:
                hp.Boolean(f"use_{name}", default=True)
        chosen = set(self.selected_features(hp))
        indices = [i for i, name in enumerate(self.feature_names) if name in chosen]
        values = self._declare_all(
            hp, ("units", "layers", "activation", "dropout", "learning_rate")
        )
        return dict(
            input_dim=len(self.feature_names),
            num_classes=self.num_classes,
            feature_indices=indices,
            units=(values["units"],) * values["layers"],
            activations=values["activation"],
            dropout=values["dropout"],
            learning_rate=values["learning_rate"],
            seed=self.seed,
        )
