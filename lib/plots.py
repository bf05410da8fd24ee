"""Figures every study shows: training curves, confusion matrix, trial results, forecasts.

Each function returns the ``matplotlib.figure.Figure`` it drew on and, when
``save=`` is a path, also writes a PNG there (creating the folder), e.g.
``save="figures/mhealth/confusion.png"``. Functions that draw a single panel
accept ``ax=`` to draw into an existing axes. Nothing here picks a backend;
notebooks use the inline one, tests select ``Agg``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.evaluation import _class_ids, metric_direction

__all__ = [
    "training_curves",
    "confusion_matrix",
    "trial_heatmap",
    "parallel_coordinates",
    "predictions_vs_truth",
    "best_so_far",
]

_NOT_CURVES = {"lr", "learning_rate", "epoch"}


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _figure_and_axes(ax, *, figsize: tuple[float, float]):
    if ax is not None:
        return ax.figure, ax
    fig, new_ax = _pyplot().subplots(figsize=figsize)
    return fig, new_ax


def _finish(fig, *, title: str | None, save: str | PathLike | None, ax=None):
    if title:
        (ax.set_title if ax is not None else fig.suptitle)(title)
    if save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _direction(frame: pd.DataFrame, value: str) -> str:
    """``"min"`` or ``"max"`` for a column: the search's own direction for ``objective`` (or
    its objective's name), else :func:`lib.evaluation.metric_direction` (``"max"`` when that
    cannot tell)."""
    attrs = getattr(frame, "attrs", {}) or {}
    if attrs.get("direction") in ("min", "max") and value in ("objective", attrs.get("objective")):
        return attrs["direction"]
    return metric_direction(value, default="max")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], *, what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {missing}, which the frame does not have; "
            f"available: {list(frame.columns)}"
        )


# --------------------------------------------------------------------------- training


def training_curves(
    history_or_frame: Any,
    *,
    metrics: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Training and validation curves per epoch, one panel per metric.

    Args:
        history_or_frame: a ``keras.callbacks.History``, its ``history`` dict, or
            a ``DataFrame`` with one row per epoch (columns such as ``loss`` and
            ``val_loss``).
        metrics: the metrics to draw, without ``val_`` prefix. Defaults to
            every training metric except the learning rate.
        ax: draw every metric into this one axes instead of one panel each.
        title: figure title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: if a requested metric is not recorded, or there is nothing to plot.
    """
    history = getattr(history_or_frame, "history", history_or_frame)
    frame = pd.DataFrame(dict(history)) if isinstance(history, Mapping) else pd.DataFrame(history)
    if frame.empty:
        raise ValueError("the history is empty; train for at least one epoch first")
    if metrics is None:
        metrics = [c for c in frame.columns if not c.startswith("val_") and c not in _NOT_CURVES]
    metrics = list(metrics)
    missing = [m for m in metrics if m not in frame.columns and f"val_{m}" not in frame.columns]
    if missing or not metrics:
        raise ValueError(
            f"metrics {missing or metrics} are not in the history; recorded: {list(frame.columns)}"
        )
    epochs = np.arange(1, len(frame) + 1)
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(metrics)
    else:
        fig, grid = _pyplot().subplots(
            1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False
        )
        axes = list(grid[0])
    for metric, panel in zip(metrics, axes, strict=True):
        for column, style in ((metric, "-"), (f"val_{metric}", "--")):
            if column in frame.columns:
                panel.plot(epochs, frame[column].to_numpy(), style, marker="o", ms=3, label=column)
        panel.set_xlabel("epoch")
        panel.set_ylabel(metric if ax is None else "value")
        panel.legend()
        panel.grid(alpha=0.3)
    if ax is None:
        fig.tight_layout()
    return _finish(fig, title=title, save=save, ax=ax)


# --------------------------------------------------------------------------- classification


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    display_labels: Sequence[str] | None = None,
    normalize: str | None = None,
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Confusion matrix through scikit-learn's ``ConfusionMatrixDisplay``.

    Args:
        y_true: true class ids (or one-hot rows).
        y_pred: predicted class ids, or probabilities (arg-max taken).
        labels: the classes, in order (default: those present).
        display_labels: names to print for ``labels`` (e.g. ``["N", "S", "V", "F", "Q"]``).
        normalize: ``None`` (counts), ``"true"`` (rows sum to 1: recall on the
            diagonal), ``"pred"`` or ``"all"``.
        ax: axes to draw into.
        title: axes title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: for an unknown ``normalize``.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    true_ids = _class_ids(y_true, name="y_true")  # string labels stay labels
    pred_ids = _class_ids(y_pred, name="y_pred")
    size = len(labels) if labels is not None else len(np.union1d(true_ids, pred_ids))
    fig, ax = _figure_and_axes(ax, figsize=(1.0 + 0.7 * size, 0.6 + 0.7 * size))
    ConfusionMatrixDisplay.from_predictions(
        true_ids,
        pred_ids,
        labels=labels,
        display_labels=display_labels,
        normalize=normalize,
        values_format=".2f" if normalize else "d",
        cmap="Blues",
        colorbar=False,
        ax=ax,
    )
    return _finish(fig, title=title, save=save, ax=ax)


