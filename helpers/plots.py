"""Figures shared by several chapters: training curves and confusion matrices.

Training curves are explained in chapter *The Spotify baseline* (watching overfitting), confusion
matrices in chapter *Evaluation*. Chapter-specific figures stay in their chapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers.errors import ParameterError


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
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
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
        ax.legend()
    if "val_loss" in logs:
        best = int(np.argmin(logs["val_loss"])) + 1
        for ax in axes:
            ax.axvline(best, color="grey", lw=0.8, ls=":")
        axes[1].annotate(f"lowest validation loss\n(epoch {best})", (best, float(np.min(logs["val_loss"]))),
                         textcoords="offset points", xytext=(8, 12), fontsize=8)
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
        size = 0.55 * len(labels) + 2
        _, ax = plt.subplots(figsize=(size + 1, size), constrained_layout=True)
    sns.heatmap(matrix, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", cbar=False,
                xticklabels=labels, yticklabels=labels, ax=ax, vmin=0, square=True,
                annot_kws={"fontsize": 8})
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    if title:
        ax.set_title(title)
    return ax
