"""Classify your own clip: ``python -m helpers.predict FILE [FILE ...]`` (console script ``genre-predict``).

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), section "Classify your own clip".

Two models can answer (``--model``): ``probe`` (the default: chapter 10's linear probe on the
pretrained musicnn network's embeddings, bundle ``helpers/bundled/musicnn_probe.json`` written by
``tools/train_probe_bundle.py``) and ``cnn`` (chapter 8's CNN on MFCC segments, the bundle of
:func:`helpers.config.cnn_bundle`). ``--bundle`` names any other bundle.

One shape for every model
-------------------------
:func:`helpers.bundle.read_bundle` checks a bundle completely, once, and returns its typed record;
:data:`MODEL_OF_KIND` gives the small model object of its kind, :class:`CnnModel` or
:class:`ProbeModel`. Both offer the same ``sr``, ``segment_samples``, ``engine`` and
``probabilities(y, max_segments)``, so :class:`GenrePredictor` and the command never ask which kind
they hold. Both bring a clip to a fixed level before its features, so that loudness does not decide
the genre: the probe to the RMS of its embedding path (:func:`helpers.musicnn.clip_embeddings`),
the CNN to the typical RMS of its training clips recorded in its bundle (``level``,
:func:`helpers.audio.typical_level`). Each file is read by :func:`read_clip`: any audio file
:func:`helpers.audio.load_clip` can read (resampled to the model's rate, mixed down to mono), at
least one segment long (6 s for the CNN, one 3 s musicnn patch for the probe), at most
:data:`MAX_SECONDS`, not silent, not truncated. The networks run in NumPy
(:class:`helpers.engine.NumpyModel`, :class:`helpers.musicnn.MusicnnNumpy`); ``--engine keras``
runs them in Keras.

The prediction path is light: it imports NumPy, soundfile and soxr (and, for the CNN, SciPy,
h5py and pandas through the feature layer) — never TensorFlow, Keras, librosa, numba or
scikit-learn (``tests/test_predict.py`` checks ``sys.modules``) — and it writes nothing, so it
needs no writable HOME.

The command
-----------
Each input is classified on its own; a file that fails does not stop the others. Printed text is
escaped: a genre name or file name with terminal control characters or bytes that are not UTF-8
shows them as ``\\x1b``, ``\\xe9``. With ``--json`` every input gets one JSON line
(:func:`json_record`), errors included — also when the bundle cannot be loaded: then every input
gets a record whose ``error`` names the bundle's problem (with ``--output FILE`` nothing is
appended to the file, so that a later run still classifies every input).

Exit status: 0 if every file was classified; 1 if at least one file could not be (its error names
the file, and the other files are still classified), or if the results could not be written
(standard output closed or full; ``genre-predict ... | head -1`` stops quietly); 2 for a missing or
invalid model bundle or bad arguments; 130 when interrupted (Ctrl-C): a one-line note on standard
error, and the lines printed before it are complete. No traceback in any case.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from helpers.audio import check_clip, load_mono
from helpers.backend import native_stderr_silenced
from helpers.bundle import CNN_KIND, PROBE_KIND, CnnBundle, ProbeBundle, load_network, read_bundle
from helpers.config import BUNDLED_DIR, cnn_bundle
from helpers.engine import NumpyModel, probe_probabilities
from helpers.errors import DataError, ParameterError
from helpers.mfcc import standardize_with
from helpers.musicnn import (
    HOP,
    PATCH_FRAMES,
    PATCH_SECONDS,
    SR,
    MusicnnNumpy,
    clip_embeddings,
    normalise_level,
)

ENGINES = ("auto", "numpy", "keras")
#: The models ``--model`` chooses between, and the default (see the README, "Classify your own clip",
#: for the validation-track evidence behind it).
MODELS = ("probe", "cnn")
DEFAULT_MODEL = "probe"
#: File stem of the probe bundle shipped as package data.
PROBE_BUNDLE_NAME = "musicnn_probe"
#: Longest input the command reads (10 minutes): about 53 MB of float32 samples at 22,050 Hz.
#: Longer files are refused before they are decoded (cut them first, e.g. ``ffmpeg -t 600``).
MAX_SECONDS = 600.0
#: A decoded MP3 may fall this many seconds short of its header's duration (encoder padding).
_TRUNCATION_TOLERANCE = 0.5
#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130


def model_bundle(model: str = DEFAULT_MODEL) -> Path:
    """The bundle stem of a ``--model`` name: the shipped probe, or the CNN of :func:`helpers.config.cnn_bundle`."""
    if model not in MODELS:
        raise ParameterError(f"model must be one of {MODELS}, got {model!r}")
    return BUNDLED_DIR / PROBE_BUNDLE_NAME if model == "probe" else cnn_bundle()


def printable(text) -> str:
    """``text`` safe to print on a terminal (chapter *Beyond*): control and other non-printable characters escaped (``\\x1b``, ``\\n``, ``\\u200e``), bytes of a file name that are not UTF-8 as ``\\xNN``; printable text (accents, other scripts) unchanged."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif "\udc80" <= char <= "\udcff":  # an undecodable byte of a file name (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Reading a file: length limit, truncated compressed files, decoder noise
