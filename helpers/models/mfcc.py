"""The report's networks on MFCC segments: a small 2D CNN (chapter 6) and a two-layer LSTM (chapter 7).

Explained in chapters *A CNN on MFCCs* (``chapters/06_cnn.ipynb``) and *An LSTM on MFCC sequences*
(``chapters/07_lstm.ipynb``). Input: one 6 s segment = 259 frames × 13 MFCCs (the CNN adds a
channel axis: 259 × 13 × 1). Every builder follows the book's one contract
``build_x(input_shape, n_classes=10, *, options...)`` and returns an *uncompiled* model
(:func:`helpers.training.compile_model` compiles it). The CNN's convolutional blocks
(:func:`conv_block`, :func:`report_conv_blocks`) are reused by the networks of chapters 8 and 9.
TensorFlow/Keras is imported only when a builder runs.
"""

from __future__ import annotations

import numpy as np

from helpers.errors import ParameterError
from helpers.models.shapes import check_input_shape

#: Input of one segment (frames, coefficients) with the book's feature settings (chapter 5).
SEGMENT_SHAPE: tuple[int, int] = (259, 13)

CNN_VARIANTS = ("report", "tutorial")
RNN_CELLS = ("lstm", "gru")


def normalization_layer(mean, std, axis: int = -1):
    """A Keras ``Normalization`` layer with fixed per-coefficient statistics (not trainable).

    Explained in chapter *A CNN on MFCCs*: the alternative to standardizing the arrays
    beforehand — the statistics (from the training tracks only, see
    :func:`helpers.training.fit_standardizer`) then travel inside the saved model.

    Parameters
    ----------
    mean, std : array-like of shape (n_coefficients,)
        Per-coefficient statistics.
    axis : int
        Axis of the coefficients in the model input (``-1`` for ``(frames, coefficients)``,
        ``2`` for the CNN's ``(frames, coefficients, 1)``).

    Returns
    -------
    keras.layers.Normalization
    """
    import keras

    mean = np.asarray(mean, dtype="float32").ravel()
    std = np.asarray(std, dtype="float32").ravel()
    if mean.shape != std.shape or not np.all(np.isfinite(std)) or np.any(std <= 0):
        raise ParameterError("normalization statistics: mean and std must have the same length and std > 0")
    if axis == -1:
        return keras.layers.Normalization(axis=-1, mean=mean, variance=std**2, name="standardize")
    # (frames, coefficients, 1): naming the channel axis too makes Keras 3.10 (Colab) and 3.15
    # broadcast the statistics the same way (3.10 fails on a flat mean, 3.15 on a (n, 1) one).
    return keras.layers.Normalization(axis=(axis, axis + 1), mean=mean[:, None],
                                      variance=(std**2)[:, None], name="standardize")


def conv_block(kernel=(3, 3), pool=(2, 2), *, padding="same", bn_momentum=0.99) -> list:
    """One convolutional block of the report's CNN: Conv2D 32 (ReLU) → MaxPooling2D stride 2 → BatchNormalization.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``). Returns the three layers as a
    list, so that a ``keras.Sequential`` can ``add`` them and a functional model can call them in
    turn (the fusion model of chapter *Beyond* and the global-average-pooling CNN of chapter
    *Evaluation* reuse them through :func:`report_conv_blocks`).

    Parameters
    ----------
    kernel, pool : (int, int)
        Convolution kernel and max-pooling window (the pooling always has stride 2 and ``'same'`` padding).
    padding : {'same', 'valid'}
        Padding of the convolution.
    bn_momentum : float
        Momentum of the batch normalization's moving mean and variance (see :func:`build_report_cnn`).
    """
    from keras import layers

    return [layers.Conv2D(32, kernel, padding=padding, activation="relu"),
            layers.MaxPooling2D(pool, strides=(2, 2), padding="same"),
            layers.BatchNormalization(momentum=bn_momentum)]


def report_conv_blocks(variant="report", *, bn_momentum=0.99) -> list:
    """The report CNN's three convolutional blocks (:func:`conv_block`), as a list of nine layers.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``); see :func:`build_report_cnn`
    for the two variants.
    """
    if variant not in CNN_VARIANTS:
        raise ParameterError(f"variant must be one of {CNN_VARIANTS}, got {variant!r}")
    if not 0 <= bn_momentum < 1:
        raise ParameterError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    if variant == "report":  # 'same' convolutions: 259 × 13 → 130 × 7 → 65 × 4 → 33 × 2
        blocks = [conv_block(bn_momentum=bn_momentum) for _ in range(3)]
    else:  # the tutorial: valid convolutions, 3 × 3 pooling, a 2 × 2 kernel in block 3
        blocks = [conv_block(k, k, padding="valid", bn_momentum=bn_momentum) for k in [(3, 3), (3, 3), (2, 2)]]
    return [layer for block in blocks for layer in block]


