"""Epoch time of the MIT-BIH networks with and without XLA (``jit_compile``) on this CPU.

Keras resolves ``jit_compile="auto"`` to no XLA on a machine without an accelerator. This
bench trains each study-2 network (the notebook's CPU-sized configurations) through
``lib.tuning.fit_final`` on random beats shaped like MIT-BIH beats (``(187, 1)``, 5 classes,
no dataset needed), once with ``jit_compile=False`` and once with ``True``, alternating the
two ``--repeats`` times. An epoch's time is the difference between a 3-epoch and a 1-epoch
fit (so the XLA compilation and the first-epoch tracing cancel out); the 1-epoch fit time is
printed too, because it includes that one-off cost.

Prints one JSON line per network: ``model``, ``epoch_s_nojit`` / ``epoch_s_jit`` (medians),
``speedup`` (their ratio), ``first_fit_s_nojit`` / ``first_fit_s_jit``.

Usage::

    .venv/bin/python bench/xla_epoch.py --beats 16000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from lib import models, tuning  # noqa: E402


def networks(jit: bool) -> dict:
    """name -> (hypermodel, hyperparameters), the configurations of notebook 02."""
    resnet = models.CNN1DResNetHyperModel(
        seed=0, dense_units=64, resampling="random_over", reduce_lr_patience=2, jit_compile=jit
    )
    cnn2d = models.CNN2DResNetHyperModel(
        filters=16,
        seed=0,
        reshape_to=(11, 17),
        reduce_lr_patience=2,
        residual_blocks=models.Range(1, 3),
        jit_compile=jit,
    )
    gru = models.CNN1DResNetGRUHyperModel(
        filters=16,
        seed=0,
        reduce_lr_patience=2,
        gru_units=32,
        gru_layers=2,
        residual_blocks=models.Range(1, 2),
        jit_compile=jit,
    )
    return {
        "1D-ResNet": (resnet, dict(resnet.space)),
        "2D-CNN": (
            cnn2d,
            dict(
                batch_size=64,
                reduce_lr_factor=0.3,
                resampling="random_over",
                residual_blocks=3,
                dense_units=190,
                dense_layers=3,
                dropout=0.4,
                optimizer="adam",
                learning_rate=0.001,
            ),
        ),
        "1D-CNN-GRU": (
            gru,
            dict(
                batch_size=256,
                reduce_lr_factor=0.3,
                resampling="random_over",
                residual_blocks=2,
                gru_units=32,
                gru_layers=2,
                dropout=0.4,
                optimizer="adamw",
                learning_rate=0.001,
            ),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beats", type=int, default=16000, help="training beats per epoch")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per setting")
    parser.add_argument("--models", nargs="*", default=None, help="subset of network names")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.beats, 187, 1), dtype=np.float32)
    y = rng.integers(0, 5, args.beats)
    validation = (x[: args.beats // 8], y[: args.beats // 8])
    names = args.models or list(networks(False))
    for name in names:
        epoch = {False: [], True: []}
        first = {False: [], True: []}
        for _ in range(args.repeats):
            for jit in (False, True):
                hypermodel, hparams = networks(jit)[name]
                times = []
                for epochs in (1, 3):
                    start = time.perf_counter()
                    tuning.fit_final(
                        hypermodel, hparams, x, y, validation_data=validation, epochs=epochs, seed=0
                    )
                    times.append(time.perf_counter() - start)
                first[jit].append(times[0])
                epoch[jit].append((times[1] - times[0]) / 2)
        nojit, jit = statistics.median(epoch[False]), statistics.median(epoch[True])
        print(
            json.dumps(
                {
                    "model": name,
                    "beats": args.beats,
                    "epoch_s_nojit": round(nojit, 2),
                    "epoch_s_jit": round(jit, 2),
                    "speedup": round(nojit / jit, 2),
                    "first_fit_s_nojit": round(statistics.median(first[False]), 2),
                    "first_fit_s_jit": round(statistics.median(first[True]), 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
