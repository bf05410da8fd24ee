"""Study 2, inter-patient scheme: the beat + RR-interval hypermodel and its class weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
import keras_tuner
import numpy as np

from lib.models.hypermodels._base import StudyHyperModel
from lib.models.networks.beat_rr import build_beat_rr_classifier


def weighted_classes(y: Any, num_classes: int, method: str) -> dict[int, float] | None:
    """Class weights for ``model.fit(class_weight=...)`` from the training labels.

    Args:
        y: training class ids (after any resampling).
        num_classes: number of classes; classes absent from ``y`` get weight 1.
        method: ``"none"`` (returns None), ``"balanced"`` (``n / (k * count)``, ``k`` the
            classes present) or ``"sqrt"`` (the square root of the balanced weight: rare
            classes count more, but less than in proportion).

    Returns:
        ``{class id: weight}`` for every class, or None for ``"none"``.

    Raises:
        ValueError: unknown ``method``, or ``y`` empty or holding ids outside
            ``[0, num_classes)``.
    """
    if method not in ("none", "balanced", "sqrt"):
        raise ValueError(f"class weighting must be 'none', 'balanced' or 'sqrt', got {method!r}")
    if method == "none":
        return None
    y = np.asarray(y).reshape(-1)
    if y.size == 0 or y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"expected a non-empty array of class ids in [0, {num_classes}), found "
            f"{y.size} labels" + (f" in {y.min()}..{y.max()}" if y.size else "")
        )
    counts = np.bincount(y.astype(np.int64), minlength=num_classes).astype(np.float64)
    present = counts > 0
    balanced = np.where(present, y.size / (present.sum() * np.maximum(counts, 1)), 1.0)
    weights = np.sqrt(balanced) if method == "sqrt" else balanced
    return {c: float(w) for c, w in enumerate(weights)}


class BeatRRHyperModel(StudyHyperModel):
    """MIT-BIH beat classifier on the beat and its RR intervals
    (:func:`build_beat_rr_classifier`), for the inter-patient scheme.

    Not one of the original study's models: a premature supraventricular beat looks like
    a normal beat and differs in timing, which a single beat cut at its R-peak does not
    show, so the RR features of :func:`lib.datasets.heartbeat.rr_features` join the beat.

    Default space: ``beat_samples`` {187, 94} (the whole beat, or its first 750 ms),
    ``rr_features`` {"relative", "all"} (see ``rr_subsets``), ``filters`` 32,
    ``residual_blocks`` 3, ``rr_units`` 16, ``dense_units`` 64, ``dropout`` 0.2,
    ``learning_rate`` 0.001, ``batch_size`` 64, ``reduce_lr_factor`` 0.4, the data-side
    ``resampling`` {"none", "random_over"} (applied by the tuning engine to the training
    fold) and ``class_weighting`` {"none", "sqrt", "balanced"}: :meth:`fit` weights the
    loss with :func:`weighted_classes` computed from the labels it is given (the training
    fold after resampling).

    Args:
        rr_names: names of the RR columns after the beat, in order.
        beat_length: samples per beat in the input row.
        num_classes: number of beat classes.
        rr_subsets: ``{choice: names}`` of the ``rr_features`` hyperparameter. Default:
            ``"all"`` the columns ``rr_names``, ``"relative"`` the dimensionless ones
            (names containing ``"_to_"``, the ratios of
            :data:`lib.datasets.heartbeat.RR_FEATURES`), which do not tell one patient's
            heart rate from another's.
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.

    Raises:
        ValueError: empty ``rr_names``, or an ``rr_subsets`` entry naming a column not
            in ``rr_names`` (or empty).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "beat_samples": (187, 94),
        "rr_features": ("relative", "all"),
        "filters": 32,
        "residual_blocks": 3,
        "rr_units": 16,
        "dense_units": 64,
        "dropout": 0.2,
        "learning_rate": 0.001,
        "batch_size": 64,
        "reduce_lr_factor": 0.4,
        "resampling": ("none", "random_over"),
        "class_weighting": ("none", "sqrt", "balanced"),
    }
    objective = "val_macro_f1"
    data_hyperparameters = ("resampling",)
    TRAINING_SPACE = (*StudyHyperModel.TRAINING_SPACE, "class_weighting")
    BUILDER_SPACE = (
        "filters",
        "residual_blocks",
        "rr_units",
        "dense_units",
        "dropout",
        "learning_rate",
    )

    def __init__(
        self,
        rr_names: Sequence[str],
        beat_length: int = 187,
        num_classes: int = 5,
        *,
        rr_subsets: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.rr_names = tuple(rr_names)
        if not self.rr_names:
            raise ValueError("rr_names is empty; name the RR columns that follow the beat")
        if rr_subsets is None:
            rr_subsets = {
                "all": self.rr_names,
                "relative": tuple(name for name in self.rr_names if "_to_" in name),
            }
        for choice, names in rr_subsets.items():
            unknown = [name for name in names if name not in self.rr_names]
            if unknown or not names:
                raise ValueError(
                    f"rr_subsets[{choice!r}] must name columns of rr_names {self.rr_names}; "
                    f"found {list(names)}"
                )
        self.rr_subsets = {choice: tuple(names) for choice, names in rr_subsets.items()}
        self.beat_length = beat_length
        self.num_classes = num_classes

    @staticmethod
    def pack(beats: Any, rr_features: Any) -> Any:
        """One input row per beat: the beat's samples, then its RR features.

        Args:
            beats: ``(n, beat_length)`` or ``(n, beat_length, 1)`` beats.
            rr_features: ``(n, k)`` RR features of the same beats.

        Returns:
            float32 array ``(n, beat_length + k)``.

        Raises:
            ValueError: different numbers of beats, or arrays of the wrong rank.
        """
        beats = np.asarray(beats, dtype=np.float32)
        rr_features = np.asarray(rr_features, dtype=np.float32)
        if beats.ndim == 3 and beats.shape[-1] == 1:
            beats = beats[..., 0]
        if beats.ndim != 2 or rr_features.ndim != 2:
            raise ValueError(
                f"expected beats (n, length) and rr_features (n, k), found shapes "
                f"{beats.shape} and {rr_features.shape}"
            )
        if beats.shape[0] != rr_features.shape[0]:
            raise ValueError(
                f"{beats.shape[0]} beats but {rr_features.shape[0]} rows of RR features; "
                "pass the features of exactly these beats"
            )
        return np.concatenate([beats, rr_features], axis=1)

    def _builder_arguments(self) -> dict[str, Any]:
        return dict(
            beat_length=self.beat_length,
            rr_features=len(self.rr_names),
            num_classes=self.num_classes,
        )

    def _build_model(self, hp):
        subset = self._hp(hp, "rr_features")
        if subset not in self.rr_subsets:
            raise ValueError(
                f"rr_features {subset!r} is not a key of rr_subsets {sorted(self.rr_subsets)}"
            )
        return build_beat_rr_classifier(
            **self._builder_arguments(),
            beat_samples=min(self._hp(hp, "beat_samples"), self.beat_length),
            rr_indices=[self.rr_names.index(name) for name in self.rr_subsets[subset]],
            **self._declare_all(hp, self.BUILDER_SPACE),
            seed=self.seed,
        )

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """Fits as :meth:`StudyHyperModel.fit`, with the trial's class weighting.

        Args:
            hp: the trial's hyperparameters.
            model: the model ``build(hp)`` returned.
            *args: ``x``, ``y`` ... of ``model.fit``; the weights come from ``y``.
            **kwargs: passed on; a ``class_weight`` given here is kept only when the
                trial's ``class_weighting`` is ``"none"``.

        Returns:
            The ``keras.callbacks.History`` of ``model.fit``.

        Raises:
            ValueError: a ``class_weight`` was passed while the trial weights classes itself.
        """
        self._declare_training(hp)
        method = hp.get("class_weighting") if self.space.get("class_weighting") else "none"
        if method != "none":
            if kwargs.get("class_weight") is not None:
                raise ValueError(
                    f"class_weight was passed to fit but the trial's class_weighting is "
                    f"{method!r}; pass class_weight=None or fix class_weighting to 'none'"
                )
            y = args[1] if len(args) > 1 else kwargs.get("y")
            kwargs["class_weight"] = weighted_classes(y, self.num_classes, method)
        return super().fit(hp, model, *args, **kwargs)
