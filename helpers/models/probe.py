"""A linear probe on pretrained embeddings, and its nested cross-validation.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``). A *linear
probe* keeps the pretrained network frozen and fits only a linear classifier (here a standardised
multinomial logistic regression) on its embeddings: one vector per track
(:func:`helpers.embeddings.extract_embeddings`).

:class:`ProbeClassifier` follows the model interface of :mod:`helpers.models.classical` (``fit``,
``predict_proba``, calling it returns probabilities, ``to_dict`` exports plain arrays, no pickle).
:func:`nested_probe_cv` chooses the probe's settings (the pooling and ``C``) inside every outer fold
on validation tracks taken from that fold's training tracks only, refits the fold's own choice on all
its training tracks and scores it once on the fold's test tracks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED
from helpers.errors import DataError, ParameterError
from helpers.models.classical import LogisticClassifier
from helpers.splits import validation_tracks_split


@dataclass
class ProbeClassifier(LogisticClassifier):
    """Standardised embedding → multinomial logistic regression (chapter *Transfer learning*).

    The book's linear classifier (:class:`helpers.models.classical.LogisticClassifier`) on one
    embedding vector per track.
    """

    KIND: ClassVar[str] = "embedding-logistic"


def build_probe(n_classes: int = 10, C: float = 1.0) -> ProbeClassifier:
    """A new, unfitted :class:`ProbeClassifier`."""
    return ProbeClassifier(n_classes=n_classes, C=C)


@dataclass
class NestedResult:
    """What :func:`nested_probe_cv` returns.

    Attributes
    ----------
    folds : pandas.DataFrame
        One row per outer fold: ``repeat``, ``fold``, ``n_train_tracks``, ``n_test_tracks``,
        ``pooling`` and ``C`` (that fold's own choice), ``val_accuracy`` (of the choice, on the
        fold's validation tracks), ``track_accuracy`` (of the refitted choice, on its test tracks).
    predictions : numpy.ndarray, shape (n_repeats, n_tracks)
        Out-of-fold predicted class of every track in every repetition (-1 where never tested).
    labels : numpy.ndarray
    """

    folds: pd.DataFrame
    predictions: np.ndarray
    labels: np.ndarray

    def correct(self, repeat: int) -> np.ndarray:
        """Per track: whether its out-of-fold prediction in repetition ``repeat`` is right."""
        return self.predictions[repeat] == self.labels


def nested_probe_cv(candidates: Mapping[str, np.ndarray], table: pd.DataFrame, folds: Sequence[tuple],
                    repeats: Sequence[int], Cs: Sequence[float] = (0.01, 0.1, 1.0),
                    val_fraction: float = 0.2, seed: int = DEFAULT_SEED) -> NestedResult:
    """Cross-validate a linear probe whose settings are chosen inside every outer fold.

    Explained in chapter 10, *Transfer learning*. For outer fold ``i``: its training tracks are
    split (:func:`helpers.splits.validation_tracks_split`, seed ``seed + i``) into fit and
    validation tracks; every candidate (each embedding in ``candidates`` × each ``C``) is fitted on
    the fit tracks and scored on the validation tracks; the best (ties: the first listed) is
    refitted on all the fold's training tracks and scores the test tracks once.

    Parameters
    ----------
    candidates : mapping of str to numpy.ndarray
        Named embeddings, each ``(n_tracks, dims)`` in ``table``'s row order (e.g. ``"mean"`` and
        ``"mean + max"`` pooling).
    table : pandas.DataFrame
        One row per track, columns ``track_id``, ``genre``, ``label``.
    folds : sequence of (train_rows, test_rows)
        Track positions in ``table``.
    repeats : sequence of int
        The repetition of every fold (:func:`helpers.evaluation.fold_repeats`).
    Cs : sequence of float
        The logistic regression's ``C`` values tried.
    val_fraction : float
        Fraction of each fold's training tracks used to choose.
    seed : int

    Returns
    -------
    NestedResult
    """
    labels = table["label"].to_numpy(dtype=np.int64)
    n_classes = int(labels.max()) + 1
    arrays = {name: np.asarray(X) for name, X in candidates.items()}
    if not arrays or any(len(X) != len(table) for X in arrays.values()):
        raise ParameterError(f"candidates must be embeddings with one row per track ({len(table)})")
    if len(repeats) != len(folds) or not Cs:
        raise ParameterError("need one repetition number per fold and at least one C")
    predictions = np.full((max(repeats) + 1, len(table)), -1, dtype=np.int64)
    records = []
    for index, ((train, test), repeat) in enumerate(zip(folds, repeats, strict=True)):
        train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
        if set(table["track_id"].iloc[train]) & set(table["track_id"].iloc[test]):
            raise DataError(f"fold {index}: a track is on both sides of the split")
        fit, val = validation_tracks_split(table, train, val_fraction, seed + index)
        scores = {}
        for name, X in arrays.items():
            for C in Cs:
                probe = build_probe(n_classes, C).fit(X[fit], labels[fit])
                scores[name, C] = float(np.mean(probe.predict_proba(X[val]).argmax(axis=1) == labels[val]))
        name, C = max(scores, key=scores.get)  # the first of the best, in candidate order
        probe = build_probe(n_classes, C).fit(arrays[name][train], labels[train])
        predicted = probe.predict_proba(arrays[name][test]).argmax(axis=1)
        predictions[repeat, test] = predicted
        records.append({"repeat": repeat, "fold": index, "n_train_tracks": len(train),
                        "n_test_tracks": len(test), "pooling": name, "C": C,
                        "val_accuracy": scores[name, C],
                        "track_accuracy": float(np.mean(predicted == labels[test]))})
    return NestedResult(pd.DataFrame(records), predictions, labels)
