"""Honest evaluation: per-genre scores, confusions, fusion of probabilities and track-grouped cross-validation.

Explained in chapter *Evaluation: which numbers hold up* (``chapters/08_evaluation.ipynb``), which
shows :func:`late_fusion`, :func:`cross_validate` and :func:`nested_cross_validate`; the scores they use (track voting, segment and
track accuracy, macro F1) are in :mod:`helpers.metrics`, the splits in :mod:`helpers.splits`.

The report scored its networks on *segments* drawn at random from all tracks, so segments of one
track sat on both sides of the split (the leak). :func:`cross_validate` runs repeated, stratified,
track-grouped k-fold cross-validation instead, in which early stopping only ever sees inner
validation *tracks* taken from the training folds, never the test fold; every fold is trained and
scored by :func:`helpers.training.train_and_score`, the book's one train-and-score path.
:func:`nested_cross_validate` chooses between candidate models inside every outer fold, on
selection tracks that neither trained a model nor picked its early-stopping epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED
from helpers.errors import DataError, ParameterError
from helpers.metrics import segment_accuracy, track_accuracy, track_vote
from helpers.splits import validation_tracks_split
from helpers.training import SplitResult, train_and_score

# ---------------------------------------------------------------------------------------------
# Scores per genre
# ---------------------------------------------------------------------------------------------


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
        raise ParameterError("mean_std needs at least one value")
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{100 * values.mean():.1f} ± {100 * std:.1f} %"


# ---------------------------------------------------------------------------------------------
# Fusion of probabilities, scores per fold
# ---------------------------------------------------------------------------------------------


def late_fusion(*probabilities, weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of several models' class probabilities for the same rows.

    Shown in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), where it averages models;
    chapter *Beyond* fuses an MFCC and a descriptor model with it.

    Parameters
    ----------
    *probabilities : arrays of shape (..., n_classes)
        E.g. ``(n, n_classes)``, or ``CVResult.probabilities`` of shape ``(n_repeats, n, n_classes)``.
    weights : sequence of float, optional
        One per model (normalised to sum 1); default: equal weights.

    Returns
    -------
    numpy.ndarray, same shape as each input

    Raises
    ------
    ParameterError
        With fewer than two arrays, arrays of different shapes, or negative (or all-zero) weights.
    """
    if len(probabilities) < 2:
        raise ParameterError("late_fusion needs the probabilities of at least two models")
    arrays = [np.asarray(p, dtype=np.float64) for p in probabilities]
    if any(a.shape != arrays[0].shape or a.ndim < 2 for a in arrays):
        raise ParameterError(f"late_fusion: probability arrays differ in shape: {[a.shape for a in arrays]}")
    w = np.ones(len(arrays)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(arrays),) or np.any(w < 0) or w.sum() == 0:
        raise ParameterError(f"weights must be {len(arrays)} non-negative numbers, not all zero")
    w = w / w.sum()
    return sum(wi * a for wi, a in zip(w, arrays, strict=True))


def fold_repeats(folds, n_rows: int) -> list[int]:
    """The repetition each fold belongs to: a new repetition starts when a test row comes back.

    Explained in chapter *Evaluation*. ``folds`` are ``(train, test)`` or ``(train, validation,
    test)`` row tuples over ``n_rows`` rows, in the order of :func:`helpers.splits.track_folds`.
    """
    covered = np.zeros(int(n_rows), dtype=bool)
    repeat, repeats = -1, []
    for fold in folds:
        test = np.asarray(fold[-1], dtype=np.int64)
        if repeat < 0 or covered[test].any():
            repeat += 1
            covered[:] = False
        covered[test] = True
        repeats.append(repeat)
    return repeats


