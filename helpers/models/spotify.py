"""The report's networks on Spotify's 12 audio features: dense, 1D CNN, LSTM, GRU, bidirectional.

Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``).

Every builder returns a compiled Keras model (Adam, categorical cross-entropy on one-hot labels,
accuracy) whose output has shape ``(None, n_classes)``. The dense network reads a feature vector
``(n_features,)``; the others read it as a sequence ``(steps, channels)`` — see
:func:`helpers.tabular.as_sequence`. :func:`fit_model` trains quietly with optional early stopping
on a validation part (taken from the training rows) and times the training.

Only chapter 1 imports this module, so Keras is imported at the top (quietly: TensorFlow's C++
start-up notices are kept out of notebook outputs by :func:`helpers.training.import_tensorflow`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from helpers.config import SPOTIFY_GENRES
from helpers.training import import_tensorflow

import_tensorflow()

import keras  # noqa: E402  (after the quiet TensorFlow import)
from keras import layers  # noqa: E402

N_CLASSES = len(SPOTIFY_GENRES)


def _compile(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _check_shape(input_shape: Sequence[int], ndim: int, builder: str) -> tuple[int, ...]:
    shape = tuple(int(n) for n in input_shape)
    if len(shape) != ndim or min(shape) < 1:
        raise ValueError(f"{builder} expects an input shape of {ndim} positive sizes, got {input_shape}")
    return shape


def _head(units: int, dropout: float, n_classes: int) -> list:
    head = [layers.Dense(units, activation="relu")]
    if dropout:
        head.append(layers.Dropout(dropout))
    head.append(layers.Dense(n_classes, activation="softmax"))
    return head


def build_dense(n_features: int = 12, hidden: Sequence[int] = (256, 128, 64), dropout: float = 0.3,
                n_classes: int = N_CLASSES, learning_rate: float = 1e-3) -> keras.Model:
    """A fully connected network on the feature vector (the report's first model).

    Explained in chapter *The Spotify baseline*. With ``dropout=0`` and wide layers it
    overfits within a few epochs — the chapter uses that to show learning curves.

    Parameters
    ----------
    n_features : int
        Length of the input vector.
    hidden : sequence of int
        Units of each hidden ``Dense`` + ReLU layer.
    dropout : float
        Dropout after each hidden layer (0 for none).
    n_classes : int
        Output classes (softmax).
    learning_rate : float
        Adam's learning rate.

    Returns
    -------
    keras.Model
        Compiled; input ``(None, n_features)``, output ``(None, n_classes)``.
    """
    (n_features,) = _check_shape((n_features,), 1, "build_dense")
    if not hidden:
        raise ValueError("build_dense needs at least one hidden layer")
    stack: list = [keras.Input((n_features,))]
    for units in hidden:
        stack.append(layers.Dense(units, activation="relu"))
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(n_classes, activation="softmax"))
    return _compile(keras.Sequential(stack, name="dense"), learning_rate)


def build_cnn1d(input_shape: Sequence[int] = (12, 1), filters: Sequence[int] = (32, 64),
                kernel_size: int = 3, dense: int = 128, dropout: float = 0.3,
                n_classes: int = N_CLASSES, learning_rate: float = 1e-3) -> keras.Model:
    """A 1D CNN over the features read as a sequence: [Conv1D + MaxPool] blocks, then dense.

    Explained in chapter *The Spotify baseline* (and why sliding one filter over 12 unordered
    features is an odd fit).

    Parameters
    ----------
    input_shape : (steps, channels)
        E.g. ``(12, 1)``, or ``(12, 13)`` with the one-hot position channels of
        :func:`helpers.tabular.as_sequence`.
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
        Compiled; output ``(None, n_classes)``.
    """
    steps, channels = _check_shape(input_shape, 2, "build_cnn1d")
    if not filters:
        raise ValueError("build_cnn1d needs at least one convolution")
    stack: list = [keras.Input((steps, channels))]
    length = steps
    for i, n in enumerate(filters):
        stack.append(layers.Conv1D(n, kernel_size, padding="same", activation="relu"))
        if i < len(filters) - 1 and length >= 2:
            stack.append(layers.MaxPooling1D(2))
            length //= 2
    stack += [layers.Flatten(), *_head(dense, dropout, n_classes)]
    return _compile(keras.Sequential(stack, name="cnn1d"), learning_rate)


def build_rnn(input_shape: Sequence[int] = (12, 1), cell: str = "lstm", units: int = 64,
              bidirectional: bool = False, dense: int = 64, dropout: float = 0.3,
              n_classes: int = N_CLASSES, learning_rate: float = 1e-3) -> keras.Model:
    """A recurrent network reading the features one after another, then a dense head.

    Explained in chapter *The Spotify baseline*. The sequences are short (12 steps), so the
    recurrent layer is unrolled: faster on a CPU.

    Parameters
    ----------
    input_shape : (steps, channels)
        E.g. ``(12, 1)`` or ``(12, 13)`` (see :func:`helpers.tabular.as_sequence`).
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
        Compiled; output ``(None, n_classes)``.
    """
    steps, channels = _check_shape(input_shape, 2, "build_rnn")
    kinds = {"lstm": layers.LSTM, "gru": layers.GRU}
    if cell not in kinds:
        raise ValueError(f"cell must be one of {sorted(kinds)}, got {cell!r}")
    recurrent = kinds[cell](units, unroll=True)
    if bidirectional:
        recurrent = layers.Bidirectional(recurrent)
    name = ("bi" if bidirectional else "") + cell
    stack = [keras.Input((steps, channels)), recurrent, *_head(dense, dropout, n_classes)]
    return _compile(keras.Sequential(stack, name=name), learning_rate)


def build_lstm(input_shape: Sequence[int] = (12, 1), **kwargs) -> keras.Model:
    """LSTM network; see :func:`build_rnn`. Explained in chapter *The Spotify baseline*."""
    return build_rnn(input_shape, cell="lstm", **kwargs)


def build_gru(input_shape: Sequence[int] = (12, 1), **kwargs) -> keras.Model:
    """GRU network; see :func:`build_rnn`. Explained in chapter *The Spotify baseline*."""
    return build_rnn(input_shape, cell="gru", **kwargs)


def build_bidirectional(input_shape: Sequence[int] = (12, 1), units: int = 32, **kwargs) -> keras.Model:
    """Bidirectional LSTM network; see :func:`build_rnn`. Explained in chapter *The Spotify baseline*."""
    return build_rnn(input_shape, cell="lstm", units=units, bidirectional=True, **kwargs)


def fit_model(model: keras.Model, x, y, validation_data=None, epochs: int = 60, batch_size: int = 256,
              patience: int | None = 8):
    """Train a compiled model quietly, with early stopping on the validation loss.

    Explained in chapter *The Spotify baseline* (overfitting and early stopping).

    Parameters
    ----------
    model : keras.Model
        A compiled model (from one of the builders).
    x, y : array-like
        Training inputs and one-hot labels.
    validation_data : (x_val, y_val), optional
        Validation part — carved from the training rows, never the test split.
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Mini-batch size.
    patience : int or None
        Stop after this many epochs without a lower validation loss and restore the best
        weights (``keras.callbacks.EarlyStopping``); ``None`` trains all epochs.

    Returns
    -------
    history : keras.callbacks.History
        Per-epoch metrics (plot with :func:`helpers.plots.plot_history`).
    seconds : float
        Training wall time.
    """
    import tensorflow as tf

    callbacks = []
    if patience is not None:
        if validation_data is None:
            raise ValueError("early stopping (patience) needs validation_data")
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                       restore_best_weights=True))
    # A tf.data pipeline rather than NumPy arrays: the same shuffled batches, and (with the
    # deterministic ops that set_seed enables) no C++ notice from Keras' array adapter.
    data = (tf.data.Dataset.from_tensor_slices((x, y)).cache()
            .shuffle(len(x), reshuffle_each_iteration=True).batch(batch_size).prefetch(tf.data.AUTOTUNE))
    if validation_data is not None:
        validation_data = tf.data.Dataset.from_tensor_slices(tuple(validation_data)).batch(1024).cache()
    start = time.perf_counter()
    history = model.fit(data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
                        shuffle=False, verbose=0)  # the pipeline shuffles
    return history, time.perf_counter() - start


def predict_classes(model: keras.Model, x, batch_size: int = 1024):
    """Return the most probable class index for each row (quietly, through ``tf.data``).

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    model : keras.Model
        A trained classifier with a softmax output.
    x : array-like
        Inputs of the shape the model expects.

    Returns
    -------
    numpy.ndarray
        Integer class indices, shape ``(len(x),)``.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
    return model.predict(data, verbose=0).argmax(axis=1)
