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
             "BOOK_OFFLINE")


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