# --------------------------------------------------------------------------- trials


def trial_heatmap(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str,
    aggregate: str = "best",
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Heatmap of a metric over two hyperparameters (e.g. a grid's learning rate × units).

    Trials sharing an ``(x, y)`` cell (other hyperparameters varied) are
    combined with ``aggregate``.

    Args:
        frame: the tuning result frame, one row per trial.
        x: hyperparameter on the horizontal axis.
        y: hyperparameter on the vertical axis.
        value: metric to colour by (e.g. ``val_accuracy``).
        aggregate: ``"best"`` (max, or min for losses and errors, see
            :func:`lib.evaluation.metric_direction`), ``"mean"``, ``"median"``,
            ``"max"`` or ``"min"``.
        ax: axes to draw into.
        title: axes title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: for missing columns or an unknown ``aggregate``.
    """
    _require_columns(frame, [x, y, value], what="trial_heatmap")
    if aggregate == "best":
        aggregate = _direction(frame, value)
    if aggregate not in ("mean", "median", "max", "min"):
        raise ValueError(
            f"aggregate must be 'best', 'mean', 'median', 'max' or 'min', got {aggregate!r}"
        )
    table = frame.pivot_table(index=y, columns=x, values=value, aggfunc=aggregate)
    fig, ax = _figure_and_axes(ax, figsize=(1.5 + 1.1 * table.shape[1], 1.0 + 0.6 * table.shape[0]))
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    values = table.to_numpy(dtype=float)
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for (row, column), cell in np.ndenumerate(values):
        if np.isfinite(cell):
            ax.text(
                column,
                row,
                f"{cell:.3g}",
                ha="center",
                va="center",
                color="white" if cell < middle else "black",
                fontsize=8,
            )
    fig.colorbar(image, ax=ax, label=f"{value} ({aggregate})")
    return _finish(fig, title=title, save=save, ax=ax)


def parallel_coordinates(
    frame: pd.DataFrame,
    columns: Sequence[str],
    value: str,
    *,
    log_scale: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Parallel-coordinates view of trials: one line per trial, coloured by ``value``.

    Each column is scaled to [0, 1] on its own axis (its minimum and maximum
    are printed at the ends), on a log scale for the columns in ``log_scale``;
    text or boolean columns are placed by category, with the categories
    printed. The best trials are drawn on top.

    Args:
        frame: the tuning result frame.
        columns: hyperparameters (and metrics) to show, left to right.
        value: metric that colours the lines.
        log_scale: columns to place on a log scale. Default: the positive
            numeric columns whose maximum is at least 100 times their minimum
            (learning rates such as {0.001, 0.01, 0.1}).
        ax: axes to draw into.
        title: axes title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: for missing columns or an empty frame.
    """
    from matplotlib.collections import LineCollection

    columns = list(columns)
    _require_columns(frame, [*columns, value], what="parallel_coordinates")
    if frame.empty or not columns:
        raise ValueError("parallel_coordinates needs at least one trial and one column")
    scaled = np.empty((len(frame), len(columns)))
    ticks: list[list[tuple[float, str]]] = []  # per axis: (height in [0, 1], text)
    for index, column in enumerate(columns):
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numbers = series.to_numpy(dtype=float)
            low, high = np.nanmin(numbers), np.nanmax(numbers)
            texts = [f"{low:.3g}", f"{high:.3g}"]
            use_log = (
                column in log_scale if log_scale is not None else low > 0 and high >= 100 * low
            )
            if use_log:
                if low <= 0:
                    raise ValueError(
                        f"column {column!r} has values <= 0 and cannot be put on a log scale"
                    )
                numbers, low, high = np.log10(numbers), np.log10(low), np.log10(high)
        else:
            categorical = pd.Categorical(series.astype(str))
            numbers = categorical.codes.astype(float)
            low, high = 0.0, float(max(len(categorical.categories) - 1, 0))
            texts = [str(category) for category in categorical.categories]
        heights = np.linspace(0.0, 1.0, len(texts)) if high > low else np.full(len(texts), 0.5)
        ticks.append(list(zip(heights, texts, strict=True)))
        scaled[:, index] = (numbers - low) / (high - low) if high > low else 0.5
    colour = frame[value].to_numpy(dtype=float)
    order = np.argsort(colour if _direction(frame, value) == "max" else -colour)
    positions = np.arange(len(columns), dtype=float)
    segments = np.stack([np.broadcast_to(positions, scaled.shape), scaled], axis=-1)[order]

    fig, ax = _figure_and_axes(ax, figsize=(1.6 * len(columns) + 2.0, 4.0))
    lines = LineCollection(segments, cmap="viridis", linewidths=1.2, alpha=0.8)
    lines.set_array(colour[order])
    ax.add_collection(lines)
    for position, axis_ticks in zip(positions, ticks, strict=True):
        ax.axvline(position, color="grey", lw=0.8)
        for height, text in axis_ticks:
            ax.text(position + 0.03, height, text, ha="left", va="center", fontsize=7)
    ax.set_xlim(-0.3, len(columns) - 0.7)
    ax.set_ylim(-0.15, 1.15)
    ax.set_xticks(positions, columns, rotation=20)
    ax.set_yticks([])
    fig.colorbar(lines, ax=ax, label=value)
    return _finish(fig, title=title, save=save, ax=ax)


def best_so_far(
    frames: Mapping[str, pd.DataFrame],
    *,
    x: str = "trial",
    value: str = "val_loss",
    direction: str | None = None,
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Best objective found so far, per search, against trials or seconds spent.

    Args:
        frames: ``{search name: tuning result frame}`` (e.g. grid vs TPE vs ASHA).
        x: ``"trial"`` (the ``trial`` column if present, else 1, 2, ... in row
            order), ``"seconds"`` (cumulative sum of the per-trial ``seconds``
            column in row order: training time spent), or any other column
            used as is (e.g. wall-clock end times of parallel trials).
        value: the objective column.
        direction: ``"min"`` or ``"max"``; default from
            :func:`lib.evaluation.metric_direction`. Failed trials (NaN) keep
            the previous best.
        ax: axes to draw into.
        title: axes title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: for an empty ``frames``, a missing column or a bad ``direction``.
    """
    if not frames:
        raise ValueError("frames is empty; pass {search name: result frame}")
    direction = direction or _direction(next(iter(frames.values())), value)
    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    accumulate = np.fmin.accumulate if direction == "min" else np.fmax.accumulate
    fig, ax = _figure_and_axes(ax, figsize=(6.0, 3.8))
    for name, frame in frames.items():
        if x == "trial":
            _require_columns(frame, [value], what=f"best_so_far ({name})")
            position = (
                frame["trial"].to_numpy(dtype=float)
                if "trial" in frame.columns
                else np.arange(1, len(frame) + 1, dtype=float)
            )
        elif x == "seconds":
            _require_columns(frame, [value, "seconds"], what=f"best_so_far ({name})")
            position = np.cumsum(frame["seconds"].to_numpy(dtype=float))
        else:
            _require_columns(frame, [value, x], what=f"best_so_far ({name})")
            position = frame[x].to_numpy(dtype=float)
        order = np.argsort(position, kind="stable")
        best = accumulate(frame[value].to_numpy(dtype=float)[order])
        ax.plot(position[order], best, drawstyle="steps-post", marker=".", label=name)
    ax.set_xlabel({"trial": "trial", "seconds": "training seconds (cumulative)"}.get(x, x))
    ax.set_ylabel(f"best {value} so far")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, title=title, save=save, ax=ax)


# --------------------------------------------------------------------------- forecasts


def predictions_vs_truth(
    y_true: Any,
    y_pred: Any,
    *,
    last: int | None = 500,
    index: Any = None,
    ax=None,
    title: str | None = None,
    save: str | PathLike | None = None,
):
    """Forecast and truth over time (the last ``last`` points).

    Args:
        y_true: true values, ``(n,)`` (or ``(n, 1)``).
        y_pred: predictions, same length (``(n, 1)`` model output accepted).
        last: how many final points to show (``None``: all).
        index: x values (timestamps or sample numbers) of length ``n``;
            default ``0 .. n-1``.
        ax: axes to draw into.
        title: axes title.
        save: PNG path to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: if the series have different lengths or are not one-dimensional.
    """
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    true = true.reshape(-1) if true.ndim == 2 and true.shape[1] == 1 else true
    pred = pred.reshape(-1) if pred.ndim == 2 and pred.shape[1] == 1 else pred
    if true.ndim != 1 or pred.shape != true.shape:
        raise ValueError(
            f"y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)} must be one series of the "
            "same length; pick one output column first"
        )
    positions = np.arange(len(true)) if index is None else np.asarray(index)
    if len(positions) != len(true):
        raise ValueError(f"index has {len(positions)} values for {len(true)} points")
    if last is not None:
        if last < 1:
            raise ValueError(f"last must be a positive number of points or None, got {last}")
        positions, true, pred = positions[-last:], true[-last:], pred[-last:]
    fig, ax = _figure_and_axes(ax, figsize=(9.0, 3.5))
    ax.plot(positions, true, label="truth", lw=1.2)
    ax.plot(positions, pred, label="prediction", lw=1.0, alpha=0.85)
    ax.set_xlabel("time" if index is not None else "sample")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finish(fig, title=title, save=save, ax=ax)
