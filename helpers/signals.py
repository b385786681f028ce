"""Small, pure test signals: sines, chords, noise, chirps, click tracks, aliasing and bit depth.

Explained in chapter *Sound and sampling* (``chapters/02_sound_and_sampling.ipynb``); chapter
*Spectrograms and MFCCs* reuses them as inputs whose spectra we can predict.

Every function returns a 1-D ``float64`` NumPy array sampled at ``sr`` Hz (GTZAN's 22050 Hz by
default), so that ``len(y) == round(duration * sr)``: the report's arithmetic, 22050 Hz × 30 s =
661,500 samples. Nothing here draws random numbers on its own: :func:`white_noise` takes a
``numpy.random.Generator`` made from :func:`helpers.set_seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.config import SAMPLE_RATE
from helpers.errors import ParameterError


def _check_rate_and_duration(duration: float, sr: int) -> int:
    """Return the number of samples of a signal ``duration`` seconds long at ``sr`` Hz."""
    if not np.isfinite(duration) or duration < 0:
        raise ParameterError(f"signal duration must be a finite number of seconds >= 0, got {duration!r}")
    if int(sr) != sr or sr <= 0:
        raise ParameterError(f"sample rate must be a positive whole number of Hz, got {sr!r}")
    return int(round(duration * sr))


def n_samples(duration: float, sr: int = SAMPLE_RATE) -> int:
    """Number of samples in ``duration`` seconds at ``sr`` Hz (chapter *Sound and sampling*).

    Parameters
    ----------
    duration : float
        Seconds (>= 0).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    int
        ``round(duration * sr)``; e.g. ``n_samples(30) == 661500`` at 22050 Hz.

    Raises
    ------
    ParameterError
        If ``duration`` is negative or not finite, or ``sr`` is not a positive whole number.
    """
    return _check_rate_and_duration(duration, sr)


def time_axis(duration: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Sample times in seconds, ``0, 1/sr, 2/sr, ...`` (chapter *Sound and sampling*).

    Returns
    -------
    numpy.ndarray
        ``n_samples(duration, sr)`` times in seconds.
    """
    return np.arange(_check_rate_and_duration(duration, sr)) / sr


def sine(
    freq: float,
    duration: float = 1.0,
    sr: int = SAMPLE_RATE,
    amplitude: float = 0.5,
    phase: float = 0.0,
) -> np.ndarray:
    """A pure tone ``amplitude * sin(2π f t + phase)`` (chapter *Sound and sampling*).

    Frequencies above the Nyquist frequency ``sr / 2`` are allowed on purpose: sampled without
    a low-pass filter they *alias* to :func:`alias_frequency` — the chapter plays and plots that.

    Parameters
    ----------
    freq : float
        Frequency in Hz (>= 0).
    duration : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    amplitude : float
        Peak amplitude (1.0 is full scale).
    phase : float
        Phase at ``t = 0`` in radians.

    Returns
    -------
    numpy.ndarray
        The tone, ``float64``, ``n_samples(duration, sr)`` samples.

    Raises
    ------
    ParameterError
        If ``freq`` is negative or not finite (or the duration/rate are invalid).
    """
    if not np.isfinite(freq) or freq < 0:
        raise ParameterError(f"frequency must be a finite number of Hz >= 0, got {freq!r}")
    t = time_axis(duration, sr)
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def chord(
    freqs: Sequence[float],
    duration: float = 1.0,
    sr: int = SAMPLE_RATE,
    amplitude: float = 0.5,
) -> np.ndarray:
    """The sum of equal-loudness sines, scaled to peak ``amplitude`` (chapter *Sound and sampling*).

    Parameters
    ----------
    freqs : sequence of float
        The notes' frequencies in Hz, e.g. A major ``(220.0, 277.18, 329.63)``.
    duration, sr, amplitude
        As in :func:`sine`; ``amplitude`` is the peak of the sum.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ParameterError
        If ``freqs`` is empty.
    """
    freqs = list(freqs)
    if not freqs:
        raise ParameterError("a chord needs at least one frequency")
    y = np.sum([sine(f, duration, sr, amplitude=1.0) for f in freqs], axis=0)
    peak = np.max(np.abs(y)) if y.size else 0.0
    return y * (amplitude / peak) if peak > 0 else y


def white_noise(
    duration: float,
    rng: np.random.Generator,
    sr: int = SAMPLE_RATE,
    amplitude: float = 0.1,
) -> np.ndarray:
    """Gaussian white noise with standard deviation ``amplitude`` (chapter *Sound and sampling*).

    Parameters
    ----------
    duration : float
        Seconds.
    rng : numpy.random.Generator
        The generator to draw from, e.g. ``np.random.default_rng(set_seed())``: seeds come
        only from :func:`helpers.set_seed`.
    sr : int
        Sample rate in Hz.
    amplitude : float
        Standard deviation of the samples.

    Returns
    -------
    numpy.ndarray
    """
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng must be a numpy.random.Generator (from helpers.set_seed), got {type(rng).__name__}")
    return amplitude * rng.standard_normal(_check_rate_and_duration(duration, sr))


