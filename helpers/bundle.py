"""Save and load a trained genre classifier together with everything needed to use it.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), where the chosen model is
saved, and used in chapter *Beyond* (classifying your own clip).

A *bundle* is two files side by side: ``<stem>.keras`` (the Keras model, native format) and
``<stem>.json`` (feature settings, standardisation statistics, genre names, data and protocol of the
reported accuracy, library versions). No pickle anywhere; the model is loaded with Keras' safe mode,
which refuses to run arbitrary code stored in a model file. Both files are written atomically
(a temporary file, then a rename), so an interrupted save never leaves a half-written bundle.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from helpers.errors import DataError

FORMAT = "genre-book-bundle"
FORMAT_VERSION = 1
REQUIRED_METADATA = ("data", "protocol")
_REQUIRED_KEYS = ("format", "format_version", "model_file", "feature_config", "standardization",
                  "genres", "metadata")


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


def _public_mode(path) -> None:
    """Give a temporary file the permissions of a normally created one (mkstemp makes it private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        _public_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    missing = [key for key in REQUIRED_METADATA if not metadata.get(key)]
    if missing:
        raise DataError(f"bundle {json_path}: metadata lacks {missing} (every number must say its data and split)")
    genres = [str(g) for g in genres]
    n_outputs = model.output_shape[-1]
    if n_outputs != len(genres):
        raise DataError(f"bundle {json_path}: the model has {n_outputs} outputs but {len(genres)} genres were given")
    if (mean is None) != (std is None):
        raise DataError(f"bundle {json_path}: give both mean and std, or neither")
    if std is not None and np.any(np.asarray(std, dtype=float) <= 0):
        raise DataError(f"bundle {json_path}: standardisation std must be positive")
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
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=keras_path.stem + ".", suffix=".keras", dir=keras_path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        _public_mode(tmp)
        os.replace(tmp, keras_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _atomic_write_text(json_path, json.dumps(info, indent=2) + "\n")
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
        (or ``None``) and ``keras_path`` (the model file, checked to exist).

    Raises
    ------
    DataError
        If a file is missing or the description is not a valid bundle, naming the file.
    """
    _, json_path = bundle_paths(path_stem)
    if not json_path.is_file():
        raise DataError(f"model bundle description {json_path} is missing (train and save the model first)")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"model bundle description {json_path} is not valid JSON: {error}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DataError(f"{json_path} is not a {FORMAT} description")
    missing = [key for key in _REQUIRED_KEYS if key not in info]
    if missing:
        raise DataError(f"model bundle description {json_path} lacks {missing}")
    if info["format_version"] > FORMAT_VERSION:
        raise DataError(f"{json_path} has bundle format {info['format_version']}; this code reads up to {FORMAT_VERSION}")
    info["keras_path"] = json_path.with_name(info["model_file"])
    if not info["keras_path"].is_file():
        raise DataError(f"model file {info['keras_path']} (named in {json_path}) is missing")
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
    keras_path, json_path = info["keras_path"], bundle_paths(path_stem)[1]
    try:
        model = keras.saving.load_model(keras_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors... for bad files
        raise DataError(f"model file {keras_path} could not be loaded: {type(error).__name__}: {error}") from None
    if model.output_shape[-1] != len(info["genres"]):
        raise DataError(
            f"{keras_path} has {model.output_shape[-1]} outputs but {json_path} names {len(info['genres'])} genres"
        )
    return model, info
