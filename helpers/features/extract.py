"""Many clips: :func:`extract_features` (parallel, cached, track ids kept) and its :class:`FeatureSet`.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``). One job per track
(:func:`track_features`: :func:`load_track`, then :func:`~helpers.features.maths.clip_features`),
mapped and cached by :mod:`helpers.features.runner`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import GENRES, cache_home
from helpers.errors import DataError, ParameterError, require_columns
from helpers.features.config import FeatureConfig
from helpers.features.maths import clip_features
from helpers.features.runner import cached_arrays, files_fingerprint, map_tracks


@dataclass
class FeatureSet:
    """Segment features of many tracks with the bookkeeping needed for honest splits.

    Explained in chapter *From audio to features*.

    Attributes
    ----------
    X : numpy.ndarray
        ``(N, frames, n_features)`` ``float32``.
    labels : numpy.ndarray
        ``(N,)`` int, index into ``genres``.
    track_ids : numpy.ndarray
        ``(N,)`` str, e.g. ``'blues.00042'`` — the key of every track-level split and vote.
    segments : numpy.ndarray
        ``(N,)`` int, segment number within its track.
    genres : tuple of str
    config : FeatureConfig
    flavour : str
        ``full`` / ``mini`` / ``synthetic``: say it with every number computed from these features.
    skipped : list of str
        Clips that could not be used, each ``'path: reason'``.
    """

    X: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    segments: np.ndarray
    genres: tuple[str, ...]
    config: FeatureConfig
    flavour: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"FeatureSet({len(self)} segments of {self.n_tracks} tracks, X {tuple(self.X.shape)} "
            f"{self.X.dtype}, kind={self.config.kind!r}, flavour={self.flavour!r}, "
            f"skipped={len(self.skipped)})"
        )

    @property
    def n_tracks(self) -> int:
        """Number of distinct tracks."""
        return len(np.unique(self.track_ids))

    def table(self) -> pd.DataFrame:
        """One row per segment: ``track_id``, ``genre``, ``label``, ``segment``.

        Works with :mod:`helpers.splits` (``track_train_test_split``, ``track_folds``,
        ``filtered_split``); ``attrs['flavour']`` says which data it is.
        """
        genres = np.asarray(self.genres)
        frame = pd.DataFrame(
            {
                "track_id": self.track_ids.astype(str),
                "genre": genres[self.labels] if len(self) else np.array([], dtype=str),
                "label": self.labels,
                "segment": self.segments,
            }
        )
        frame.attrs["flavour"] = self.flavour
        frame.attrs["feature"] = self.config.kind
        return frame

    def subset(self, rows) -> FeatureSet:
        """The rows ``rows`` (integer positions or a boolean mask) as a new FeatureSet."""
        rows = np.asarray(rows)
        if rows.dtype == bool and rows.shape != (len(self),):
            raise ParameterError(f"boolean mask of shape {rows.shape} for {len(self)} rows")
        return FeatureSet(
            X=self.X[rows],
            labels=self.labels[rows],
            track_ids=self.track_ids[rows],
            segments=self.segments[rows],
            genres=self.genres,
            config=self.config,
            flavour=self.flavour,
            skipped=list(self.skipped),
        )


def load_track(path: str, config: FeatureConfig, check: bool = True) -> np.ndarray:
    """Load one clip as mono float32 at ``config.sr`` with :func:`helpers.audio.load_clip`.

    With ``check``, a clip whose file is not at ``config.sr`` or not mono is refused (DataError)
    instead of being silently resampled or mixed down.
    """
    from helpers.audio import load_clip

    if check:
        return load_clip(path, sr=config.sr, mono=True, expect_sr=config.sr, expect_mono=True)
    return load_clip(path, sr=config.sr, mono=True)


def track_features(path: str, config: FeatureConfig, max_segments: int | None, check: bool = True):
    """Features of one track, or ``(None, reason)`` when the clip cannot be used.

    The per-track job of :func:`extract_features` (and of :mod:`helpers.cluster`'s workers): load the
    clip (:func:`load_track`), then :func:`~helpers.features.maths.clip_features`.
    """
    try:
        y = load_track(path, config, check)
    except (DataError, OSError, RuntimeError, EOFError) as error:
        return None, str(error) if str(path) in str(error) else f"{path}: {error}"
    feats = clip_features(y, config, max_segments)
    if len(feats) == 0:
        return None, (
            f"{path}: {len(y) / config.sr:.2f} s is shorter than one segment "
            f"({config.segment_seconds:.2f} s)"
        )
    return feats, None



def cache_path(table: pd.DataFrame, config: FeatureConfig, cache_dir=None, check: bool = True) -> Path:
    """Where :func:`extract_features` caches the features of ``table`` under ``config``.

    Explained in chapter *From audio to features*. The name combines the flavour,
    :meth:`FeatureConfig.key` and a fingerprint of the audio files' contents
    (:func:`files_fingerprint`), so changing a parameter or replacing a file means a new cache entry.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_home(create=False) / "features"
    flavour = table.attrs.get("flavour", "unknown")
    strict = "" if check else "-unchecked"
    fingerprint = files_fingerprint(table["path"], table["track_id"], table["label"])
    return folder / f"{flavour}-{config.kind}-{config.key()}-{fingerprint}{strict}.npz"


_FEATURE_ARRAYS = ("X", "labels", "track_ids", "segments", "genres", "skipped", "flavour", "config")


def _feature_arrays(features: FeatureSet) -> dict[str, np.ndarray]:
    """A FeatureSet as named plain arrays (what the cache stores; no pickle)."""
    return {
        "X": features.X.astype(np.float32, copy=False),
        "labels": features.labels.astype(np.int64),
        "track_ids": features.track_ids.astype(str),
        "segments": features.segments.astype(np.int64),
        "genres": np.asarray(features.genres, dtype=str),
        "skipped": np.asarray(features.skipped, dtype=str),
        "flavour": np.asarray(features.flavour),
        "config": np.asarray(json.dumps(asdict(features.config), sort_keys=True)),
    }


def check_feature_arrays(arrays: dict[str, np.ndarray], table: pd.DataFrame, config: FeatureConfig,  # noqa: C901 (issue 27: split when next touched)
                         max_segments: int | None = None) -> str | None:
    """Why the cached arrays of :func:`extract_features` are not the features of ``table`` under ``config``.

    Explained in chapter *From audio to features*. Returns None when they are: ``X`` is float32 of
    shape ``(N, frames_per_segment, n_features)`` with finite values; ``labels``, ``track_ids`` and
    ``segments`` have one entry per row, of integer / string type; every row's track is a track of
    the table, with the table's label; every track of the table has rows or is among ``skipped``;
    segment numbers lie in ``0 .. n_segments - 1``; ``config`` is the JSON of ``config`` exactly (no
    key missing, none unknown); ``flavour`` and ``genres`` are the table's and the book's. A cache
    that fails is recomputed, never served (:func:`cached_arrays`).
    """
    X, labels, track_ids, segments = (arrays[k] for k in ("X", "labels", "track_ids", "segments"))
    expected = (config.frames_per_segment, config.n_features)
    if X.dtype != np.float32 or X.ndim != 3 or X.shape[1:] != expected:
        return f"X is {X.dtype} of shape {X.shape}, expected float32 of shape (N, {expected[0]}, {expected[1]})"
    n = len(X)
    for name, values, kind in (("labels", labels, "iu"), ("track_ids", track_ids, "U"),
                               ("segments", segments, "iu")):
        if values.ndim != 1 or len(values) != n or values.dtype.kind not in kind:
            return f"{name} is {values.dtype} of shape {values.shape} for {n} rows of X"
    for first in range(0, n, 256):  # in blocks: no full-size temporary for full GTZAN's log-mel
        block = X[first : first + 256]
        if not np.isfinite(block).all():
            return f"X holds values that are not finite (first in row {first + int(np.argmin(np.isfinite(block).all(axis=(1, 2))))})"
    stored = json.loads(str(arrays["config"]))
    wanted = json.loads(json.dumps(asdict(config)))
    if stored != wanted:
        if not isinstance(stored, dict):
            return f"its config is a JSON {type(stored).__name__}, not an object"
        differ = sorted(set(stored) ^ set(wanted) | {k for k in set(stored) & set(wanted) if stored[k] != wanted[k]})
        return f"it was made with another configuration (differs in {', '.join(differ)})"
    if str(arrays["flavour"]) != table.attrs.get("flavour", "unknown"):
        return f"it holds {str(arrays['flavour'])!r} features, not {table.attrs.get('flavour', 'unknown')!r}"
    if tuple(str(g) for g in np.atleast_1d(arrays["genres"])) != tuple(GENRES):
        return "its genres are not the book's ten"
    limit = config.n_segments if max_segments is None else max_segments
    if n and (segments.min() < 0 or segments.max() >= limit):
        return f"its segment numbers lie outside 0..{limit - 1}"
    label_of = dict(zip(table["track_id"].astype(str), table["label"].astype(np.int64), strict=True))
    unknown = sorted(set(np.unique(track_ids)) - set(label_of))
    if unknown:
        return f"it holds {len(unknown)} track(s) not in the table, e.g. {unknown[0]}"
    if n and not np.array_equal(labels, np.array([label_of[t] for t in track_ids], dtype=np.int64)):
        return "its labels are not the table's labels of its tracks"
    skipped = np.atleast_1d(arrays["skipped"])
    if table["track_id"].is_unique and len(np.unique(track_ids)) + len(skipped) != len(label_of):
        return (f"it holds {len(np.unique(track_ids))} tracks and {len(skipped)} skipped clip(s), "
                f"but the table has {len(label_of)} tracks")
    return None


def _feature_set(arrays: dict[str, np.ndarray]) -> FeatureSet:
    """The FeatureSet of :func:`_feature_arrays`' arrays."""
    return FeatureSet(
        X=arrays["X"],
        labels=arrays["labels"],
        track_ids=arrays["track_ids"],
        segments=arrays["segments"],
        genres=tuple(str(g) for g in arrays["genres"]),
        config=FeatureConfig(**json.loads(str(arrays["config"]))),
        flavour=str(arrays["flavour"]),
        skipped=[str(s) for s in arrays["skipped"]],
    )


def extract_features(  # noqa: PLR0913 (issue 27: split when next touched)
    table: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen dataclass, safe default
    n_jobs: int = -1,
    cache: bool = True,
    progress: bool | None = None,
    max_segments: int | None = None,
    cache_dir=None,
    backend: str = "threading",
    check: bool = True,
) -> FeatureSet:
    """Segment features of every clip of a GTZAN table: parallel, cached, track ids kept.

    Explained in chapter *From audio to features*.

    Parameters
    ----------
    table : pandas.DataFrame
        A clip table from :func:`helpers.datasets.load_gtzan` (columns ``path``, ``genre``,
        ``label``, ``track_id``; ``attrs['flavour']``), or a subset of its rows.
    config : FeatureConfig
        What to extract.
    n_jobs, backend, progress
        The per-track loop's workers, joblib backend and progress bar (:func:`map_tracks`;
        ``progress=None`` shows a bar only for long runs).
    cache : bool
        Read/write the ``.npz`` cache (see :func:`cache_path`); a second call with the same table,
        files and config loads in well under a second. A cache file is served only after
        :func:`check_feature_arrays` accepts it; a damaged or invalid one is named in a warning,
        recomputed and replaced. A cache folder that cannot be written means computing without
        caching (one warning).
    max_segments : int, optional
        Segments per track (default ``config.n_segments``).
    cache_dir : path, optional
        Cache folder (default ``cache_home()/features``).
    check : bool
        Refuse (skip and name) clips whose file is not at ``config.sr`` Hz or not mono, as
        GTZAN's clips all are; with False they are resampled / mixed down silently, as
        ``librosa.load`` does.

    Returns
    -------
    FeatureSet
        Bad clips (unreadable, too short, ...) are skipped with one warning that names them and
        counts them, and listed in ``FeatureSet.skipped``.
    """
    require_columns(table, ["path", "label", "track_id"], "clip table")
    if max_segments is not None and max_segments != config.n_segments:
        cache_file = None  # unusual request: do not cache
    else:
        cache_file = cache_path(table, config, cache_dir, check) if cache else None

    def compute() -> dict[str, np.ndarray]:
        paths = table["path"].astype(str).tolist()
        results = map_tracks(lambda path: track_features(path, config, max_segments, check), paths,
                             n_jobs=n_jobs, backend=backend, progress=progress, desc=f"{config.kind} features")
        blocks, labels, track_ids, segments, skipped = [], [], [], [], []
        for (feats, reason), label, track in zip(results, table["label"], table["track_id"], strict=True):
            if feats is None:
                skipped.append(reason)
                continue
            blocks.append(feats)
            labels.append(np.full(len(feats), int(label), dtype=np.int64))
            track_ids.append(np.full(len(feats), str(track)))
            segments.append(np.arange(len(feats), dtype=np.int64))
        if skipped:
            warnings.warn(f"skipped {len(skipped)} of {len(paths)} clips:\n  " + "\n  ".join(skipped),
                          stacklevel=4)
        empty = np.empty((0, config.frames_per_segment, config.n_features), dtype=np.float32)
        return _feature_arrays(FeatureSet(
            X=np.concatenate(blocks) if blocks else empty,
            labels=np.concatenate(labels) if labels else np.empty(0, dtype=np.int64),
            track_ids=np.concatenate(track_ids) if track_ids else np.empty(0, dtype=str),
            segments=np.concatenate(segments) if segments else np.empty(0, dtype=np.int64),
            genres=tuple(GENRES),
            config=config,
            flavour=table.attrs.get("flavour", "unknown"),
            skipped=skipped,
        ))

    return _feature_set(cached_arrays(cache_file, compute, required=_FEATURE_ARRAYS,
                                      validate=lambda arrays: check_feature_arrays(arrays, table, config)))


__all__ = [
    "FeatureSet",
    "cache_path",
    "check_feature_arrays",
    "extract_features",
    "load_track",
    "track_features",
]
