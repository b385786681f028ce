"""Chapter 8's candidate models, fixed in one place before any test score.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``, "The candidates, fixed before any
test score"). The confirmation run (``make confirm``, ``tools/confirm.py``) re-scores exactly these
candidates on a fresh fold table, so the list must not change between the two: both import it from
here. The networks are trained with the report's recipe, ``helpers.training.TrainingConfig()``.
"""

from __future__ import annotations

from helpers.models.classical import build_statistics_classifier, fit_linear_classifier
from helpers.models.mfcc import build_gap_cnn, build_report_cnn, build_report_lstm


def evaluation_candidates() -> dict:
    """Chapter 8's candidates, simplest first (a tie on the selection tracks goes to the first).

    Notebook: chapters/08_evaluation.ipynb
    """
    return {
        "MFCC statistics + logistic regression": (build_statistics_classifier, {"fit_fn": fit_linear_classifier}),
        "report CNN": (build_report_cnn, {}),
        "report LSTM": (build_report_lstm, {}),
        "CNN + global average pooling": (build_gap_cnn, {}),
    }


def evaluation_averages() -> dict:
    """Chapter 8's averaged candidates: name → the candidates whose probabilities are averaged."""
    return {"average: report CNN + statistics": ["report CNN", "MFCC statistics + logistic regression"],
            "average: GAP CNN + statistics": ["CNN + global average pooling", "MFCC statistics + logistic regression"]}
