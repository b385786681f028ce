"""From audio to features: segments, MFCC / log-mel extraction, the cached per-track loop, the report's JSON.

Shown in chapter *From audio to features* (``chapters/05_features.ipynb``): the chapter defines
:func:`segment_starts` and :func:`report_segment_mfccs` in ``#@save helpers.features`` cells.

Two ways to turn GTZAN clips into network inputs live here side by side:

* **The report's recipe** (:func:`report_segment_mfccs` for one track; :func:`extract_report_json`
  over a table, :func:`load_report_json`): ``librosa.load`` at 22050 Hz, cut the 30 s into 5
  segments, one ``librosa.feature.mfcc`` call per segment, drop the segments whose frame count is not
  the expected one, and dump everything to a JSON file ``{"mapping": [...], "labels": [...],
  "mfcc": [...]}``. The JSON keeps no track id, so a later split cannot keep a track's segments
  together.
* **The production path** (:func:`extract_features`): one spectrogram per track, sliced into
  segments (:func:`clip_features`); tracks in parallel and cached by the one per-track loop of the
  package (:func:`map_tracks` + :func:`cached_arrays`, also used by :mod:`helpers.descriptors`);
  compact ``float32`` arrays (``.npz``, no pickle) keyed by the parameters and the audio files; and
  the track id of every segment kept in a :class:`FeatureSet`, so that splits and voting work by
  track.

Segments of the production path start on a frame boundary
-------------------------------------------------------------
The report cuts segment ``s`` at sample ``s * segment_samples`` (132,300 samples = 6 s for 5
segments). That is not a multiple of ``hop_length`` (132,300 = 258 × 512 + 204), so the frames of
a spectrogram of the whole clip do not line up with the frames of a per-segment spectrogram.
:func:`segment_starts` therefore starts segment ``s`` at frame ``floor(s * segment_samples /
hop_length)`` of the whole-clip spectrogram, i.e. at most ``hop_length - 1`` samples (23 ms)
earlier than the report's cut, and :func:`clip_features` takes ``frames_per_segment`` frames from
there. What matches exactly (and is tested in ``tests/test_features.py``):

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
With chapter 3's steps from :mod:`helpers.mfcc` — :func:`~helpers.mfcc.hann_window`,
:func:`~helpers.mfcc.mel_filterbank`, :func:`~helpers.mfcc.power_to_db`,
:func:`~helpers.mfcc.dct_matrix` — built once per parameter set; :func:`mel_power_frames` only
does chapter 3's framing and FFT faster: in float32, in blocks of frames small enough to stay in
the CPU cache, with the filterbank as a sparse matrix (each mel filter touches a few FFT bins).
The numbers are librosa's within float32 rounding (tested). :func:`extract_features` limits the
BLAS library to one thread per worker, so that parallel workers do not over-subscribe the cores.

Damaged caches
--------------
A cache file that cannot be read back (truncated, overwritten, a bad CRC) is reported in a
warning that names it, deleted and recomputed; temporary files left by a killed save are removed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import GENRES, SAMPLE_RATE, cache_home
from helpers.errors import DataError, ParameterError
from helpers.files import atomic_path
from helpers.mfcc import check_positive, dct_matrix, hann_window, mel_filterbank, power_to_db

#: Bump when the extraction code changes in a way that changes the numbers (invalidates caches).
FEATURES_VERSION = 3

KINDS = ("mfcc", "logmel")

#: Bytes of windowed frames processed at once by :func:`mel_power_frames`.
_BLOCK_BYTES = 1 << 20

#: :func:`map_tracks` shows a progress bar by default from this many tracks on (short runs stay quiet).
PROGRESS_MIN_TRACKS = 200


def show_progress(progress: bool | None, n_tracks: int) -> bool:
    """Whether a loop over ``n_tracks`` tracks shows a progress bar.

    ``progress`` when given; ``None`` means only for long runs, from :data:`PROGRESS_MIN_TRACKS`
    tracks on: full GTZAN (1000 clips) shows its bars, mini GTZAN (100 clips) keeps the stored
    notebook outputs clean.
    """
    return n_tracks >= PROGRESS_MIN_TRACKS if progress is None else bool(progress)


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the feature extraction (chapter *From audio to features*).

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clips are loaded at (GTZAN's own: ``config.SAMPLE_RATE``).
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

    sr: int = SAMPLE_RATE
    n_segments: int = 5
    track_seconds: float = 30.0
    kind: str = "mfcc"
    n_mfcc: int = 13
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError(f"FeatureConfig.kind={self.kind!r} must be one of {KINDS}")
        for name in ("sr", "n_segments", "n_mfcc", "n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ParameterError(f"FeatureConfig.{name}={value!r} must be a positive integer")
        if self.track_seconds <= 0:
            raise ParameterError(f"FeatureConfig.track_seconds={self.track_seconds!r} must be positive")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc={self.n_mfcc} cannot exceed n_mels={self.n_mels}")
        if self.segment_samples < self.n_fft:
            raise ParameterError(
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
# The report's recipe, one track (shown in chapter 5)
# ---------------------------------------------------------------------------------------------


def report_segment_mfccs(signal: np.ndarray, sr: int = SAMPLE_RATE, n_segments: int = 5, n_mfcc: int = 13,
                         n_fft: int = 2048, hop_length: int = 512,
                         track_seconds: float = 30.0) -> dict[int, np.ndarray]:
    """The report's MFCCs of one track: ``{segment number: (frames, n_mfcc) array}`` of the kept segments.

    Shown in chapter *From audio to features* (``chapters/05_features.ipynb``). Cut the signal into
    ``n_segments`` segments of ``int(sr * track_seconds / n_segments)`` samples, call
    ``librosa.feature.mfcc`` on each, transpose to frames × coefficients, and keep a segment only if
    it has the expected ``ceil(samples_per_segment / hop_length)`` frames (a short clip loses its
    last segments).
    """
    import librosa

    check_positive(sr=sr, n_segments=n_segments, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
    samples_per_segment = int(sr * track_seconds / n_segments)
    if samples_per_segment < n_fft:
        raise ParameterError(f"segments of {samples_per_segment} samples are shorter than n_fft={n_fft}")
    expected_frames = math.ceil(samples_per_segment / hop_length)
    kept = {}
    for d in range(n_segments):
        start = samples_per_segment * d
        mfcc = librosa.feature.mfcc(y=signal[start:start + samples_per_segment], sr=sr, n_mfcc=n_mfcc,
                                    n_fft=n_fft, hop_length=hop_length).T
        if len(mfcc) == expected_frames:
            kept[d] = mfcc
    return kept


# ---------------------------------------------------------------------------------------------
# The production path, one clip
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _analysis_constants(sr: int, n_fft: int, n_mels: int, n_mfcc: int):
    """Chapter 3's window, mel filterbank (as a sparse float32 matrix) and DCT, built once per parameter set."""
    import scipy.sparse

    window = hann_window(n_fft).astype(np.float32)
    # Each mel filter is non-zero over a few FFT bins only: a sparse product is ~50x less work.
    mel = scipy.sparse.csr_matrix(mel_filterbank(sr, n_fft, n_mels).astype(np.float32))
    dct = dct_matrix(min(n_mfcc, n_mels), n_mels).astype(np.float32)
    return window, mel, np.ascontiguousarray(dct.T)  # dct.T: (n_mels, n_mfcc)


