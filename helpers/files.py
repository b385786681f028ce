"""Writing files so that a reader never sees half of one (the bottom of the package, beside config).

Used by every cache and output of the book: features and descriptors (chapter 5), the report's JSON
file (chapter 5), results tables, model bundles (chapter 8) and the librosa stand-ins (chapter 0).
A write goes to a temporary file beside the target and is renamed onto it when complete
(``os.replace`` is atomic on one file system); a failed or interrupted write leaves the old file,
and the temporary file is removed, or — when the process was killed — by the next write.

Only files the writer itself creates are ever removed: a temporary file is named
``<name>.<pid>.<8 hex digits>.tmp[<suffix>]`` and nothing else is taken for one, so
``scores.csv.backup.tmp`` or ``scores.csv.2024.tmp.txt`` beside ``scores.csv`` are never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.errors import ParameterError

#: What :func:`atomic_path` appends to a file's name: ``.<pid>.<8 hex digits>.tmp[<suffix>]``.
_TEMPORARY = re.compile(r"\.(?P<pid>[1-9][0-9]*)\.[0-9a-f]{8}\.tmp(?:\.[A-Za-z0-9]+)?")


def temporary_name(path: str | os.PathLike, suffix: str = "") -> Path:
    """The name :func:`atomic_path` writes ``path`` under: ``<name>.<pid>.<8 hex digits>.tmp<suffix>``."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp{suffix}")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` whose writing process is gone; return them.

    Only names of the exact form :func:`atomic_path` creates, ``<name>.<pid>.<8 hex
    digits>.tmp[<suffix>]``, are temporaries; any other file (``<name>.backup.tmp``,
    ``<name>.2024.tmp.txt``) is not the writer's and is left alone, and so is a temporary file of a
    live process (a parallel writer).
    """
    path = Path(path)
    removed = []
    try:
        names = sorted(os.listdir(path.parent))
    except OSError:  # no such folder yet, or not readable: nothing of ours to clean
        return removed
    for name in names:
        match = _TEMPORARY.fullmatch(name[len(path.name):]) if name.startswith(path.name) else None
        if match is None:
            continue
        tmp = path.parent / name
        try:
            os.kill(int(match["pid"]), 0)  # raises if no such process
            alive = True
        except (ProcessLookupError, OverflowError, ValueError):
            alive = False
        except PermissionError:  # a live process of another user
            alive = True
        if not alive:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # a read-only folder: the leftover stays, harmlessly
                continue
            removed.append(tmp)
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : path
        The file to (re)write; its folder is created.
    suffix : str
        Appended to the temporary name, for writers that choose a format by extension
        (``soundfile.write`` needs ``.wav``): a dot and letters or digits.

    Examples
    --------
    >>> with atomic_path(folder / "table.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    if suffix and not re.fullmatch(r"\.[A-Za-z0-9]+", suffix):
        raise ParameterError(f"atomic_path: suffix {suffix!r} must be a dot and letters or digits, e.g. '.wav'")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: Content digests of files already hashed in this run, keyed by what would change if the file did.
_DIGESTS: dict[tuple, str] = {}
_DIGESTS_LOCK = threading.Lock()


def content_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), or ``'missing'`` / ``'not a regular file'``.

    Explained in chapter *From audio to features*: a cache entry is keyed by what the files hold,
    not by their size and modification time (a clip replaced by another of the same size with its
    modification time restored, as ``tar`` and ``rsync -a`` do, is a new clip). Hashing the 100
    clips of mini GTZAN (130 MB) takes a fraction of a second; the digest is remembered for the rest of the run, keyed by the
    file's path, size, modification and status-change times (the latter cannot be set back), inode
    and device, so a file is read again only when one of them changes. A folder, FIFO or device is
    never read (a FIFO would block).
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except OSError:
        return "missing"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    key = (path, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
    with _DIGESTS_LOCK:
        known = _DIGESTS.get(key)
    if known is not None:
        return known
    try:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:  # unreadable (permissions): still a distinct, stable state
        return f"unreadable ({error.strerror or type(error).__name__})"
    after = os.stat(path)
    if key == (path, after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, after.st_dev):
        with _DIGESTS_LOCK:  # remembered only if the file did not change while it was read
            _DIGESTS[key] = digest
    return digest


def set_aside(path: str | os.PathLike) -> Path:
    """Rename a file or folder the book did not create out of the way, never delete it; return the new name.

    The new name is ``<name>.set-aside-<date>T<time>`` beside it (with ``-2``, ``-3``, ... if taken),
    so that the book can write its own ``<name>`` while the user's content stays.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.set-aside-{stamp}")
    number = 1
    while aside.exists() or aside.is_symlink():
        number += 1
        aside = path.with_name(f"{path.name}.set-aside-{stamp}-{number}")
    path.rename(aside)
    return aside
