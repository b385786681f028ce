"""Classify your own clip: ``python -m helpers.predict FILE [FILE ...]`` (console script ``genre-predict``).

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), section "Classify your own clip".

The command loads the book's saved model bundle (default ``models/gtzan_cnn``, see
:mod:`helpers.bundle`), reads any audio file librosa can read (any sample rate → resampled to the
model's rate; stereo → mono; any length of at least one segment), cuts it into the model's
6 s segments with the *same* feature code that trained the model
(:func:`helpers.features.clip_features`), standardizes them with the stored training statistics,
and prints the top-3 genres with the probabilities averaged over the segments.

Why it starts fast
------------------
Importing TensorFlow takes about 4–10 s on a small CPU machine — longer than everything else
together. The saved ``.keras`` file is a zip holding the network's architecture (``config.json``)
and weights (``model.weights.h5``); for the layer types of the book's CNNs (convolution, pooling,
batch normalization, dense, ...) :class:`NumpyModel` reads both and runs the forward pass in NumPy,
without TensorFlow. Its outputs equal Keras' to float32 rounding (tested in
``tests/test_predict.py``). A model with any other layer falls back to Keras (``engine='keras'``
forces that path). Heavy imports (librosa, h5py) happen only when needed.

Exit status of the command: 0 if every file was classified, 1 if at least one file could not be
(its error is printed, naming the file, and the other files are still classified), 2 for a
missing or broken model bundle or bad arguments.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: The bundle the command uses unless ``--bundle`` says otherwise.
DEFAULT_BUNDLE = REPO / "models" / "gtzan_cnn"
#: A signal whose peak amplitude is below this is called silent (about -80 dBFS).
SILENCE_PEAK = 1e-4
ENGINES = ("auto", "numpy", "keras")


def _data_error():
    from helpers.errors import DataError

    return DataError


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------


def load_mono(path, sr: int = 22050, min_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as mono float32 at ``sr`` Hz and refuse silence (chapter *Beyond*).

    :func:`helpers.audio.load_clip` (chapter *GTZAN*) does the reading and its checks: any format
    libsndfile reads (plus audioread's for a few others), any sample rate resampled to ``sr``,
    any channel count mixed down to mono. This adds the check for silent input, which a classifier
    would otherwise answer with a confident genre.

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
        If the file does not exist, cannot be decoded (not audio, corrupt), is shorter than
        ``min_seconds`` or is silent — the message names the file.
    """
    from helpers.audio import load_clip

    DataError = _data_error()
    y = load_clip(path, sr=sr, mono=True, min_seconds=min_seconds)
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise DataError(f"audio file {path} is silent (peak amplitude below {SILENCE_PEAK:g}, about -80 dBFS)")
    return y


# ---------------------------------------------------------------------------------------------
# A NumPy forward pass for Keras models made of common layers
# ---------------------------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    """Keras' own ``to_snake_case`` (names of the layers' groups in ``model.weights.h5``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


_ACTIVATIONS = {
    "linear": lambda x: x,
    None: lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": _softmax,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "softplus": lambda x: np.logaddexp(0, x),
}


def _activation(config) -> callable:
    name = config.get("activation", "linear")
    if isinstance(name, dict):  # a serialized activation object
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name not in _ACTIVATIONS:
        raise NotImplementedError(f"activation {name!r}")
    return _ACTIVATIONS[name]


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _windows(x, kernel, strides, padding, fill):
    """Sliding (kh, kw) windows over axes 1, 2 of a (n, h, w, c) array, with TF's padding rules."""
    kh, kw = kernel
    sh, sw = strides
    if padding == "same":
        ph, pw = _same_pad(x.shape[1], kh, sh), _same_pad(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=fill)
    elif padding != "valid":
        raise NotImplementedError(f"padding {padding!r}")
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return view[:, ::sh, ::sw]  # (n, h', w', c, kh, kw)


