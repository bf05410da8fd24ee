"""Inter-patient MIT-BIH study (issue 24): beat + RR intervals, chosen on DS1, scored on DS2.

De Chazal et al. (2004): train on the 22 records of DS1, test on the 22 of DS2 (paced
records left out). Everything that is chosen is chosen inside DS1, with folds grouped by
record (``StratifiedGroupKFold``, so a validation fold holds only patients its training
fold never saw); DS2 is scored once, at the end.

1. Beats and their RR features (``load_heartbeat(..., rr=True)``); the two-branch model's
   input rows are ``BeatRRHyperModel.pack(beats, rr)``.
2. Grouped-fold grid search of ``BeatRRHyperModel`` on a seeded subset of DS1's beats
   (``--search-fraction`` of every record; groups kept): class weighting {none, sqrt,
   balanced} x RR features {relative, all} x beat samples {94, 187}, no resampling (full
   oversampling to the size of N would multiply the epoch time by about four). Objective:
   the folds' mean validation macro F1.
3. The best configuration trained on all of DS1 (``--final-epochs``), ``--seeds`` times with
   ``fit_final`` seeds ``seed, seed + 1, ...`` (batch order; the initial weights come from
   the hypermodel's ``--seed``), their class probabilities averaged, then scored on DS2.
4. Baselines on the same DS2 beats: always N (DS1's majority class); histogram gradient
   boosting on every 4th sample of the same beat span + the same RR features, its class
   weighting and RR subset chosen on the same grouped folds of the same subset; the RR-free
   model of notebook 02 (the pooled 1-D ResNet of Kachuee et al., minorities raised to
   3,000 beats with SMOTE, 3 epochs).

Prints a readable table to stderr and one JSON line to stdout: per model the AAMI report of
``lib.evaluation.per_class_report`` (5 classes; and without Q), plus the chosen
hyperparameters and the grouped-fold tables.

Usage (real data, from the repository root)::

    LIB_DATA_DIR=../shared/data nice -n 10 .venv/bin/python bench/heartbeat_interpatient.py
    LIB_DATA_DIR=../shared/data .venv/bin/python bench/heartbeat_interpatient.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402

from lib import evaluation, models, resampling, tuning  # noqa: E402
from lib.datasets.heartbeat import (  # noqa: E402
    CLASSES,
    RR_FEATURES,
    beat_morphology_features,
    load_heartbeat,
)

SEARCH_SPACE = dict(
    class_weighting=("none", "sqrt", "balanced"),
    rr_features=("relative", "all"),
    beat_samples=(94, 187),
    resampling="none",
)


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def report(y_true, predicted) -> dict:
    return evaluation.per_class_report(y_true, predicted, class_names=CLASSES, exclude=("Q",))


def grouped_folds(y, groups, k, seed):
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in splitter.split(np.zeros(len(y)), y, groups)]


def rr_columns(subset: str) -> list[int]:
    names = [n for n in RR_FEATURES if subset == "all" or "_to_" in n]
    return [RR_FEATURES.index(n) for n in names]


def boosting_features(beats, rr, beat_samples, subset):
    return np.hstack([beats[:, :beat_samples:4], rr[:, rr_columns(subset)]])


def boosting(x_train, y_train, x_test, weighting, seed):
    weights = models.weighted_classes(y_train, len(CLASSES), weighting)
    return evaluation.gradient_boosting_baseline(
        x_train,
        y_train,
        x_test,
        seed=seed,
        class_weight=weights,
        max_iter=150,
        max_leaf_nodes=15,
        early_stopping=False,
    )


# --- the feature pipeline: RR ratios + the beat relative to its record's median beat

FEATURE_SETS = ("relative RR + beat", "relative RR + morphology")
N_KEPT = 0.25  # share of the N beats each boosting fit keeps (training beats only)


def feature_rows(feature_set, beats, records, rr):
    relative = rr[:, rr_columns("relative")]
    if feature_set == "relative RR + beat":
        return np.hstack([relative, beats[:, :94:3]])
    return np.hstack([relative, beat_morphology_features(beats, records)])


def thinned_boosting(x_train, y_train, x_test, weighting, seed, *, probabilities=False):
    """Boosting on the training beats with 1 - N_KEPT of the N beats dropped at random."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x_kept, y_kept = resampling.drop_windows(x_train, y_train, 0, 1 - N_KEPT, seed=seed)
    model = HistGradientBoostingClassifier(
        max_iter=100,
        max_leaf_nodes=15,
        early_stopping=False,
        random_state=seed,
        class_weight=models.weighted_classes(y_kept, len(CLASSES), weighting),
    )
    model.fit(x_kept, y_kept)
    return model.predict_proba(x_test) if probabilities else model.predict(x_test)


