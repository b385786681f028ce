"""The feature maths of one clip: segments sliced from one whole-clip spectrogram.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``): the chapter defines
:func:`segment_starts` in a ``#@save`` cell. It needs NumPy only (no pandas; SciPy's FFT and sparse
product when installed), so that the CNN's prediction path (:mod:`helpers.predict`) runs in the base
install.

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
does chapter 3's framing and FFT faster: in blocks of frames small enough to stay in the CPU
cache, with each mel filter applied only to the few FFT bins it touches. With SciPy installed (the
chapters' install) the FFT and the filterbank product are SciPy's, in float32, as the book always
computed them; without it (the base install) NumPy's FFT in float64 and one small product per mel
filter: NumPy 2.4's float32 FFT measured about 3x slower than SciPy's here, its float64 FFT about
2x. The numbers are librosa's within float32 rounding either way (tested).
:func:`~helpers.features.extract.extract_features` limits the BLAS library to one thread per
worker, so that parallel workers do not over-subscribe the cores.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from helpers.errors import ParameterError
from helpers.features.config import FeatureConfig
from helpers.mfcc import dct_matrix, hann_window, mel_filterbank, power_to_db

#: Bytes of windowed frames processed at once by :func:`mel_power_frames`.
_BLOCK_BYTES = 1 << 20


class _BandProduct:
    """``power @ filterbank.T`` with each mel filter applied only to the FFT bins it touches.

    Each mel filter is non-zero over one run of a few FFT bins: one small product per filter does
    ~50x less work than the dense matrix product, with NumPy alone (the base install's path).
    """

    def __init__(self, filterbank: np.ndarray):
        self.n_mels = len(filterbank)
        self.bands = []
        for m, row in enumerate(filterbank):
            touched = np.flatnonzero(row)
            if len(touched):
                first, last = int(touched[0]), int(touched[-1]) + 1
                self.bands.append((m, first, last, np.ascontiguousarray(row[first:last])))

    def __call__(self, power: np.ndarray) -> np.ndarray:
        out = np.zeros((len(power), self.n_mels), dtype=np.float32)
        for m, first, last, weights in self.bands:
            out[:, m] = power[:, first:last] @ weights
        return out


@lru_cache(maxsize=8)
def _analysis_constants(sr: int, n_fft: int, n_mels: int, n_mfcc: int):
    """Chapter 3's window, the FFT power and mel filterbank steps, and the DCT, built once per parameter set.

    Two implementations of the same two steps, chosen once: with SciPy installed (the chapters'
    install) SciPy's float32 FFT and sparse filterbank, as the book has always computed them (NumPy
    2.4's float32 FFT takes about 3x as long); without it (the base install's prediction path) NumPy's
    FFT in float64 and :class:`_BandProduct`. Both give librosa's numbers within float32 rounding
    (tests/test_features.py compares the two).
    """
    window = hann_window(n_fft).astype(np.float32)
    filterbank = mel_filterbank(sr, n_fft, n_mels).astype(np.float32)
    dct = dct_matrix(min(n_mfcc, n_mels), n_mels).astype(np.float32)
    try:
        import scipy.fft
        import scipy.sparse
    except ImportError:
        def power(windowed):
            spectrum = np.fft.rfft(windowed.astype(np.float64), axis=-1)
            return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)

        mel = _BandProduct(filterbank)
    else:
        def power(windowed):
            spectrum = scipy.fft.rfft(windowed, axis=-1)  # (frames, 1 + n_fft // 2) complex64
            return spectrum.real**2 + spectrum.imag**2

        sparse = scipy.sparse.csr_matrix(filterbank)

        def mel(power):
            return (sparse @ power.T).T
    return window, power, mel, np.ascontiguousarray(dct.T)  # dct.T: (n_mels, n_mfcc)


def mel_power_frames(y: np.ndarray, config: FeatureConfig, n_frames: int) -> np.ndarray:
    """Mel power spectrogram of the first ``n_frames`` frames of a signal, time along axis 0.

    Explained in chapter *From audio to features*. Chapter 3's
    ``mel_filterbank(sr, n_fft, n_mels) @ power_spectrogram(frame_signal(y), hann_window(n_fft))``,
    transposed to ``(n_frames, n_mels)`` float32 — the same numbers as
    ``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length).T[:n_frames]``
    within float32 rounding — computed in blocks of contiguous frames, each mel filter applied to
    the few FFT bins it touches (:func:`_analysis_constants`). Frame ``k`` is centred on sample
    ``k * hop_length``; ``n_frames`` is at most ``1 + len(y) // hop_length``.
    """
    window, power_of, mel_of, _ = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
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
        out[first : first + len(part)] = mel_of(power_of(windowed))
    return out


def segment_starts(n_samples: int, config: FeatureConfig, max_segments: int | None = None) -> np.ndarray:
    """First frame (of the whole-clip spectrogram) of every whole segment a signal of ``n_samples`` holds.

    Notebook: chapters/05_features.ipynb

    Explained in chapter *From audio to features* (``chapters/05_features.ipynb``): segment ``s`` starts
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
    _, _, _, dct = _analysis_constants(config.sr, config.n_fft, config.n_mels, config.n_mfcc)
    for i, start in enumerate(starts):
        segment = power_to_db(mel[start : start + frames])
        out[i] = segment @ dct if config.kind == "mfcc" else segment
    return out


__all__ = [
    "clip_features",
    "mel_power_frames",
    "segment_starts",
]