def _conv2d(x, weights, config):
    if config.get("data_format", "channels_last") != "channels_last" or tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1:
        raise NotImplementedError("Conv2D with dilation, groups or channels_first")
    kernel = weights[0]
    win = _windows(x, tuple(config["kernel_size"]), tuple(config["strides"]), config["padding"], 0.0)
    out = np.tensordot(win, kernel, axes=([3, 4, 5], [2, 0, 1]))
    if config.get("use_bias", True):
        out = out + weights[1]
    return _activation(config)(out)


def _pool2d(x, config, reduce):
    if config.get("data_format", "channels_last") != "channels_last":
        raise NotImplementedError("pooling with channels_first")
    pool = tuple(config["pool_size"])
    strides = tuple(config["strides"] or pool)
    if reduce == "max":
        win = _windows(x, pool, strides, config["padding"], -np.inf)
        return win.max(axis=(4, 5))
    win = _windows(x.astype(np.float64), pool, strides, config["padding"], np.nan)
    return np.nanmean(win, axis=(4, 5)).astype(np.float32)  # TF averages the valid cells only


def _batchnorm(x, weights, config):
    axis = config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if axis not in (-1, x.ndim - 1):
        raise NotImplementedError(f"BatchNormalization on axis {axis}")
    weights = list(weights)
    gamma = weights.pop(0) if config.get("scale", True) else 1.0
    beta = weights.pop(0) if config.get("center", True) else 0.0
    mean, var = weights[0], weights[1]
    return (x - mean) / np.sqrt(var + config["epsilon"]) * gamma + beta


def _normalization(x, weights, config):
    if config.get("invert"):
        raise NotImplementedError("Normalization(invert=True)")
    axis = config.get("axis", -1)
    axis = tuple(axis) if isinstance(axis, list) else (axis,)
    if config.get("mean") is not None:
        mean = np.asarray(config["mean"], dtype=np.float32)
        var = np.asarray(config["variance"], dtype=np.float32)
    else:
        mean, var = weights[0], weights[1]
    shape = [1] * x.ndim
    for a in axis:
        shape[a] = x.shape[a]
    mean, var = np.reshape(mean, shape), np.reshape(var, shape)
    return (x - mean) / np.maximum(np.sqrt(var), 1e-7)


def _dense(x, weights, config):
    out = x @ weights[0]
    if config.get("use_bias", True):
        out = out + weights[1]
    return _activation(config)(out)


def _as_2d(config: dict, keys: tuple[str, ...]) -> dict:
    """A 1-D layer's config as the equivalent 2-D one (width 1)."""
    out = dict(config)
    for key in keys:
        if out.get(key) is not None:
            out[key] = (int(np.ravel(out[key])[0]), 1)
    if out.get("padding") == "causal":
        raise NotImplementedError("causal padding")
    return out


def _conv1d(x, weights, config):
    if tuple(np.ravel(config.get("dilation_rate", 1))) != (1,):
        raise NotImplementedError("Conv1D with dilation")
    weights = [weights[0][:, np.newaxis]] + list(weights[1:])  # (k, c, f) → (k, 1, c, f)
    conv = _as_2d(config, ("kernel_size", "strides"))
    conv["dilation_rate"] = (1, 1)
    return _conv2d(x[:, :, np.newaxis], weights, conv)[:, :, 0]


def _pool1d(x, config, reduce):
    return _pool2d(x[:, :, np.newaxis], _as_2d(config, ("pool_size", "strides")), reduce)[:, :, 0]


def _cropping1d(x, config):
    a, b = config["cropping"]
    return x[:, a : x.shape[1] - b]