# ---------------------------------------------------------------------------------------------


def _ogg_is_complete(path: Path) -> bool:
    """True if an Ogg file's last page carries the end-of-stream flag (a truncated file lacks it)."""
    with open(path, "rb") as file:
        file.seek(max(path.stat().st_size - 65536, 0))
        tail = file.read()
    last = tail.rfind(b"OggS")
    if last < 0 or len(tail) < last + 27:
        return False
    n_segments = tail[last + 26]
    size = 27 + n_segments + sum(tail[last + 27 : last + 27 + n_segments])
    complete_page = len(tail) - last >= size
    return complete_page and bool(tail[last + 5] & 0x04)


def read_clip(path, sr: int, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Read one file for the command: :func:`helpers.audio.load_mono` plus the checks a user's file needs.

    Explained in chapter *Beyond*. Refuses a file longer than ``max_seconds`` before decoding it
    (bounded memory), a silent one, and a truncated compressed file that would otherwise be
    classified on what remains: an MP3 whose decoded length falls short of the duration its header
    declares (:func:`helpers.audio.check_clip`'s ``seconds``), an Ogg file without its
    end-of-stream page. The decoder's own messages on standard error (mpg123's "Xing stream size
    off ...") are silenced; every problem becomes a :class:`DataError` naming the file.
    """
    path = Path(path)
    with native_stderr_silenced():
        y = load_mono(path, sr=sr, max_seconds=max_seconds)
        declared = check_clip(path)["seconds"]
    seconds = len(y) / sr
    with open(path, "rb") as file:
        head = file.read(4)
    if head == b"OggS" and not _ogg_is_complete(path):
        raise DataError(f"audio file {path} is truncated: its Ogg stream ends without an end-of-stream page "
                        f"({seconds:.2f} s could be decoded)")
    if head != b"OggS" and declared is not None and seconds < declared - _TRUNCATION_TOLERANCE:
        raise DataError(f"audio file {path} is truncated: its header declares {declared:.2f} s "
                        f"but only {seconds:.2f} s could be decoded")
    return y


# ---------------------------------------------------------------------------------------------
# One model object per bundle kind, one shape
# ---------------------------------------------------------------------------------------------


class Probabilities(NamedTuple):
    """What a model gives for one clip (chapter *Beyond*)."""

    #: ``(n_genres,)``: the clip's probabilities.
    clip: np.ndarray
    #: ``(n_segments, n_genres)``: each segment's (CNN: averaged into ``clip``; probe: for looking).
    segments: np.ndarray
    #: Wall seconds of ``features`` and ``predict``.
    seconds: dict


class _KerasNetwork:
    """A Keras model with :class:`helpers.engine.NumpyModel`'s ``predict``."""

    def __init__(self, model):
        self.model = model

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float32), batch_size=256, verbose=0))


