"""Writing files so that a reader never sees half of one (the bottom of the package, beside config).

Used by every cache and output of the book: features and descriptors (chapter 5), the report's JSON
file (chapter 5), results tables, model bundles (chapter 8) and the librosa stand-ins (chapter 0).
A write goes to a temporary file beside the target and is renamed onto it when complete
(``os.replace`` is atomic on one file system); a failed or interrupted write leaves the old file,
and the temporary file is removed, or — when the process was killed — by the next write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` whose writing process is gone; return them.

    A temporary file is named ``<name>.<pid>.<random>.tmp[<suffix>]`` (see :func:`atomic_path`),
    so a file of a live process (a parallel writer) is left alone.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f"{path.name}.*.tmp*"):
        try:
            os.kill(int(tmp.name[len(path.name) + 1:].split(".")[0]), 0)  # raises if no such process
            alive = True
        except (ValueError, ProcessLookupError):
            alive = False
        except PermissionError:  # a live process of another user
            alive = True
        if not alive:
            tmp.unlink(missing_ok=True)
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
        (``soundfile.write`` needs ``.wav``).

    Examples
    --------
    >>> with atomic_path(folder / "table.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
