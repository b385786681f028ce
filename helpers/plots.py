"""The book's figure style, and figures shared by several chapters: training curves and confusion matrices.

**The book style is applied when this module is imported** (``import helpers.plots``): every chapter
that draws a figure imports it, so all figures share one set of font sizes and one colour-blind-safe
palette, and no chapter sets font sizes of its own. The sizes follow the page: a figure is shown at its
pixel size in the article column (688 CSS px wide), or shrunk to the column when it is wider, so text of
``points`` in a figure ``inches`` wide saved at ``dpi`` is seen at

    points × dpi / 72 × displayed width / (inches × dpi)        CSS px,

at least 10 px to be legible. Once a figure is wider than the column the dpi cancels: its text needs
about 1.05 pt per inch of figure width. The style's smallest text, 11 pt, is legible in figures up to
10.5 inches wide; the default figure is 6.4 inches wide. :func:`legible_fontsize` gives the smallest
legible size for a given figure (used for the numbers in a confusion matrix).

Training curves are explained in chapter *The Spotify baseline* (watching overfitting), confusion
matrices in chapter *Evaluation*. Chapter-specific figures stay in their chapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

from helpers.errors import ParameterError

#: Smallest legible text on the page (CSS px) and the article column's width (CSS px).
MIN_TEXT_PX = 10.0
COLUMN_PX = 688

#: seaborn's "colorblind" palette (Wong-style colours that colour-blind readers can tell apart).
COLORBLIND = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
              "#ece133", "#56b4e9"]

#: The book's matplotlib style (rcParams), applied on import.
BOOK_STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 12,
    "figure.figsize": (6.4, 4.0),
    "axes.prop_cycle": cycler(color=COLORBLIND),
    "image.cmap": "viridis",
}

mpl.rcParams.update(BOOK_STYLE)


def legible_fontsize(fig) -> float:
    """Smallest font size (pt) whose text in ``fig`` is seen at ``MIN_TEXT_PX`` on the page.

    Never smaller than the style's tick labels. A figure wider than the column is shrunk to it, so
    its text must grow with its width (about 1.05 pt per inch).
    """
    width_in = fig.get_figwidth()
    dpi = fig.get_dpi()
    width_px = width_in * dpi
    needed = MIN_TEXT_PX * 72.0 / dpi * width_px / min(width_px, COLUMN_PX)
    smallest = mpl.font_manager.FontProperties(size=mpl.rcParams["xtick.labelsize"]).get_size_in_points()
    return round(max(needed, smallest), 1)


def plot_history(history, title: str = "", axes=None):
    """Plot training and validation accuracy and loss per epoch, side by side.

    Explained in chapter *The Spotify baseline*; used again for the CNN and the LSTM.

    Parameters
    ----------
    history : keras.callbacks.History or Mapping[str, Sequence[float]]
        A Keras ``History`` (or its ``.history`` dict) with ``loss``/``accuracy`` and optionally
        ``val_loss``/``val_accuracy``.
    title : str
        Figure title (say which model, data and split).
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new 1×2 figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if "loss" not in logs:
        raise ParameterError(f"history has no 'loss' entry (keys: {sorted(logs)})")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    else:
        fig = axes[0].figure
    epochs = np.arange(1, len(logs["loss"]) + 1)
    for ax, metric, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "loss", "cross-entropy loss")):
        for prefix, name, style in (("", "training", "-"), ("val_", "validation", "--")):
            key = prefix + metric
            if key in logs:
                ax.plot(epochs, logs[key], style, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    if "val_loss" in logs:
        best = int(np.argmin(logs["val_loss"])) + 1
        for ax in axes:
            ax.axvline(best, color="grey", lw=0.8, ls=":")
        axes[1].set_title(f"dotted: lowest validation loss (epoch {best})",
                          fontsize=mpl.rcParams["axes.labelsize"])  # a title never covers a curve
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(y_true, y_pred, labels: Sequence[str], title: str = "", normalize: bool = True, ax=None):
    """Draw a confusion matrix as a seaborn heatmap with class names.

    Explained in chapter *Evaluation*.

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices (positions in ``labels``).
    labels : sequence of str
        Class names, in index order.
    title : str
        Axes title (say which model, data and split).
    normalize : bool
        Show each row as fractions of the true class (recall on the diagonal); else counts.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(labels)))
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = matrix / matrix.sum(axis=1, keepdims=True)
        matrix = np.nan_to_num(matrix)
    if ax is None:
        size = min(0.45 * len(labels) + 1.5, 6.0)  # at most 6.8 in wide: shown at its pixel size
        _, ax = plt.subplots(figsize=(size + 0.8, size), constrained_layout=True)
    sns.heatmap(matrix, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", cbar=False,
                xticklabels=labels, yticklabels=labels, ax=ax, vmin=0, square=True,
                annot_kws={"fontsize": legible_fontsize(ax.figure)})
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    if title:
        ax.set_title(title)
    return ax