def build_report_cnn(input_shape=(*SEGMENT_SHAPE, 1), n_classes=10, *, variant="report", normalization=None,
                     bn_momentum=0.99):
    """The report's CNN: 3 × [Conv2D 32 → MaxPool stride 2 → BatchNorm], Flatten, Dense 64, Dropout 0.3, softmax.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``). Thirteen layers as the report
    counts them (plus an optional normalization layer in front). The report gives the blocks, a dense
    layer and the softmax; the dense layer's 64 units and the dropout of 0.3 are those of the tutorial
    whose code recipe the report followed (Velardo, *Deep Learning (for Audio) with Python*).

    Parameters
    ----------
    input_shape : sequence of 3 ints
        ``(frames, coefficients, channels)``; default ``(259, 13, 1)``.
    n_classes : int
        Number of genres.
    variant : {'report', 'tutorial'}
        ``'report'``: 3×3 kernels in all three blocks, 2×2 max-pooling with stride 2. The 13
        coefficients are few: three *valid* 3×3 convolutions and poolings would shrink that axis
        to nothing, so the convolutions use ``padding='same'`` (shapes 259×13 → 130×7 → 65×4 → 33×2).
        ``'tutorial'``: the report's source tutorial — valid convolutions, 3×3 max-pooling with
        stride 2 and ``padding='same'``, and a 2×2 kernel in block 3 (shapes → 129×6 → 64×2 → 32×1).
    normalization : (mean, std), optional
        Per-coefficient statistics for a leading :func:`normalization_layer`.
    bn_momentum : float
        Momentum of the batch normalizations' moving mean and variance (Keras' default 0.99; the
        report states none). The moving statistics are what the network uses at prediction time;
        with few training steps per epoch (small data, large batches) they lag behind the weights, and
        validation accuracy stays low for many epochs — chapter *A CNN on MFCCs* shows it. A lower
        momentum (e.g. 0.9) lets them follow sooner.

    Returns
    -------
    keras.Sequential
        Not compiled (see :func:`helpers.training.compile_model`).
    """
    import keras
    from keras import layers

    shape = check_input_shape(input_shape, 3, "build_report_cnn")
    model = keras.Sequential([keras.Input(shape=shape)], name=f"{variant}_cnn")
    if normalization is not None:
        model.add(normalization_layer(*normalization, axis=2))
    for layer in report_conv_blocks(variant, bn_momentum=bn_momentum):
        model.add(layer)
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(n_classes, activation="softmax", dtype="float32"))  # a float32 softmax under mixed precision
    return model


def build_report_lstm(input_shape=SEGMENT_SHAPE, n_classes=10, *, cell="lstm", units=64, normalization=None):
    """The report's recurrent network: RNN(64, sequences) → RNN(64) → Dense 64 ReLU → Dropout 0.3 → softmax.

    Notebook: chapters/07_lstm.ipynb

    Explained in chapter *An LSTM on MFCC sequences* (``chapters/07_lstm.ipynb``): the segment is read
    frame by frame (259 steps of 13 coefficients).

    Parameters
    ----------
    input_shape : sequence of 2 ints
        ``(frames, coefficients)``; default ``(259, 13)``.
    n_classes : int
        Number of genres.
    cell : {'lstm', 'gru'}
        ``'lstm'`` is the report's network; ``'gru'`` the same with GRU layers (fewer gates,
        fewer weights).
    units : int
        Units of each recurrent layer (64 in the report).
    normalization : (mean, std), optional
        Per-coefficient statistics for a leading :func:`normalization_layer`.

    Returns
    -------
    keras.Sequential
        Not compiled (see :func:`helpers.training.compile_model`).
    """
    import keras
    from keras import layers

    shape = check_input_shape(input_shape, 2, "build_report_lstm")
    if cell not in RNN_CELLS:
        raise ParameterError(f"cell must be one of {RNN_CELLS}, got {cell!r}")
    recurrent = layers.LSTM if cell == "lstm" else layers.GRU
    model = keras.Sequential([keras.Input(shape=shape)], name=f"report_{cell}")
    if normalization is not None:
        model.add(normalization_layer(*normalization, axis=-1))
    model.add(recurrent(units, return_sequences=True))  # passes its state at every frame
    model.add(recurrent(units))  # passes its final state only
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(n_classes, activation="softmax", dtype="float32"))  # a float32 softmax under mixed precision
    return model


def build_gap_cnn(input_shape=(*SEGMENT_SHAPE, 1), n_classes=10):
    """The report's three convolution blocks, then global average pooling instead of Flatten.

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``): each of the 32 final feature
    maps is averaged over time and frequency (Lin, Chen & Yan 2013), so the dense layer sees 32
    numbers instead of 2,112. Returns an uncompiled ``keras.Sequential``.
    """
    import keras
    from keras import layers

    shape = check_input_shape(input_shape, 3, "build_gap_cnn")
    model = keras.Sequential([keras.Input(shape=shape)], name="gap_cnn")
    for layer in report_conv_blocks():
        model.add(layer)
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(n_classes, activation="softmax", dtype="float32"))
    return model
