"""Tests of helpers.synth: the synthetic GTZAN-layout generator and the Spotify stand-in."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers import synth
from helpers.config import GENRES, SPOTIFY_GENRES
from helpers.datasets import AUDIO_FEATURES, gtzan_table
from helpers.datasets.spotify import REQUIRED_COLUMNS, read_spotify_csv
from helpers.errors import ParameterError


def test_clip_is_deterministic_and_seed_dependent():
    a = synth.synth_clip("rock", seconds=2.0, rng=np.random.default_rng(1))
    b = synth.synth_clip("rock", seconds=2.0, rng=np.random.default_rng(1))
    c = synth.synth_clip("rock", seconds=2.0, rng=np.random.default_rng(2))
    assert a.shape == (44100,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.abs(a).max() <= 1.0 and np.abs(a).max() > 0.3


def test_clip_rejects_bad_arguments():
    with pytest.raises(ParameterError, match="unknown genre"):
        synth.synth_clip("polka")
    with pytest.raises(ParameterError, match="positive"):
        synth.synth_clip("jazz", seconds=0)


def test_folder_layout_and_format(synthetic_gtzan):
    table = gtzan_table(synthetic_gtzan)
    assert len(table) == 20
    assert table.groupby("genre").size().to_dict() == {g: 2 for g in GENRES}
    info = sf.info(table["path"].iloc[0])
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.duration == pytest.approx(3.0)
    meta = json.loads((synthetic_gtzan / "synthetic.json").read_text())
    assert meta["n_per_genre"] == 2 and meta["generator_version"] == synth.GENERATOR_VERSION


def test_more_clips_do_not_change_earlier_ones(tmp_path):
    small = synth.make_synthetic_gtzan(tmp_path / "a", n_per_genre=1, seconds=1.0, n_jobs=1)
    large = synth.make_synthetic_gtzan(tmp_path / "b", n_per_genre=2, seconds=1.0, n_jobs=2)
    for genre in ("blues", "metal"):
        name = f"genres/{genre}/{genre}.00000.wav"
        assert (small / name).read_bytes() == (large / name).read_bytes()
    assert (large / "genres/metal/metal.00001.wav").is_file()


def test_genres_differ_in_the_designed_ways():
    import librosa

    def stats(genre, index):
        y = synth.synth_clip(genre, seconds=4.0, rng=np.random.default_rng([7, GENRES.index(genre), index]))
        onset = librosa.onset.onset_strength(y=y, sr=22050).mean()
        flatness = librosa.feature.spectral_flatness(y=y).mean()
        return onset, flatness

    classical = np.array([stats("classical", i) for i in range(3)])
    metal = np.array([stats("metal", i) for i in range(3)])
    disco = np.array([stats("disco", i) for i in range(3)])
    # Classical has no drum kit: weaker onsets than disco's four-on-the-floor.
    assert classical[:, 0].max() < disco[:, 0].min()
    # Metal's distortion and noise make a flatter (noisier) spectrum than classical's pads.
    assert metal[:, 1].min() > classical[:, 1].max()


def test_genres_are_learnable_from_mfcc_statistics():
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = [], []
    for label, genre in enumerate(GENRES):
        for index in range(4):
            clip = synth.synth_clip(genre, seconds=4.0, rng=np.random.default_rng([3, label, index]))
            mfcc = librosa.feature.mfcc(y=clip, sr=22050, n_mfcc=13)
            X.append(np.r_[mfcc.mean(axis=1), mfcc.std(axis=1)])
            y.append(label)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    accuracy = cross_val_score(model, np.array(X), np.array(y), cv=4).mean()
    assert accuracy > 0.4  # chance is 0.1


def test_cached_folder_is_generated_once_and_atomically(data_home):
    first = synth.synthetic_gtzan_dir(n_per_genre=1, seconds=1.0)
    stamp = (first / "genres/pop/pop.00000.wav").stat().st_mtime_ns
    again = synth.synthetic_gtzan_dir(n_per_genre=1, seconds=1.0)
    assert again == first and (again / "genres/pop/pop.00000.wav").stat().st_mtime_ns == stamp
    assert first.parent == data_home
    assert not [p for p in data_home.iterdir() if p.name.startswith(".")]  # no temporary folders left


@pytest.mark.parametrize("record", [None, "null", "not json", '{"n_per_genre": 1}'])
def test_a_folder_the_generator_did_not_write_is_set_aside_not_deleted(data_home, capsys, record):
    target = data_home / "gtzan_synthetic_1x1s_seed0"
    (target / "genres" / "blues").mkdir(parents=True)  # looks like a folder, but no record of the generator
    (target / "genres" / "blues" / "mine.wav").write_bytes(b"the user's")
    if record is not None:
        (target / "synthetic.json").write_text(record)
    folder = synth.synthetic_gtzan_dir(n_per_genre=1, seconds=1.0)
    assert folder == target
    assert len(gtzan_table(folder)) == 10
    [aside] = [p for p in data_home.iterdir() if p.name.startswith("gtzan_synthetic_1x1s_seed0.set-aside-")]
    assert (aside / "genres" / "blues" / "mine.wav").read_bytes() == b"the user's"
    assert f"it is kept as {aside}" in capsys.readouterr().out


def test_a_folder_of_an_older_generator_is_replaced(data_home):
    target = data_home / "gtzan_synthetic_1x1s_seed0"
    (target / "genres" / "blues").mkdir(parents=True)
    (target / "synthetic.json").write_text(json.dumps({"generator_version": 0, "n_per_genre": 1}))
    assert synth.synthetic_gtzan_dir(n_per_genre=1, seconds=1.0) == target
    assert json.loads((target / "synthetic.json").read_text())["generator_version"] == synth.GENERATOR_VERSION
    assert [p.name for p in data_home.iterdir()] == [target.name]


def test_synthetic_spotify_matches_the_real_schema():
    table = synth.synthetic_spotify(n=1200, seed=3)
    assert table.attrs["source"] == "synthetic"
    assert len(table) == 1200
    assert set(REQUIRED_COLUMNS) <= set(table.columns) and len(table.columns) == 23
    assert set(table["playlist_genre"]) == set(SPOTIFY_GENRES)
    for column in ("danceability", "energy", "speechiness", "acousticness", "instrumentalness",
                   "liveness", "valence"):
        assert table[column].between(0, 1).all(), column
    assert table["key"].between(0, 11).all() and set(table["mode"]) <= {0, 1}
    assert table["loudness"].lt(2).all() and table["tempo"].between(50, 250).all()
    assert table[list(AUDIO_FEATURES)].notna().all().all()
    # Some tracks appear under several genres, as in the real table.
    genres_per_track = table.groupby("track_id")["playlist_genre"].nunique()
    assert (genres_per_track > 1).sum() >= 30
    # Genre-dependent means: rap is wordier than rock, edm more energetic than r&b.
    means = table.groupby("playlist_genre")[["speechiness", "energy"]].mean()
    assert means.loc["rap", "speechiness"] > means.loc["rock", "speechiness"]
    assert means.loc["edm", "energy"] > means.loc["r&b", "energy"]
    pd.testing.assert_frame_equal(table, synth.synthetic_spotify(n=1200, seed=3))


def test_synthetic_spotify_round_trips_through_the_csv_reader(tmp_path):
    path = tmp_path / "spotify_songs.csv"
    synth.synthetic_spotify(n=300).to_csv(path, index=False)
    table = read_spotify_csv(path)
    assert len(table) == 300 and table.attrs["source"] == "real"


def test_synthetic_spotify_rejects_tiny_tables():
    with pytest.raises(ParameterError, match="at least"):
        synth.synthetic_spotify(n=3)
