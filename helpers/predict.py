"""Classify your own clip: ``python -m helpers.predict FILE [FILE ...]`` (console script ``genre-predict``).

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), section "Classify your own clip".

Two models can answer (``--model``): ``probe`` (the default: chapter 10's linear probe on the
pretrained musicnn network's embeddings, bundle ``helpers/bundled/musicnn_probe.json`` written by
``tools/train_probe_bundle.py``; every clip is scaled to a fixed RMS level first, as in training,
so loudness does not decide the genre; musicnn runs in NumPy, :class:`helpers.engine.MusicnnNumpy`)
and ``cnn`` (chapter 8's CNN, described below). ``--bundle`` names any other bundle.

The CNN path loads the book's saved model bundle (:func:`helpers.config.default_bundle`, see
:mod:`helpers.bundle`), reads any audio file librosa can read (any sample rate → resampled to the
model's rate; stereo → mono; at least one 6 s segment, at most :data:`MAX_SECONDS`), cuts it into
the model's segments with the *same* feature code that trained the model
(:func:`helpers.features.clip_features`), standardizes them with the stored training statistics,
and prints the top-3 genres with the probabilities averaged over the segments. The network runs in
NumPy (:class:`helpers.engine.NumpyModel`), without importing TensorFlow, when it is made of the
layers the book builds; otherwise Keras runs it (``engine='keras'`` forces that path).

Exit status: 0 if every file was classified; 1 if at least one file could not be (its error names
the file, and the other files are still classified), or if the output was closed early (e.g.
``genre-predict ... | head -1``); 2 for a missing or invalid model bundle or bad arguments.
With ``--json`` every input gets one JSON line (see :func:`json_record`).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.audio import load_mono
from helpers.backend import native_stderr_silenced
from helpers.bundle import PROBE_KIND, load_bundle, read_bundle_info
from helpers.config import BUNDLED_DIR, default_bundle
from helpers.engine import MusicnnNumpy, NumpyModel, musicnn_patch_embeddings, probe_probabilities
from helpers.errors import DataError, ParameterError
from helpers.features import clip_features

ENGINES = ("auto", "numpy", "keras")
#: The models ``--model`` chooses between, and the default (see the README, "Classify your own clip",
#: for the validation-track evidence behind it).
MODELS = ("probe", "cnn")
DEFAULT_MODEL = "probe"
#: File stem of the probe bundle shipped as package data.
PROBE_BUNDLE_NAME = "musicnn_probe"


def model_bundle(model: str = DEFAULT_MODEL) -> Path:
    """The bundle stem of a ``--model`` name: the shipped probe, or the CNN of
    :func:`helpers.config.default_bundle`."""
    if model not in MODELS:
        raise ParameterError(f"model must be one of {MODELS}, got {model!r}")
    return BUNDLED_DIR / PROBE_BUNDLE_NAME if model == "probe" else default_bundle()
#: Longest input the command reads (10 minutes): about 53 MB of float32 samples at 22,050 Hz.
#: Longer files are refused before they are decoded (cut them first, e.g. ``ffmpeg -t 600``).
MAX_SECONDS = 600.0
#: A decoded MP3 may fall this many seconds short of its header's duration (encoder padding).
_TRUNCATION_TOLERANCE = 0.5


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


def _declared_seconds(path: Path) -> float | None:
    """The duration a file's header declares (libsndfile's reading of it), or None if it cannot tell."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, struct.error):
        return None
    return info.frames / info.samplerate if info.samplerate and info.frames > 0 else None


