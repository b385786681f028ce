"""The report's networks on Spotify's audio features: a dense network, a 1D CNN, recurrent networks.

Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``), which defines
:func:`build_dense`, :func:`build_cnn1d` and :func:`build_rnn` in its own cells.

Every builder follows the package's contract ``build_x(input_shape, n_classes, *, options)`` and
returns an *uncompiled* Keras model whose output has shape ``(None, n_classes)`` (softmax). The
dense network reads a feature vector ``(n_features,)``; the others read it as a sequence
``(steps, channels)`` — see :func:`helpers.tabular.as_sequence`. Compile and train them with
:func:`helpers.training.fit_model` (or ``model.compile`` / ``model.fit``, as the chapter first does).

Keras is imported at the top, quietly (TensorFlow's C++ start-up notices are kept out of notebook
outputs by :func:`helpers.backend.import_tensorflow`).
"""

from __future__ import annotations

from helpers.backend import import_tensorflow
from helpers.config import SPOTIFY_GENRES
from helpers.errors import ParameterError
from helpers.models.shapes import check_input_shape

import_tensorflow()

import keras  # noqa: E402  (after the quiet TensorFlow import)
from keras import layers  # noqa: E402

#: The six playlist genres of the Spotify table.
N_CLASSES = len(SPOTIFY_GENRES)


def build_dense(input_shape, n_classes=N_CLASSES, *, hidden=(256, 128, 64), dropout=0.3):
    """A fully connected network on the feature vector (the book's first model; the report has none).

    Notebook: chapters/01_spotify_baseline.ipynb

    Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``). With
    ``dropout=0`` and wide layers it overfits within a few epochs — the chapter uses that to show
    learning curves.

    Parameters
    ----------
    input_shape : int or (n_features,)
        Length of the input vector.
    n_classes : int
        Output classes (softmax).
    hidden : sequence of int
        Units of each hidden ``Dense`` + ReLU layer.
    dropout : float
        Dropout after each hidden layer (0 for none).

    Returns
    -------
    keras.Model
        Uncompiled; input ``(None, n_features)``, output ``(None, n_classes)``.
    """
    shape = check_input_shape(input_shape, 1, "build_dense")
    if not hidden:
        raise ParameterError("build_dense: hidden needs at least one layer size")
    stack = [keras.Input(shape)]
    for units in hidden:
        stack.append(layers.Dense(units, activation="relu"))
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(stack, name="dense")


def build_cnn1d(input_shape, n_classes=N_CLASSES, *, filters=(32, 64), kernel_size=3, dense=128, dropout=0.3):
    """A 1D CNN over the features read as a sequence: Conv1D (+ MaxPooling1D) blocks, then dense.

    Notebook: chapters/01_spotify_baseline.ipynb

    Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``), with why
    sliding one filter over unordered features is an odd fit.

    Parameters
    ----------
    input_shape : (steps, channels)
        E.g. ``(12, 1)``, or ``(12, 13)`` with the one-hot position channels of
        :func:`helpers.tabular.as_sequence`.
    n_classes : int
        Output classes (softmax).
    filters : sequence of int
        Filters of each ``Conv1D`` (ReLU, ``same`` padding); every block but the last is followed
        by ``MaxPooling1D(2)`` (while the sequence is at least 2 long).
    kernel_size : int
        Width of the convolution windows.
    dense, dropout : int, float
        Units of the dense layer after flattening, and the dropout after it.

    Returns
    -------
    keras.Model
        Uncompiled; output ``(None, n_classes)``.
    """
    steps, channels = check_input_shape(input_shape, 2, "build_cnn1d")
    if not filters:
        raise ParameterError("build_cnn1d: filters needs at least one convolution")
    stack = [keras.Input((steps, channels))]
    for i, n in enumerate(filters):
        stack.append(layers.Conv1D(n, kernel_size, padding="same", activation="relu"))
        if i < len(filters) - 1 and steps >= 2:
            stack.append(layers.MaxPooling1D(2))
            steps //= 2
    stack += [layers.Flatten(), layers.Dense(dense, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(stack, name="cnn1d")


def build_rnn(input_shape, n_classes=N_CLASSES, *, cell="lstm", units=64, bidirectional=False, dense=64,
              dropout=0.3):
    """A recurrent network (LSTM or GRU) reading the features one after another, then a dense head.

    Notebook: chapters/01_spotify_baseline.ipynb

    Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``). The
    sequences are short (12 steps), so the recurrent layer is unrolled: faster on a CPU.

    Parameters
    ----------
    input_shape : (steps, channels)
        E.g. ``(12, 1)`` or ``(12, 13)`` (see :func:`helpers.tabular.as_sequence`).
    n_classes : int
        Output classes (softmax).
    cell : {"lstm", "gru"}
        The recurrent layer.
    units : int
        Units of the recurrent layer (per direction).
    bidirectional : bool
        Read the sequence both ways (``keras.layers.Bidirectional``).
    dense, dropout : int, float
        The dense head after the recurrent layer.

    Returns
    -------
    keras.Model
        Uncompiled; output ``(None, n_classes)``.
    """
    steps, channels = check_input_shape(input_shape, 2, "build_rnn")
    cells = {"lstm": layers.LSTM, "gru": layers.GRU}
    if cell not in cells:
        raise ParameterError(f"build_rnn: cell must be one of {sorted(cells)}, got {cell!r}")
    recurrent = cells[cell](units, unroll=True)
    if bidirectional:
        recurrent = layers.Bidirectional(recurrent)
    stack = [keras.Input((steps, channels)), recurrent, layers.Dense(dense, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(stack, name=("bi" if bidirectional else "") + cell)
