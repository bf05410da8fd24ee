"""Tests of lib.plots: what each figure draws, saving, errors (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix as sk_confusion_matrix  # noqa: E402

from lib import plots  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_training_curves_from_history_dict_and_save(tmp_path):
    history = {
        "loss": [1.0, 0.6, 0.4],
        "val_loss": [1.1, 0.8, 0.7],
        "accuracy": [0.5, 0.7, 0.8],
        "val_accuracy": [0.4, 0.6, 0.65],
        "learning_rate": [0.01, 0.01, 0.001],
    }
    target = tmp_path / "figures" / "study" / "curves.png"
    fig = plots.training_curves(history, title="run", save=target)
    assert len(fig.axes) == 2  # loss and accuracy; the learning rate is not a curve
    np.testing.assert_allclose(_line(fig.axes[0], "val_loss").get_ydata(), history["val_loss"])
    np.testing.assert_allclose(_line(fig.axes[1], "accuracy").get_xdata(), [1, 2, 3])
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def test_training_curves_from_frame_on_given_axes():
    frame = pd.DataFrame({"loss": [3.0, 2.0], "val_loss": [3.5, 2.5], "mae": [1.0, 0.9]})
    fig, ax = plt.subplots()
    returned = plots.training_curves(frame, metrics=["loss"], ax=ax)
    assert returned is fig
    assert {line.get_label() for line in ax.get_lines()} == {"loss", "val_loss"}
    with pytest.raises(ValueError, match="not in the history"):
        plots.training_curves(frame, metrics=["accuracy"])


def test_training_curves_accepts_a_keras_history_like_object():
    class History:
        history = {"loss": [0.3, 0.2]}

    fig = plots.training_curves(History())
    np.testing.assert_allclose(_line(fig.axes[0], "loss").get_ydata(), [0.3, 0.2])


def test_confusion_matrix_counts_and_normalisation(tmp_path):
    y_true = np.array([0, 0, 1, 1, 1, 2])
    probabilities = np.eye(3)[[0, 1, 1, 1, 2, 2]] * 0.8 + 0.05
    fig = plots.confusion_matrix(
        y_true, probabilities, display_labels=["N", "S", "V"], save=tmp_path / "cm.png"
    )
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(image, sk_confusion_matrix(y_true, probabilities.argmax(1)))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["N", "S", "V"]
    assert (tmp_path / "cm.png").exists()

    normalised = plots.confusion_matrix(y_true, probabilities.argmax(1), normalize="true")
    np.testing.assert_allclose(normalised.axes[0].images[0].get_array().sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="normalize"):
        plots.confusion_matrix(y_true, y_true, normalize="rows")


def _trials():
    rng = np.random.default_rng(0)
    grid = pd.MultiIndex.from_product(
        [[16, 32, 64], [0.001, 0.01], ["a", "b"]], names=["units", "learning_rate", "other"]
    ).to_frame(index=False)
    grid["val_accuracy"] = rng.random(len(grid))
    grid["val_loss"] = rng.random(len(grid))
    grid["seconds"] = rng.uniform(1, 5, len(grid))
    grid["trial"] = np.arange(len(grid))
    return grid


def test_trial_heatmap_shows_best_per_cell():
    frame = _trials()
    fig = plots.trial_heatmap(frame, x="units", y="learning_rate", value="val_accuracy")
    expected = frame.pivot_table(
        index="learning_rate", columns="units", values="val_accuracy", aggfunc="max"
    )
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected.to_numpy())
    # a loss is minimised, so its best is the minimum
    loss_fig = plots.trial_heatmap(frame, x="units", y="learning_rate", value="val_loss")
    expected_loss = frame.pivot_table(
        index="learning_rate", columns="units", values="val_loss", aggfunc="min"
    )
    np.testing.assert_allclose(loss_fig.axes[0].images[0].get_array(), expected_loss.to_numpy())
    with pytest.raises(ValueError, match="does not have"):
        plots.trial_heatmap(frame, x="units", y="batch_size", value="val_loss")
    with pytest.raises(ValueError, match="aggregate"):
        plots.trial_heatmap(frame, x="units", y="learning_rate", value="val_loss", aggregate="sum")


def test_parallel_coordinates_scales_each_axis(tmp_path):
    frame = _trials()
    fig = plots.parallel_coordinates(
        frame, ["units", "learning_rate", "other"], "val_accuracy", save=tmp_path / "pc.png"
    )
    collection = fig.axes[0].collections[0]
    segments = collection.get_segments()
    assert len(segments) == len(frame)
    # the best trial is drawn last (on top) and its units are scaled to [0, 1]
    best = frame.loc[frame["val_accuracy"].idxmax()]
    top = segments[-1]
    assert top[0, 1] == pytest.approx((best["units"] - 16) / (64 - 16))
    assert top[2, 1] == pytest.approx(0.0 if best["other"] == "a" else 1.0)
    np.testing.assert_allclose(sorted(collection.get_array()), sorted(frame["val_accuracy"]))
    assert (tmp_path / "pc.png").exists()
    with pytest.raises(ValueError, match="does not have"):
        plots.parallel_coordinates(frame, ["dropout"], "val_accuracy")


def test_parallel_coordinates_log_scale():
    frame = pd.DataFrame({"learning_rate": [0.001, 0.01, 0.1], "val_loss": [0.3, 0.2, 0.1]})
    automatic = plots.parallel_coordinates(frame, ["learning_rate"], "val_loss")
    heights = sorted(segment[0, 1] for segment in automatic.axes[0].collections[0].get_segments())
    np.testing.assert_allclose(heights, [0.0, 0.5, 1.0])
    linear = plots.parallel_coordinates(frame, ["learning_rate"], "val_loss", log_scale=[])
    heights = sorted(segment[0, 1] for segment in linear.axes[0].collections[0].get_segments())
    np.testing.assert_allclose(heights, [0.0, (0.01 - 0.001) / (0.1 - 0.001), 1.0])
    with pytest.raises(ValueError, match="log scale"):
        plots.parallel_coordinates(
            frame.assign(learning_rate=[0.0, 0.1, 1.0]),
            ["learning_rate"],
            "val_loss",
            log_scale=["learning_rate"],
        )


def test_best_so_far_by_trial_and_seconds():
    frame = _trials()
    other = frame.assign(val_loss=frame["val_loss"][::-1].to_numpy())
    fig = plots.best_so_far({"grid": frame, "tpe": other}, x="trial", value="val_loss")
    grid_line = _line(fig.axes[0], "grid")
    np.testing.assert_allclose(grid_line.get_ydata(), np.minimum.accumulate(frame["val_loss"]))

    by_time = plots.best_so_far({"grid": frame}, x="seconds", value="val_accuracy")
    line = _line(by_time.axes[0], "grid")
    np.testing.assert_allclose(line.get_xdata(), np.cumsum(frame["seconds"]))
    np.testing.assert_allclose(line.get_ydata(), np.maximum.accumulate(frame["val_accuracy"]))


def test_best_so_far_skips_failed_trials_and_checks_input():
    frame = pd.DataFrame({"val_loss": [0.5, np.nan, 0.7, 0.2]})
    fig = plots.best_so_far({"run": frame})
    np.testing.assert_allclose(_line(fig.axes[0], "run").get_ydata(), [0.5, 0.5, 0.5, 0.2])
    with pytest.raises(ValueError, match="seconds"):
        plots.best_so_far({"run": frame}, x="seconds")
    with pytest.raises(ValueError, match="empty"):
        plots.best_so_far({})


def test_predictions_vs_truth_shows_last_points(tmp_path):
    truth = np.sin(np.linspace(0, 10, 50))
    prediction = truth[:, None] + 0.1
    fig = plots.predictions_vs_truth(truth, prediction, last=20, save=tmp_path / "p.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(_line(ax, "truth").get_ydata(), truth[-20:])
    np.testing.assert_allclose(_line(ax, "prediction").get_ydata(), prediction[-20:, 0])
    np.testing.assert_array_equal(_line(ax, "truth").get_xdata(), np.arange(30, 50))
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="same length"):
        plots.predictions_vs_truth(truth, truth[:-1])
