"""Data augmentation that makes sense for music: random crops, gain, mild noise, pitch and tempo changes.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``). A genre does not change when a song
starts a little later, is played a little louder, over a little hiss, or a semitone higher; so
new training examples made this way teach the network what to ignore. Everything here is
deterministic given a seed: the same seed gives the same augmented examples on every machine and
with any number of worker processes (each track draws from its own random stream derived from
the seed and the track id).

Augmented examples are only ever added to the *fit* tracks of a fold; tune, selection and test
tracks stay as they are (chapter *Beyond* marks them as fit-only rows of
:func:`helpers.evaluation.nested_cross_validate`).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.audio import load_mono
from helpers.config import DEFAULT_SEED
from helpers.errors import ParameterError, require_columns
from helpers.features import clip_features, show_progress


def track_rng(seed: int, track_id: str) -> np.random.Generator:
    """A random generator that depends only on ``seed`` and ``track_id`` (chapter *Beyond*).

    Uses a CRC-32 of the track id (stable across Python runs, unlike ``hash``).
    """
    return np.random.default_rng([int(seed), zlib.crc32(str(track_id).encode())])


def _check_signal(y, name: str = "signal") -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"{name}: augmentation needs a non-empty mono 1-D signal, got shape {y.shape}")
    return y


def random_crop(y, length: int, rng: np.random.Generator) -> np.ndarray:
    """Cut ``length`` samples starting at a random position (a random time shift).

    Explained in chapter *Beyond*. The fixed segmentation of chapter 5 always cuts a clip at
    0, 6, 12, ... s; random crops show the network other 6 s windows of the same song.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_samples,)
    length : int
        Crop length in samples (at most ``len(y)``).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (length,)
    """
    y = _check_signal(y)
    if not 0 < length <= len(y):
        raise ParameterError(f"random_crop: cannot cut {length} samples from a signal of {len(y)} samples")
    start = int(rng.integers(0, len(y) - length + 1))
    return y[start : start + length].copy()


def apply_gain(y, gain_db: float) -> np.ndarray:
    """Scale a signal by ``gain_db`` decibels, clipping to [-1, 1] (chapter *Beyond*)."""
    y = _check_signal(y)
    return np.clip(y * np.float32(10 ** (gain_db / 20)), -1.0, 1.0)


def add_noise(y, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at a given signal-to-noise ratio in dB (chapter *Beyond*).

    A 30 dB SNR is a faint hiss; 10 dB is clearly audible. A silent signal is returned unchanged.
    """
    y = _check_signal(y)
    power = float(np.mean(y.astype(np.float64) ** 2))
    if power == 0:
        return y.copy()
    noise_power = power / 10 ** (snr_db / 10)
    noise = rng.normal(0.0, np.sqrt(noise_power), size=y.shape).astype(np.float32)
    return np.clip(y + noise, -1.0, 1.0)


def _fit_length(y: np.ndarray, length: int) -> np.ndarray:
    if len(y) >= length:
        return y[:length]
    return np.pad(y, (0, length - len(y)))