class CnnModel:
    """A ``keras-cnn`` bundle applied to a signal (chapter *Beyond*): chapter 8's network on MFCC segments.

    The clip is scaled to the bundle's ``level`` (the typical RMS of its training clips; unchanged
    for a bundle without one), cut into the network's segments by the *same* feature code that
    trained it (:func:`helpers.features.clip_features`), standardised with the stored statistics
    (:func:`helpers.mfcc.standardize_with`), shaped as the network's input and run; the clip's
    probabilities are the mean over its segments.

    Parameters
    ----------
    bundle : helpers.bundle.CnnBundle
    engine : {'auto', 'numpy', 'keras'}
        ``'auto'``: :class:`helpers.engine.NumpyModel` when it supports every layer, else Keras.
    """

    def __init__(self, bundle: CnnBundle, engine: str = "auto"):
        self.bundle = bundle
        self.sr = bundle.features.sr
        self.segment_samples = bundle.features.segment_samples
        self.network, self.engine = None, "keras"
        if engine != "keras":
            try:
                self.network, self.engine = NumpyModel(bundle.keras_path), "numpy"
            except NotImplementedError:
                if engine == "numpy":
                    raise
        if self.network is None:
            self.network = _KerasNetwork(load_network(bundle))

    def probabilities(self, y, max_segments: int | None = None) -> Probabilities:
        """Probabilities of a mono signal at :attr:`sr`, at least one segment long; every whole segment, or the first ``max_segments``."""
        # the CNN's MFCCs (SciPy); the probe needs none of it
        from helpers.features import clip_features

        start = time.perf_counter()
        if self.bundle.level is not None:
            y = normalise_level(y, self.bundle.level)
        limit = len(y) // self.segment_samples if max_segments is None else max_segments
        X = clip_features(y, self.bundle.features, max_segments=limit)
        if self.bundle.mean is not None:
            X = standardize_with(X, self.bundle.mean, self.bundle.std)
        X = X.reshape(len(X), *self.bundle.input_shape)  # the channel axis, if the network has one
        middle = time.perf_counter()
        segments = self.network.predict(X)
        seconds = {"features": middle - start, "predict": time.perf_counter() - middle}
        return Probabilities(segments.mean(axis=0), segments, seconds)


class _KerasMusicnn:
    """musicnn through Keras (:func:`helpers.musicnn.load_musicnn`), with :class:`MusicnnNumpy`'s ``predict``."""

    def __init__(self, variant: str):
        from helpers.musicnn import load_musicnn

        self.net = load_musicnn(variant)

    def predict(self, patches) -> dict:
        out = self.net.predict_on_batch(np.asarray(patches, dtype=np.float32))
        return {k: np.asarray(v) for k, v in out.items()}


class _TimedNetwork:
    """A network whose ``predict`` calls are timed (the ``predict`` part of a probe's timings)."""

    def __init__(self, network):
        self.network, self.seconds = network, 0.0

    def predict(self, patches) -> dict:
        start = time.perf_counter()
        out = self.network.predict(patches)
        self.seconds += time.perf_counter() - start
        return out


class ProbeModel:
    """A ``musicnn-probe`` bundle applied to a signal (chapter *Beyond*), with :class:`CnnModel`'s shape.

    The clip goes through the book's one embedding path, :func:`helpers.musicnn.clip_embeddings`
    (fixed RMS level, log-mel, 3 s patches, musicnn), and the probe is applied to the pooled
    embedding; the per-patch probabilities are the probe on each patch's embedding (for looking:
    they are not averaged).

    Parameters
    ----------
    bundle : helpers.bundle.ProbeBundle
    engine : {'auto', 'numpy', 'keras'}
        ``'keras'`` runs musicnn in Keras; otherwise :class:`helpers.musicnn.MusicnnNumpy`.
    """

    sr = SR
    segment_samples = (PATCH_FRAMES - 1) * HOP  # one musicnn patch: PATCH_SECONDS at SR

    def __init__(self, bundle: ProbeBundle, engine: str = "auto"):
        self.bundle = bundle
        self.engine = "keras" if engine == "keras" else "numpy"
        self.network = _KerasMusicnn(bundle.variant) if engine == "keras" else MusicnnNumpy(bundle.weights_path)

    def probabilities(self, y, max_segments: int | None = None) -> Probabilities:
        """Probabilities of a mono signal at :attr:`sr`, at least one patch long; every whole patch, or the first ``max_segments``."""
        if max_segments is not None:
            y = y[: int(np.ceil((max_segments * PATCH_SECONDS + 0.1) * self.sr))]
        start, timed = time.perf_counter(), _TimedNetwork(self.network)
        out = clip_embeddings(y, self.sr, timed)  # the one embedding path, as in training
        middle = time.perf_counter()
        layer, probe, copies = self.bundle.layer, self.bundle.probe, len(self.bundle.pooling)
        clip = probe_probabilities(np.concatenate([out[f"{layer}_{p}"] for p in self.bundle.pooling])[np.newaxis],
                                   probe)[0]
        patch = out["per_patch"][layer]  # one patch: its mean and max are the patch itself
        segments = probe_probabilities(np.concatenate([patch] * copies, axis=1), probe)
        seconds = {"features": middle - start - timed.seconds,
                   "predict": timed.seconds + time.perf_counter() - middle}
        return Probabilities(clip.astype(np.float32), segments.astype(np.float32), seconds)


