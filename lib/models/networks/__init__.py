"""Network builders by family: plain functions taking keyword arguments, returning a compiled
``keras.Model`` (see :mod:`lib.models`).

* :mod:`~lib.models.networks.recurrent`: :func:`build_lstm`, :func:`build_lstm_forecaster`;
* :mod:`~lib.models.networks.resnet1d`: :func:`build_cnn1d_resnet_gru`, :func:`build_cnn1d_resnet`;
* :mod:`~lib.models.networks.cnn2d`: :func:`build_cnn2d_resnet`;
* :mod:`~lib.models.networks.mlp`: :func:`build_mlp`;
* :mod:`~lib.models.networks.beat_rr`: :func:`build_beat_rr_classifier` (beat + RR intervals);
* :mod:`~lib.models.networks.tsc`: :func:`build_fcn`, :func:`build_resnet`,
  :func:`build_inception_time` (time-series classification, any length, optional mask);
* :mod:`~lib.models.networks.layers`: the custom layers and loss (:class:`SelectFeatures`,
  :class:`ReadingMask`, :class:`ZeroPadded`, :class:`OneHotLoss`).
"""

from lib.models.networks._common import make_optimizer
from lib.models.networks.beat_rr import build_beat_rr_classifier
from lib.models.networks.cnn2d import build_cnn2d_resnet
from lib.models.networks.layers import OneHotLoss, ReadingMask, SelectFeatures, ZeroPadded
from lib.models.networks.mlp import build_mlp
from lib.models.networks.recurrent import build_lstm, build_lstm_forecaster
from lib.models.networks.resnet1d import build_cnn1d_resnet, build_cnn1d_resnet_gru
from lib.models.networks.tsc import build_fcn, build_inception_time, build_resnet

__all__ = [
    "make_optimizer",
    "OneHotLoss",
    "SelectFeatures",
    "build_lstm",
    "build_lstm_forecaster",
    "build_cnn1d_resnet_gru",
    "build_cnn1d_resnet",
    "build_cnn2d_resnet",
    "build_mlp",
    "build_beat_rr_classifier",
    "ReadingMask",
    "ZeroPadded",
    "build_fcn",
    "build_resnet",
    "build_inception_time",
]