def choose_features(features, y, folds, seed):
    """Pooled out-of-fold macro F1 of every (feature set, weighting) on DS1's grouped folds."""
    table = {}
    for feature_set, x in features.items():
        for weighting in ("sqrt", "balanced"):
            predicted = np.zeros(len(y), dtype=np.int64)
            for tr, va in folds:
                predicted[va] = thinned_boosting(x[tr], y[tr], x[va], weighting, seed)
            row = report(y, predicted)
            key = f"{feature_set} / {weighting}"
            table[key] = {
                "macro_f1": round(row["macro_f1"], 4),
                "accuracy": round(row["accuracy"], 4),
                "Se_S": round(row["recall"]["S"], 4),
                "P_S": round(row["precision"]["S"], 4),
                "Se_V": round(row["recall"]["V"], 4),
                "P_V": round(row["precision"]["V"], 4),
            }
            log(f"DS1 folds, boosting {key}: {table[key]}")
    return table


def print_table(y2, rows) -> None:
    log(f"\nDS2 ({len(y2):,} beats), Se = recall, +P = precision:")
    header = (
        "model".ljust(34) + " acc   mF1   mF1-4 " + " ".join(f"Se{c}   +P{c} " for c in CLASSES)
    )
    log(header)
    for name, row in rows.items():
        cells = " ".join(f"{row['recall'][c]:.3f} {row['precision'][c]:.3f}" for c in CLASSES)
        log(
            f"{name:34s} {row['accuracy']:.3f} {row['macro_f1']:.3f} "
            f"{row['macro_f1_without']:.3f} {cells}"
        )