def _apply(kind: str, config: dict, weights: list, inputs: list) -> np.ndarray:
    x = inputs[0]
    if kind == "Concatenate":
        return np.concatenate(inputs, axis=config.get("axis", -1))
    if len(inputs) != 1:
        raise NotImplementedError(f"{kind} with {len(inputs)} inputs")
    if kind in ("InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                "GaussianDropout", "AlphaDropout", "ActivityRegularization"):
        return x
    if kind == "Conv2D":
        return _conv2d(x, weights, config)
    if kind == "Conv1D":
        return _conv1d(x, weights, config)
    if kind == "MaxPooling1D":
        return _pool1d(x, config, "max")
    if kind == "AveragePooling1D":
        return _pool1d(x, config, "mean")
    if kind == "MaxPooling2D":
        return _pool2d(x, config, "max")
    if kind == "AveragePooling2D":
        return _pool2d(x, config, "mean")
    if kind == "BatchNormalization":
        return _batchnorm(x, weights, config)
    if kind == "Normalization":
        return _normalization(x, weights, config)
    if kind == "Dense":
        return _dense(x, weights, config)
    if kind == "Flatten":
        return x.reshape(len(x), -1)
    if kind == "Reshape":
        return x.reshape(len(x), *config["target_shape"])
    if kind == "Cropping1D":
        return _cropping1d(x, config)
    if kind == "Activation":
        return _activation(config)(x)
    if kind == "ReLU" and not config.get("negative_slope") and config.get("max_value") is None and not config.get("threshold"):
        return np.maximum(x, 0)
    if kind == "Softmax":
        return _softmax(x, axis=config.get("axis", -1))
    if kind in ("GlobalAveragePooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D"):
        if config.get("keepdims") or config.get("data_format", "channels_last") != "channels_last":
            raise NotImplementedError(f"{kind} with keepdims or channels_first")
        axes = tuple(range(1, x.ndim - 1))
        return x.mean(axis=axes) if "Average" in kind else x.max(axis=axes)
    raise NotImplementedError(f"layer type {kind}")


class NumpyModel:
    """Run a saved ``.keras`` model in NumPy, without importing TensorFlow (chapter *Beyond*).

    Supports ``Sequential`` and single-output functional models made of Conv1D/2D, MaxPooling1D/2D,
    AveragePooling1D/2D, BatchNormalization, Normalization, Dense, Dropout, Flatten, Reshape,
    Cropping1D, Concatenate, Activation/ReLU/Softmax and global pooling layers (channels-last);
    anything else raises ``NotImplementedError`` when the file is opened, so callers can fall back
    to Keras.

    Parameters
    ----------
    keras_path : path
        A ``.keras`` file (Keras 3 format).
    """

    def __init__(self, keras_path):
        import h5py

        self.path = Path(keras_path)
        with zipfile.ZipFile(self.path) as archive:
            config = json.loads(archive.read("config.json"))
            weights_file = io.BytesIO(archive.read("model.weights.h5"))
        kind = config.get("class_name")
        spec = config["config"]
        layers = spec["layers"]
        used: dict[str, int] = {}
        self.layers = []  # (name, kind, config, weights, inbound names)
        self.input_shape = None  # with the batch axis, e.g. [None, 259, 13, 1]
        with h5py.File(weights_file, "r") as h5:
            for position, layer in enumerate(layers):
                cls = layer["class_name"]
                if cls in ("Sequential", "Functional", "Model") or layer.get("module", "keras.layers") not in (
                    "keras.layers", None
                ):
                    raise NotImplementedError(f"nested model or custom layer {cls}")
                if self.input_shape is None:
                    self.input_shape = layer["config"].get("batch_shape") or layer.get("build_config", {}).get(
                        "input_shape"
                    )
                if kind == "Sequential" and cls == "InputLayer":
                    continue
                base = _snake_case(cls)
                if base in used:
                    used[base] += 1
                    group = f"{base}_{used[base]}"
                else:
                    used[base] = 0
                    group = base
                weights = []
                path = f"layers/{group}/vars"
                if path in h5:
                    weights = [np.asarray(h5[path][str(i)], dtype=np.float32) for i in range(len(h5[path]))]
                inbound = None
                if kind != "Sequential":
                    inbound = self._inbound(layer)
                name = layer["config"].get("name", f"layer_{position}")
                self.layers.append((name, cls, layer["config"], weights, inbound))
                _apply_check(cls, layer["config"])
        if self.input_shape is None:
            raise NotImplementedError("the model's input shape is not recorded in its config")
        if kind == "Sequential":
            self.inputs, self.outputs = None, None
        else:
            self.inputs = [entry[0] for entry in spec["input_layers"]] if isinstance(spec["input_layers"][0], list) else [spec["input_layers"][0]]
            outputs = spec["output_layers"]
            outputs = outputs if isinstance(outputs[0], list) else [outputs]
            if len(outputs) != 1 or len(self.inputs) != 1:
                raise NotImplementedError("models with several inputs or outputs")
            self.outputs = [outputs[0][0]]

    @staticmethod
    def _inbound(layer) -> list[str]:
        nodes = layer.get("inbound_nodes", [])
        if not nodes:
            return []
        if len(nodes) != 1:
            raise NotImplementedError("shared layers")
        names = []

        def walk(item):
            if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
                names.append(item["config"]["keras_history"][0])
            elif isinstance(item, (list, tuple)):
                for sub in item:
                    walk(sub)

        walk(nodes[0].get("args", []))
        return names

    def predict(self, X) -> np.ndarray:
        """Forward pass in float32; ``X`` shaped like the model input (with batch axis)."""
        x = np.asarray(X, dtype=np.float32)
        if self.inputs is None:
            for _, cls, config, weights, _ in self.layers:
                x = np.asarray(_apply(cls, config, weights, [x]), dtype=np.float32)
            return x
        values = {}
        for name, cls, config, weights, inbound in self.layers:
            if cls == "InputLayer":
                values[name] = x
                continue
            values[name] = np.asarray(_apply(cls, config, weights, [values[n] for n in inbound]), dtype=np.float32)
        return values[self.outputs[0]]

    @property
    def input_rank(self) -> int:
        """Rank of the model input including the batch axis (e.g. 4 for the CNN's (n, 259, 13, 1))."""
        if self.input_shape is None:
            raise NotImplementedError("the model's input shape is not recorded in its config")
        return len(self.input_shape)


_SUPPORTED = {"InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
              "AlphaDropout", "ActivityRegularization", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D",
              "AveragePooling1D", "AveragePooling2D",
              "BatchNormalization", "Normalization", "Dense", "Flatten", "Reshape", "Cropping1D", "Activation",
              "ReLU", "Softmax", "Concatenate", "GlobalAveragePooling2D", "GlobalAveragePooling1D",
              "GlobalMaxPooling2D", "GlobalMaxPooling1D"}


def _apply_check(cls: str, config: dict) -> None:
    if cls not in _SUPPORTED:
        raise NotImplementedError(f"layer type {cls}")
    if cls in ("Conv1D", "Conv2D", "Dense", "Activation"):
        _activation(config)


class _KerasModel:
    """Keras-backed model with the same ``predict`` as :class:`NumpyModel`."""

    def __init__(self, model):
        self.model = model
        self.input_rank = len(model.input_shape)

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float32), batch_size=256, verbose=0))


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


