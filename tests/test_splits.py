"""Tests of helpers.splits: every split keeps tracks whole (except the report's, which must leak)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.config import SPOTIFY_GENRES
from helpers.errors import DataError, ParameterError
from helpers.splits import (
    GTZAN_CONFIRM_TABLE,
    GTZAN_CV_TABLE,
    GTZAN_SPLIT_TABLE,
    cv_fold_table,
    divide_valid,
    filtered_split,
    group_roles,
    group_strata,
    gtzan_fold_plan,
    hashed_split,
    leak_fraction,
    leaky_segment_split,
    load_filtered_split,
    read_fold_table,
    split_fold_table,
    spotify_fold_plan,
    spotify_fold_table,
    standin_filtered_split,
    track_folds,
    track_train_test_split,
    validation_tracks_split,
    write_fold_table,
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



# --- GTZAN folds with roles (folds as data) -------------------------------------------------------


def mini_ids():
    from tools.folds import gtzan_mini_tracks

    return gtzan_mini_tracks()


def test_hashed_split_is_stratified_sized_and_version_free():
    items, strata = mini_ids()
    held = hashed_split(items, strata, 0.25, seed=42)
    assert held.sum() == 25
    per = pd.Series(held).groupby(strata).sum()
    assert per.max() - per.min() <= 1
    assert np.array_equal(held, hashed_split(items, strata, 0.25, seed=42))
    assert np.array_equal(held, hashed_split(items[::-1], strata[::-1], 0.25, seed=42)[::-1])
    assert hashed_split(["a", "b"], ["x", "x"], 0.01).sum() == 1  # never empty, never everything
    assert hashed_split(["a", "b"], ["x", "x"], 0.99).sum() == 1
    with pytest.raises(ParameterError):
        hashed_split(["a"], ["x"], 0.5)


def test_cv_fold_table_has_disjoint_roles_in_every_outer_fold():
    items, strata = mini_ids()
    table = cv_fold_table(items, strata, n_splits=4, n_repeats=2, seed=42)
    for _, part in table.groupby(["repeat", "fold"]):
        counts = part["role"].value_counts()
        assert counts.to_dict() == {"fit": 45, "test": 25, "tune": 15, "select": 15}
        assert set(part["item"]) == set(items)  # every track has exactly one role
    tested = table[table["role"] == "test"].groupby("repeat")["item"]
    assert all(sorted(t) == sorted(items) for _, t in tested)  # each track tested once per repetition
    assert table.equals(cv_fold_table(items, strata, 4, 2, 42))


def test_split_fold_table_and_track_train_test_split_read_the_committed_split():
    items, strata = mini_ids()
    committed = read_fold_table(GTZAN_SPLIT_TABLE)
    generated = split_fold_table(items, strata, 0.25, 42)
    key = ["item"]
    assert committed.sort_values(key).reset_index(drop=True).equals(generated.sort_values(key).reset_index(drop=True))
    segments = pd.DataFrame({"track_id": np.repeat(items, 5), "genre": np.repeat(strata, 5)})
    train, test = track_train_test_split(segments)
    test_tracks = set(committed.loc[committed["role"] == "test", "item"])
    assert tracks_of(segments, test) == test_tracks and not tracks_of(segments, train) & test_tracks


def test_gtzan_fold_plan_committed_generated_and_filtered():
    items, strata = mini_ids()
    segments = pd.DataFrame({"track_id": np.repeat(items, 5), "genre": np.repeat(strata, 5)})
    segments.attrs["flavour"] = "mini"
    plan = gtzan_fold_plan(segments)
    assert plan.name == GTZAN_CV_TABLE and "committed" in plan.source and len(plan.folds) == 4
    assert plan.protocol == "track-grouped 4-fold"
    rows = plan.rows(segments["track_id"], 0)
    assert {k: len(v) for k, v in rows.items()} == {"fit": 225, "tune": 75, "select": 75, "test": 125}
    assert (plan.counts()[["n_fit", "n_tune", "n_select", "n_test"]].to_numpy() == [45, 15, 15, 25]).all()
    confirm = gtzan_fold_plan(segments, "confirm")
    assert confirm.name == GTZAN_CONFIRM_TABLE and len(confirm.folds) == 8
    assert confirm.protocol == "track-grouped 4-fold × 2"
    first = confirm.subset([0])
    assert len(first.folds) == 4 and "first repetition" in first.protocol
    fewer = segments[segments["track_id"] != "blues.00000"]
    generated = gtzan_fold_plan(fewer, flavour="mini")
    assert generated.name == "generated" and "not a committed table" in generated.source
    split = {"train": items[0::3], "valid": items[1::3], "test": items[2::3]}
    full = gtzan_fold_plan(segments, flavour="full", split=split)
    roles = full.roles(0)
    assert set(roles[roles == "fit"].index) == set(split["train"])
    assert set(roles[roles.isin(["tune", "select"])].index) == set(split["valid"])
    assert set(roles[roles == "test"].index) == set(split["test"])
    with pytest.raises(ParameterError):
        gtzan_fold_plan(segments, "nested")


def test_divide_valid_cuts_contiguous_blocks_at_a_gap():
    valid = [f"blues.{i:05d}" for i in (0, 1, 2, 3, 50, 51, 52)] + [f"pop.{i:05d}" for i in range(80, 86)]
    roles = divide_valid(valid)
    assert [roles[f"blues.{i:05d}"] for i in (0, 1, 2, 3)] == ["tune"] * 4  # whole runs stay together
    assert [roles[f"blues.{i:05d}"] for i in (50, 51, 52)] == ["select"] * 3
    assert [roles[f"pop.{i:05d}"] for i in range(80, 86)] == ["tune"] * 3 + ["select"] * 3  # one run: its middle
    assert divide_valid(["jazz.00007", "rock.00003"]) == {"jazz.00007": "tune", "rock.00003": "select"}


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


def test_group_strata_take_the_most_frequent_genre_then_the_alphabetical_first():
    strata = group_strata(["a", "a", "a", "b", "b", "c"], ["pop", "latin", "pop", "rock", "edm", "rap"])
    assert strata.to_dict() == {"a": "pop", "b": "edm", "c": "rap"}
    with pytest.raises(ParameterError, match="one label per row"):
        group_strata(["a", "b"], ["pop"])


def test_group_roles_keep_groups_whole_stratified_and_version_free():
    table = spotify_table(600)
    role = group_roles(table["track_id"], table["playlist_genre"], seed=3)
    assert set(role) == {"fit", "tune", "select", "test"}
    assert table.assign(role=role).groupby("track_id")["role"].nunique().max() == 1  # whole tracks
    per_track = table.assign(role=role).drop_duplicates("track_id")
    assert per_track["role"].value_counts(normalize=True)["test"] == pytest.approx(0.25, abs=0.01)
    for genre, part in per_track.groupby("playlist_genre"):
        assert (part["role"] == "test").mean() == pytest.approx(0.25, abs=0.05), genre
    # a pure function of seed, group ids and labels: row order does not matter, the seed does
    shuffled = table.sample(frac=1, random_state=0)
    np.testing.assert_array_equal(group_roles(shuffled["track_id"], shuffled["playlist_genre"], seed=3),
                                  pd.Series(role, index=table.index).loc[shuffled.index].to_numpy())
    assert not np.array_equal(role, group_roles(table["track_id"], table["playlist_genre"], seed=4))
    # every row its own group: the naive row split, in which repeated tracks straddle the sides
    naive = group_roles(np.arange(len(table)), table["playlist_genre"], seed=3)
    straddling = table.assign(role=naive == "test").groupby("track_id")["role"].nunique().gt(1).sum()
    assert 0 < straddling <= int((table["track_id"].value_counts() > 1).sum())


def test_spotify_fold_table_and_plan_keep_songs_whole():
    table = spotify_table(240)
    table["song"] = "s" + (table["track_id"].str[1:].astype(int) // 2).astype(str)  # two tracks per song
    folds = spotify_fold_table(table)
    assert folds["item"].is_unique and set(folds["item"]) == set(table["track_id"])
    assert (folds["repeat"] == 0).all() and (folds["fold"] == 0).all()
    song_of = dict(zip(table["track_id"], table["song"], strict=True))
    assert folds.assign(song=folds["item"].map(song_of)).groupby("song")["role"].nunique().max() == 1
    plan = spotify_fold_plan(table)  # not the real table's tracks: made on the spot, and it says so
    assert plan.name == "generated" and "not a committed table" in plan.source
    assert plan.protocol == "song-grouped 25 % test"
    rows = plan.rows(table["track_id"], 0)
    songs = {role: set(table["song"].iloc[r]) for role, r in rows.items()}
    assert songs["test"].isdisjoint(songs["fit"] | songs["tune"] | songs["select"])
    assert sum(len(r) for r in rows.values()) == len(table)
    with pytest.raises(DataError, match="lies in two groups"):
        spotify_fold_table(table.assign(song=np.arange(len(table)).astype(str)))


def test_fold_tables_can_be_gzipped_reproducibly(tmp_path):
    frame = pd.DataFrame({"repeat": 0, "fold": 0, "item": ["t1", "t2", "t3"], "stratum": "pop",
                          "role": ["fit", "test", "tune"]})
    path = write_fold_table("toy", frame, "a toy table", folder=tmp_path, compress=True)
    assert path.name == "toy.csv.gz"
    first = path.read_bytes()
    assert write_fold_table("toy", frame, "a toy table", folder=tmp_path, compress=True).read_bytes() == first
    back = pd.read_csv(path, comment="#")
    assert back.sort_values("item").reset_index(drop=True).equals(frame)


def test_committed_spotify_split_is_the_real_tables_songs(shared_data, monkeypatch):
    from helpers.datasets import load_spotify
    from helpers.tabular import song_ids
    from tools import folds as fold_tool

    monkeypatch.setenv("SPOTIFY_CSV", str(shared_data / "spotify" / "spotify_songs.csv"))
    assert fold_tool.differences(fold_tool.TABLES["spotify_songs"]) is None  # regenerates identically
    table = load_spotify()
    table["song"] = song_ids(table)
    plan = spotify_fold_plan(table)
    assert plan.name == "spotify_songs" and plan.source.endswith("spotify_songs.csv.gz")
    folds = read_fold_table("spotify_songs")
    assert len(folds) == table["track_id"].nunique() == 28_356
    role = table["track_id"].map(folds.set_index("item")["role"])
    assert table.assign(role=role).groupby("song")["role"].nunique().max() == 1  # no song on two sides
    per_song = table.assign(role=role).drop_duplicates("song")
    assert (per_song["role"] == "test").mean() == pytest.approx(0.25, abs=0.005)


def test_sized_segment_split_ignores_tracks_and_has_the_sizes():
    from helpers.splits import sized_segment_split

    fit, tune, test = sized_segment_split(500, [225, 75, 125], seed=3)
    assert (len(fit), len(tune), len(test)) == (225, 75, 125)
    assert not (set(fit) & set(tune) or set(fit) & set(test) or set(tune) & set(test))
    again = sized_segment_split(500, [225, 75, 125], seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((fit, tune, test), again, strict=True))
    table = segment_table(n_tracks_per_genre=10)
    fit, test = sized_segment_split(len(table), [90, 30], seed=0)
    assert leak_fraction(table["track_id"].iloc[fit], table["track_id"].iloc[test]) > 0.5  # it leaks
    with pytest.raises(ParameterError):
        sized_segment_split(10, [8, 5])
