"""A linear probe on pretrained embeddings.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``). A *linear
probe* keeps the pretrained network frozen and fits only a linear classifier (here a standardised
multinomial logistic regression) on its embeddings: one vector per track
(:func:`helpers.embeddings.extract_embeddings`).

:class:`ProbeClassifier` follows the model interface of :mod:`helpers.models.classical` (``fit``,
``predict_proba``, calling it returns probabilities, ``to_dict`` exports plain arrays, no pickle).
Its inner decision — the pooling and ``C`` — is made on a fold's tune tracks by
:func:`helpers.models.classical.fit_linear_classifier`, inside the book's one nested
cross-validation (:func:`helpers.evaluation.nested_cross_validate`), like every other candidate's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from helpers.errors import ParameterError
from helpers.models.classical import C_VALUES, LogisticClassifier

#: How a track's patch embeddings are pooled: ``'mean + max'`` uses every column given (the mean
#: and the maximum over patches side by side, as :func:`helpers.embeddings.extract_embeddings`
#: returns them), ``'mean'`` the first half (the mean alone).
POOLINGS = ("mean", "mean + max")


@dataclass
class ProbeClassifier(LogisticClassifier):
    """Standardised embedding → multinomial logistic regression (chapter *Transfer learning*).

    The book's linear classifier (:class:`helpers.models.classical.LogisticClassifier`) on one
    embedding vector per track, with a ``pooling`` (:data:`POOLINGS`).
    """

    KIND: ClassVar[str] = "embedding-logistic"
    pooling: str = "mean + max"

    def features(self, X) -> np.ndarray:
        """The columns of ``X`` the pooling uses (all of them, or the first half for ``'mean'``)."""
        X = super().features(X)
        if self.pooling not in POOLINGS:
            raise ParameterError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        return X[:, : X.shape[1] // 2] if self.pooling == "mean" else X

    def settings(self) -> list[dict]:
        """Pooling × ``C``: the six settings chosen between on the tune tracks."""
        return [{"pooling": pooling, "C": C} for pooling in POOLINGS for C in C_VALUES]

    def to_dict(self) -> dict:
        """:meth:`LogisticClassifier.to_dict` plus the pooling."""
        return {**super().to_dict(), "pooling": self.pooling}


def build_probe(n_classes: int = 10, C: float = 1.0, pooling: str = "mean + max") -> ProbeClassifier:
    """A new, unfitted :class:`ProbeClassifier`."""
    return ProbeClassifier(n_classes=n_classes, C=C, pooling=pooling)
