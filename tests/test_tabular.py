"""Tests for helpers.tabular (chapter 1: the Spotify baseline)."""

import numpy as np
import pandas as pd
import pytest

from helpers.config import SPOTIFY_GENRES
from helpers.datasets import AUDIO_FEATURES
from helpers.errors import DataError, ParameterError
from helpers.results import COLUMNS
from helpers.splits import grouped_split, validation_split
from helpers.tabular import (
    REPORT_ACCURACY,
    REPORT_FEATURES,
    any_genre_accuracy,
    as_sequence,
    baseline_models,
    duplicate_summary,
    feature_matrix,
    fit_and_score,
    genre_labels,
    multi_genre_tracks,
    one_hot,
    result_row,
    results_table,
    scale_features,
    single_genre_tracks,
    tune_hist_gradient_boosting,
)


def make_table(n_tracks=120, seed=0):
    """A small Spotify-like table: genre-dependent features, repeated and multi-genre tracks."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_tracks):
        genre = SPOTIFY_GENRES[i % 6]
        feats = {f: rng.normal() + (SPOTIFY_GENRES.index(genre) if f == "energy" else 0) for f in AUDIO_FEATURES}
        feats["duration_ms"] = 200_000 + 10_000 * rng.normal()
        rows.append({"track_id": f"t{i}", "playlist_genre": genre, **feats})
        if i % 10 == 0:  # same track, same genre, another playlist
            rows.append({"track_id": f"t{i}", "playlist_genre": genre, **feats})
        if i % 15 == 1:  # same track under another genre
            rows.append({"track_id": f"t{i}", "playlist_genre": SPOTIFY_GENRES[(i + 1) % 6], **feats})
    table = pd.DataFrame(rows)
    table.attrs["source"] = "synthetic"
    return table


def test_feature_matrix_and_labels():
    table = make_table()
    x = feature_matrix(table)
    assert x.shape == (len(table), 12) and x.dtype == np.float32
    report = feature_matrix(table, REPORT_FEATURES)  # the report's 11: duration in, loudness out
    assert report.shape == (len(table), 11) and "loudness" not in REPORT_FEATURES
    np.testing.assert_array_equal(report, np.delete(x, list(AUDIO_FEATURES).index("loudness"), axis=1))
    y = genre_labels(table)
    assert y.min() == 0 and y.max() == 5
    assert SPOTIFY_GENRES[y[0]] == table.loc[0, "playlist_genre"]


def test_bad_input_raises_data_error():
    table = make_table()
    with pytest.raises(DataError, match="tempo"):
        feature_matrix(table.drop(columns="tempo"))
    broken = table.copy()
    broken.loc[3, "energy"] = np.nan
    with pytest.raises(DataError, match="energy"):
        feature_matrix(broken)
    wrong = table.copy()
    wrong.loc[0, "playlist_genre"] = "polka"
    with pytest.raises(DataError, match="polka"):
        genre_labels(wrong)


def test_one_hot():
    encoded = one_hot(np.array([0, 5, 2]))
    assert encoded.shape == (3, 6)
    np.testing.assert_array_equal(encoded.argmax(axis=1), [0, 5, 2])
    np.testing.assert_array_equal(encoded.sum(axis=1), 1)
    with pytest.raises(ParameterError):
        one_hot(np.array([0, 6]))


def test_scaler_is_fitted_on_train_only():
    rng = np.random.default_rng(1)
    train = rng.normal(5.0, 2.0, size=(200, 3))
    test = rng.normal(50.0, 9.0, size=(50, 3))  # very different: must not move the scaler
    scaler, (train_s, test_s) = scale_features(train, test)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0))
    np.testing.assert_allclose(train_s.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train_s.std(axis=0), 1, atol=1e-4)
    assert test_s.mean() > 5  # the test rows stay far away: they were scaled with train statistics


def test_as_sequence():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    assert as_sequence(x).shape == (2, 12, 1)
    with_pos = as_sequence(x, with_position=True)
    assert with_pos.shape == (2, 12, 13)
    np.testing.assert_array_equal(with_pos[1, :, 0], x[1])
    np.testing.assert_array_equal(with_pos[0, :, 1:], np.eye(12))
    with pytest.raises(ParameterError):
        as_sequence(np.zeros(12))


def test_duplicates_summary_and_dedup():
    table = make_table()
    summary = duplicate_summary(table)
    assert summary["rows"] == len(table)
    assert summary["unique_tracks"] == 120
    assert summary["multi_genre_tracks"] == 8  # i % 15 == 1 for i < 120
    assert summary["same_genre_repeat_rows"] == 12
    single = single_genre_tracks(table)
    assert single["track_id"].is_unique
    assert len(single) == 120 - 8
    assert single.attrs["source"] == "synthetic"
    multi = multi_genre_tracks(table)
    assert len(multi) == 8 and multi["track_id"].is_unique
    assert all(len(g) == 2 for g in multi["genres"])
    assert not set(multi["track_id"]) & set(single["track_id"])


def test_any_genre_accuracy():
    genres = [("pop", "latin"), ("rap", "r&b"), ("rock", "edm")]
    predicted = [SPOTIFY_GENRES.index("latin"), SPOTIFY_GENRES.index("pop"), SPOTIFY_GENRES.index("edm")]
    assert any_genre_accuracy(predicted, genres) == pytest.approx(2 / 3)
    with pytest.raises(ParameterError):
        any_genre_accuracy(predicted[:2], genres)


def test_baselines_learn_the_signal():
    table = make_table(600, seed=2)
    x, y = feature_matrix(table), genre_labels(table)
    train, test = grouped_split(table)
    for name, model in baseline_models(seed=0).items():
        scored = fit_and_score(model, x[train], y[train], x[test], y[test])
        assert scored["accuracy"] > 0.35, name  # chance is 1/6; 'energy' carries the genre
        assert scored["predictions"].shape == (len(test),)


def test_tuning_uses_validation_and_returns_refit_params():
    table = make_table(400, seed=4)
    x, y = feature_matrix(table), genre_labels(table)
    train, _ = grouped_split(table)
    fit, val = validation_split(table, train)
    grid = {"learning_rate": (0.1,), "max_leaf_nodes": (7, 15)}
    best, scores = tune_hist_gradient_boosting(x[fit], y[fit], x[val], y[val], grid=grid, seed=0)
    assert len(scores) == 2
    assert scores["val_accuracy"].is_monotonic_decreasing
    assert best["max_leaf_nodes"] == scores.loc[0, "max_leaf_nodes"]
    assert isinstance(best["max_leaf_nodes"], int) and isinstance(best["max_iter"], int)
    assert best["max_iter"] == scores.loc[0, "n_trees"] >= 1
    with pytest.raises(ParameterError):
        tune_hist_gradient_boosting(x[fit], y[fit], x[val], y[val], grid={})


def test_results_table_columns_and_order():
    y = np.array([0, 1, 2, 3, 4, 5, 0, 1])
    good = result_row("good", y, y, data="synthetic", split="track-grouped 25 % test", train_seconds=1.5)
    bad = result_row("bad", y, np.zeros_like(y), data="synthetic", split="track-grouped 25 % test")
    assert good["accuracy"] == 1.0 and good["macro_f1"] == 1.0
    assert bad["accuracy"] == pytest.approx(2 / 8)
    table = results_table([bad, good])
    assert list(table.columns) == list(COLUMNS)
    assert list(table["model"][:2]) == ["good", "bad"]
    assert len(table) == 2 + len(REPORT_ACCURACY)
    assert table["notes"].iloc[-1].startswith("as published")
    assert len(results_table([good], with_report=False)) == 1
    with pytest.raises(ParameterError):
        result_row("x", y, y[:3], data="synthetic", split="s")