def mel_power_frames(y: np.ndarray, config: FeatureConfig, n_frames: int) -> np.ndarray:
    """Mel power spectrogram of the first ``n_frames`` frames of a signal, time along axis 0.

    Explained in chapter *From audio to features*. Chapter 3's
    ``mel_filterbank(sr, n_fft, n_mels) @ power_spectrogram(frame_signal(y), hann_window(n_fft))``,
    transposed to ``(n_frames, n_mels)`` float32 — the same numbers as
    ``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length).T[:n_frames]``
    within float32 rounding — computed in float32, in blocks of contiguous frames, with the
    filterbank as a sparse matrix. Frame ``k`` is centred on sample ``k * hop_length``;
    ``n_frames`` is at most ``1 + len(y) // hop_length``.
    """
    import scipy.fft

    window, mel, _ = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
    half = config.n_fft // 2
    if n_frames > 1 + len(y) // config.hop_length:
        raise ParameterError(f"a signal of {len(y)} samples has fewer than {n_frames} frames")
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
    """First frame (of the whole-clip spectrogram) of every whole segment a signal of ``n_samples`` holds.

    Shown in chapter *From audio to features* (``chapters/05_features.ipynb``): segment ``s`` starts
    at frame ``floor(s * segment_samples / hop_length)`` and is kept when the signal holds all its
    samples; at most ``max_segments`` segments (default ``config.n_segments``).
    """
    limit = config.n_segments if max_segments is None else max_segments
    if n_samples < 0 or limit < 0:
        raise ParameterError(f"need n_samples >= 0 and max_segments >= 0, got {n_samples} and {limit}")
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
        raise ParameterError(f"clip_features needs a mono signal of shape (n,), got shape {y.shape}")
    y = y.astype(np.float32, copy=False)
    starts = segment_starts(len(y), config, max_segments)
    frames = config.frames_per_segment
    out = np.empty((len(starts), frames, config.n_features), dtype=np.float32)
    if len(starts) == 0:
        return out
    # One mel spectrogram for everything the segments need; decibels (with their 80 dB floor)
    # and the DCT per segment, as a per-segment call does.
    mel = mel_power_frames(y, config, int(starts[-1]) + frames)
    _, _, dct = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
    for i, start in enumerate(starts):
        segment = power_to_db(mel[start : start + frames])
        out[i] = segment @ dct if config.kind == "mfcc" else segment
    return out