#: The model object of each bundle kind.
MODEL_OF_KIND = {CNN_KIND: CnnModel, PROBE_KIND: ProbeModel}


# ---------------------------------------------------------------------------------------------
# The predictor
# ---------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """The result for one file (chapter *Beyond*).

    Attributes
    ----------
    path : str
    top : list of (str, float)
        The best genres with their probabilities, best first.
    probabilities : numpy.ndarray
        The clip's probability of every genre (order of ``genres``).
    genres : tuple of str
    n_segments : int
        Segments the file was cut into (6 s for the CNN, 3 s musicnn patches for the probe).
    duration : float
        Seconds of audio read.
    seconds : dict
        Wall time of the steps: ``load``, ``features``, ``predict``, ``total``.
    segment_probabilities : numpy.ndarray, shape (n_segments, n_genres)
    error : str or None
        Set (and everything else empty) when the file could not be classified and errors are kept.
    """

    path: str
    top: list = field(default_factory=list)
    probabilities: np.ndarray | None = None
    genres: tuple = ()
    n_segments: int = 0
    duration: float = 0.0
    seconds: dict = field(default_factory=dict)
    segment_probabilities: np.ndarray | None = None
    error: str | None = None

    def __str__(self) -> str:
        """The text the command prints, escaped (:func:`printable`)."""
        if self.error:
            return printable(f"{self.path}: error: {self.error}")
        lines = [f"{printable(self.path)}  ({self.duration:.1f} s, {self.n_segments} segment"
                 f"{'s' * (self.n_segments != 1)})"]
        names = [printable(genre) for genre, _ in self.top]
        width = max(map(len, names))
        for rank, (name, (_, p)) in enumerate(zip(names, self.top, strict=True), start=1):
            lines.append(f"  {rank}. {name:<{width}}  {100 * p:5.1f} %")
        return "\n".join(lines)


def json_record(result: Prediction) -> str:
    """One line of ``--json`` output (chapter *Beyond*): valid JSON in ASCII, never ``NaN``.

    ``{"path": ..., "error": null, "top": [[genre, probability], ...], "segments": n, "duration_s": s}``
    for a classified file; ``{"path": ..., "error": "<message>", "top": [], "segments": 0,
    "duration_s": null}`` for a file that could not be classified (or every input, when the bundle
    could not be loaded). Control characters are escaped by JSON itself; a file name's bytes that
    are not UTF-8 appear as ``\\udcNN`` escapes, which Python's ``json.loads`` and ``os.fsencode``
    turn back into the name.
    """
    record = {"path": result.path, "error": result.error,
              "top": [[genre, round(float(p), 6)] for genre, p in result.top],
              "segments": result.n_segments,
              "duration_s": None if result.error else round(result.duration, 3)}
    return json.dumps(record, allow_nan=False)


def _check_max_segments(value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise ParameterError(f"max_segments must be None (every whole segment) or a positive whole number, "
                             f"got {value!r}")


class GenrePredictor:
    """A loaded, validated bundle that classifies files or signals (chapter *Beyond*).

    Parameters
    ----------
    bundle : path, optional
        Stem of the bundle (default: the ``--model`` default, :data:`DEFAULT_MODEL`).
    engine : {'auto', 'numpy', 'keras'}
        ``'auto'``: NumPy (:class:`helpers.engine.NumpyModel`, :class:`helpers.musicnn.MusicnnNumpy`)
        when it supports every layer, else Keras.
    max_segments : int, optional
        Cap on the segments read from a long file (default: every whole segment); a positive number.
    max_seconds : float
        Longest file :meth:`predict_file` reads (default :data:`MAX_SECONDS`).

    Attributes
    ----------
    bundle : helpers.bundle.CnnBundle or helpers.bundle.ProbeBundle
        The checked bundle (:func:`helpers.bundle.read_bundle`).
    model : CnnModel or ProbeModel
        Its model object (:data:`MODEL_OF_KIND`).
    genres : tuple of str
    sr : int
        The sample rate the model reads signals at.
    engine : str
        The engine in use (``'numpy'`` or ``'keras'``).
    info : dict
        The bundle's JSON description (``info['metadata']``: data and protocol of its numbers).
    load_seconds : float
        Time to read the bundle and prepare the model.

    Raises
    ------
    DataError
        For a missing or invalid bundle (one line naming the bundle and the problem).
    ParameterError
        For a bad ``engine``, ``max_segments`` or ``max_seconds``.
    """

    def __init__(self, bundle=None, engine: str = "auto", max_segments: int | None = None,
                 max_seconds: float = MAX_SECONDS):
        if engine not in ENGINES:
            raise ParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
        _check_max_segments(max_segments)
        if not max_seconds > 0:
            raise ParameterError(f"max_seconds must be positive, got {max_seconds!r}")
        start = time.perf_counter()
        self.bundle = read_bundle(bundle if bundle is not None else model_bundle(DEFAULT_MODEL))
        self.model = MODEL_OF_KIND[self.bundle.kind](self.bundle, engine)
        self.max_segments, self.max_seconds = max_segments, max_seconds
        self.load_seconds = time.perf_counter() - start

    @property
    def genres(self) -> tuple:
        """The genre names, in the model's output order."""
        return self.bundle.genres

    @property
    def sr(self) -> int:
        """The sample rate the model reads signals at (Hz)."""
        return self.model.sr

    @property
    def engine(self) -> str:
        """``'numpy'`` or ``'keras'``."""
        return self.model.engine

    @property
    def info(self) -> dict:
        """The bundle's JSON description, as stored."""
        return self.bundle.description

    def predict_signal(self, y, name: str = "signal", top: int = 3) -> Prediction:
        """Classify a mono signal already at the model's sample rate (:attr:`sr`).

        The model's probabilities (:class:`CnnModel`: the mean over its 6 s segments;
        :class:`ProbeModel`: the probe on the clip's pooled embedding, ``segment_probabilities``
        being the probe on each patch), the ``top`` genres first.
        """
        start = time.perf_counter()
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ParameterError(f"predict_signal needs a mono signal of shape (n,), got shape {y.shape}")
        need = self.model.segment_samples
        if len(y) < need:
            raise DataError(f"{name} is {len(y)} samples long at {self.sr} Hz, shorter than one segment "
                            f"({need} samples, {need / self.sr:g} s)")
        clip, segments, seconds = self.model.probabilities(y, self.max_segments)
        if not (np.all(np.isfinite(clip)) and np.all(np.isfinite(segments))):
            raise DataError(f"{name}: the model gave non-finite probabilities (check the bundle "
                            f"{self.bundle.json_path})")
        seconds["features"] += time.perf_counter() - start - sum(seconds.values())  # the checks above
        order = np.argsort(-clip, kind="stable")[: max(1, int(top))]
        return Prediction(path=str(name), top=[(self.genres[i], float(clip[i])) for i in order],
                          probabilities=clip, genres=self.genres, n_segments=len(segments),
                          duration=len(y) / self.sr, seconds=seconds, segment_probabilities=segments)

    def predict_file(self, path, top: int = 3) -> Prediction:
        """Read, check and classify one audio file (see :func:`read_clip`)."""
        t0 = time.perf_counter()
        y = read_clip(path, sr=self.sr, max_seconds=self.max_seconds)
        t1 = time.perf_counter()
        result = self.predict_signal(y, name=f"audio file {path}", top=top)
        result.path = str(path)
        result.seconds = {"load": t1 - t0, **result.seconds, "total": time.perf_counter() - t0}
        return result


