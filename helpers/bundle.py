"""Save and load a trained genre classifier together with everything needed to use it.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), where the chosen model is
saved, and used in chapter *Beyond* (classifying your own clip).

A *bundle* is two files side by side: ``<stem>.keras`` (the Keras model, native format) and
``<stem>.json`` (feature settings, standardisation statistics, genre names, data and protocol of the
reported accuracy, library versions). No pickle anywhere; the model is loaded with Keras' safe mode,
which refuses to run arbitrary code stored in a model file. Both files are written atomically
(a temporary file, then a rename), so an interrupted save never leaves a half-written bundle.

A second kind, ``"kind": "musicnn-probe"`` (chapter 10's linear probe, written by
``tools/train_probe_bundle.py``), is a single JSON file: which pretrained musicnn network, layer and
pooling give the embedding (with the SHA-256 of the packaged weight file it was trained with), the
level normalisation, and the probe's standardisation and logistic-regression arrays as JSON lists.
:func:`read_bundle_info` checks it as strictly as the CNN bundle; :func:`save_probe_bundle` writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from helpers.errors import DataError
from helpers.features import FeatureConfig
from helpers.files import atomic_path

FORMAT = "genre-book-bundle"
FORMAT_VERSION = 1
REQUIRED_METADATA = ("data", "protocol")
_REQUIRED_KEYS = ("format", "format_version", "model_file", "feature_config", "standardization",
                  "genres", "metadata")
#: The bundle kinds: a Keras network on MFCC segments (the default when ``kind`` is absent) and
#: chapter 10's linear probe on musicnn embeddings.
CNN_KIND, PROBE_KIND = "keras-cnn", "musicnn-probe"
KINDS = (CNN_KIND, PROBE_KIND)
_PROBE_KEYS = ("format", "format_version", "kind", "musicnn", "probe", "genres", "metadata")


def bundle_paths(path_stem: str | os.PathLike) -> tuple[Path, Path]:
    """Return ``(<stem>.keras, <stem>.json)``; a stem given with either suffix is accepted.

    Explained in chapter *Evaluation*.
    """
    stem = Path(path_stem)
    if stem.suffix in (".keras", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".keras"), stem.with_name(stem.name + ".json")


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


def _stats(values, name: str):
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise DataError(f"standardisation {name} must be a non-empty array of finite numbers")
    return array.tolist()


def _positive_ints(value) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)


def _check_stats(stats, n_features: int) -> str | None:
    """The problem with a bundle's standardization entry, or None."""
    if stats is None:
        return None
    if not isinstance(stats, dict) or set(stats) != {"mean", "std"}:
        return "standardization must be null or {'mean': [...], 'std': [...]}"
    for name in ("mean", "std"):
        values = stats[name]
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return f"standardization {name} must be a list of numbers"
        if len(values) != n_features:
            return f"standardization {name} has {len(values)} values, but the features have {n_features} per frame"
        if not np.all(np.isfinite(values)):
            return f"standardization {name} holds a NaN or infinite value"
    if min(stats["std"]) <= 0:
        return "standardization std must be positive (a std of 0 divides by zero)"
    return None


