"""Study 2 (MIT-BIH heartbeats, random split): the 1-D ResNet + GRU and the 2-D ResNet of the
original study, and Kachuee et al.'s pooled 1-D ResNet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lib.models._space import Range
from lib.models.hypermodels._base import AdaptsToData, StudyHyperModel
from lib.models.networks.cnn2d import build_cnn2d_resnet
from lib.models.networks.resnet1d import build_cnn1d_resnet, build_cnn1d_resnet_gru


class CNN1DResNetGRUHyperModel(AdaptsToData, StudyHyperModel):
    """MIT-BIH beat classifier: 1-D ResNet + stacked GRU (:func:`build_cnn1d_resnet_gru`).

    Default space (the original study): ``gru_units`` {32, 64, 128, 256, 512},
    ``batch_size`` {16, 32, 48, 60}, ``gru_layers`` {2, 3, 4},
    ``residual_blocks`` 1-5, ``dropout`` {0.2, 0.3, 0.4}, ``optimizer``
    {adam, adamw}, ``reduce_lr_factor`` 0.1-0.4 (step 0.1), ``learning_rate``
    fixed 0.001, and ``resampling`` {"smote", "random_over"}.

    ``reduce_lr_factor`` is the ``factor`` of a ``ReduceLROnPlateau`` on
    ``val_loss`` returned by :meth:`callbacks` (the tuning engine appends it to
    its callbacks; :meth:`fit` adds it when absent). ``resampling`` is a
    *data-side* hyperparameter listed in ``data_hyperparameters``: the model
    ignores it, and the tuning engine reads ``hp["resampling"]`` to build the
    trial's training set (SMOTE or random over-sampling). Pass
    ``resampling=None`` to leave it out of the space.

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``. A ``lib.tuning`` search
            refuses training data of another sample shape before its first trial
            (:meth:`adapt_to_data`); ``None`` takes the shape from the data.
        num_classes: number of beat classes (5 AAMI classes); checked against the training
            targets the same way (``None``: from the data).
        filters: convolution filters (not tuned; 128 as in the study, 32 on CPU).
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "gru_units": (32, 64, 128, 256, 512),
        "batch_size": (16, 32, 48, 60),
        "gru_layers": (2, 3, 4),
        "residual_blocks": Range(1, 5),
        "dropout": (0.2, 0.3, 0.4),
        "optimizer": ("adam", "adamw"),
        "reduce_lr_factor": Range(0.1, 0.4, step=0.1),
        "learning_rate": 0.001,
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)
    builder = build_cnn1d_resnet_gru
    BUILDER_SPACE = (
        "residual_blocks",
        "gru_units",
        "gru_layers",
        "dropout",
        "optimizer",
        "learning_rate",
    )

    def __init__(
        self,
        input_shape: Sequence[int] | None = (187, 1),
        num_classes: int | None = 5,
        *,
        filters: int = 128,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._declare_data_shape(input_shape, num_classes)
        self.filters = filters

    def _builder_arguments(self) -> dict[str, Any]:
        return dict(**self._data_shape_arguments(), filters=self.filters)


class CNN1DResNetHyperModel(AdaptsToData, StudyHyperModel):
    """MIT-BIH beat classifier: pooled 1-D ResNet (:func:`build_cnn1d_resnet`).

    Not one of the original study's models: the network Kachuee et al. (2018) published with
    the Kaggle beat set, added as a stronger CPU-sized baseline. Default space: their
    published configuration, fixed (``filters`` 32, ``residual_blocks`` 5, ``dense_units``
    32, ``dropout`` 0, ``learning_rate`` 0.001, ``batch_size`` 64), ``reduce_lr_factor``
    0.4 and ``resampling`` {"smote", "random_over"}; override any entry with a tuple or a
    :class:`Range` to search it (see :class:`CNN1DResNetGRUHyperModel` for ``callbacks``
    and ``resampling``).

    The defaults are the heartbeat study's (beats of ``(187, 1)``, 5 classes, an input named
    ``beat``, oversampling in the space); for other series use :class:`ResNetHyperModel`.

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``. A ``lib.tuning`` search
            refuses training data of another sample shape before its first trial
            (:meth:`adapt_to_data`); ``None`` takes the shape from the data.
        num_classes: number of beat classes, checked against the training targets the same
            way (``None``: from the data).
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "filters": 32,
        "residual_blocks": 5,
        "dense_units": 32,
        "dropout": 0.0,
        "learning_rate": 0.001,
        "batch_size": 64,
        "reduce_lr_factor": 0.4,
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)
    builder = build_cnn1d_resnet
    BUILDER_SPACE = ("filters", "residual_blocks", "dense_units", "dropout", "learning_rate")

    def __init__(
        self,
        input_shape: Sequence[int] | None = (187, 1),
        num_classes: int | None = 5,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._declare_data_shape(input_shape, num_classes)

    def _builder_arguments(self) -> dict[str, Any]:
        return self._data_shape_arguments()


class CNN2DResNetHyperModel(StudyHyperModel):
    """MIT-BIH beat classifier: 2-D ResNet on the beat as an image (:func:`build_cnn2d_resnet`).

    Default space (the original study): ``batch_size`` {16, 32, 48},
    ``dense_units`` 62-256, ``dense_layers`` {2, 3, 4}, ``residual_blocks``
    1-7, ``dropout`` 0.1-0.4 (step 0.1), ``reduce_lr_factor`` 0.1-0.4 (step
    0.1), ``learning_rate`` fixed 0.001, ``optimizer`` fixed adam, and the
    data-side ``resampling`` {"smote", "random_over"} (see
    :class:`CNN1DResNetGRUHyperModel` for ``callbacks`` and ``resampling``).

    Args:
        input_shape: ``(time, channels)``; beats are ``(187, 1)``.
        num_classes: number of beat classes.
        filters: convolution filters (not tuned; 128 as in the study, 32 on CPU).
        reshape_to: optional ``(height, width)`` image shape of the window.
        seed: seeds the built models.
        reduce_lr_patience: patience of the ``ReduceLROnPlateau`` callback.
        **space: overrides of ``DEFAULT_SPACE`` entries.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "batch_size": (16, 32, 48),
        "dense_units": Range(62, 256),
        "dense_layers": (2, 3, 4),
        "residual_blocks": Range(1, 7),
        "dropout": Range(0.1, 0.4, step=0.1),
        "reduce_lr_factor": Range(0.1, 0.4, step=0.1),
        "learning_rate": 0.001,
        "optimizer": "adam",
        "resampling": ("smote", "random_over"),
    }
    objective = "val_accuracy"
    data_hyperparameters = ("resampling",)
    builder = build_cnn2d_resnet
    BUILDER_SPACE = (
        "residual_blocks",
        "dense_units",
        "dense_layers",
        "dropout",
        "optimizer",
        "learning_rate",
    )

    def __init__(
        self,
        input_shape: Sequence[int] = (187, 1),
        num_classes: int = 5,
        *,
        filters: int = 128,
        reshape_to: Sequence[int] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.filters = filters
        self.reshape_to = reshape_to

    def _builder_arguments(self) -> dict[str, Any]:
        return dict(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            reshape_to=self.reshape_to,
            filters=self.filters,
        )
