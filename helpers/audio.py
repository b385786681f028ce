"""Checked audio loading: every way a clip can be bad becomes a :class:`DataError` naming the file.

Explained in chapter *GTZAN* (``chapters/04_gtzan.ipynb``: the corrupt clip, checking a dataset)
and used by chapter *From audio to features* and *Beyond* (classifying your own clip).

``librosa.load`` on a bad file raises a zoo of exceptions (``LibsndfileError``, ``EOFError``,
``NoBackendError``, ``RuntimeError``, ...) or, worse, silently returns a truncated signal.
:func:`load_clip` checks the file first (exists, not empty, an audio format, header consistent
with the file's length), then the signal (sample rate, channels, length) and turns every problem
into one message that says which file and what is wrong. :func:`load_mono` (a user's own clip,
chapter *Beyond*) adds the check for silence, judged by the energy over the clip: a clip is silent
unless at least :data:`MIN_SOUND_SECONDS` of it (in frames of :data:`SOUND_FRAME_SECONDS`) reaches
:data:`SILENCE_RMS`, so one click or one stray sample in silence is still silence. Bad *arguments*
raise :class:`ParameterError`. File names of any bytes are read (a name that is not UTF-8 is
handed to libsndfile as bytes).

Decoding in blocks, in bounded memory
-------------------------------------
libsndfile (``soundfile``) decodes WAV, AIFF, AU, FLAC, Ogg Vorbis/Opus and MP3 (libsndfile 1.1
or newer). :func:`load_clip` reads a file in blocks of :data:`BLOCK_SAMPLES` samples (all
channels together), mixes each block down to mono and resamples it with a streaming ``soxr``
resampler (librosa's own default resampler) before the next block is read. So the working memory
of decoding is a few blocks — about ``4 * BLOCK_SAMPLES`` bytes each, whatever the file's channel
count, sample rate or length — plus the result itself (4 bytes per output sample: about 53 MB for
the 600 s ``genre-predict`` reads at 22,050 Hz; ``max_seconds`` refuses a longer file before it is
decoded, or while it is, when its header does not say). Only ``mono=False`` keeps every channel.

Two decoding paths outside libsndfile: a WAV whose data-size field is 0 although samples follow
(a streaming artefact: the writer could not seek back to fill it in) is read by this module from
its format chunk; and a container libsndfile does not read (MPEG-4/AAC ``.m4a``, WMA, WebM ...) is
handed to ``audioread`` when it is installed, which needs a decoder such as FFmpeg on the
machine — without one the error names the container and the missing decoder.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from helpers.config import SAMPLE_RATE
from helpers.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

#: Samples (all channels together) decoded at a time: 4 MB of float32 per block.
BLOCK_SAMPLES = 1 << 20
#: Magic bytes of the audio containers libsndfile (and audioread) can read.
_AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b".snd", b"fLaC", b"OggS", b"FORM", b"ID3", b"caff", b"wvpk")
#: Bytes per sample of the AU encodings (Sun/NeXT), as used by the original GTZAN files.
_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}
#: Sizes a WAV writer puts in the header when it cannot seek back to fill in the real one (a file
#: written through a pipe: sox writes 0x7FFFF000, ffmpeg 0xFFFFFFFF). Such a header declares nothing.
_PLACEHOLDER_SIZES = (0x7FFFF000, 0xFFFFFFFF)
#: A frame holds sound when its RMS reaches one step of 16-bit audio (2**-15, about -90 dBFS).
SILENCE_RMS = 2.0**-15
#: Frames (seconds) over which :func:`sound_seconds` measures the energy.
SOUND_FRAME_SECONDS = 0.05
#: A clip needs this many seconds of sound (or all of it, if shorter) not to be silent.
MIN_SOUND_SECONDS = 1.0


def _sf_name(path: Path) -> str | bytes:
    """The name to give libsndfile: the path as text, or as bytes when it is not valid UTF-8 (soundfile encodes a text name strictly)."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return name