def chirp(
    f0: float,
    f1: float,
    duration: float = 1.0,
    sr: int = SAMPLE_RATE,
    amplitude: float = 0.5,
) -> np.ndarray:
    """A linear sweep from ``f0`` to ``f1`` Hz (chapter *Sound and sampling*).

    The instantaneous frequency is ``f0 + (f1 - f0) t / duration``; the phase is its integral.

    Parameters
    ----------
    f0, f1 : float
        Start and end frequencies in Hz (>= 0).
    duration, sr, amplitude
        As in :func:`sine`.

    Returns
    -------
    numpy.ndarray
    """
    for f in (f0, f1):
        if not np.isfinite(f) or f < 0:
            raise ParameterError(f"chirp frequencies must be finite numbers of Hz >= 0, got {f!r}")
    t = time_axis(duration, sr)
    rate = (f1 - f0) / duration if duration > 0 else 0.0
    return amplitude * np.sin(2 * np.pi * (f0 * t + 0.5 * rate * t**2))


def click_track(
    bpm: float,
    duration: float = 3.0,
    sr: int = SAMPLE_RATE,
    click_freq: float = 1000.0,
    click_seconds: float = 0.03,
    amplitude: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """A metronome: short decaying tone bursts every beat (chapter *Sound and sampling*).

    Parameters
    ----------
    bpm : float
        Tempo in beats per minute (> 0); beats fall at ``0, 60/bpm, 120/bpm, ...`` seconds.
    duration : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    click_freq : float
        Pitch of each click in Hz.
    click_seconds : float
        Length of each click in seconds.
    amplitude : float
        Peak amplitude of a click.

    Returns
    -------
    y : numpy.ndarray
        The click track.
    beat_times : numpy.ndarray
        The click onsets in seconds.
    """
    if not np.isfinite(bpm) or bpm <= 0:
        raise ParameterError(f"tempo must be a positive number of beats per minute, got {bpm!r}")
    n = _check_rate_and_duration(duration, sr)
    click = sine(click_freq, click_seconds, sr, amplitude=amplitude)
    click *= np.exp(-np.arange(click.size) / (0.2 * max(click.size, 1)))
    beat_times = np.arange(0.0, duration, 60.0 / bpm)
    y = np.zeros(n)
    for start in np.round(beat_times * sr).astype(int):
        stop = min(start + click.size, n)
        y[start:stop] += click[: stop - start]
    return y, beat_times


def alias_frequency(freq: float, sr: int = SAMPLE_RATE) -> float:
    """The frequency a tone of ``freq`` Hz appears at after sampling at ``sr`` Hz.

    Explained in chapter *Sound and sampling* (Nyquist and aliasing): sampled sines at ``f`` and
    ``f ± k·sr`` are identical, and ``f`` and ``sr − f`` differ only in sign, so every frequency
    folds into ``[0, sr/2]``.

    Parameters
    ----------
    freq : float
        The true frequency in Hz (>= 0).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    float
        ``|freq − sr · round(freq / sr)|``, in ``[0, sr/2]``.
    """
    if not np.isfinite(freq) or freq < 0:
        raise ParameterError(f"frequency must be a finite number of Hz >= 0, got {freq!r}")
    _check_rate_and_duration(0.0, sr)
    return float(abs(freq - sr * np.round(freq / sr)))


def quantize(y: np.ndarray, bits: int) -> np.ndarray:
    """Round a signal in ``[-1, 1]`` to ``2**bits`` levels, as a ``bits``-bit recording would.

    Explained in chapter *Sound and sampling* (bit depth): CD audio and GTZAN use 16 bits
    (65,536 levels); with few bits the rounding error is audible as noise.

    Parameters
    ----------
    y : numpy.ndarray
        Samples in ``[-1, 1]`` (values outside are clipped, as an audio converter would).
    bits : int
        Bit depth, 1 to 32.

    Returns
    -------
    numpy.ndarray
        The quantized signal (``float64``), values on the grid ``k / 2**(bits-1)``.
    """
    if int(bits) != bits or not 1 <= bits <= 32:
        raise ParameterError(f"bit depth must be a whole number from 1 to 32, got {bits!r}")
    scale = 2.0 ** (int(bits) - 1)
    y = np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0)
    return np.clip(np.round(y * scale), -scale, scale - 1) / scale


