"""Models of chapter *Beyond*: MFCC + descriptor fusion (early and late) and a log-mel spectrogram CNN.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``). TensorFlow/Keras is imported only
when a builder runs.

Early fusion in one array
-------------------------
:func:`helpers.evaluation.cross_validate` (the evaluation chapter's protocol) trains on one feature
array. To run the two-branch fusion network under exactly that protocol, each row packs the
flattened MFCC segment and the track's descriptors side by side (:func:`pack_fusion_inputs`);
the network's first layers cut the row apart again with built-in Keras layers (``Cropping1D``
and ``Reshape``), so the saved model still loads in Keras' safe mode. ``inputs='two'`` builds the
same network with two named inputs instead, for use outside ``cross_validate``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.errors import DataError

#: Name of the layer that standardizes the descriptors inside the fusion and descriptor models.
DESCRIPTOR_NORM = "descriptor_standardize"

#: One log-mel segment with the book's settings: 259 frames × 128 mel bands.
LOGMEL_SHAPE: tuple[int, int] = (259, 128)


def pack_fusion_inputs(X_segments, descriptors) -> np.ndarray:
    """Pack MFCC segments and descriptor rows into one 2-D array for :func:`build_fusion_model`.

    Explained in chapter *Beyond*.

    Parameters
    ----------
    X_segments : array-like, shape (n, frames, coefficients)
        MFCC segments.
    descriptors : array-like, shape (n, n_descriptors)
        The descriptors of each segment's track (one row per segment, repeated within a track).

    Returns
    -------
    numpy.ndarray, shape (n, frames * coefficients + n_descriptors), float32
    """
    X = np.asarray(X_segments, dtype=np.float32)
    D = np.asarray(descriptors, dtype=np.float32)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim != 3 or D.ndim != 2 or len(X) != len(D):
        raise DataError(
            f"pack_fusion_inputs: need (n, frames, coefficients) segments and (n, descriptors) rows, "
            f"got {X.shape} and {D.shape}"
        )
    return np.concatenate([X.reshape(len(X), -1), D], axis=1)


def _mfcc_branch(x, layers):
    """The report CNN's convolutional part (3 × [Conv 32 3×3 → MaxPool 2 → BatchNorm]) + Dense 64."""
    for _ in range(3):
        x = layers.Conv2D(32, (3, 3), padding="same", activation="relu")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), padding="same")(x)
        x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    return layers.Dense(64, activation="relu")(x)


def build_fusion_model(
    segment_shape: Sequence[int] = (259, 13),
    n_descriptors: int = 38,
    n_classes: int = 10,
    descriptor_units: int = 32,
    dropout: float = 0.3,
    inputs: str = "packed",
):
    """Early fusion: the report's CNN on MFCC segments + a dense branch on standardized descriptors.

    Explained in chapter *Beyond* (the report's future work). The two branches meet in a
    ``Concatenate`` layer, followed by dropout and the softmax. The MFCC branch is the report's
    CNN and takes the MFCCs as they are (like the plain CNN it is compared with); the descriptors,
    on very different scales (Hz, dB, BPM), pass a ``Normalization`` layer whose statistics
    :func:`adapt_descriptor_norm` sets from the training rows (use :func:`fit_with_descriptor_norm`
    as ``cross_validate``'s ``fit_fn``).

    Parameters
    ----------
    segment_shape : (frames, coefficients)
        MFCC segment shape (default 259 × 13).
    n_descriptors : int
        Number of track descriptors (``len(helpers.descriptors.DESCRIPTOR_NAMES)``).
    n_classes : int
    descriptor_units : int
        Width of the descriptor branch's hidden layer.
    dropout : float
    inputs : {'packed', 'two'}
        ``'packed'``: one input of ``frames * coefficients + n_descriptors`` values per row
        (see :func:`pack_fusion_inputs`; works with ``cross_validate``). ``'two'``: inputs named
        ``mfcc`` (frames, coefficients, 1) and ``descriptors`` (n_descriptors,).

    Returns
    -------
    keras.Model
        Not compiled.
    """
    import keras
    from keras import layers

    frames, coefficients = (int(s) for s in segment_shape)
    n_descriptors = int(n_descriptors)
    if min(frames, coefficients, n_descriptors, n_classes) < 1:
        raise DataError(f"build_fusion_model: sizes must be positive, got {segment_shape}, {n_descriptors}")
    size = frames * coefficients
    if inputs == "packed":
        packed = keras.Input(shape=(size + n_descriptors, 1), name="packed")
        mfcc = layers.Reshape((frames, coefficients, 1), name="mfcc")(layers.Cropping1D((0, n_descriptors))(packed))
        desc = layers.Flatten(name="descriptors")(layers.Cropping1D((size, 0))(packed))
        model_inputs = packed
    elif inputs == "two":
        mfcc = keras.Input(shape=(frames, coefficients, 1), name="mfcc")
        desc = keras.Input(shape=(n_descriptors,), name="descriptors")
        model_inputs = [mfcc, desc]
    else:
        raise ValueError(f"inputs must be 'packed' or 'two', got {inputs!r}")
    a = _mfcc_branch(mfcc, layers)
    b = layers.Normalization(name=DESCRIPTOR_NORM)(desc)  # statistics set by adapt_descriptor_norm
    b = layers.Dense(descriptor_units, activation="relu")(b)
    x = layers.Concatenate()([a, b])
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(int(n_classes), activation="softmax", dtype="float32")(x)
    return keras.Model(model_inputs, out, name="fusion_cnn")


