"""The linear probe's pooling and its settings (helpers.models.probe, chapter 10)."""

import numpy as np
import pytest

from helpers.errors import ParameterError
from helpers.models.classical import fit_linear_classifier
from helpers.models.probe import POOLINGS, build_probe


def test_pooling_picks_columns_and_the_tune_tracks_choose_it():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    mean_half = rng.normal(size=(90, 4))  # 'mean': the first half, noise here
    max_half = rng.normal(size=(90, 4)) + 4 * y[:, None]  # the informative half
    X = np.hstack([mean_half, max_half])
    assert build_probe(3, pooling="mean").features(X).shape == (90, 4)
    assert build_probe(3).features(X).shape == (90, 8)
    assert [s["pooling"] for s in build_probe(3).settings()] == [p for p in POOLINGS for _ in range(3)]
    fitted = fit_linear_classifier(build_probe(3), X[::2], y[::2], X[1::2], y[1::2])
    assert fitted.model.pooling == "mean + max" and fitted.choice.startswith("pooling = mean + max")
    assert fitted.model.to_dict()["pooling"] == "mean + max"
    with pytest.raises(ParameterError, match="pooling"):
        build_probe(3, pooling="median").features(X)
