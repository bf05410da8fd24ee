"""Per-channel scaling of sensor series and windows, fitted on training rows only.

:class:`ChannelScaler` scales each channel of ``(time, channels)`` rows or
``(n, length, channels)`` windows with one scikit-learn scaler per channel;
:func:`standardize_groups` standardises each group (subject, record) on its own rows;
:func:`scale_parts` scales every part of a split frame with the training part's statistics;
:func:`znormalize_samples` z-normalises each sample on its own (nothing to fit).
The first two are also importable from :mod:`lib.windows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

__all__ = ["ChannelScaler", "standardize_groups", "scale_parts", "znormalize_samples"]

_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


class ChannelScaler(TransformerMixin, BaseEstimator):
    """Per-channel scaling of 3-D windows (or 2-D series) with a scikit-learn scaler.

    Statistics are computed per channel over all ``n * length`` readings of the
    arrays given to :meth:`fit`: fit on the training part only, then transform
    validation and test with the same statistics.

    Missing readings: NaN marks a missing reading. The named scalers (scikit-learn's)
    ignore NaN when fitting and keep it in place when transforming, so gaps survive
    scaling. :meth:`fit` refuses inf, a channel with no finite reading at all (its
    statistics would be NaN and so would every value it scales), and any scaler whose
    fitted statistics come out NaN (a custom scaler that does not skip NaN).

    Args:
        scaler: ``"standard"``, ``"minmax"``, ``"robust"`` or an unfitted scikit-learn
            transformer working column-wise (it is cloned).

    Attributes:
        scaler_: the fitted scikit-learn scaler (one column per channel).
        n_channels_: number of channels seen in :meth:`fit`.
    """

    def __init__(self, scaler: Any = "standard") -> None:
        self.scaler = scaler

    def _flat(self, X: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        X = np.asarray(X)
        if X.ndim not in (2, 3):
            raise ValueError(
                f"expected 3-D windows (n, length, channels) or a 2-D series (time, channels); "
                f"got shape {X.shape}"
            )
        return X.reshape(-1, X.shape[-1]), X.shape

    def fit(self, X: Any, y: Any = None) -> ChannelScaler:
        """Learns per-channel statistics from training windows.

        Args:
            X: ``(n, length, channels)`` or ``(time, channels)``; NaN readings are
                skipped by the named scalers (see the class docstring).
            y: ignored.

        Returns:
            self.

        Raises:
            ValueError: on an unknown scaler name, wrong dimensions, inf in ``X``, a
                channel with no finite reading, or NaN statistics after fitting.
        """
        if isinstance(self.scaler, str):
            if self.scaler not in _SCALERS:
                raise ValueError(
                    f"scaler must be one of {list(_SCALERS)} or a scikit-learn scaler; "
                    f"got {self.scaler!r}"
                )
            scaler = _SCALERS[self.scaler]()
        else:
            scaler = clone(self.scaler)
        flat, shape = self._flat(X)
        self._check_fit_values(flat)
        fitted = scaler.fit(flat)
        self._check_statistics(fitted, flat)
        self.scaler_ = fitted
        self.n_channels_ = shape[-1]
        return self

    @staticmethod
    def _check_fit_values(flat: np.ndarray) -> None:
        """Refuses inf, and channels without a single finite reading, before fitting."""
        if flat.dtype.kind not in "fc":
            return  # integers are finite; other kinds are the scaler's to refuse
        n_inf = int(np.isinf(flat).sum())
        nan = np.isnan(flat)
        n_nan = int(nan.sum())
        if n_inf:
            channels = np.flatnonzero(np.isinf(flat).any(axis=0)).tolist()
            raise ValueError(
                f"X holds {n_inf} inf values (channels {channels}) and {n_nan} NaN among "
                f"{flat.size} readings; a scaler cannot fit inf. Drop or impute those "
                "readings first (or set them to NaN, which the named scalers skip)"
            )
        empty = np.flatnonzero(nan.all(axis=0)).tolist() if len(flat) else []
        if empty:
            raise ValueError(
                f"channels {empty} of X hold no finite reading ({n_nan} NaN among "
                f"{flat.size} readings in all); their statistics would be NaN and so would "
                "every value they scale. Drop those channels or impute them before fitting"
            )

    @staticmethod
    def _check_statistics(fitted: Any, flat: np.ndarray) -> None:
        """Refuses a fitted scaler whose learned statistics hold NaN."""
        bad = [
            name
            for name, value in vars(fitted).items()
            if name.endswith("_")
            and isinstance(value, np.ndarray)
            and value.dtype.kind in "fc"
            and np.isnan(value).any()
        ]
        if bad:
            n_nan = int(np.isnan(flat).sum()) if flat.dtype.kind in "fc" else 0
            raise ValueError(
                f"the fitted {type(fitted).__name__} has NaN statistics ({', '.join(bad)}) "
                f"from X holding {n_nan} NaN among {flat.size} readings; this scaler does "
                "not skip NaN. Drop or impute the NaN readings first, or use one of "
                f"{list(_SCALERS)}, which skip them"
            )

    def _apply(self, X: Any, method: str) -> np.ndarray:
        if not hasattr(self, "scaler_"):
            raise ValueError(
                "this ChannelScaler is not fitted yet; call fit on training data first"
            )
        flat, shape = self._flat(X)
        if shape[-1] != self.n_channels_:
            raise ValueError(
                f"fitted on {self.n_channels_} channels, got {shape[-1]}; pass the same channels"
            )
        out = getattr(self.scaler_, method)(flat)
        return np.asarray(out, dtype=np.result_type(np.asarray(X).dtype, np.float32)).reshape(shape)

    def transform(self, X: Any) -> np.ndarray:
        """Scales ``X`` with the training statistics; same shape as ``X``."""
        return self._apply(X, "transform")

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undoes :meth:`transform` (e.g. to report errors in original units)."""
        return self._apply(X, "inverse_transform")


def standardize_groups(x: Any, groups: Any) -> np.ndarray:
    """Standardises every group's rows per channel: zero mean, unit standard deviation.

    Per-subject standardisation for subject-independent models: it removes each person's
    sensor gain and offset (placement, body size) before windowing. Unlike
    :class:`ChannelScaler`, whose statistics come from the training part only, each group
    here is scaled with **its own** statistics, so a held-out subject is scaled with its own
    (unlabelled) recording: a calibration step a deployed model needs too, which a report
    should state. Labels are never used. Each group gets its own :class:`ChannelScaler`
    (scikit-learn's ``StandardScaler``: a constant channel becomes 0, not NaN).

    Args:
        x: ``(time, channels)`` readings (or ``(time,)``).
        groups: one group id per row (e.g. the subject column).

    Returns:
        float32 (or float64 for float64 input) array of ``x``'s shape.

    Raises:
        ValueError: ``x`` not 1-D/2-D, lengths differ, or ``x`` holds NaN/inf.
    """
    values = np.asarray(x)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"expected readings shaped (time, channels) or (time,); got shape {values.shape}; "
            "standardise before windowing"
        )
    groups = np.asarray(groups)
    if groups.shape != (len(values),):
        raise ValueError(
            f"groups must hold one id per row: {len(values)} rows, got groups of shape "
            f"{groups.shape}"
        )
    flat = values.reshape(len(values), -1).astype(np.float64)
    if not np.isfinite(flat).all():
        raise ValueError("x holds NaN or inf; fill or drop those readings first")
    out = np.empty_like(flat)
    for group in np.unique(groups):  # one scaler per group (a handful), not a loop over rows
        rows = groups == group
        out[rows] = ChannelScaler("standard").fit_transform(flat[rows])
    return out.astype(np.result_type(values.dtype, np.float32)).reshape(values.shape)


