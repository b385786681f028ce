"""Settings for every test session, chapters included (``tests/conftest.py`` has the unit tests' fixtures).

librosa's numba cache, made before any test starts a worker process
-------------------------------------------------------------------
librosa compiles its numba *gufuncs* (``localmin``, ``peak_pick``, piptrack's interpolation, ...)
when its modules are imported and caches each as two files. Two processes compiling one at the
same time on an empty cache can leave the two files from different processes, and any process that
later loads them dies with a segmentation fault (numba issue #10128, librosa issue #1998; reproduced
here: two fresh processes on an empty cache, then a third that loads it, rc 139). On CI this killed
the test process in ``tests/test_descriptors.py`` after ``tests/test_cluster.py``'s two Dask workers
had compiled librosa side by side, and earlier chapter kernels (chapter 0 under nbval, chapter 3
under Colab's numba 0.60), which showed as a cell that times out and cannot be interrupted.

So a session never reads or writes the numba cache in ``site-packages`` (which a crashed run may have
left broken): it uses an empty ``NUMBA_CACHE_DIR`` of its own, set before anything imports numba,
and compiles librosa's gufuncs into it in this one process before the first test
(:func:`helpers.backend.compile_librosa`, which the helpers that start worker processes also call).
Each chapter that nbval runs starts its kernel with an empty cache of its own as well, so that no
kernel loads what the test process or its workers wrote. The folders are removed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="numba-tests-"))
os.environ["NUMBA_CACHE_DIR"] = str(_SESSION_CACHE)  # read by numba when it is first imported
_CACHES: dict[Path, Path] = {}


def pytest_sessionstart(session):
    """Compile librosa's gufuncs in the test process, before any test starts a worker process."""
    from helpers.backend import compile_librosa

    compile_librosa()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a notebook's first cell starts its kernel: give that kernel an empty numba cache."""
    notebook = Path(str(item.path))
    if notebook.suffix != ".ipynb" or notebook in _CACHES:
        return
    _CACHES[notebook] = Path(tempfile.mkdtemp(prefix=f"numba-{notebook.stem}-"))
    os.environ["NUMBA_CACHE_DIR"] = str(_CACHES[notebook])  # the kernel inherits this environment


def pytest_sessionfinish(session, exitstatus):
    """Remove the numba caches of this session (folders it made, nothing else)."""
    for folder in (_SESSION_CACHE, *_CACHES.values()):
        shutil.rmtree(folder, ignore_errors=True)
