"""Save and load a trained genre classifier together with everything needed to use it.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), where the chosen model is
saved, and used in chapter *Beyond* (classifying your own clip).

A *bundle* is two files side by side: ``<stem>.keras`` (the Keras model, native format) and
``<stem>.json`` (feature settings, standardisation statistics, the typical level of the training
clips, genre names, data and protocol of the reported accuracy, library versions). No pickle
anywhere; the model is loaded with Keras' safe mode, which refuses to run arbitrary code stored in a
model file. Both files are written atomically (a temporary file, then a rename), so an interrupted
save never leaves a half-written bundle.

A second kind, ``"kind": "musicnn-probe"`` (chapter 10's linear probe, written by
``tools/train_probe_bundle.py``), is a single JSON file: which pretrained musicnn network, layer and
pooling give the embedding (with the SHA-256 of the packaged weight file it was trained with), the
level normalisation, and the probe's standardisation and logistic-regression arrays as JSON lists.

Validated completely, once
--------------------------
:func:`read_bundle` turns a bundle into a typed record, :class:`CnnBundle` or :class:`ProbeBundle`,
and every check runs there, once (:func:`save_bundle` and :func:`save_probe_bundle` run the same
checks before they write): the JSON itself (at most :data:`MAX_JSON_DEPTH` levels of nesting,
integers of at most :data:`MAX_INT_DIGITS` digits, no ``NaN`` or ``Infinity``), the format, genres,
metadata, feature settings, standardisation statistics (finite and within :data:`STATS_RANGE`), the
recorded level (:data:`LEVEL_RANGE`) and, for a CNN, the network's architecture read from the
``.keras`` file without TensorFlow: well-formed layers, positive kernel sizes, strides and pool
sizes, an input shape that the feature settings give, and a softmax output with one unit per genre
(its outputs must be probabilities). Every failure is one :class:`helpers.errors.DataError` naming
the bundle and the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from helpers.errors import DataError
from helpers.files import atomic_path

FORMAT = "genre-book-bundle"
FORMAT_VERSION = 1
REQUIRED_METADATA = ("data", "protocol")
_CNN_KEYS = ("format", "format_version", "model_file", "feature_config", "standardization",
             "genres", "metadata")
#: The bundle kinds: a Keras network on MFCC segments (the default when ``kind`` is absent) and
#: chapter 10's linear probe on musicnn embeddings.
CNN_KIND, PROBE_KIND = "keras-cnn", "musicnn-probe"
KINDS = (CNN_KIND, PROBE_KIND)
_PROBE_KEYS = ("format", "format_version", "kind", "musicnn", "probe", "genres", "metadata")
#: How a probe bundle pools a clip's patch embeddings: the mean, the max, or both side by side.
PROBE_POOLINGS = ("mean", "max", "mean + max")
#: Limits on a bundle's JSON and on the network's ``config.json``: nesting depth, digits of an
#: integer, bytes of the file. A real bundle nests 5 levels deep and holds 1-digit integers.
MAX_JSON_DEPTH, MAX_INT_DIGITS, MAX_JSON_BYTES = 64, 18, 64 * 2**20
#: Plausible standardisation statistics (``|mean|`` at most the first, ``std`` between the second and
#: the first): MFCCs and log-mel decibels are tens to hundreds, embedding values a few units; a
#: statistic outside overflows float32 or turns every input into the same number.
STATS_RANGE = (1e5, 1e-5)
#: Plausible typical levels (RMS) of training clips: about -80 dBFS to full scale.
LEVEL_RANGE = (1e-4, 1.0)


class _Invalid(ValueError):
    """A problem of a bundle (the message, without the bundle's name)."""


# ---------------------------------------------------------------------------------------------
# JSON with limits
# ---------------------------------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it."""
    codes = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Invalid(f"holds an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS} are read)")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid(f"holds the number {text[:20]}, beyond the range of a float (NaN or infinite values are "
                       "not allowed)")
    return value


def _no_constant(name: str):
    raise _Invalid(f"holds {name}, which is not JSON (NaN or infinite values are not allowed)")


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text with limits: depth, integer digits, finite numbers only (chapter *Beyond*).

    Raises
    ------
    ValueError
        Naming the limit that was passed or the parser's complaint (the caller names the file).
    """
    data = data.encode("utf-8") if isinstance(data, str) else data
    depth = _nesting_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise _Invalid(f"nests {depth} levels deep (at most {MAX_JSON_DEPTH} are read)")
    try:
        return json.loads(data.decode("utf-8"), parse_int=_bounded_int, parse_float=_finite_float,
                          parse_constant=_no_constant)
    except _Invalid:
        raise
    except UnicodeDecodeError as error:
        raise _Invalid(f"is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except (ValueError, RecursionError) as error:
        raise _Invalid(f"is not valid JSON: {error}") from None


def _read_description(path: Path) -> Any:
    """A bundle's JSON description parsed with :func:`parse_json`; a ``DataError`` naming it if it is missing, not a file, too large or not JSON within the limits."""
    if not path.exists():
        raise DataError(f"model bundle description {path} is missing (train and save the model first)")
    if not path.is_file():
        raise DataError(f"model bundle {path}: it is not a regular file")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise DataError(f"model bundle {path}: the file holds {path.stat().st_size} bytes (at most "
                        f"{MAX_JSON_BYTES} are read)")
    try:
        return parse_json(path.read_bytes())
    except ValueError as error:
        raise DataError(f"model bundle {path}: the file {error}") from None


# ---------------------------------------------------------------------------------------------
# Typed, checked records
# ---------------------------------------------------------------------------------------------


def bundle_paths(path_stem: str | os.PathLike) -> tuple[Path, Path]:
    """Return ``(<stem>.keras, <stem>.json)``; a stem given with either suffix is accepted.

    Explained in chapter *Evaluation*.

    Raises
    ------
    DataError
        For a path without a file name (``''``, ``'.'``, ``'/'``, ``'..'``).
    """
    stem = Path(path_stem)
    if stem.suffix in (".keras", ".json"):
        stem = stem.with_suffix("")
    if stem.name in ("", ".", ".."):
        raise DataError(f"model bundle {str(path_stem)!r} is not a bundle: give its stem (e.g. models/gtzan_cnn) "
                        "or one of its two files")
    return stem.with_name(stem.name + ".keras"), stem.with_name(stem.name + ".json")


@dataclass(frozen=True)
class CnnBundle:
    """A checked ``keras-cnn`` bundle (chapter *Evaluation*): a network on MFCC (or log-mel) segments.

    Attributes
    ----------
    json_path, keras_path : pathlib.Path
        The description and the network file.
    description : dict
        The JSON description as stored (``metadata``, ``versions``, ...).
    genres : tuple of str
        Class names in the network's output order.
    features : helpers.features.FeatureConfig
        The feature settings the network was trained with.
    input_shape : tuple of int
        One segment as the network takes it (without the batch axis), e.g. ``(259, 13, 1)``.
    mean, std : numpy.ndarray or None
        Standardisation statistics of the training inputs (float32, one per feature), or None.
    level : float or None
        Typical RMS of the training clips (:func:`helpers.audio.typical_level`); ``genre-predict``
        scales every clip to it before its features. None for a bundle saved without it.
    """

    kind: ClassVar[str] = CNN_KIND
    json_path: Path
    description: dict
    genres: tuple
    keras_path: Path
    features: Any
    input_shape: tuple
    mean: np.ndarray | None
    std: np.ndarray | None
    level: float | None

    @property
    def metadata(self) -> dict:
        """The description's ``metadata`` (data and protocol of any reported number)."""
        return self.description["metadata"]


@dataclass(frozen=True)
class ProbeBundle:
    """A checked ``musicnn-probe`` bundle (chapter 10): a linear probe on musicnn embeddings.

    Attributes
    ----------
    json_path : pathlib.Path
    description : dict
        The JSON description as stored.
    genres : tuple of str
    variant, layer : str
        The musicnn network (``'msd'``, ``'mtt'``) and the layer whose output is the embedding.
    pooling : tuple of str
        ``('mean',)``, ``('max',)`` or ``('mean', 'max')``: pooling over a clip's patches.
    target_rms : float
        The RMS level every clip is scaled to (:func:`helpers.musicnn.normalise_level`).
    weights_path : pathlib.Path
        The packaged musicnn weight file (its SHA-256 checked against the bundle's).
    probe : dict of numpy.ndarray
        ``mean``, ``scale``, ``coef``, ``intercept`` (float64), for
        :func:`helpers.engine.probe_probabilities`.
    """

    kind: ClassVar[str] = PROBE_KIND
    json_path: Path
    description: dict
    genres: tuple
    variant: str
    layer: str
    pooling: tuple
    target_rms: float
    weights_path: Path
    probe: dict

    @property
    def metadata(self) -> dict:
        """The description's ``metadata`` (data and protocol of any reported number)."""
        return self.description["metadata"]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _common(info, keys: tuple) -> tuple:
    """Check what every kind shares (keys, version, genres, metadata); return the genres."""
    missing = [key for key in keys if key not in info]
    if missing:
        raise _Invalid(f"lacks {missing}")
    version = info["format_version"]
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise _Invalid(f"format_version {version!r} is not a bundle format this code reads (integers 1 to "
                       f"{FORMAT_VERSION})")
    genres = info["genres"]
    if not isinstance(genres, list) or len(genres) < 2 or not all(isinstance(g, str) and g for g in genres) \
            or len(set(genres)) != len(genres):
        raise _Invalid(f"genres {genres!r} must be a list of at least two different names")
    metadata = info["metadata"]
    if not isinstance(metadata, dict) or any(not metadata.get(key) for key in REQUIRED_METADATA):
        raise _Invalid(f"metadata must name {list(REQUIRED_METADATA)} (every number must say its data and split)")
    return tuple(genres)


def _numbers(values, shape: tuple, name: str, positive: bool = False) -> np.ndarray:
    """``values`` (nested lists of numbers) as a finite, plausible float64 array of ``shape``."""
    def all_numbers(v) -> bool:
        return all(all_numbers(x) for x in v) if isinstance(v, list) else _is_number(v)

    if not isinstance(values, list) or not all_numbers(values):
        raise _Invalid(f"{name} must be a (nested) list of numbers")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (ValueError, OverflowError):
        raise _Invalid(f"{name} is a ragged list") from None
    if array.shape != shape:
        raise _Invalid(f"{name} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise _Invalid(f"{name} holds a NaN or infinite value")
    largest, smallest = STATS_RANGE
    if np.abs(array).max(initial=0) > largest:
        raise _Invalid(f"{name} holds {np.abs(array).max():g}, implausibly large (at most {largest:g} in size)")
    if positive and array.min(initial=np.inf) < smallest:
        raise _Invalid(f"{name} must be positive, at least {smallest:g} (a tiny divisor turns features into "
                       f"infinities), but holds {array.min():g}")
    return array


def _feature_config(settings):
    """The :class:`helpers.features.FeatureConfig` of a bundle's ``feature_config``."""
    if not isinstance(settings, dict):
        raise _Invalid("feature_config must be an object")
    # only a CNN bundle needs the feature layer (and SciPy)
    from helpers.features import FeatureConfig

    try:
        return FeatureConfig(**settings)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
        raise _Invalid(f"feature settings {settings} are invalid: {error}") from None


def _level(value) -> float | None:
    if value is None:
        return None
    rms = value.get("rms") if isinstance(value, dict) else None
    low, high = LEVEL_RANGE
    if not _is_number(rms) or not low <= rms <= high:
        raise _Invalid(f"level {value!r} must be null or {{'rms': x}} with a typical clip RMS x between {low:g} "
                       f"and {high:g}")
    return float(rms)


def _layer_name(layer: dict, position: int) -> str:
    return str(layer["config"].get("name", f"layer {position}"))


def _activation_name(config: dict):
    activation = config.get("activation", "linear")
    if isinstance(activation, dict):  # a serialized activation object
        inner = activation.get("config")
        activation = inner.get("name") if isinstance(inner, dict) else activation.get("class_name")
    return activation


def _check_layers(layers) -> None:
    """Every layer an object with a class name and a config; kernel sizes, strides and pool sizes positive."""
    if not isinstance(layers, list) or not layers:
        raise _Invalid("the network's architecture (config.json) lists no layers")
    for position, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str) \
                or not isinstance(layer.get("config"), dict):
            raise _Invalid(f"the network's architecture (config.json) is malformed: layer {position} is not an "
                           "object with a class_name and a config object")
        config = layer["config"]
        for key in ("kernel_size", "strides", "pool_size", "dilation_rate"):
            value = config.get(key)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if not values or not all(_is_int(v) and v > 0 for v in values):
                raise _Invalid(f"layer {_layer_name(layer, position)!r} ({layer['class_name']}) has {key} {value!r}: "
                               "it must be positive whole numbers")


def _network(keras_path: Path) -> tuple[tuple, int]:
    """The network's input shape (without the batch axis) and output width, read from the ``.keras`` file's ``config.json`` without TensorFlow, after checking its layers and that its output is a softmax."""
    try:
        with zipfile.ZipFile(keras_path) as archive:
            if archive.getinfo("config.json").file_size > MAX_JSON_BYTES:
                raise _Invalid(f"the network's config.json is larger than {MAX_JSON_BYTES} bytes")
            config = parse_json(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError, KeyError) as error:
        raise DataError(f"model file {keras_path} is not a readable Keras model ({type(error).__name__}: "
                        f"{error})") from None
    except _Invalid as error:
        raise _Invalid(f"the network's architecture (config.json in {keras_path.name}) {error}") from None
    spec = config.get("config") if isinstance(config, dict) else None
    if not isinstance(spec, dict) or not isinstance(config.get("class_name"), str):
        raise _Invalid("the network's architecture (config.json) is malformed: no model class and config")
    layers = spec.get("layers")
    _check_layers(layers)
    if config["class_name"] == "Sequential":
        first, last = layers[0], layers[-1]
    else:
        by_name = {layer["config"]["name"]: layer for layer in layers if isinstance(layer["config"].get("name"), str)}
        ends = []
        for key in ("input_layers", "output_layers"):
            entry = spec.get(key)
            entry = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], list) else entry
            name = entry[0] if isinstance(entry, list) and entry else None
            if not isinstance(name, str) or name not in by_name:
                raise _Invalid(f"the network's architecture (config.json) names no layer as its {key}")
            ends.append(by_name[name])
        first, last = ends
    shape = first["config"].get("batch_shape")
    if shape is None and isinstance(first.get("build_config"), dict):
        shape = first["build_config"].get("input_shape")
    if not isinstance(shape, list) or len(shape) < 2 or not all(_is_int(v) and v > 0 for v in shape[1:]):
        raise _Invalid(f"the network's input shape {shape!r} is not a list of positive sizes")
    activation = _activation_name(last["config"])
    if last["class_name"] != "Dense" or activation != "softmax":
        raise _Invalid(f"the network's output layer {_layer_name(last, len(layers) - 1)!r} is a "
                       f"{last['class_name']} with activation {activation!r}: it must be a Dense layer with a "
                       "softmax, whose outputs are probabilities")
    width = last["config"].get("units")
    if not _is_int(width) or width < 1:
        raise _Invalid(f"the network's output layer has {width!r} units")
    return tuple(shape[1:]), width


