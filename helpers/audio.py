"""Checked audio loading: every way a clip can be bad becomes a :class:`DataError` naming the file.

Explained in chapter *GTZAN* (``chapters/04_gtzan.ipynb``: the corrupt clip, checking a dataset)
and used by chapter *From audio to features* and *Beyond* (classifying your own clip).

``librosa.load`` on a bad file raises a zoo of exceptions (``LibsndfileError``, ``EOFError``,
``NoBackendError``, ``RuntimeError``, ...) or, worse, silently returns a truncated signal.
:func:`load_clip` checks the file first (exists, not empty, an audio format, header consistent
with the file's length), then the signal (sample rate, channels, length) and turns every problem
into one message that says which file and what is wrong. :func:`load_mono` (a user's own clip,
chapter *Beyond*) adds the check for silence. Bad *arguments* raise :class:`ParameterError`.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from helpers.config import SAMPLE_RATE
from helpers.errors import DataError, ParameterError

#: Magic bytes of the audio containers libsndfile (and audioread) can read.
_AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b".snd", b"fLaC", b"OggS", b"FORM", b"ID3", b"caff", b"wvpk")
#: Bytes per sample of the AU encodings (Sun/NeXT), as used by the original GTZAN files.
_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}
#: Sizes a WAV writer puts in the header when it cannot seek back to fill in the real one (a file
#: written through a pipe: sox writes 0x7FFFF000, ffmpeg 0xFFFFFFFF). Such a header declares nothing.
_PLACEHOLDER_SIZES = (0x7FFFF000, 0xFFFFFFFF)
#: A signal whose peak amplitude is below this is called silent (about -80 dBFS).
SILENCE_PEAK = 1e-4


def _declared_seconds(path: Path) -> tuple[float, float] | None:
    """For WAV and AU files, return (seconds the header declares, seconds the file holds).

    ``None`` when the format is another one or the header does not say (a placeholder size of a
    streamed WAV, see :data:`_PLACEHOLDER_SIZES`).
    """
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            channels = rate = bits = None
            while True:
                chunk = file.read(8)
                if len(chunk) < 8:
                    return None
                name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = file.read(length + (length & 1))
                    if len(fmt) < 16:
                        return None
                    _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
                elif name == b"data":
                    if not (channels and rate and bits) or length in _PLACEHOLDER_SIZES:
                        return None
                    frame = channels * max(bits // 8, 1)
                    available = size - file.tell()
                    return length / frame / rate, available / frame / rate
                else:
                    file.seek(length + (length & 1), os.SEEK_CUR)
        if head[:4] == b".snd" and len(head) >= 12:
            rest = file.read(12)
            if len(rest) < 12:
                return None
            offset, length = struct.unpack(">II", head[4:12])
            encoding, rate, channels = struct.unpack(">III", rest)
            if length == 0xFFFFFFFF or encoding not in _AU_BYTES or not rate or not channels:
                return None
            frame = _AU_BYTES[encoding] * channels
            return length / frame / rate, max(size - offset, 0) / frame / rate
    return None


def _open_problem(path: Path, error: Exception) -> str:
    """Describe why libsndfile could not open a file: not audio at all, or a damaged audio file."""
    with open(path, "rb") as file:
        head = file.read(4)
    mp3_frame = len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0
    if not (mp3_frame or any(head.startswith(magic) for magic in _AUDIO_MAGIC)):
        return "is not an audio file (format not recognised)"
    return f"is corrupt or truncated: it cannot be decoded ({error})"


def _check_rate(name: str, rate) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ParameterError(f"{name} must be a positive whole number of Hz, got {rate!r}")


def _file_problem(path: Path) -> str:
    """Why ``path`` is not a readable, non-empty file (``''`` if it is); OSError if it cannot be read."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if path.stat().st_size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb"):  # raises PermissionError for a file without read permission
        return ""


