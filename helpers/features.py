"""From audio to features: segments, MFCC / log-mel extraction, the feature cache, the report's JSON.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``).

Two ways to turn GTZAN clips into network inputs live here side by side:

* **The report's recipe** (:func:`extract_report_json`, :func:`load_report_json`): for every track,
  ``librosa.load`` at 22050 Hz, cut the 30 s into 5 segments, one ``librosa.feature.mfcc`` call
  per segment, drop the segments whose frame count is not the expected one, and dump everything
  to a JSON file ``{"mapping": [...], "labels": [...], "mfcc": [...]}``. The JSON keeps no
  track id, so a later split cannot keep a track's segments together.
* **The production path** (:func:`extract_features`): one spectrogram per track, sliced into
  segments (:func:`clip_features`); tracks in parallel (joblib); a tqdm progress bar; a cache of
  compact ``float32`` arrays (``.npz``, no pickle) keyed by the parameters and the audio files;
  and the track id of every segment kept in a :class:`FeatureSet`, so that splits and voting
  work by track.

Segments of the production path start on a frame boundary
-------------------------------------------------------------
The report cuts segment ``s`` at sample ``s * segment_samples`` (132,300 samples = 6 s for 5
segments). That is not a multiple of ``hop_length`` (132,300 = 258 × 512 + 204), so the frames of
a spectrogram of the whole clip do not line up with the frames of a per-segment spectrogram.
:func:`clip_features` therefore starts segment ``s`` at frame ``floor(s * segment_samples /
hop_length)`` of the whole-clip spectrogram, i.e. at most ``hop_length - 1`` samples (23 ms)
earlier than the report's cut, and takes ``frames_per_segment`` frames from there. What matches
exactly (and is tested in ``tests/test_features.py``):

* Every frame of segment ``s`` equals, within float32 tolerance, the same frame of
  ``librosa.feature.mfcc`` (or the log-mel spectrogram) computed on the segment alone,
  ``y[start:start + segment_samples]`` with ``start = floor(s * segment_samples / hop_length) *
  hop_length`` — **except the edge frames** whose analysis window reaches over the segment's
  ends: the first ``ceil(n_fft / 2 / hop_length)`` frames (2 with the defaults) and the frames
  centred less than ``n_fft / 2`` samples before the segment's end (the last 2 with the
  defaults). A per-segment extraction pads those windows with zeros; slicing sees the real
  neighbouring audio instead. (For segment 0 the start is padded in both ways, so those frames
  match too.)
* The decibel scale (``power_to_db`` with ``top_db=80``) is applied per segment, after slicing,
  exactly as a per-segment call does, so the 80 dB floor is relative to the segment's loudest
  frame, not the track's.

A segment is used only when the signal holds all of its samples (``start + segment_samples <=
len(y)``), the counterpart of the report's "drop segments with the wrong frame count".

How the spectrogram is computed
-------------------------------
:func:`mel_power_frames` writes out chapter 3's recipe (centred frames with zero padding, periodic
Hann window, real FFT, squared magnitude, Slaney mel filterbank) instead of calling
``librosa.feature.melspectrogram``: in float32, in blocks of frames small enough to stay in the CPU
cache, with the filterbank as a sparse matrix (each mel filter touches a few FFT bins). The numbers
are librosa's within float32 rounding (tested); the work per clip is about a third of the report's
loop. :func:`extract_features` limits the BLAS library to one thread per worker, so that parallel
workers do not over-subscribe the cores.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import GENRES, data_home
from helpers.errors import DataError

#: Bump when the extraction code changes in a way that changes the numbers (invalidates caches).
FEATURES_VERSION = 2

KINDS = ("mfcc", "logmel")

#: Bytes of windowed frames processed at once by :func:`mel_power_frames`.
_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the feature extraction (chapter *From audio to features*).

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clips are loaded at (GTZAN's own: 22050).
    n_segments : int
        Segments per ``track_seconds`` track (the report: 5, i.e. 6 s each).
    track_seconds : float
        Nominal track length in seconds (GTZAN: 30).
    kind : {'mfcc', 'logmel'}
        MFCCs (``n_mfcc`` per frame) or the log-mel spectrogram (``n_mels`` per frame), in dB.
    n_mfcc : int
        Number of MFCCs (the report: 13).
    n_mels : int
        Mel bands (librosa's default 128; the MFCCs are computed from these bands).
    n_fft : int
        FFT size in samples (2048 = 93 ms at 22050 Hz).
    hop_length : int
        Hop between frames in samples (512 = 23 ms).
    """

    sr: int = 22050
    n_segments: int = 5
    track_seconds: float = 30.0
    kind: str = "mfcc"
    n_mfcc: int = 13
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"FeatureConfig.kind={self.kind!r} must be one of {KINDS}")
        for name in ("sr", "n_segments", "n_mfcc", "n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"FeatureConfig.{name}={value!r} must be a positive integer")
        if self.track_seconds <= 0:
            raise ValueError(f"FeatureConfig.track_seconds={self.track_seconds!r} must be positive")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} cannot exceed n_mels={self.n_mels}")
        if self.segment_samples < self.n_fft:
            raise ValueError(
                f"segments of {self.segment_samples} samples are shorter than n_fft={self.n_fft}"
            )

    @property
    def segment_samples(self) -> int:
        """Samples per segment, as the report computes it: ``int(sr * track_seconds / n_segments)``."""
        return int(self.sr * self.track_seconds / self.n_segments)

    @property
    def frames_per_segment(self) -> int:
        """Frames per segment, as the report computes it: ``ceil(segment_samples / hop_length)``."""
        return math.ceil(self.segment_samples / self.hop_length)

    @property
    def n_features(self) -> int:
        """Features per frame: ``n_mfcc`` for MFCCs, ``n_mels`` for log-mel."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def segment_seconds(self) -> float:
        """Segment length in seconds."""
        return self.segment_samples / self.sr

    def key(self) -> str:
        """A short, stable hash of every field (and the code version), used to name cache files."""
        payload = json.dumps({"version": FEATURES_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# One clip
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _analysis_constants(sr: int, n_fft: int, n_mels: int, n_mfcc: int):
    """Window, mel filterbank (sparse) and DCT matrix, built once per parameter set.

    The same objects ``librosa.feature.mfcc`` builds on every call: a periodic Hann window
    (``scipy.signal.get_window('hann', n_fft, fftbins=True)``), ``librosa.filters.mel`` (Slaney
    mel scale and area normalisation) and the orthonormal DCT-II, here as a matrix.
    """
    import librosa
    import scipy.fft
    import scipy.signal
    import scipy.sparse

    window = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    # Each mel filter is non-zero over a few FFT bins only: a sparse product is ~50x less work.
    mel = scipy.sparse.csr_matrix(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels))
    dct = scipy.fft.dct(np.eye(n_mels, dtype=np.float32), type=2, norm="ortho", axis=0)[:n_mfcc]
    return window, mel, np.ascontiguousarray(dct.T)  # dct.T: (n_mels, n_mfcc)


def mel_power_frames(y: np.ndarray, config: FeatureConfig, n_frames: int) -> np.ndarray:
    """Mel power spectrogram of the first ``n_frames`` frames of a signal, time along axis 0.

    Explained in chapter *From audio to features*. Numerically the same as
    ``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length).T[:n_frames]``
    (centred frames, zero padding, periodic Hann window, power 2, Slaney mel filterbank), written
    out as in chapter 3 — frame, window, real FFT, squared magnitude, filterbank — so that all of
    it runs in float32 on contiguous rows and the filterbank is applied as a sparse matrix.

    Parameters
    ----------
    y : numpy.ndarray
        Mono float32 signal.
    config : FeatureConfig
    n_frames : int
        Frames to compute (frame ``k`` is centred on sample ``k * hop_length``); at most
        ``1 + len(y) // hop_length``.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, n_mels)`` float32.
    """
    import scipy.fft

    window, mel, _ = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
    half = config.n_fft // 2
    if n_frames > 1 + len(y) // config.hop_length:
        raise ValueError(f"a signal of {len(y)} samples has fewer than {n_frames} frames")
    needed = (n_frames - 1) * config.hop_length + config.n_fft - half  # samples of y used
    padded = np.zeros(half + max(len(y), needed) + half, dtype=np.float32)
    padded[half : half + len(y)] = y
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length][:n_frames]
    out = np.empty((n_frames, config.n_mels), dtype=np.float32)
    # Blocks of frames keep the temporaries small enough to stay in the CPU cache (whole-clip
    # temporaries of ~10 MB each cost more in memory traffic than the FFT itself).
    block = max(1, _BLOCK_BYTES // (config.n_fft * 4))
    buffer = np.empty((min(block, n_frames), config.n_fft), dtype=np.float32)
    for first in range(0, n_frames, block):
        part = frames[first : first + block]
        windowed = np.multiply(part, window, out=buffer[: len(part)])
        spectrum = scipy.fft.rfft(windowed, axis=-1)  # (frames, 1 + n_fft // 2) complex64
        power = spectrum.real**2 + spectrum.imag**2
        out[first : first + len(part)] = (mel @ power.T).T
    return out


def segment_starts(n_samples: int, config: FeatureConfig, max_segments: int | None = None) -> np.ndarray:
    """First frame (of the whole-clip spectrogram) of every whole segment a signal holds.

    Explained in chapter *From audio to features*: segment ``s`` starts at frame
    ``floor(s * segment_samples / hop_length)`` and is kept when the signal holds all its samples.

    Parameters
    ----------
    n_samples : int
        Length of the signal in samples.
    config : FeatureConfig
    max_segments : int, optional
        At most this many segments (default ``config.n_segments``).

    Returns
    -------
    numpy.ndarray
        Integer frame indices, one per kept segment.
    """
    limit = config.n_segments if max_segments is None else int(max_segments)
    starts = []
    for s in range(limit):
        frame = (s * config.segment_samples) // config.hop_length
        if frame * config.hop_length + config.segment_samples > n_samples:
            break
        starts.append(frame)
    return np.asarray(starts, dtype=np.int64)


def clip_features(y: np.ndarray, config: FeatureConfig, max_segments: int | None = None) -> np.ndarray:
    """Features of every whole segment of one signal, computed once over the signal and sliced.

    Explained in chapter *From audio to features* (see the module docstring for exactly which
    frames equal a per-segment ``librosa.feature.mfcc`` call).

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal at ``config.sr``, shape ``(n_samples,)``.
    config : FeatureConfig
    max_segments : int, optional
        At most this many segments (default ``config.n_segments``); give more to cut a longer
        recording (e.g. your own 3-minute song) into more segments.

    Returns
    -------
    numpy.ndarray
        ``(n, config.frames_per_segment, config.n_features)`` ``float32``, time along axis 1
        (the report's layout, ``mfcc.T``); ``n`` may be 0 for a signal shorter than a segment.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"clip_features needs a mono signal of shape (n,), got shape {y.shape}")
    y = y.astype(np.float32, copy=False)
    starts = segment_starts(len(y), config, max_segments)
    frames = config.frames_per_segment
    out = np.empty((len(starts), frames, config.n_features), dtype=np.float32)
    if len(starts) == 0:
        return out
    # One spectrogram for everything the segments need, in decibels (librosa.power_to_db with
    # ref=1, amin=1e-10); the 80 dB floor (top_db) is applied per segment below, as a
    # per-segment call does.
    mel = mel_power_frames(y, config, int(starts[-1]) + frames)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    _, _, dct = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
    for i, start in enumerate(starts):
        segment = db[start : start + frames]
        segment = np.maximum(segment, segment.max() - 80.0)
        out[i] = segment @ dct if config.kind == "mfcc" else segment
    return out


# ---------------------------------------------------------------------------------------------
# Many clips: FeatureSet, extraction, cache
# ---------------------------------------------------------------------------------------------


@dataclass
class FeatureSet:
    """Segment features of many tracks with the bookkeeping needed for honest splits.

    Explained in chapter *From audio to features*.

    Attributes
    ----------
    X : numpy.ndarray
        ``(N, frames, n_features)`` ``float32``.
    labels : numpy.ndarray
        ``(N,)`` int, index into ``genres``.
    track_ids : numpy.ndarray
        ``(N,)`` str, e.g. ``'blues.00042'`` — the key of every track-level split and vote.
    segments : numpy.ndarray
        ``(N,)`` int, segment number within its track.
    genres : tuple of str
    config : FeatureConfig
    flavour : str
        ``full`` / ``mini`` / ``synthetic``: say it with every number computed from these features.
    skipped : list of str
        Clips that could not be used, each ``'path: reason'``.
    """

    X: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    segments: np.ndarray
    genres: tuple[str, ...]
    config: FeatureConfig
    flavour: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"FeatureSet({len(self)} segments of {self.n_tracks} tracks, X {tuple(self.X.shape)} "
            f"{self.X.dtype}, kind={self.config.kind!r}, flavour={self.flavour!r}, "
            f"skipped={len(self.skipped)})"
        )

    @property
    def n_tracks(self) -> int:
        """Number of distinct tracks."""
        return len(np.unique(self.track_ids))

    def table(self) -> pd.DataFrame:
        """One row per segment: ``track_id``, ``genre``, ``label``, ``segment``.

        Works with :mod:`helpers.datasets.splits` (``track_train_test_split``, ``track_folds``,
        ``filtered_split``); ``attrs['flavour']`` says which data it is.
        """
        genres = np.asarray(self.genres)
        frame = pd.DataFrame(
            {
                "track_id": self.track_ids.astype(str),
                "genre": genres[self.labels] if len(self) else np.array([], dtype=str),
                "label": self.labels,
                "segment": self.segments,
            }
        )
        frame.attrs["flavour"] = self.flavour
        frame.attrs["feature"] = self.config.kind
        return frame

    def subset(self, rows) -> FeatureSet:
        """The rows ``rows`` (integer positions or a boolean mask) as a new FeatureSet."""
        rows = np.asarray(rows)
        if rows.dtype == bool and rows.shape != (len(self),):
            raise ValueError(f"boolean mask of shape {rows.shape} for {len(self)} rows")
        return FeatureSet(
            X=self.X[rows],
            labels=self.labels[rows],
            track_ids=self.track_ids[rows],
            segments=self.segments[rows],
            genres=self.genres,
            config=self.config,
            flavour=self.flavour,
            skipped=list(self.skipped),
        )


