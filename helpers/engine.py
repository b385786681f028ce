"""A NumPy forward pass for the book's Keras networks, without TensorFlow (chapter *Beyond*).

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), section "Classify your own clip".
Importing TensorFlow takes about 4–10 s on a small CPU machine — longer than classifying a clip.
A saved ``.keras`` file is a zip holding the network's architecture (``config.json``) and weights
(``model.weights.h5``); :class:`NumpyModel` reads both and runs the forward pass in NumPy.

Only the layers and activations the book's networks are built from are supported (each is tested
against Keras on random weights in ``tests/test_engine.py``): :data:`SUPPORTED_LAYERS` and
:data:`SUPPORTED_ACTIVATIONS`. Anything else — an LSTM, another activation, channels-first data,
dilation — is refused when the file is opened with a ``NotImplementedError`` that names the
layer, so a caller can fall back to Keras instead of printing a wrong genre. Weights that do not
fit the architecture (an edited kernel shape or unit count) and an architecture that is not
well-formed raise :class:`helpers.errors.DataError`. The file's ``config.json`` is parsed with
:func:`helpers.bundle.parse_json`'s limits; what a genre classifier must be beyond that (a softmax
output, one unit per genre, positive strides) is :func:`helpers.bundle.read_bundle`'s check.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np

from helpers.bundle import parse_json
from helpers.errors import DataError
from helpers.mfcc import standardize_with

#: The layer types of the book's networks (report CNN and LSTM's front ends, chapter 8's GAP CNN,
#: the fusion and log-mel CNNs of chapter 9).
SUPPORTED_LAYERS = (
    "InputLayer", "Normalization", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "BatchNormalization",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "Flatten", "Dense", "Dropout", "Reshape",
    "Cropping1D", "Concatenate",
)


def _softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


_ACTIVATIONS = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "softmax": _softmax}
#: The activations the book's layers use.
SUPPORTED_ACTIVATIONS = tuple(_ACTIVATIONS)


def _snake_case(name: str) -> str:
    """Keras' own ``to_snake_case`` (names of the layers' groups in ``model.weights.h5``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _refuse(layer: str, what: str):
    raise NotImplementedError(
        f"layer {layer!r}: {what} is not supported by the NumPy engine, which runs only "
        f"{', '.join(SUPPORTED_LAYERS)} with activations {', '.join(SUPPORTED_ACTIVATIONS)} (use Keras instead)"
    )


def _activation(name: str, config: dict):
    activation = config.get("activation", "linear")
    if isinstance(activation, dict):  # a serialized activation object
        activation = activation.get("config", {}).get("name", activation.get("class_name"))
    if activation not in _ACTIVATIONS:
        _refuse(name, f"activation {activation!r}")
    return _ACTIVATIONS[activation]


