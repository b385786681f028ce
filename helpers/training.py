"""The book's training loop: standardization, tf.data pipelines, early stopping, timing.

Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``) and reused in chapters
*An LSTM on MFCC sequences* and *Evaluation*.

The recipe is the report's — Adam with learning rate 1e-3, sparse categorical cross-entropy,
batch size 32, up to 60 epochs — plus what makes it honest and fast:

- standardization statistics (per MFCC coefficient) computed from the *training* rows only;
- early stopping on a validation split of *training tracks* (never the test tracks), restoring
  the weights of the epoch with the lowest validation loss;
- a ``tf.data`` pipeline (cache → shuffle → batch → prefetch) instead of feeding NumPy arrays;
- per-epoch and total wall time, and a quiet fit (``verbose=0``) whose history is plotted instead.

TensorFlow is imported only when a function that needs it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.backend import dtype_policy
from helpers.config import DEFAULT_SEED, set_seed
from helpers.errors import DataError
from helpers.metrics import macro_f1, track_accuracy
from helpers.splits import validation_tracks_split

# --------------------------------------------------------------------------- standardization


def fit_standardizer(X_train) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over all rows and frames of the training data.

    Explained in chapter *A CNN on MFCCs*. Call it on the training rows only, then apply the same
    statistics to validation and test rows (:func:`apply_standardizer`): statistics computed on
    the test rows would leak information about them.

    Parameters
    ----------
    X_train : array-like of shape (n_rows, ..., n_features)
        Training features, e.g. ``(n_segments, 259, 13)`` MFCC segments.

    Returns
    -------
    mean, std : numpy.ndarray of shape (n_features,), float32
        A zero standard deviation (a constant feature) is replaced by 1.
    """
    X = np.asarray(X_train, dtype=np.float64)
    if X.ndim < 2 or X.shape[0] == 0:
        raise DataError(f"fit_standardizer: training features of shape {X.shape} need rows and a feature axis")
    if not np.all(np.isfinite(X)):
        raise DataError("fit_standardizer: training features contain NaN or infinite values")
    axes = tuple(range(X.ndim - 1))
    mean = X.mean(axis=axes)
    std = X.std(axis=axes)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def apply_standardizer(X, mean, std) -> np.ndarray:
    """Standardize features with statistics from :func:`fit_standardizer`: ``(X - mean) / std``.

    Explained in chapter *A CNN on MFCCs*.

    Parameters
    ----------
    X : array-like of shape (n_rows, ..., n_features)
    mean, std : array-like of shape (n_features,)

    Returns
    -------
    numpy.ndarray, float32, same shape as ``X``
    """
    X = np.asarray(X, dtype=np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if mean.shape != std.shape or mean.ndim != 1 or X.shape[-1] != mean.shape[0]:
        raise DataError(
            f"apply_standardizer: statistics of shape {mean.shape}/{std.shape} do not fit features of shape {X.shape}"
        )
    if np.any(std <= 0):
        raise DataError("apply_standardizer: std must be positive")
    return (X - mean) / std


# --------------------------------------------------------------------------- data pipeline


def _match_input(model, X: np.ndarray) -> np.ndarray:
    """Add the channel axis a 2D CNN expects when given ``(n, frames, coefficients)`` arrays."""
    rank = len(model.input_shape)
    X = np.asarray(X, dtype=np.float32)
    if rank == X.ndim + 1:
        return X[..., np.newaxis]
    if rank != X.ndim:
        raise DataError(f"features of shape {X.shape} do not fit the model input {model.input_shape}")
    return X


def make_dataset(X, y=None, batch_size: int = 32, shuffle: bool = True, seed: int = DEFAULT_SEED,
                 repeat: bool = False):
    """A ``tf.data`` pipeline over in-memory arrays: cache → shuffle → batch → prefetch.

    Explained in chapter *A CNN on MFCCs*. Compared with ``model.fit(numpy_array)``, Keras no
    longer converts and slices the arrays every epoch, and the next batch is prepared while the
    current one trains.

    Parameters
    ----------
    X : array-like
        Features, first axis = rows.
    y : array-like of int, optional
        Labels (omit for prediction).
    batch_size : int
    shuffle : bool
        Reshuffle the rows every epoch (with ``seed``; deterministic across runs).
    seed : int
    repeat : bool
        Repeat the batches indefinitely, reshuffled on every pass (train with
        ``steps_per_epoch = ceil(len(X) / batch_size)``, as :func:`fit_model` does). One pipeline
        then serves all epochs: Keras no longer runs into the end of the data and restarts the
        pipeline after every epoch, which on a 2-core CPU made about half the epochs up to twice
        as slow. The batches of pass *k* are the same as those of epoch *k* without repetition.

    Returns
    -------
    tf.data.Dataset
        Batches of ``(X, y)`` (or of ``X`` when ``y`` is None).
    """
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if y is None:
        data = tf.data.Dataset.from_tensor_slices(X)
    else:
        y = np.asarray(y)
        if len(y) != len(X):
            raise DataError(f"make_dataset: {len(X)} feature rows but {len(y)} labels")
        data = tf.data.Dataset.from_tensor_slices((X, y.astype(np.int32)))
    data = data.cache()
    if shuffle:
        data = data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if repeat:
        data = data.repeat()
    return data.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- fitting


@dataclass
class TrainResult:
    """What :func:`fit_model` returns (chapter *A CNN on MFCCs*).

    Attributes
    ----------
    model : keras.Model
        The trained model, with the weights of ``best_epoch`` restored.
    history : dict
        Keras logs per epoch (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) for
        :func:`helpers.plots.plot_history`.
    seconds : float
        Wall time of the whole fit.
    epochs_run : int
        Epochs actually trained (early stopping may end before ``epochs``).
    best_epoch : int
        1-based epoch with the lowest validation loss (whose weights the model holds).
    epoch_seconds : list of float
        Wall time of each epoch (the first includes graph tracing).
    """

    model: object
    history: dict
    seconds: float
    epochs_run: int
    best_epoch: int
    epoch_seconds: list = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall time of one epoch (robust to the slower first epoch)."""
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else float("nan")

    @property
    def best_val_accuracy(self) -> float:
        """Validation accuracy at ``best_epoch`` — the number to compare settings by (never the test)."""
        values = self.history.get("val_accuracy", [])
        return float(values[self.best_epoch - 1]) if values else float("nan")


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def compile_model(model, learning_rate: float = 1e-3, jit_compile="auto"):
    """Compile with the report's recipe: Adam, sparse categorical cross-entropy, accuracy.

    Explained in chapter *A CNN on MFCCs*. ``jit_compile`` is passed to Keras (XLA; Keras' ``'auto'``
    leaves it off on CPU-only machines).
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def fit_model(
    model,
    X_train,
    y_train,
    X_val,
    y_val,
    epochs: int = 60,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    patience: int = 10,
    seed: int = DEFAULT_SEED,
    jit_compile="auto",
) -> TrainResult:
    """Train a Keras model the book's way and time it.

    Explained in chapter *A CNN on MFCCs*: Adam (``learning_rate``), sparse categorical
    cross-entropy, ``tf.data`` pipelines (:func:`make_dataset`), early stopping on the validation
    loss with ``patience`` epochs and the best weights restored, ``verbose=0``.

    Parameters
    ----------
    model : keras.Model
        A freshly built model (it is compiled here). Build it right after
        ``helpers.set_seed(seed, with_tensorflow=True)`` for reproducible weights.
    X_train, y_train : arrays
        Training features and integer labels. For a 2D CNN, ``(n, frames, coefficients)``
        arrays get the channel axis added.
    X_val, y_val : arrays
        Validation rows (tracks disjoint from training and test, see
        :func:`validation_tracks_split`), used for early stopping only.
    epochs, batch_size, learning_rate, patience : training settings
        ``patience=None`` trains all ``epochs`` (the best weights are still restored).
    seed : int
        Seed of the per-epoch shuffle.
    jit_compile : bool or 'auto'
        XLA compilation (see :func:`compile_model`).

    Returns
    -------
    TrainResult
    """
    import keras

    X_train = _match_input(model, X_train)
    X_val = _match_input(model, X_val)
    if len(X_val) == 0:
        raise DataError("fit_model: the validation split is empty (early stopping needs validation rows)")
    compile_model(model, learning_rate, jit_compile=jit_compile)
    # One repeated pipeline for all epochs (see make_dataset): an epoch is still exactly one pass.
    train_data = make_dataset(X_train, y_train, batch_size=batch_size, shuffle=True, seed=seed, repeat=True)
    steps_per_epoch = -(-len(X_train) // batch_size)
    val_data = make_dataset(X_val, y_val, batch_size=max(batch_size, 256), shuffle=False)
    timer = _epoch_timer()
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=epochs if patience is None else patience,
        restore_best_weights=True,
    )
    start = time.perf_counter()
    history = model.fit(train_data, validation_data=val_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        callbacks=[timer, stopper], shuffle=False, verbose=0)  # the pipeline shuffles
    seconds = time.perf_counter() - start
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    best_epoch = int(np.argmin(logs["val_loss"])) + 1
    return TrainResult(model, logs, seconds, len(logs["loss"]), best_epoch, timer.seconds)


def predict_proba(model, X, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for feature rows (chapter *A CNN on MFCCs*), quietly and in batches."""
    X = _match_input(model, X)
    return np.asarray(model.predict(make_dataset(X, batch_size=batch_size, shuffle=False), verbose=0))


# --------------------------------------------------------------------------- train and evaluate


@dataclass
class Evaluation:
    """What :func:`train_and_evaluate` returns (chapter *A CNN on MFCCs*).

    Attributes
    ----------
    train : TrainResult
    accuracy : float
        Segment-level accuracy on the test rows.
    track_vote_accuracy : float
        Track-level accuracy on the test tracks, voting by the mean of segment probabilities.
    probabilities : numpy.ndarray of shape (n_test_rows, n_classes)
    y_true, y_pred : numpy.ndarray
        Segment labels and predictions on the test rows.
    test_rows, fit_rows, val_rows : numpy.ndarray
        Row positions used for testing, fitting and early stopping.
    standardizer : (mean, std) or None
        The statistics applied (computed on ``fit_rows``), or None for raw inputs.
    """

    train: TrainResult
    accuracy: float
    track_vote_accuracy: float
    probabilities: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    test_rows: np.ndarray
    fit_rows: np.ndarray
    val_rows: np.ndarray
    standardizer: tuple | None

    @property
    def model(self):
        """The trained model."""
        return self.train.model

    def as_result(self, model: str, data: str, split: str, chapter: str = "", notes: str = "") -> dict:
        """One row for :func:`helpers.results.results_frame` (accuracies, macro F1, training time)."""
        return {
            "chapter": chapter,
            "model": model,
            "data": data,
            "split": split,
            "accuracy": self.accuracy,
            "track_vote_accuracy": self.track_vote_accuracy,
            "macro_f1": macro_f1(self.y_true, self.y_pred, self.probabilities.shape[1]),
            "train_seconds": self.train.seconds,
            "notes": notes,
        }


def train_and_evaluate(
    build: Callable[[], object],
    features,
    train_rows,
    test_rows,
    standardize: bool = True,
    val_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
    precision: str | None = None,
    **fit_kwargs,
) -> Evaluation:
    """Train a freshly built model on some rows of a FeatureSet and score it on others.

    Explained in chapter *A CNN on MFCCs*; used by chapters 6, 7 and 8. The steps:

    1. split ``train_rows`` by track into fit and validation rows (:func:`helpers.splits.validation_tracks_split`);
    2. optionally standardize with statistics of the *fit* rows only (:func:`fit_standardizer`);
    3. seed everything (``helpers.set_seed``), build the model, fit it (:func:`fit_model`);
    4. predict the test rows: segment accuracy, and track-vote accuracy (mean segment probabilities per track).

    Parameters
    ----------
    build : callable
        ``build()`` returns a new, uncompiled Keras model (e.g. ``lambda: build_report_cnn()``).
    features : FeatureSet
        With ``X``, ``labels`` and ``track_ids`` arrays and ``.table()``.
    train_rows, test_rows : array-like of int
        Row positions (tracks must not be shared; checked).
    standardize : bool
        Per-coefficient standardization (statistics from the fit rows) or raw inputs.
    val_fraction : float
        Fraction of training tracks for early stopping.
    seed : int
    precision : {'auto', 'float32', 'mixed_bfloat16', 'mixed_float16'}, optional
        Dtype policy the model is built under (:func:`helpers.backend.dtype_policy`); None means
        ``'float32'``, ``'auto'`` mixed precision where the processor computes 16-bit floats natively.
    **fit_kwargs
        Passed to :func:`fit_model` (``epochs``, ``batch_size``, ``learning_rate``, ``patience``, ``jit_compile``).

    Returns
    -------
    Evaluation
    """
    train_rows = np.asarray(train_rows, dtype=int)
    test_rows = np.asarray(test_rows, dtype=int)
    track_ids = np.asarray(features.track_ids)
    shared = set(track_ids[train_rows]) & set(track_ids[test_rows])
    if shared:
        raise DataError(f"train_and_evaluate: {len(shared)} track(s) in both train and test, e.g. {sorted(shared)[0]}")
    fit_rows, val_rows = validation_tracks_split(features, train_rows, fraction=val_fraction, seed=seed)
    X = np.asarray(features.X, dtype=np.float32)
    y = np.asarray(features.labels)
    standardizer = None
    if standardize:
        standardizer = fit_standardizer(X[fit_rows])
        X = apply_standardizer(X, *standardizer)
    import keras

    keras.backend.clear_session()  # forget earlier models' graphs (memory, layer names)
    set_seed(seed, with_tensorflow=True)
    with dtype_policy(precision):
        model = build()
    result = fit_model(model, X[fit_rows], y[fit_rows], X[val_rows], y[val_rows], seed=seed, **fit_kwargs)
    probabilities = predict_proba(model, X[test_rows])
    y_true = y[test_rows]
    y_pred = probabilities.argmax(axis=1)
    return Evaluation(
        train=result,
        accuracy=float(np.mean(y_pred == y_true)),
        track_vote_accuracy=track_accuracy(probabilities, track_ids[test_rows], y_true),
        probabilities=probabilities,
        y_true=y_true,
        y_pred=y_pred,
        test_rows=test_rows,
        fit_rows=fit_rows,
        val_rows=val_rows,
        standardizer=standardizer,
    )


def training_table(runs: dict) -> pd.DataFrame:
    """Compare training runs by their validation numbers and timing — no test numbers.

    Explained in chapter *A CNN on MFCCs*: this is the table to choose settings from (input
    scaling, architecture variant, learning rate); the test tracks stay out of the choice.

    Parameters
    ----------
    runs : dict
        Name → :class:`Evaluation` or :class:`TrainResult`.

    Returns
    -------
    pandas.DataFrame
        One row per run: epochs run, best epoch, validation accuracy at the best epoch, median
        seconds per epoch, total seconds.
    """
    rows = {}
    for name, run in runs.items():
        train = getattr(run, "train", run)
        rows[name] = {
            "epochs run": train.epochs_run,
            "best epoch": train.best_epoch,
            "validation accuracy": round(train.best_val_accuracy, 3),
            "s / epoch": round(train.seconds_per_epoch, 2),
            "total s": round(train.seconds, 1),
        }
    return pd.DataFrame.from_dict(rows, orient="index")