def read_clip(path, sr: int, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Read one file for the command: :func:`helpers.audio.load_mono` plus the checks a user's file needs.

    Explained in chapter *Beyond*. Refuses a file longer than ``max_seconds`` before decoding it
    (bounded memory), and a truncated compressed file that would otherwise be classified on what
    remains: an MP3 whose decoded length falls short of its header's duration, an Ogg file without
    its end-of-stream page. The decoder's own messages on standard error (mpg123's "Xing stream
    size off ...") are silenced; every problem becomes a :class:`DataError` naming the file.
    """
    path = Path(path)
    with native_stderr_silenced():
        declared = _declared_seconds(path) if path.is_file() else None
        if declared is not None and declared > max_seconds:
            raise DataError(f"audio file {path} is {declared:.1f} s long; the command reads files of at most "
                            f"{max_seconds:g} s (cut it first, e.g. ffmpeg -i IN -t {max_seconds:g} OUT)")
        y = load_mono(path, sr=sr)
    seconds = len(y) / sr
    if seconds > max_seconds:
        raise DataError(f"audio file {path} is {seconds:.1f} s long; the command reads files of at most {max_seconds:g} s")
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
# The predictor
# ---------------------------------------------------------------------------------------------


class _KerasMusicnn:
    """musicnn through Keras (:func:`helpers.musicnn.load_musicnn`), with :class:`MusicnnNumpy`'s ``predict``."""

    def __init__(self, variant: str):
        from helpers.musicnn import load_musicnn

        self.net = load_musicnn(variant)

    def predict(self, patches) -> dict:
        out = self.net.predict_on_batch(np.asarray(patches, dtype=np.float32))
        return {k: np.asarray(v) for k, v in out.items()}


class _ProbeModel:
    """A ``musicnn-probe`` bundle applied to a signal at 16 kHz: per-patch and clip probabilities."""

    def __init__(self, info: dict, engine: str):
        self.info, net = info, info["musicnn"]
        self.network = MusicnnNumpy(info["weights_path"]) if engine != "keras" else _KerasMusicnn(net["variant"])

    def probabilities(self, y, sr: int, timings: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(clip probabilities (n_genres,), per-patch probabilities (n_patches, n_genres))``;
        ``timings`` receives the seconds of ``features`` and ``predict``."""
        net, probe = self.info["musicnn"], self.info["probe_arrays"]
        per_patch = musicnn_patch_embeddings(y, sr, self.network, net["layer"], net["target_rms"], timings)
        pooled = per_patch.mean(axis=0) if net["pooling"] == "mean" else per_patch.max(axis=0)
        clip = probe_probabilities(pooled[np.newaxis], probe)[0]
        return clip.astype(np.float32), probe_probabilities(per_patch, probe).astype(np.float32)


class _KerasModel:
    """Keras-backed model with the same ``predict`` as :class:`helpers.engine.NumpyModel`."""

    def __init__(self, model):
        self.model = model
        self.input_rank = len(model.input_shape)

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float32), batch_size=256, verbose=0))


@dataclass
class Prediction:
    """The result for one file (chapter *Beyond*).

    Attributes
    ----------
    path : str
    top : list of (str, float)
        The best genres with their mean probabilities, best first.
    probabilities : numpy.ndarray
        Mean probability of every genre over the segments (order of ``genres``).
    genres : tuple of str
    n_segments : int
        Segments the file was cut into.
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
        if self.error:
            return f"{self.path}: error: {self.error}"
        lines = [f"{self.path}  ({self.duration:.1f} s, {self.n_segments} segment{'s' * (self.n_segments != 1)})"]
        width = max(len(g) for g, _ in self.top)
        for rank, (genre, p) in enumerate(self.top, start=1):
            lines.append(f"  {rank}. {genre:<{width}}  {100 * p:5.1f} %")
        return "\n".join(lines)


def json_record(result: Prediction) -> str:
    """One line of ``--json`` output (chapter *Beyond*): valid JSON, never ``NaN``.

    ``{"path": ..., "error": null, "top": [[genre, probability], ...], "segments": n, "duration_s": s}``
    for a classified file; ``{"path": ..., "error": "<message>", "top": [], "segments": 0,
    "duration_s": null}`` for a file that could not be classified.
    """
    record = {"path": result.path, "error": result.error,
              "top": [[genre, round(float(p), 6)] for genre, p in result.top],
              "segments": result.n_segments,
              "duration_s": None if result.error else round(result.duration, 3)}
    return json.dumps(record, allow_nan=False)


class GenrePredictor:
    """A loaded, validated bundle that classifies files or signals (chapter *Beyond*).

    Parameters
    ----------
    bundle : path, optional
        Stem of the bundle (default :func:`helpers.config.default_bundle`).
    engine : {'auto', 'numpy', 'keras'}
        ``'auto'``: :class:`helpers.engine.NumpyModel` when it supports every layer, else Keras.
    max_segments : int, optional
        Cap on the segments read from a long file (default: all whole segments).
    max_seconds : float
        Longest file :meth:`predict_file` reads (default :data:`MAX_SECONDS`).

    Attributes
    ----------
    info : dict
        The bundle description (:func:`helpers.bundle.read_bundle_info`).
    engine : str
        The engine in use (``'numpy'`` or ``'keras'``).
    load_seconds : float
        Time to read the bundle.

    Raises
    ------
    DataError
        For a missing or invalid bundle (the message names the bundle and the problem).
    """

    def __init__(self, bundle=None, engine: str = "auto", max_segments: int | None = None,
                 max_seconds: float = MAX_SECONDS):
        if engine not in ENGINES:
            raise ParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
        if not max_seconds > 0:
            raise ParameterError(f"max_seconds must be positive, got {max_seconds!r}")
        start = time.perf_counter()
        self.info = read_bundle_info(bundle if bundle is not None else model_bundle(DEFAULT_MODEL))
        self.kind = self.info["kind"]
        self.genres = tuple(self.info["genres"])
        self.max_segments = max_segments
        self.max_seconds = max_seconds
        self.model = None
        if self.kind == PROBE_KIND:
            from helpers.musicnn import SR

            self.config, self.sr = None, SR
            self.model = _ProbeModel(self.info, engine)
            self.engine = "keras" if engine == "keras" else "numpy"
            self.load_seconds = time.perf_counter() - start
            return
        self.config = self.info["features"]
        self.sr = self.config.sr
        if engine in ("auto", "numpy"):
            try:
                self.model = NumpyModel(self.info["keras_path"])
                self.engine = "numpy"
            except NotImplementedError:
                if engine == "numpy":
                    raise
            if self.model is not None:
                self._check_network(list(self.model.input_shape[1:]), self.model.output_shape[-1])
        if self.model is None:
            model, _ = load_bundle(self.info["keras_path"])
            self.model = _KerasModel(model)
            self.engine = "keras"
        self.load_seconds = time.perf_counter() - start

    def _check_network(self, input_shape: list, width: int) -> None:
        if input_shape != self.info["input_shape"] or width != len(self.genres):
            raise DataError(f"model bundle {self.info['keras_path']}: the network maps {input_shape} to {width} "
                            f"outputs; the description says {self.info['input_shape']} and {len(self.genres)} genres")

    def _predict_probe(self, y, name: str, top: int) -> Prediction:
        from helpers.musicnn import PATCH_SECONDS

        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.float32)
        if len(y) < PATCH_SECONDS * self.sr:
            raise DataError(f"{name} is {len(y)} samples long at {self.sr} Hz, shorter than one segment "
                            f"({PATCH_SECONDS:.3f} s: one musicnn patch)")
        if self.max_segments is not None:
            y = y[: int(np.ceil((self.max_segments * PATCH_SECONDS + 0.1) * self.sr))]
        timings = {}
        mean, probs = self.model.probabilities(y, self.sr, timings)
        timings["predict"] += time.perf_counter() - t0 - sum(timings.values())  # the probe itself
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(probs))):
            raise DataError(f"{name}: the probe gave non-finite probabilities (check the bundle)")
        order = np.argsort(-mean, kind="stable")[: max(1, int(top))]
        return Prediction(path=str(name), top=[(self.genres[i], float(mean[i])) for i in order],
                          probabilities=mean, genres=self.genres, n_segments=len(probs),
                          duration=len(y) / self.sr, seconds=timings,
                          segment_probabilities=probs)

    def predict_signal(self, y, name: str = "signal", top: int = 3) -> Prediction:
        """Classify a mono signal already at the model's sample rate (:attr:`sr`).

        For the CNN: probabilities averaged over its 6 s segments. For the probe: the probe on the
        clip's mean (or max) musicnn embedding over its 3 s patches; ``segment_probabilities``
        are then the probe applied to each patch's embedding (for looking; they are not averaged).
        """
        if self.kind == PROBE_KIND:
            return self._predict_probe(y, name, top)
        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.float32)
        need = self.config.segment_samples
        if len(y) < need:
            raise DataError(f"{name} is {len(y)} samples long at {self.config.sr} Hz, shorter than one segment "
                            f"({need} samples, {need / self.config.sr:g} s)")
        limit = self.max_segments if self.max_segments is not None else len(y) // need
        X = clip_features(y, self.config, max_segments=limit)
        if self.info["mean"] is not None:
            X = (X - self.info["mean"]) / self.info["std"]
        if self.model.input_rank == X.ndim + 1:
            X = X[..., np.newaxis]
        t1 = time.perf_counter()
        probs = self.model.predict(X)
        t2 = time.perf_counter()
        if not np.all(np.isfinite(probs)):
            raise DataError(f"{name}: the network gave non-finite probabilities (check the bundle "
                            f"{self.info['keras_path']})")
        mean = probs.mean(axis=0)
        order = np.argsort(-mean, kind="stable")[: max(1, int(top))]
        return Prediction(
            path=str(name),
            top=[(self.genres[i], float(mean[i])) for i in order],
            probabilities=mean,
            genres=self.genres,
            n_segments=len(X),
            duration=len(y) / self.config.sr,
            seconds={"features": t1 - t0, "predict": t2 - t1},
            segment_probabilities=probs,
        )

    def predict_file(self, path, top: int = 3) -> Prediction:
        """Read, check and classify one audio file (see :func:`read_clip`)."""
        t0 = time.perf_counter()
        y = read_clip(path, sr=self.sr, max_seconds=self.max_seconds)
        t1 = time.perf_counter()
        result = self.predict_signal(y, name=f"audio file {path}", top=top)
        result.path = str(path)
        result.seconds = {"load": t1 - t0, **result.seconds, "total": time.perf_counter() - t0}
        return result