def _load(path: str, config: FeatureConfig, check: bool = True) -> np.ndarray:
    """Load one clip as mono float32 at ``config.sr`` with :func:`helpers.audio.load_clip`.

    With ``check``, a clip whose file is not at ``config.sr`` or not mono is refused (DataError)
    instead of being silently resampled or mixed down.
    """
    from helpers.audio import load_clip

    if check:
        return load_clip(path, sr=config.sr, mono=True, expect_sr=config.sr, expect_mono=True)
    return load_clip(path, sr=config.sr, mono=True)


def _track_job(path: str, config: FeatureConfig, max_segments: int | None, check: bool = True):
    """Features of one track, or ``(None, reason)`` when the clip cannot be used."""
    try:
        y = _load(path, config, check)
    except (DataError, OSError, RuntimeError, EOFError) as error:
        return None, str(error) if str(path) in str(error) else f"{path}: {error}"
    feats = clip_features(y, config, max_segments)
    if len(feats) == 0:
        return None, (
            f"{path}: {len(y) / config.sr:.2f} s is shorter than one segment "
            f"({config.segment_seconds:.2f} s)"
        )
    return feats, None


def _files_fingerprint(table: pd.DataFrame) -> str:
    """Hash of every clip's path, size and modification time (and its track id and label)."""
    digest = hashlib.sha1()
    for path, track, label in zip(table["path"], table["track_id"], table["label"], strict=True):
        try:
            stat = os.stat(path)
            state = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            state = "missing"
        digest.update(f"{path}|{track}|{label}|{state}\n".encode())
    return digest.hexdigest()[:16]


