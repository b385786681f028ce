"""The book's per-track extraction on a Dask cluster, its results kept in a resumable Parquet store.

Explained in chapter 11, *Scaling out* (``chapters/11_scaling_out.ipynb``).

Chapter 5 maps one job per track over the clips with joblib (:func:`helpers.features.map_tracks`), on
the cores of one machine. Here the same job runs on a ``dask.distributed`` cluster: a ``LocalCluster``
of worker processes on this machine (:func:`local_cluster`), or any cluster whose scheduler address a
``distributed.Client`` is given (dask-jobqueue on SLURM, the Dask Kubernetes operator, ...). The
jobs are the book's own, not copies: :func:`mfcc_job` calls the function
:func:`helpers.features.extract_features` maps (chapter 5), :func:`embedding_job` the one
:func:`helpers.embeddings.extract_embeddings` maps (chapter 10). What a long run on many machines needs beyond joblib's Dask backend, which
returns nothing until every task has succeeded:

* **Futures in a bounded window.** :func:`run_tracks` keeps a fixed number of tasks in flight and
  submits the next one as each finishes (``distributed.as_completed``), so a million tracks never sit
  in the scheduler at once and every result is stored as soon as it exists.
* **A bad file is a row, not a crash.** A job that raises is recorded with its error
  (``status='error'``) and the other tracks go on.
* **Dead workers.** A worker process that dies (out of memory, a crashing decoder, a lost node) is
  restarted by its nanny, and the scheduler runs the tasks it held again elsewhere; a task that
  takes down more workers than ``distributed.scheduler.allowed-failures`` allows is recorded as an
  error (``KilledWorker``) instead of being retried for ever.
* **Resume.** Results go to a Parquet *store*, a folder of ``part-NNNNNN.parquet`` files, one written
  (atomically) every ``flush_every`` results; a killed run loses at most the results it had not yet
  written, and the next run on the same store skips every track already there.

Dask, distributed and pyarrow belong to the chapters' extra, not to the light prediction install:
they are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import musicnn
from helpers.backend import compile_librosa
from helpers.config import GENRES
from helpers.embeddings import Embeddings, track_embeddings
from helpers.errors import DataError, ParameterError, require_columns
from helpers.features import FeatureConfig, FeatureSet, show_progress, track_features
from helpers.files import atomic_path, remove_stale_temporaries

#: Bump when the store's columns change (a store of another version is refused, not misread).
STORE_VERSION = 1
_PART = re.compile(r"^part-(\d{6})\.parquet$")
_METADATA_KEY = b"genre_book"


def require_cluster_libraries(needed_by: str) -> None:
    """Stop with one line naming the ``chapters`` extra when Dask, distributed or pyarrow is missing."""
    missing = [name for name in ("dask", "distributed", "pyarrow") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(f"{needed_by} needs {', '.join(missing)}, which the base install of "
                                  'genre-book-helpers leaves out: pip install "genre-book-helpers[chapters]"',
                                  name=missing[0])


# ---------------------------------------------------------------------------------------------
# The per-track job and the task that wraps it on a worker
# ---------------------------------------------------------------------------------------------


def mfcc_job(path, config: FeatureConfig = FeatureConfig()) -> np.ndarray:  # noqa: B008 - frozen dataclass
    """Chapter 5's features of one clip: ``(segments, frames, features)`` float32.

    Explained in chapter 11, *Scaling out*. The very function that
    :func:`helpers.features.extract_features` maps over the clips (load the clip with
    :func:`helpers.audio.load_clip`, refusing another sample rate or stereo; one spectrogram sliced
    into segments by :func:`helpers.features.clip_features`), so a cluster computes the same numbers.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read or is shorter than one segment.
    """
    features, reason = track_features(str(path), config, None, True)
    if features is None:
        raise DataError(reason)
    return features


#: What :func:`embedding_job` returns, in order: every pooled layer of chapter 10, the mean tag
#: probabilities, and the number of 3 s patches.
EMBEDDING_FIELDS = (*(f"{layer}_{p}" for layer in musicnn.LAYERS for p in musicnn.POOLINGS), "tags", "n_patches")


def embedding_job(path, model: str = "msd") -> np.ndarray:
    """Chapter 10's musicnn embeddings of one clip, as one float32 vector (see :data:`EMBEDDING_FIELDS`).

    Explained in chapter 11, *Scaling out*. :func:`helpers.embeddings.track_embeddings`, the per-track
    job of :func:`helpers.embeddings.extract_embeddings` (level normalisation, log-mel, 3 s patches,
    the NumPy network, mean and max over the patches), its fields laid end to end; each worker
    process loads the network once. :func:`store_embeddings` reads them back.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read or is shorter than one patch.
    """
    out = track_embeddings(path, model)
    return np.concatenate([np.ravel(np.asarray(out[name], dtype=np.float32)) for name in EMBEDDING_FIELDS])


def run_task(path: str, job: Callable, args: tuple = ()) -> dict:
    """Run ``job(path, *args)`` on a worker and return a record of it; a failure is recorded, not raised.

    Notebook: chapters/11_scaling_out.ipynb

    Explained in chapter 11, *Scaling out*. BLAS is limited to one thread, as in chapter 5's loop, so
    that one worker process per core does not over-subscribe the machine.

    Returns
    -------
    dict
        ``path``, ``value`` (the job's array, or None), ``error`` (None, or ``'<Type>: <message>'``
        naming the file), ``start`` and ``stop`` (Unix time in s, on the worker), ``worker`` (its
        name, ``'local'`` outside a worker) and ``pid`` (its process id).
    """
    from distributed import get_worker
    from threadpoolctl import threadpool_limits

    start = time.time()
    value, error = None, None
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            value = np.asarray(job(path, *args))
    except Exception as exc:  # one file's failure is recorded; the other files go on
        message = str(exc)
        error = f"{type(exc).__name__}: {message if path in message else f'{path}: {message}'}"
    try:
        worker = str(get_worker().name)
    except ValueError:  # not running on a Dask worker
        worker = "local"
    return {"path": path, "value": value, "error": error, "start": start, "stop": time.time(),
            "worker": worker, "pid": os.getpid()}


def completed_in_window(client, function: Callable, items: Iterable, window: int, *args) -> Iterator[tuple]:
    """Submit ``function(item, *args)`` for each item, at most ``window`` at a time; yield ``(item, future)`` as each ends.

    Notebook: chapters/11_scaling_out.ipynb

    Explained in chapter 11, *Scaling out*. The next item is submitted before a finished one is
    handed back, so the cluster stays busy while the caller stores the result; tasks still in
    flight when the caller stops are cancelled.
    """
    from distributed import as_completed

    if window < 1:
        raise ParameterError(f"window must be at least 1, got {window}")
    items = iter(items)
    in_flight = {}  # future key -> (item, future)

    def submit(item):
        future = client.submit(function, item, *args, pure=False)
        in_flight[future.key] = (item, future)
        return future

    queue = as_completed([submit(item) for item in itertools.islice(items, window)])
    try:
        for future in queue:
            item, _ = in_flight.pop(future.key)
            for following in itertools.islice(items, 1):
                queue.add(submit(following))
            yield item, future
    finally:
        if in_flight:
            client.cancel([future for _, future in in_flight.values()])


# ---------------------------------------------------------------------------------------------
# The Parquet store
# ---------------------------------------------------------------------------------------------


def _parts(store: Path) -> list[Path]:
    return sorted(p for p in store.glob("part-*.parquet") if _PART.match(p.name))


def _store_settings(store: Path) -> dict | None:
    """The settings the store was written with (None for an empty or missing store)."""
    import pyarrow.parquet as pq

    parts = _parts(store)
    if not parts:
        return None
    try:
        metadata = pq.read_schema(parts[0]).metadata or {}
        stored = json.loads(metadata[_METADATA_KEY])
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{parts[0]} is not a part of a genre-book store ({error})") from None
    if stored.get("version") != STORE_VERSION:
        raise DataError(f"store {store} has version {stored.get('version')}, this code reads {STORE_VERSION}: "
                        "use another folder or delete it")
    return stored["settings"]


def _write_part(store: Path, records: list[dict], meta: dict, settings: dict) -> Path:
    """Write ``records`` as the next part of the store, atomically; return its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    numbers = [int(_PART.match(p.name).group(1)) for p in _parts(store)]
    path = store / f"part-{max(numbers, default=0) + 1:06d}.parquet"
    rows = [(r, meta[r["path"]]) for r in records]
    columns = {
        "path": pa.array([r["path"] for r, _ in rows], pa.string()),
        "track_id": pa.array([m[0] for _, m in rows], pa.string()),
        "label": pa.array([m[1] for _, m in rows], pa.int64()),
        "status": pa.array(["error" if r["error"] else "ok" for r, _ in rows], pa.string()),
        "error": pa.array([r["error"] for r, _ in rows], pa.string()),
        "shape": pa.array([None if r["value"] is None else list(r["value"].shape) for r, _ in rows],
                          pa.list_(pa.int64())),
        "value": pa.array([None if r["value"] is None else r["value"].astype(np.float32).ravel() for r, _ in rows],
                          pa.list_(pa.float32())),
        "start": pa.array([r["start"] for r, _ in rows], pa.float64()),
        "stop": pa.array([r["stop"] for r, _ in rows], pa.float64()),
        "worker": pa.array([r["worker"] for r, _ in rows], pa.string()),
        "pid": pa.array([r["pid"] for r, _ in rows], pa.int64()),
    }
    table = pa.table(columns).replace_schema_metadata(
        {_METADATA_KEY: json.dumps({"version": STORE_VERSION, "settings": settings}, sort_keys=True)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_store(store) -> pd.DataFrame:
    """Every track a store holds, one row per path (the latest record when a track was retried).

    Explained in chapter 11, *Scaling out*.

    Returns
    -------
    pandas.DataFrame
        Columns ``path``, ``track_id``, ``label``, ``status`` (``'ok'``/``'error'``), ``error``,
        ``value`` (the job's array in its shape, None for an error), ``start``, ``stop``,
        ``seconds`` (``stop - start``: the task's time on its worker), ``worker``, ``pid``,
        ``part`` (the file it came from). ``attrs['settings']`` holds what the store was written with.
        Empty (with these columns) for a missing or empty store.
    """
    require_cluster_libraries("helpers.cluster.read_store")
    import pyarrow.parquet as pq

    store = Path(store)
    columns = ["path", "track_id", "label", "status", "error", "value", "start", "stop", "seconds",
               "worker", "pid", "part"]
    settings = _store_settings(store) if store.is_dir() else None
    frames = []
    for part in _parts(store) if store.is_dir() else []:
        try:
            frame = pq.read_table(part).to_pandas()
        except OSError as error:
            raise DataError(f"store part {part} cannot be read ({error}); delete it and run again") from None
        frame["part"] = part.name
        frames.append(frame)
    if not frames:
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
        empty.attrs["settings"] = settings
        return empty
    records = pd.concat(frames, ignore_index=True).drop_duplicates("path", keep="last").reset_index(drop=True)
    records["value"] = [None if value is None else np.asarray(value, dtype=np.float32).reshape(shape)
                        for value, shape in zip(records["value"], records["shape"], strict=True)]
    records["seconds"] = records["stop"] - records["start"]
    records = records[columns]
    records.attrs["settings"] = settings
    return records


# ---------------------------------------------------------------------------------------------
# Running a job over a table on a cluster
# ---------------------------------------------------------------------------------------------


@dataclass
class ClusterRun:
    """What :func:`run_tracks` did.

    Attributes
    ----------
    store : pathlib.Path
    total : int
        Tracks in the table.
    before : int
        Tracks already in the store when the run started (skipped).
    done : int
        Tracks this run computed and stored (errors included).
    errors : list of str
        This run's failed tracks, each ``'<Type>: <message naming the file>'``.
    seconds : float
        Wall time of the run (submission to the last write).
    threads : int
        Worker threads of the cluster when the run started.
    """

    store: Path
    total: int
    before: int
    done: int
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    threads: int = 0


def run_tracks(client, job: Callable, table: pd.DataFrame, store, *, args: tuple = (), settings: dict,  # noqa: PLR0913 (issue 27: split when next touched)
               window: int | None = None, flush_every: int = 25, retry_errors: bool = False,
               progress: bool | None = None, on_result: Callable[[dict], None] | None = None) -> ClusterRun:
    """Run ``job(path, *args)`` for every clip of ``table`` on a Dask cluster; store the results as they come.

    Explained in chapter 11, *Scaling out*.

    Parameters
    ----------
    client : distributed.Client
        Connected to any cluster: :func:`local_cluster` here, ``Client("tcp://scheduler:8786")`` elsewhere.
    job : callable
        ``job(path, *args) -> array``; it must be importable or picklable by the workers and raise
        (any exception) for a file it cannot use.
    table : pandas.DataFrame
        Columns ``path``, ``track_id``, ``label`` (a table of :func:`helpers.datasets.load_gtzan`).
    store : path
        The Parquet store's folder (created). Tracks already in it are skipped: a second call resumes.
    settings : dict
        JSON-able description of the job and its parameters, kept in every part; a store written with
        other settings is refused, so results of two configurations never mix.
    window : int, optional
        Tasks in flight at once (default: twice the cluster's worker threads, at least 4).
    flush_every : int
        Results per Parquet part. A killed run loses at most this many.
    retry_errors : bool
        Run the tracks stored with an error again (e.g. after fixing a file); by default they count as done.
    progress : bool or None
        tqdm bar over the tracks to do (``None``: from :data:`helpers.features.PROGRESS_MIN_TRACKS` on).
    on_result : callable, optional
        Called in the client with each record (see :func:`run_task`) as it arrives.

    Returns
    -------
    ClusterRun

    Raises
    ------
    ParameterError
        If ``store`` holds results written with other ``settings``, or ``window``/``flush_every`` < 1.
    DataError
        If the table lacks a column or names a path twice.
    """
    from tqdm import tqdm

    require_cluster_libraries("helpers.cluster.run_tracks")
    require_columns(table, ["path", "track_id", "label"], "clip table")
    paths = table["path"].astype(str).tolist()
    if len(set(paths)) != len(paths):
        raise DataError("clip table names some paths twice: a store keeps one result per path")
    if flush_every < 1 or (window is not None and window < 1):
        raise ParameterError(f"window and flush_every must be at least 1, got {window} and {flush_every}")
    settings = json.loads(json.dumps(settings, sort_keys=True))  # as it will read back
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    for leftover in {tmp.name.split(".parquet.")[0] for tmp in store.glob("part-*.parquet.*.tmp*")}:
        remove_stale_temporaries(store / f"{leftover}.parquet")  # a killed run's half-written part
    stored = _store_settings(store)
    if stored is not None and stored != settings:
        raise ParameterError(f"store {store} holds results of other settings ({stored}); "
                             f"use another folder for {settings} or delete it")
    existing = read_store(store)
    finished = existing if not retry_errors else existing[existing["status"] == "ok"]
    done_paths = set(finished["path"])
    todo = [p for p in paths if p not in done_paths]
    meta = {str(p): (str(t), int(label)) for p, t, label in zip(table["path"], table["track_id"], table["label"],
                                                                strict=True)}
    threads = int(sum(client.nthreads().values()))
    window = window or max(4, 2 * threads)
    result = ClusterRun(store=store, total=len(paths), before=len(paths) - len(todo), done=0, threads=threads)
    started = time.perf_counter()
    buffer: list[dict] = []
    bar = tqdm(total=len(todo), desc="tracks on the cluster", unit="track", mininterval=2.0, leave=False,
               disable=not show_progress(progress, len(todo)))
    with closing(completed_in_window(client, run_task, todo, window, job, args)) as completed:
        try:
            for path, future in completed:
                if future.status == "finished":
                    record = future.result()
                else:  # the task itself failed: KilledWorker after too many worker deaths, a lost connection
                    exc = future.exception()
                    record = {"path": path, "value": None, "error": f"{type(exc).__name__}: {path}: {exc}",
                              "start": np.nan, "stop": np.nan, "worker": "", "pid": -1}
                future.release()
                buffer.append(record)
                result.done += 1
                if record["error"]:
                    result.errors.append(record["error"])
                bar.update(1)
                if len(buffer) >= flush_every:
                    _write_part(store, buffer, meta, settings)
                    buffer = []
                if on_result is not None:
                    on_result(record)
        finally:
            bar.close()
            if buffer:  # results received are complete: keep them even when the run is interrupted
                _write_part(store, buffer, meta, settings)
            result.seconds = time.perf_counter() - started
    return result


def extract_on_cluster(table: pd.DataFrame, client, store,
                       config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen dataclass
                       **options) -> ClusterRun:
    """Chapter 5's segment features of every clip of ``table``, computed on a Dask cluster into a store.

    Explained in chapter 11, *Scaling out*. :func:`run_tracks` with :func:`mfcc_job`; read the
    result with :func:`store_features`. ``options`` go to :func:`run_tracks`.
    """
    settings = {"job": "mfcc_job", "config": asdict(config)}
    return run_tracks(client, mfcc_job, table, store, args=(config,), settings=settings, **options)


def store_features(store, table: pd.DataFrame,
                   config: FeatureConfig = FeatureConfig()) -> FeatureSet:  # noqa: B008 - frozen dataclass
    """The :class:`~helpers.features.FeatureSet` of ``table``'s clips, read from a store, in table order.

    Explained in chapter 11, *Scaling out*: the same object chapter 5's
    :func:`~helpers.features.extract_features` returns, so the two paths can be compared.

    Raises
    ------
    DataError
        If the store lacks some of the table's tracks (run :func:`extract_on_cluster` again to finish).
    ParameterError
        If the store holds features of another configuration.
    """
    records = read_store(store)
    expected = {"job": "mfcc_job", "config": json.loads(json.dumps(asdict(config), sort_keys=True))}
    if records.attrs["settings"] is not None and records.attrs["settings"] != expected:
        raise ParameterError(f"store {store} holds {records.attrs['settings']}, not {expected}")
    by_path = records.set_index("path")
    paths = table["path"].astype(str)
    absent = [p for p in paths if p not in by_path.index]
    if absent:
        raise DataError(f"store {store} lacks {len(absent)} of the table's {len(paths)} tracks "
                        f"(first: {absent[0]}); run the extraction again to finish them")
    blocks, labels, track_ids, segments, skipped = [], [], [], [], []
    for path, label, track in zip(paths, table["label"], table["track_id"], strict=True):
        row = by_path.loc[path]
        if row["status"] != "ok":
            skipped.append(row["error"])
            continue
        blocks.append(row["value"])
        labels.append(np.full(len(row["value"]), int(label), dtype=np.int64))
        track_ids.append(np.full(len(row["value"]), str(track)))
        segments.append(np.arange(len(row["value"]), dtype=np.int64))
    empty = np.empty((0, config.frames_per_segment, config.n_features), dtype=np.float32)
    return FeatureSet(
        X=np.concatenate(blocks) if blocks else empty,
        labels=np.concatenate(labels) if labels else np.empty(0, dtype=np.int64),
        track_ids=np.concatenate(track_ids) if track_ids else np.empty(0, dtype=str),
        segments=np.concatenate(segments) if segments else np.empty(0, dtype=np.int64),
        genres=tuple(GENRES), config=config, flavour=table.attrs.get("flavour", "unknown"), skipped=skipped)


def embed_on_cluster(table: pd.DataFrame, client, store, model: str = "msd", **options) -> ClusterRun:
    """Chapter 10's musicnn embeddings of every clip of ``table``, computed on a Dask cluster into a store.

    Explained in chapter 11, *Scaling out*. :func:`run_tracks` with :func:`embedding_job`; read the
    result with :func:`store_embeddings`. ``options`` go to :func:`run_tracks`.
    """
    if model not in musicnn.TAGS:
        raise ParameterError(f"model must be one of {sorted(musicnn.TAGS)}, got {model!r}")
    settings = {"job": "embedding_job", "model": model, "fields": list(EMBEDDING_FIELDS)}
    return run_tracks(client, embedding_job, table, store, args=(model,), settings=settings, **options)


def store_embeddings(store, table: pd.DataFrame, model: str = "msd", layer: str = "penultimate",
                     pooling: Sequence[str] = musicnn.POOLINGS) -> Embeddings:
    """The :class:`~helpers.embeddings.Embeddings` of ``table``'s clips, read from a store, in table order.

    Explained in chapter 11, *Scaling out*: the object chapter 10's
    :func:`~helpers.embeddings.extract_embeddings` returns, for comparing the two paths.

    Raises
    ------
    DataError
        If a track of the table is missing from the store or was recorded with an error (an
        embedding table has a row for every track).
    ParameterError
        For another model, an unknown layer or pooling.
    """
    if layer not in musicnn.LAYERS or any(p not in musicnn.POOLINGS for p in pooling):
        raise ParameterError(f"layer must be one of {list(musicnn.LAYERS)} and pooling among {musicnn.POOLINGS}")
    records = read_store(store)
    expected = {"job": "embedding_job", "model": model, "fields": list(EMBEDDING_FIELDS)}
    if records.attrs["settings"] is not None and records.attrs["settings"] != expected:
        raise ParameterError(f"store {store} holds {records.attrs['settings']}, not {expected}")
    by_path = records.set_index("path")
    paths = table["path"].astype(str)
    bad = [p for p in paths if p not in by_path.index or by_path.loc[p, "status"] != "ok"]
    if bad:
        raise DataError(f"store {store} has no embedding of {len(bad)} of the table's {len(paths)} tracks "
                        f"(first: {bad[0]})")
    rows = np.stack([by_path.loc[p, "value"] for p in paths]).astype(np.float32)
    sizes = {f"{name}_{p}": dims for name, dims in musicnn.LAYERS.items() for p in musicnn.POOLINGS}
    sizes.update(tags=len(musicnn.TAGS[model]), n_patches=1)
    bounds = np.cumsum([0, *(sizes[name] for name in EMBEDDING_FIELDS)])
    fields = {name: rows[:, lo:hi] for name, lo, hi in zip(EMBEDDING_FIELDS, bounds[:-1], bounds[1:], strict=True)}
    return Embeddings(
        X=np.concatenate([fields[f"{layer}_{p}"] for p in pooling], axis=1), tags=fields["tags"],
        n_patches=fields["n_patches"][:, 0].astype(np.int64), track_ids=np.asarray(table["track_id"].astype(str)),
        labels=table["label"].to_numpy(dtype=np.int64), genres=tuple(GENRES), model=model, layer=layer,
        pooling=tuple(pooling))


# ---------------------------------------------------------------------------------------------
# A local cluster and what its workers report
# ---------------------------------------------------------------------------------------------


@contextmanager
def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, memory_limit="auto",
                  malloc_trim_threshold: int | None = None) -> Iterator:
    """A ``distributed.LocalCluster`` of ``n_workers`` worker processes and a ``Client`` to it.

    Explained in chapter 11, *Scaling out*. Each worker is a separate process watched by a nanny
    that restarts it when it dies; the scheduler's web server (the dashboard, when bokeh is
    installed) takes a free port, and Dask's own log lines are kept out of the notebook (only errors
    are logged). Elsewhere, replace it by ``distributed.Client(address)``. librosa's compiled
    functions are made in this process first (:func:`helpers.backend.compile_librosa`), so that
    the workers, which share this machine's numba cache, only read them.

    Parameters
    ----------
    n_workers, threads_per_worker : int
        Worker processes, and threads in each (one per process: the book's jobs hold the GIL in parts).
    memory_limit : str or int
        Per worker; above 95 % of it the nanny restarts the worker (Dask's default ``'auto'``:
        the machine's memory divided among the workers).
    malloc_trim_threshold : int or None
        Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc then returns freed
        memory to the system sooner, and stops adapting its ``mmap`` threshold, so that every array
        above 128 KiB is a fresh ``mmap`` whose pages are zeroed on first use). ``None`` (default)
        leaves glibc's own adaptive behaviour, which chapter 11 measures to be faster for the book's
        per-track jobs; give ``65536`` for Dask's setting.

    Yields
    ------
    distributed.Client
    """
    require_cluster_libraries("helpers.cluster.local_cluster")
    import dask
    from distributed import Client, LocalCluster

    if n_workers < 1 or threads_per_worker < 1:
        raise ParameterError(f"need n_workers >= 1 and threads_per_worker >= 1, got {n_workers}, "
                             f"{threads_per_worker}")
    compile_librosa()  # before the workers start: they must not compile librosa's gufuncs at the same time
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": malloc_trim_threshold}):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                               memory_limit=memory_limit, dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def warm_up(client, job: Callable, path, args: tuple = ()) -> None:
    """Run ``job(path, *args)`` once on every worker (imports, cached constants), outside any timing.

    Explained in chapter 11, *Scaling out*: a worker's first task also pays for importing librosa
    and SciPy and for building the filterbank; a per-clip cost measured without warming up
    charges that once-per-worker cost to the first clips.
    """
    client.run(run_task, str(path), job, args)


def _peak_rss_bytes() -> int:
    """The peak resident memory of this process in bytes (``getrusage``; kB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def worker_memory(client) -> pd.DataFrame:
    """Peak and current resident memory of every worker process of the cluster, in MB.

    Explained in chapter 11, *Scaling out*. The peak counts from the process's start, so it
    includes the libraries every worker imports (NumPy, SciPy, librosa, Dask) as well as its tasks.
    """
    import psutil

    peak = client.run(_peak_rss_bytes)
    now = client.run(lambda: psutil.Process().memory_info().rss)
    pids = client.run(os.getpid)
    return pd.DataFrame({"worker": list(peak), "pid": [pids[a] for a in peak],
                         "peak_mb": [peak[a] / 1e6 for a in peak], "current_mb": [now[a] / 1e6 for a in peak]})


# ---------------------------------------------------------------------------------------------
# Command line: the same extraction from a shell, on a local cluster or a scheduler's address
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.cluster --store DIR [--workers N | --scheduler ADDRESS]``.

    Extracts chapter 5's MFCC features of every clip of the GTZAN flavour in use
    (``$GTZAN_FLAVOUR``, see :func:`helpers.datasets.load_gtzan`) into the store, resuming it.
    """
    from helpers.datasets import load_gtzan

    parser = argparse.ArgumentParser(prog="python -m helpers.cluster", description=main.__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="Parquet store folder (resumed if it exists)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    where.add_argument("--scheduler", help="address of a running scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--flavour", help="GTZAN flavour (default: $GTZAN_FLAVOUR, else mini)")
    parser.add_argument("--flush-every", type=int, default=25, help="results per Parquet part")
    options = parser.parse_args(argv)
    table = load_gtzan(options.flavour)
    try:
        if options.scheduler:
            from distributed import Client

            with Client(options.scheduler) as client:
                run = extract_on_cluster(table, client, options.store, flush_every=options.flush_every)
        else:
            with local_cluster(options.workers) as client:
                run = extract_on_cluster(table, client, options.store, flush_every=options.flush_every)
    except (DataError, ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{run.done} tracks computed in {run.seconds:.1f} s ({run.before} already stored, "
          f"{len(run.errors)} errors) -> {run.store}")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