def boosting_only(args, start, ds1, ds2) -> None:
    """The feature pipeline alone: chosen on DS1's grouped folds, scored once on DS2."""
    (x1, y1, r1, rr1), (x2, y2, r2, rr2) = ds1, ds2
    folds = grouped_folds(y1, r1, args.feature_folds, args.seed)
    features1 = {name: feature_rows(name, x1, r1, rr1) for name in FEATURE_SETS}
    table = choose_features(features1, y1, folds, args.seed)
    choice = max(table, key=lambda key: table[key]["macro_f1"])
    feature_set, weighting = choice.split(" / ")
    log(f"chosen on DS1 folds: {choice}")
    predicted = thinned_boosting(
        features1[feature_set], y1, feature_rows(feature_set, x2, r2, rr2), weighting, args.seed
    )
    rows = {
        f"boosting, {choice}": report(y2, predicted),
        "always N": report(y2, evaluation.majority_class_baseline(y1, len(y2))),
    }
    print_table(y2, rows)
    print(
        json.dumps(
            {
                "quick": args.quick,
                "fold_table": table,
                "chosen": choice,
                "ds2": rows,
                "total_seconds": round(time.perf_counter() - start, 1),
                "args": vars(args),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=2, help="final models averaged")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--search-fraction", type=float, default=0.3)
    parser.add_argument("--search-epochs", type=int, default=2)
    parser.add_argument("--final-epochs", type=int, default=4)
    parser.add_argument(
        "--boosting-only",
        action="store_true",
        help="only the feature pipeline (boosting) and always N",
    )
    parser.add_argument("--feature-folds", type=int, default=5)
    parser.add_argument("--directory", default=os.path.join(ROOT, "runs", "bench_interpatient"))
    args = parser.parse_args()
    if args.quick:
        args.search_fraction, args.search_epochs, args.final_epochs, args.seeds = 0.02, 1, 1, 1
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    x1, y1, r1, rr1 = load_heartbeat("train", scheme="inter-patient", return_records=True, rr=True)
    x2, y2, r2, rr2 = load_heartbeat("test", scheme="inter-patient", return_records=True, rr=True)
    if args.quick:  # a slice of DS2 too, so the quick run stays quick
        keep = np.sort(rng.choice(len(y2), size=3000, replace=False))
        x2, y2, r2, rr2 = x2[keep], y2[keep], r2[keep], rr2[keep]
    packed1, packed2 = models.BeatRRHyperModel.pack(x1, rr1), models.BeatRRHyperModel.pack(x2, rr2)
    log(
        f"DS1 {len(y1):,} beats {np.bincount(y1, minlength=5).tolist()}, "
        f"DS2 {len(y2):,} beats {np.bincount(y2, minlength=5).tolist()}"
    )

    if args.boosting_only:
        boosting_only(args, start, (x1, y1, r1, rr1), (x2, y2, r2, rr2))
        return

    # 2. grouped-fold search on a subset of DS1 (every record keeps the same fraction)
    subset = np.sort(rng.choice(len(y1), size=int(args.search_fraction * len(y1)), replace=False))
    folds = grouped_folds(y1[subset], r1[subset], args.folds, args.seed)
    for number, (tr, va) in enumerate(folds):
        assert not np.intersect1d(r1[subset][tr], r1[subset][va]).size
        log(f"fold {number}: validation records {np.unique(r1[subset][va]).tolist()}")
    hypermodel = models.BeatRRHyperModel(
        RR_FEATURES, seed=args.seed, reduce_lr_patience=2, **SEARCH_SPACE
    )
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # trial lines: stdout keeps the JSON line
        tuner = tuning.GridSearch(
            hypermodel,
            objective="val_macro_f1",
            seed=args.seed,
            workers=0 if args.quick else 1,
            directory=args.directory,
            project_name="search-quick" if args.quick else "search",
        )
        trials = tuner.search(
            packed1[subset],
            y1[subset],
            folds=folds,
            epochs=args.search_epochs,
            batch_size=32,
            verbose=1,
        )
    search_seconds = time.perf_counter() - t
    varied = ["class_weighting", "rr_features", "beat_samples"]
    shown = trials[["trial", *varied, "objective", "val_macro_f1_std"]].sort_values(
        "objective", ascending=False
    )
    log(shown.to_string(index=False))
    best = tuner.get_best_hyperparameters(1)[0].values
    log(f"chosen on DS1 folds: {best}")

    # 3. the chosen configuration on all of DS1, scored once on DS2
    final_hypermodel = models.BeatRRHyperModel(
        RR_FEATURES,
        seed=args.seed,
        reduce_lr_patience=2,
        jit_compile=not args.quick,
        **SEARCH_SPACE,
    )
    t = time.perf_counter()
    probabilities = []
    for offset in range(args.seeds):
        model, _ = tuning.fit_final(
            final_hypermodel, best, packed1, y1, epochs=args.final_epochs, seed=args.seed + offset
        )
        probabilities.append(model.predict(packed2, batch_size=2048, verbose=0))
    final_seconds = time.perf_counter() - t
    rows = {"beat + RR (two-branch CNN)": report(y2, np.mean(probabilities, axis=0))}
    if args.seeds > 1:
        rows["beat + RR, seed 0 alone"] = report(y2, probabilities[0])

    # 4. baselines
    rows["always N"] = report(y2, evaluation.majority_class_baseline(y1, len(y2)))
    boosting_scores = {}
    beat_samples = int(best["beat_samples"])
    for weighting in SEARCH_SPACE["class_weighting"]:
        for rr_subset in SEARCH_SPACE["rr_features"]:
            features = boosting_features(x1[subset], rr1[subset], beat_samples, rr_subset)
            boosting_scores[f"{weighting}/{rr_subset}"] = float(
                np.mean(
                    [
                        report(
                            y1[subset][va],
                            boosting(
                                features[tr], y1[subset][tr], features[va], weighting, args.seed
                            ),
                        )["macro_f1"]
                        for tr, va in folds
                    ]
                )
            )
    choice = max(boosting_scores, key=boosting_scores.get)
    log(f"gradient boosting, grouped-fold macro F1 on DS1: {boosting_scores}; chosen {choice}")
    weighting, rr_subset = choice.split("/")
    rows["gradient boosting (beat + RR)"] = report(
        y2,
        boosting(
            boosting_features(x1, rr1, beat_samples, rr_subset),
            y1,
            boosting_features(x2, rr2, beat_samples, rr_subset),
            weighting,
            args.seed,
        ),
    )

    resnet = models.CNN1DResNetHyperModel(
        seed=args.seed,
        dense_units=64,
        resampling="smote",
        reduce_lr_patience=2,
        jit_compile=not args.quick,
    )
    counts = np.bincount(y1, minlength=len(CLASSES))
    target = 200 if args.quick else 3000
    strategy = {c: target for c in range(len(CLASSES)) if 0 < counts[c] < target}
    x_res, y_res = resampling.resample(
        x1[..., None], y1, method="smote", sampling_strategy=strategy, seed=args.seed, reduce_k=True
    )
    hparams = {k: v for k, v in resnet.space.items() if k != "resampling"}
    model, _ = tuning.fit_final(
        resnet, hparams, x_res, y_res, epochs=1 if args.quick else 3, seed=args.seed
    )
    rows["RR-free 1-D ResNet (notebook 02)"] = report(
        y2, model.predict(x2[..., None], batch_size=2048, verbose=0)
    )

    print_table(y2, rows)
    print(
        json.dumps(
            {
                "quick": args.quick,
                "chosen": best,
                "search_trials": shown.round(4).to_dict(orient="records"),
                "boosting_fold_macro_f1": boosting_scores,
                "boosting_chosen": choice,
                "ds2": rows,
                "search_seconds": round(search_seconds, 1),
                "final_seconds": round(final_seconds, 1),
                "total_seconds": round(time.perf_counter() - start, 1),
                "args": vars(args),
            }
        )
    )


if __name__ == "__main__":
    main()
