"""MFCCs from scratch in NumPy, one small function per step.

Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``): every
step below is defined in a ``#@save helpers.mfcc`` cell of that chapter, byte for byte (docstrings
aside) the code here.

The pipeline reproduces ``librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13)`` with librosa's
defaults (``n_fft=2048``, ``hop_length=512``, ``n_mels=128``, centred frames padded with
zeros, a periodic Hann window, the power spectrum, the Slaney-style mel filterbank with
``htk=False, norm='slaney'``, ``power_to_db(ref=1.0, amin=1e-10, top_db=80)`` and an orthonormal
DCT-II)::

    frames = frame_signal(y)                           # (n_fft, n_frames)
    power = power_spectrogram(frames, hann_window(n_fft))  # (1 + n_fft // 2, n_frames)
    mel = mel_filterbank(sr) @ power                   # (n_mels, n_frames)
    log_mel = power_to_db(mel)                         # dB  (log_mel_spectrogram: all four)
    mfccs = dct_matrix(13, n_mels) @ log_mel           # (13, n_frames)  (mfcc)

On float64 input the result agrees with librosa to about 1e-6 (measured maximum absolute
difference, in the dB-like units of MFCCs whose values reach the hundreds); the stated tolerance,
asserted by ``tests/test_mfcc.py`` and printed by the chapter, is 1e-4. The remaining difference
comes from librosa storing its mel filterbank in float32. On the float32 samples ``librosa.load``
returns, librosa computes in single precision and the difference grows to about 1e-4 (tested < 1e-3).

Bad arguments (a 2-D or integer signal, NaN samples, a negative hop, ``fmax`` above Nyquist...)
raise :class:`helpers.errors.ParameterError`, as librosa does.
"""

from __future__ import annotations

import numpy as np

from helpers.config import SAMPLE_RATE
from helpers.errors import ParameterError

#: librosa's defaults, which the report used too.
N_FFT: int = 2048
HOP_LENGTH: int = 512
N_MELS: int = 128
N_MFCC: int = 13


