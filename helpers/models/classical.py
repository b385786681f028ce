"""A classical baseline on the same MFCC segments: summary statistics + logistic regression.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``, "The candidates, fixed
before any test score"). Before deep learning, genre classifiers summarised each excerpt by a few statistics of
its frame features (Tzanetakis & Cook 2002 used means and variances of MFCCs and other
descriptors) and fed them to a simple classifier. On a hundred clips that is a strong baseline:
it has about 400 weights where the report's CNN has 155,000.

The classifier follows the interface :func:`helpers.training.train_and_score` expects of a
model, so that it is trained and scored on exactly the folds the networks use:

- ``build_statistics_classifier()`` returns an untrained :class:`StatisticsClassifier`;
- :func:`fit_linear_classifier` is the matching ``fit_fn``: its one inner decision is ``C``, chosen
  on the tune rows (the rows that stop a network early), so it learns from exactly the tracks a
  network does (epochs and batch sizes are ignored);
- calling the trained classifier on segments returns class probabilities, like a Keras model.

Its weights are plain arrays (:meth:`StatisticsClassifier.to_dict`): they can be stored as JSON,
never as a pickle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from helpers.errors import DataError, ParameterError

#: The statistics computed per MFCC coefficient, in the order of :func:`segment_statistics`' columns.
STATISTICS = ("mean", "std", "delta_std")

#: The values of ``C`` every linear model of the book chooses from on its tune tracks.
C_VALUES = (0.01, 0.1, 1.0)


def segment_statistics(X) -> np.ndarray:
    """Summarise each segment's frames: per coefficient the mean, the standard deviation and the standard deviation of the frame-to-frame change.

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

    def settings(self) -> list[dict]:
        """The settings :func:`fit_linear_classifier` chooses between on the tune rows: ``C`` in :data:`C_VALUES`."""
        return [{"C": C} for C in C_VALUES]

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
    """A new, unfitted :class:`StatisticsClassifier` (a ``build_fn`` for :func:`helpers.evaluation.nested_cross_validate`)."""
    return StatisticsClassifier(n_classes=n_classes, C=C)


@dataclass
class ClassicalFit:
    """What :func:`fit_linear_classifier` returns: the fitted model, its time and its inner choice."""

    model: LogisticClassifier
    seconds: float
    history: dict = field(default_factory=dict)
    choice: str = ""


def cross_entropy(labels, probabilities) -> float:
    """Mean negative log-probability of the true classes (probabilities clipped at 1e-12)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def fit_linear_classifier(model: LogisticClassifier, X_fit, y_fit, X_val, y_val, config=None, *,
                          seed=None) -> ClassicalFit:
    """The ``fit_fn`` of the book's linear models in :func:`helpers.training.train_and_score`.

    Explained in chapter *Evaluation*. Its one inner decision, like a network's early-stopping epoch,
    is made on the tune rows: each of ``model.settings()`` (``C``; for the probe also the pooling) is
    fitted on the fit rows, and the one with the lowest cross-entropy on the tune rows — the loss
    early stopping watches — is kept (ties: the first).

    Parameters
    ----------
    model : LogisticClassifier
    X_fit, y_fit, X_val, y_val : arrays
        Fit rows and tune rows (the tune rows choose the setting).
    config, seed : optional
        Not used: they keep the call of :func:`helpers.training.fit_model` (``fit_fn(model, X_fit, y_fit,
        X_val, y_val, config, seed=seed)``). A network's training settings (a
        ``helpers.training.TrainingConfig``: epochs, batch size, ...) have no meaning for a linear model,
        and its fit (L-BFGS from zero weights) draws no random numbers.

    Returns
    -------
    ClassicalFit
    """
    if len(X_val) == 0:
        raise ParameterError("fit_linear_classifier: no tune rows to choose the setting on")
    start = time.perf_counter()
    best, best_loss, chosen = None, np.inf, {}
    for setting in model.settings():
        candidate = replace(model, pipeline=None, **setting).fit(X_fit, y_fit)
        loss = cross_entropy(y_val, candidate.predict_proba(X_val))
        if loss < best_loss:
            best, best_loss, chosen = candidate, loss, setting
    return ClassicalFit(best, time.perf_counter() - start,
                        choice=", ".join(f"{key} = {value}" for key, value in chosen.items()))
