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
fit the architecture (an edited kernel shape) raise :class:`helpers.errors.DataError`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from helpers.errors import DataError

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
                config = json.loads(archive.read("config.json"))
                weights_file = io.BytesIO(archive.read("model.weights.h5"))
            self._read(config, h5py.File(weights_file, "r"))
        except (zipfile.BadZipFile, KeyError, OSError, TypeError, json.JSONDecodeError) as error:
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
        except (ValueError, IndexError, KeyError, TypeError) as error:
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

    @property
    def input_rank(self) -> int:
        """Rank of the model input including the batch axis (e.g. 4 for the CNN's (n, 259, 13, 1))."""
        return len(self.input_shape)


# ---------------------------------------------------------------------------------------------
# musicnn (chapter 10) in NumPy: the pretrained network behind genre-predict's probe bundle
# ---------------------------------------------------------------------------------------------

#: RMS level every signal is scaled to before musicnn's log-mel, at training and prediction time
#: alike, so that the same clip played louder or softer gives the same embedding (the log-mel
#: ``log10(10000 * mel + 1)`` is not scale-invariant).
TARGET_RMS = 0.1
#: Patches run through the network at once (bounds the memory of the convolutions' windows).
MUSICNN_BATCH = 8
_BN_EPSILON = 1e-3  # Keras' BatchNormalization default, which helpers.musicnn.build_musicnn uses


def normalise_level(y, target_rms: float = TARGET_RMS) -> np.ndarray:
    """Scale a signal to a fixed RMS level (float32); a silent signal is returned unchanged.

    Used on every clip before :func:`helpers.musicnn.log_mel` by the probe bundle, both when
    ``tools/train_probe_bundle.py`` trains it and when ``genre-predict`` uses it.
    """
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    if not np.isfinite(rms):
        raise DataError("the signal holds NaN or infinite samples")
    return y if rms < 1e-8 else (y * np.float32(target_rms / rms)).astype(np.float32)