def check_signal(y) -> np.ndarray:
    """``y`` as an array if it is a 1-D, floating-point, finite signal; else a ParameterError.

    Used by chapter *Spectrograms and MFCCs*'s steps (and by :mod:`helpers.features`).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"expected a 1-D mono signal, got an array of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"expected floating-point samples, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("the signal contains NaN or infinite samples")
    return y


def check_positive(**values) -> None:
    """Raise a ParameterError naming each argument that is not a positive whole number.

    Explained in chapter *Spectrograms and MFCCs*: the argument check of its functions (plumbing, not shown).
    """
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name} must be a positive whole number, got {value!r}")


def frame_signal(y: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, center: bool = True) -> np.ndarray:
    """Cut a signal into overlapping frames, as ``librosa.stft`` does: shape ``(n_fft, n_frames)``.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; frames
    and hops). With ``center=True`` (librosa's default) the signal is first padded with ``n_fft //
    2`` zeros on both sides, so that frame ``t`` is centred on sample ``t * hop_length``; there are
    then ``1 + len(y) // hop_length`` frames. Returns a copy, one frame per column.
    """
    y = check_signal(y)
    check_positive(n_fft=n_fft, hop_length=hop_length)
    if center:
        y = np.pad(y, n_fft // 2, mode="constant")
    if y.size < n_fft:
        raise ParameterError(f"signal of {y.size} samples (after padding) is shorter than one frame of {n_fft}")
    n_frames = 1 + (y.size - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length][:n_frames]
    return np.ascontiguousarray(frames.T)


def hann_window(n: int) -> np.ndarray:
    """The periodic Hann window ``0.5 − 0.5 cos(2π k / n)``, ``k = 0 … n−1``.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; windows
    and leakage). "Periodic" (rather than ``numpy.hanning``'s symmetric version) is what
    ``scipy.signal.get_window('hann', n)`` and so librosa use for spectral analysis.
    """
    check_positive(n=n)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def power_spectrogram(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Window each frame (a column), take its real FFT and return ``|X|²``.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``).
    ``frames`` has shape ``(n_fft, n_frames)`` (from :func:`frame_signal`), ``window`` length
    ``n_fft`` (e.g. :func:`hann_window`); the result has shape ``(1 + n_fft // 2, n_frames)``: power
    per frequency bin (rows) and frame (columns).
    """
    frames, window = np.asarray(frames), np.asarray(window)
    if frames.ndim != 2:
        raise ParameterError(f"frames must be a 2-D (n_fft, n_frames) array, got shape {frames.shape}")
    if window.shape != (frames.shape[0],):
        raise ParameterError(f"window of shape {window.shape} does not fit frames of length {frames.shape[0]}")
    spectrum = np.fft.rfft(frames * window[:, None], axis=0)
    return spectrum.real**2 + spectrum.imag**2


def hz_to_mel(freqs):
    """Hertz to mels on Slaney's scale (librosa's default, ``htk=False``).

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; the mel
    scale): linear below 1000 Hz (3 mels per 200 Hz, so 1000 Hz = 15 mels), logarithmic above (27
    mels per factor 6.4).
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    linear = freqs / (200.0 / 3.0)
    logarithmic = 15.0 + 27.0 * np.log(np.maximum(freqs, 1000.0) / 1000.0) / np.log(6.4)
    return np.where(freqs >= 1000.0, logarithmic, linear)


def mel_to_hz(mels):
    """Mels on Slaney's scale back to Hertz: the inverse of :func:`hz_to_mel`.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``).
    """
    mels = np.asarray(mels, dtype=np.float64)
    linear = mels * (200.0 / 3.0)
    logarithmic = 1000.0 * np.exp(np.log(6.4) / 27.0 * (np.maximum(mels, 15.0) - 15.0))
    return np.where(mels >= 15.0, logarithmic, linear)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters with Slaney area normalisation (librosa's ``filters.mel`` default).

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; the mel
    filterbank). ``n_mels + 2`` points equally spaced in mels between ``fmin`` and ``fmax`` (default
    ``sr / 2``) are the feet and peaks of ``n_mels`` overlapping triangles over the ``1 + n_fft //
    2`` FFT bins; each is scaled by ``2 / (right − left)`` so that every filter has the same area.
    Shape ``(n_mels, 1 + n_fft // 2)``.
    """
    check_positive(sr=sr, n_fft=n_fft, n_mels=n_mels)
    fmax = sr / 2.0 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sr / 2.0:
        raise ParameterError(f"need 0 <= fmin < fmax <= sr/2 = {sr / 2}, got fmin={fmin}, fmax={fmax}")
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    left, centre, right = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (fft_freqs - left) / (centre - left)
    falling = (right - fft_freqs) / (right - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * 2.0 / (right - left)


def power_to_db(power: np.ndarray, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Power to decibels, ``10 log10(max(amin, S) / ref)``, floored ``top_db`` below the maximum.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; why a
    log scale). Same conventions as ``librosa.power_to_db``: the floor applies to the whole array's
    maximum.
    """
    if amin <= 0:
        raise ParameterError(f"amin must be > 0, got {amin}")
    if top_db is not None and top_db < 0:
        raise ParameterError(f"top_db must be >= 0, got {top_db}")
    log_power = 10.0 * np.log10(np.maximum(amin, power)) - 10.0 * np.log10(max(amin, abs(ref)))
    if top_db is not None:
        log_power = np.maximum(log_power, log_power.max() - top_db)
    return log_power


def log_mel_spectrogram(y: np.ndarray, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
                        hop_length: int = HOP_LENGTH, n_mels: int = N_MELS) -> np.ndarray:
    """Frames → Hann window → FFT → power → mel filterbank → dB: shape ``(n_mels, 1 + len(y) // hop_length)``.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; the
    log-mel spectrogram).
    """
    power = power_spectrogram(frame_signal(y, n_fft, hop_length), hann_window(n_fft))
    return power_to_db(mel_filterbank(sr, n_fft, n_mels) @ power)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix: ``dct_matrix(n, m) @ x`` = first ``n`` coefficients.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``; from
    log-mel to cepstrum). Row ``k`` is ``sqrt(2/m) cos(π k (2j + 1) / (2m))`` for ``j = 0 … m−1``,
    with row 0 scaled by ``1/sqrt(2)``; this equals ``scipy.fft.dct(x, type=2, norm='ortho')[:n]``.
    """
    check_positive(n_out=n_out, n_in=n_in)
    if n_out > n_in:
        raise ParameterError(f"need n_out <= n_in, got n_out={n_out}, n_in={n_in}")
    k = np.arange(n_out)[:, None]
    j = np.arange(n_in)[None, :]
    basis = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * j + 1) / (2 * n_in))
    basis[0] /= np.sqrt(2.0)
    return basis