def _cnn_record(info: dict, json_path: Path, keras_path: Path | None = None) -> CnnBundle:
    """Check a ``keras-cnn`` description and its network; ``keras_path`` overrides the network file (:func:`save_bundle` checks the file it is about to rename into place)."""
    genres = _common(info, _CNN_KEYS)
    name = info["model_file"]
    if not isinstance(name, str) or not name.endswith(".keras") or Path(name).name != name or "\\" in name \
            or name.startswith("."):
        raise _Invalid(f"model_file {name!r} must be the name of a .keras file beside the description (no folders)")
    features = _feature_config(info["feature_config"])
    declared = info.get("input_shape")
    expected = [features.frames_per_segment, features.n_features]
    if declared not in (expected, [*expected, 1]):
        raise _Invalid(f"input_shape {declared!r} does not fit the feature settings ({features.kind}, sr "
                       f"{features.sr}, hop {features.hop_length}: segments of {expected[0]} frames × "
                       f"{expected[1]} features)")
    stats = info["standardization"]
    if stats is not None and (not isinstance(stats, dict) or set(stats) != {"mean", "std"}):
        raise _Invalid("standardization must be null or {'mean': [...], 'std': [...]}")
    n = features.n_features
    mean = None if stats is None else _numbers(stats["mean"], (n,), "standardization mean")
    std = None if stats is None else _numbers(stats["std"], (n,), "standardization std", positive=True)
    level = _level(info.get("level"))
    keras_path = keras_path or json_path.with_name(name)
    if not keras_path.is_file():
        raise DataError(f"model bundle {json_path}: its model file {keras_path} is missing")
    shape, width = _network(keras_path)
    if list(shape) != declared:
        raise _Invalid(f"the network takes inputs of shape {list(shape)}, but the description says {declared}")
    if width != len(genres):
        raise _Invalid(f"the network has {width} outputs but the description names {len(genres)} genres")
    return CnnBundle(json_path=json_path, description=info, genres=genres, keras_path=json_path.with_name(name),
                     features=features, input_shape=tuple(shape),
                     mean=None if mean is None else mean.astype(np.float32),
                     std=None if std is None else std.astype(np.float32), level=level)