def _scores(labels, track_ids, rows, probabilities, prefix: str = "") -> dict:
    """Segment and track-vote accuracy of some rows (NaN when there are none)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return {prefix + "segment_accuracy": float("nan"), prefix + "track_accuracy": float("nan")}
    return {prefix + "segment_accuracy": segment_accuracy(labels[rows], probabilities),
            prefix + "track_accuracy": track_accuracy(probabilities, track_ids[rows], labels[rows])}


def fold_scores(probabilities, labels, track_ids, folds) -> pd.DataFrame:
    """Score out-of-fold probabilities fold by fold (segment and track-vote accuracy).

    Explained in chapter *Evaluation*; chapter *Beyond* uses it for late fusion: combine the
    ``CVResult.probabilities`` of two models run on the same folds with :func:`late_fusion`, then
    score the result here exactly like :func:`cross_validate` scores one model.

    Parameters
    ----------
    probabilities : array-like, shape (n_repeats, n_rows, n_classes)
        Out-of-fold probabilities per repetition (``CVResult.probabilities``).
    labels, track_ids : array-like, shape (n_rows,)
    folds : sequence of (train_rows, test_rows) or (train_rows, val_rows, test_rows)
        The folds the models were run on (:func:`fold_repeats` tells their repetitions).

    Returns
    -------
    pandas.DataFrame
        One row per fold: ``repeat``, ``fold``, ``segment_accuracy``, ``track_accuracy``.

    Raises
    ------
    ParameterError
        If the probabilities do not fit the rows or the folds' repetitions.
    DataError
        If a test row has no out-of-fold probabilities (NaN).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels, track_ids = np.asarray(labels), np.asarray(track_ids)
    if probs.ndim != 3 or probs.shape[1] != len(labels):
        raise ParameterError(f"fold_scores: probabilities of shape {probs.shape} do not fit {len(labels)} rows")
    records = []
    for index, (fold, repeat) in enumerate(zip(folds, fold_repeats(folds, len(labels)), strict=True)):
        if repeat >= len(probs):
            raise ParameterError(f"fold_scores: fold {index} belongs to repetition {repeat}, "
                                 f"beyond the {len(probs)} given")
        test = np.asarray(fold[-1], dtype=np.int64)
        if np.isnan(probs[repeat][test]).any():
            raise DataError(f"fold_scores: fold {index} has rows without out-of-fold probabilities")
        records.append({"repeat": repeat, "fold": index, **_scores(labels, track_ids, test, probs[repeat][test])})
    return pd.DataFrame(records)


# ---------------------------------------------------------------------------------------------
# Cross-validation
# ---------------------------------------------------------------------------------------------


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