def cache_path(table: pd.DataFrame, config: FeatureConfig, cache_dir=None, check: bool = True) -> Path:
    """Where :func:`extract_features` caches the features of ``table`` under ``config``.

    Explained in chapter *From audio to features*. The name combines the flavour,
    :meth:`FeatureConfig.key` and a fingerprint of the audio files (paths, sizes, modification
    times), so changing a parameter or touching a file means a new cache entry.
    """
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "features"
    flavour = table.attrs.get("flavour", "unknown")
    strict = "" if check else "-unchecked"
    return folder / f"{flavour}-{config.kind}-{config.key()}-{_files_fingerprint(table)}{strict}.npz"


def _save_npz(path: Path, features: FeatureSet) -> None:
    """Write a FeatureSet atomically (temporary file + rename), without pickle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "X": features.X.astype(np.float32, copy=False),
        "labels": features.labels.astype(np.int64),
        "track_ids": features.track_ids.astype(str),
        "segments": features.segments.astype(np.int64),
        "genres": np.asarray(features.genres, dtype=str),
        "skipped": np.asarray(features.skipped, dtype=str),
        "flavour": np.asarray(features.flavour),
        "config": np.asarray(json.dumps(asdict(features.config), sort_keys=True)),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_npz(path: Path) -> FeatureSet:
    """Read a FeatureSet written by :func:`_save_npz` (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            config = FeatureConfig(**json.loads(str(data["config"])))
            return FeatureSet(
                X=data["X"],
                labels=data["labels"],
                track_ids=data["track_ids"],
                segments=data["segments"],
                genres=tuple(str(g) for g in data["genres"]),
                config=config,
                flavour=str(data["flavour"]),
                skipped=[str(s) for s in data["skipped"]],
            )
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise DataError(f"feature cache {path} is unreadable ({error}); delete it") from error


def extract_features(
    table: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen dataclass, safe default
    n_jobs: int = -1,
    cache: bool = True,
    progress: bool = True,
    max_segments: int | None = None,
    cache_dir=None,
    backend: str = "threading",
    check: bool = True,
) -> FeatureSet:
    """Segment features of every clip of a GTZAN table: parallel, cached, track ids kept.

    Explained in chapter *From audio to features*.

    Parameters
    ----------
    table : pandas.DataFrame
        A clip table from :func:`helpers.datasets.load_gtzan` (columns ``path``, ``genre``,
        ``label``, ``track_id``; ``attrs['flavour']``), or a subset of its rows.
    config : FeatureConfig
        What to extract.
    n_jobs : int
        Parallel workers (joblib; ``-1``: one per CPU core).
    cache : bool
        Read/write the ``.npz`` cache (see :func:`cache_path`); a second call with the same table,
        files and config loads in well under a second.
    progress : bool
        Show a tqdm progress bar over tracks.
    max_segments : int, optional
        Segments per track (default ``config.n_segments``).
    cache_dir : path, optional
        Cache folder (default ``data_home()/features``).
    backend : str
        joblib backend. ``'threading'`` (default) starts instantly; the heavy parts (FFT, matrix
        products, decoding) release the GIL, so threads run them in parallel. ``'loky'`` uses
        processes. Either way the BLAS library is limited to one thread per worker during the
        extraction, so that ``n_jobs`` workers do not over-subscribe the cores.
    check : bool
        Refuse (skip and name) clips whose file is not at ``config.sr`` Hz or not mono, as
        GTZAN's clips all are; with False they are resampled / mixed down silently, as
        ``librosa.load`` does.

    Returns
    -------
    FeatureSet
        Bad clips (unreadable, too short, ...) are skipped with one warning that names them and
        counts them, and listed in ``FeatureSet.skipped``.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    missing = {"path", "label", "track_id"} - set(table.columns)
    if missing:
        raise DataError(f"clip table lacks column(s) {sorted(missing)}")
    flavour = table.attrs.get("flavour", "unknown")
    if max_segments is not None and max_segments != config.n_segments:
        cache_file = None  # unusual request: do not cache
    else:
        cache_file = cache_path(table, config, cache_dir, check) if cache else None
    if cache_file is not None and cache_file.exists():
        return _load_npz(cache_file)

    paths = table["path"].astype(str).tolist()
    jobs = (delayed(_track_job)(p, config, max_segments, check) for p in paths)
    blocks, labels, track_ids, segments, skipped = [], [], [], [], []
    # One BLAS thread per worker: n_jobs workers that each start a multi-threaded BLAS call would
    # over-subscribe the cores (on a busy 2-core machine that makes every matrix product crawl).
    with threadpool_limits(limits=1, user_api="blas"):
        results = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")(jobs)
        if progress:
            results = tqdm(results, total=len(paths), desc=f"{config.kind} features", unit="clip",
                           mininterval=1.0)
        for (feats, reason), label, track in zip(results, table["label"], table["track_id"], strict=True):
            if feats is None:
                skipped.append(reason)
                continue
            blocks.append(feats)
            labels.append(np.full(len(feats), int(label), dtype=np.int64))
            track_ids.append(np.full(len(feats), str(track)))
            segments.append(np.arange(len(feats), dtype=np.int64))
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(paths)} clips:\n  " + "\n  ".join(skipped),
            stacklevel=2,
        )
    empty = np.empty((0, config.frames_per_segment, config.n_features), dtype=np.float32)
    features = FeatureSet(
        X=np.concatenate(blocks) if blocks else empty,
        labels=np.concatenate(labels) if labels else np.empty(0, dtype=np.int64),
        track_ids=np.concatenate(track_ids) if track_ids else np.empty(0, dtype=str),
        segments=np.concatenate(segments) if segments else np.empty(0, dtype=np.int64),
        genres=tuple(GENRES),
        config=config,
        flavour=flavour,
        skipped=skipped,
    )
    if cache_file is not None:
        _save_npz(cache_file, features)
    return features


# ---------------------------------------------------------------------------------------------
# The report's recipe and its JSON format
# ---------------------------------------------------------------------------------------------


def extract_report_json(
    table: pd.DataFrame,
    json_path,
    n_segments: int = 5,
    n_mfcc: int = 13,
    n_fft: int = 2048,
    hop_length: int = 512,
    sr: int = 22050,
    track_seconds: float = 30.0,
    progress: bool = True,
) -> pd.DataFrame:
    """The report's feature extraction, step by step, written to its JSON format.

    Explained in chapter *From audio to features*. For every track (sequentially):
    ``librosa.load(path, sr=sr)``; for each of ``n_segments`` segments of
    ``int(sr * track_seconds / n_segments)`` samples, ``librosa.feature.mfcc`` on that segment;
    keep the segment only if it has ``ceil(samples_per_segment / hop_length)`` frames. The JSON is
    ``{"mapping": [genre names], "labels": [int per segment], "mfcc": [segment × frames × n_mfcc]}``.

    Parameters
    ----------
    table : pandas.DataFrame
        Clip table (``path``, ``label``, ``track_id``, ``genre``).
    json_path : path
        Where to write the JSON (written atomically).
    n_segments, n_mfcc, n_fft, hop_length, sr, track_seconds
        The report's parameters (defaults: 5, 13, 2048, 512, 22050, 30).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per segment written (``track_id``, ``genre``, ``label``, ``segment``) — the
        bookkeeping the JSON itself does not keep; ``attrs['dropped']`` lists the dropped
        segments as ``'track_id#segment'`` and ``attrs['flavour']`` the table's flavour.
    """
    import librosa
    from tqdm import tqdm

    samples_per_segment = int(sr * track_seconds / n_segments)
    expected_frames = math.ceil(samples_per_segment / hop_length)
    data = {"mapping": list(GENRES), "labels": [], "mfcc": []}
    rows, dropped = [], []
    iterator = table.itertuples(index=False)
    if progress:
        iterator = tqdm(iterator, total=len(table), desc="report recipe", unit="clip")
    for clip in iterator:
        try:
            signal, sample_rate = librosa.load(clip.path, sr=sr)
        except Exception as error:  # noqa: BLE001 - the report's loop would crash here; we say why
            raise DataError(f"{clip.path}: cannot be decoded ({error})") from error
        for d in range(n_segments):
            start = samples_per_segment * d
            finish = start + samples_per_segment
            mfcc = librosa.feature.mfcc(
                y=signal[start:finish], sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length
            )
            mfcc = mfcc.T
            if len(mfcc) == expected_frames:
                data["mfcc"].append(mfcc.tolist())
                data["labels"].append(int(clip.label))
                rows.append((clip.track_id, clip.genre, int(clip.label), d))
            else:
                dropped.append(f"{clip.track_id}#{d}")
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = json_path.with_name(json_path.name + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, json_path)
    segments = pd.DataFrame(rows, columns=["track_id", "genre", "label", "segment"])
    segments.attrs["dropped"] = dropped
    segments.attrs["flavour"] = table.attrs.get("flavour", "unknown")
    return segments


def load_report_json(json_path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a file in the report's JSON format.

    Explained in chapter *From audio to features*.

    Returns
    -------
    X : numpy.ndarray
        ``(segments, frames, n_mfcc)`` float32.
    y : numpy.ndarray
        ``(segments,)`` int labels.
    mapping : list of str
        Genre names, ``mapping[label]``.

    Raises
    ------
    DataError
        If the file is missing, not JSON, lacks a key, or its lists do not line up.
    """
    json_path = Path(json_path)
    try:
        with open(json_path) as handle:
            data = json.load(handle)
    except FileNotFoundError as error:
        raise DataError(f"{json_path} does not exist") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{json_path} is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise DataError(f"{json_path} holds a {type(data).__name__}, not a JSON object")
    missing = {"mapping", "labels", "mfcc"} - set(data)
    if missing:
        raise DataError(f"{json_path} lacks key(s) {sorted(missing)} of the report's format")
    if len(data["labels"]) != len(data["mfcc"]):
        raise DataError(
            f"{json_path}: {len(data['labels'])} labels but {len(data['mfcc'])} MFCC segments"
        )
    try:
        X = np.asarray(data["mfcc"], dtype=np.float32)
        y = np.asarray(data["labels"], dtype=np.int64)
    except ValueError as error:
        raise DataError(f"{json_path}: MFCC segments are not all the same shape ({error})") from error
    if len(X) and X.ndim != 3:
        raise DataError(f"{json_path}: 'mfcc' has shape {X.shape}, expected segments × frames × n_mfcc")
    mapping = [str(m) for m in data["mapping"]]
    if len(y) and (y.min() < 0 or y.max() >= len(mapping)):
        raise DataError(f"{json_path}: labels outside 0..{len(mapping) - 1} of 'mapping'")
    return X, y, mapping


def leak_fraction(train_track_ids, test_track_ids) -> float:
    """Fraction of test segments whose track also has segments in the training set.

    Explained in chapter *From audio to features*: 0 for a split by track; for the report's
    segment-level ``train_test_split`` most test segments have siblings in training.

    Parameters
    ----------
    train_track_ids, test_track_ids : array-like of str
        The track id of every training / test segment.

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    test = np.asarray(test_track_ids).astype(str)
    if len(test) == 0:
        raise ValueError("leak_fraction needs at least one test segment")
    train = np.unique(np.asarray(train_track_ids).astype(str))
    return float(np.isin(test, train).mean())


__all__ = [
    "FEATURES_VERSION",
    "FeatureConfig",
    "FeatureSet",
    "cache_path",
    "clip_features",
    "extract_features",
    "extract_report_json",
    "leak_fraction",
    "load_report_json",
    "mel_power_frames",
    "segment_starts",
]