def _probe_record(info: dict, json_path: Path) -> ProbeBundle:
    """Check a ``musicnn-probe`` description; its weight file must have the recorded SHA-256."""
    from helpers.musicnn import LAYERS, TAGS, TARGET_RMS, weights_path

    genres = _common(info, _PROBE_KEYS)
    net = info["musicnn"]
    if not isinstance(net, dict):
        raise _Invalid("musicnn must be an object")
    variant, layer, pooling = net.get("variant"), net.get("layer"), net.get("pooling")
    if not isinstance(variant, str) or variant not in TAGS:
        raise _Invalid(f"musicnn variant {variant!r} is not one of {sorted(TAGS)}")
    if not isinstance(layer, str) or layer not in LAYERS:
        raise _Invalid(f"musicnn layer {layer!r} is not one of {list(LAYERS)}")
    if not isinstance(pooling, str) or pooling not in PROBE_POOLINGS:
        raise _Invalid(f"musicnn pooling {pooling!r} is not one of {list(PROBE_POOLINGS)}")
    digest = net.get("weights_sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise _Invalid(f"musicnn weights_sha256 {digest!r} is not a SHA-256 hex digest")
    rms = net.get("target_rms")
    if not _is_number(rms) or not math.isfinite(rms) or rms <= 0:
        raise _Invalid(f"musicnn target_rms {rms!r} must be a positive number (the level clips are scaled to)")
    if rms != TARGET_RMS:
        raise _Invalid(f"musicnn target_rms {rms!r} is not the level of the book's embedding path ({TARGET_RMS}, "
                       "helpers.musicnn.clip_embeddings); retrain the probe with tools/train_probe_bundle.py")
    probe = info["probe"]
    if not isinstance(probe, dict):
        raise _Invalid("probe must be an object")
    poolings = tuple(pooling.split(" + "))
    dims, n = LAYERS[layer] * len(poolings), len(genres)
    arrays = {name: _numbers(probe.get(name), shape, f"probe {name}", positive=name == "scale")
              for name, shape in (("mean", (dims,)), ("scale", (dims,)), ("coef", (n, dims)), ("intercept", (n,)))}
    path = weights_path(variant)
    if not path.is_file():
        raise _Invalid(f"the musicnn weight file {path} is missing")
    if file_sha256(path) != digest:
        raise _Invalid(f"the musicnn weight file {path} is not the one the probe was trained with (SHA-256 "
                       "differs); retrain it with tools/train_probe_bundle.py")
    return ProbeBundle(json_path=json_path, description=info, genres=genres, variant=variant, layer=layer,
                       pooling=poolings, target_rms=float(rms), weights_path=path, probe=arrays)


#: The checks and record of each bundle kind.
_RECORDS = {CNN_KIND: _cnn_record, PROBE_KIND: _probe_record}


def _record(info, json_path: Path, **options) -> CnnBundle | ProbeBundle:
    """The typed record of a parsed description, or ``_Invalid``."""
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise _Invalid(f"is not a {FORMAT} description")
    kind = info.get("kind", CNN_KIND)
    if not isinstance(kind, str) or kind not in _RECORDS:
        raise _Invalid(f"kind {kind!r} is not one of {list(KINDS)}")
    return _RECORDS[kind](info, json_path, **options)


def read_bundle(path_stem) -> CnnBundle | ProbeBundle:
    """Read and check a bundle completely, once, without loading a network (chapters *Evaluation*, *Beyond*).

    Parameters
    ----------
    path_stem : path
        The stem (``models/gtzan_cnn``) or either file of the bundle.

    Returns
    -------
    CnnBundle or ProbeBundle
        The typed record of the bundle's kind (``"kind"`` in the JSON; a CNN when absent).

    Raises
    ------
    DataError
        If a file is missing or anything in the bundle is invalid (see the module docstring), naming
        the bundle and the problem in one line.
    """
    _, json_path = bundle_paths(path_stem)
    info = _read_description(json_path)
    try:
        return _record(info, json_path)
    except _Invalid as error:
        raise DataError(f"model bundle {json_path}: {error}") from None


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def _config_dict(feature_config) -> dict:
    if dataclasses.is_dataclass(feature_config) and not isinstance(feature_config, type):
        config = dataclasses.asdict(feature_config)
    elif isinstance(feature_config, dict):
        config = dict(feature_config)
    else:
        config = {k: v for k, v in vars(feature_config).items() if not k.startswith("_")}
    try:
        return json.loads(json.dumps(config))
    except TypeError as error:
        raise DataError(f"feature config {config!r} is not JSON-serialisable: {error}") from None


def _json_values(values):
    """NumPy arrays and scalars as JSON lists and numbers (NaN kept, for the checks to refuse)."""
    return None if values is None else np.asarray(values, dtype=np.float64).tolist()


def save_probe_bundle(path_stem, probe: dict, genres, metadata: dict, *, variant: str = "msd",
                      layer: str = "penultimate", pooling: str = "mean", target_rms: float) -> Path:
    """Write ``<stem>.json``, a ``musicnn-probe`` bundle (chapter 10's linear probe; no pickle).

    Parameters
    ----------
    path_stem : path
        E.g. ``helpers/bundled/musicnn_probe``.
    probe : dict
        :meth:`helpers.models.probe.ProbeClassifier.to_dict` of the fitted probe (``mean``,
        ``scale``, ``coef``, ``intercept``; the other entries are kept as notes).
    genres : sequence of str
        Class names in the probe's output order.
    metadata : dict
        Must name ``data`` and ``protocol`` (as :func:`save_bundle`).
    variant, layer, pooling
        The musicnn network, its layer and the pooling over a clip's patches (:data:`PROBE_POOLINGS`).
    target_rms : float
        The RMS level every clip was scaled to before the log-mel (:func:`helpers.musicnn.normalise_level`).

    Returns
    -------
    pathlib.Path
        The JSON file.

    Raises
    ------
    DataError
        If any entry is invalid (the checks of :func:`read_bundle`).
    """
    from helpers.musicnn import weights_path

    _, json_path = bundle_paths(path_stem)
    probe = json.loads(json.dumps({k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
                                   for k, v in probe.items()}))
    weights = weights_path(variant) if variant in ("msd", "mtt") else None
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": PROBE_KIND,
        "musicnn": {"variant": variant, "layer": layer, "pooling": pooling,
                    "weights_file": weights.name if weights else None,
                    "weights_sha256": file_sha256(weights) if weights and weights.is_file() else None,
                    "target_rms": target_rms},
        "probe": probe,
        "genres": [str(g) for g in genres],
        "metadata": json.loads(json.dumps(metadata)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
    }
    try:
        _record(info, json_path)
    except _Invalid as error:
        raise DataError(f"bundle {json_path}: {error}") from None
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return json_path


def save_bundle(path_stem, model, feature_config, mean, std, genres, metadata: dict, *,
                level: float | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.keras`` and ``<stem>.json`` for a trained model.

    Explained in chapter *Evaluation*; read again by :func:`read_bundle` and :func:`load_bundle`
    (chapter *Beyond*).

    Parameters
    ----------
    path_stem : path
        E.g. ``models/gtzan_cnn`` (folders are created).
    model : keras.Model
        The trained model; built-in Keras layers only (safe-mode loading), ending in a Dense
        layer with a softmax (one unit per genre).
    feature_config : dataclass or dict
        The feature settings the model was trained with (e.g. :class:`helpers.features.FeatureConfig`).
    mean, std : array-like or None
        Standardisation statistics of the training inputs (``None`` if the model takes raw features).
    genres : sequence of str
        Class names in output order.
    metadata : dict
        Must name the ``data`` flavour (full / mini / synthetic) and the ``protocol`` of any reported
        accuracy; ``accuracy`` and other JSON-serialisable notes are stored as given.
    level : float, optional
        The typical RMS of the training clips (:func:`helpers.audio.typical_level` of their paths):
        ``genre-predict`` scales every clip to it before its features, so that a clip's loudness
        does not decide its genre. Without it, clips are classified at the level they were recorded.

    Returns
    -------
    keras_path, json_path : pathlib.Path

    Raises
    ------
    DataError
        If anything would make an invalid bundle (the checks of :func:`read_bundle`); nothing is written.
    """
    import keras

    keras_path, json_path = bundle_paths(path_stem)
    genres = [str(g) for g in genres]
    if (mean is None) != (std is None):
        raise DataError(f"bundle {json_path}: give both mean and std, or neither")
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # pragma: no cover - other Keras backends
        tf_version = None
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_file": keras_path.name,
        "input_shape": list(model.input_shape[1:]),
        "feature_config": _config_dict(feature_config),
        "standardization": None if mean is None else {"mean": _json_values(mean), "std": _json_values(std)},
        "level": None if level is None else {"rms": float(level), "of": "median RMS of the training clips, mono "
                                             "at the feature sample rate (helpers.audio.typical_level)"},
        "genres": genres,
        "metadata": json.loads(json.dumps(metadata)),
        "versions": {"keras": keras.__version__, "tensorflow": tf_version},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
    }
    with atomic_path(keras_path, suffix=".keras") as tmp:  # Keras chooses the format by extension
        model.save(tmp)
        try:  # the checks of read_bundle, on the network file about to be renamed into place
            _record(info, json_path, keras_path=tmp)
        except _Invalid as error:
            raise DataError(f"bundle {json_path}: {error}") from None
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return keras_path, json_path


# ---------------------------------------------------------------------------------------------
# Loading the network with Keras
# ---------------------------------------------------------------------------------------------


def load_network(bundle: CnnBundle):
    """The Keras model of a checked :class:`CnnBundle` (safe mode, not compiled).

    Used by :func:`load_bundle` and by ``genre-predict --engine keras``. A file written by a newer
    Keras than this one (e.g. Colab's) is loaded through :func:`load_with_older_keras`.

    Raises
    ------
    DataError
        If Keras cannot load the file, naming it.
    """
    import keras

    try:
        return keras.saving.load_model(bundle.keras_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors... for bad files
        try:  # a file saved by a newer Keras than this one (e.g. Colab's): drop the new defaults
            return load_with_older_keras(bundle.keras_path)
        except Exception:
            raise DataError(f"model file {bundle.keras_path} could not be loaded: "
                            f"{type(error).__name__}: {error}") from None


def load_bundle(path_stem):
    """Load a bundle written by :func:`save_bundle`.

    Explained in chapter *Evaluation*; used by chapter *Beyond* to classify a new clip.

    Parameters
    ----------
    path_stem : path
        The stem (``models/gtzan_cnn``) or either file of the bundle.

    Returns
    -------
    model : keras.Model
        Loaded with ``safe_mode=True`` and ``compile=False`` (ready for ``predict``).
    info : dict
        The JSON description, checked (``info['metadata']``, ``info['genres']``, ...); the typed
        record, with the statistics as arrays, is :func:`read_bundle`'s.

    Raises
    ------
    DataError
        If a file is missing or corrupt or the bundle is invalid, naming it.
    """
    bundle = read_bundle(path_stem)
    if not isinstance(bundle, CnnBundle):
        raise DataError(f"model bundle {bundle.json_path} is a {bundle.kind} bundle, not a Keras model: use "
                        "helpers.predict.GenrePredictor (or read_bundle)")
    return load_network(bundle), bundle.description


#: Layer arguments that newer Keras versions (3.15) write and older ones (Colab's 3.10) reject,
#: with the default value that makes dropping them harmless.
NEWER_KERAS_DEFAULTS = {
    "quantization_config": None,
    "renorm": False,
    "renorm_clipping": None,
    "renorm_momentum": 0.99,
    "input_axes": None,
    "output_axes": None,
}


def strip_newer_keras_defaults(config):
    """A copy of a Keras config without the arguments of :data:`NEWER_KERAS_DEFAULTS` at their defaults.

    Keras promises that newer versions load older files, not the reverse: a bundle saved with
    Keras 3.15 names arguments that Keras 3.10 does not know. Where such an argument holds its
    default, removing it changes nothing; any other value is kept (and the older Keras refuses it).
    """
    if isinstance(config, dict):
        return {key: strip_newer_keras_defaults(value) for key, value in config.items()
                if not (key in NEWER_KERAS_DEFAULTS and value == NEWER_KERAS_DEFAULTS[key])}
    if isinstance(config, list):
        return [strip_newer_keras_defaults(value) for value in config]
    return config


def load_with_older_keras(keras_path):
    """Load a ``.keras`` file that a newer Keras wrote: its config without newer defaults, then its weights.

    Used by :func:`load_bundle` when ``keras.saving.load_model`` refuses the file; safe mode stays on.
    """
    import keras

    with zipfile.ZipFile(keras_path) as archive, tempfile.TemporaryDirectory() as folder:
        config = strip_newer_keras_defaults(json.loads(archive.read("config.json")))
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        weights = archive.extract("model.weights.h5", folder)
        model.load_weights(weights)
    return model
