"""MFCCs from scratch in NumPy, one small function per step.

Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``).

The pipeline reproduces ``librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13)`` with librosa's
defaults (``n_fft=2048``, ``hop_length=512``, ``n_mels=128``, centred frames padded with
zeros, a periodic Hann window, the power spectrum, the Slaney-style mel filterbank with
``htk=False, norm='slaney'``, ``power_to_db(ref=1.0, amin=1e-10, top_db=80)`` and an orthonormal
DCT-II)::

    frames = frame_signal(y)                    # (n_fft, n_frames)
    power = power_spectrogram(frames)           # (1 + n_fft // 2, n_frames)
    mel = mel_filterbank(sr) @ power            # (n_mels, n_frames)
    log_mel = power_to_db(mel)                  # dB
    mfccs = dct_matrix(13, n_mels) @ log_mel    # (13, n_frames)

On float64 input the result agrees with librosa to about 1e-6 (measured maximum absolute
difference, in the dB-like units of MFCCs whose values reach the hundreds); the stated tolerance,
asserted by ``tests/test_mfcc.py`` and printed by the chapter, is 1e-4. The remaining difference
comes from librosa storing its mel filterbank in float32. On the float32 samples ``librosa.load``
returns, librosa computes in single precision and the difference grows to about 1e-4 (tested < 1e-3).
"""

from __future__ import annotations

import numpy as np

from helpers.config import SAMPLE_RATE
from helpers.errors import DataError

#: librosa's defaults, which the report used too.
N_FFT: int = 2048
HOP_LENGTH: int = 512
N_MELS: int = 128
N_MFCC: int = 13

# Slaney's mel scale: linear below 1000 Hz (3 mels per 200 Hz), logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mels
_LOGSTEP = np.log(6.4) / 27.0


def _check_signal(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"expected a 1-D mono signal, got an array of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise DataError(f"expected floating-point samples, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise DataError("the signal contains NaN or infinite samples")
    return y


def frame_signal(y: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, center: bool = True) -> np.ndarray:
    """Cut a signal into overlapping frames, as ``librosa.stft`` does.

    Explained in chapter *Spectrograms and MFCCs* (frames and hops).

    With ``center=True`` (librosa's default) the signal is first padded with ``n_fft // 2`` zeros
    on both sides, so that frame ``t`` is centred on sample ``t * hop_length``; there are then
    ``1 + len(y) // hop_length`` frames.

    Parameters
    ----------
    y : numpy.ndarray
        1-D floating-point signal.
    n_fft : int
        Frame length in samples.
    hop_length : int
        Samples between the starts of consecutive frames.
    center : bool
        Pad with zeros so that frames are centred on multiples of ``hop_length``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_fft, n_frames)``: one frame per column (a copy).

    Raises
    ------
    DataError
        If the signal is not 1-D floating point, or too short for one frame.
    """
    y = _check_signal(y)
    if n_fft < 1 or hop_length < 1:
        raise DataError(f"n_fft and hop_length must be positive, got {n_fft} and {hop_length}")
    if center:
        y = np.pad(y, n_fft // 2, mode="constant")
    if y.size < n_fft:
        raise DataError(f"signal of {y.size} samples (after padding) is shorter than one frame of {n_fft}")
    n_frames = 1 + (y.size - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length][:n_frames]
    return np.ascontiguousarray(frames.T)


def hann_window(n: int) -> np.ndarray:
    """The periodic Hann window ``0.5 − 0.5 cos(2π k / n)``, ``k = 0 … n−1``.

    Explained in chapter *Spectrograms and MFCCs* (windows and leakage). "Periodic" (rather than
    ``numpy.hanning``'s symmetric version) is what ``scipy.signal.get_window('hann', n)`` and so
    librosa use for spectral analysis.
    """
    if n < 1:
        raise DataError(f"window length must be positive, got {n}")
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def power_spectrogram(frames: np.ndarray, window: np.ndarray | None = None) -> np.ndarray:
    """Window each frame, take its real FFT and return ``|X|²``.

    Explained in chapter *Spectrograms and MFCCs*.

    Parameters
    ----------
    frames : numpy.ndarray
        Shape ``(n_fft, n_frames)`` from :func:`frame_signal`.
    window : numpy.ndarray, optional
        Length-``n_fft`` window; default :func:`hann_window`.

    Returns
    -------
    numpy.ndarray
        Shape ``(1 + n_fft // 2, n_frames)``: power per frequency bin (rows) and frame (columns).
    """
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise DataError(f"frames must be a 2-D (n_fft, n_frames) array, got shape {frames.shape}")
    if window is None:
        window = hann_window(frames.shape[0])
    if window.shape != (frames.shape[0],):
        raise DataError(f"window of length {window.shape} does not match frames of length {frames.shape[0]}")
    spectrum = np.fft.rfft(frames * window[:, None], axis=0)
    return spectrum.real**2 + spectrum.imag**2


def hz_to_mel(freqs):
    """Hertz to mels on Slaney's scale (librosa's default, ``htk=False``).

    Explained in chapter *Spectrograms and MFCCs* (the mel scale): linear below 1000 Hz
    (``f / (200/3)``, so 1000 Hz = 15 mels), logarithmic above (27 mels per factor 6.4).
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    mels = freqs / _F_SP
    high = freqs >= _MIN_LOG_HZ
    return np.where(high, _MIN_LOG_MEL + np.log(np.maximum(freqs, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels):
    """Mels on Slaney's scale back to Hertz; the inverse of :func:`hz_to_mel` (chapter 3)."""
    mels = np.asarray(mels, dtype=np.float64)
    freqs = _F_SP * mels
    high = mels >= _MIN_LOG_MEL
    return np.where(high, _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mels, _MIN_LOG_MEL) - _MIN_LOG_MEL)), freqs)