def _bn_affine(stored: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch normalisation as ``x * scale + shift``."""
    gamma, beta, mean, var = (stored[f"{name}/{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance"))
    scale = gamma / np.sqrt(var + _BN_EPSILON)
    return scale, beta - mean * scale


def _conv_bn_freqmax(x, stored: dict, name: str, padding: str) -> np.ndarray:
    """musicnn's front-end block on a one-channel ``(n, time, freq)`` input: Conv2D (stride 1) →
    ReLU → batch norm → max over frequency, as ``(n, time', filters)``.

    ReLU and the batch norm's affine map are monotonic per filter, so the max over frequency of
    the result is taken from the max (scale ≥ 0) or the min (scale < 0) of the convolution: the
    same numbers as Keras' order of operations, without running them on every frequency bin.
    """
    kernel, bias = stored[f"{name}/kernel"], stored[f"{name}/bias"]
    kh, kw, _, filters = kernel.shape
    if padding == "same":
        x = np.pad(x, ((0, 0), _same_pad(x.shape[1], kh, 1), _same_pad(x.shape[2], kw, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (n, t, f, kh, kw)
    n, t, f = windows.shape[:3]
    z = (windows.reshape(-1, kh * kw) @ kernel.reshape(kh * kw, filters)).reshape(n, t, f, filters)
    scale, shift = _bn_affine(stored, f"{name}_bn")
    top = np.where(scale >= 0, z.max(axis=2), z.min(axis=2)) + bias
    return np.maximum(top, 0) * scale + shift


def _conv1d_same(x, kernel, bias) -> np.ndarray:
    """A Conv1D ('same', stride 1) of ``(n, time, channels)`` with kernel ``(k, channels, filters)``."""
    k, c, filters = kernel.shape
    x = np.pad(x, ((0, 0), _same_pad(x.shape[1], k, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)  # (n, t, c, k)
    n, t = windows.shape[:2]
    z = windows.reshape(-1, c * k) @ kernel.transpose(1, 0, 2).reshape(c * k, filters)
    return z.reshape(n, t, filters) + bias


class MusicnnNumpy:
    """musicnn's forward pass in NumPy, from the packaged weights (no TensorFlow).

    The same network as :func:`helpers.musicnn.build_musicnn` (checked against it in
    ``tests/test_engine.py``): input batch norm; timbral convolutions (7 × 38 and 7 × 67, 'valid'
    in frequency after padding time by 3) and temporal ones (128, 64, 32 × 1, 'same'), each with
    ReLU, batch norm and a max over frequency; three 1-D convolutions (the last two residual);
    max and mean over time; batch norm, a 200-unit dense layer (the *penultimate* layer), batch
    norm and the sigmoid tag outputs.

    Parameters
    ----------
    weights_path : path
        A weight file of :func:`helpers.musicnn.weights_path`.

    Raises
    ------
    DataError
        If the file cannot be read or does not hold musicnn's variables with their shapes.
    """

    TIMBRAL = ("timbral_74", "timbral_77")
    TEMPORAL = ("temporal_128", "temporal_64", "temporal_32")

    def __init__(self, weights_path):
        self.path = Path(weights_path)
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                self.weights = {key: stored[key].astype(np.float32) for key in stored.files}
        except (OSError, ValueError) as error:
            raise DataError(f"musicnn weight file {self.path} cannot be read ({error})") from None
        expected = {"input_bn/gamma": (1,), "timbral_74/kernel": (7, 38, 1, 204),
                    "timbral_77/kernel": (7, 67, 1, 204), "temporal_128/kernel": (128, 1, 1, 51),
                    "midend_1/kernel": (7, 561, 64), "penultimate/kernel": (1506, 200)}
        for key, shape in expected.items():
            if key not in self.weights or self.weights[key].shape != shape:
                found = self.weights[key].shape if key in self.weights else "missing"
                raise DataError(f"musicnn weight file {self.path}: {key} should have shape {shape}, "
                                f"found {found}")
        self.n_tags = self.weights["logits/bias"].shape[0] if "logits/bias" in self.weights else 0

    def _forward(self, x: np.ndarray) -> dict:
        w = self.weights
        scale, shift = _bn_affine(w, "input_bn")
        h = x * scale[0] + shift[0]  # (n, time, 96): the one-channel input, channel axis dropped
        padded = np.pad(h, ((0, 0), (3, 3), (0, 0)))  # pad time only, then 'valid' in frequency
        front = [_conv_bn_freqmax(padded, w, name, "valid") for name in self.TIMBRAL]
        front += [_conv_bn_freqmax(h, w, name, "same") for name in self.TEMPORAL]
        mid = [np.concatenate(front, axis=-1)]
        for i in (1, 2, 3):  # conv 1 adapts, convs 2 and 3 are residual
            c = np.maximum(_conv1d_same(mid[-1], w[f"midend_{i}/kernel"], w[f"midend_{i}/bias"]), 0)
            scale, shift = _bn_affine(w, f"midend_{i}_bn")
            c = c * scale + shift
            mid.append(c if i == 1 else c + mid[-1])
        features = np.concatenate(mid, axis=-1)
        max_pool, mean_pool = features.max(axis=1), features.mean(axis=1)
        pooled = np.stack([max_pool, mean_pool], axis=-1).reshape(len(x), -1)  # TF1 order
        scale, shift = _bn_affine(w, "pool_bn")
        dense = np.maximum((pooled * scale + shift) @ w["penultimate/kernel"] + w["penultimate/bias"], 0)
        scale, shift = _bn_affine(w, "penultimate_bn")
        penultimate = dense * scale + shift
        logits = penultimate @ w["logits/kernel"] + w["logits/bias"]
        return {"taggram": 1 / (1 + np.exp(-logits)), "penultimate": penultimate,
                "max_pool": max_pool, "mean_pool": mean_pool}

    def predict(self, patches) -> dict:
        """Outputs for ``(n, 187, 96)`` log-mel patches, as :func:`helpers.musicnn.build_musicnn`'s
        (``taggram``, ``penultimate``, ``max_pool``, ``mean_pool``), float32."""
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (187, 96):
            raise DataError(f"musicnn takes (n, 187, 96) log-mel patches, got shape {x.shape}")
        parts = [self._forward(x[i:i + MUSICNN_BATCH]) for i in range(0, len(x), MUSICNN_BATCH)]
        return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in parts[0]}


def probe_probabilities(embedding, probe: dict) -> np.ndarray:
    """A linear probe's class probabilities for embeddings ``(n, dims)``: standardise, then
    multinomial logistic regression (softmax), from the arrays of
    :meth:`helpers.models.probe.ProbeClassifier.to_dict`."""
    X = np.asarray(embedding, dtype=np.float64)
    z = (X - np.asarray(probe["mean"])) / np.asarray(probe["scale"])
    return _softmax(z @ np.asarray(probe["coef"]).T + np.asarray(probe["intercept"]))


def musicnn_patch_embeddings(y, sr: int, net, layer: str = "penultimate",
                             target_rms: float = TARGET_RMS, timings: dict | None = None) -> np.ndarray:
    """One clip's per-patch musicnn embeddings, ``(n_patches, dims)``: level normalised to
    ``target_rms`` (:func:`normalise_level`), musicnn's log-mel, 3 s patches, ``net.predict``.

    The one embedding path of the probe bundle, used by ``tools/train_probe_bundle.py`` to train
    it and by ``genre-predict`` to apply it; ``net`` is a :class:`MusicnnNumpy` (or anything with
    the same ``predict``). A ``timings`` dict receives the seconds of ``features`` (level, log-mel,
    patches) and ``predict`` (the network).
    """
    import time

    from helpers.musicnn import log_mel, patches

    start = time.perf_counter()
    x = patches(log_mel(normalise_level(y, target_rms), sr))
    middle = time.perf_counter()
    out = net.predict(x)[layer]
    if timings is not None:
        timings.update(features=middle - start, predict=time.perf_counter() - middle)
    return out