def check_clip(path: str | os.PathLike, expect_sr: int | None = None,
               expect_mono: bool | None = None, min_seconds: float | None = None) -> dict:
    """Check one audio file from its header, without decoding it (milliseconds per file).

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    path : path
        The audio file.
    expect_sr : int, optional
        Flag a different sample rate (Hz).
    expect_mono : bool, optional
        Flag a file with more than one channel.
    min_seconds : float, optional
        Flag a shorter file.

    Returns
    -------
    dict
        ``path``, ``sr`` (Hz), ``channels``, ``seconds``, ``ok`` (bool) and ``problem`` (``''``
        when ok, else a sentence such as ``'is empty (0 bytes)'``). Values that could not be read
        are ``None``. A file that cannot be read (no permission) is reported as a problem
        (``'cannot be read (Permission denied)'``), not raised.
    """
    if expect_sr is not None:
        _check_rate("expect_sr", expect_sr)
    path = Path(path)
    report = {"path": str(path), "sr": None, "channels": None, "seconds": None, "ok": False,
              "problem": ""}
    try:
        problem = _file_problem(path)
        if problem:
            report["problem"] = problem
            return report
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as error:
            report["problem"] = _open_problem(path, error)
            return report
    except OSError as error:  # e.g. no read permission: a problem of this file, not a crash
        report["problem"] = f"cannot be read ({error.strerror or error})"
        return report
    report.update(sr=int(info.samplerate), channels=int(info.channels), seconds=float(info.duration))
    problems = []
    try:
        declared = _declared_seconds(path)
    except (OSError, struct.error):
        declared = None
    if declared is not None and declared[1] < declared[0] - 0.01:
        problems.append(f"is truncated: its header declares {declared[0]:.2f} s but the file holds "
                        f"{declared[1]:.2f} s")
    if info.frames == 0:
        problems.append("holds no audio samples (empty or truncated)")
    if expect_sr is not None and info.samplerate != expect_sr:
        problems.append(f"has sample rate {info.samplerate} Hz, expected {expect_sr} Hz")
    if expect_mono and info.channels != 1:
        problems.append(f"has {info.channels} channels (stereo), expected mono")
    if min_seconds is not None and info.duration < min_seconds:
        problems.append(f"is {info.duration:.2f} s long, shorter than the required {min_seconds:g} s")
    report["problem"] = "; ".join(problems)
    report["ok"] = not problems
    return report


def load_clip(path: str | os.PathLike, sr: int | None = SAMPLE_RATE, mono: bool = True,
              min_seconds: float | None = None, expect_sr: int | None = None,
              expect_mono: bool | None = None, offset: float = 0.0,
              duration: float | None = None) -> np.ndarray:
    """Load an audio file as float32 samples, raising :class:`DataError` on any bad input.

    Explained in chapter *GTZAN*; every chapter that reads audio uses it.

    Parameters
    ----------
    path : path
        The audio file (WAV, AU, FLAC, OGG, MP3: anything libsndfile reads; other formats are
        tried with librosa's audioread fallback).
    sr : int or None
        Resample to this rate in Hz (``None`` keeps the file's rate).
    mono : bool
        Average the channels to one.
    min_seconds : float, optional
        Raise if the loaded signal is shorter (after ``offset``/``duration``).
    expect_sr : int, optional
        Raise if the *file's* sample rate differs (instead of silently resampling).
    expect_mono : bool, optional
        Raise if the file has more than one channel (instead of silently mixing down).
    offset, duration : float
        Start and length in seconds of the part to load (``duration=None``: to the end).

    Returns
    -------
    numpy.ndarray
        Samples in [-1, 1], float32: shape ``(n,)`` if ``mono`` else ``(channels, n)``. The
        sample rate is ``sr`` (or the file's when ``sr`` is None; see :func:`check_clip`).

    Raises
    ------
    DataError
        Naming the file and the problem: missing, empty, truncated, not audio, corrupt
        (undecodable), unreadable (no permission), wrong sample rate, stereo, too short,
        non-finite samples.
    ParameterError
        A bad argument: ``sr`` not a positive number, ``offset`` negative, ``duration`` or
        ``min_seconds`` not positive.
    """
    if sr is not None:
        _check_rate("sr", sr)
    if offset < 0 or (duration is not None and duration <= 0) or (min_seconds is not None and min_seconds < 0):
        raise ParameterError(f"need offset >= 0, duration > 0 and min_seconds >= 0; got offset={offset}, "
                             f"duration={duration}, min_seconds={min_seconds}")
    path = Path(path)
    report = check_clip(path, expect_sr=expect_sr, expect_mono=expect_mono)
    if report["sr"] is None:  # could not even be opened
        fallback = report["problem"].startswith("is not an audio file") and path.suffix.lower() in {
            ".m4a", ".aac", ".mp4", ".wma", ".opus", ".webm"}
        if not fallback:
            raise DataError(f"audio file {path} {report['problem']}")
        return _load_with_audioread(path, sr, mono, min_seconds, offset, duration)
    if not report["ok"]:
        raise DataError(f"audio file {path} {report['problem']}")

    file_sr = report["sr"]
    start = int(round(offset * file_sr))
    frames = -1 if duration is None else int(round(duration * file_sr))
    try:
        data, file_sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as error:
        raise DataError(f"audio file {path} is corrupt: it cannot be decoded ({error})") from None
    signal = data.T  # (channels, n)
    return _finish(path, signal, file_sr, sr, mono, min_seconds)


