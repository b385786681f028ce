"""Shared pytest fixtures: a small synthetic GTZAN folder, an isolated data cache, the real data.

The real data of the build machines lives in ``../shared/data`` (see README.md); tests that need
it are skipped cleanly where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BOOK_SHARED_DATA", REPO.parent / "shared" / "data"))

#: Environment variables of the data layer; tests that exercise resolution start without them.
DATA_VARS = ("GTZAN_FLAVOUR", "GTZAN_FULL_DIR", "GTZAN_MINI_DIR", "GTZAN_SPLIT_DIR", "SPOTIFY_CSV",
             "BOOK_OFFLINE", "BOOK_CACHE_DIR")


@pytest.fixture(scope="session")
def synthetic_gtzan(tmp_path_factory) -> Path:
    """A synthetic GTZAN folder: 10 genres × 2 clips of 3 s (``genres/<genre>/<genre>.0000N.wav``)."""
    from helpers.synth import make_synthetic_gtzan

    return make_synthetic_gtzan(tmp_path_factory.mktemp("synthetic_gtzan"), n_per_genre=2,
                                seconds=3.0, n_jobs=1)


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """An empty data cache (``BOOK_DATA_DIR``) with every data variable unset."""
    home = tmp_path / "data_home"
    monkeypatch.setenv("BOOK_DATA_DIR", str(home))
    for name in DATA_VARS:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the real mini GTZAN, split lists and Spotify table); skip if absent."""
    if not (SHARED / "gtzan_mini").is_dir():
        pytest.skip(f"real data folder {SHARED} not present")
    return SHARED


def _drop_file_capabilities() -> None:  # pragma: no cover - runs in the child process
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set (root then obeys file modes)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.fixture
def unprivileged():
    """Run Python code in a child that cannot read files without read permission, even as root.

    CI runs as root, which reads any file; the child drops the two capabilities that allow it, so a
    ``chmod 000`` file (or folder) is unreadable there as it is for a student. ``run(code, locked)``
    first checks that ``locked`` really is unreadable in the child (the test fails otherwise), then
    runs ``code``; it returns the child's standard output. ``env`` sets variables of the child (a
    value of None removes one, e.g. ``{"HOME": None}``); ``cwd`` is its folder (default: the checkout).
    """
    import subprocess
    import sys

    def run(code: str, locked: Path, env: dict | None = None, cwd: Path | None = None) -> str:
        check = (f"try:\n    open({str(locked)!r}, 'rb')\nexcept PermissionError:\n    pass\n"
                 "else:\n    raise SystemExit('the child can still read the locked file')\n")
        preexec = _drop_file_capabilities if os.geteuid() == 0 else None
        variables = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        result = subprocess.run([sys.executable, "-c", check + code], cwd=cwd or REPO, capture_output=True,
                                text=True, preexec_fn=preexec, timeout=120,
                                env={name: value for name, value in variables.items() if value is not None})
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    return run