def _classify(predictor: GenrePredictor, path, top: int, errors: tuple = (DataError, OSError)) -> Prediction:
    """One file's :class:`Prediction`; one of ``errors`` becomes its ``error`` (the command keeps every exception there, so that no file ends the run)."""
    try:
        return predictor.predict_file(path, top=top)
    except errors as error:
        message = str(error) if isinstance(error, (DataError, OSError)) else \
            f"audio file {path} could not be classified ({type(error).__name__}: {error})"
        return Prediction(path=str(path), error=message)


def predict_files(paths, bundle=None, top: int = 3, engine: str = "auto", on_error: str = "raise",
                  predictor: GenrePredictor | None = None) -> list[Prediction]:
    """Classify audio files with a saved bundle: the top genres of each.

    Explained in chapter *Beyond* ("Classify your own clip").

    Parameters
    ----------
    paths : path or sequence of paths
        Audio files in any format :func:`helpers.audio.load_clip` reads (wav, flac, ogg, mp3 ...), any
        sample rate, mono or stereo, at least one segment and at most :data:`MAX_SECONDS` long.
    bundle : path, optional
        Bundle stem (default: :data:`DEFAULT_MODEL`'s, the musicnn probe).
    top : int
        How many genres to list.
    engine : {'auto', 'numpy', 'keras'}
        See :class:`GenrePredictor`.
    on_error : {'raise', 'keep'}
        ``'raise'``: the first unusable file raises ``DataError``; ``'keep'``: it gets a
        :class:`Prediction` with ``error`` set and the other files are still classified.
    predictor : GenrePredictor, optional
        An already loaded predictor (then ``bundle`` and ``engine`` are ignored).

    Returns
    -------
    list of Prediction
        In the order of ``paths``.
    """
    if on_error not in ("raise", "keep"):
        raise ParameterError(f"on_error must be 'raise' or 'keep', got {on_error!r}")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    predictor = predictor or GenrePredictor(bundle, engine=engine)
    if on_error == "raise":
        return [predictor.predict_file(path, top=top) for path in paths]
    return [_classify(predictor, path, top) for path in paths]