def mfcc(y: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = N_MFCC, n_fft: int = N_FFT,
         hop_length: int = HOP_LENGTH, n_mels: int = N_MELS) -> np.ndarray:
    """MFCCs from scratch, ``(n_mfcc, 1 + len(y) // hop_length)``; matches ``librosa.feature.mfcc``.

    Notebook: chapters/03_spectrograms_and_mfccs.ipynb

    Explained in chapter *Spectrograms and MFCCs* (``chapters/03_spectrograms_and_mfccs.ipynb``):
    :func:`log_mel_spectrogram`, then the first ``n_mfcc`` rows of an orthonormal DCT-II
    (:func:`dct_matrix`). Use float64 samples for the closest match.
    """
    return dct_matrix(n_mfcc, n_mels) @ log_mel_spectrogram(y, sr, n_fft, hop_length, n_mels)


def lifter(mfccs: np.ndarray, coefficient: int) -> np.ndarray:
    """Sinusoidal liftering, ``c_k · (1 + L/2 · sin(π k / L))`` for ``k = 1 … n`` (librosa's convention).

    Explained in chapter *Spectrograms and MFCCs*: it boosts the higher coefficients, whose
    values are otherwise small, so that all of them weigh in a distance; ``coefficient = 0`` does
    nothing.
    """
    if coefficient < 0:
        raise ParameterError(f"lifter coefficient must be >= 0, got {coefficient}")
    if coefficient == 0:
        return np.asarray(mfccs).copy()
    k = np.arange(1, mfccs.shape[0] + 1)
    return mfccs * (1.0 + coefficient / 2.0 * np.sin(np.pi * k / coefficient))[:, None]



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
        raise ParameterError(f"features must be a 2-D (n_coefficients, n_frames) array, got shape {features.shape}")
    if width < 3 or width % 2 != 1:
        raise ParameterError(f"width must be an odd integer >= 3, got {width}")
    if features.shape[1] < width:
        raise ParameterError(f"need at least width={width} frames, got {features.shape[1]}")
    half = width // 2
    n = np.arange(-half, half + 1)
    weights = n / np.sum(n**2)
    windows = np.lib.stride_tricks.sliding_window_view(features, width, axis=1)
    inner = windows @ weights  # (n_coefficients, n_frames - 2 * half)
    return np.concatenate(
        [np.repeat(inner[:, :1], half, axis=1), inner, np.repeat(inner[:, -1:], half, axis=1)], axis=1
    )


def standardize_with(X, mean, std) -> np.ndarray:
    """``(X - mean) / std`` over the last axis, in ``X``'s float type (an integer ``X`` becomes float64).

    The one step that applies standardisation statistics in the book: chapter *Spectrograms and
    MFCCs*' :func:`standardize`, the training data of chapter *A CNN on MFCCs*
    (:func:`helpers.training.apply_standardizer`, float32) and a model bundle's stored statistics
    in chapter *Beyond* (the CNN's MFCC statistics, the probe's scaler: :mod:`helpers.predict`,
    :mod:`helpers.engine`). Where the statistics come from (the fit rows only) and how they are
    checked is the caller's business.
    """
    X = np.asarray(X)
    X = X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)
    return (X - np.asarray(mean, dtype=X.dtype)) / np.asarray(std, dtype=X.dtype)


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
        raise ParameterError(f"features must have a coefficient and a frame axis, got shape {features.shape}")
    axes = tuple(i for i in range(features.ndim) if i != features.ndim - 2)
    if mean is None:
        mean = features.mean(axis=axes)
    if std is None:
        std = features.std(axis=axes)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    n_coef = features.shape[-2]
    if mean.shape != (n_coef,) or std.shape != (n_coef,):
        raise ParameterError(f"mean and std must have shape ({n_coef},), got {mean.shape} and {std.shape}")
    standardized = standardize_with(np.moveaxis(features, -2, -1), mean, std + eps)
    return np.moveaxis(standardized, -1, -2), mean, std
