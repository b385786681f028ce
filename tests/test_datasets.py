"""Tests of the data layer: GTZAN tables and flavours, splits, the Spotify table."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import synth
from helpers.config import GENRES
from helpers.datasets import (
    DataError,
    filtered_split,
    gtzan_table,
    load_filtered_split,
    load_gtzan,
    load_spotify,
    track_folds,
    track_train_test_split,
)
from helpers.datasets.gtzan import default_flavour, find_genre_root
from helpers.datasets.splits import standin_filtered_split


@pytest.fixture
def gtzan_copy(synthetic_gtzan, tmp_path):
    """A writable copy of the synthetic folder (for breaking it)."""
    return shutil.copytree(synthetic_gtzan, tmp_path / "gtzan")


def test_table_columns_and_order(synthetic_gtzan):
    table = gtzan_table(synthetic_gtzan)
    assert list(table.columns) == ["path", "genre", "label", "track_id", "index"]
    assert table["genre"].tolist() == [g for g in GENRES for _ in range(2)]
    assert table["label"].tolist() == [GENRES.index(g) for g in table["genre"]]
    assert table["track_id"].iloc[:2].tolist() == ["blues.00000", "blues.00001"]
    assert table.attrs["root"].endswith("genres") and table.attrs["skipped"] == []


def test_kaggle_layout_and_macos_files(synthetic_gtzan, tmp_path):
    kaggle = tmp_path / "archive" / "Data" / "genres_original"
    shutil.copytree(synthetic_gtzan / "genres", kaggle)
    (kaggle / "blues" / "._blues.00000.wav").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (kaggle / "blues" / ".DS_Store").write_bytes(b"junk")
    (kaggle / "blues" / "notes.txt").write_text("not a clip")
    for root in (tmp_path / "archive", tmp_path / "archive" / "Data"):
        table = gtzan_table(root)
        assert len(table) == 20
        assert find_genre_root(root) == kaggle
    assert not any("._" in p for p in table["path"])


def test_au_clips_are_listed(gtzan_copy):
    wav = gtzan_copy / "genres/blues/blues.00001.wav"
    wav.rename(wav.with_suffix(".au"))
    table = gtzan_table(gtzan_copy)
    assert table.loc[table["track_id"] == "blues.00001", "path"].item().endswith(".au")


def test_missing_genre_folder(gtzan_copy):
    shutil.rmtree(gtzan_copy / "genres" / "reggae")
    with pytest.raises(DataError, match=r"genre folder .*reggae is missing"):
        gtzan_table(gtzan_copy)


def test_empty_genre_folder(gtzan_copy):
    for clip in (gtzan_copy / "genres" / "pop").iterdir():
        clip.unlink()
    with pytest.raises(DataError, match=r"pop holds no clips"):
        gtzan_table(gtzan_copy)


def test_not_a_gtzan_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        gtzan_table(tmp_path / "nowhere")
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match="no GTZAN genre folders"):
        gtzan_table(tmp_path / "photos")


def test_clip_in_the_wrong_genre_folder(gtzan_copy):
    shutil.copy(gtzan_copy / "genres/jazz/jazz.00000.wav", gtzan_copy / "genres/rock/jazz.00005.wav")
    with pytest.raises(DataError, match=r"jazz\.00005\.wav is named as genre 'jazz' but lies in"):
        gtzan_table(gtzan_copy)


def test_skip_unreadable_clips_with_a_warning(gtzan_copy):
    (gtzan_copy / "genres/jazz/jazz.00001.wav").write_bytes(b"RIFF" + bytes(60))
    (gtzan_copy / "genres/rock/rock.00000.wav").write_bytes(b"")
    assert len(gtzan_table(gtzan_copy)) == 20  # listing alone does not open files
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable GTZAN clip\(s\).*jazz\.00001.*rock\.00000"):
        table = gtzan_table(gtzan_copy, skip_unreadable=True)
    assert len(table) == 18 and "jazz.00001" not in set(table["track_id"])
    assert len(table.attrs["skipped"]) == 2


def test_recorded_faults_are_skipped(gtzan_copy):
    (gtzan_copy / "_complete.json").write_text(json.dumps({"faults": ["jazz.00001"]}))
    with pytest.warns(UserWarning, match=r"skipped 1 .*jazz\.00001: recorded as unreadable"):
        table = gtzan_table(gtzan_copy)
    assert len(table) == 19


def test_load_gtzan_from_path_and_env(synthetic_gtzan, data_home, monkeypatch):
    table = load_gtzan("mini", path=synthetic_gtzan)
    assert table.attrs["flavour"] == "mini" and len(table) == 20
    monkeypatch.setenv("GTZAN_FULL_DIR", str(synthetic_gtzan))
    assert load_gtzan("full").attrs["flavour"] == "full"
    monkeypatch.setenv("GTZAN_FLAVOUR", "full")
    assert default_flavour() == "full"
    assert load_gtzan().attrs["flavour"] == "full"


def test_load_gtzan_synthetic_flavour(synthetic_gtzan, data_home, monkeypatch):
    monkeypatch.setattr(synth, "synthetic_gtzan_dir", lambda: synthetic_gtzan)
    table = load_gtzan("synthetic")
    assert table.attrs["flavour"] == "synthetic" and len(table) == 20


def test_bad_flavour(data_home, monkeypatch):
    with pytest.raises(DataError, match="unknown GTZAN flavour 'huge'"):
        load_gtzan("huge")
    monkeypatch.setenv("GTZAN_FLAVOUR", "tiny")
    with pytest.raises(DataError, match="GTZAN_FLAVOUR='tiny'"):
        default_flavour()


def test_real_mini_gtzan(shared_data, data_home):
    table = load_gtzan("mini", path=shared_data / "gtzan_mini")
    assert len(table) == 100 and table.attrs["flavour"] == "mini"
    assert table.groupby("genre").size().eq(10).all()
    assert table["index"].max() < 20  # clips 00000–00009 (jazz: 00011, 00012 replace two)


# --- splits ----------------------------------------------------------------------------------

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
    assert labels.isin(["train", "valid", "test", "excluded"]).all()
    assert labels.iloc[3] == "excluded"
    assert labels.iloc[0] == next(k for k, v in split.items() if "blues.00029" in v)


def test_split_files_bad_input(tmp_path):
    with pytest.raises(DataError, match=r"train_filtered\.txt is missing"):
        load_filtered_split(tmp_path)
    for name in ("train", "valid", "test"):
        (tmp_path / f"{name}_filtered.txt").write_text("blues/blues.00000.wav\n")
    (tmp_path / "valid_filtered.txt").write_text("blues/blues.00001.wav\nthis is not a clip\n")
    with pytest.raises(DataError, match=r"valid_filtered\.txt, line 2"):
        load_filtered_split(tmp_path)


def test_standin_split_is_disjoint_and_sized():
    split = standin_filtered_split()
    assert split.source == "stand-in"
    sets = [set(v) for v in split.values()]
    assert sum(map(len, sets)) == 930 and len(set.union(*sets)) == 930
    assert [len(v) for v in split.values()] == [440, 200, 290]


def segments_of(table, n=5):
    return table.loc[table.index.repeat(n)].reset_index(drop=True)


def test_track_train_test_split_keeps_tracks_whole(synthetic_gtzan):
    seg = segments_of(gtzan_table(synthetic_gtzan))
    train, test = track_train_test_split(seg, test_size=0.5, seed=1)
    assert len(train) + len(test) == len(seg) == 100
    assert not set(seg["track_id"].iloc[train]) & set(seg["track_id"].iloc[test])
    assert seg["genre"].iloc[test].value_counts().eq(5).all()  # one track per genre, stratified


def test_track_folds_group_and_cover(synthetic_gtzan):
    seg = segments_of(gtzan_table(synthetic_gtzan), n=3)
    folds = track_folds(seg, n_splits=2, n_repeats=2, seed=0)
    assert len(folds) == 4
    for train, test in folds:
        assert not set(seg["track_id"].iloc[train]) & set(seg["track_id"].iloc[test])
    covered = np.concatenate([test for _, test in folds[:2]])
    assert sorted(covered) == list(range(len(seg)))


# --- Spotify ---------------------------------------------------------------------------------

def test_real_spotify(shared_data, data_home):
    table = load_spotify(shared_data / "spotify" / "spotify_songs.csv")
    assert table.attrs["source"] == "real"
    assert table.shape == (32833, 23)
    assert table["track_id"].nunique() == 28356


def test_spotify_bad_files(tmp_path, data_home):
    with pytest.raises(DataError, match=r"nothere\.csv does not exist"):
        load_spotify(tmp_path / "nothere.csv")
    path = tmp_path / "cut.csv"
    synth.synthetic_spotify(n=50).drop(columns=["tempo"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"cut\.csv lacks the column\(s\) \['tempo'\]"):
        load_spotify(path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv is not a readable CSV"):
        load_spotify(empty)
