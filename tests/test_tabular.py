"""Tests for helpers.tabular (chapter 1: the Spotify baseline)."""

import numpy as np
import pandas as pd
import pytest

from helpers.config import SPOTIFY_GENRES
from helpers.datasets import AUDIO_FEATURES
from helpers.errors import DataError, ParameterError
from helpers.results import COLUMNS
from helpers.splits import group_roles
from helpers.tabular import (
    REPORT_ACCURACY,
    REPORT_FEATURES,
    any_genre_accuracy,
    as_sequence,
    baseline_models,
    cross_split_twins,
    duplicate_summary,
    feature_matrix,
    fit_and_score,
    genre_labels,
    multi_genre_tracks,
    normalise_title,
    one_hot,
    result_row,
    results_table,
    scale_features,
    single_genre_tracks,
    song_ids,
    song_summary,
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


def song_table():
    """Nine tracks, six songs: a name twin and a feature twin of t1, a remix that is another song,
    two tracks without a name (they link by nothing), and a song under two genres in two tracks."""
    features = {name: [float(k) for k in range(1, 10)] for name in AUDIO_FEATURES}
    features["energy"] = [0.1, 0.2, 0.1, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    features = pd.DataFrame(features)
    features.loc[2] = features.loc[0]  # t3: t1's features exactly
    rows = pd.DataFrame({
        "track_id": ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"],
        "track_name": ["Poison", " POISON", "Other", "Memories - Remix", "Memories", None, None, "Song", "song"],
        "track_artist": ["Bell Biv DeVoe", "bell biv  devoe", "X", "Maroon 5", "Maroon 5", "Y", "Y", "Z", "Z"],
        "playlist_genre": ["r&b", "r&b", "r&b", "pop", "pop", "rock", "rock", "pop", "latin"],
    })
    table = pd.concat([rows, features], axis=1)
    table = pd.concat([table, table.iloc[[7]]], ignore_index=True)  # t8 again, another playlist
    table.attrs["source"] = "synthetic"
    return table


def test_normalise_title():
    assert normalise_title("  EYE OF THE  Tiger ") == "eye of the tiger"
    assert normalise_title("Ｐｏｉｓｏｎ") == "poison"  # NFKC: full-width letters
    assert normalise_title(None) is None and normalise_title(float("nan")) is None
    assert normalise_title("   ") is None
    assert normalise_title("Memories - Remix") != normalise_title("Memories")


def test_song_ids_join_name_twins_feature_twins_and_chains():
    table = song_table()
    songs = song_ids(table)
    assert songs.name == "song" and songs.index.equals(table.index)
    by_track = dict(zip(table["track_id"], songs, strict=True))
    assert by_track["t1"] == by_track["t2"] == by_track["t3"] == "t1"  # t2 by name, t3 by features
    assert by_track["t8"] == by_track["t9"] == "t8"
    assert len({by_track[t] for t in ("t4", "t5", "t6", "t7")}) == 4  # a remix, and missing names, link nothing
    assert songs.nunique() == 6
    # the ids depend on the rows, not on their order
    shuffled = table.sample(frac=1, random_state=1)
    assert song_ids(shuffled).reindex(table.index).equals(songs)


def test_song_summary_counts_conflicts_only_songs_reveal():
    table = song_table()
    summary = song_summary(table)
    assert summary == {"songs": 6, "multi_track_songs": 2, "extra_track_ids": 3,
                       "multi_genre_songs": 1, "multi_genre_only_as_song": 1}
    table["song"] = song_ids(table)
    single = single_genre_tracks(table, by="song")
    assert sorted(single["song"]) == ["t1", "t4", "t5", "t6", "t7"] and single["track_id"].iloc[0] == "t1"
    multi = multi_genre_tracks(table, by="song")
    assert multi["genres"].tolist() == [("latin", "pop")]
    assert len(single_genre_tracks(table)) == 9  # by track, the conflict goes unseen


def test_cross_split_twins_need_another_track_id():
    table = song_table()
    train, test = [0, 7], [1, 2, 4, 8, 9]  # t1, t8 | t2, t3, t5, t9, t8's second row
    twins = cross_split_twins(table, train, test)
    assert twins.index.tolist() == test
    assert twins["name_twin"].tolist() == [True, False, False, True, False]
    assert twins["feature_twin"].tolist() == [False, True, False, False, False]
    assert twins["twin"].tolist() == [True, True, False, True, False]
    with pytest.raises(DataError, match="track_name"):
        cross_split_twins(table.drop(columns="track_name"), train, test)


def test_any_genre_accuracy():
    genres = [("pop", "latin"), ("rap", "r&b"), ("rock", "edm")]
    predicted = [SPOTIFY_GENRES.index("latin"), SPOTIFY_GENRES.index("pop"), SPOTIFY_GENRES.index("edm")]
    assert any_genre_accuracy(predicted, genres) == pytest.approx(2 / 3)
    with pytest.raises(ParameterError):
        any_genre_accuracy(predicted[:2], genres)


def roles(table):
    """Row positions per role of the book's split, every track on one side."""
    role = group_roles(table["track_id"], table["playlist_genre"], seed=0)
    return {name: np.flatnonzero(role == name) for name in ("fit", "tune", "select", "test")}


def test_baselines_learn_the_signal():
    table = make_table(600, seed=2)
    x, y = feature_matrix(table), genre_labels(table)
    rows = roles(table)
    train, test = np.sort(np.concatenate([rows["fit"], rows["tune"], rows["select"]])), rows["test"]
    for name, model in baseline_models(seed=0).items():
        scored = fit_and_score(model, x[train], y[train], x[test], y[test])
        assert scored["accuracy"] > 0.35, name  # chance is 1/6; 'energy' carries the genre
        assert scored["predictions"].shape == (len(test),)


def test_tuning_compares_on_tune_rows_and_returns_the_fitted_winner():
    from sklearn.metrics import accuracy_score

    table = make_table(400, seed=4)
    x, y = feature_matrix(table), genre_labels(table)
    rows = roles(table)
    fit, tune = rows["fit"], rows["tune"]
    grid = {"learning_rate": (0.1,), "max_leaf_nodes": (3, 15)}
    best, scores = tune_hist_gradient_boosting(x[fit], y[fit], x[tune], y[tune], grid=grid, seed=0)
    assert len(scores) == 2
    assert scores["tune_accuracy"].is_monotonic_decreasing
    assert best.max_leaf_nodes == scores.loc[0, "max_leaf_nodes"]
    assert best.n_iter_ == scores.loc[0, "n_trees"] >= 1  # fitted, not a recipe to refit
    assert accuracy_score(y[tune], best.predict(x[tune])) == scores.loc[0, "tune_accuracy"]
    with pytest.raises(ParameterError):
        tune_hist_gradient_boosting(x[fit], y[fit], x[tune], y[tune], grid={})


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


def test_the_one_macro_f1_counts_a_genre_the_model_never_predicts():
    """Issue 27 item 1: chapter 1's tables use helpers.metrics.macro_f1 (every genre counts, F1 0 when
    it is never predicted), as chapter 8 does; scikit-learn's default averages the present classes."""
    from sklearn.metrics import f1_score

    from helpers.metrics import macro_f1
    from helpers.tabular import result_row

    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 1])  # genres 3-5 absent, genre 2 never predicted
    row = result_row("m", y_true, y_pred, "synthetic", "none")
    assert row["macro_f1"] == macro_f1(y_true, y_pred, 6) == pytest.approx((1 + 2 / 3 + 0) / 6)
    assert f1_score(y_true, y_pred, average="macro", zero_division=0) == pytest.approx((1 + 2 / 3) / 3)
