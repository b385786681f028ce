"""Honest evaluation: track-level voting, per-genre scores, confusions and track-grouped cross-validation.

Explained in chapter *Evaluation: which numbers hold up* (``chapters/08_evaluation.ipynb``).

The report scored its networks on *segments* drawn at random from all tracks, so segments of one
track sat on both sides of the split (the leak). This module provides both protocols side by side:
:func:`helpers.splits.leaky_segment_split` reproduces the report's split, :func:`cross_validate` runs repeated,
stratified, track-grouped k-fold cross-validation in which early stopping only ever sees inner
validation *tracks* taken from the training folds, never the test fold.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED, set_seed
from helpers.errors import DataError
from helpers.splits import validation_tracks_split

# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def _as_probabilities(probabilities, name: str = "probabilities") -> np.ndarray:
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise DataError(f"{name} must be a non-empty (segments, classes) array, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise DataError(f"{name} contain NaN or infinite values")
    return probs


def track_vote(probabilities, track_ids, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn segment predictions into one prediction per track by averaging their probabilities.

    Explained in chapter *Evaluation* (track-level voting). Each segment counts equally within its
    track and each track counts once, whatever its number of segments. A tie between classes goes
    to the class with the lower index (``numpy.argmax``).

    Parameters
    ----------
    probabilities : array-like, shape (n_segments, n_classes)
        Predicted class probabilities (softmax outputs) of every segment.
    track_ids : array-like of str, shape (n_segments,)
        The track each segment comes from.
    labels : array-like of int, shape (n_segments,)
        The true class of each segment (must be the same for all segments of a track).

    Returns
    -------
    track_true : numpy.ndarray of int
        The true class of each track.
    track_pred : numpy.ndarray of int
        The class with the highest mean probability over the track's segments.
    track_ids : numpy.ndarray of str
        The tracks, in order of first appearance.

    Raises
    ------
    DataError
        If the lengths differ or one track carries two different labels.
    """
    probs = _as_probabilities(probabilities)
    tracks = np.asarray(track_ids)
    labels = np.asarray(labels)
    if not (len(tracks) == len(labels) == len(probs)):
        raise DataError(
            f"track_vote needs one track id and label per segment: got {len(probs)} probability rows, "
            f"{len(tracks)} track ids and {len(labels)} labels"
        )
    codes, uniques = pd.factorize(tracks, sort=False)
    n_tracks = len(uniques)
    sums = np.zeros((n_tracks, probs.shape[1]))
    np.add.at(sums, codes, probs)
    counts = np.bincount(codes, minlength=n_tracks)
    mean = sums / counts[:, None]
    track_true = np.empty(n_tracks, dtype=np.int64)
    track_true[codes] = labels  # last segment's label per track; checked below
    if np.any(track_true[codes] != labels):
        bad = uniques[np.unique(codes[track_true[codes] != labels])][:3]
        raise DataError(f"track(s) {list(bad)} have segments with different labels")
    return track_true, mean.argmax(axis=1).astype(np.int64), np.asarray(uniques)


def segment_accuracy(labels, predictions) -> float:
    """Fraction of segments classified correctly.

    Explained in chapter *Evaluation*.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        True classes.
    predictions : array-like, shape (n,) or (n, n_classes)
        Predicted classes, or class probabilities (their argmax is taken).

    Returns
    -------
    float
    """
    labels = np.asarray(labels)
    pred = np.asarray(predictions)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if pred.shape != labels.shape or labels.size == 0:
        raise DataError(f"labels {labels.shape} and predictions {pred.shape} do not match (or are empty)")
    return float(np.mean(pred == labels))


def track_accuracy(probabilities, track_ids, labels) -> float:
    """Fraction of tracks classified correctly after :func:`track_vote`.

    Explained in chapter *Evaluation*.
    """
    true, pred, _ = track_vote(probabilities, track_ids, labels)
    return float(np.mean(true == pred))