# ---------------------------------------------------------------------------------------------
# Many files: folders, all cores, results streamed to a JSON-lines file, resumable
# ---------------------------------------------------------------------------------------------

#: File suffixes taken from a folder given on the command line.
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
                  ".snd", ".caf", ".w64", ".m4a", ".aac", ".wma", ".webm")


def expand_inputs(items) -> list[str]:
    """Files as given, and every audio file (:data:`AUDIO_SUFFIXES`) under each folder, sorted."""
    paths = []
    for item in items:
        item = Path(item)
        if item.is_dir():
            paths += sorted(str(p) for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        else:
            paths.append(str(item))
    return paths


def recorded_paths(output) -> set[str]:
    """The paths a JSON-lines output already holds a record for (the files a resumed run skips).

    A last line cut short by an interruption is removed from the file first, so that the next
    record starts on a line of its own; other lines that are not records are ignored.
    """
    output = Path(output)
    if not output.is_file():
        return set()
    data = output.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(output, "r+b") as file:
            file.truncate(end)
    done = set()
    for line in data[:end].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("path"), str):
            done.add(record["path"])
    return done


_WORKER: dict = {}
#: Thread variables of the BLAS libraries: one thread per worker process, which get a core each.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _start_worker(bundle, engine: str, top: int) -> None:
    from helpers import musicnn

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    musicnn.MUSICNN_THREADS = 1  # the worker processes share the cores already
    _WORKER.update(predictor=GenrePredictor(bundle, engine=engine), top=top)


def _classify_in_worker(path: str) -> Prediction:
    return _classify(_WORKER["predictor"], path, _WORKER["top"], errors=(Exception,))