def _header_lengths(path: Path) -> tuple[float, float] | None:
    """For WAV and AU files, return (seconds the header declares, seconds the file holds).

    ``None`` when the format is another one or the header does not say (a placeholder size of a
    streamed WAV, see :data:`_PLACEHOLDER_SIZES`).
    """
    size = path.stat().st_size
    wav = _wav_chunks(path)
    if wav is not None:
        if not (wav["channels"] and wav["rate"] and wav["bits"]) or wav["size"] in _PLACEHOLDER_SIZES:
            return None
        frame = wav["channels"] * max(wav["bits"] // 8, 1)
        return wav["size"] / frame / wav["rate"], (size - wav["offset"]) / frame / wav["rate"]
    with open(path, "rb") as file:
        head = file.read(12)
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
            info = sf.info(_sf_name(path))
        except (sf.LibsndfileError, RuntimeError) as error:
            report["problem"] = _open_problem(path, error)
            return report
    except OSError as error:  # e.g. no read permission: a problem of this file, not a crash
        report["problem"] = f"cannot be read ({error.strerror or error})"
        return report
    frames = info.frames
    if frames == 0:  # a streamed WAV whose data size was never filled in still holds its samples
        zero_size = _zero_size_wav(path)
        frames = zero_size["frames"] if zero_size else 0
    report.update(sr=int(info.samplerate), channels=int(info.channels), seconds=float(frames / info.samplerate))
    problems = []
    try:
        declared = _header_lengths(path)
    except (OSError, struct.error):
        declared = None
    if declared is not None and declared[1] < declared[0] - 0.01:
        problems.append(f"is truncated: its header declares {declared[0]:.2f} s but the file holds "
                        f"{declared[1]:.2f} s")
    if frames == 0:
        problems.append("holds no audio samples (empty or truncated)")
    if expect_sr is not None and info.samplerate != expect_sr:
        problems.append(f"has sample rate {info.samplerate} Hz, expected {expect_sr} Hz")
    if expect_mono and info.channels != 1:
        problems.append(f"has {info.channels} channels (stereo), expected mono")
    if min_seconds is not None and report["seconds"] < min_seconds:
        problems.append(f"is {report['seconds']:.2f} s long, shorter than the required {min_seconds:g} s")
    report["problem"] = "; ".join(problems)
    report["ok"] = not problems
    return report


def _wav_chunks(path: Path) -> dict | None:
    """The format and data chunks of a RIFF/WAVE file: ``channels``, ``rate``, ``bits``, ``tag`` (1 integer PCM, 3 IEEE float; the sub-format of an extensible header), ``offset`` and ``size`` of the data; None for another format or a header that ends before its data chunk."""
    with open(path, "rb") as file:
        head = file.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt = None
        while True:
            chunk = file.read(8)
            if len(chunk) < 8:
                return None
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                body = file.read(length + (length & 1))
                if len(body) < 16:
                    return None
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = {"tag": tag, "channels": channels, "rate": rate, "bits": bits}
            elif name == b"data":
                return None if fmt is None else {**fmt, "offset": file.tell(), "size": length}
            else:
                file.seek(length + (length & 1), os.SEEK_CUR)


def _zero_size_wav(path: Path) -> dict | None:
    """The layout of a WAV whose data chunk declares 0 bytes although samples follow it (a streaming artefact), when this module can decode its samples (integer PCM of 8, 16, 24 or 32 bits, float of 32 or 64 bits); else None."""
    try:
        layout = _wav_chunks(path)
    except (OSError, struct.error):
        return None
    if layout is None or layout["size"] != 0 or not layout["channels"] or not layout["rate"]:
        return None
    supported = (layout["tag"] == 1 and layout["bits"] in (8, 16, 24, 32)) or \
        (layout["tag"] == 3 and layout["bits"] in (32, 64))
    frame = layout["channels"] * layout["bits"] // 8
    frames = (path.stat().st_size - layout["offset"]) // frame if supported else 0
    return {**layout, "frames": int(frames)} if frames > 0 else None


def _raw_wav_blocks(path: Path, layout: dict, start: int, frames: int, block: int) -> Iterator[np.ndarray]:
    """Blocks ``(n, channels)`` float32 of the samples after a zero-size WAV's data header."""
    channels, width = layout["channels"], layout["bits"] // 8
    total = layout["frames"] - start
    total = total if frames < 0 else min(total, frames)
    with open(path, "rb") as file:
        file.seek(layout["offset"] + start * channels * width)
        while total > 0:
            n = min(block, total)
            raw = np.frombuffer(file.read(n * channels * width), dtype=np.uint8)
            n = len(raw) // (channels * width)
            if n == 0:
                return
            raw = raw[: n * channels * width]
            if layout["tag"] == 3:
                samples = raw.view("<f4" if width == 4 else "<f8").astype(np.float32)
            elif width == 1:  # 8-bit WAV is unsigned
                samples = (raw.astype(np.float32) - 128) / 128
            elif width == 3:  # 24-bit: little-endian bytes into the top of an int32
                wide = np.zeros((n * channels, 4), dtype=np.uint8)
                wide[:, 1:] = raw.reshape(-1, 3)
                samples = wide.view("<i4").ravel().astype(np.float32) / 2**31
            else:
                samples = raw.view(f"<i{width}").astype(np.float32) / 2 ** (8 * width - 1)
            yield samples.reshape(n, channels)
            total -= n


def _soundfile_blocks(path: Path, start: int, frames: int, block: int) -> Iterator[np.ndarray]:
    """Blocks ``(n, channels)`` float32 decoded by libsndfile, one buffer reused."""
    with sf.SoundFile(_sf_name(path)) as file:
        if start:
            file.seek(start)
        buffer = np.empty((block, file.channels), dtype=np.float32)
        remaining = frames
        while remaining != 0:
            want = block if remaining < 0 else min(block, remaining)
            got = file.read(want, dtype="float32", always_2d=True, out=buffer[:want])
            if len(got) == 0:
                return
            yield got
            remaining = remaining - len(got) if remaining > 0 else remaining
            if len(got) < want:
                return


#: Containers libsndfile does not read, by their magic bytes (``audioread`` may, with a decoder).
_OTHER_CONTAINERS = {"MPEG-4 audio (.m4a/.mp4: AAC or ALAC)": lambda h: h[4:8] == b"ftyp",
                     "Windows Media (.wma/.asf)": lambda h: h[:4] == b"\x30\x26\xb2\x75",
                     "Matroska/WebM (.mka/.webm)": lambda h: h[:4] == b"\x1a\x45\xdf\xa3",
                     "AAC in ADTS (.aac)": lambda h: len(h) > 1 and h[0] == 0xFF and h[1] & 0xF6 == 0xF0}
_OTHER_SUFFIXES = {".m4a", ".aac", ".mp4", ".wma", ".opus", ".webm", ".mka"}


def _other_container(path: Path) -> str | None:
    """The name of a container that needs another decoder than libsndfile, or None."""
    with open(path, "rb") as file:
        head = file.read(12)
    for name, matches in _OTHER_CONTAINERS.items():
        if matches(head):
            return name
    return f"a {path.suffix.lower()} file" if path.suffix.lower() in _OTHER_SUFFIXES else None


def _audioread_blocks(path: Path, container: str) -> tuple[Iterator[np.ndarray], int, int]:
    """``(blocks, rate, channels)`` of a file ``audioread`` decodes, or a DataError naming the missing decoder."""
    advice = ("install FFmpeg (e.g. apt install ffmpeg, brew install ffmpeg) for audioread, or convert the "
              f"file to WAV, FLAC or MP3 (ffmpeg -i {path.name} clip.wav)")
    try:
        import audioread
    except ImportError:
        raise DataError(f"audio file {path} is {container}, which libsndfile cannot decode, and no other "
                        f"decoder is installed: pip install audioread, then {advice}") from None
    try:
        handle = audioread.audio_open(str(path))
    except audioread.NoBackendError:
        raise DataError(f"audio file {path} is {container}, which libsndfile cannot decode, and audioread "
                        f"found no decoder for it (FFmpeg, GStreamer or Core Audio): {advice}") from None
    except Exception as error:  # audioread's backends raise many unrelated types
        raise DataError(f"audio file {path} is {container} that cannot be decoded "
                        f"({type(error).__name__}: {error})") from None
    channels, rate = int(handle.channels), int(handle.samplerate)

    def blocks():
        with handle:
            for buffer in handle:  # 16-bit little-endian interleaved PCM
                samples = np.frombuffer(buffer, dtype="<i2").astype(np.float32) / 32768
                yield samples[: len(samples) // channels * channels].reshape(-1, channels)

    return blocks(), rate, channels


def _too_long(path: Path, seconds: float, max_seconds: float) -> DataError:
    return DataError(f"audio file {path} is {seconds:.1f} s long; at most {max_seconds:g} s are read "
                     f"(cut it first, e.g. ffmpeg -i IN -t {max_seconds:g} OUT)")


def _decode(path: Path, blocks: Iterator[np.ndarray], file_sr: int, channels: int, sr: int | None,  # noqa: PLR0913 (issue 27: split when next touched)
            mono: bool, skip: int = 0, frames: int = -1, max_seconds: float | None = None) -> np.ndarray:
    """Mix down and resample ``blocks`` one at a time; ``(n,)`` (mono) or ``(channels, n)`` float32.

    ``skip`` and ``frames`` cut the decoded stream (for decoders that cannot seek); more than
    ``max_seconds`` of input stops the decoding with a :class:`DataError`.
    """
    limit = np.inf if max_seconds is None else max_seconds * file_sr
    resampler = None
    if sr is not None and sr != file_sr:
        import soxr

        resampler = soxr.ResampleStream(file_sr, sr, 1 if mono else channels, dtype="float32", quality="HQ")
    parts, n_in = [], 0
    for block in blocks:
        if skip:
            cut = min(skip, len(block))
            block, skip = block[cut:], skip - cut
        if frames >= 0:
            block = block[: max(frames - n_in, 0)]
        if len(block) == 0:
            if frames >= 0 and n_in >= frames:
                break
            continue
        if not np.isfinite(block).all():
            raise DataError(f"audio file {path} holds non-finite samples (NaN or infinity): corrupt")
        n_in += len(block)
        if n_in > limit:
            raise DataError(f"audio file {path} is longer than {max_seconds:g} s; at most {max_seconds:g} s are "
                            f"read (cut it first, e.g. ffmpeg -i IN -t {max_seconds:g} OUT)")
        part = block.mean(axis=1, dtype=np.float32) if mono else block
        parts.append(resampler.resample_chunk(part, last=False) if resampler else part.copy())
    if n_in == 0:
        raise DataError(f"audio file {path} holds no audio samples (empty or truncated)")
    if resampler is not None:
        parts.append(resampler.resample_chunk(np.zeros((0,) if mono else (0, channels), np.float32), last=True))
    signal = np.concatenate(parts)
    if resampler is not None:  # librosa.resample's length, computed as it does (in floating point)
        n_out = int(np.ceil(n_in * (sr / file_sr)))
        signal = signal[:n_out] if len(signal) >= n_out else \
            np.concatenate([signal, np.zeros((n_out - len(signal), *signal.shape[1:]), np.float32)])
    return np.ascontiguousarray(signal if mono else signal.T, dtype=np.float32)


def load_clip(path: str | os.PathLike, sr: int | None = SAMPLE_RATE, mono: bool = True,  # noqa: PLR0913 (issue 27: split when next touched)
              min_seconds: float | None = None, expect_sr: int | None = None,
              expect_mono: bool | None = None, offset: float = 0.0,
              duration: float | None = None, max_seconds: float | None = None) -> np.ndarray:
    """Load an audio file as float32 samples, raising :class:`DataError` on any bad input.

    Explained in chapter *GTZAN*; every chapter that reads audio uses it. Decodes in blocks
    (mixed down and resampled block by block: bounded memory, see the module docstring).

    Parameters
    ----------
    path : path
        The audio file (WAV, AU, AIFF, FLAC, Ogg, MP3: anything libsndfile reads; a WAV with a
        zero data size; other containers such as ``.m4a`` through ``audioread`` when it and a
        decoder such as FFmpeg are installed).
    sr : int or None
        Resample to this rate in Hz (``None`` keeps the file's rate); ``soxr``, high quality.
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
    max_seconds : float, optional
        Refuse a longer file: before decoding when its header says how long it is, else once that
        much has been decoded (bounded memory for a file of any length).

    Returns
    -------
    numpy.ndarray
        Samples in [-1, 1], float32: shape ``(n,)`` if ``mono`` else ``(channels, n)``. The
        sample rate is ``sr`` (or the file's when ``sr`` is None; see :func:`check_clip`).

    Raises
    ------
    DataError
        Naming the file and the problem: missing, empty, truncated, not audio, corrupt
        (undecodable), a container without a decoder (naming the decoder to install),
        unreadable (no permission), wrong sample rate, stereo, too short, too long, non-finite samples.
    ParameterError
        A bad argument: ``sr`` not a positive number, ``offset`` negative, ``duration``,
        ``min_seconds`` or ``max_seconds`` not positive.
    """
    if sr is not None:
        _check_rate("sr", sr)
    if offset < 0 or (duration is not None and duration <= 0) or (min_seconds is not None and min_seconds < 0):
        raise ParameterError(f"need offset >= 0, duration > 0 and min_seconds >= 0; got offset={offset}, "
                             f"duration={duration}, min_seconds={min_seconds}")
    if max_seconds is not None and not max_seconds > 0:
        raise ParameterError(f"max_seconds must be positive, got {max_seconds!r}")
    path = Path(path)
    report = check_clip(path, expect_sr=expect_sr, expect_mono=expect_mono)
    if report["sr"] is None:  # could not even be opened
        container = _other_container(path) if report["problem"].startswith("is not an audio file") else None
        if container is None:
            raise DataError(f"audio file {path} {report['problem']}")
        blocks, file_sr, channels = _audioread_blocks(path, container)
        skip = int(round(offset * file_sr))
        frames = -1 if duration is None else int(round(duration * file_sr))
        signal = _decode(path, blocks, file_sr, channels, sr, mono, skip, frames, max_seconds)
    else:
        if not report["ok"]:
            raise DataError(f"audio file {path} {report['problem']}")
        if max_seconds is not None and report["seconds"] > max_seconds:
            raise _too_long(path, report["seconds"], max_seconds)
        file_sr, channels = report["sr"], report["channels"]
        start = int(round(offset * file_sr))
        frames = -1 if duration is None else int(round(duration * file_sr))
        block = max(1, BLOCK_SAMPLES // channels)
        zero_size = _zero_size_wav(path)
        blocks = _raw_wav_blocks(path, zero_size, start, frames, block) if zero_size else \
            _soundfile_blocks(path, start, frames, block)
        try:
            signal = _decode(path, blocks, file_sr, channels, sr, mono, max_seconds=max_seconds)
        except DataError:
            raise
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as error:
            raise DataError(f"audio file {path} is corrupt: it cannot be decoded ({error})") from None
    seconds = signal.shape[-1] / (sr or file_sr)
    if min_seconds is not None and seconds < min_seconds:
        raise DataError(f"audio file {path} is {seconds:.2f} s long, shorter than the required "
                        f"{min_seconds:g} s")
    return signal


def clip_rms(y) -> float:
    """The RMS of a whole signal, accumulated in float64 (chapter *Beyond*: the level of a clip)."""
    y = np.asarray(y)
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def sound_seconds(y, sr: int) -> float:
    """Seconds of a signal whose energy reaches :data:`SILENCE_RMS`, in frames of :data:`SOUND_FRAME_SECONDS`.

    Explained in chapter *Beyond*: the silence check of :func:`load_mono`. A signal shorter than
    one frame counts as one frame.
    """
    y = np.asarray(y, dtype=np.float32)
    frame = max(1, int(round(SOUND_FRAME_SECONDS * sr)))
    n = len(y) // frame
    if n == 0:
        return len(y) / sr if clip_rms(y) >= SILENCE_RMS else 0.0
    energy = np.mean(np.square(y[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    return float(np.count_nonzero(energy >= SILENCE_RMS**2)) * frame / sr


def typical_level(paths, sr: int = SAMPLE_RATE) -> float:
    """The median RMS of clips as the features read them (mono at ``sr``): a bundle's ``level``.

    Explained in chapter *Beyond*. ``genre-predict`` scales every clip to the typical level of the
    clips its CNN was trained on (recorded by :func:`helpers.bundle.save_bundle`'s ``level``)
    before computing its features, as the musicnn probe scales to a fixed level, so that the
    loudness of a recording does not decide its genre.

    Parameters
    ----------
    paths : sequence of path
        The training clips.
    sr : int
        The sample rate of the features (Hz).

    Returns
    -------
    float
    """
    levels = [clip_rms(load_clip(path, sr=sr)) for path in paths]
    if not levels:
        raise ParameterError("typical_level needs at least one clip")
    return float(np.median(levels))


def load_mono(path: str | os.PathLike, sr: int = SAMPLE_RATE, min_seconds: float | None = None,
              max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as mono float32 at ``sr`` Hz and refuse silence (chapter *Beyond*).

    :func:`load_clip` (chapter *GTZAN*) does the reading and its checks: any format libsndfile
    reads (plus audioread's for a few others), any sample rate resampled to ``sr``, any channel
    count mixed down to mono. This adds the check for silent input, which a classifier would
    otherwise answer with a confident genre (after its level normalisation, even a click).

    Parameters
    ----------
    path : path
    sr : int
        Target sample rate in Hz.
    min_seconds, max_seconds : float, optional
        Shortest and longest acceptable duration (see :func:`load_clip`).

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float32

    Raises
    ------
    DataError
        If the file does not exist, cannot be read or decoded (not audio, corrupt, no
        permission), is shorter than ``min_seconds`` or longer than ``max_seconds``, or is silent:
        less than :data:`MIN_SOUND_SECONDS` of it (or less than all of a shorter clip) reaches
        :data:`SILENCE_RMS` over frames of :data:`SOUND_FRAME_SECONDS` — the message names the file.
    """
    y = load_clip(path, sr=sr, mono=True, min_seconds=min_seconds, max_seconds=max_seconds)
    frame = max(1, int(round(SOUND_FRAME_SECONDS * sr)))
    needed = min(MIN_SOUND_SECONDS, (len(y) // frame) * frame / sr) if len(y) >= frame else len(y) / sr
    sound = sound_seconds(y, sr)
    if sound < needed or sound == 0:
        raise DataError(f"audio file {path} is silent: only {sound:.2f} s of it reaches -90 dBFS (RMS over "
                        f"{SOUND_FRAME_SECONDS * 1000:g} ms frames); at least {needed:g} s of sound is needed")
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
    import pandas as pd
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