def fold_parts(fold) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(train, validation, test)`` rows of a fold; validation is None for a ``(train, test)`` pair."""
    if len(fold) not in (2, 3):
        raise ParameterError(f"a fold must be (train, test) or (train, validation, test) rows, got {len(fold)} parts")
    rows = [np.asarray(part, dtype=np.int64) for part in fold]
    return rows[0], (rows[1] if len(rows) == 3 else None), rows[-1]


def progress_bar(items: Sequence, show: bool, description: str):
    """``items`` with a tqdm progress bar (that disappears when done) if ``show``."""
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, leave=False)


class FoldRecorder:
    """What :func:`cross_validate` keeps of every fold: scores, out-of-fold probabilities, histories.

    Explained in chapter *Evaluation*. :meth:`add` keeps one fold's scores (on its validation and
    test rows) and probabilities; :meth:`result` returns the :class:`CVResult`.
    """

    def __init__(self, feature_set, folds: Sequence[tuple]):
        if len(folds) == 0:
            raise ParameterError("cross-validation needs at least one fold")
        self.labels = np.asarray(feature_set.labels)
        self.track_ids = np.asarray(feature_set.track_ids)
        self.genres = tuple(getattr(feature_set, "genres", ()))
        n_classes = len(self.genres) if self.genres else int(self.labels.max()) + 1
        self.repeats = fold_repeats(folds, len(self.labels))
        self.probabilities = np.full((self.repeats[-1] + 1, len(self.labels), n_classes), np.nan)
        self.records: list[dict] = []
        self.histories: list[dict] = []
        self.fold_rows: list[tuple] = []
        self.fold_probabilities: list[tuple] = []

    def add(self, index: int, run: SplitResult) -> None:
        """Record fold ``index``: what :func:`helpers.training.train_and_score` returned for it."""
        self.probabilities[self.repeats[index]][run.test_rows] = run.test_probabilities
        self.histories.append(run.history)
        self.fold_rows.append((run.val_rows, run.test_rows))
        self.fold_probabilities.append((run.val_probabilities, run.test_probabilities))
        scores = {key: value for key, value in run.record.items() if key != "shared_tracks"}  # 0 by construction
        self.records.append({"repeat": self.repeats[index], "fold": index, **scores})

    def result(self) -> CVResult:
        """The :class:`CVResult` of the folds recorded so far."""
        return CVResult(pd.DataFrame(self.records), self.probabilities, self.labels, self.track_ids, self.genres,
                        self.histories, self.fold_rows, self.fold_probabilities)


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

    Shown in chapter *Evaluation* (``chapters/08_evaluation.ipynb``). For each fold: the training
    tracks are split again (:func:`helpers.splits.validation_tracks_split`) into fit tracks and
    inner validation tracks; :func:`helpers.training.train_and_score` trains a new model from
    ``build_fn`` on the fit tracks with early stopping on the validation tracks and predicts the
    test fold once, at the end; :class:`FoldRecorder` keeps the scores and the out-of-fold
    probabilities.

    Parameters
    ----------
    build_fn : callable
        Returns a new model (e.g. ``helpers.models.mfcc.build_report_cnn``).
    feature_set : FeatureSet
        With ``X``, ``labels``, ``track_ids``, ``genres`` and ``table()``, e.g. the result of
        :func:`helpers.features.extract_features`.
    folds : sequence of tuples
        ``(train_rows, test_rows)`` pairs, e.g. from :func:`helpers.splits.track_folds`, or
        ``(train_rows, validation_rows, test_rows)`` triples (e.g. :func:`helpers.splits.filtered_folds`),
        whose validation rows are then used instead of an inner split.
    val_fraction : float
        Fraction of each fold's training tracks used as inner validation tracks.
    seed : int
        Fold ``i`` is seeded with ``seed + i`` (model initialisation, shuffles, inner split).
    progress : bool
        Show a progress bar over folds.
    description : str
        Label of the progress bar.
    **train_kwargs
        Passed to :func:`helpers.training.train_and_score` (``epochs``, ``batch_size``,
        ``learning_rate``, ``patience``, ``standardize``, ``fit_fn``, ``precision``).

    Returns
    -------
    CVResult

    Raises
    ------
    ParameterError
        If asked to allow tracks shared between training and test.
    DataError
        If a fold's training and test rows share a track (the leak this function exists to avoid).
    """
    if train_kwargs.get("allow_shared_tracks"):
        raise ParameterError("cross_validate never allows tracks shared between training and test folds")
    recorder = FoldRecorder(feature_set, folds)
    for index, fold in enumerate(progress_bar(folds, progress, description)):
        fit_rows, val_rows, test_rows = fold_parts(fold)
        if val_rows is None:  # early stopping watches tracks of the training side, never the test fold
            fit_rows, val_rows = validation_tracks_split(feature_set, fit_rows, val_fraction, seed + index)
        run = train_and_score(build_fn, feature_set, fit_rows, val_rows, test_rows, seed=seed + index, **train_kwargs)
        recorder.add(index, run)
    return recorder.result()


