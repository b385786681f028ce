"""Tests for helpers.models.classical (the MFCC-statistics baseline of chapter 8)."""

import json

import numpy as np
import pytest

from helpers.errors import DataError, ParameterError
from helpers.models.classical import (
    StatisticsClassifier,
    build_statistics_classifier,
    cross_entropy,
    fit_linear_classifier,
    segment_statistics,
)
from helpers.training import TrainingConfig, train_and_score


def test_segment_statistics_by_hand():
    X = np.array([[[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]]])  # 1 segment, 3 frames, 2 coefficients
    stats = segment_statistics(X)
    assert stats.shape == (1, 6)
    np.testing.assert_allclose(stats[0], [2.0, 1.0, np.std([0, 2, 4]), 0.0, 0.0, 0.0])
    np.testing.assert_allclose(segment_statistics(X[..., None]), stats)  # channel axis accepted


def test_segment_statistics_rejects_bad_shapes_and_values():
    with pytest.raises(ParameterError, match="frames >= 2"):
        segment_statistics(np.zeros((2, 1, 13)))
    with pytest.raises(ParameterError, match="shape"):
        segment_statistics(np.zeros((2, 13)))
    bad = np.zeros((1, 4, 2))
    bad[0, 1, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        segment_statistics(bad)


def _separable(n=60, frames=20, coefficients=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, frames, coefficients)) + 3.0 * y[:, None, None]  # class shifts the mean
    return X.astype("float32"), y


def test_classifier_learns_and_returns_all_classes():
    X, y = _separable()
    model = build_statistics_classifier(n_classes=4).fit(X, y)  # class 3 never seen
    probs = model(X)
    assert probs.shape == (60, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(probs[:, 3] == 0)
    assert np.mean(probs.argmax(axis=1) == y) == 1.0


def test_classifier_errors_and_json_export():
    X, y = _separable()
    with pytest.raises(RuntimeError, match="fit"):
        StatisticsClassifier().predict_proba(X)
    with pytest.raises(ParameterError, match="labels"):
        StatisticsClassifier(n_classes=2).fit(X, y)
    with pytest.raises(ParameterError, match="labels"):
        StatisticsClassifier().fit(X, y[:-1])
    exported = json.loads(json.dumps(StatisticsClassifier(n_classes=3).fit(X, y).to_dict()))
    assert exported["kind"] == "mfcc-statistics-logistic"
    assert np.asarray(exported["coef"]).shape == (3, 9) and len(exported["mean"]) == 9


def test_classifier_runs_through_train_and_score():
    class Features:
        pass

    fs = Features()
    n_tracks = 60
    fs.track_ids = np.repeat([f"t{i}" for i in range(n_tracks)], 2)
    fs.labels = np.repeat(np.arange(n_tracks) % 3, 2)
    noise = np.random.default_rng(1).normal(size=(2 * n_tracks, 20, 3))
    fs.X = (noise + 10.0 * fs.labels[:, None, None]).astype("float32")
    rows = np.arange(2 * n_tracks)
    result = train_and_score(lambda: build_statistics_classifier(n_classes=3), fs, rows[:80], rows[80:100],
                             rows[100:], fit_fn=fit_linear_classifier, config=TrainingConfig())
    assert result.record["track_accuracy"] == 1.0
    assert result.record["test_tracks"] == 10
    assert result.val_probabilities.shape == (20, 3)


def test_fit_linear_classifier_keeps_the_C_with_the_lowest_tune_cross_entropy():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 20)
    X = (rng.normal(size=(60, 10, 3)) + 0.4 * y[:, None, None]).astype("float32")
    fitted = fit_linear_classifier(build_statistics_classifier(n_classes=3), X[::2], y[::2], X[1::2], y[1::2])
    losses = {C: cross_entropy(y[1::2], build_statistics_classifier(3, C).fit(X[::2], y[::2])(X[1::2]))
              for C in (0.01, 0.1, 1.0)}
    assert fitted.choice == f"C = {min(losses, key=losses.get)}" and fitted.model.C == min(losses, key=losses.get)
    assert cross_entropy([0, 1], [[1.0, 0.0], [1.0, 0.0]]) == pytest.approx(-np.log(1e-12) / 2)