class _SigintIgnored:
    """Ignore Ctrl-C in the main thread inside the block: worker processes started there inherit it."""

    def __enter__(self):
        main = threading.current_thread() is threading.main_thread()
        self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def classify_many(paths, bundle=None, engine: str = "auto", top: int = 3, jobs: int = 1,
                  predictor: GenrePredictor | None = None):
    """Classify many files on ``jobs`` processes; yield each :class:`Prediction` as it is ready.

    Explained in chapter *Beyond* ("Classify your own clip"). Results come in the order they are
    finished (``jobs > 1``), errors as predictions with ``error`` set (any exception of a file).
    Each worker process loads the bundle once and uses one BLAS thread, so ``jobs`` workers share
    the cores without over-subscription; at most ``2 * jobs`` files are in flight. The workers
    ignore Ctrl-C: an interruption reaches this process, which cancels the files not started.
    """
    paths = list(paths)
    if jobs == 1 or len(paths) <= 1:
        predictor = predictor or GenrePredictor(bundle, engine=engine)
        for path in paths:
            yield _classify(predictor, path, top, errors=(Exception,))
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))  # read by the workers' BLAS when they start
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                                 initargs=(bundle, engine, top)) as pool:
            pending, queue = set(), iter(paths)
            try:
                with _SigintIgnored():  # the first submissions start every worker process
                    for path in queue:
                        pending.add(pool.submit(_classify_in_worker, path))
                        if len(pending) >= jobs:
                            break
                for path in queue:
                    pending.add(pool.submit(_classify_in_worker, path))
                    if len(pending) >= 2 * jobs:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        yield from (future.result() for future in done)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
            except BaseException:  # Ctrl-C or the consumer stopped: drop the files not started
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------------------------------
# The command: output that may fail, Ctrl-C, no traceback
# ---------------------------------------------------------------------------------------------


class _OutputFailed(Exception):
    """Standard output could not take the results (closed, full, a reader that went away)."""

    def __init__(self, reason: str | None):
        super().__init__(reason)
        self.reason = reason


def _say(line: str) -> None:
    """Write one whole line of results to standard output and flush it."""
    stream = sys.stdout
    if stream is None:
        raise _OutputFailed("standard output is closed")
    try:
        stream.write(line + "\n")  # one write: a line is whole or absent, even when interrupted
        stream.flush()
    except BrokenPipeError:  # the reader closed the output (e.g. `| head -1`): stop quietly
        raise _OutputFailed(None) from None
    except (OSError, ValueError) as error:
        raise _OutputFailed(getattr(error, "strerror", None) or str(error)) from None


def _note(line: str) -> None:
    """Write one escaped line to standard error, if there is one that works."""
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(printable(line) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _quiet_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that Python's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _process_seconds() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None elsewhere."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = float(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genre-predict",
        description="Print the top genres of audio files with the book's saved GTZAN model "
        "(default: a linear probe on pretrained musicnn embeddings over 3 s patches; --model cnn: "
        "chapter 8's CNN, probabilities averaged over 6 s segments). Exit status: 0 all files classified, "
        "1 a file could not be classified (the others still are) or the output could not be written, "
        "2 bad model bundle or arguments, 130 interrupted.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER",
                        help=f"audio files (wav, flac, ogg, mp3...; 3 s (probe) or 6 s (cnn) to {MAX_SECONDS:g} s), "
                        "or folders (every audio file in them)")
    parser.add_argument("--model", choices=MODELS, default=None,
                        help=f"which shipped model answers (default {DEFAULT_MODEL}: the linear probe on "
                        "musicnn embeddings; cnn: chapter 8's CNN on MFCCs)")
    parser.add_argument("--bundle", default=None, help="model bundle stem (overrides --model)")
    parser.add_argument("--top", type=_positive_int, default=3, help="how many genres to print (default 3)")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="'numpy' runs the network without TensorFlow (fast start); 'auto' falls back to Keras")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per input (errors included, a bad bundle too) instead of text")
    parser.add_argument("--timing", action="store_true", help="print measured timings to stderr")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes (-1: one per CPU core); results come as files finish")
    parser.add_argument("--output", default=None, metavar="FILE.jsonl",
                        help="append one JSON line per file to FILE (a progress bar on stderr); files already "
                        "recorded there are skipped, so an interrupted run resumes where it stopped")
    return parser


def _timing_line(result: Prediction, first: bool, started: float | None, t_start: float) -> str:
    s = result.seconds
    line = (f"timing: {result.path}: load {s['load']:.3f} s, features {s['features']:.3f} s, "
            f"predict {s['predict']:.3f} s, total {s['total']:.3f} s")
    if first:
        elapsed = time.perf_counter() - t_start
        line += f"; first result {elapsed:.2f} s after start-up"
        if started is not None:
            line += f" ({started + elapsed:.2f} s since the process started)"
    return line


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="file", desc="genre-predict", file=sys.stderr, mininterval=1.0)