def read_bundle_info(path_stem) -> dict:
    """Read and check a bundle's description without loading the network (chapter *Beyond*).

    See :func:`helpers.bundle.read_bundle_info`; imported lazily so the command starts fast.
    """
    from helpers import bundle

    return bundle.read_bundle_info(path_stem)


class GenrePredictor:
    """A loaded bundle that classifies files or signals (chapter *Beyond*).

    Parameters
    ----------
    bundle : path, optional
        Stem of the bundle (default :data:`DEFAULT_BUNDLE`).
    engine : {'auto', 'numpy', 'keras'}
        ``'auto'``: :class:`NumpyModel` when it supports every layer, else Keras.
    max_segments : int, optional
        Cap on the segments read from a long file (default: all whole segments).

    Attributes
    ----------
    info : dict
        The bundle description (:func:`read_bundle_info`).
    engine : str
        The engine in use (``'numpy'`` or ``'keras'``).
    load_seconds : float
        Time to read the bundle.
    """

    def __init__(self, bundle=None, engine: str = "auto", max_segments: int | None = None):
        DataError = _data_error()
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        start = time.perf_counter()
        self.info = read_bundle_info(bundle if bundle is not None else DEFAULT_BUNDLE)
        from helpers.features import FeatureConfig

        try:
            self.config = FeatureConfig(**self.info["feature_config"])
        except (TypeError, ValueError) as error:
            raise DataError(f"{self.info['keras_path']}: feature settings {self.info['feature_config']} are invalid: {error}") from None
        self.genres = tuple(self.info["genres"])
        self.max_segments = max_segments
        self.model = None
        if engine in ("auto", "numpy"):
            try:
                self.model = NumpyModel(self.info["keras_path"])
                self.engine = "numpy"
            except NotImplementedError:
                if engine == "numpy":
                    raise
            except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError) as error:
                raise DataError(f"model file {self.info['keras_path']} could not be read: {type(error).__name__}: {error}") from None
        if self.model is None:
            from helpers.bundle import load_bundle

            model, _ = load_bundle(self.info["keras_path"])
            self.model = _KerasModel(model)
            self.engine = "keras"
        self.load_seconds = time.perf_counter() - start

    def predict_signal(self, y, name: str = "signal", top: int = 3) -> Prediction:
        """Classify a mono signal already at the model's sample rate."""
        DataError = _data_error()
        from helpers.features import clip_features

        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.float32)
        limit = self.max_segments if self.max_segments is not None else max(1, len(y) // self.config.segment_samples)
        X = clip_features(y, self.config, max_segments=limit)
        if len(X) == 0:
            raise DataError(
                f"{name}: is {len(y) / self.config.sr:.2f} s long; at least {self.config.segment_seconds:g} s "
                "(one segment) is needed"
            )
        if self.info["mean"] is not None:
            X = (X - self.info["mean"]) / self.info["std"]
        if self.model.input_rank == X.ndim + 1:
            X = X[..., np.newaxis]
        t1 = time.perf_counter()
        probs = self.model.predict(X)
        t2 = time.perf_counter()
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
        """Read, check and classify one audio file (see :func:`load_mono`)."""
        t0 = time.perf_counter()
        y = load_mono(path, sr=self.config.sr, min_seconds=self.config.segment_seconds)
        t1 = time.perf_counter()
        result = self.predict_signal(y, name=str(path), top=top)
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
        mono or stereo, at least one segment (6 s) long.
    bundle : path, optional
        Bundle stem (default ``models/gtzan_cnn``).
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
    DataError = _data_error()
    if on_error not in ("raise", "keep"):
        raise ValueError(f"on_error must be 'raise' or 'keep', got {on_error!r}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    predictor = predictor or GenrePredictor(bundle, engine=engine)
    results = []
    for path in paths:
        try:
            results.append(predictor.predict_file(path, top=top))
        except DataError as error:
            if on_error == "raise":
                raise
            results.append(Prediction(path=str(path), error=str(error)))
    return results


def _process_seconds() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None elsewhere."""
    try:
        import os

        ticks = os.sysconf("SC_CLK_TCK")
        start = float(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def main(argv=None) -> int:
    """Command-line entry point: ``python -m helpers.predict FILE [FILE ...]`` (chapter *Beyond*)."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Print the top genres of audio files with the book's saved GTZAN model "
        "(probabilities averaged over 6 s segments).",
    )
    parser.add_argument("files", nargs="+", help="audio files (wav, flac, ogg, mp3...; at least 6 s)")
    parser.add_argument("--bundle", default=None, help=f"model bundle stem (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--top", type=int, default=3, help="how many genres to print (default 3)")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="'numpy' runs the network without TensorFlow (fast start); 'auto' falls back to Keras")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file instead of text")
    parser.add_argument("--timing", action="store_true", help="print measured timings to stderr")
    started = _process_seconds()
    t_start = time.perf_counter()
    args = parser.parse_args(argv)
    DataError = _data_error()
    try:
        predictor = GenrePredictor(args.bundle, engine=args.engine)
    except (DataError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for index, path in enumerate(args.files):
        try:
            result = predictor.predict_file(path, top=args.top)
        except DataError as error:
            failed += 1
            print(f"error: {error}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({"path": result.path, "top": result.top, "segments": result.n_segments,
                              "duration_s": round(result.duration, 3)}))
        else:
            print(result)
        sys.stdout.flush()
        if args.timing:
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


if __name__ == "__main__":
    sys.exit(main())