def per_genre_report(y_true, y_pred, genres: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of every genre (scikit-learn), as a table.

    Explained in chapter *Evaluation*. A genre never predicted gets precision 0 (not a warning).

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices (positions in ``genres``).
    genres : sequence of str
        Class names in index order.

    Returns
    -------
    pandas.DataFrame
        Indexed by genre, columns ``precision``, ``recall``, ``f1``, ``support``; sorted like ``genres``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(len(genres)), zero_division=0
    )
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(list(genres), name="genre"),
    )


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 scores (every genre counts the same).

    Explained in chapter *Evaluation*.
    """
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=np.arange(n_classes), average="macro", zero_division=0))


def most_confused_pairs(y_true, y_pred, genres: Sequence[str], k: int = 5) -> pd.DataFrame:
    """The ``k`` most frequent mistakes, as (true genre → predicted genre) pairs.

    Explained in chapter *Evaluation*.

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices.
    genres : sequence of str
        Class names in index order.
    k : int
        How many pairs to return (fewer if there are fewer distinct mistakes).

    Returns
    -------
    pandas.DataFrame
        Columns ``true``, ``predicted``, ``count`` and ``share`` (the fraction of the true genre's
        items that went to ``predicted``), most frequent first; ties are broken by genre order.
    """
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(genres)))
    np.fill_diagonal(matrix, 0)
    totals = np.bincount(np.asarray(y_true, dtype=np.int64), minlength=len(genres))
    rows = [
        {"true": genres[i], "predicted": genres[j], "count": int(matrix[i, j]),
         "share": float(matrix[i, j] / totals[i])}
        for i, j in zip(*np.nonzero(matrix), strict=True)
    ]
    frame = pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])
    frame = frame.sort_values("count", ascending=False, kind="stable").head(k)
    return frame.reset_index(drop=True)


def mean_std(values) -> str:
    """Format values as ``'mean ± std'`` in percent (sample standard deviation, ddof=1).

    Explained in chapter *Evaluation*.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise DataError("mean_std needs at least one value")
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{100 * values.mean():.1f} ± {100 * std:.1f} %"


# ---------------------------------------------------------------------------------------------
# Training and scoring: one split, then k folds
# ---------------------------------------------------------------------------------------------


def _with_channel(model, X: np.ndarray) -> np.ndarray:
    """Add a trailing channel axis when the model expects one more dimension than ``X`` has."""
    shape = getattr(model, "input_shape", None)
    if shape is not None and len(shape) == X.ndim + 1:
        return X[..., None]
    return X


