"""Tests of helpers.descriptors (chapter *Beyond*): values on signals with known answers, errors, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import helpers.descriptors as descriptors
from helpers.descriptors import DESCRIPTOR_NAMES, extract_descriptors, track_descriptors
from helpers.errors import DataError

SR = 22050


def _named(values) -> dict:
    return dict(zip(DESCRIPTOR_NAMES, values, strict=True))


def _sine(freq, seconds=10.0, amplitude=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _clicks(bpm, seconds=20.0):
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    period = int(round(60 / bpm * SR))
    click = np.hanning(200).astype(np.float32) * np.sin(np.linspace(0, 60 * np.pi, 200)).astype(np.float32)
    for start in range(0, len(y) - 200, period):
        y[start : start + 200] += click
    return y


def test_names_and_shape():
    assert len(DESCRIPTOR_NAMES) == len(set(DESCRIPTOR_NAMES)) == 38
    values = track_descriptors(_sine(440.0), SR)
    assert values.shape == (38,) and values.dtype == np.float32 and np.all(np.isfinite(values))


def test_sine_descriptors_have_known_values():
    d = _named(track_descriptors(_sine(1000.0, amplitude=0.5), SR))
    assert d["centroid_hz_mean"] == pytest.approx(1000.0, rel=0.03)
    assert d["loudness_db"] == pytest.approx(10 * np.log10(0.125), abs=0.05)  # mean power of a 0.5 sine
    assert d["zcr_mean"] == pytest.approx(2 * 1000.0 / SR, rel=0.03)  # two zero crossings per period
    assert d["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert d["flatness_mean"] < 0.01  # a pure tone is the opposite of noise
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 10 * SR).astype(np.float32)
    assert _named(track_descriptors(noise, SR))["flatness_mean"] > 0.3


def test_chroma_finds_the_pitch_class():
    d = _named(track_descriptors(_sine(440.0), SR))  # A4
    chroma = {pc: d[f"chroma_{pc}_mean"] for pc in descriptors.PITCH_CLASSES}
    assert max(chroma, key=chroma.get) == "A"


def test_tempo_of_a_click_track():
    d = _named(track_descriptors(_clicks(120), SR))
    assert d["tempo_bpm"] == pytest.approx(120, rel=0.05)


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (np.zeros(SR, dtype=np.float32), "silent"),
        (np.zeros((2, SR), dtype=np.float32), "mono"),
        (np.ones(100, dtype=np.float32), "shorter than one analysis window"),
        (np.full(SR, np.nan, dtype=np.float32), "NaN"),
    ],
)
def test_bad_signals(signal, message):
    with pytest.raises(DataError, match=message):
        track_descriptors(signal, SR, name="clip.wav")


def _table(folder, n=3):
    rows = []
    for i in range(n):
        path = folder / f"blues.{i:05d}.wav"
        sf.write(path, _sine(220.0 * (i + 1), seconds=7.0), SR)
        rows.append({"path": str(path), "track_id": f"blues.{i:05d}", "genre": "blues", "label": 0})
    table = pd.DataFrame(rows)
    table.attrs["flavour"] = "synthetic"
    return table


def test_extract_descriptors_table_and_cache(tmp_path, monkeypatch):
    table = _table(tmp_path)
    cache = tmp_path / "cache"
    first = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    assert list(first.columns[:3]) == ["track_id", "genre", "label"]
    assert list(first.columns[3:]) == list(DESCRIPTOR_NAMES)
    assert first.attrs["flavour"] == "synthetic"
    assert first["centroid_hz_mean"].to_numpy() == pytest.approx([220, 440, 660], rel=0.05)
    assert len(list(cache.glob("descriptors-*.npz"))) == 1

    def boom(path, sr):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(descriptors, "_one_track", boom)
    again = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    pd.testing.assert_frame_equal(first, again)
    # a changed file changes the key: recomputed (and here refused by the patched worker)
    sf.write(table["path"][0], _sine(300.0, seconds=8.0), SR)
    with pytest.raises(AssertionError, match="cache"):
        extract_descriptors(table, n_jobs=1, cache=cache, progress=False)


def test_damaged_descriptor_cache_is_named_and_recomputed(tmp_path):
    table = _table(tmp_path, n=2)
    cache = tmp_path / "cache"
    first = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    (entry,) = cache.glob("descriptors-*.npz")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated, as by a full disk or a kill
    with pytest.warns(UserWarning, match=rf"{entry.name} is damaged"):
        again = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert [p.name for p in cache.iterdir()] == [entry.name]


@pytest.mark.parametrize("how", ["nan", "wrong_shape", "other_paths"])
def test_an_invalid_descriptor_cache_is_recomputed_never_served(tmp_path, how):
    """Issue 24: a cache is trusted only after validation."""
    from helpers.features import write_cache

    table = _table(tmp_path, n=2)
    cache = tmp_path / "cache"
    first = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    (entry,) = cache.glob("descriptors-*.npz")
    with np.load(entry) as stored:
        values, paths = stored["values"].copy(), stored["paths"]
    if how == "nan":
        values[0, 0] = np.nan
    elif how == "wrong_shape":
        values = values[:, :3]
    else:
        paths = np.asarray(["elsewhere.wav"] * len(paths))
    write_cache(entry, {"values": values, "paths": paths})
    with pytest.warns(UserWarning, match=rf"{entry.name} is not valid"):
        again = extract_descriptors(table, n_jobs=1, cache=cache, progress=False)
    pd.testing.assert_frame_equal(first, again)


def test_extract_descriptors_errors(tmp_path):
    table = _table(tmp_path, n=2)
    with pytest.raises(DataError, match="lacks column"):
        extract_descriptors(table.drop(columns="label"), cache=False)
    broken = table.copy()
    (tmp_path / "broken.wav").write_text("not audio")
    broken.loc[1, "path"] = str(tmp_path / "broken.wav")
    with pytest.raises(DataError, match="broken.wav"):
        extract_descriptors(broken, n_jobs=1, cache=False, progress=False)
    missing = table.copy()
    missing.loc[0, "path"] = str(tmp_path / "gone.wav")
    with pytest.raises(DataError, match="gone.wav does not exist"):
        extract_descriptors(missing, cache=False)
