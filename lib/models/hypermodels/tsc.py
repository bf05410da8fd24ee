"""Generic time-series classification hypermodels: FCN, ResNet and InceptionTime.

The standard deep baselines of the time-series classification literature (Wang et al. 2017;
Ismail Fawaz et al. 2019, 2020), for any dataset: each takes its input shape and class count
from the data a :mod:`lib.tuning` tuner searches on (:meth:`AdaptsToData.adapt_to_data`)
unless they are given, and the default point of each space is the published network. Every
network ends in global average pooling, so with ``mask_value`` (the filler of
:func:`lib.padding.pad_samples`) padded series are averaged over their real readings only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import keras
import keras_tuner

from lib.models.hypermodels._base import AdaptsToData, StudyHyperModel
from lib.models.networks.tsc import build_fcn, build_inception_time, build_resnet

#: Training entries shared by the three spaces: Adam's learning rate, the batch size of
#: dl-4-tsc's FCN on small sets (``min(n / 10, 16)``), and the ``ReduceLROnPlateau`` factor
#: of dl-4-tsc's FCN, ResNet and InceptionTime (on the training loss, patience 50 epochs,
#: down to 0.0001).
_TRAINING = {"learning_rate": 0.001, "batch_size": 16, "reduce_lr_factor": 0.5}


class TSCHyperModel(AdaptsToData, StudyHyperModel, register=False):
    """Base of the time-series classification hypermodels (shape and classes from the data).

    Until the input shape and class count are known (given, or taken from the data by
    :meth:`adapt_to_data`), ``build(hp)`` declares the space and returns a stand-in model
    that raises, when fitted or run, what is missing and how to give it: a tuner builds its
    hypermodel once when constructed, before ``search()`` hands it the data.

    Args:
        input_shape: ``(time, channels)``; ``time`` may be ``None`` (variable length).
            ``None`` (default): taken from the training data when a :mod:`lib.tuning`
            search starts; a value that disagrees with the data is refused there.
        num_classes: number of classes; ``None`` (default): from the training targets,
            checked the same way.
        mask_value: padding filler whose steps the global pooling leaves out (e.g.
            :data:`lib.padding.MASK_VALUE`); ``None``: no mask.
        seed: seeds the built models.
        reduce_lr_patience: patience (epochs) of the ``ReduceLROnPlateau`` on the training
            loss (as dl-4-tsc) whose ``factor`` is the ``reduce_lr_factor`` entry; the
            learning rate does not go below 0.0001.
        batch_norm_momentum: momentum of the batch normalisation's moving statistics (see
            :func:`lib.models.build_fcn`).
        **kwargs: ``name``, ``tunable``, ``jit_compile`` and overrides of ``DEFAULT_SPACE``
            entries (a tuple searches several values; its first is the default point).
    """

    objective = "val_accuracy"

    def __init__(
        self,
        input_shape: Sequence[int | None] | None = None,
        num_classes: int | None = None,
        *,
        mask_value: float | None = None,
        reduce_lr_patience: int = 50,
        batch_norm_momentum: float = 0.9,
        **kwargs: Any,
    ):
        super().__init__(reduce_lr_patience=reduce_lr_patience, **kwargs)
        self._declare_data_shape(input_shape, num_classes)
        self.mask_value = None if mask_value is None else float(mask_value)
        self.batch_norm_momentum = float(batch_norm_momentum)

    def callbacks(self, hp: keras_tuner.HyperParameters) -> list[keras.callbacks.Callback]:
        """``ReduceLROnPlateau`` on the training loss (dl-4-tsc), ``factor`` from the space.

        Args:
            hp: the trial's hyperparameters.

        Returns:
            A list of one fresh callback (empty when the space has no ``reduce_lr_factor``).
        """
        if self.space.get("reduce_lr_factor") is None:
            return []
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss",
                factor=self._hp(hp, "reduce_lr_factor"),
                patience=self.reduce_lr_patience,
                min_lr=0.0001,
                verbose=0,
            )
        ]

    def _network_arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        """The builder's keyword arguments from the declared values (identity by default)."""
        return values

    def _build_model(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        if self._missing_data_shape():  # a tuner's first build, before search() has the data
            return super()._build_model(hp)  # the space and a stand-in (AdaptsToData)
        values = self._declare_all(hp, self.BUILDER_SPACE)
        return type(self).builder(
            **self._data_shape_arguments(),
            **self._network_arguments(values),
            mask_value=self.mask_value,
            batch_norm_momentum=self.batch_norm_momentum,
            seed=self.seed,
        )


class FCNHyperModel(TSCHyperModel):
    """Fully convolutional network (Wang et al. 2017; :func:`lib.models.build_fcn`).

    Default space (the published network, one point): ``filters`` 128 (three convolutions of
    ``filters``, ``2 * filters`` and ``filters``, kernels 8, 5, 3), ``learning_rate`` 0.001,
    ``batch_size`` 16, ``reduce_lr_factor`` 0.5. See :class:`TSCHyperModel` for the
    arguments.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {"filters": 128, **_TRAINING}
    builder = build_fcn
    BUILDER_SPACE = ("filters", "learning_rate")

    def _network_arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        width = values.pop("filters")
        return {**values, "filters": (width, 2 * width, width)}


class ResNetHyperModel(TSCHyperModel):
    """Residual network (Wang et al. 2017; :func:`lib.models.build_resnet`).

    Default space (the published network, one point): ``filters`` 64 and ``blocks`` 3
    (blocks of ``filters``, then ``2 * filters`` for each further block: 64, 128, 128; kernels
    8, 5, 3 in every block), ``learning_rate`` 0.001, ``batch_size`` 16, ``reduce_lr_factor``
    0.5. See :class:`TSCHyperModel` for the arguments.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {"filters": 64, "blocks": 3, **_TRAINING}
    builder = build_resnet
    BUILDER_SPACE = ("filters", "blocks", "learning_rate")

    def _network_arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        width, blocks = values.pop("filters"), values.pop("blocks")
        return {**values, "filters": (width,) + (2 * width,) * (blocks - 1)}


class InceptionTimeHyperModel(TSCHyperModel):
    """The Inception network of InceptionTime (Ismail Fawaz et al. 2020;
    :func:`lib.models.build_inception_time`).

    Default space (the published network, one point): ``filters`` 32, ``depth`` 6,
    ``kernel_size`` 40 (kernels 40, 20, 10), bottleneck 32 and residual connections (not
    hyperparameters), ``learning_rate`` 0.001, ``batch_size`` 16, ``reduce_lr_factor`` 0.5.
    InceptionTime averages five such networks; a search tunes one. See
    :class:`TSCHyperModel` for the arguments.
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "filters": 32,
        "depth": 6,
        "kernel_size": 40,
        **_TRAINING,
    }
    builder = build_inception_time
    BUILDER_SPACE = ("filters", "depth", "kernel_size", "learning_rate")
