"""Spotify-style descriptors of a whole track, computed from its audio with librosa.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``): the report's future work was to
combine the MFCC network with "numbers about a song" like the Spotify features of chapter 1
(tempo, energy, brightness, key...). Spotify's own features are not available for GTZAN, so we
compute comparable descriptors from the audio:

- tempo (beats per minute, from the onset-strength autocorrelation);
- loudness (dB, the mean power of the whole track) and frame RMS energy (mean, std);
- spectral centroid, bandwidth and roll-off (Hz; "brightness"; weighted by the *magnitude*
  spectrogram, as librosa defines them, not by the power), spectral flatness ("noisiness") and
  zero-crossing rate, each as mean and standard deviation over frames;
- chroma (energy of the 12 pitch classes C … B; harmony and key), mean and std per class.

All of them come from one short-time Fourier transform per track (fast: about 0.2 s per 30 s
clip on one core). :func:`extract_descriptors` runs over a GTZAN table with the package's one
cached, parallel per-track loop (:mod:`helpers.features`): a NumPy ``.npz`` file (no pickle) keyed
by the files' names, sizes and dates.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import SAMPLE_RATE, cache_home
from helpers.errors import DataError, require_columns
from helpers.features import cached_arrays, files_fingerprint, map_tracks

#: Bump when the descriptor computation changes (invalidates caches).
DESCRIPTOR_VERSION = 1

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

_FRAME_FEATURES = ("rms", "centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness", "zcr")

#: Names of the descriptor columns, in the order of :func:`track_descriptors`' output.
DESCRIPTOR_NAMES: tuple[str, ...] = (
    ("tempo_bpm", "loudness_db")
    + tuple(f"{name}_{stat}" for name in _FRAME_FEATURES for stat in ("mean", "std"))
    + tuple(f"chroma_{pc}_mean" for pc in PITCH_CLASSES)
    + tuple(f"chroma_{pc}_std" for pc in PITCH_CLASSES)
)

#: Below this peak amplitude a signal counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4


def track_descriptors(
    y: np.ndarray, sr: int = SAMPLE_RATE, n_fft: int = 2048, hop_length: int = 512, name: str = "signal"
) -> np.ndarray:
    """Compute the Spotify-style descriptors of one signal (a whole track or any excerpt).

    Explained in chapter *Beyond*.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_samples,)
        Mono audio, floating point in [-1, 1].
    sr : int
        Sample rate in Hz.
    n_fft, hop_length : int
        STFT window and hop in samples (the book's MFCC settings: 2048 and 512).
    name : str
        What to call the signal in error messages (e.g. its file name).

    Returns
    -------
    numpy.ndarray, shape (len(DESCRIPTOR_NAMES),), float32
        Values in the order of :data:`DESCRIPTOR_NAMES`.

    Raises
    ------
    DataError
        If the signal is not 1-D, shorter than one STFT window, not finite, or silent.
    """
    import librosa

    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{name}: descriptors need a mono 1-D signal, got shape {y.shape}")
    if len(y) < n_fft:
        raise DataError(f"{name}: {len(y)} samples is shorter than one analysis window ({n_fft} samples)")
    y = y.astype(np.float32, copy=False)
    if not np.all(np.isfinite(y)):
        raise DataError(f"{name}: the signal contains NaN or infinite samples")
    if np.max(np.abs(y)) < SILENCE_PEAK:
        raise DataError(f"{name}: the signal is silent (peak amplitude below {SILENCE_PEAK:g})")

    magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
    power = magnitude**2
    frames = {
        "rms": librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop_length)[0],  # (from S it would be windowed)
        "centroid_hz": librosa.feature.spectral_centroid(S=magnitude, sr=sr)[0],
        "bandwidth_hz": librosa.feature.spectral_bandwidth(S=magnitude, sr=sr)[0],
        "rolloff_hz": librosa.feature.spectral_rolloff(S=magnitude, sr=sr)[0],
        "flatness": librosa.feature.spectral_flatness(S=magnitude)[0],
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop_length)[0],
    }
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=hop_length)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=hop_length))[0])
    loudness = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) + 1e-12)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft, hop_length=hop_length)

    values = [tempo, loudness]
    for key in _FRAME_FEATURES:
        values += [float(np.mean(frames[key])), float(np.std(frames[key]))]
    values += list(chroma.mean(axis=1)) + list(chroma.std(axis=1))
    out = np.asarray(values, dtype=np.float32)
    if out.shape != (len(DESCRIPTOR_NAMES),) or not np.all(np.isfinite(out)):
        raise DataError(f"{name}: descriptor computation gave non-finite values")
    return out


def _one_track(path: str, sr: int) -> np.ndarray:
    from helpers.audio import load_clip

    return track_descriptors(load_clip(path, sr=sr, mono=True), sr, name=str(path))


def descriptor_table(values: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """Wrap a (tracks × descriptors) array as a table with the clip table's identifying columns.

    Explained in chapter *Beyond*.

    Parameters
    ----------
    values : numpy.ndarray, shape (n_tracks, len(DESCRIPTOR_NAMES))
    table : pandas.DataFrame
        The clip table the rows belong to (``track_id``, ``genre``, ``label``), same order.

    Returns
    -------
    pandas.DataFrame
        Columns ``track_id``, ``genre``, ``label`` then the descriptors; the table's attrs
        (``flavour``...) are kept.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.shape != (len(table), len(DESCRIPTOR_NAMES)):
        raise DataError(
            f"descriptor values of shape {values.shape} do not fit {len(table)} tracks × {len(DESCRIPTOR_NAMES)} names"
        )
    frame = pd.DataFrame(values, columns=list(DESCRIPTOR_NAMES))
    ids = table[["track_id", "genre", "label"]].reset_index(drop=True)
    frame = pd.concat([ids, frame], axis=1)
    frame.attrs.update(table.attrs)
    return frame


def extract_descriptors(
    table: pd.DataFrame,
    sr: int = SAMPLE_RATE,
    n_jobs: int = -1,
    cache: bool | str | os.PathLike = True,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Compute :func:`track_descriptors` for every clip of a GTZAN table (parallel, cached).

    Explained in chapter *Beyond*. Runs the package's one per-track loop
    (:func:`helpers.features.map_tracks`, :func:`helpers.features.cached_arrays`): a damaged cache
    file, or one whose values are not finite or not of these clips, is named in a warning and recomputed.

    Parameters
    ----------
    table : pandas.DataFrame
        A clip table from :func:`helpers.datasets.load_gtzan` (``path``, ``track_id``, ``genre``,
        ``label`` columns).
    sr : int
        Sample rate the clips are loaded at.
    n_jobs : int
        Parallel workers (joblib threads; ``-1``: one per CPU core).
    cache : bool or path
        ``True``: cache under ``cache_home()/cache``; a path: that folder; ``False``: no cache.
    progress : bool or None
        Show a tqdm progress bar (``None``: only for long runs).

    Returns
    -------
    pandas.DataFrame
        See :func:`descriptor_table`: one row per clip, in the table's order.

    Raises
    ------
    DataError
        If a clip cannot be read, is too short or silent (naming the file), or the table lacks
        columns.
    """
    require_columns(table, ["path", "track_id", "genre", "label"], "extract_descriptors: the table")
    paths = [str(p) for p in table["path"]]
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"audio file {path} does not exist")
    cache_file = None
    if cache:
        folder = Path(cache) if not isinstance(cache, bool) else cache_home() / "cache"
        cache_file = folder / f"descriptors-v{DESCRIPTOR_VERSION}-{sr}-{files_fingerprint(paths)}.npz"

    def compute() -> dict[str, np.ndarray]:
        rows = map_tracks(partial(_one_track, sr=sr), paths, n_jobs=n_jobs, progress=progress, desc="descriptors")
        return {"values": np.stack(rows).astype(np.float32), "paths": np.asarray(paths)}

    def invalid(arrays: dict[str, np.ndarray]) -> str | None:  # a cache is served only if this is None
        values = arrays["values"]
        if values.dtype != np.float32 or values.shape != (len(paths), len(DESCRIPTOR_NAMES)):
            return f"values are {values.dtype} of shape {values.shape}, not float32 ({len(paths)}, {len(DESCRIPTOR_NAMES)})"
        if not np.isfinite(values).all() or arrays["paths"].tolist() != paths:
            return "values that are not finite, or other clips' paths"
        return None

    stored = cached_arrays(cache_file, compute, required=("values", "paths"), validate=invalid)
    return descriptor_table(stored["values"], table)
