"""A classical baseline on the same MFCC segments: summary statistics + logistic regression.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``, "The candidates, fixed
before any test score"). Before deep learning, genre classifiers summarised each excerpt by a few statistics of
its frame features (Tzanetakis & Cook 2002 used means and variances of MFCCs and other
descriptors) and fed them to a simple classifier. On a hundred clips that is a strong baseline:
it has about 400 weights where the report's CNN has 155,000.

The classifier follows the interface :func:`helpers.training.train_and_score` expects of a
model, so that it is trained and scored on exactly the folds the networks use:

- ``build_statistics_classifier()`` returns an untrained :class:`StatisticsClassifier`;
- ``fit_statistics_classifier`` is the matching ``fit_fn`` (it ignores epochs and batch sizes);
- calling the trained classifier on segments returns class probabilities, like a Keras model.

Its weights are plain arrays (:meth:`StatisticsClassifier.to_dict`): they can be stored as JSON,
never as a pickle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from helpers.errors import DataError, ParameterError

#: The statistics computed per MFCC coefficient, in the order of :func:`segment_statistics`' columns.
STATISTICS = ("mean", "std", "delta_std")


def segment_statistics(X) -> np.ndarray:
    """Summarise each segment's frames: per coefficient the mean, the standard deviation and the
    standard deviation of the frame-to-frame change.

    Explained in chapter *Evaluation*. The mean describes the average timbre, the standard
    deviation how much it varies, and the spread of the first difference how fast it changes (a
    crude stand-in for the "delta" features of speech recognition).

    Parameters
    ----------
    X : array-like of shape (n_segments, n_frames, n_coefficients)
        MFCC segments, e.g. ``(n, 259, 13)``; a trailing channel axis of size 1 is accepted.

    Returns
    -------
    numpy.ndarray of shape (n_segments, 3 * n_coefficients), float64
        Columns grouped by statistic: all means, then all standard deviations, then all
        difference spreads.

    Raises
    ------
    ParameterError
        If ``X`` is not 3-D (or 4-D with one channel) or has fewer than 2 frames.
    DataError
        If ``X`` holds NaN or infinite values.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim != 3 or X.shape[1] < 2:
        raise ParameterError(f"segment_statistics: need segments of shape (n, frames >= 2, coefficients), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError("segment_statistics: the segments contain NaN or infinite values")
    return np.concatenate([X.mean(axis=1), X.std(axis=1), np.diff(X, axis=1).std(axis=1)], axis=1)


@dataclass
class LogisticClassifier:
    """Standardized feature vectors → multinomial logistic regression: the book's linear classifier.

    Explained in chapter *Evaluation*; chapter *Transfer learning* uses it on embeddings
    (:class:`helpers.models.probe.ProbeClassifier`). A subclass says how its inputs become feature
    vectors (:meth:`features`) and names itself in :meth:`to_dict` (``KIND``).

    Parameters
    ----------
    n_classes : int
        Number of genres (columns of the returned probabilities, also for a genre absent from a fit).
    C : float
        Inverse strength of the L2 penalty (scikit-learn's ``C``); smaller is simpler.
    """

    KIND: ClassVar[str] = "logistic"
    n_classes: int = 10
    C: float = 1.0
    pipeline: object = field(default=None, repr=False)

    def features(self, X) -> np.ndarray:
        """The feature vectors of ``X``: here ``X`` itself, checked to be ``(n, dims)`` and finite."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ParameterError(f"{type(self).__name__}: need feature vectors of shape (n, dims), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError(f"{type(self).__name__}: the features contain NaN or infinite values")
        return X

    def fit(self, X, y):
        """Fit the scaler and the logistic regression on the features of ``X`` with labels ``y``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        name, y = type(self).__name__, np.asarray(y)
        if len(y) != len(X):
            raise ParameterError(f"{name}.fit: {len(X)} inputs but {len(y)} labels")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ParameterError(f"{name}.fit: labels must be in [0, {self.n_classes}), got {y.min()}..{y.max()}")
        self.pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=5000))
        self.pipeline.fit(self.features(X), y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, float32."""
        if self.pipeline is None:
            raise RuntimeError(f"{type(self).__name__}: call fit() before predicting")
        probs = self.pipeline.predict_proba(self.features(X))
        out = np.zeros((len(probs), self.n_classes), dtype=np.float32)
        out[:, self.pipeline.classes_] = probs
        return out

    def __call__(self, X, training: bool = False) -> np.ndarray:
        """Same as :meth:`predict_proba`, so that it can stand where a Keras model is called."""
        return self.predict_proba(X)

    def to_dict(self) -> dict:
        """The fitted parameters as plain lists (JSON-ready): scaler mean/scale, coefficients, intercepts."""
        if self.pipeline is None:
            raise RuntimeError(f"{type(self).__name__}: nothing to export before fit()")
        scaler, logistic = self.pipeline[0], self.pipeline[-1]
        return {"kind": self.KIND, "n_classes": self.n_classes, "C": self.C,
                "classes": logistic.classes_.tolist(), "mean": scaler.mean_.tolist(),
                "scale": scaler.scale_.tolist(), "coef": logistic.coef_.tolist(),
                "intercept": logistic.intercept_.tolist()}


@dataclass
class StatisticsClassifier(LogisticClassifier):
    """Standardized segment statistics → multinomial logistic regression (chapter *Evaluation*).

    Its inputs are MFCC segments; :func:`segment_statistics` turns each into a feature vector.
    """

    KIND: ClassVar[str] = "mfcc-statistics-logistic"

    def features(self, X) -> np.ndarray:
        """:func:`segment_statistics` of the segments ``X``."""
        return segment_statistics(X)

    def to_dict(self) -> dict:
        """:meth:`LogisticClassifier.to_dict` plus the names of the statistics."""
        return {**super().to_dict(), "statistics": list(STATISTICS)}


def build_statistics_classifier(n_classes: int = 10, C: float = 1.0) -> StatisticsClassifier:
    """A new, unfitted :class:`StatisticsClassifier` (a ``build_fn`` for :func:`helpers.evaluation.cross_validate`)."""
    return StatisticsClassifier(n_classes=n_classes, C=C)


@dataclass
class ClassicalFit:
    """What :func:`fit_statistics_classifier` returns: the fitted model and the time it took."""

    model: StatisticsClassifier
    seconds: float
    history: dict = field(default_factory=dict)


def fit_statistics_classifier(model: StatisticsClassifier, X_fit, y_fit, X_val=None, y_val=None, **_ignored) -> ClassicalFit:
    """The ``fit_fn`` for a :class:`StatisticsClassifier` in :func:`helpers.training.train_and_score`.

    Explained in chapter *Evaluation*. It fits on the fit rows only; the validation rows are not
    needed (nothing stops early) and the networks' settings (epochs, batch size, ...) are ignored.
    """
    start = time.perf_counter()
    model.fit(X_fit, y_fit)
    return ClassicalFit(model, time.perf_counter() - start)