def pitch_shift(y, sr: int, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` keeping the duration (librosa's phase vocoder; chapter *Beyond*).

    About 0.1 s per 6 s segment on one CPU core: affordable for a few copies per track.
    """
    import librosa

    y = _check_signal(y)
    if semitones == 0:
        return y.copy()
    return _fit_length(librosa.effects.pitch_shift(y, sr=sr, n_steps=float(semitones)), len(y)).astype(np.float32)


def time_stretch(y, rate: float, length: int | None = None) -> np.ndarray:
    """Play ``rate`` times faster keeping the pitch, then crop or zero-pad to ``length`` (chapter *Beyond*)."""
    import librosa

    y = _check_signal(y)
    if rate <= 0:
        raise ParameterError(f"time_stretch: rate must be positive, got {rate}")
    out = y.copy() if rate == 1 else librosa.effects.time_stretch(y, rate=float(rate))
    return _fit_length(out, length if length is not None else len(y)).astype(np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Settings of :func:`augment_segment` (chapter *Beyond*).

    Attributes
    ----------
    max_gain_db : float
        Gain drawn uniformly from ``[-max_gain_db, +max_gain_db]`` (0 disables).
    snr_db : (float, float) or None
        Noise SNR drawn uniformly from this range in dB (None disables).
    max_semitones : float
        Pitch shift drawn uniformly from ``[-max_semitones, +max_semitones]`` (0 disables; costs CPU).
    max_stretch : float
        Tempo factor drawn uniformly from ``[1 - max_stretch, 1 + max_stretch]`` (0 disables; costs CPU).
    """

    max_gain_db: float = 6.0
    snr_db: tuple[float, float] | None = (20.0, 40.0)
    max_semitones: float = 0.0
    max_stretch: float = 0.0


def augment_segment(y, sr: int, length: int, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Make one augmented segment of ``length`` samples from a track (chapter *Beyond*).

    Steps: a random crop (slightly longer when the tempo changes), time stretch, pitch shift,
    random gain, mild noise — each only if enabled in ``config``.

    Parameters
    ----------
    y : numpy.ndarray
        The whole track, mono.
    sr : int
        Sample rate in Hz.
    length : int
        Samples per segment (e.g. 132,300 for 6 s at 22,050 Hz).
    rng : numpy.random.Generator
    config : AugmentConfig

    Returns
    -------
    numpy.ndarray, shape (length,), float32
    """
    y = _check_signal(y)
    rate = 1.0
    if config.max_stretch > 0:
        rate = float(rng.uniform(1 - config.max_stretch, 1 + config.max_stretch))
    need = min(len(y), int(np.ceil(length * rate)))
    segment = random_crop(y, need, rng)
    if rate != 1.0:
        segment = time_stretch(segment, rate, length)
    segment = _fit_length(segment, length)
    if config.max_semitones > 0:
        segment = pitch_shift(segment, sr, float(rng.uniform(-config.max_semitones, config.max_semitones)))
    if config.max_gain_db > 0:
        segment = apply_gain(segment, float(rng.uniform(-config.max_gain_db, config.max_gain_db)))
    if config.snr_db is not None:
        segment = add_noise(segment, float(rng.uniform(*config.snr_db)), rng)
    return segment.astype(np.float32)


def segment_length(feature_config) -> int:
    """Samples per segment of a :class:`helpers.features.FeatureConfig` (chapter *Beyond*)."""
    return int(feature_config.segment_samples)


@dataclass
class AugmentedSet:
    """Augmented training examples of some tracks (what :func:`augmented_features` returns).

    Attributes
    ----------
    X : numpy.ndarray, shape (n, frames, bins)
        Features of the augmented segments (same settings as the original features).
    labels : numpy.ndarray of int
    track_ids : numpy.ndarray of str
        The track each augmented segment was cut from (for grouping: never put a track's
        augmented copies on the test side).
    """

    X: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray


def _augment_track(path: str, track_id: str, feature_config, n_copies: int, seed: int, config: AugmentConfig):
    sr = int(feature_config.sr)
    y = load_mono(path, sr=sr)
    length = segment_length(feature_config)
    rng = track_rng(seed, track_id)
    segments = [augment_segment(y, sr, length, rng, config) for _ in range(n_copies)]
    return np.concatenate([clip_features(s, feature_config, max_segments=1) for s in segments])


def augmented_features(
    table: pd.DataFrame,
    feature_config,
    n_copies: int = 5,
    seed: int = DEFAULT_SEED,
    config: AugmentConfig = AugmentConfig(),
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> AugmentedSet:
    """Cut ``n_copies`` augmented segments from every clip of a table and compute their features.

    Explained in chapter *Beyond*. The features use the same code path as the originals
    (:func:`helpers.features.clip_features` with ``feature_config``).

    Parameters
    ----------
    table : pandas.DataFrame
        Clip table (``path``, ``track_id``, ``label`` columns).
    feature_config : helpers.features.FeatureConfig
    n_copies : int
        Augmented segments per track.
    seed : int
        Base seed; each track uses :func:`track_rng` (``seed``, its id).
    config : AugmentConfig
    n_jobs : int, optional
        Worker processes (default: CPU cores).
    progress : bool or None
        Show a tqdm progress bar (``None``: only for long runs, :func:`helpers.features.show_progress`).

    Returns
    -------
    AugmentedSet
        Rows ordered track by track, ``n_copies`` per track.
    """
    require_columns(table, ["path", "track_id", "label"], "augmented_features: the table")
    if n_copies < 1:
        raise ParameterError(f"n_copies must be positive, got {n_copies}")
    from joblib import Parallel, delayed

    items = list(zip(table["path"].astype(str), table["track_id"].astype(str), strict=True))
    if show_progress(progress, len(items)):
        from tqdm.auto import tqdm

        items = tqdm(items, desc="augmenting", leave=False)
    jobs = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
    call = delayed(_augment_track)
    if jobs == 1:
        parts = [_augment_track(p, t, feature_config, n_copies, seed, config) for p, t in items]
    else:
        parts = Parallel(n_jobs=jobs, backend="threading")(call(p, t, feature_config, n_copies, seed, config) for p, t in items)
    X = np.concatenate(parts).astype(np.float32)
    labels = np.repeat(table["label"].to_numpy(), n_copies)
    track_ids = np.repeat(table["track_id"].astype(str).to_numpy(), n_copies)
    return AugmentedSet(X, labels, track_ids)
