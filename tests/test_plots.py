"""Tests for helpers.plots (training curves, confusion matrices)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.errors import ParameterError  # noqa: E402
from helpers.plots import plot_confusion_matrix, plot_history  # noqa: E402


def test_plot_history_marks_the_epoch_of_lowest_validation_loss():
    logs = {"loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [1.1, 0.7, 0.9, 1.0],
            "accuracy": [0.3, 0.5, 0.7, 0.8], "val_accuracy": [0.2, 0.6, 0.5, 0.5]}
    fig = plot_history(logs, title="t")
    accuracy_ax, loss_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()[:2]] == ["training", "validation"]
    np.testing.assert_array_equal(loss_ax.get_lines()[1].get_ydata(), logs["val_loss"])
    marker = loss_ax.get_lines()[2]  # the vertical line at the best epoch
    assert list(marker.get_xdata()) == [2, 2]
    assert "epoch 2" in loss_ax.texts[0].get_text()
    plt.close(fig)
    with pytest.raises(ParameterError, match="loss"):
        plot_history({"accuracy": [0.5]})


def test_confusion_matrix_rows_are_recalls():
    ax = plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    values = [float(text.get_text()) for text in ax.texts]
    assert values == [0.5, 0.5, 0.0, 1.0]  # row "a": half right; row "b": all right
    plt.close(ax.figure)