def average_cv(results: Sequence[CVResult], weights: Sequence[float] | None = None) -> CVResult:
    """Late fusion of cross-validated models: average their probabilities fold by fold.

    Explained in chapter *Evaluation*. The models must have been cross-validated on the same folds
    with the same seed (hence the same inner validation tracks). The averaged probabilities
    (:func:`late_fusion`) are scored exactly like one model's: on the inner validation tracks
    (``val_…`` columns, the numbers to choose by) and on the test folds. No weight is fitted: with
    ``weights=None`` every model counts equally, so the combination itself is not tuned on anything.

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
    ParameterError
        With fewer than two results, or if they were not computed on the same folds and validation rows.
    """
    results = list(results)
    if len(results) < 2:
        raise ParameterError("average_cv needs at least two cross-validation results")
    first = results[0]
    for other in results[1:]:
        if (len(other.fold_rows) != len(first.fold_rows) or not np.array_equal(other.track_ids, first.track_ids)
                or any(not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
                       for a, b in zip(first.fold_rows, other.fold_rows, strict=True))):
            raise ParameterError("average_cv: the results were not computed on the same folds and validation rows")
    labels, track_ids = first.labels, first.track_ids
    records, fold_probabilities = [], []
    for index, (val_rows, test_rows) in enumerate(first.fold_rows):
        val_probs = late_fusion(*(r.fold_probabilities[index][0] for r in results), weights=weights)
        test_probs = late_fusion(*(r.fold_probabilities[index][1] for r in results), weights=weights)
        fold_probabilities.append((val_probs, test_probs))
        record = first.folds.iloc[index][["repeat", "fold", "train_tracks", "val_tracks", "test_tracks"]].to_dict()
        record.update({
            **_scores(labels, track_ids, test_rows, test_probs),
            **_scores(labels, track_ids, val_rows, val_probs, prefix="val_"),
            "epochs_run": float("nan"),
            "best_epoch": float("nan"),
            "seconds": float(sum(r.folds["seconds"].iloc[index] for r in results)),
        })
        records.append(record)
    probabilities = late_fusion(*(r.probabilities for r in results), weights=weights)
    return CVResult(pd.DataFrame(records), probabilities, labels, track_ids, first.genres, [],
                    list(first.fold_rows), fold_probabilities)



# ---------------------------------------------------------------------------------------------
# Nested selection: the choice between candidates is made inside every outer fold
# ---------------------------------------------------------------------------------------------


