"""Settings for every test session, chapters included (``tests/conftest.py`` has the unit tests' fixtures).

Each chapter that nbval runs starts its kernel with a numba cache of its own: an empty
``NUMBA_CACHE_DIR``, removed when the session ends. Without it the kernel loads the compiled librosa
functions (``peak_pick``, ``localmin``, ...) that the test process itself cached in ``site-packages``
earlier in the session, and that cache has crashed kernels: under Colab's numba 0.60 a kernel died in
``librosa.yin`` (``localmin``) on such a cache and ran with a fresh one, and twice on CI a chapter 0
kernel died or hung in ``onset_detect`` (``peak_pick``) after the unit tests. A dead kernel shows in
nbval as a cell that times out and cannot be interrupted. Each chapter then compiles librosa's
functions once (seconds); nothing the test process cached is served to a chapter.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_CACHES: dict[Path, Path] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a notebook's first cell starts its kernel: give that kernel an empty numba cache."""
    notebook = Path(str(item.path))
    if notebook.suffix != ".ipynb" or notebook in _CACHES:
        return
    _CACHES[notebook] = Path(tempfile.mkdtemp(prefix=f"numba-{notebook.stem}-"))
    os.environ["NUMBA_CACHE_DIR"] = str(_CACHES[notebook])  # the kernel inherits this environment


def pytest_sessionfinish(session, exitstatus):
    """Remove the chapters' numba caches (folders this session made, nothing else)."""
    for folder in _CACHES.values():
        shutil.rmtree(folder, ignore_errors=True)
