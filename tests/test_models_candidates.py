"""Chapter 8's fixed candidates (helpers.models.candidates): what the confirmation run re-scores."""

import pytest

from helpers.models.candidates import evaluation_averages, evaluation_candidates
from helpers.models.classical import fit_linear_classifier


def test_the_candidate_list_is_fixed_and_the_averages_name_known_candidates():
    candidates = evaluation_candidates()
    assert list(candidates) == ["MFCC statistics + logistic regression", "report CNN", "report LSTM",
                                "CNN + global average pooling"]
    assert candidates["MFCC statistics + logistic regression"][1] == {"fit_fn": fit_linear_classifier}
    assert all(set(members) <= set(candidates) for members in evaluation_averages().values())


def test_the_default_training_config_is_the_reports_recipe():
    """Chapter 8 and the confirmation run train with ``TrainingConfig()``: Adam 1e-3, batch 32, at most
    60 epochs, patience 10 (chapter 6)."""
    training = pytest.importorskip("helpers.training")
    config = training.TrainingConfig()
    assert (config.epochs, config.batch_size, config.learning_rate, config.patience) == (60, 32, 1e-3, 10)