def selection_split(feature_set, train_rows, fraction: float = 0.2,
                    seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split one outer fold's training rows by track into fit, early-stopping and selection rows.

    Explained in chapter *Evaluation*. ``fraction`` of the training tracks become *selection*
    tracks (they choose between candidates), the same number of the others become early-stopping
    validation tracks (they pick the epoch), the rest are fit: 60 / 20 / 20 by default. Both splits
    are genre-stratified and track-grouped (:func:`helpers.splits.validation_tracks_split`).
    """
    if not 0 < fraction < 0.5:
        raise ParameterError(f"fraction must be in (0, 0.5), got {fraction}")
    rest, selection = validation_tracks_split(feature_set, train_rows, fraction, seed)
    fit, validation = validation_tracks_split(feature_set, rest, fraction / (1 - fraction), seed + 1)
    return fit, validation, selection


@dataclass
class NestedResult:
    """What :func:`nested_cross_validate` returns (explained in chapter *Evaluation*).

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per candidate and outer fold: ``model``, ``repeat``, ``fold``, track counts
        (``n_train_tracks`` = the outer fold's training tracks, ``n_fit_tracks``,
        ``n_val_tracks``, ``n_selection_tracks``, ``n_test_tracks``),
        ``selection_track_accuracy`` (the number to choose by), ``track_vote_accuracy`` and
        ``segment_accuracy`` (test fold), ``epochs_run``, ``best_epoch``, ``seconds``.
    probabilities : dict
        Candidate name → list over folds of ``(selection_probabilities, test_probabilities)``.
    fold_rows : list of (fit, validation, selection, test) row arrays, one per outer fold.
    labels, track_ids : numpy.ndarray
        Of every segment.
    """

    scores: pd.DataFrame
    probabilities: dict
    fold_rows: list
    labels: np.ndarray
    track_ids: np.ndarray

    def _record(self, name: str, index: int, selection_probs, test_probs, **extra) -> dict:
        fit, val, sel, test = self.fold_rows[index]
        tracks = self.track_ids
        return {"model": name, "fold": index,
                "n_train_tracks": len(set(tracks[fit]) | set(tracks[val]) | set(tracks[sel])),
                "n_fit_tracks": len(set(tracks[fit])), "n_val_tracks": len(set(tracks[val])),
                "n_selection_tracks": len(set(tracks[sel])), "n_test_tracks": len(set(tracks[test])),
                "selection_track_accuracy": track_accuracy(selection_probs, tracks[sel], self.labels[sel]),
                "track_vote_accuracy": track_accuracy(test_probs, tracks[test], self.labels[test]),
                "segment_accuracy": segment_accuracy(self.labels[test], test_probs), **extra}

    def average(self, members: Sequence[str], name: str) -> None:
        """Add the unweighted average (:func:`late_fusion`) of some candidates as one more candidate."""
        missing = [m for m in members if m not in self.probabilities]
        if len(members) < 2 or missing:
            raise ParameterError(f"average needs at least two known candidates; unknown: {missing}")
        fused, rows = [], []
        for index in range(len(self.fold_rows)):
            sel = late_fusion(*(self.probabilities[m][index][0] for m in members))
            test = late_fusion(*(self.probabilities[m][index][1] for m in members))
            fused.append((sel, test))
            seconds = self.scores.query("fold == @index and model in @members")["seconds"].sum()
            rows.append(self._record(name, index, sel, test, seconds=seconds))
        self.probabilities[name] = fused
        repeats = self.scores.drop_duplicates("fold").set_index("fold")["repeat"]
        added = pd.DataFrame(rows).assign(repeat=lambda f: f["fold"].map(repeats))
        self.scores = pd.concat([self.scores, added[[c for c in self.scores.columns if c in added]]],
                                ignore_index=True)

    def track_predictions(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold (true, predicted) track classes of one candidate, all outer folds pooled."""
        true, pred = [], []
        for (_, _, _, test), (_, probs) in zip(self.fold_rows, self.probabilities[name], strict=True):
            t, p, _ = track_vote(probs, self.track_ids[test], self.labels[test])
            true.append(t)
            pred.append(p)
        return np.concatenate(true), np.concatenate(pred)

    def choices(self) -> pd.DataFrame:
        """Per outer fold, the candidate with the best selection-track score and its test score.

        A tie goes to the candidate listed first (the order the candidates were given in).
        """
        order = {name: i for i, name in enumerate(self.probabilities)}
        ranked = self.scores.assign(order=self.scores["model"].map(order)).sort_values(
            ["fold", "selection_track_accuracy", "order"], ascending=[True, False, True])
        chosen = ranked.drop_duplicates("fold").drop(columns="order").reset_index(drop=True)
        return chosen.rename(columns={"model": "chosen"})


class NestedRecorder:
    """What :func:`nested_cross_validate` keeps of every candidate on every outer fold."""

    def __init__(self, feature_set, folds: Sequence[tuple]):
        if len(folds) == 0:
            raise ParameterError("nested cross-validation needs at least one outer fold")
        self.result = NestedResult(pd.DataFrame(), {}, [], np.asarray(feature_set.labels),
                                   np.asarray(feature_set.track_ids))
        self.repeats = fold_repeats(folds, len(self.result.labels))
        self.rows: list[dict] = []

    def add_fold(self, fit, val, selection, test) -> None:
        """Start an outer fold with its four sets of rows."""
        self.result.fold_rows.append(tuple(np.asarray(r, dtype=np.int64) for r in (fit, val, selection, test)))

    def add(self, name: str, run: SplitResult) -> None:
        """Record candidate ``name`` on the current fold (its test rows are selection + test rows)."""
        index = len(self.result.fold_rows) - 1
        n_sel = len(self.result.fold_rows[index][2])
        sel, test = run.test_probabilities[:n_sel], run.test_probabilities[n_sel:]
        self.result.probabilities.setdefault(name, []).append((sel, test))
        self.rows.append(self.result._record(
            name, index, sel, test, repeat=self.repeats[index], epochs_run=run.record.get("epochs_run"),
            best_epoch=run.record.get("best_epoch"), seconds=run.record.get("seconds")))

    def finish(self) -> NestedResult:
        """The :class:`NestedResult` of everything recorded."""
        columns = ["model", "repeat", "fold"]
        frame = pd.DataFrame(self.rows)
        self.result.scores = frame[columns + [c for c in frame.columns if c not in columns]]
        return self.result


def nested_cross_validate(candidates: dict, feature_set, folds: Sequence[tuple], *,
                          seed: int = DEFAULT_SEED, progress: bool = True, **train_kwargs) -> NestedResult:
    """Every candidate on every outer fold, with fit / early-stopping / selection tracks inside the fold.

    Shown in chapter *Evaluation* (``chapters/08_evaluation.ipynb``). For each outer fold,
    :func:`selection_split` divides the training tracks into fit, early-stopping and selection
    tracks; every candidate is trained by :func:`helpers.training.train_and_score` on the fit
    tracks (early stopping on the early-stopping tracks) and predicts the selection tracks and the
    test fold. :meth:`NestedResult.choices` then picks, per fold, the candidate with the best
    selection-track accuracy; its test score is that fold's nested score.

    Parameters
    ----------
    candidates : dict
        Name → ``(build_fn, options)``; ``options`` are extra keyword arguments for
        ``train_and_score`` (e.g. ``{"fit_fn": fit_statistics_classifier}``). Their order breaks ties.
    feature_set : FeatureSet
    folds : sequence of tuples
        ``(train, test)`` rows (:func:`helpers.splits.track_folds`) or ``(train, validation, test)``
        rows (:func:`helpers.splits.filtered_folds`; the validation rows join the training side).
    seed : int
        Outer fold ``i`` uses ``seed + i`` (inner splits, initialisation, shuffles).
    progress : bool
        Show a progress bar over outer folds.
    **train_kwargs
        Passed to ``train_and_score`` for every candidate (``epochs``, ``patience``, ...).

    Returns
    -------
    NestedResult
    """
    recorder = NestedRecorder(feature_set, folds)
    for index, fold in enumerate(progress_bar(folds, progress, "outer folds")):
        train_rows, given_val, test_rows = fold_parts(fold)
        if given_val is not None:  # a fixed split's validation list joins the training side
            train_rows = np.concatenate([train_rows, given_val])
        fit_rows, val_rows, sel_rows = selection_split(feature_set, train_rows, seed=seed + index)
        recorder.add_fold(fit_rows, val_rows, sel_rows, test_rows)
        for name, (build, options) in candidates.items():
            run = train_and_score(build, feature_set, fit_rows, val_rows, np.concatenate([sel_rows, test_rows]),
                                  seed=seed + index, **{**train_kwargs, **options})
            recorder.add(name, run)
    return recorder.finish()


def tracks_per_genre(feature_set, rows, n: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The rows of ``n`` tracks per genre drawn at random from ``rows`` (for a learning curve).

    Explained in chapter *Evaluation*. A genre with fewer than ``n`` tracks keeps all of them.
    """
    if n < 1:
        raise ParameterError(f"n must be at least 1, got {n}")
    rows = np.asarray(rows, dtype=np.int64)
    table = feature_set.table().iloc[rows]
    tracks = table[["track_id", "genre"]].drop_duplicates("track_id")
    rng = np.random.default_rng(seed)
    keep = set()
    for _, group in tracks.groupby("genre", sort=True):
        ids = group["track_id"].to_numpy()
        keep.update(rng.choice(ids, size=min(n, len(ids)), replace=False).tolist())
    return rows[table["track_id"].isin(keep).to_numpy()]
