"""Pretrained musicnn embeddings of every clip of a GTZAN table: one vector per track, cached.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

The per-track work (load the clip, compute musicnn's log-mel input, cut it into 3 s patches) runs
in the feature layer's one parallel loop, :func:`helpers.features.map_tracks`; the network then
runs on the patches of a chunk of tracks at once, in the calling thread (one batched pass is
faster than one call per track, and never runs the Keras model from several threads), in batches
of :data:`BATCH_PATCHES` patches to bound the memory of the front end's activations. The
per-patch embeddings of every layer in :data:`helpers.musicnn.LAYERS` (one pass gives them all) are
pooled per track (mean and max over patches, :func:`helpers.musicnn.pool_patches`) and stored with the
track's mean tag probabilities in one ``.npz`` cache per network, written atomically and
recomputed with a warning when damaged (:func:`helpers.features.cached_arrays`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import musicnn
from helpers.config import GENRES, cache_home
from helpers.errors import DataError, ParameterError
from helpers.features import cached_arrays, files_fingerprint, map_tracks

#: Version of the cache format; bump it when what is stored changes.
EMBEDDINGS_VERSION = 2
#: Tracks whose patches are computed together before the network runs on them.
CHUNK_TRACKS = 50
#: Patches per network call: the front end's activations take about 15 MB per patch.
BATCH_PATCHES = 32
POOLINGS = ("mean", "max")
_ARRAYS = (*(f"{layer}_{p}" for layer in musicnn.LAYERS for p in POOLINGS), "tags", "n_patches", "track_ids")


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

    def tag_names(self) -> tuple:
        """The tag vocabulary of :attr:`tags`' columns."""
        return musicnn.TAGS[self.model]


def embeddings_cache_path(table: pd.DataFrame, model: str = "msd", cache_dir=None) -> Path:
    """Where :func:`extract_embeddings` caches the embeddings of ``table``.

    The name holds the flavour, the network, the format version and a fingerprint of the audio
    files (paths, sizes, modification times, track ids), so that touching a file means a new
    entry. Every layer and both poolings are stored, so neither enters the name.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_home() / "embeddings"
    flavour = table.attrs.get("flavour", "unknown")
    fingerprint = files_fingerprint(table["path"].astype(str), table["track_id"])
    return folder / f"{flavour}-musicnn-{model}-v{EMBEDDINGS_VERSION}-{fingerprint}.npz"


def clip_patches(path) -> np.ndarray:
    """One clip's musicnn input: its 3 s log-mel patches, ``(n_patches, 187, 96)`` float32.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read or is shorter than one patch.
    """
    from helpers.audio import load_clip

    try:
        y = load_clip(path, sr=musicnn.SR, mono=True)
        return musicnn.patches(musicnn.log_mel(y, musicnn.SR))
    except DataError as error:
        message = str(error)
        raise DataError(message if str(path) in message else f"{path}: {message}") from None


def embed_tracks(paths: Sequence, model: str = "msd", n_jobs: int = -1,
                 progress: bool | None = None) -> dict[str, np.ndarray]:
    """Pooled embeddings of every layer and mean tag probabilities of every clip in ``paths`` (no cache).

    Returns the arrays the cache stores: ``<layer>_mean`` and ``<layer>_max`` ``(n, dims)`` for
    every layer of :data:`helpers.musicnn.LAYERS`, ``tags`` ``(n, 50)``, ``n_patches`` ``(n,)``.
    """
    paths = [str(p) for p in paths]
    net = musicnn.load_musicnn(model)
    pooled = {f"{layer}_{p}": [] for layer in musicnn.LAYERS for p in POOLINGS}
    pooled.update(tags=[], n_patches=[])
    for start in range(0, len(paths), CHUNK_TRACKS):
        chunk = map_tracks(clip_patches, paths[start:start + CHUNK_TRACKS], n_jobs=n_jobs,
                           progress=progress, desc="musicnn patches")
        batch = np.concatenate(chunk)
        parts = [net.predict_on_batch(batch[i:i + BATCH_PATCHES]) for i in range(0, len(batch), BATCH_PATCHES)]
        out = {name: np.concatenate([np.asarray(part[name]) for part in parts]) for name in parts[0]}
        bounds = np.cumsum([0] + [len(c) for c in chunk])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            for layer in musicnn.LAYERS:
                for name, vector in musicnn.pool_patches(out[layer][lo:hi]).items():
                    pooled[f"{layer}_{name}"].append(vector)
            pooled["tags"].append(out["taggram"][lo:hi].mean(axis=0))
            pooled["n_patches"].append(hi - lo)
    arrays = {f"{layer}_{p}": np.asarray(pooled[f"{layer}_{p}"], dtype=np.float32).reshape(-1, dims)
              for layer, dims in musicnn.LAYERS.items() for p in POOLINGS}
    arrays["tags"] = np.asarray(pooled["tags"], dtype=np.float32).reshape(-1, len(musicnn.TAGS[model]))
    arrays["n_patches"] = np.asarray(pooled["n_patches"], dtype=np.int64)
    return arrays


def extract_embeddings(table: pd.DataFrame, model: str = "msd", layer: str = "penultimate",
                       pooling: Sequence[str] = POOLINGS, n_jobs: int = -1,
                       progress: bool | None = None, cache_dir=None, cache: bool = True) -> Embeddings:
    """musicnn embeddings of every clip of a GTZAN table, one row per track, cached.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Parameters
    ----------
    table : pandas.DataFrame
        A clip table from :func:`helpers.datasets.load_gtzan` (columns ``path``, ``label``,
        ``track_id``), or a subset of its rows; the result keeps its row order.
    model : {"msd", "mtt"}
        Which pretrained network (:func:`helpers.musicnn.load_musicnn`).
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
    missing = {"path", "label", "track_id"} - set(table.columns)
    if missing:
        raise DataError(f"clip table lacks column(s) {sorted(missing)}")
    track_ids = np.asarray(table["track_id"].astype(str), dtype=str)

    def compute() -> dict[str, np.ndarray]:
        arrays = embed_tracks(table["path"], model, n_jobs, progress)
        return {**arrays, "track_ids": track_ids}

    path = embeddings_cache_path(table, model, cache_dir) if cache else None
    arrays = cached_arrays(path, compute, required=_ARRAYS)
    if not np.array_equal(arrays["track_ids"].astype(str), track_ids):
        raise DataError(f"embedding cache {path} does not hold the table's tracks; delete it")
    return Embeddings(
        X=np.concatenate([arrays[f"{layer}_{p}"] for p in pooling], axis=1),
        tags=arrays["tags"], n_patches=arrays["n_patches"], track_ids=track_ids,
        labels=table["label"].to_numpy(dtype=np.int64), genres=tuple(GENRES),
        model=model, layer=layer, pooling=pooling,
    )