# ---------------------------------------------------------------------------------------------
# The one per-track loop (parallel, with a progress bar) and its cache
# ---------------------------------------------------------------------------------------------


def map_tracks(job: Callable, paths: Sequence, n_jobs: int = -1, backend: str = "threading",
               progress: bool | None = None, desc: str = "tracks") -> list:
    """``[job(path) for path in paths]``, tracks in parallel (joblib), in order, with a progress bar.

    The per-track loop of :func:`extract_features`, :func:`helpers.descriptors.extract_descriptors`
    (and any other per-track extraction). The BLAS library is limited to one thread per worker,
    so that ``n_jobs`` workers do not over-subscribe the cores.

    Parameters
    ----------
    job : callable
        Called once per path; must be picklable for ``backend='loky'``.
    paths : sequence
    n_jobs : int
        Parallel workers (``-1``: one per CPU core; 1: a plain loop).
    backend : str
        joblib backend. ``'threading'`` (default) starts instantly; FFTs, matrix products and
        decoding release the GIL, so threads run them in parallel. ``'loky'`` uses processes.
    progress : bool or None
        Show a tqdm bar (updated at most every 2 s and cleared at the end, so that a stored
        notebook output keeps no trace of it). ``None``: only for long runs, from
        :data:`PROGRESS_MIN_TRACKS` tracks on.
    desc : str
        The progress bar's label.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs must be -1 or a positive whole number, got {n_jobs!r}")
    paths = list(paths)
    show = show_progress(progress, len(paths))
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs == 1:
            results = (job(path) for path in paths)
        else:
            results = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")(
                delayed(job)(path) for path in paths)
        if show:
            results = tqdm(results, total=len(paths), desc=desc, unit="track", mininterval=2.0, leave=False)
        return list(results)


def write_cache(path, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to ``path`` (``.npz``, no pickle) atomically: a temporary file, then a rename.

    A reader sees either the old file or the complete new one, never a half-written one; the
    temporary file is removed if the write fails.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def read_cache(path, required: Sequence[str] = ()) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file written by :func:`write_cache`, or None if it is missing or damaged.

    A damaged file (truncated, overwritten, a bad CRC, not a ``.npz``, lacking one of the
    ``required`` arrays) is reported in a warning that names it and deleted, so that the caller
    recomputes it.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        missing = set(required) - set(arrays)
        if missing:
            raise KeyError(f"no array(s) {sorted(missing)}")
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as error:
        warnings.warn(f"cache file {path} is damaged ({type(error).__name__}: {error}); "
                      "deleting and recomputing it", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    return arrays


def cached_arrays(path, compute: Callable[[], dict[str, np.ndarray]],
                  required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Named arrays read from the cache file ``path``, or ``compute()``\\ d and written there.

    ``path=None`` means no cache. A damaged cache file is named in a warning and recomputed
    (:func:`read_cache`); leftovers of a killed save are removed (:func:`write_cache`).
    """
    if path is None:
        return compute()
    stored = read_cache(path, required)
    if stored is not None:
        return stored
    arrays = compute()
    write_cache(path, arrays)
    return arrays


