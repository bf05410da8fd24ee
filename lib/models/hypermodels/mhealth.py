"""Study 1 (MHEALTH activities): the LSTM classifier grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lib.models.hypermodels._base import StudyHyperModel
from lib.models.networks.recurrent import build_lstm


class LSTMClassifierHyperModel(StudyHyperModel):
    """MHEALTH activity classifier: one LSTM + a linear hidden dense layer + softmax.

    Default space (the original grid, 4 × 3 × 3 = 36 trials): ``batch_size``
    {64, 128, 256, 512} × ``learning_rate`` {0.001, 0.01, 0.1} × ``units``
    {16, 32, 64} (LSTM width, also the width of the linear dense layer). Adam,
    sparse categorical cross-entropy. ``dropout`` is fixed at 0.

    Args:
        input_shape: ``(time, channels)``; MHEALTH windows are ``(100, 12)``.
        num_classes: number of activities (13 with the null class).
        mask_value: when set, the model starts with a ``Masking`` layer, so padded windows
            of different lengths (``input_shape=(None, channels)``, filler e.g.
            :data:`lib.padding.MASK_VALUE`) are read up to their last real reading.
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries (``units=(16, 32)`` ...).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "units": (16, 32, 64),
        "learning_rate": (0.001, 0.01, 0.1),
        "batch_size": (64, 128, 256, 512),
        "dropout": 0.0,
    }
    objective = "val_accuracy"

    def __init__(
        self,
        input_shape: Sequence[int | None] = (100, 12),
        num_classes: int = 13,
        *,
        mask_value: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.mask_value = mask_value

    def _build_model(self, hp):
        values = self._declare_all(hp, ("units", "dropout", "learning_rate"))
        return build_lstm(
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            units=(values["units"],),
            dropout=values["dropout"],
            dense_units=values["units"],
            dense_activation=None,
            learning_rate=values["learning_rate"],
            mask_value=self.mask_value,
            seed=self.seed,
        )
