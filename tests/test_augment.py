"""Tests of helpers.augment (chapter *Beyond*): each transform does what it says, deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers.augment import (
    AugmentConfig,
    add_noise,
    apply_gain,
    augment_segment,
    augmented_features,
    pitch_shift,
    random_crop,
    segment_length,
    time_stretch,
    track_rng,
)
from helpers.errors import DataError, ParameterError
from helpers.features import FeatureConfig

SR = 22050


def _sine(freq, seconds=2.0, amplitude=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(y):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / SR)[spectrum.argmax()]


def test_track_rng_is_stable_and_per_track():
    a = track_rng(42, "blues.00001").random(3)
    assert np.array_equal(a, track_rng(42, "blues.00001").random(3))
    assert not np.array_equal(a, track_rng(42, "blues.00002").random(3))
    assert not np.array_equal(a, track_rng(43, "blues.00001").random(3))


def test_random_crop_is_a_contiguous_window():
    y = np.arange(1000, dtype=np.float32)
    crop = random_crop(y, 100, np.random.default_rng(0))
    assert crop.shape == (100,)
    assert np.array_equal(crop, np.arange(crop[0], crop[0] + 100))
    starts = {random_crop(y, 100, np.random.default_rng(s))[0] for s in range(20)}
    assert len(starts) > 10  # really random positions
    assert np.array_equal(random_crop(y, 1000, np.random.default_rng(0)), y)
    with pytest.raises(ParameterError, match="cannot cut"):
        random_crop(y, 1001, np.random.default_rng(0))


def test_gain_in_decibels_and_clipping():
    y = _sine(440.0, amplitude=0.25)
    louder = apply_gain(y, 6.0)
    assert np.max(np.abs(louder)) == pytest.approx(0.25 * 10 ** (6 / 20), rel=1e-3)
    assert np.max(np.abs(apply_gain(y, 20.0))) <= 1.0


def test_noise_has_the_requested_snr():
    y = _sine(440.0, seconds=5.0)
    noisy = add_noise(y, 20.0, np.random.default_rng(0))
    noise = noisy - y
    snr = 10 * np.log10(np.mean(y.astype(float) ** 2) / np.mean(noise.astype(float) ** 2))
    assert snr == pytest.approx(20.0, abs=0.3)
    silent = np.zeros(100, dtype=np.float32)
    assert np.array_equal(add_noise(silent, 20.0, np.random.default_rng(0)), silent)


def test_pitch_shift_and_time_stretch():
    y = _sine(440.0)
    up = pitch_shift(y, SR, 12.0)
    assert up.shape == y.shape
    assert _peak_hz(up) == pytest.approx(880.0, rel=0.02)
    assert np.array_equal(pitch_shift(y, SR, 0), y)
    faster = time_stretch(y, 1.25)
    assert faster.shape == y.shape  # cropped/padded back to the input length
    assert _peak_hz(faster[: len(y) * 3 // 4]) == pytest.approx(440.0, rel=0.02)  # same pitch
    assert np.all(faster[int(len(y) / 1.25) + 600 :] == 0)  # the rest is padding
    with pytest.raises(ParameterError, match="rate"):
        time_stretch(y, 0)


def test_augment_segment_is_deterministic():
    y = np.random.default_rng(0).uniform(-0.5, 0.5, 10 * SR).astype(np.float32)
    config = AugmentConfig(max_gain_db=6, snr_db=(20, 30), max_semitones=1, max_stretch=0.1)
    a = augment_segment(y, SR, 3 * SR, np.random.default_rng(7), config)
    b = augment_segment(y, SR, 3 * SR, np.random.default_rng(7), config)
    c = augment_segment(y, SR, 3 * SR, np.random.default_rng(8), config)
    assert a.shape == (3 * SR,) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    plain = augment_segment(y, SR, SR, np.random.default_rng(1), AugmentConfig(0, None, 0, 0))
    assert np.array_equal(plain, random_crop(y, SR, np.random.default_rng(1)))  # only the crop left


def _clips(folder, n_per_genre=3):
    rows = []
    for label, genre in enumerate(("blues", "rock")):
        for i in range(n_per_genre):
            path = folder / f"{genre}.{i:05d}.wav"
            y = _sine(200.0 * (label + 1) + 30 * i, seconds=8.0)
            y += np.random.default_rng(i).normal(0, 0.01, len(y)).astype(np.float32)
            sf.write(path, y, SR)
            rows.append({"path": str(path), "track_id": f"{genre}.{i:05d}", "genre": genre, "label": label})
    return pd.DataFrame(rows)


def test_augmented_features_shapes_and_determinism(tmp_path):
    table = _clips(tmp_path)
    config = FeatureConfig()
    assert segment_length(config) == 132300
    first = augmented_features(table, config, n_copies=2, seed=3, n_jobs=1, progress=False)
    assert first.X.shape == (12, config.frames_per_segment, 13) and first.X.dtype == np.float32
    assert list(first.track_ids[:4]) == ["blues.00000", "blues.00000", "blues.00001", "blues.00001"]
    assert list(first.labels) == [0] * 6 + [1] * 6
    again = augmented_features(table, config, n_copies=2, seed=3, n_jobs=1, progress=False)
    assert np.array_equal(first.X, again.X)
    other = augmented_features(table, config, n_copies=2, seed=4, n_jobs=1, progress=False)
    assert not np.array_equal(first.X, other.X)
    # one track alone gives the same rows as within the table (per-track random streams)
    alone = augmented_features(table.iloc[[3]], config, n_copies=2, seed=3, n_jobs=1, progress=False)
    assert np.array_equal(alone.X, first.X[6:8])
    with pytest.raises(DataError, match="lacks column"):
        augmented_features(table.drop(columns="path"), config)
