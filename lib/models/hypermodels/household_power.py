"""Study 3 (household power): the LSTM forecaster searched per data configuration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lib.models.hypermodels._base import StudyHyperModel
from lib.models.networks.recurrent import build_lstm_forecaster


class LSTMForecasterHyperModel(StudyHyperModel):
    """Household-power forecaster: a tapering stacked LSTM (:func:`build_lstm_forecaster`).

    Default space (2 × 2 × 2 = 8 points): ``layers`` {1, 2} (the second layer half as wide,
    as in the original 5 -> 3 network), ``units`` {16, 32} (cells of the first layer),
    ``learning_rate`` {0.003, 0.001}; Adam, MSE, no dropout. The batch size is not a
    hyperparameter: pass ``batch_size`` to ``search`` / ``fit_final``. Window length and input
    channels are data choices: build one hypermodel (and one search) per window shape.

    Args:
        input_shape: ``(time, channels)`` of the windows.
        mask_value: when set, the model starts with a ``Masking`` layer (no weights), so a
            trained model's weights can be loaded into a masked copy for padded, short
            histories (:func:`lib.padding.streaming_windows`).
        seed: seeds the built models.
        **space: overrides of ``DEFAULT_SPACE`` entries (``units=(8, 16)`` ...).
    """

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {
        "layers": (1, 2),
        "units": (16, 32),
        "learning_rate": (0.003, 0.001),
    }
    builder = build_lstm_forecaster
    BUILDER_SPACE = ("layers", "units", "learning_rate")
    objective = "val_mse"

    def __init__(
        self, input_shape: Sequence[int], *, mask_value: float | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.mask_value = mask_value

    def _builder_arguments(self) -> dict[str, Any]:
        return dict(input_shape=self.input_shape, mask_value=self.mask_value)