def _run(args, paths: list[str], bundle, predictor: GenrePredictor, started: float | None, t_start: float) -> int:  # noqa: C901 (issue 27: split when next touched)
    """Classify ``paths`` and write each result as it comes: text or JSON lines on standard output, or JSON lines appended to ``--output`` (skipping the files it already records)."""
    skipped = 0
    if args.output:
        done = recorded_paths(args.output)
        skipped = sum(path in done for path in paths)
        paths = [path for path in paths if path not in done]
    jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    results = classify_many(paths, bundle, args.engine, args.top, min(jobs, max(len(paths), 1)), predictor)
    bar = _progress_bar(len(paths)) if args.output and paths else None
    records = open(args.output, "a", encoding="utf-8") if args.output else None
    failed = 0
    try:
        for index, result in enumerate(results):
            failed += bool(result.error)
            if records is not None:
                records.write(json_record(result) + "\n")  # one write per record: a line is whole or absent
                records.flush()
            else:
                if result.error:
                    _note(f"error: {result.error}")
                if args.json:
                    _say(json_record(result))
                elif not result.error:
                    _say(str(result))
            if args.timing and not result.error:
                _note(_timing_line(result, index == 0, started, t_start))
            if bar is not None:
                bar.update(1)
    finally:
        results.close()
        if bar is not None:
            bar.close()
        if records is not None:
            records.close()
    if args.output:
        _note(f"{len(paths)} file(s) classified into {args.output} ({failed} with an error)"
              + (f"; {skipped} already there, skipped" if skipped else ""))
    if args.timing:
        line = f"timing: engine {predictor.engine}; bundle loaded in {predictor.load_seconds:.3f} s"
        if started is not None:
            line += f"; process start to main() {started:.2f} s"
        total = _process_seconds()
        if total is not None:
            line += f"; total {total:.2f} s"
        _note(line)
    return 1 if failed else 0


def _command(args, started: float | None, t_start: float) -> int:
    if args.jobs == 0 or args.jobs < -1:
        _note(f"error: --jobs must be -1 or a positive number, got {args.jobs}")
        return 2
    if sys.stdout is None and not args.output:
        _note("error: standard output is closed, so no result could be printed (give --output FILE.jsonl)")
        return 1
    if hasattr(sys.stdout, "reconfigure"):  # any genre name prints, whatever the terminal's encoding
        sys.stdout.reconfigure(errors="backslashreplace")
    paths = expand_inputs(args.files)
    bundle = args.bundle if args.bundle is not None else model_bundle(args.model or DEFAULT_MODEL)
    try:
        predictor = GenrePredictor(bundle, engine=args.engine)
    except Exception as error:  # DataError for a bad bundle; anything else still gets one line
        message = str(error) if isinstance(error, (DataError, NotImplementedError)) else \
            f"model bundle {bundle} could not be loaded ({type(error).__name__}: {error})"
        _note(f"error: {message}")
        if args.json and not args.output:  # a record per input, as a script reading --json expects
            try:
                for path in paths:
                    _say(json_record(Prediction(path=path, error=message)))
            except _OutputFailed:
                _quiet_stdout()
        return 2
    if args.output:
        try:
            recorded_paths(args.output)
            open(args.output, "a", encoding="utf-8").close()
        except OSError as error:
            _note(f"error: --output {args.output} cannot be written ({error.strerror or error})")
            return 2
    return _run(args, paths, bundle, predictor, started, t_start)


def main(argv=None) -> int:
    """Command-line entry point: ``genre-predict FILE [FILE ...]`` (chapter *Beyond*).

    Returns the exit status (see the module docstring); never raises, never prints a traceback.
    """
    started = _process_seconds()
    t_start = time.perf_counter()
    args = _parser().parse_args(argv)  # bad arguments: argparse prints the usage and exits 2
    try:
        return _command(args, started, t_start)
    except KeyboardInterrupt:
        resume = f"; run the same command again to resume into {args.output}" if args.output else \
            "; the lines printed before are complete"
        _note(f"genre-predict: interrupted{resume}")
        return INTERRUPTED
    except _OutputFailed as failure:
        if failure.reason:
            _note(f"error: the results could not be written to standard output ({failure.reason})")
        _quiet_stdout()
        return 1
    except Exception as error:  # a bug: one line instead of a traceback
        _note(f"genre-predict: internal error ({type(error).__name__}: {error}); please report it")
        return 1


if __name__ == "__main__":
    sys.exit(main())
