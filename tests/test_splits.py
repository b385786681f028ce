"""Tests of helpers.splits: every split keeps tracks whole (except the report's, which must leak)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.config import SPOTIFY_GENRES
from helpers.errors import DataError, ParameterError
from helpers.splits import (
    filtered_folds,
    filtered_split,
    grouped_split,
    leak_fraction,
    leaky_segment_split,
    load_filtered_split,
    naive_split,
    standin_filtered_split,
    track_folds,
    track_train_test_split,
    validation_split,
    validation_tracks_split,
)

GENRES = ("blues", "classical", "country")


def segment_table(n_tracks_per_genre=6, n_segments=5, genres=GENRES):
    """One row per segment: ``track_id``, ``genre``, ``label``, ``segment``."""
    rows = [{"track_id": f"{genre}.{index:05d}", "genre": genre, "label": label, "segment": segment}
            for label, genre in enumerate(genres)
            for index in range(n_tracks_per_genre) for segment in range(n_segments)]
    return pd.DataFrame(rows)


def spotify_table(n_tracks=240):
    """A Spotify-like table: some tracks repeated (same genre) and some listed under two genres."""
    rows = []
    for i in range(n_tracks):
        genre = SPOTIFY_GENRES[i % 6]
        rows.append({"track_id": f"t{i}", "playlist_genre": genre})
        if i % 10 == 0:
            rows.append({"track_id": f"t{i}", "playlist_genre": genre})
        if i % 15 == 1:
            rows.append({"track_id": f"t{i}", "playlist_genre": SPOTIFY_GENRES[(i + 1) % 6]})
    return pd.DataFrame(rows)


def tracks_of(table, rows):
    return set(table["track_id"].iloc[rows])


# --- GTZAN, by track ---------------------------------------------------------------------------


def test_track_train_test_split_keeps_tracks_whole():
    table = segment_table(n_tracks_per_genre=4)
    train, test = track_train_test_split(table, test_size=0.5, seed=1)
    assert sorted(np.concatenate([train, test])) == list(range(len(table)))
    assert tracks_of(table, train).isdisjoint(tracks_of(table, test))
    assert table["genre"].iloc[test].value_counts().eq(2 * 5).all()  # two tracks per genre, stratified
    again, _ = track_train_test_split(table, test_size=0.5, seed=1)
    np.testing.assert_array_equal(again, train)
    with pytest.raises(ParameterError, match="test_size"):
        track_train_test_split(table, test_size=1.5)
    with pytest.raises(DataError, match="genre"):
        track_train_test_split(table.drop(columns="genre"))


def test_track_folds_never_share_a_track_and_cover_every_row_once_per_repeat():
    table = segment_table()
    folds = track_folds(table, n_splits=3, n_repeats=2, seed=0)
    assert len(folds) == 6
    for r in range(2):
        seen = np.concatenate([test for _, test in folds[3 * r: 3 * r + 3]])
        assert sorted(seen) == list(range(len(table)))
    for train, test in folds:
        assert tracks_of(table, train).isdisjoint(tracks_of(table, test))
    assert not np.array_equal(folds[0][1], folds[3][1])  # each repeat reshuffles
    with pytest.raises(ParameterError, match="n_splits"):
        track_folds(table, n_splits=1)


def test_validation_tracks_split_splits_training_rows_by_track():
    table = segment_table()
    train, _ = track_folds(table, n_splits=3, seed=0)[0]
    fit, val = validation_tracks_split(table, train, fraction=0.25, seed=3)
    assert set(fit) | set(val) == set(train) and set(fit).isdisjoint(val)
    assert tracks_of(table, fit).isdisjoint(tracks_of(table, val))
    assert set(table["genre"].iloc[val]) == set(GENRES)  # stratified
    np.testing.assert_array_equal(validation_tracks_split(table, train, 0.25, seed=3)[1], val)


def test_validation_tracks_split_accepts_a_feature_set_and_few_tracks():
    table = segment_table(n_tracks_per_genre=10, genres=("a", "b", "c"))

    class Features:  # anything with .table(), like helpers.features.FeatureSet
        def table(self):
            return table

    rows = np.arange(5 * 25)  # 25 tracks
    fit, val = validation_tracks_split(Features(), rows, fraction=0.2, seed=3)
    assert table["track_id"].iloc[val].nunique() == 5  # 20 % of 25 tracks
    assert sorted(np.concatenate([fit, val])) == list(rows)
    small = table.iloc[:20]  # 4 tracks of one genre: too few to stratify, still by track
    fit, val = validation_tracks_split(small, np.arange(20), fraction=0.5)
    assert tracks_of(small, fit).isdisjoint(tracks_of(small, val))
    with pytest.raises(DataError, match="two training tracks"):
        validation_tracks_split(table, np.arange(3))
    with pytest.raises(ParameterError, match="fraction"):
        validation_tracks_split(table, rows, fraction=0)


def test_leaky_segment_split_is_a_partition_that_leaks_tracks():
    table = segment_table(n_tracks_per_genre=10)
    train, test = leaky_segment_split(len(table), test_size=0.25, seed=1)
    assert len(test) == round(0.25 * len(table))
    assert sorted(np.concatenate([train, test])) == list(range(len(table)))
    assert len(tracks_of(table, train) & tracks_of(table, test)) > 5  # the leak the chapter measures
    np.testing.assert_array_equal(leaky_segment_split(len(table), 0.25, seed=1)[1], test)
    assert not np.array_equal(leaky_segment_split(len(table), 0.25, seed=2)[1], test)
    with pytest.raises(ParameterError, match="at least 2 rows"):
        leaky_segment_split(1)


def test_leak_fraction_zero_by_track_and_high_by_segment():
    table = segment_table(n_tracks_per_genre=8)
    ids = table["track_id"].to_numpy()
    train, test = track_train_test_split(table, test_size=0.25, seed=0)
    assert leak_fraction(ids[train], ids[test]) == 0.0
    train, test = leaky_segment_split(len(table), 0.25, seed=0)
    assert leak_fraction(ids[train], ids[test]) > 0.5
    assert leak_fraction(["a", "a", "b"], ["a", "c", "c", "b"]) == 0.5
    with pytest.raises(ParameterError):
        leak_fraction(["a"], [])


# --- the fault-filtered split ------------------------------------------------------------------


def test_real_filtered_split(shared_data):
    split = load_filtered_split(shared_data / "gtzan_split")
    assert split.source == "real"
    assert {k: len(v) for k, v in split.items()} == {"train": 443, "valid": 197, "test": 290}
    assert "jazz.00054" in split["train"]  # the known unreadable clip is listed
    ids = [t for v in split.values() for t in v]
    assert len(ids) == len(set(ids))


def test_filtered_split_labels_rows(shared_data):
    split = load_filtered_split(shared_data / "gtzan_split")
    table = pd.DataFrame({"track_id": ["blues.00029", "blues.00000", "rock.00099", "nope.00001"]})
    labels = filtered_split(table, split)
    assert labels.iloc[3] == "excluded"
    assert labels.iloc[0] == next(k for k, v in split.items() if "blues.00029" in v)


def write_lists(folder, train, valid, test):
    for name, ids in {"train": train, "valid": valid, "test": test}.items():
        (folder / f"{name}_filtered.txt").write_text("".join(f"{i.split('.')[0]}/{i}.wav\n" for i in ids))


def test_split_files_bad_input(tmp_path):
    with pytest.raises(DataError, match=r"train_filtered\.txt is missing"):
        load_filtered_split(tmp_path)
    write_lists(tmp_path, ["blues.00000"], ["blues.00001"], ["blues.00002"])
    (tmp_path / "valid_filtered.txt").write_text("blues/blues.00001.wav\nthis is not a clip\n")
    with pytest.raises(DataError, match=r"valid_filtered\.txt, line 2"):
        load_filtered_split(tmp_path)


def test_a_track_in_two_split_lists_is_refused(tmp_path):
    write_lists(tmp_path, ["blues.00000", "blues.00003"], ["blues.00001"], ["blues.00002", "blues.00003"])
    with pytest.raises(DataError, match=r"blues\.00003 is listed in both .*train_filtered\.txt and "
                                        r".*test_filtered\.txt"):
        load_filtered_split(tmp_path)
    write_lists(tmp_path, ["blues.00000"], ["blues.00001"], ["blues.00002", "blues.00003"])
    assert load_filtered_split(tmp_path)["test"] == ["blues.00002", "blues.00003"]


def test_standin_split_is_disjoint_and_sized():
    split = standin_filtered_split()
    assert split.source == "stand-in"
    sets = [set(v) for v in split.values()]
    assert sum(map(len, sets)) == 930 and len(set.union(*sets)) == 930
    assert [len(v) for v in split.values()] == [440, 200, 290]


def test_filtered_folds_uses_the_split_lists_and_drops_excluded():
    table = segment_table(n_tracks_per_genre=3, n_segments=2, genres=("blues",))
    split = {"train": ["blues.00000"], "valid": ["blues.00001"], "test": []}
    with pytest.raises(DataError, match="test"):
        filtered_folds(table, split)
    split["test"] = ["blues.00002", "blues.00077"]
    [(train, valid, test)] = filtered_folds(table, split)
    assert list(train) == [0, 1] and list(valid) == [2, 3] and list(test) == [4, 5]


# --- Spotify -----------------------------------------------------------------------------------


def test_grouped_split_keeps_tracks_on_one_side():
    table = spotify_table(240)
    train, test = grouped_split(table, test_size=0.25, seed=3)
    assert len(set(train) | set(test)) == len(table) and not set(train) & set(test)
    assert tracks_of(table, train).isdisjoint(tracks_of(table, test))
    assert 0.18 < len(test) / len(table) < 0.32
    assert table.playlist_genre.iloc[test].nunique() == 6  # stratified: every genre in test
    fit, val = validation_split(table, train, fraction=0.2)
    assert set(fit) | set(val) == set(train) and not set(fit) & set(val)
    assert tracks_of(table, fit).isdisjoint(tracks_of(table, val))
    with pytest.raises(ParameterError, match="test_size"):
        grouped_split(table, test_size=0.9)


def test_naive_split_can_share_tracks():
    table = spotify_table(240)
    train, test = naive_split(table, test_size=0.25, seed=0)
    assert abs(len(test) - 0.25 * len(table)) < 1 and not set(train) & set(test)
    shared = tracks_of(table, train) & tracks_of(table, test)
    repeated = int((table["track_id"].value_counts() > 1).sum())
    assert 0 < len(shared) <= repeated  # only repeated tracks can straddle, and here some do