def scale_parts(
    frame: Any,
    parts: Any,
    channels: Sequence[str],
    *,
    fit_on: str = "train",
    keep: Sequence[str] = (),
    scaler: Any = "standard",
) -> dict[str, Any]:
    """Each part's rows with ``channels`` scaled by statistics of one part (the training one).

    Fits one :class:`ChannelScaler` on the rows of ``parts[fit_on]`` only, then transforms
    every part with it: validation and test rows never inform the statistics.

    Args:
        frame: pandas DataFrame, one row per reading.
        parts: ``{name: row positions}`` (e.g. from :func:`lib.splits.group_split`), or a
            :class:`lib.splits.Split`.
        channels: the columns to scale.
        fit_on: the part whose rows give the statistics.
        keep: columns copied unscaled in front of the channels (labels, subject ...).
        scaler: as in :class:`ChannelScaler` (``"standard"``, ``"minmax"``, ``"robust"``
            or a scikit-learn transformer).

    Returns:
        ``{name: DataFrame}`` in the order of ``parts``: columns ``keep`` then ``channels``,
        the frame's index labels of the part's rows.

    Raises:
        ValueError: ``fit_on`` is not a part, or a column is missing from ``frame``.
    """
    rows_of = dict(parts._asdict() if hasattr(parts, "_asdict") else parts)
    if fit_on not in rows_of:
        raise ValueError(
            f"fit_on={fit_on!r} is not one of the parts {list(rows_of)}; name the training part"
        )
    channels, keep = list(channels), list(keep)
    missing = [c for c in keep + channels if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} not in frame columns {list(frame.columns)}")
    fitted = ChannelScaler(scaler).fit(frame[channels].iloc[rows_of[fit_on]].to_numpy())
    scaled = {}
    for name, rows in rows_of.items():
        part = frame.iloc[rows]
        out = part[keep].copy()
        values = fitted.transform(part[channels].to_numpy())
        for index, channel in enumerate(channels):
            out[channel] = values[:, index]
        scaled[name] = out
    return scaled