def _load_with_audioread(path, sr, mono, min_seconds, offset, duration) -> np.ndarray:
    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            signal, file_sr = librosa.load(str(path), sr=None, mono=False, offset=offset,
                                           duration=duration)
    except Exception as error:  # audioread raises many unrelated types
        raise DataError(f"audio file {path} is not an audio file that can be decoded "
                        f"({type(error).__name__}: {error})") from None
    return _finish(path, np.atleast_2d(signal), file_sr, sr, mono, min_seconds)


def _finish(path, signal: np.ndarray, file_sr: int, sr: int | None, mono: bool,
            min_seconds: float | None) -> np.ndarray:
    import librosa

    if signal.shape[-1] == 0:
        raise DataError(f"audio file {path} holds no audio samples (empty or truncated)")
    if not np.isfinite(signal).all():
        raise DataError(f"audio file {path} holds non-finite samples (NaN or infinity): corrupt")
    if mono:
        signal = signal.mean(axis=0)
    if sr is not None and sr != file_sr:
        signal = librosa.resample(signal, orig_sr=file_sr, target_sr=sr)
    rate = sr or file_sr
    seconds = signal.shape[-1] / rate
    if min_seconds is not None and seconds < min_seconds:
        raise DataError(f"audio file {path} is {seconds:.2f} s long, shorter than the required "
                        f"{min_seconds:g} s")
    return np.ascontiguousarray(signal, dtype=np.float32)


def load_mono(path: str | os.PathLike, sr: int = SAMPLE_RATE, min_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as mono float32 at ``sr`` Hz and refuse silence (chapter *Beyond*).

    :func:`load_clip` (chapter *GTZAN*) does the reading and its checks: any format libsndfile
    reads (plus audioread's for a few others), any sample rate resampled to ``sr``, any channel
    count mixed down to mono. This adds the check for silent input, which a classifier would
    otherwise answer with a confident genre.

    Parameters
    ----------
    path : path
    sr : int
        Target sample rate in Hz.
    min_seconds : float, optional
        Shortest acceptable duration.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float32

    Raises
    ------
    DataError
        If the file does not exist, cannot be read or decoded (not audio, corrupt, no
        permission), is shorter than ``min_seconds`` or is silent (peak below
        :data:`SILENCE_PEAK`) — the message names the file.
    """
    y = load_clip(path, sr=sr, mono=True, min_seconds=min_seconds)
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise DataError(f"audio file {path} is silent (peak amplitude below {SILENCE_PEAK:g}, about -80 dBFS)")
    return y


def scan_clips(table: pd.DataFrame, expect_sr: int | None = SAMPLE_RATE,
               expect_mono: bool | None = True, min_seconds: float | None = None,
               n_jobs: int = 1) -> pd.DataFrame:
    """Check every clip of a GTZAN table (see :func:`check_clip`) and report the problems.

    Explained in chapter *GTZAN* (finding the corrupt clip).

    Parameters
    ----------
    table : pandas.DataFrame
        A table with a ``path`` column (and usually ``track_id``), e.g. from
        :func:`helpers.datasets.load_gtzan`.
    expect_sr, expect_mono, min_seconds
        Passed to :func:`check_clip` (GTZAN: 22050 Hz, mono).
    n_jobs : int
        Parallel threads (joblib); reading headers is I/O bound.

    Returns
    -------
    pandas.DataFrame
        One row per clip in table order: ``track_id`` (if present), ``path``, ``sr``,
        ``channels``, ``seconds``, ``ok``, ``problem``. ``attrs['n_problems']`` counts the bad
        clips and ``attrs['problems']`` lists them as ``'<track_id or path>: <problem>'``.
    """
    from joblib import Parallel, delayed

    paths = table["path"].tolist()
    reports = Parallel(n_jobs=n_jobs, backend="threading")(
        delayed(check_clip)(p, expect_sr=expect_sr, expect_mono=expect_mono, min_seconds=min_seconds)
        for p in paths
    )
    result = pd.DataFrame(reports, columns=["path", "sr", "channels", "seconds", "ok", "problem"])
    if "track_id" in table.columns:
        result.insert(0, "track_id", table["track_id"].to_numpy())
    bad = result[~result["ok"]]
    names = bad["track_id"] if "track_id" in bad.columns else bad["path"]
    result.attrs["n_problems"] = int(len(bad))
    result.attrs["problems"] = [f"{name}: {problem}" for name, problem in zip(names, bad["problem"], strict=True)]
    return result