def _description_problem(info) -> str | None:
    """The first problem of a bundle description (the JSON contents), or None if it is valid.

    The same checks run when a bundle is saved and when it is read: the format, a model file
    beside the description, genres, feature settings, the input shape those settings give, and
    standardization statistics that fit them.
    """
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        return f"is not a {FORMAT} description"
    if info.get("kind", CNN_KIND) not in KINDS:
        return f"kind {info.get('kind')!r} is not one of {list(KINDS)}"
    if info.get("kind") == PROBE_KIND:
        return _probe_problem(info)
    missing = [key for key in _REQUIRED_KEYS if key not in info]
    if missing:
        return f"lacks {missing}"
    version = info["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        return f"format_version {version!r} is not a bundle format this code reads (integers 1 to {FORMAT_VERSION})"
    name = info["model_file"]
    if not isinstance(name, str) or not name.endswith(".keras") or Path(name).name != name or "\\" in name \
            or name.startswith("."):
        return f"model_file {name!r} must be the name of a .keras file beside the description (no folders)"
    genres = info["genres"]
    if not isinstance(genres, list) or len(genres) < 2 or not all(isinstance(g, str) and g for g in genres) \
            or len(set(genres)) != len(genres):
        return f"genres {genres!r} must be a list of at least two different names"
    metadata = info["metadata"]
    if not isinstance(metadata, dict) or any(not metadata.get(key) for key in REQUIRED_METADATA):
        return f"metadata must name {list(REQUIRED_METADATA)} (every number must say its data and split)"
    if not isinstance(info["feature_config"], dict):
        return "feature_config must be an object"
    try:
        config = FeatureConfig(**info["feature_config"])
    except (TypeError, ValueError) as error:
        return f"feature settings {info['feature_config']} are invalid: {error}"
    shape = info.get("input_shape")
    expected = [config.frames_per_segment, config.n_features]
    if not _positive_ints(shape) or shape not in (expected, [*expected, 1]):
        return (f"input_shape {shape!r} does not fit the feature settings ({config.kind}, sr {config.sr}, "
                f"hop {config.hop_length}: segments of {expected[0]} frames × {expected[1]} features)")
    return _check_stats(info["standardization"], config.n_features)


def _genres_problem(genres) -> str | None:
    if not isinstance(genres, list) or len(genres) < 2 or not all(isinstance(g, str) and g for g in genres) \
            or len(set(genres)) != len(genres):
        return f"genres {genres!r} must be a list of at least two different names"
    return None


def _number_array(values, shape: tuple, name: str):
    """``values`` as a float64 array of ``shape``, or the problem with it (a str)."""
    def numbers(v):
        return all(numbers(x) for x in v) if isinstance(v, list) else \
            isinstance(v, (int, float)) and not isinstance(v, bool)
    if not isinstance(values, list) or not numbers(values):
        return f"probe {name} must be a (nested) list of numbers"
    try:
        array = np.asarray(values, dtype=np.float64)
    except ValueError:
        return f"probe {name} is a ragged list"
    if array.shape != shape:
        return f"probe {name} has shape {array.shape}, expected {shape}"
    if not np.all(np.isfinite(array)):
        return f"probe {name} holds a NaN or infinite value"
    return array


def _probe_problem(info: dict) -> str | None:
    """The first problem of a ``musicnn-probe`` description, or None (same checks on save and read)."""
    from helpers.musicnn import LAYERS, TAGS

    missing = [key for key in _PROBE_KEYS if key not in info]
    if missing:
        return f"lacks {missing}"
    version = info["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        return f"format_version {version!r} is not a bundle format this code reads (integers 1 to {FORMAT_VERSION})"
    problem = _genres_problem(info["genres"])
    if problem:
        return problem
    metadata = info["metadata"]
    if not isinstance(metadata, dict) or any(not metadata.get(key) for key in REQUIRED_METADATA):
        return f"metadata must name {list(REQUIRED_METADATA)} (every number must say its data and split)"
    net = info["musicnn"]
    if not isinstance(net, dict):
        return "musicnn must be an object"
    if net.get("variant") not in TAGS:
        return f"musicnn variant {net.get('variant')!r} is not one of {sorted(TAGS)}"
    if net.get("layer") not in LAYERS:
        return f"musicnn layer {net.get('layer')!r} is not one of {list(LAYERS)}"
    if net.get("pooling") not in ("mean", "max"):
        return f"musicnn pooling {net.get('pooling')!r} is not 'mean' or 'max'"
    digest = net.get("weights_sha256")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return f"musicnn weights_sha256 {digest!r} is not a SHA-256 hex digest"
    rms = net.get("target_rms")
    if isinstance(rms, bool) or not isinstance(rms, (int, float)) or not np.isfinite(rms) or rms <= 0:
        return f"musicnn target_rms {rms!r} must be a positive number (the level clips are scaled to)"
    probe = info["probe"]
    if not isinstance(probe, dict):
        return "probe must be an object"
    dims, n = LAYERS[net["layer"]], len(info["genres"])
    for name, shape in (("mean", (dims,)), ("scale", (dims,)), ("coef", (n, dims)), ("intercept", (n,))):
        array = _number_array(probe.get(name), shape, name)
        if isinstance(array, str):
            return array
        if name == "scale" and array.min() <= 0:
            return "probe scale must be positive (a scale of 0 divides by zero)"
    return None


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        The musicnn network, its layer and the pooling over a clip's patches.
    target_rms : float
        The RMS level every clip was scaled to before the log-mel (:func:`helpers.engine.normalise_level`).

    Returns
    -------
    pathlib.Path
        The JSON file.

    Raises
    ------
    DataError
        If any entry is invalid (same checks as :func:`read_bundle_info`).
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
    problem = _description_problem(info)
    if problem:
        raise DataError(f"bundle {json_path}: {problem}")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return json_path


def _read_probe_info(info: dict, json_path: Path) -> dict:
    """Finish reading a checked ``musicnn-probe`` description: its weight file must match its SHA-256."""
    from helpers.musicnn import weights_path

    path = weights_path(info["musicnn"]["variant"])
    if not path.is_file():
        raise DataError(f"model bundle {json_path}: the musicnn weight file {path} is missing")
    if file_sha256(path) != info["musicnn"]["weights_sha256"]:
        raise DataError(f"model bundle {json_path}: the musicnn weight file {path} is not the one the probe "
                        "was trained with (SHA-256 differs); retrain it with tools/train_probe_bundle.py")
    info["weights_path"] = path
    info["probe_arrays"] = {k: np.asarray(info["probe"][k], dtype=np.float64)
                            for k in ("mean", "scale", "coef", "intercept")}
    return info


def _network_shapes(keras_path: Path) -> tuple[list, int | None]:
    """The network's input shape (without the batch axis) and output width, from the ``.keras`` file's config.

    Read from ``config.json`` inside the zip, without TensorFlow; the width is ``None`` when the
    last layer does not record it.
    """
    try:
        with zipfile.ZipFile(keras_path) as archive:
            config = json.loads(archive.read("config.json"))
        spec = config["config"]
        layers = {layer["config"].get("name"): layer for layer in spec["layers"]}
        if config["class_name"] == "Sequential":
            first, last = spec["layers"][0], spec["layers"][-1]
        else:
            names = [spec["input_layers"], spec["output_layers"]]
            first, last = (layers[n[0][0] if isinstance(n[0], list) else n[0]] for n in names)
        shape = first["config"].get("batch_shape") or first.get("build_config", {}).get("input_shape")
        return list(shape[1:]), last["config"].get("units")
    except (zipfile.BadZipFile, OSError, KeyError, IndexError, TypeError, json.JSONDecodeError) as error:
        raise DataError(f"model file {keras_path} is not a readable Keras model ({type(error).__name__}: {error})") from None


def save_bundle(path_stem, model, feature_config, mean, std, genres, metadata: dict) -> tuple[Path, Path]:
    """Write ``<stem>.keras`` and ``<stem>.json`` for a trained model.

    Explained in chapter *Evaluation*; loaded again by :func:`load_bundle` (chapter *Beyond*).

    Parameters
    ----------
    path_stem : path
        E.g. ``models/gtzan_cnn`` (folders are created).
    model : keras.Model
        The trained model; it must use built-in Keras layers only (safe-mode loading).
    feature_config : dataclass or dict
        The feature settings the model was trained with (e.g. :class:`helpers.features.FeatureConfig`).
    mean, std : array-like or None
        Standardisation statistics of the training inputs (``None`` if the model takes raw features).
    genres : sequence of str
        Class names in output order.
    metadata : dict
        Must name the ``data`` flavour (full / mini / synthetic) and the ``protocol`` of any reported
        accuracy; ``accuracy`` and other JSON-serialisable notes are stored as given.

    Returns
    -------
    keras_path, json_path : pathlib.Path
    """
    import keras

    keras_path, json_path = bundle_paths(path_stem)
    genres = [str(g) for g in genres]
    n_outputs = model.output_shape[-1]
    if n_outputs != len(genres):
        raise DataError(f"bundle {json_path}: the model has {n_outputs} outputs but {len(genres)} genres were given")
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
        "standardization": None if mean is None else {"mean": _stats(mean, "mean"), "std": _stats(std, "std")},
        "genres": genres,
        "metadata": json.loads(json.dumps(metadata)),
        "versions": {"keras": keras.__version__, "tensorflow": tf_version},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
    }
    problem = _description_problem(info)
    if problem:
        raise DataError(f"bundle {json_path}: {problem}")
    with atomic_path(keras_path, suffix=".keras") as tmp:  # Keras chooses the format by extension
        model.save(tmp)
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return keras_path, json_path


def read_bundle_info(path_stem) -> dict:
    """Read and check a bundle's JSON description without loading the network.

    Explained in chapter *Evaluation*; the predict command of chapter *Beyond* uses it to run the
    network without TensorFlow.

    Parameters
    ----------
    path_stem : path
        The stem (``models/gtzan_cnn``) or either file of the bundle.

    Returns
    -------
    dict
        The JSON contents (see :func:`save_bundle`) with ``mean``/``std`` added as float32 arrays
        (or ``None``), ``features`` (the :class:`helpers.features.FeatureConfig`) and ``keras_path``
        (the model file).

    Every entry is checked as strictly as :func:`save_bundle` checks it — format version, a model
    file beside the description, genres, feature settings, standardization statistics (finite,
    std > 0, one per feature) — and against the network itself (read from the ``.keras`` file's
    architecture, without TensorFlow): its input shape must be the one the feature settings give
    and its output width the number of genres.

    A ``musicnn-probe`` bundle (``info["kind"]``) has no network file: its entries are checked
    (shapes of the probe's arrays against the layer's size and the genres, finite numbers) and the
    packaged musicnn weight file must have the recorded SHA-256; ``weights_path`` and
    ``probe_arrays`` (float64 arrays) are added instead of ``keras_path``, ``features``, ``mean``
    and ``std``.

    Raises
    ------
    DataError
        If a file is missing or the bundle is not valid, naming the bundle and the problem.
    """
    _, json_path = bundle_paths(path_stem)
    if not json_path.is_file():
        raise DataError(f"model bundle description {json_path} is missing (train and save the model first)")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"model bundle description {json_path} is not valid JSON: {error}") from None
    problem = _description_problem(info)
    if problem:
        raise DataError(f"model bundle {json_path}: {problem}")
    info.setdefault("kind", CNN_KIND)
    if info["kind"] == PROBE_KIND:
        return _read_probe_info(info, json_path)
    info["keras_path"] = json_path.with_name(info["model_file"])
    if not info["keras_path"].is_file():
        raise DataError(f"model bundle {json_path}: its model file {info['keras_path']} is missing")
    shape, width = _network_shapes(info["keras_path"])
    if shape != info["input_shape"]:
        raise DataError(f"model bundle {json_path}: the network takes inputs of shape {shape}, "
                        f"but the description says {info['input_shape']}")
    if width is not None and width != len(info["genres"]):
        raise DataError(f"model bundle {json_path}: the network has {width} outputs but the description names "
                        f"{len(info['genres'])} genres")
    info["features"] = FeatureConfig(**info["feature_config"])
    stats = info["standardization"]
    info["mean"] = None if stats is None else np.asarray(stats["mean"], dtype=np.float32)
    info["std"] = None if stats is None else np.asarray(stats["std"], dtype=np.float32)
    return info


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
        The JSON contents; ``info['mean']`` and ``info['std']`` are added as float32 arrays (or
        ``None``).

    Raises
    ------
    DataError
        If a file is missing or corrupt, naming it.
    """
    import keras

    info = read_bundle_info(path_stem)
    if info["kind"] == PROBE_KIND:
        raise DataError(f"model bundle {bundle_paths(path_stem)[1]} is a {PROBE_KIND} bundle, not a Keras "
                        "model: use helpers.predict.GenrePredictor (or read_bundle_info)")
    keras_path, json_path = info["keras_path"], bundle_paths(path_stem)[1]
    try:
        model = keras.saving.load_model(keras_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors... for bad files
        try:  # a file saved by a newer Keras than this one (e.g. Colab's): drop the new defaults
            model = load_with_older_keras(keras_path)
        except Exception:
            raise DataError(f"model file {keras_path} could not be loaded: "
                            f"{type(error).__name__}: {error}") from None
    if model.output_shape[-1] != len(info["genres"]):
        raise DataError(
            f"{keras_path} has {model.output_shape[-1]} outputs but {json_path} names {len(info['genres'])} genres"
        )
    return model, info


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