def mel_filterbank(
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Triangular mel filters with Slaney area normalisation (librosa's ``filters.mel`` default).

    Explained in chapter *Spectrograms and MFCCs* (the mel filterbank).

    ``n_mels + 2`` points equally spaced in mels between ``fmin`` and ``fmax`` are the feet and
    peaks of ``n_mels`` overlapping triangles; each triangle rises linearly (in Hz) from its left
    point to 1 at its centre and falls to 0 at its right point, and is then scaled by
    ``2 / (right − left)`` so that every filter has the same area (``norm='slaney'``).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT length; the filters act on ``1 + n_fft // 2`` bins.
    n_mels : int
        Number of filters.
    fmin, fmax : float
        Lowest and highest frequency in Hz (default ``fmax = sr / 2``).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mels, 1 + n_fft // 2)``, float64.
    """
    if fmax is None:
        fmax = sr / 2.0
    if not 0 <= fmin < fmax <= sr / 2.0:
        raise DataError(f"need 0 <= fmin < fmax <= sr/2 = {sr / 2}, got fmin={fmin}, fmax={fmax}")
    if n_mels < 1 or n_fft < 2:
        raise DataError(f"need n_mels >= 1 and n_fft >= 2, got {n_mels} and {n_fft}")
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights


def power_to_db(power: np.ndarray, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Power to decibels, ``10 log10(max(amin, S) / ref)``, floored ``top_db`` below the maximum.

    Explained in chapter *Spectrograms and MFCCs* (why a log scale). Same conventions as
    ``librosa.power_to_db``: the floor applies to the whole array's maximum.
    """
    if amin <= 0:
        raise DataError(f"amin must be > 0, got {amin}")
    if top_db is not None and top_db < 0:
        raise DataError(f"top_db must be >= 0, got {top_db}")
    power = np.asarray(power)
    log_spec = 10.0 * np.log10(np.maximum(amin, power)) - 10.0 * np.log10(max(amin, abs(ref)))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix: ``dct_matrix(n, m) @ x`` = first ``n`` coefficients.

    Explained in chapter *Spectrograms and MFCCs* (from log-mel to cepstrum). Row ``k`` is
    ``sqrt(2/m) cos(π k (2j + 1) / (2m))`` for ``j = 0 … m−1``, with row 0 scaled by
    ``1/sqrt(2)``; this equals ``scipy.fft.dct(x, type=2, norm='ortho')[:n]``.
    """
    if not 1 <= n_out <= n_in:
        raise DataError(f"need 1 <= n_out <= n_in, got n_out={n_out}, n_in={n_in}")
    k = np.arange(n_out)[:, None]
    j = np.arange(n_in)[None, :]
    basis = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * j + 1) / (2 * n_in))
    basis[0] /= np.sqrt(2.0)
    return basis


def log_mel_spectrogram(
    y: np.ndarray,
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
) -> np.ndarray:
    """Frames → Hann → FFT → power → mel filterbank → dB (chapter *Spectrograms and MFCCs*).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mels, 1 + len(y) // hop_length)``, in dB relative to power 1.0.
    """
    power = power_spectrogram(frame_signal(y, n_fft, hop_length))
    return power_to_db(mel_filterbank(sr, n_fft, n_mels) @ power)


def lifter(mfccs: np.ndarray, coefficient: int) -> np.ndarray:
    """Sinusoidal liftering, ``c_k · (1 + L/2 · sin(π k / L))`` for ``k = 1 … n`` (librosa's convention).

    Explained in chapter *Spectrograms and MFCCs*: it boosts the higher coefficients, whose
    values are otherwise small, so that all of them weigh in a distance; ``coefficient = 0`` does
    nothing.
    """
    if coefficient < 0:
        raise DataError(f"lifter coefficient must be >= 0, got {coefficient}")
    if coefficient == 0:
        return np.asarray(mfccs).copy()
    k = np.arange(1, mfccs.shape[0] + 1)
    return mfccs * (1.0 + coefficient / 2.0 * np.sin(np.pi * k / coefficient))[:, None]


def mfcc(
    y: np.ndarray,
    sr: int = SAMPLE_RATE,
    n_mfcc: int = N_MFCC,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    lifter_coefficient: int = 0,
) -> np.ndarray:
    """MFCCs from scratch; matches ``librosa.feature.mfcc`` with the same arguments.

    Explained in chapter *Spectrograms and MFCCs*: :func:`log_mel_spectrogram`, then the first
    ``n_mfcc`` rows of an orthonormal DCT-II (:func:`dct_matrix`), then optional :func:`lifter`.

    Parameters
    ----------
    y : numpy.ndarray
        1-D floating-point signal (use float64 for the closest match).
    sr, n_fft, hop_length, n_mels
        As in librosa (defaults 22050, 2048, 512, 128).
    n_mfcc : int
        Number of coefficients kept.
    lifter_coefficient : int
        Liftering parameter ``L`` (0 = none, librosa's default).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mfcc, 1 + len(y) // hop_length)``.
    """
    log_mel = log_mel_spectrogram(y, sr, n_fft, hop_length, n_mels)
    return lifter(dct_matrix(n_mfcc, n_mels) @ log_mel, lifter_coefficient)


def delta(features: np.ndarray, width: int = 9) -> np.ndarray:
    """First-order delta (local slope over time) of a ``(n_coefficients, n_frames)`` array.

    Explained in chapter *Spectrograms and MFCCs* (delta MFCCs). The classic regression formula
    ``d_t = Σ_{n=1..N} n (c_{t+n} − c_{t−n}) / (2 Σ n²)`` with ``N = width // 2``; in the first and
    last ``N`` frames the slope of the first/last full window is used. This is exactly what
    ``librosa.feature.delta(features, width=width)`` (a Savitzky–Golay filter, ``mode='interp'``)
    computes.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise DataError(f"features must be a 2-D (n_coefficients, n_frames) array, got shape {features.shape}")
    if width < 3 or width % 2 != 1:
        raise DataError(f"width must be an odd integer >= 3, got {width}")
    if features.shape[1] < width:
        raise DataError(f"need at least width={width} frames, got {features.shape[1]}")
    half = width // 2
    n = np.arange(-half, half + 1)
    weights = n / np.sum(n**2)
    windows = np.lib.stride_tricks.sliding_window_view(features, width, axis=1)
    inner = windows @ weights  # (n_coefficients, n_frames - 2 * half)
    return np.concatenate(
        [np.repeat(inner[:, :1], half, axis=1), inner, np.repeat(inner[:, -1:], half, axis=1)], axis=1
    )


def standardize(
    features: np.ndarray,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-coefficient standardisation: subtract each row's mean, divide by its standard deviation.

    Explained in chapter *Spectrograms and MFCCs* (why networks need standardized inputs): MFCC 0
    takes values in the hundreds while MFCC 12 stays within about ±20, so without it one coefficient
    dominates.
    Compute ``mean``/``std`` on the **training** data only and pass them in for validation and test.

    Parameters
    ----------
    features : numpy.ndarray
        Shape ``(n_coefficients, n_frames)`` (or ``(..., n_coefficients, n_frames)``, statistics
        are then taken over all leading axes and frames).
    mean, std : numpy.ndarray, optional
        Statistics from the training data, shape ``(n_coefficients,)``; computed from
        ``features`` when omitted.
    eps : float
        Added to ``std`` so that a constant coefficient does not divide by zero.

    Returns
    -------
    standardized : numpy.ndarray
    mean, std : numpy.ndarray
        The statistics used, shape ``(n_coefficients,)``.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim < 2:
        raise DataError(f"features must have a coefficient and a frame axis, got shape {features.shape}")
    axes = tuple(i for i in range(features.ndim) if i != features.ndim - 2)
    if mean is None:
        mean = features.mean(axis=axes)
    if std is None:
        std = features.std(axis=axes)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    n_coef = features.shape[-2]
    if mean.shape != (n_coef,) or std.shape != (n_coef,):
        raise DataError(f"mean and std must have shape ({n_coef},), got {mean.shape} and {std.shape}")
    return (features - mean[:, None]) / (std[:, None] + eps), mean, std
