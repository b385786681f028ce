"""Networks on other inputs than the MFCC segments alone: MFCC + descriptor fusion, a descriptor MLP, a log-mel CNN.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``). TensorFlow/Keras is imported only
when a builder runs.

Early fusion in one array
-------------------------
:func:`helpers.evaluation.nested_cross_validate` (the evaluation chapter's protocol) trains a candidate on
one feature array. To run the two-branch fusion network under exactly that protocol, each row packs the
flattened MFCC segment and the track's descriptors side by side (:func:`pack_fusion_inputs`);
the network's first layers cut the row apart again with built-in Keras layers (``Cropping1D``
and ``Reshape``), so the saved model still loads in Keras' safe mode. Late fusion (a weighted mean
of two models' probabilities) is :func:`helpers.evaluation.late_fusion`.
"""

from __future__ import annotations

import numpy as np

from helpers.errors import ParameterError
from helpers.models.mfcc import SEGMENT_SHAPE, report_conv_blocks
from helpers.models.shapes import check_input_shape

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
        raise ParameterError(
            f"pack_fusion_inputs: need (n, frames, coefficients) segments and (n, descriptors) rows, "
            f"got {X.shape} and {D.shape}"
        )
    return np.concatenate([X.reshape(len(X), -1), D], axis=1)


def build_fusion_model(input_shape=(*SEGMENT_SHAPE, 1), n_classes=10, *, n_descriptors=38, descriptor_units=32,
                       dropout=0.3):
    """Early fusion: the report's CNN on MFCC segments + a dense branch on standardized descriptors.

    Notebook: chapters/09_beyond.ipynb

    Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``; the report's future work). The model
    takes packed rows (:func:`pack_fusion_inputs`: the flattened MFCC segment, then the track's
    descriptors) and cuts them apart with ``Cropping1D`` and ``Reshape``. The MFCC branch is the
    report CNN's convolutional part (:func:`helpers.models.mfcc.report_conv_blocks`) and Dense 64;
    the descriptors, on very different scales (Hz, dB, BPM), pass a ``Normalization`` layer whose
    statistics :func:`adapt_descriptor_norm` sets from the training rows. The branches meet in a
    ``Concatenate`` layer, followed by dropout and the softmax.

    Parameters
    ----------
    input_shape : (frames, coefficients, 1)
        Shape of one MFCC segment (default 259 × 13 × 1); the model input is
        ``(frames * coefficients + n_descriptors, 1)``.
    n_classes : int
    n_descriptors : int
        Number of track descriptors (``len(helpers.descriptors.DESCRIPTOR_NAMES)``).
    descriptor_units : int
        Width of the descriptor branch's hidden layer.
    dropout : float

    Returns
    -------
    keras.Model
        Not compiled.
    """
    import keras
    from keras import layers

    frames, coefficients, _ = check_input_shape(input_shape, 3, "build_fusion_model")
    if n_descriptors < 1:
        raise ParameterError(f"build_fusion_model: n_descriptors must be positive, got {n_descriptors}")
    size = frames * coefficients
    packed = keras.Input(shape=(size + n_descriptors, 1), name="packed")
    mfcc = layers.Reshape((frames, coefficients, 1), name="mfcc")(layers.Cropping1D((0, n_descriptors))(packed))
    descriptors = layers.Flatten(name="descriptors")(layers.Cropping1D((size, 0))(packed))
    a = mfcc
    for layer in report_conv_blocks():
        a = layer(a)
    a = layers.Dense(64, activation="relu")(layers.Flatten()(a))
    b = layers.Normalization(name=DESCRIPTOR_NORM)(descriptors)  # statistics set by adapt_descriptor_norm
    b = layers.Dense(descriptor_units, activation="relu")(b)
    x = layers.Dropout(dropout)(layers.Concatenate()([a, b]))
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(packed, outputs, name="fusion_cnn")


def build_descriptor_mlp(input_shape=(38,), n_classes=10, *, units=64, dropout=0.3):
    """A small dense network on standardized descriptors alone (chapter *Beyond*).

    Normalization → Dense(``units``, ReLU) → Dropout → softmax: the chapter-1 recipe, on GTZAN
    descriptors (the normalization's statistics come from the training rows, see
    :func:`adapt_descriptor_norm`).

    Parameters
    ----------
    input_shape : (n_descriptors,)
    n_classes : int
    units : int
    dropout : float

    Returns
    -------
    keras.Sequential
        Not compiled.
    """
    import keras
    from keras import layers

    shape = check_input_shape(input_shape, 1, "build_descriptor_mlp")
    return keras.Sequential(
        [
            keras.Input(shape=shape),
            layers.Normalization(name=DESCRIPTOR_NORM),
            layers.Dense(units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="descriptor_mlp",
    )


def build_logmel_cnn(input_shape=LOGMEL_SHAPE, n_classes=10, *, filters=(64, 64, 64), kernel=3, dropout=0.3):
    """A CNN on log-mel spectrogram segments that convolves along time (chapter *Beyond*).

    Notebook: chapters/09_beyond.ipynb

    Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``). The 128 mel bands are the
    *channels* of a 1-D convolution over the 259 frames: every filter looks at the whole spectrum
    of ``kernel`` neighbouring frames (the design of Dieleman & Schrauwen's 2014 end-to-end music
    tagger and of many genre classifiers since). Each block: Conv1D (ReLU) → BatchNorm → MaxPool 2
    over time; then a global average over the segment, dropout and the softmax. On a CPU it costs
    about what the report's MFCC CNN costs, whereas a 2-D CNN over 259 × 128 pixels costs several
    times more.

    Parameters
    ----------
    input_shape : (frames, mel bands)
        Default 259 × 128.
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

    shape = check_input_shape(input_shape, 2, "build_logmel_cnn")
    if not filters:
        raise ParameterError("build_logmel_cnn: filters must not be empty")
    model = keras.Sequential([keras.Input(shape=shape)], name="logmel_cnn")
    for width in filters:
        model.add(layers.Conv1D(width, kernel, padding="same", activation="relu"))
        model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling1D(2, padding="same"))
    model.add(layers.GlobalAveragePooling1D())
    model.add(layers.Dropout(dropout))
    model.add(layers.Dense(n_classes, activation="softmax", dtype="float32"))  # a float32 softmax under mixed precision
    return model


def adapt_descriptor_norm(model, X_fit) -> bool:
    """Set the descriptor ``Normalization`` layer's statistics from training rows (chapter *Beyond*).

    Chapter *Beyond* calls it in the ``fit_fn`` it gives :func:`helpers.evaluation.nested_cross_validate`,
    so the statistics come from the rows the model is trained on, never from validation or test rows.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_fusion_model` or :func:`build_descriptor_mlp`.
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
        raise ParameterError(f"adapt_descriptor_norm: rows of {X.shape[1]} values hold no {n_descriptors} descriptors")
    layer.adapt(X[:, -n_descriptors:])
    return True
