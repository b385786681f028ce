"""The book's training: one set of settings, one fit, one train-and-score.

:class:`TrainingConfig`, :func:`fit_model` and :func:`train_and_score`.

Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``) and reused in chapters
*An LSTM on MFCC sequences*, *Evaluation* and *Beyond*.

The recipe: Adam with learning rate 1e-3 (the rate the report found best), sparse categorical
cross-entropy (the report's categorical cross-entropy, for integer labels), batch size 32 (the
tutorial the report followed; the report found the batch size mattered little) and up to 60 epochs
(the report's 50–60): the defaults of :class:`TrainingConfig` — plus what makes it honest and fast:

- early stopping on validation *tracks* taken from the training side (never the test tracks),
  restoring the weights of the epoch with the lowest validation loss;
- optional standardization with statistics (per MFCC coefficient) of the *fit* rows only;
- a ``tf.data`` pipeline (cache → shuffle → batch → prefetch, repeated) instead of NumPy arrays;
- per-epoch wall time, and a quiet fit (``verbose=0``) whose history is plotted instead.

Plumbing with plain names: :func:`make_dataset`, :func:`epoch_timer`, :func:`with_channel_axis`,
:func:`load_training_data` (chapters 6 and 7's features and split). TensorFlow is imported only
when a function that needs it runs.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

from helpers.backend import require_chapters

# TensorFlow, Keras, pandas and SciPy: the "chapters" extra. Checked before they are imported, so that
# the base install (genre-predict) gets one line naming the extra, not a traceback from pandas.
require_chapters(__name__, ("tensorflow", "keras", "pandas", "scipy"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers.backend import dtype_policy  # noqa: E402
from helpers.config import DEFAULT_SEED, set_seed  # noqa: E402
from helpers.errors import DataError, ParameterError  # noqa: E402
from helpers.metrics import macro_f1, segment_accuracy, track_accuracy  # noqa: E402
from helpers.mfcc import standardize_with  # noqa: E402
from helpers.splits import gtzan_fold_plan  # noqa: E402

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
        raise ParameterError(
            f"apply_standardizer: statistics of shape {mean.shape}/{std.shape} do not fit features of shape {X.shape}"
        )
    if np.any(std <= 0):
        raise ParameterError("apply_standardizer: std must be positive")
    return standardize_with(X, mean, std)


# --------------------------------------------------------------------------- data pipeline


def with_channel_axis(model, X) -> np.ndarray:
    """``X`` as float32, with the trailing channel axis a 2D CNN expects added when it lacks one.

    Explained in chapter *A CNN on MFCCs* (the CNN's input has a channel axis; plumbing, not shown).
    A model without ``input_shape`` (e.g. :class:`helpers.models.classical.StatisticsClassifier`)
    gets ``X`` as it is.

    Raises
    ------
    ParameterError
        If a Keras model's input has neither the rank of ``X`` nor one more.
    """
    X = np.asarray(X, dtype=np.float32)
    shape = getattr(model, "input_shape", None)
    if shape is None or len(shape) == X.ndim:
        return X
    if len(shape) == X.ndim + 1:
        return X[..., np.newaxis]
    raise ParameterError(f"features of shape {X.shape} do not fit the model input {shape}")


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
        raise ParameterError(f"make_dataset: batch_size must be positive, got {batch_size}")
    if y is None:
        data = tf.data.Dataset.from_tensor_slices(X)
    else:
        y = np.asarray(y)
        if len(y) != len(X):
            raise ParameterError(f"make_dataset: {len(X)} feature rows but {len(y)} labels")
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
    epoch_seconds : list of float
        Wall time of each epoch (the first includes graph tracing).
    """

    model: object
    history: dict
    epoch_seconds: list = field(default_factory=list)

    @classmethod
    def from_fit(cls, model, history, timer) -> TrainResult:
        """From ``model.fit``'s ``History`` and an :func:`epoch_timer`."""
        logs = {key: [float(v) for v in values] for key, values in history.history.items()}
        return cls(model, logs, list(timer.seconds))

    @property
    def seconds(self) -> float:
        """Wall time of all epochs."""
        return float(sum(self.epoch_seconds))

    @property
    def epochs_run(self) -> int:
        """Epochs actually trained (early stopping may end before ``epochs``)."""
        return len(self.history["loss"])

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the lowest validation loss (whose weights the model holds)."""
        return int(np.argmin(self.history["val_loss"])) + 1

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall time of one epoch (robust to the slower first epoch)."""
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else float("nan")

    @property
    def best_val_accuracy(self) -> float:
        """Validation accuracy at ``best_epoch`` — the number to compare settings by (never the test)."""
        return float(self.history["val_accuracy"][self.best_epoch - 1])


def epoch_timer():
    """A Keras callback that records the wall time of every epoch in its list ``seconds``.

    Explained in chapter *A CNN on MFCCs* (the time per epoch it reports; plumbing, not shown).
    """
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


def compile_model(model, learning_rate: float = 1e-3):
    """Compile with the book's recipe: Adam, sparse categorical cross-entropy, accuracy.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``); the builders of
    :mod:`helpers.models` return uncompiled models.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@dataclass(frozen=True)
class TrainingConfig:
    """How :func:`fit_model` trains a network; the defaults are the report's recipe.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``): Adam at ``learning_rate``,
    batches of ``batch_size``, at most ``epochs`` epochs, early stopping after ``patience`` epochs
    without a lower validation loss (None: train all ``epochs``). Frozen, like
    :class:`helpers.features.FeatureConfig`: a variant is a new object (``dataclasses.replace``).
    """

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int | None = 10

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ParameterError(f"TrainingConfig.{name}={value!r} must be a positive integer")
        if not self.learning_rate > 0:
            raise ParameterError(f"TrainingConfig.learning_rate={self.learning_rate!r} must be positive")
        if self.patience is not None and (not isinstance(self.patience, int | np.integer) or self.patience < 0):
            raise ParameterError(f"TrainingConfig.patience={self.patience!r} must be None or an integer >= 0")


def fit_model(model, X_train, y_train, X_val, y_val, config=None, *, seed=DEFAULT_SEED):
    """Train a freshly built Keras model the book's way; early stopping on the validation rows.

    Notebook: chapters/06_cnn.ipynb

    Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``), reused by every chapter that
    trains a network: :func:`compile_model` (Adam, ``config.learning_rate``), a shuffled ``tf.data``
    pipeline (:func:`make_dataset`) repeated so that one pipeline serves all epochs (Keras no
    longer restarts it after each epoch), early stopping on the validation loss with
    ``config.patience`` epochs (None: train all epochs) and the best weights restored, ``verbose=0``.

    Parameters
    ----------
    model : keras.Model
        Uncompiled, built right after ``helpers.set_seed(seed, with_tensorflow=True)``.
    X_train, y_train : arrays
        Fit rows and integer labels (a 2D CNN's channel axis is added, :func:`with_channel_axis`).
    X_val, y_val : arrays
        Validation rows: tracks disjoint from fit and test (:func:`helpers.splits.validation_tracks_split`).
    config : TrainingConfig, optional
        Epochs, batch size, learning rate and patience; None: ``TrainingConfig()``, the report's recipe.
    seed : int
        Seed of the per-epoch shuffle.

    Returns
    -------
    TrainResult
    """
    import keras

    config = TrainingConfig() if config is None else config
    if len(X_val) == 0:
        raise ParameterError("fit_model: no validation rows (early stopping watches them)")
    X_train, X_val = with_channel_axis(model, X_train), with_channel_axis(model, X_val)
    compile_model(model, config.learning_rate)
    # One shuffled pipeline, repeated, serves all epochs; an epoch is still one pass over the rows.
    train_data = make_dataset(X_train, y_train, batch_size=config.batch_size, seed=seed, repeat=True)
    val_data = make_dataset(X_val, y_val, batch_size=256, shuffle=False)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True,
                                         patience=config.epochs if config.patience is None else config.patience)
    timer = epoch_timer()
    history = model.fit(train_data, validation_data=val_data, epochs=config.epochs, callbacks=[stop, timer],
                        steps_per_epoch=math.ceil(len(X_train) / config.batch_size), shuffle=False,
                        verbose=0)  # shuffled above
    return TrainResult.from_fit(model, history, timer)


def predict_proba(model, X, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of the rows ``X``, shape ``(n_rows, n_classes)``, float32.

    Chapter *A CNN on MFCCs*. Calls the model directly on batches (``training=False``): unlike
    ``model.predict`` this builds no new ``tf.function`` per model, so loops over many models
    (cross-validation) stay fast and free of retracing notices. Works for any model that can be
    called on a batch, e.g. :class:`helpers.models.classical.StatisticsClassifier`.
    """
    X = with_channel_axis(model, X)
    if batch_size < 1:
        raise ParameterError(f"predict_proba: batch_size must be positive, got {batch_size}")
    parts = [np.asarray(model(X[i:i + batch_size], training=False), dtype=np.float32)
             for i in range(0, len(X), batch_size)]
    if not parts:
        raise ParameterError("predict_proba: no rows to predict")
    return np.concatenate(parts)


# --------------------------------------------------------------------------- train and score


@dataclass
class SplitResult:
    """What :func:`train_and_score` returns (chapters *A CNN on MFCCs* to *Evaluation*).

    Attributes
    ----------
    model : keras.Model or other classifier
        The trained model (best epoch's weights with :func:`fit_model`).
    train : TrainResult or what ``fit_fn`` returned
        History and timing of the fit.
    record : dict
        Track counts (``train_tracks``, ``val_tracks``, ``test_tracks``), ``shared_tracks`` (test
        tracks also in fit or validation rows — the leak), ``segment_accuracy`` and
        ``track_accuracy`` on the test rows (NaN without test rows), ``val_segment_accuracy`` and
        ``val_track_accuracy`` on the validation rows, ``epochs_run``, ``best_epoch``, ``seconds``.
    fit_rows, val_rows, test_rows : numpy.ndarray
        Row positions used for fitting, early stopping (the *tune* tracks) and testing.
    val_probabilities, test_probabilities : numpy.ndarray
        Probabilities of the validation and test rows, in the order of ``val_rows`` / ``test_rows``.
    test_labels : numpy.ndarray
        Labels of the test rows.
    standardizer : (mean, std) or None
        The per-coefficient statistics applied (from the fit rows), or None for raw inputs.
    select_rows, select_probabilities : numpy.ndarray
        The *selection* rows (tracks that choose between settings or models; empty when none were
        given) and their probabilities.
    """

    model: object
    train: object
    record: dict
    fit_rows: np.ndarray
    val_rows: np.ndarray
    test_rows: np.ndarray
    val_probabilities: np.ndarray
    test_probabilities: np.ndarray
    test_labels: np.ndarray
    standardizer: tuple | None = None
    select_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    select_probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def history(self) -> dict:
        """Keras logs per epoch (empty for a model without history)."""
        return dict(getattr(self.train, "history", {}) or {})

    @property
    def accuracy(self) -> float:
        """Segment accuracy on the test rows."""
        return self.record["segment_accuracy"]

    @property
    def select_track_accuracy(self) -> float:
        """Track-vote accuracy on the selection tracks — the number to choose by (never the test)."""
        return self.record["select_track_accuracy"]

    @property
    def track_vote_accuracy(self) -> float:
        """Track accuracy on the test tracks, voting by the mean of segment probabilities."""
        return self.record["track_accuracy"]

    def as_result(self, model: str, data: str, split: str, chapter: str = "", notes: str = "") -> dict:
        """One row for :func:`helpers.results.results_frame` (accuracies, macro F1, training time)."""
        predicted = self.test_probabilities.argmax(axis=1)
        return {
            "chapter": chapter, "model": model, "data": data, "split": split,
            "accuracy": self.accuracy, "track_vote_accuracy": self.track_vote_accuracy,
            "macro_f1": macro_f1(self.test_labels, predicted, self.test_probabilities.shape[1]),
            "train_seconds": self.record["seconds"], "notes": notes,
        }


# The rows of the four roles, then keyword-only choices of the run; the training settings are one object.
def train_and_score(  # noqa: PLR0913
    build: Callable[[], object],
    features,
    fit_rows,
    val_rows,
    test_rows,
    *,
    config: TrainingConfig | None = None,
    select_rows=(),
    standardize: bool = False,
    seed: int = DEFAULT_SEED,
    precision: str | None = None,
    fit_fn: Callable = fit_model,
    allow_shared_tracks: bool = False,
) -> SplitResult:
    """Build a fresh model, fit it on ``fit_rows`` (early stopping on ``val_rows``), score ``test_rows``.

    The one train-and-score path of the book: chapters *A CNN on MFCCs* and *An LSTM on MFCC
    sequences* call it once per setting, :func:`helpers.evaluation.nested_cross_validate` once per
    candidate and outer fold.
    The steps: check that no test track is also a fit or validation track; optionally standardize
    with statistics of the fit rows only; seed (``helpers.set_seed``), build under the dtype policy
    ``precision``, fit (``fit_fn``); predict the validation and test rows; score segments and
    track votes.

    Parameters
    ----------
    build : callable
        ``build()`` returns a new, uncompiled model (e.g. ``helpers.models.mfcc.build_report_cnn``).
    features : FeatureSet
        Anything with ``X`` (segments × frames × coefficients), ``labels`` and ``track_ids``.
    fit_rows, val_rows, test_rows : array-like of int
        Row positions. ``test_rows`` may be empty (a final model trained on everything).
    config : TrainingConfig, optional
        How ``fit_fn`` trains (epochs, batch size, learning rate, patience); None: the report's recipe.
    select_rows : array-like of int, optional
        Rows of *selection* tracks: predicted and scored (``select_…`` in the record) to choose
        between settings or models, on tracks that neither trained the model nor stopped it.
    standardize : bool, default False
        False (the default) trains on the MFCCs as they are, as the tutorial the report followed
        does; True standardizes each coefficient with mean and standard deviation of the *fit* rows
        (:func:`fit_standardizer`) — chapter 6 decides between the two on validation tracks.
    seed : int
        Passed to ``helpers.set_seed`` before the model is built, and to ``fit_fn``.
    precision : {'auto', 'float32', 'mixed_bfloat16', 'mixed_float16'}, optional
        Dtype policy the model is built under (:func:`helpers.backend.dtype_policy`); None: Keras' current one.
    fit_fn : callable
        ``fit_fn(model, X_fit, y_fit, X_val, y_val, config, seed=seed)`` returning an object
        with ``model`` (optionally ``history``, ``epochs_run``, ``best_epoch``, ``seconds``);
        default :func:`fit_model`.
    allow_shared_tracks : bool
        Only to demonstrate the report's leaky split: allow test tracks that are also fit or
        validation tracks (their number is recorded as ``shared_tracks``).

    Returns
    -------
    SplitResult

    Raises
    ------
    DataError
        If test (or selection) tracks are also fit or validation tracks and ``allow_shared_tracks`` is
        False.
    ParameterError
        If the fit or validation rows are empty.
    """
    X, labels = np.asarray(features.X, dtype=np.float32), np.asarray(features.labels)
    track_ids = np.asarray(features.track_ids)
    fit_rows, val_rows, test_rows, select_rows = (np.asarray(r, dtype=np.int64)
                                                  for r in (fit_rows, val_rows, test_rows, select_rows))
    if len(fit_rows) == 0 or len(val_rows) == 0:
        raise ParameterError(f"train_and_score needs fit and validation rows (got {len(fit_rows)} and {len(val_rows)})")
    trained = set(track_ids[fit_rows]) | set(track_ids[val_rows])
    shared = set(track_ids[test_rows]) & trained
    if shared and not allow_shared_tracks:
        raise DataError(f"{len(shared)} test track(s) also appear in the training rows, e.g. {sorted(shared)[:3]}: "
                        "sharing tracks between training and test is the leak this protocol avoids")
    reused = set(track_ids[select_rows]) & (trained | set(track_ids[test_rows]))
    if reused:
        raise DataError(f"{len(reused)} selection track(s) also fit, stop or test the model, e.g. {sorted(reused)[:3]}")
    standardizer = fit_standardizer(X[fit_rows]) if standardize else None
    if standardizer is not None:
        X = apply_standardizer(X, *standardizer)
    if "keras" in sys.modules:
        import keras

        # Forget earlier models' graphs and layer names. free_memory=False skips the forced
        # gc.collect() (0.2-1 s per model, many times per chapter); Python's collector still frees them.
        keras.backend.clear_session(free_memory=False)
    set_seed(seed, with_tensorflow="tensorflow" in sys.modules)
    with dtype_policy(precision) if precision is not None else nullcontext():
        model = build()
    config = TrainingConfig() if config is None else config
    train = fit_fn(model, X[fit_rows], labels[fit_rows], X[val_rows], labels[val_rows], config, seed=seed)
    model = getattr(train, "model", model)
    val_probs = predict_proba(model, X[val_rows])
    test_probs = predict_proba(model, X[test_rows]) if len(test_rows) else np.zeros((0, val_probs.shape[1]), np.float32)
    select_probs = (predict_proba(model, X[select_rows]) if len(select_rows)
                    else np.zeros((0, val_probs.shape[1]), np.float32))
    record = score_record(train, labels, track_ids, fit_rows, val_rows, test_rows, val_probs, test_probs)
    record["shared_tracks"] = len(shared)
    record["select_tracks"] = len(set(track_ids[select_rows]))
    record["select_track_accuracy"] = (track_accuracy(select_probs, track_ids[select_rows], labels[select_rows])
                                       if len(select_rows) else float("nan"))
    return SplitResult(model, train, record, fit_rows, val_rows, test_rows, val_probs, test_probs,
                       labels[test_rows], standardizer, select_rows, select_probs)


def score_record(train, labels, track_ids, fit_rows, val_rows, test_rows, val_probs, test_probs) -> dict:
    """The scores and bookkeeping of one :func:`train_and_score` run (see :attr:`SplitResult.record`)."""
    nan = float("nan")
    tested = len(test_rows) > 0
    return {
        "train_tracks": len(set(track_ids[fit_rows])),
        "val_tracks": len(set(track_ids[val_rows])),
        "test_tracks": len(set(track_ids[test_rows])),
        "shared_tracks": 0,
        "segment_accuracy": segment_accuracy(labels[test_rows], test_probs) if tested else nan,
        "track_accuracy": track_accuracy(test_probs, track_ids[test_rows], labels[test_rows]) if tested else nan,
        "val_segment_accuracy": segment_accuracy(labels[val_rows], val_probs),
        "val_track_accuracy": track_accuracy(val_probs, track_ids[val_rows], labels[val_rows]),
        "epochs_run": getattr(train, "epochs_run", nan),
        "best_epoch": getattr(train, "best_epoch", nan),
        "seconds": float(getattr(train, "seconds", nan)),
    }


def training_table(runs: dict) -> pd.DataFrame:
    """Compare training runs by their validation numbers and timing — no test numbers.

    Chapter *A CNN on MFCCs*: this is the table to choose settings from (input scaling,
    architecture variant, learning rate). The *tune* accuracy (validation tracks at the best epoch)
    picked the epoch, so it flatters its run; the choice between runs is made on the *selection*
    tracks' track vote, shown when the runs scored selection tracks. The test tracks stay out.

    Parameters
    ----------
    runs : dict
        Name → :class:`SplitResult` or :class:`TrainResult`.

    Returns
    -------
    pandas.DataFrame
        One row per run: epochs run, best epoch, tune (validation) accuracy at the best epoch, the
        selection tracks' track-vote accuracy (when scored), median seconds per epoch, total seconds.
    """
    rows = {}
    for name, run in runs.items():
        train = getattr(run, "train", run)
        rows[name] = {
            "epochs run": train.epochs_run,
            "best epoch": train.best_epoch,
            "tune accuracy": round(train.best_val_accuracy, 3),
            **({"select track vote": round(run.record["select_track_accuracy"], 3)}
               if getattr(run, "record", {}).get("select_tracks") else {}),
            "s / epoch": round(train.seconds_per_epoch, 2),
            "total s": round(train.seconds, 1),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- the chapters' data


@dataclass
class TrainingData:
    """The features and the track-level split chapters 6 and 7 train on (:func:`load_training_data`).

    Attributes
    ----------
    features : FeatureSet
        Chapter 5's MFCC segments of the installed GTZAN.
    fit_rows, tune_rows, select_rows, test_rows : numpy.ndarray
        Rows of the fit tracks, the *tune* tracks early stopping watches, the *selection* tracks that
        choose between settings (raw or standardized inputs), and the test tracks.
    split : str
        The split in words, printed with every accuracy.
    source : str
        Where the roles come from (the committed table, a version-free generation, or the
        fault-filtered lists).
    """

    features: object
    fit_rows: np.ndarray
    tune_rows: np.ndarray
    select_rows: np.ndarray
    test_rows: np.ndarray
    split: str
    source: str = ""

    @property
    def train_rows(self) -> np.ndarray:
        """Every training row: fit, tune and selection rows."""
        return np.sort(np.concatenate([self.fit_rows, self.tune_rows, self.select_rows]))

    @property
    def data(self) -> str:
        """Which GTZAN the features come from, in words (e.g. ``'mini GTZAN'``)."""
        return f"{self.features.flavour} GTZAN"

    def summary(self) -> pd.DataFrame:
        """Segments and tracks per role; no track has two roles (checked)."""
        track_ids = np.asarray(self.features.track_ids)
        parts = {"fit": self.fit_rows, "tune": self.tune_rows, "select": self.select_rows, "test": self.test_rows}
        tracks = {name: set(track_ids[rows]) for name, rows in parts.items()}
        names = list(parts)
        if any(tracks[a] & tracks[b] for i, a in enumerate(names) for b in names[i + 1:]):
            raise DataError("TrainingData: the fit, tune, select and test rows share tracks")
        return pd.DataFrame({"segments": [len(rows) for rows in parts.values()],
                             "tracks": [len(t) for t in tracks.values()]}, index=names)


def load_training_data(features=None) -> TrainingData:
    """Chapter 5's features and the book's single split by track, with its four roles.

    Chapters *A CNN on MFCCs* and *An LSTM on MFCC sequences* start from it, so both train on the
    same rows. The roles come from :func:`helpers.splits.gtzan_fold_plan` (kind ``'split'``): on mini
    GTZAN the committed table ``helpers/folds/gtzan_mini_split.csv`` (25 % of the tracks test; of the
    others 60 % fit, 20 % tune, 20 % select), on full GTZAN the fault-filtered lists.

    Parameters
    ----------
    features : FeatureSet, optional
        Default: ``extract_features(load_gtzan(), FeatureConfig())`` (cached by chapter 5).
    """
    if features is None:
        from helpers.datasets import load_gtzan
        from helpers.features import FeatureConfig, extract_features

        features = extract_features(load_gtzan(), FeatureConfig(), progress=False)
    plan = gtzan_fold_plan(features, "split")
    rows = plan.rows(features.track_ids, 0)
    return TrainingData(features, rows["fit"], rows["tune"], rows["select"], rows["test"], plan.protocol,
                        plan.source)
