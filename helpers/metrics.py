"""Scores of predictions: segment accuracy, track voting, track accuracy, macro F1.

Explained in chapter *Evaluation: which numbers hold up* (``chapters/08_evaluation.ipynb``), which
shows :func:`track_vote`. These are pure functions of arrays (NumPy, pandas, scikit-learn): they sit
below :mod:`helpers.training` so that training can score a model, and :mod:`helpers.evaluation`
builds the per-genre reports, the fusion of probabilities and cross-validation on top of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.errors import DataError, ParameterError


def as_probabilities(probabilities, name: str = "probabilities") -> np.ndarray:
    """``probabilities`` as a finite float64 ``(rows, classes)`` array, or an error naming the problem.

    Explained in chapter *Evaluation*: the input check of its metrics (plumbing, not shown).

    Raises
    ------
    ParameterError
        If the array is not 2-D with at least one row and two classes.
    DataError
        If it holds NaN or infinite values.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ParameterError(f"{name} must be a non-empty (segments, classes) array, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise DataError(f"{name} contain NaN or infinite values")
    return probs


def track_vote(probabilities, track_ids, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn segment predictions into one prediction per track by averaging their probabilities.

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``). Each segment counts equally
    within its track and each track counts once, whatever its number of segments. A tie between
    classes goes to the class with the lower index (``numpy.argmax``).

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
    ParameterError
        If the lengths differ.
    DataError
        If one track carries two different labels.
    """
    probs = as_probabilities(probabilities)
    tracks, labels = np.asarray(track_ids), np.asarray(labels)
    if not (len(tracks) == len(labels) == len(probs)):
        raise ParameterError(f"track_vote needs one track id and label per segment: got {len(probs)} "
                             f"probability rows, {len(tracks)} track ids and {len(labels)} labels")
    codes, uniques = pd.factorize(tracks, sort=False)  # track number of every segment
    sums = np.zeros((len(uniques), probs.shape[1]))
    np.add.at(sums, codes, probs)  # sum of the probabilities of each track's segments
    mean = sums / np.bincount(codes)[:, None]
    track_true = np.empty(len(uniques), dtype=np.int64)
    track_true[codes] = labels  # one label per track: checked on the next line
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
        raise ParameterError(f"labels {labels.shape} and predictions {pred.shape} do not match (or are empty)")
    return float(np.mean(pred == labels))


def track_accuracy(probabilities, track_ids, labels) -> float:
    """Fraction of tracks classified correctly after :func:`track_vote`.

    Explained in chapter *Evaluation*.
    """
    true, pred, _ = track_vote(probabilities, track_ids, labels)
    return float(np.mean(true == pred))


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 scores (every genre counts the same).

    Explained in chapter *Evaluation*; chapter 1's tables use it too (the one macro-F1 of the book).
    Every class ``0 .. n_classes - 1`` counts, with F1 = 0 for a class that is never predicted or
    never present: a model that ignores a genre is not excused by leaving it out of the average
    (scikit-learn's default would average over the classes present only, with a warning).
    """
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=np.arange(n_classes), average="macro", zero_division=0))
