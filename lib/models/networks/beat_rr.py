"""The two-input heartbeat network of study 2's inter-patient scheme: the beat and its RR
intervals, packed into one input row (:meth:`lib.models.BeatRRHyperModel.pack`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from lib.models.networks._common import Seeds, check_counts, dense_stack, finish
from lib.models.networks.layers import SelectFeatures
from lib.models.networks.resnet1d import pooled_residual_blocks


def build_beat_rr_classifier(
    *,
    beat_length: int = 187,
    rr_features: int = 9,
    beat_samples: int | None = None,
    rr_indices: Sequence[int] | None = None,
    num_classes: int = 5,
    filters: int = 32,
    kernel_size: int = 5,
    residual_blocks: int = 3,
    rr_units: int = 16,
    rr_layers: int = 1,
    dense_units: int = 64,
    dropout: float = 0.2,
    optimizer: Any = "adam",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.004,
    seed: int | None = None,
) -> keras.Model:
    """Two-branch beat classifier: a 1-D convolutional branch on the beat, a dense branch
    on its RR-interval features, merged before the softmax.

    The input is one row per beat, the beat's ``beat_length`` samples followed by its
    ``rr_features`` RR features (:meth:`BeatRRHyperModel.pack` builds it), so that
    resampling, folds and the tuning engine handle a single array; the model splits the
    row with :class:`SelectFeatures` layers into its two inputs:

    - beat branch: the first ``beat_samples`` samples as a ``(beat_samples, 1)``
      sequence -> ``Conv1D(filters, kernel_size)`` -> ``residual_blocks`` pooled residual
      blocks (as :func:`build_cnn1d_resnet`, max-pooling 5 with stride 2) -> global
      average pooling;
    - RR branch: the columns ``rr_indices`` of the RR features -> ``rr_layers`` ×
      ``Dense(rr_units, relu)``;
    - merged: concatenate -> ``Dense(dense_units, relu)`` -> ``Dropout`` -> softmax.

    Args:
        beat_length: samples per beat in the input row.
        rr_features: RR features after the beat in the input row.
        beat_samples: samples of the beat the convolutional branch sees, from the
            R-peak on (None: all ``beat_length``).
        rr_indices: which of the ``rr_features`` columns the RR branch uses, counted
            from the first RR column (None: all).
        num_classes: number of beat classes.
        filters: convolution filters.
        kernel_size: convolution kernel length.
        residual_blocks: pooled residual blocks (0 allowed).
        rr_units: width of the RR branch's dense layers.
        rr_layers: number of dense layers of the RR branch (0: the features go straight
            to the merge).
        dense_units: width of the dense layer after the merge.
        dropout: dropout rate after that layer.
        optimizer: optimizer name or instance.
        learning_rate: learning rate.
        weight_decay: weight decay for ``adamw``.
        seed: seeds initializers and dropout.

    Returns:
        The compiled ``keras.Model`` taking ``(batch, beat_length + rr_features)``.

    Raises:
        ValueError: ``beat_samples`` outside ``[1, beat_length]``, RR indices outside
            ``[0, rr_features)``, or negative sizes.
    """
    beat_samples, rr_indices = _check_arguments(beat_length, rr_features, beat_samples, rr_indices)
    check_counts(residual_blocks=residual_blocks, rr_layers=rr_layers)
    seeds = Seeds(seed)
    inputs = keras.Input(shape=(beat_length + rr_features,), name="beat_and_rr")
    beat = _beat_branch(
        inputs,
        beat_samples=beat_samples,
        filters=filters,
        kernel_size=kernel_size,
        residual_blocks=residual_blocks,
        seeds=seeds,
    )
    rr = _rr_branch(
        inputs,
        columns=[beat_length + i for i in rr_indices],
        units=rr_units,
        layers_count=rr_layers,
        seeds=seeds,
    )
    x = layers.Concatenate()([beat, rr])
    x = dense_stack(x, [dense_units], "relu", seeds=seeds, dropout=dropout)
    return finish(
        inputs,
        x,
        name="beat_rr_classifier",
        seeds=seeds,
        num_classes=num_classes,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
    )


def _check_arguments(
    beat_length: int,
    rr_features: int,
    beat_samples: int | None,
    rr_indices: Sequence[int] | None,
) -> tuple[int, list[int]]:
    """Checks the input layout; returns ``beat_samples`` and ``rr_indices`` with defaults."""
    if beat_length < 1 or rr_features < 1:
        raise ValueError(
            f"need beat_length >= 1 and rr_features >= 1, got {beat_length} and {rr_features}"
        )
    beat_samples = beat_length if beat_samples is None else int(beat_samples)
    if not 1 <= beat_samples <= beat_length:
        raise ValueError(
            f"beat_samples must lie in [1, {beat_length}] (the beat length), got {beat_samples}"
        )
    rr_indices = list(range(rr_features)) if rr_indices is None else [int(i) for i in rr_indices]
    if not rr_indices or min(rr_indices) < 0 or max(rr_indices) >= rr_features:
        raise ValueError(
            f"rr_indices must be a non-empty list of columns in [0, {rr_features}), got "
            f"{rr_indices}"
        )
    return beat_samples, rr_indices


def _beat_branch(
    inputs,
    *,
    beat_samples: int,
    filters: int,
    kernel_size: int,
    residual_blocks: int,
    seeds: Seeds,
):
    """The first ``beat_samples`` columns as a sequence -> Conv1D -> pooled residual blocks
    (max-pooling 5, stride 2) -> global average pooling."""
    beat = SelectFeatures(range(beat_samples), name="beat")(inputs)
    beat = layers.Reshape((beat_samples, 1))(beat)
    x = layers.Conv1D(filters, kernel_size, padding="same", **seeds.kernel())(beat)
    x = pooled_residual_blocks(
        x,
        blocks=residual_blocks,
        filters=filters,
        kernel_size=kernel_size,
        pool_size=5,
        pool_strides=2,
        seeds=seeds,
    )
    return layers.GlobalAveragePooling1D()(x)


def _rr_branch(inputs, *, columns: list[int], units: int, layers_count: int, seeds: Seeds):
    """The RR columns -> ``layers_count`` × ``Dense(units, relu)``."""
    rr = SelectFeatures(columns, name="rr_features")(inputs)
    return dense_stack(rr, [units] * layers_count, "relu", seeds=seeds)