def predict_files(paths, bundle=None, top: int = 3, engine: str = "auto", on_error: str = "raise",
                  predictor: GenrePredictor | None = None) -> list[Prediction]:
    """Classify audio files with a saved bundle: top genres, probabilities averaged over segments.

    Explained in chapter *Beyond* ("Classify your own clip").

    Parameters
    ----------
    paths : path or sequence of paths
        Audio files in any format librosa reads (wav, flac, ogg, mp3 ...), any sample rate,
        mono or stereo, at least one segment (6 s) and at most :data:`MAX_SECONDS` long.
    bundle : path, optional
        Bundle stem (default :func:`helpers.config.default_bundle`).
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
    if isinstance(paths, (str, Path)):
        paths = [paths]
    predictor = predictor or GenrePredictor(bundle, engine=engine)
    results = []
    for path in paths:
        try:
            results.append(predictor.predict_file(path, top=top))
        except (DataError, OSError) as error:
            if on_error == "raise":
                raise
            results.append(Prediction(path=str(path), error=str(error)))
    return results


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


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
        "1 a file could not be classified (the others still are), 2 bad model bundle or arguments.",
    )
    parser.add_argument("files", nargs="+",
                        help=f"audio files (wav, flac, ogg, mp3...; 3 s (probe) or 6 s (cnn) to {MAX_SECONDS:g} s)")
    parser.add_argument("--model", choices=MODELS, default=None,
                        help=f"which shipped model answers (default {DEFAULT_MODEL}: the linear probe on "
                        "musicnn embeddings; cnn: chapter 8's CNN on MFCCs)")
    parser.add_argument("--bundle", default=None, help="model bundle stem (overrides --model)")
    parser.add_argument("--top", type=_positive_int, default=3, help="how many genres to print (default 3)")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="'numpy' runs the network without TensorFlow (fast start); 'auto' falls back to Keras")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per file (errors included) instead of text")
    parser.add_argument("--timing", action="store_true", help="print measured timings to stderr")
    return parser


def _run(args, predictor: GenrePredictor, started: float | None, t_start: float) -> int:
    failed = 0
    for index, path in enumerate(args.files):
        [result] = predict_files([path], top=args.top, on_error="keep", predictor=predictor)
        if result.error:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr)
        if args.json:
            print(json_record(result))
        elif not result.error:
            print(result)
        sys.stdout.flush()
        if args.timing and not result.error:
            s = result.seconds
            line = (f"timing: {path}: load {s['load']:.3f} s, features {s['features']:.3f} s, "
                    f"predict {s['predict']:.3f} s, total {s['total']:.3f} s")
            if index == 0:
                elapsed = time.perf_counter() - t_start
                line += f"; first result {elapsed:.2f} s after start-up"
                if started is not None:
                    line += f" ({started + elapsed:.2f} s since the process started)"
            print(line, file=sys.stderr)
    if args.timing:
        startup = f"timing: engine {predictor.engine}; bundle loaded in {predictor.load_seconds:.3f} s"
        if started is not None:
            startup += f"; process start to main() {started:.2f} s"
        total = _process_seconds()
        if total is not None:
            startup += f"; total {total:.2f} s"
        print(startup, file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    """Command-line entry point: ``genre-predict FILE [FILE ...]`` (chapter *Beyond*)."""
    started = _process_seconds()
    t_start = time.perf_counter()
    args = _parser().parse_args(argv)  # bad arguments: argparse prints the usage and exits 2
    try:
        bundle = args.bundle if args.bundle is not None else model_bundle(args.model or DEFAULT_MODEL)
        predictor = GenrePredictor(bundle, engine=args.engine)
    except (DataError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return _run(args, predictor, started, t_start)
    except BrokenPipeError:  # the reader closed the output (e.g. `| head -1`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError when Python flushes at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
