"""Pretrained musicnn embeddings of every clip of a GTZAN table: one vector per track, cached.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

Every track goes through the book's one musicnn embedding path,
:func:`helpers.musicnn.clip_embeddings` (level normalisation → log-mel → 3 s patches → the NumPy
network → mean and max over the patches), the same function that trains the shipped probe
(``tools/train_probe_bundle.py``) and that ``genre-predict`` applies. The tracks run in the
feature layer's one parallel loop, :func:`helpers.features.map_tracks` (one BLAS thread per
worker). The pooled embeddings of every layer in :data:`helpers.musicnn.LAYERS` (one pass gives
them all) and each track's mean tag probabilities are stored in one ``.npz`` cache per network,
checked when read (shapes, finite values, the table's tracks), written atomically and recomputed
with a warning when damaged (:func:`helpers.features.cached_arrays`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import musicnn
from helpers.config import GENRES, cache_home
from helpers.errors import DataError, ParameterError, require_columns
from helpers.features import cached_arrays, files_fingerprint, map_tracks

#: Version of the cache format; bump it when what is stored changes. 3: level-normalised
#: embeddings from the one path (helpers.musicnn.clip_embeddings) and the NumPy network.
EMBEDDINGS_VERSION = 3
POOLINGS = musicnn.POOLINGS
_POOLED = tuple(f"{layer}_{p}" for layer in musicnn.LAYERS for p in POOLINGS)
_ARRAYS = (*_POOLED, "tags", "n_patches", "track_ids")


@dataclass
class Embeddings:
    """What :func:`extract_embeddings` returns: one row per track of the table, in table order.

    Attributes
    ----------
    X : numpy.ndarray, shape (n_tracks, dims)
        The pooled embeddings, the poolings side by side (``mean`` then ``max``).
    tags : numpy.ndarray, shape (n_tracks, 50)
        Each track's mean tag probabilities over its patches (zero-shot tagging).
    n_patches : numpy.ndarray, shape (n_tracks,)
    track_ids, labels : numpy.ndarray, shape (n_tracks,)
    genres : tuple of str
    model, layer : str
    pooling : tuple of str
    """

    X: np.ndarray
    tags: np.ndarray
    n_patches: np.ndarray
    track_ids: np.ndarray
    labels: np.ndarray
    genres: tuple
    model: str
    layer: str
    pooling: tuple

    def __len__(self) -> int:
        return len(self.X)

    def table(self) -> pd.DataFrame:
        """One row per track: ``track_id``, ``label``, ``genre`` (for the splits)."""
        return pd.DataFrame({"track_id": self.track_ids, "label": self.labels,
                             "genre": [self.genres[i] for i in self.labels]})


def embeddings_cache_path(table: pd.DataFrame, model: str = "msd", cache_dir=None) -> Path:
    """Where :func:`extract_embeddings` caches the embeddings of ``table``.

    The name holds the flavour, the network, the format version and a fingerprint of the audio
    files (paths, contents, track ids), so that changing a file means a new entry. Every layer
    and both poolings are stored, so neither enters the name.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_home() / "embeddings"
    flavour = table.attrs.get("flavour", "unknown")
    fingerprint = files_fingerprint(table["path"].astype(str), table["track_id"])
    return folder / f"{flavour}-musicnn-{model}-v{EMBEDDINGS_VERSION}-{fingerprint}.npz"


def track_embeddings(path, model: str = "msd") -> dict:
    """One audio file's pooled musicnn embeddings (:func:`helpers.musicnn.clip_embeddings` at 16 kHz).

    Explained in chapter 10, *Transfer learning*: the per-track job of :func:`extract_embeddings`
    (and of any other per-track loop, e.g. chapter 11's), without the per-patch outputs.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read or is shorter than one patch.
    """
    from helpers.audio import load_clip

    try:
        y = load_clip(path, sr=musicnn.SR, mono=True)
        out = musicnn.clip_embeddings(y, musicnn.SR, musicnn.musicnn_numpy(model))
    except DataError as error:
        message = str(error)
        raise DataError(message if str(path) in message else f"audio file {path}: {message}") from None
    del out["per_patch"]
    return out


