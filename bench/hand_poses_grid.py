"""Study 4's stacked grid, the first N configurations: the engine's cost per finished trial.

Notebook 04's exhaustive grid (``FeatureSubsetMLPHyperModel``, 502 feature subsets x 24
architectures = 12,048 configurations, ``executor="stacked"``, ``memory_budget_mb=2048``,
``keep_models=1``, 18 epochs with early stopping after 4) on the notebook's own data
preparation (hand poses, duplicates dropped, stratified 60/20/20 split, quantile scaling
fitted on the training rows), limited to its first ``--configurations`` grid points
(``max_trials``). The networks train in stacks; what grows with the number of finished
trials is the engine's bookkeeping (store, oracle, kept model), so a cost that grows with
the search shows as time per configuration rising with N.

Prints one JSON line: configurations, seconds, configurations per second, load average,
and a digest of every configuration's objective and epochs run (equal digests: equal
results, e.g. between two commits).

Usage (real data, from the repository root)::

    LIB_DATA_DIR=../shared/data .venv/bin/python bench/hand_poses_grid.py --configurations 3000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configurations", type=int, default=3000, help="first grid points run (12,048 in all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import QuantileTransformer

    import lib
    from lib.datasets import load_hand_poses
    from lib.models import FeatureSubsetMLPHyperModel
    from lib.tuning import GridSearch

    seed = args.seed
    lib.set_seed(seed)
    frame = load_hand_poses()
    features = [column for column in frame.columns if column != "class"]
    classes = sorted(frame["class"].unique())
    unique = frame.drop_duplicates().reset_index(drop=True)
    x = unique[features].to_numpy(dtype="float32")
    y = unique["class"].map({pose: i for i, pose in enumerate(classes)}).to_numpy()
    x_rest, _, y_rest, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
    )
    scaler = QuantileTransformer(
        output_distribution="normal", n_quantiles=1000, random_state=seed
    ).fit(x_train)
    x_train, x_val = (scaler.transform(a).astype("float32") for a in (x_train, x_val))

    model = FeatureSubsetMLPHyperModel(
        features,
        num_classes=len(classes),
        seed=seed,
        layers=(1, 2),
        units=(8, 16, 32),
        activation=("relu", "tanh"),
        dropout=(0.0,),
        learning_rate=(0.01, 0.003),
        batch_size=(128,),
        subset_choice=True,
    )
    grid = GridSearch(
        model,
        objective="val_accuracy",
        seed=seed,
        executor="stacked",
        memory_budget_mb=2048,
        keep_models=1,
        directory=tempfile.mkdtemp(),
        project_name="exhaustive",
        overwrite=True,
        max_trials=args.configurations,
    )
    start = time.perf_counter()
    grid.search(
        x_train, y_train, validation_data=(x_val, y_val), epochs=18, early_stopping=4, verbose=0
    )
    seconds = time.perf_counter() - start
    results = grid.results
    rows = results[["objective", "epochs_run"]].to_csv(index=False).encode()
    print(
        json.dumps(
            {
                "configurations": len(results),
                "seconds": round(seconds, 1),
                "per_second": round(len(results) / seconds, 1),
                "load_average": round(os.getloadavg()[0], 2),
                "results_digest": hashlib.sha256(rows).hexdigest()[:16],
            }
        )
    )


if __name__ == "__main__":
    main()