def znormalize_samples(x: Any, mask: Any = None, eps: float = 1e-8) -> np.ndarray:
    """Z-normalises each sample's channels on their own: zero mean, unit standard deviation.

    The usual preparation in time-series classification (the UCR archive's series are
    z-normalised): each sample and channel is scaled by its own mean and (population)
    standard deviation, so no statistic crosses samples and nothing is fitted on training
    data. Steps where ``mask`` is False (padding) and NaN readings are left out of the
    statistics and keep their values, so a padding filler stays what a ``Masking`` layer
    looks for and gaps stay NaN. A channel whose standard deviation is at most ``eps``
    (a constant series) becomes zeros, not NaN.

    Args:
        x: ``(samples, time, channels)`` array (for univariate ``(samples, time)`` data use
            ``x[..., None]``).
        mask: optional ``(samples, time)`` bool, True on real readings (as returned by
            :func:`lib.padding.pad_samples`).
        eps: standard deviations up to this count as constant.

    Returns:
        float array of ``x``'s shape (float32 at least).

    Raises:
        ValueError: ``x`` is not 3-D, ``mask`` has another shape than ``x``'s first two
            axes, or ``eps`` is negative.
    """
    values = np.asarray(x)
    if values.ndim != 3:
        raise ValueError(
            f"x must be a 3-D array (samples, time, channels); got shape {values.shape}"
            + ("; for univariate series pass x[..., None]" if values.ndim == 2 else "")
        )
    if not eps >= 0:
        raise ValueError(f"eps must be a number >= 0; got {eps!r}")
    values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
    valid = ~np.isnan(values)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != values.shape[:2]:
            raise ValueError(
                f"mask must be (samples, time) = {values.shape[:2]} like x's first two axes; "
                f"got shape {mask.shape}"
            )
        valid &= mask.astype(bool)[..., None]
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = np.where(valid, values, 0).sum(axis=1, keepdims=True) / count
    centred = np.where(valid, values - mean, 0)
    std = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
    constant = std <= eps
    scaled = centred / np.where(constant, 1, std)
    return np.where(valid, np.where(constant, 0, scaled), values).astype(values.dtype, copy=False)