def build_descriptor_mlp(n_descriptors: int = 38, n_classes: int = 10, units: int = 64, dropout: float = 0.3):
    """A small dense network on standardized descriptors alone (chapter *Beyond*).

    Normalization → Dense(``units``, ReLU) → Dropout → softmax: the chapter-1 recipe, on GTZAN
    descriptors (the normalization's statistics come from the training rows, see
    :func:`fit_with_descriptor_norm`).

    Returns
    -------
    keras.Sequential
        Not compiled.
    """
    import keras
    from keras import layers

    if n_descriptors < 1:
        raise DataError(f"build_descriptor_mlp: n_descriptors must be positive, got {n_descriptors}")
    return keras.Sequential(
        [
            keras.Input(shape=(int(n_descriptors),)),
            layers.Normalization(name=DESCRIPTOR_NORM),
            layers.Dense(units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(int(n_classes), activation="softmax", dtype="float32"),
        ],
        name="descriptor_mlp",
    )


def build_logmel_cnn(
    input_shape: Sequence[int] = LOGMEL_SHAPE,
    n_classes: int = 10,
    filters: Sequence[int] = (64, 64, 64),
    kernel: int = 3,
    dropout: float = 0.3,
):
    """A CNN on log-mel spectrogram segments that convolves along time (chapter *Beyond*).

    The 128 mel bands are the *channels* of a 1-D convolution over the 259 frames: every filter
    looks at the whole spectrum of ``kernel`` neighbouring frames (the design of Dieleman &
    Schrauwen's 2014 end-to-end music tagger and of many genre classifiers since). Each block:
    Conv1D (ReLU) → BatchNorm → MaxPool 2 over time; then a global average over the segment,
    dropout and the softmax. On a CPU it costs about what the report's MFCC CNN costs, whereas a
    2-D CNN over 259 × 128 pixels costs several times more.

    Parameters
    ----------
    input_shape : (frames, mel bands)
        Default 259 × 128. A trailing channel axis of 1 is accepted and dropped.
    n_classes : int
    filters : sequence of int
        Filters of each block.
    kernel : int
        Frames per convolution window.
    dropout : float

    Returns
    -------
    keras.Sequential
        Not compiled.
    """
    import keras
    from keras import layers

    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3 and shape[-1] == 1:
        shape = shape[:2]
    if len(shape) != 2 or min(shape) < 1:
        raise DataError(f"build_logmel_cnn: input_shape {tuple(input_shape)} must be (frames, mel bands)")
    if not filters:
        raise ValueError("filters must not be empty")
    model = keras.Sequential(name="logmel_cnn")
    model.add(keras.Input(shape=shape))
    for width in filters:
        model.add(layers.Conv1D(int(width), int(kernel), padding="same", activation="relu"))
        model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling1D(2, padding="same"))
    model.add(layers.GlobalAveragePooling1D())
    model.add(layers.Dropout(dropout))
    model.add(layers.Dense(int(n_classes), activation="softmax", dtype="float32"))  # full-precision softmax under mixed precision
    return model