def predict_batches(model, X, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of ``X``, computed by calling the model directly on batches.

    Explained in chapter *Evaluation*. Unlike ``model.predict``, a direct call builds no new
    ``tf.function`` per model, so a loop over many folds stays fast and free of retracing warnings.
    """
    X = _with_channel(model, np.asarray(X, dtype=np.float32))
    parts = [np.asarray(model(X[i: i + batch_size], training=False)) for i in range(0, len(X), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def _feature_table(feature_set) -> pd.DataFrame:
    if hasattr(feature_set, "table"):
        table = feature_set.table() if callable(feature_set.table) else feature_set.table
    else:
        genres = list(feature_set.genres)
        table = pd.DataFrame({"track_id": feature_set.track_ids,
                              "genre": [genres[i] for i in feature_set.labels]})
    return table.reset_index(drop=True)


@dataclass
class SplitResult:
    """What :func:`train_and_score` returns (explained in chapter *Evaluation*).

    Attributes
    ----------
    model : keras.Model
        The trained model (best epoch's weights when the fit function restores them).
    record : dict
        Track counts, ``shared_tracks`` (test tracks also present in fit or validation rows — the
        leak), ``segment_accuracy`` and ``track_accuracy`` on the test rows, the same two on the
        validation rows (``val_…``), ``epochs_run``, ``best_epoch``, ``seconds``.
    history : dict
        Keras logs per epoch (for :func:`helpers.plots.plot_history`), empty if unknown.
    test_probabilities : numpy.ndarray
        Probabilities of the test rows, in the order of ``test_rows``.
    standardizer : (mean, std) or None
        The per-coefficient statistics applied (from the fit rows), if any.
    val_probabilities : numpy.ndarray or None
        Probabilities of the validation rows, in the order of ``val_rows`` (what
        :func:`average_cv` needs to choose a combination of models without the test rows).
    """

    model: object
    record: dict
    history: dict
    test_probabilities: np.ndarray
    standardizer: tuple | None = None
    val_probabilities: np.ndarray | None = None


def train_and_score(
    build_fn: Callable[[], object],
    feature_set,
    fit_rows,
    val_rows,
    test_rows,
    *,
    epochs: int = 60,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    patience: int = 10,
    standardize: bool = False,
    seed: int = DEFAULT_SEED,
    fit_fn: Callable | None = None,
    allow_shared_tracks: bool = False,
    precision: str | None = None,
) -> SplitResult:
    """Build a fresh model, train it on ``fit_rows`` (early stopping on ``val_rows``), score ``test_rows``.

    Explained in chapter *Evaluation*; :func:`cross_validate` calls it once per fold.

    Parameters
    ----------
    build_fn : callable
        Returns a new Keras model (e.g. ``helpers.models.mfcc.build_report_cnn``).
    feature_set : FeatureSet
        Anything with ``X`` (segments × frames × coefficients), ``labels`` and ``track_ids``, e.g.
        the result of :func:`helpers.features.extract_features`.
    fit_rows, val_rows, test_rows : array-like of int
        Row positions. ``test_rows`` may be empty (a final model trained on everything).
    epochs, batch_size, learning_rate, patience : training settings passed to ``fit_fn``.
    standardize : bool
        Standardise each coefficient with mean and standard deviation of the fit rows
        (:func:`helpers.training.fit_standardizer`).
    seed : int
        Passed to :func:`helpers.set_seed` before the model is built, and to ``fit_fn``.
    fit_fn : callable, optional
        ``fit_fn(model, X_fit, y_fit, X_val, y_val, epochs=, batch_size=, learning_rate=, patience=,
        seed=)`` returning an object with ``model`` (optionally ``history``, ``epochs_run``,
        ``best_epoch``, ``seconds``); default :func:`helpers.training.fit_model`.
    allow_shared_tracks : bool
        Only for demonstrating the report's leaky split: allow test tracks that also appear in the
        fit or validation rows (their number is recorded as ``shared_tracks``).
    precision : {'auto', 'float32', 'mixed_bfloat16', 'mixed_float16'}, optional
        Dtype policy the model is built under (:func:`helpers.backend.dtype_policy`, chapter
        *A CNN on MFCCs*); None means ``'float32'``.

    Returns
    -------
    SplitResult

    Raises
    ------
    DataError
        If test tracks also appear in the fit or validation rows and ``allow_shared_tracks`` is False.
    """
    X = np.asarray(feature_set.X)
    labels = np.asarray(feature_set.labels)
    track_ids = np.asarray(feature_set.track_ids)
    fit_rows, val_rows, test_rows = (np.asarray(r, dtype=np.int64) for r in (fit_rows, val_rows, test_rows))
    if len(fit_rows) == 0 or len(val_rows) == 0:
        raise DataError(f"train_and_score needs fit and validation rows (got {len(fit_rows)} and {len(val_rows)})")
    test_tracks = set(track_ids[test_rows])
    shared = test_tracks & (set(track_ids[fit_rows]) | set(track_ids[val_rows]))
    if shared and not allow_shared_tracks:
        raise DataError(
            f"{len(shared)} test track(s) also appear in the training rows, e.g. {sorted(shared)[:3]}: "
            "share track(s) between train and test is the leak this protocol must avoid"
        )
    if fit_fn is None:
        from helpers.training import fit_model as fit_fn

    X_fit, X_val, X_test = X[fit_rows], X[val_rows], X[test_rows]
    stats = None
    if standardize:
        from helpers.training import apply_standardizer, fit_standardizer

        stats = fit_standardizer(X_fit)
        X_fit, X_val, X_test = (apply_standardizer(a, *stats) for a in (X_fit, X_val, X_test))

    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()  # keep memory and layer names from growing over many folds
    set_seed(seed, with_tensorflow="tensorflow" in sys.modules)
    if precision is None:
        model = build_fn()
    else:
        from helpers.backend import dtype_policy

        with dtype_policy(precision):
            model = build_fn()
    X_fit, X_val, X_test = (_with_channel(model, a) for a in (X_fit, X_val, X_test))
    start = time.perf_counter()
    result = fit_fn(model, X_fit, labels[fit_rows], X_val, labels[val_rows], epochs=epochs,
                    batch_size=batch_size, learning_rate=learning_rate, patience=patience, seed=seed)
    elapsed = time.perf_counter() - start
    trained = getattr(result, "model", model)
    val_probs = predict_batches(trained, X_val)
    nan = float("nan")
    if len(test_rows):
        test_probs = predict_batches(trained, X_test)
        seg_acc = segment_accuracy(labels[test_rows], test_probs)
        trk_acc = track_accuracy(test_probs, track_ids[test_rows], labels[test_rows])
    else:
        test_probs = np.zeros((0, val_probs.shape[1]), dtype=np.float32)
        seg_acc = trk_acc = nan
    record = {
        "train_tracks": len(set(track_ids[fit_rows])),
        "val_tracks": len(set(track_ids[val_rows])),
        "test_tracks": len(test_tracks),
        "shared_tracks": len(shared),
        "segment_accuracy": seg_acc,
        "track_accuracy": trk_acc,
        "val_segment_accuracy": segment_accuracy(labels[val_rows], val_probs),
        "val_track_accuracy": track_accuracy(val_probs, track_ids[val_rows], labels[val_rows]),
        "epochs_run": getattr(result, "epochs_run", nan),
        "best_epoch": getattr(result, "best_epoch", nan),
        "seconds": float(getattr(result, "seconds", elapsed)),
    }
    return SplitResult(trained, record, dict(getattr(result, "history", {}) or {}), test_probs, stats, val_probs)


@dataclass
class CVResult:
    """What :func:`cross_validate` returns (explained in chapter *Evaluation*).

    Attributes
    ----------
    folds : pandas.DataFrame
        One row per fold: ``repeat``, ``fold``, track counts, ``segment_accuracy``,
        ``track_accuracy`` (test fold), ``val_segment_accuracy``, ``val_track_accuracy`` (inner
        validation tracks, the only numbers fit for choosing between models), ``epochs_run``,
        ``best_epoch``, ``seconds``.
    probabilities : numpy.ndarray, shape (n_repeats, n_segments, n_classes)
        Out-of-fold probabilities of every segment in every repetition (NaN where a row was never
        in a test fold).
    labels, track_ids : numpy.ndarray
        Of every segment.
    genres : tuple of str
    histories : list of dict
        The training history of every fold.
    fold_rows : list of (val_rows, test_rows)
        The inner validation rows and the test rows of every fold.
    fold_probabilities : list of (val_probabilities, test_probabilities)
        The model's probabilities for those rows (for :func:`average_cv`).
    """

    folds: pd.DataFrame
    probabilities: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    genres: tuple = field(default=())
    histories: list = field(default_factory=list)
    fold_rows: list = field(default_factory=list)
    fold_probabilities: list = field(default_factory=list)

    def summary(self, name: str = "") -> dict:
        """Mean and sample standard deviation over folds of the test and validation accuracies."""
        out = {"model": name} if name else {}
        for column in ("segment_accuracy", "track_accuracy", "val_segment_accuracy", "val_track_accuracy"):
            values = self.folds[column].to_numpy(dtype=float)
            out[column] = float(values.mean())
            out[column + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out["folds"] = len(self.folds)
        out["seconds"] = float(self.folds["seconds"].sum())
        return out

    def segment_predictions(self, repeat: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold (true, predicted) segment classes of one repetition."""
        probs = self.probabilities[repeat]
        seen = ~np.isnan(probs).any(axis=1)
        return self.labels[seen], probs[seen].argmax(axis=1)

    def track_predictions(self, repeat: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold (true, predicted) track classes after voting.

        With ``repeat=None`` the predictions of all repetitions are concatenated (each track then
        appears once per repetition), which is what the chapter's confusion matrices show.
        """
        repeats = range(len(self.probabilities)) if repeat is None else [repeat]
        true, pred = [], []
        for r in repeats:
            probs = self.probabilities[r]
            seen = ~np.isnan(probs).any(axis=1)
            t, p, _ = track_vote(probs[seen], self.track_ids[seen], self.labels[seen])
            true.append(t)
            pred.append(p)
        return np.concatenate(true), np.concatenate(pred)


def _fold_parts(fold) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    if len(fold) == 2:
        return np.asarray(fold[0]), None, np.asarray(fold[1])
    if len(fold) == 3:
        return np.asarray(fold[0]), np.asarray(fold[1]), np.asarray(fold[2])
    raise DataError(f"a fold must be (train, test) or (train, validation, test) rows, got {len(fold)} parts")


def cross_validate(
    build_fn: Callable[[], object],
    feature_set,
    folds: Sequence[tuple],
    *,
    val_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    description: str = "folds",
    **train_kwargs,
) -> CVResult:
    """Train a fresh model on every fold and score it on that fold's held-out tracks.

    Explained in chapter *Evaluation*. For each fold: the training tracks are split again
    (:func:`helpers.splits.validation_tracks_split`) into fit tracks and inner validation tracks; a new model from
    ``build_fn`` is trained on the fit tracks with early stopping on the validation tracks; the test
    fold is only predicted, once, at the end (:func:`train_and_score`).

    Parameters
    ----------
    build_fn : callable
        Returns a new Keras model (e.g. ``helpers.models.mfcc.build_report_cnn``).
    feature_set : FeatureSet
        Anything with ``X``, ``labels``, ``track_ids``, ``genres`` (and ``table()``), e.g. the
        result of :func:`helpers.features.extract_features`.
    folds : sequence of tuples
        ``(train_rows, test_rows)`` pairs, e.g. from :func:`helpers.splits.track_folds`, or
        ``(train_rows, validation_rows, test_rows)`` triples (e.g. :func:`helpers.splits.filtered_folds`), in which
        case the given validation rows are used instead of an inner split.
    val_fraction : float
        Fraction of each fold's training tracks used as inner validation tracks.
    seed : int
        Fold ``i`` is seeded with ``seed + i`` (model initialisation, shuffles, inner split).
    progress : bool
        Show a tqdm bar over folds.
    description : str
        Label of the progress bar.
    **train_kwargs
        Passed to :func:`train_and_score`: ``epochs``, ``batch_size``, ``learning_rate``,
        ``patience``, ``standardize``, ``fit_fn``, ``precision``.

    Returns
    -------
    CVResult

    Raises
    ------
    DataError
        If a fold's training and test rows share a track (the leak this function exists to avoid).
    """
    if train_kwargs.get("allow_shared_tracks"):
        raise ValueError("cross_validate never allows tracks shared between training and test folds")
    labels = np.asarray(feature_set.labels)
    track_ids = np.asarray(feature_set.track_ids)
    genres = tuple(getattr(feature_set, "genres", ()))
    n_classes = len(genres) if genres else int(labels.max()) + 1
    table = _feature_table(feature_set)

    probabilities: list[np.ndarray] = []
    histories: list[dict] = []
    fold_rows: list[tuple] = []
    fold_probabilities: list[tuple] = []
    covered = np.zeros(len(labels), dtype=bool)
    records = []
    iterator = enumerate(folds)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(folds), desc=description, leave=False)
    for index, fold in iterator:
        train_rows, val_rows, test_rows = _fold_parts(fold)
        shared = set(track_ids[train_rows]) & set(track_ids[test_rows])
        if shared:
            raise DataError(f"fold {index}: train and test share track(s) {sorted(shared)[:3]}")
        if val_rows is None:
            fit_rows, val_rows = validation_tracks_split(table, train_rows, val_fraction, seed + index)
        else:
            fit_rows = train_rows
        if not probabilities or covered[test_rows].any():  # a new repetition starts
            probabilities.append(np.full((len(labels), n_classes), np.nan))
            covered[:] = False
        covered[test_rows] = True
        result = train_and_score(build_fn, feature_set, fit_rows, val_rows, test_rows,
                                 seed=seed + index, **train_kwargs)
        probabilities[-1][test_rows] = result.test_probabilities
        histories.append(result.history)
        fold_rows.append((np.asarray(val_rows), np.asarray(test_rows)))
        fold_probabilities.append((result.val_probabilities, result.test_probabilities))
        records.append({"repeat": len(probabilities) - 1, "fold": index, **result.record})
    return CVResult(pd.DataFrame(records), np.stack(probabilities), labels, track_ids, genres, histories,
                    fold_rows, fold_probabilities)


def average_cv(results: Sequence[CVResult], weights: Sequence[float] | None = None) -> CVResult:
    """Late fusion of cross-validated models: average their probabilities fold by fold.

    Explained in chapter *Evaluation*. The models must have been cross-validated on the same folds
    with the same seed (hence the same inner validation tracks). The averaged probabilities are
    scored exactly like one model's: on the inner validation tracks (``val_…`` columns, the numbers
    to choose by) and on the test folds. No weight is fitted: with ``weights=None`` every model
    counts equally, so the combination itself is not tuned on anything.

    Parameters
    ----------
    results : sequence of CVResult
        At least two results of :func:`cross_validate` on the same folds.
    weights : sequence of float, optional
        Non-negative weights, one per result (normalised to sum 1).

    Returns
    -------
    CVResult
        With the fused fold scores; ``seconds`` is the sum of the members' training times,
        ``epochs_run`` and ``best_epoch`` are NaN, and ``histories`` is empty.

    Raises
    ------
    DataError
        If the results were not computed on the same folds and validation rows.
    """
    from helpers.models.beyond import late_fusion  # the weighted mean of probabilities (chapter 9)

    results = list(results)
    if len(results) < 2:
        raise ValueError("average_cv needs at least two cross-validation results")
    first = results[0]
    for other in results[1:]:
        if (len(other.fold_rows) != len(first.fold_rows) or not np.array_equal(other.track_ids, first.track_ids)
                or any(not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
                       for a, b in zip(first.fold_rows, other.fold_rows, strict=True))):
            raise DataError("average_cv: the results were not computed on the same folds and validation rows")
    labels, track_ids = first.labels, first.track_ids
    records, fold_probabilities = [], []
    for index, (val_rows, test_rows) in enumerate(first.fold_rows):
        val_probs = late_fusion(*(r.fold_probabilities[index][0] for r in results), weights=weights)
        test_probs = late_fusion(*(r.fold_probabilities[index][1] for r in results), weights=weights)
        fold_probabilities.append((val_probs, test_probs))
        record = first.folds.iloc[index][["repeat", "fold", "train_tracks", "val_tracks", "test_tracks",
                                          "shared_tracks"]].to_dict()
        record.update({
            "segment_accuracy": segment_accuracy(labels[test_rows], test_probs),
            "track_accuracy": track_accuracy(test_probs, track_ids[test_rows], labels[test_rows]),
            "val_segment_accuracy": segment_accuracy(labels[val_rows], val_probs),
            "val_track_accuracy": track_accuracy(val_probs, track_ids[val_rows], labels[val_rows]),
            "epochs_run": float("nan"),
            "best_epoch": float("nan"),
            "seconds": float(sum(r.folds["seconds"].iloc[index] for r in results)),
        })
        records.append(record)
    probabilities = late_fusion(*(r.probabilities for r in results), weights=weights)
    return CVResult(pd.DataFrame(records), probabilities, labels, track_ids, first.genres, [],
                    list(first.fold_rows), fold_probabilities)