def _check(name: str, kind: str, config: dict) -> None:
    """Refuse a layer (or a setting of it) the engine does not implement."""
    if kind not in SUPPORTED_LAYERS:
        _refuse(name, f"layer type {kind}")
    if config.get("data_format", "channels_last") != "channels_last":
        _refuse(name, "channels_first data")
    if kind in ("Conv1D", "Conv2D", "Dense"):
        _activation(name, config)
    if kind in ("Conv1D", "Conv2D"):
        if set(np.ravel(config.get("dilation_rate", 1)).tolist()) != {1} or config.get("groups", 1) != 1:
            _refuse(name, "dilation or groups")
    if config.get("padding", "valid") not in ("valid", "same"):
        _refuse(name, f"padding {config['padding']!r}")
    if kind == "BatchNormalization" and config.get("axis", -1) not in (-1, [-1]):
        _refuse(name, f"BatchNormalization on axis {config.get('axis')}")
    if kind == "Normalization" and config.get("invert"):
        _refuse(name, "Normalization(invert=True)")
    if kind.startswith("GlobalAveragePooling") and config.get("keepdims"):
        _refuse(name, "keepdims=True")


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _windows(x, kernel, strides, padding, fill):
    """Sliding (kh, kw) windows over axes 1, 2 of a (n, h, w, c) array, with TF's padding rules."""
    (kh, kw), (sh, sw) = kernel, strides
    if padding == "same":
        ph, pw = _same_pad(x.shape[1], kh, sh), _same_pad(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return view[:, ::sh, ::sw]  # (n, h', w', c, kh, kw)


def _conv2d(x, weights, config):
    kernel = weights[0]
    size = tuple(config["kernel_size"])
    if kernel.shape != (*size, x.shape[-1], config["filters"]):
        raise ValueError(f"kernel of shape {kernel.shape} for {size} windows over {x.shape[-1]} channels "
                         f"and {config['filters']} filters")
    win = _windows(x, size, tuple(config["strides"]), config["padding"], 0.0)
    out = np.tensordot(win, kernel, axes=([3, 4, 5], [2, 0, 1]))
    if config.get("use_bias", True):
        out = out + weights[1]
    return _ACTIVATIONS[config.get("activation", "linear")](out)


def _as_2d(config: dict, keys: tuple[str, ...]) -> dict:
    """A 1-D layer's config as the equivalent 2-D one (width 1)."""
    out = dict(config)
    for key in keys:
        if out.get(key) is not None:
            out[key] = (int(np.ravel(out[key])[0]), 1)
    return out


def _max_pool2d(x, config):
    pool = tuple(config["pool_size"])
    strides = tuple(config["strides"] or pool)
    return _windows(x, pool, strides, config["padding"], -np.inf).max(axis=(4, 5))


def _batchnorm(x, weights, config):
    weights = list(weights)
    gamma = weights.pop(0) if config.get("scale", True) else 1.0
    beta = weights.pop(0) if config.get("center", True) else 0.0
    mean, var = weights
    return (x - mean) / np.sqrt(var + config["epsilon"]) * gamma + beta


def _normalization(x, weights, config):
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
    if weights[0].shape != (x.shape[-1], config["units"]):
        raise ValueError(f"kernel of shape {weights[0].shape} for {x.shape[-1]} inputs and {config['units']} units")
    out = x @ weights[0]
    if config.get("use_bias", True):
        out = out + weights[1]
    return _ACTIVATIONS[config.get("activation", "linear")](out)


def _apply(kind: str, config: dict, weights: list, inputs: list) -> np.ndarray:
    """One layer's forward pass (``kind`` already checked by :func:`_check`)."""
    x = inputs[0]
    if kind == "Concatenate":
        return np.concatenate(inputs, axis=config.get("axis", -1))
    if kind in ("InputLayer", "Dropout"):
        return x
    if kind == "Conv2D":
        return _conv2d(x, weights, config)
    if kind == "Conv1D":
        kernel = [weights[0][:, np.newaxis]] + list(weights[1:])  # (k, c, f) → (k, 1, c, f)
        return _conv2d(x[:, :, np.newaxis], kernel, _as_2d(config, ("kernel_size", "strides")))[:, :, 0]
    if kind == "MaxPooling2D":
        return _max_pool2d(x, config)
    if kind == "MaxPooling1D":
        return _max_pool2d(x[:, :, np.newaxis], _as_2d(config, ("pool_size", "strides")))[:, :, 0]
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
        a, b = config["cropping"]
        return x[:, a : x.shape[1] - b]
    return x.mean(axis=tuple(range(1, x.ndim - 1)))  # GlobalAveragePooling1D / 2D


def _inbound(layer) -> list[str]:
    """Names of the layers feeding a functional model's layer."""
    nodes = layer.get("inbound_nodes", [])
    if len(nodes) > 1:
        _refuse(layer["config"].get("name", "?"), "a shared layer")
    names = []

    def walk(item):
        if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
            names.append(item["config"]["keras_history"][0])
        elif isinstance(item, (list, tuple)):
            for sub in item:
                walk(sub)

    if nodes:
        walk(nodes[0].get("args", []))
    return names


class NumpyModel:
    """Run a saved ``.keras`` model in NumPy, without importing TensorFlow (chapter *Beyond*).

    Supports ``Sequential`` and single-input, single-output functional models made of
    :data:`SUPPORTED_LAYERS` (channels-last) with :data:`SUPPORTED_ACTIVATIONS`. Its outputs equal
    Keras' to float32 rounding.

    Parameters
    ----------
    keras_path : path
        A ``.keras`` file (Keras 3 format).

    Raises
    ------
    NotImplementedError
        When the file is opened, for any other layer or setting (the message names the layer).
    DataError
        If the file is not a readable ``.keras`` model or its weights do not fit its architecture.
    """

    def __init__(self, keras_path):
        import h5py

        self.path = Path(keras_path)
        try:
            with zipfile.ZipFile(self.path) as archive:
                config = parse_json(archive.read("config.json"))
                weights_file = io.BytesIO(archive.read("model.weights.h5"))
            self._read(config, h5py.File(weights_file, "r"))
        except (zipfile.BadZipFile, KeyError, IndexError, OSError, TypeError, AttributeError, ValueError) as error:
            raise DataError(f"model file {self.path} could not be read: {type(error).__name__}: {error}") from None
        self.output_shape = self._dry_run()

    def _read(self, config: dict, h5) -> None:
        functional = config.get("class_name") != "Sequential"
        spec = config["config"]
        used: dict[str, int] = {}
        self.layers = []  # (name, kind, config, weights, inbound names)
        self.input_shape = None  # with the batch axis, e.g. [None, 259, 13, 1]
        with h5:
            for position, layer in enumerate(spec["layers"]):
                kind, layer_config = layer["class_name"], layer["config"]
                name = layer_config.get("name", f"layer_{position}")
                if layer.get("module", "keras.layers") not in ("keras.layers", None):
                    _refuse(name, f"nested model or custom layer {kind}")
                _check(name, kind, layer_config)
                if self.input_shape is None:
                    self.input_shape = layer_config.get("batch_shape") or layer.get("build_config", {}).get("input_shape")
                if not functional and kind == "InputLayer":
                    continue
                base = _snake_case(kind)
                used[base] = used[base] + 1 if base in used else 0
                group = f"layers/{base}_{used[base]}/vars" if used[base] else f"layers/{base}/vars"
                weights = [np.asarray(h5[group][str(i)], dtype=np.float32) for i in range(len(h5[group]))] \
                    if group in h5 else []
                self.layers.append((name, kind, layer_config, weights, _inbound(layer) if functional else None))
        if self.input_shape is None:
            raise DataError(f"model file {self.path}: the model's input shape is not recorded in its config")
        self.inputs = self.output = None
        if functional:
            inputs, outputs = spec["input_layers"], spec["output_layers"]
            inputs = inputs if isinstance(inputs[0], list) else [inputs]
            outputs = outputs if isinstance(outputs[0], list) else [outputs]
            if len(outputs) != 1 or len(inputs) != 1:
                _refuse(spec.get("name", "model"), "several inputs or outputs")
            self.inputs, self.output = [entry[0] for entry in inputs], outputs[0][0]

    def _dry_run(self) -> tuple:
        """Run one zero input through the network: weights that do not fit the layers fail here."""
        try:
            out = self.predict(np.zeros((1, *self.input_shape[1:]), dtype=np.float32))
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, ZeroDivisionError) as error:
            raise DataError(f"model file {self.path}: weights and architecture disagree: {error}") from None
        return (None, *out.shape[1:])

    def predict(self, X) -> np.ndarray:
        """Forward pass in float32; ``X`` shaped like the model input (with batch axis)."""
        x = np.asarray(X, dtype=np.float32)
        if self.inputs is None:
            for _, kind, config, weights, _ in self.layers:
                x = np.asarray(_apply(kind, config, weights, [x]), dtype=np.float32)
            return x
        values = {}
        for name, kind, config, weights, inbound in self.layers:
            if kind == "InputLayer":
                values[name] = x
                continue
            values[name] = np.asarray(_apply(kind, config, weights, [values[n] for n in inbound]), dtype=np.float32)
        return values[self.output]


# ---------------------------------------------------------------------------------------------
# The linear probe of a musicnn-probe bundle (chapter 10); musicnn
# itself: helpers.musicnn.MusicnnNumpy
# ---------------------------------------------------------------------------------------------


def probe_probabilities(embedding, probe: dict) -> np.ndarray:
    """A linear probe's class probabilities for embeddings ``(n, dims)``: standardise, then multinomial logistic regression (softmax), from the arrays of :meth:`helpers.models.probe.ProbeClassifier.to_dict`."""
    z = standardize_with(np.asarray(embedding, dtype=np.float64), probe["mean"], probe["scale"])
    return _softmax(z @ np.asarray(probe["coef"]).T + np.asarray(probe["intercept"]))