def late_fusion(*probabilities, weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of several models' class probabilities for the same rows (chapter *Beyond*).

    Parameters
    ----------
    *probabilities : arrays of shape (..., n_classes)
        E.g. ``(n, n_classes)``, or ``CVResult.probabilities`` of shape ``(n_repeats, n, n_classes)``.
    weights : sequence of float, optional
        One per model (normalised to sum 1); default: equal weights.

    Returns
    -------
    numpy.ndarray, same shape as each input
    """
    if len(probabilities) < 2:
        raise ValueError("late_fusion needs the probabilities of at least two models")
    arrays = [np.asarray(p, dtype=np.float64) for p in probabilities]
    if any(a.shape != arrays[0].shape or a.ndim < 2 for a in arrays):
        raise DataError(f"late_fusion: probability arrays differ in shape: {[a.shape for a in arrays]}")
    w = np.ones(len(arrays)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(arrays),) or np.any(w < 0) or w.sum() == 0:
        raise ValueError(f"weights must be {len(arrays)} non-negative numbers, not all zero")
    w = w / w.sum()
    return sum(wi * a for wi, a in zip(w, arrays, strict=True))


def fold_scores(probabilities, labels, track_ids, folds) -> pd.DataFrame:
    """Score out-of-fold probabilities fold by fold (segment and track-vote accuracy; chapter *Beyond*).

    Used for late fusion: combine the ``CVResult.probabilities`` of two models run on the same
    folds with :func:`late_fusion`, then score the result here exactly like ``cross_validate``
    scores one model.

    Parameters
    ----------
    probabilities : array-like, shape (n_repeats, n_rows, n_classes)
        Out-of-fold probabilities per repetition (``CVResult.probabilities``).
    labels, track_ids : array-like, shape (n_rows,)
    folds : sequence of (train_rows, test_rows) or (train_rows, val_rows, test_rows)
        The folds the models were run on (a repetition starts when a test row repeats).

    Returns
    -------
    pandas.DataFrame
        One row per fold: ``repeat``, ``fold``, ``segment_accuracy``, ``track_accuracy``.
    """
    from helpers.evaluation import segment_accuracy, track_accuracy

    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    track_ids = np.asarray(track_ids)
    if probs.ndim != 3 or probs.shape[1] != len(labels):
        raise DataError(f"fold_scores: probabilities of shape {probs.shape} do not fit {len(labels)} rows")
    covered = np.zeros(len(labels), dtype=bool)
    repeat = -1
    records = []
    for index, fold in enumerate(folds):
        test = np.asarray(fold[-1])
        if repeat < 0 or covered[test].any():
            repeat += 1
            covered[:] = False
        covered[test] = True
        if repeat >= len(probs):
            raise DataError(f"fold_scores: fold {index} belongs to repetition {repeat}, beyond the {len(probs)} given")
        p = probs[repeat][test]
        if np.isnan(p).any():
            raise DataError(f"fold_scores: fold {index} has rows without out-of-fold probabilities")
        records.append({
            "repeat": repeat,
            "fold": index,
            "segment_accuracy": segment_accuracy(labels[test], p),
            "track_accuracy": track_accuracy(p, track_ids[test], labels[test]),
        })
    return pd.DataFrame(records)


def adapt_descriptor_norm(model, X_fit) -> bool:
    """Set the descriptor ``Normalization`` layer's statistics from training rows (chapter *Beyond*).

    Parameters
    ----------
    model : keras.Model
        From :func:`build_fusion_model` (``inputs='packed'``) or :func:`build_descriptor_mlp`.
    X_fit : array-like
        The training rows as the model takes them: packed rows (descriptors in the last
        ``n_descriptors`` values) or descriptor rows.

    Returns
    -------
    bool
        False if the model has no such layer (nothing done).
    """
    try:
        layer = model.get_layer(DESCRIPTOR_NORM)
    except ValueError:
        return False
    n_descriptors = int(layer.input.shape[-1])
    X = np.asarray(X_fit, dtype=np.float32).reshape(len(X_fit), -1)
    if X.shape[1] < n_descriptors:
        raise DataError(f"adapt_descriptor_norm: rows of {X.shape[1]} values hold no {n_descriptors} descriptors")
    layer.adapt(X[:, -n_descriptors:])
    return True


def fit_with_descriptor_norm(model, X_train, y_train, X_val, y_val, **kwargs):
    """``fit_fn`` for ``cross_validate``: adapt the descriptor normalization on the fit rows, then train.

    Explained in chapter *Beyond*. The statistics come from the rows the model is trained on,
    never from validation or test rows; training is :func:`helpers.training.fit_model`.
    """
    from helpers.training import fit_model

    adapt_descriptor_norm(model, X_train)
    return fit_model(model, X_train, y_train, X_val, y_val, **kwargs)