def _check_arrays(arrays: dict, n_tracks: int, n_tags: int) -> str | None:
    """Why cached embeddings do not fit the table (None when they do)."""
    for name in _POOLED:
        dims = musicnn.LAYERS[name.rsplit("_", 1)[0]]
        if arrays[name].shape != (n_tracks, dims) or not np.isfinite(arrays[name]).all():
            return f"{name} has shape {arrays[name].shape} or non-finite values, expected ({n_tracks}, {dims})"
    if arrays["tags"].shape != (n_tracks, n_tags) or arrays["n_patches"].shape != (n_tracks,):
        return f"tags {arrays['tags'].shape} or n_patches {arrays['n_patches'].shape} do not fit {n_tracks} tracks"
    return None


def extract_embeddings(table: pd.DataFrame, model: str = "msd", layer: str = "penultimate",
                       pooling: Sequence[str] = POOLINGS, n_jobs: int = -1,
                       progress: bool | None = None, cache_dir=None, cache: bool = True) -> Embeddings:
    """Musicnn embeddings of every clip of a GTZAN table, one row per track, cached.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).
    Every clip goes through :func:`helpers.musicnn.clip_embeddings` (level-normalised, as the
    shipped probe and ``genre-predict``).

    Parameters
    ----------
    table : pandas.DataFrame
        A clip table from :func:`helpers.datasets.load_gtzan` (columns ``path``, ``label``,
        ``track_id``), or a subset of its rows; the result keeps its row order.
    model : {"msd", "mtt"}
        Which pretrained network (:func:`helpers.musicnn.musicnn_numpy`).
    layer : {"penultimate", "max_pool", "mean_pool"}
        Which per-patch embedding (sizes in :data:`helpers.musicnn.LAYERS`).
    pooling : sequence of {"mean", "max"}
        Poolings over a track's patches, concatenated in this order.
    n_jobs, progress
        Workers and progress bar of the per-track loop (:func:`helpers.features.map_tracks`).
    cache_dir : path, optional
        Cache folder (default ``cache_home()/embeddings``); see :func:`embeddings_cache_path`.
    cache : bool
        Read and write the cache.

    Returns
    -------
    Embeddings

    Raises
    ------
    ParameterError
        For an unknown model, layer or pooling.
    DataError
        If the table lacks a column, or a clip cannot be read or is shorter than one 3 s patch
        (the message names the file).
    """
    if model not in musicnn.TAGS:
        raise ParameterError(f"model must be one of {sorted(musicnn.TAGS)}, got {model!r}")
    if layer not in musicnn.LAYERS:
        raise ParameterError(f"layer must be one of {list(musicnn.LAYERS)}, got {layer!r}")
    pooling = tuple(pooling) if not isinstance(pooling, str) else (pooling,)
    if not pooling or any(p not in POOLINGS for p in pooling) or len(set(pooling)) != len(pooling):
        raise ParameterError(f"pooling must be distinct names among {POOLINGS}, got {pooling!r}")
    require_columns(table, ["path", "label", "track_id"], "clip table")
    track_ids = np.asarray(table["track_id"].astype(str), dtype=str)
    n_tags = len(musicnn.TAGS[model])

    def compute() -> dict[str, np.ndarray]:
        musicnn.musicnn_numpy(model)  # load the weights once, before the workers start
        rows = map_tracks(lambda path: track_embeddings(path, model), list(table["path"].astype(str)),
                          n_jobs=n_jobs, progress=progress, desc="musicnn embeddings")
        arrays = {name: np.asarray([row[name] for row in rows], dtype=np.float32).reshape(len(rows), -1)
                  for name in (*_POOLED, "tags")}
        arrays["n_patches"] = np.asarray([row["n_patches"] for row in rows], dtype=np.int64)
        return {**arrays, "track_ids": track_ids}

    def validate(arrays: dict) -> str | None:
        if not np.array_equal(arrays["track_ids"].astype(str), track_ids):
            return "it does not hold the table's tracks"
        return _check_arrays(arrays, len(track_ids), n_tags)

    path = embeddings_cache_path(table, model, cache_dir) if cache else None
    arrays = cached_arrays(path, compute, required=_ARRAYS, validate=validate)
    return Embeddings(
        X=np.concatenate([arrays[f"{layer}_{p}"] for p in pooling], axis=1),
        tags=arrays["tags"], n_patches=arrays["n_patches"], track_ids=track_ids,
        labels=table["label"].to_numpy(dtype=np.int64), genres=tuple(GENRES),
        model=model, layer=layer, pooling=pooling,
    )
