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
    assert "epoch 2" in loss_ax.get_title()
    plt.close(fig)
    with pytest.raises(ParameterError, match="loss"):
        plot_history({"accuracy": [0.5]})


def test_confusion_matrix_rows_are_recalls():
    ax = plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    values = [float(text.get_text()) for text in ax.texts]
    assert values == [0.5, 0.5, 0.0, 1.0]  # row "a": half right; row "b": all right
    plt.close(ax.figure)


def test_importing_plots_applies_the_book_style():
    from helpers.plots import BOOK_STYLE, COLORBLIND

    assert matplotlib.rcParams["xtick.labelsize"] == BOOK_STYLE["xtick.labelsize"]
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == COLORBLIND
    assert matplotlib.rcParams["figure.figsize"][0] <= 6.8  # a default figure fits the 688 px column


def test_legible_fontsize_follows_the_page_rule():
    from helpers.plots import COLUMN_PX, MIN_TEXT_PX, legible_fontsize

    narrow = plt.figure(figsize=(5, 3), dpi=100)  # shown at its pixel size: the style's minimum suffices
    assert legible_fontsize(narrow) == matplotlib.rcParams["xtick.labelsize"]
    wide = plt.figure(figsize=(14, 3), dpi=100)  # shrunk to the column: the text must grow with the width
    points = legible_fontsize(wide)
    assert points * 100 / 72 * COLUMN_PX / 1400 >= MIN_TEXT_PX - 0.05
    assert points == pytest.approx(14 * MIN_TEXT_PX * 72 / COLUMN_PX, abs=0.1)
    plt.close("all")


def test_confusion_matrix_numbers_are_legible_in_a_wide_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), dpi=100)
    plot_confusion_matrix([0, 1], [0, 1], ["a", "b"], ax=left)
    size = left.texts[0].get_fontsize()
    assert size * 100 / 72 * 688 / 1200 >= 9.95
    own = plot_confusion_matrix([0, 1, 2], [0, 1, 1], ["a", "b", "c"])
    assert own.figure.get_figwidth() <= 6.8  # shown at its pixel size
    assert own.texts[0].get_fontsize() >= matplotlib.rcParams["xtick.labelsize"]
    plt.close("all")