def magnitude_spectrum(y: np.ndarray, sr: int = SAMPLE_RATE, window: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One-sided magnitude spectrum of a whole (short) signal via the FFT.

    Explained in chapter *Sound and sampling* (the Fourier transform of short signals).

    Parameters
    ----------
    y : numpy.ndarray
        A 1-D signal.
    sr : int
        Its sample rate in Hz.
    window : bool
        Multiply by a Hann window first (less leakage; chapter *Spectrograms and MFCCs*).

    Returns
    -------
    freqs : numpy.ndarray
        Bin frequencies in Hz, ``0 … sr/2``.
    magnitude : numpy.ndarray
        ``|FFT|`` scaled so that a full-length sine of amplitude ``a`` peaks near ``a``.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size < 2:
        raise ParameterError(f"magnitude_spectrum needs a 1-D signal of at least 2 samples, got shape {y.shape}")
    _check_rate_and_duration(0.0, sr)
    w = np.hanning(y.size) if window else np.ones(y.size)
    spectrum = np.abs(np.fft.rfft(y * w)) * 2.0 / w.sum()
    return np.fft.rfftfreq(y.size, d=1.0 / sr), spectrum


def sinc_reconstruct(samples: np.ndarray, sr: float, t: np.ndarray) -> np.ndarray:
    """The band-limited signal that passes through ``samples``, evaluated at times ``t`` (seconds).

    Explained in chapter *Sound and sampling* (the sampling theorem): Whittaker–Shannon
    interpolation, ``x(t) = Σ_n x[n] · sinc(sr · t − n)`` with ``sinc(u) = sin(πu) / (πu)``. For a
    signal with no energy at or above ``sr / 2`` and infinitely many samples it is exact; with a finite
    list of samples the missing terms beyond both ends leave an error near the edges.

    Parameters
    ----------
    samples : numpy.ndarray
        1-D samples ``x[n]`` taken at times ``n / sr``.
    sr : float
        Their sample rate in Hz (> 0).
    t : numpy.ndarray
        Times in seconds at which to evaluate the continuous signal.

    Returns
    -------
    numpy.ndarray
        ``x(t)``, same shape as ``t``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1 or samples.size == 0:
        raise ParameterError(f"sinc_reconstruct needs a non-empty 1-D array of samples, got shape {samples.shape}")
    if not np.isfinite(sr) or sr <= 0:
        raise ParameterError(f"sample rate must be a positive number of Hz, got {sr!r}")
    t = np.asarray(t, dtype=np.float64)
    n = np.arange(samples.size)
    return np.sinc(sr * t[..., None] - n) @ samples


def audio_player(y: np.ndarray, sr: int = SAMPLE_RATE, seconds: float | None = 3.0, lossless: bool = False):
    """An embedded audio player: MP3 for plain listening, 16-bit WAV when the lesson is the waveform.

    Explained in chapter *Sound and sampling*. IPython's ``Audio(y, rate=sr)`` embeds 16-bit WAV
    (about 60 kB per second at 22050 Hz in the saved notebook); MP3, which every browser plays,
    is about 20 times smaller and fine for music. But MP3 low-passes and reshapes exactly the
    artefacts some lessons are about (quantisation noise, white noise, aliasing): for those use
    ``lossless=True``, which embeds the samples as 16-bit PCM WAV, unchanged apart from rounding to
    16 bits (and scaling down if the peak exceeds 1) — keep those players short (a second or two
    at 16 kHz is about 45 kB of page). Use it only for sound the notebook synthesizes or short
    excerpts of CC-BY / public-domain recordings, never for GTZAN clips.

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal in [-1, 1]. MP3: normalised to a peak of 0.9. Lossless: kept as it is (a
        4-bit signal stays on its 16 levels), only scaled to a peak of 1 if louder.
    sr : int
        Its sample rate in Hz.
    seconds : float or None
        Keep at most this many seconds (None: all of it).
    lossless : bool
        Embed 16-bit PCM WAV instead of MP3.

    Returns
    -------
    IPython.display.Audio
    """
    import io
    import os
    import tempfile

    import soundfile as sf
    from IPython.display import Audio

    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"audio_player needs a non-empty mono signal, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("audio_player needs finite samples (no NaN or inf)")
    if seconds is not None:
        y = y[: int(seconds * sr)]
    peak = float(np.max(np.abs(y)))
    buffer = io.BytesIO()
    if lossless:
        if peak > 1.0:
            y = y / peak
        sf.write(buffer, y, sr, format="WAV", subtype="PCM_16")
        return Audio(data=buffer.getvalue())
    if peak > 0:
        y = 0.9 * y / peak
    sf.write(buffer, y.astype(np.float32), sr, format="MP3")
    handle, path = tempfile.mkstemp(suffix=".mp3")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(buffer.getvalue())
        return Audio(filename=path)
    finally:
        os.unlink(path)
