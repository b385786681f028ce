"""The one per-track runner: a parallel loop over clips (:func:`map_tracks`) and its validated cache.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``). Every per-track
extractor uses it — :func:`helpers.features.extract.extract_features`, :mod:`helpers.descriptors`,
:mod:`helpers.embeddings`, :mod:`helpers.augment`'s progress bar and :mod:`helpers.cluster`: a new
one writes a job for one path and maps it with :func:`map_tracks`, cached with
:func:`cached_arrays` under a name that includes :func:`files_fingerprint`.

Caches are trusted only after validation
----------------------------------------
A cache entry is named by the flavour, :meth:`FeatureConfig.key` and a fingerprint of the audio
files' *contents* (:func:`files_fingerprint`, SHA-256 of each file's bytes, remembered within a run):
a clip replaced by another, even of the same size and modification time, means a new entry. A
cache file is used only if it reads back and passes :func:`check_feature_arrays` (shape, dtype,
finite values, one label, track id and segment number per row, the labels of the table's tracks,
the same configuration, flavour and genres); any other file (truncated, a bad CRC, NaN in ``X``,
another configuration, a ``config`` entry that is not JSON or has an unknown key) is named in a
warning, recomputed and atomically replaced — never served, never fatal. Temporary files left by
a killed save are removed. A cache folder that cannot be written (read-only, or not creatable)
means computing without caching, said once in a warning.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from helpers.backend import compile_librosa
from helpers.errors import ParameterError
from helpers.files import atomic_path, content_digest

#: :func:`map_tracks` shows a progress bar by default from this many tracks on (short runs stay quiet).
PROGRESS_MIN_TRACKS = 200


def show_progress(progress: bool | None, n_tracks: int) -> bool:
    """Whether a loop over ``n_tracks`` tracks shows a progress bar.

    ``progress`` when given; ``None`` means only for long runs, from :data:`PROGRESS_MIN_TRACKS`
    tracks on: full GTZAN (1000 clips) shows its bars, mini GTZAN (100 clips) keeps the stored
    notebook outputs clean.
    """
    return n_tracks >= PROGRESS_MIN_TRACKS if progress is None else bool(progress)





def map_tracks(job: Callable, paths: Sequence, n_jobs: int = -1, backend: str = "threading",
               progress: bool | None = None, desc: str = "tracks") -> list:
    """``[job(path) for path in paths]``, tracks in parallel (joblib), in order, with a progress bar.

    The per-track loop of :func:`extract_features`, :func:`helpers.descriptors.extract_descriptors`
    (and any other per-track extraction). The BLAS library is limited to one thread per worker,
    so that ``n_jobs`` workers do not over-subscribe the cores.

    Parameters
    ----------
    job : callable
        Called once per path; must be picklable for ``backend='loky'``.
    paths : sequence
    n_jobs : int
        Parallel workers (``-1``: one per CPU core; 1: a plain loop).
    backend : str
        joblib backend. ``'threading'`` (default) starts instantly; FFTs, matrix products and
        decoding release the GIL, so threads run them in parallel. ``'loky'`` uses processes.
    progress : bool or None
        Show a tqdm bar (updated at most every 2 s and cleared at the end, so that a stored
        notebook output keeps no trace of it). ``None``: only for long runs, from
        :data:`PROGRESS_MIN_TRACKS` tracks on.
    desc : str
        The progress bar's label.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs must be -1 or a positive whole number, got {n_jobs!r}")
    paths = list(paths)
    show = show_progress(progress, len(paths))
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs == 1:
            results = (job(path) for path in paths)
        else:
            if backend != "threading":
                compile_librosa()  # worker processes must not compile librosa's gufuncs at the same time
            results = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")(
                delayed(job)(path) for path in paths)
        if show:
            results = tqdm(results, total=len(paths), desc=desc, unit="track", mininterval=2.0, leave=False)
        return list(results)


def write_cache(path, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to ``path`` (``.npz``, no pickle) atomically: a temporary file, then a rename.

    A reader sees either the old file or the complete new one, never a half-written one; the
    temporary file is removed if the write fails.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


#: What a validation function may raise on a malformed cache (caught: the cache is not used).
_INVALID = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def read_cache(path, required: Sequence[str] = (),
               validate: Callable[[dict[str, np.ndarray]], str | None] | None = None) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file written by :func:`write_cache`, or None if it is missing or not valid.

    A file that is damaged (truncated, overwritten, a bad CRC, not a ``.npz``, lacking one of the
    ``required`` arrays) or that ``validate`` rejects (it returns a reason, or raises ``ValueError``,
    ``TypeError``, ``KeyError``, ...) is reported in a warning that names it and the reason, and
    None is returned, so that the caller recomputes it; the file is left for the caller's atomic
    replacement (:func:`cached_arrays`), never served.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        missing = set(required) - set(arrays)
        if missing:
            raise KeyError(f"no array(s) {sorted(missing)}")
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as error:
        warnings.warn(f"cache file {path} is damaged ({type(error).__name__}: {error}); recomputing it",
                      stacklevel=3)
        return None
    if validate is not None:
        try:
            problem = validate(arrays)
        except _INVALID as error:
            problem = f"{type(error).__name__}: {error}"
        if problem:
            warnings.warn(f"cache file {path} is not valid ({problem}); recomputing it", stacklevel=3)
            return None
    return arrays


#: Cache folders already reported as not writable in this run (each is reported once).
_UNWRITABLE: set[str] = set()
_UNWRITABLE_LOCK = threading.Lock()


def cached_arrays(path, compute: Callable[[], dict[str, np.ndarray]], required: Sequence[str] = (),
                  validate: Callable[[dict[str, np.ndarray]], str | None] | None = None) -> dict[str, np.ndarray]:
    """Named arrays read from the cache file ``path``, or ``compute()``\\ d and written there.

    ``path=None`` means no cache. A cache file is served only if it reads back, holds the
    ``required`` arrays and passes ``validate`` (a function of the arrays returning None when they
    are valid, else the reason); otherwise it is named in a warning, recomputed and replaced
    atomically (:func:`read_cache`, :func:`write_cache`); leftovers of a killed save are removed.
    A cache folder that cannot be written (read-only, not creatable, a full disk) means the arrays
    are computed without caching, with one warning per folder and run.
    """
    if path is None:
        return compute()
    stored = read_cache(path, required, validate)
    if stored is not None:
        return stored
    arrays = compute()
    try:
        write_cache(path, arrays)
    except OSError as error:
        folder = str(Path(path).parent)
        with _UNWRITABLE_LOCK:
            first = folder not in _UNWRITABLE
            _UNWRITABLE.add(folder)
        if first:
            warnings.warn(f"the cache folder {folder} cannot be written ({error.strerror or error}); "
                          "computing without caching", stacklevel=2)
    return arrays


def files_fingerprint(paths, *extra) -> str:
    """Hash of every file's path and content (and of the ``extra`` columns, row by row).

    Part of every cache file name, so that replacing, editing or removing a file means a new entry.
    A file's content is its SHA-256 (:func:`helpers.files.content_digest`, read once per run and
    file), not its size and modification time, which ``tar`` and ``rsync -a`` restore.
    """
    digest = hashlib.sha1()
    for path, *rest in zip(paths, *extra, strict=True):
        digest.update("|".join(map(str, [path, *rest, content_digest(path)])).encode(errors="surrogateescape")
                      + b"\n")
    return digest.hexdigest()[:16]


__all__ = [
    "PROGRESS_MIN_TRACKS",
    "cached_arrays",
    "files_fingerprint",
    "map_tracks",
    "read_cache",
    "show_progress",
    "write_cache",
]