# ---------------------------------------------------------------------------------------------
# Many clips: FeatureSet, extraction
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

        Works with :mod:`helpers.splits` (``track_train_test_split``, ``track_folds``,
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
            raise ParameterError(f"boolean mask of shape {rows.shape} for {len(self)} rows")
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


def files_fingerprint(paths, *extra) -> str:
    """Hash of every file's path, size and modification time (and of the ``extra`` columns, row by row).

    Part of every cache file name, so that touching, replacing or removing a file means a new entry.
    """
    digest = hashlib.sha1()
    for path, *rest in zip(paths, *extra, strict=True):
        try:
            stat = os.stat(path)
            state = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            state = "missing"
        digest.update("|".join(map(str, [path, *rest, state])).encode() + b"\n")
    return digest.hexdigest()[:16]


def cache_path(table: pd.DataFrame, config: FeatureConfig, cache_dir=None, check: bool = True) -> Path:
    """Where :func:`extract_features` caches the features of ``table`` under ``config``.

    Explained in chapter *From audio to features*. The name combines the flavour,
    :meth:`FeatureConfig.key` and a fingerprint of the audio files (paths, sizes, modification
    times), so changing a parameter or touching a file means a new cache entry.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_home() / "features"
    flavour = table.attrs.get("flavour", "unknown")
    strict = "" if check else "-unchecked"
    fingerprint = files_fingerprint(table["path"], table["track_id"], table["label"])
    return folder / f"{flavour}-{config.kind}-{config.key()}-{fingerprint}{strict}.npz"


_FEATURE_ARRAYS = ("X", "labels", "track_ids", "segments", "genres", "skipped", "flavour", "config")


def _feature_arrays(features: FeatureSet) -> dict[str, np.ndarray]:
    """A FeatureSet as named plain arrays (what the cache stores; no pickle)."""
    return {
        "X": features.X.astype(np.float32, copy=False),
        "labels": features.labels.astype(np.int64),
        "track_ids": features.track_ids.astype(str),
        "segments": features.segments.astype(np.int64),
        "genres": np.asarray(features.genres, dtype=str),
        "skipped": np.asarray(features.skipped, dtype=str),
        "flavour": np.asarray(features.flavour),
        "config": np.asarray(json.dumps(asdict(features.config), sort_keys=True)),
    }


def _feature_set(arrays: dict[str, np.ndarray]) -> FeatureSet:
    """The FeatureSet of :func:`_feature_arrays`' arrays."""
    return FeatureSet(
        X=arrays["X"],
        labels=arrays["labels"],
        track_ids=arrays["track_ids"],
        segments=arrays["segments"],
        genres=tuple(str(g) for g in arrays["genres"]),
        config=FeatureConfig(**json.loads(str(arrays["config"]))),
        flavour=str(arrays["flavour"]),
        skipped=[str(s) for s in arrays["skipped"]],
    )


def extract_features(
    table: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen dataclass, safe default
    n_jobs: int = -1,
    cache: bool = True,
    progress: bool | None = None,
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
    n_jobs, backend, progress
        The per-track loop's workers, joblib backend and progress bar (:func:`map_tracks`;
        ``progress=None`` shows a bar only for long runs).
    cache : bool
        Read/write the ``.npz`` cache (see :func:`cache_path`); a second call with the same table,
        files and config loads in well under a second. A damaged cache file is named in a
        warning and recomputed.
    max_segments : int, optional
        Segments per track (default ``config.n_segments``).
    cache_dir : path, optional
        Cache folder (default ``cache_home()/features``).
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
    missing = {"path", "label", "track_id"} - set(table.columns)
    if missing:
        raise DataError(f"clip table lacks column(s) {sorted(missing)}")
    if max_segments is not None and max_segments != config.n_segments:
        cache_file = None  # unusual request: do not cache
    else:
        cache_file = cache_path(table, config, cache_dir, check) if cache else None

    def compute() -> dict[str, np.ndarray]:
        paths = table["path"].astype(str).tolist()
        results = map_tracks(lambda path: _track_job(path, config, max_segments, check), paths,
                             n_jobs=n_jobs, backend=backend, progress=progress, desc=f"{config.kind} features")
        blocks, labels, track_ids, segments, skipped = [], [], [], [], []
        for (feats, reason), label, track in zip(results, table["label"], table["track_id"], strict=True):
            if feats is None:
                skipped.append(reason)
                continue
            blocks.append(feats)
            labels.append(np.full(len(feats), int(label), dtype=np.int64))
            track_ids.append(np.full(len(feats), str(track)))
            segments.append(np.arange(len(feats), dtype=np.int64))
        if skipped:
            warnings.warn(f"skipped {len(skipped)} of {len(paths)} clips:\n  " + "\n  ".join(skipped),
                          stacklevel=4)
        empty = np.empty((0, config.frames_per_segment, config.n_features), dtype=np.float32)
        return _feature_arrays(FeatureSet(
            X=np.concatenate(blocks) if blocks else empty,
            labels=np.concatenate(labels) if labels else np.empty(0, dtype=np.int64),
            track_ids=np.concatenate(track_ids) if track_ids else np.empty(0, dtype=str),
            segments=np.concatenate(segments) if segments else np.empty(0, dtype=np.int64),
            genres=tuple(GENRES),
            config=config,
            flavour=table.attrs.get("flavour", "unknown"),
            skipped=skipped,
        ))

    return _feature_set(cached_arrays(cache_file, compute, required=_FEATURE_ARRAYS))


# ---------------------------------------------------------------------------------------------
# The report's recipe over a table, and its JSON format
# ---------------------------------------------------------------------------------------------


def extract_report_json(
    table: pd.DataFrame,
    json_path,
    n_segments: int = 5,
    n_mfcc: int = 13,
    n_fft: int = 2048,
    hop_length: int = 512,
    sr: int = SAMPLE_RATE,
    track_seconds: float = 30.0,
    progress: bool = True,
) -> pd.DataFrame:
    """The report's feature extraction (:func:`report_segment_mfccs` per track), written to its JSON format.

    Explained in chapter *From audio to features*. For every track (sequentially, as the report
    did): ``librosa.load(path, sr=sr)``, then :func:`report_segment_mfccs`. The JSON is
    ``{"mapping": [genre names], "labels": [int per segment], "mfcc": [segment × frames × n_mfcc]}``.

    Parameters
    ----------
    table : pandas.DataFrame
        Clip table (``path``, ``label``, ``track_id``, ``genre``).
    json_path : path
        Where to write the JSON (written atomically).
    n_segments, n_mfcc, n_fft, hop_length, sr, track_seconds
        The report's parameters (defaults: 5, 13, 2048, 512, ``config.SAMPLE_RATE``, 30).
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

    data = {"mapping": list(GENRES), "labels": [], "mfcc": []}
    rows, dropped = [], []
    iterator = table.itertuples(index=False)
    if progress:
        iterator = tqdm(iterator, total=len(table), desc="report recipe", unit="clip", mininterval=2.0, leave=False)
    for clip in iterator:
        try:
            signal, _ = librosa.load(clip.path, sr=sr)
        except Exception as error:  # noqa: BLE001 - the report's loop would crash here; we say why
            raise DataError(f"{clip.path}: cannot be decoded ({error})") from error
        kept = report_segment_mfccs(signal, sr, n_segments, n_mfcc, n_fft, hop_length, track_seconds)
        for d in range(n_segments):
            if d in kept:
                data["mfcc"].append(kept[d].tolist())
                data["labels"].append(int(clip.label))
                rows.append((clip.track_id, clip.genre, int(clip.label), d))
            else:
                dropped.append(f"{clip.track_id}#{d}")
    with atomic_path(json_path) as tmp, open(tmp, "w") as handle:
        json.dump(data, handle)
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


__all__ = [
    "FEATURES_VERSION",
    "FeatureConfig",
    "FeatureSet",
    "cache_path",
    "cached_arrays",
    "clip_features",
    "extract_features",
    "extract_report_json",
    "files_fingerprint",
    "load_report_json",
    "map_tracks",
    "mel_power_frames",
    "read_cache",
    "report_segment_mfccs",
    "segment_starts",
    "write_cache",
]
