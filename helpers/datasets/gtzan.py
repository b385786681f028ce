"""GTZAN as a tidy table, in three flavours: ``full``, ``mini`` and ``synthetic``.

Explained in chapters *Getting started* and *GTZAN* (``chapters/04_gtzan.ipynb``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from helpers.config import GENRES, on_colab
from helpers.datasets.errors import DataError

FLAVOURS = ("full", "mini", "synthetic")

#: Environment variable naming a local folder for each flavour.
ENV_DIRS = {"full": "GTZAN_FULL_DIR", "mini": "GTZAN_MINI_DIR"}

_CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<index>\d{5})\.(?:wav|au)$")


def default_flavour() -> str:
    """Return the flavour chapters use when none is given.

    ``$GTZAN_FLAVOUR`` if set, else ``full`` on Colab and ``mini`` elsewhere.
    """
    flavour = os.environ.get("GTZAN_FLAVOUR", "").strip().lower()
    if flavour:
        if flavour not in FLAVOURS:
            raise DataError(f"GTZAN_FLAVOUR={flavour!r} is not one of {FLAVOURS}")
        return flavour
    return "full" if on_colab() else "mini"


def find_genre_root(root: str | os.PathLike) -> Path:
    """Return the folder that holds the ten genre folders below ``root``.

    Accepts both common layouts: ``genres/<genre>/<genre>.000NN.au|wav`` (the original archive,
    Hugging Face ``marsyas/gtzan``, mirdata's mini subset) and Kaggle's
    ``Data/genres_original/<genre>/...``; ``root`` may also be the genre folder's parent itself.

    Raises
    ------
    DataError
        If ``root`` does not exist or no folder below it holds GTZAN genre folders.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"GTZAN folder {root} does not exist or is not a folder")
    candidates = [root, root / "genres", root / "genres_original", root / "Data" / "genres_original"]
    candidates += sorted(p for p in root.glob("*/genres") if p.is_dir())
    candidates += sorted(p for p in root.glob("*/genres_original") if p.is_dir())
    for candidate in candidates:
        if any((candidate / g).is_dir() for g in GENRES):
            return candidate
    raise DataError(
        f"no GTZAN genre folders (blues/, classical/, ...) found in {root} "
        "or its genres/ or genres_original/ subfolder"
    )


def gtzan_table(root: str | os.PathLike, genres: tuple[str, ...] = GENRES) -> pd.DataFrame:
    """List the clips of a GTZAN folder as a tidy table.

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    root : path
        A GTZAN folder in either layout (see :func:`find_genre_root`).
    genres : tuple of str
        The genre folders that must exist.

    Returns
    -------
    pandas.DataFrame
        One row per clip, sorted by genre and index, with columns ``path`` (str), ``genre``,
        ``label`` (int, position in :data:`helpers.config.GENRES`), ``track_id``
        (``"blues.00042"``) and ``index`` (the clip number; clips of one artist are contiguous
        in GTZAN, so ``index`` is the proxy for artist blocks). macOS ``._*`` files and other
        non-clip files are ignored.

    Raises
    ------
    DataError
        If a genre folder is missing or empty, naming it.
    """
    genre_root = find_genre_root(root)
    rows = []
    for label, genre in enumerate(genres):
        folder = genre_root / genre
        if not folder.is_dir():
            raise DataError(f"GTZAN genre folder {folder} is missing")
        clips = []
        for path in folder.iterdir():
            match = _CLIP_NAME.match(path.name)
            if match is None or path.name.startswith("._") or not path.is_file():
                continue
            if match["genre"] != genre:
                raise DataError(f"{path} is named as genre {match['genre']!r} but lies in {folder}")
            clips.append((int(match["index"]), path))
        if not clips:
            raise DataError(f"GTZAN genre folder {folder} holds no clips named {genre}.000NN.wav/.au")
        for index, path in sorted(clips):
            rows.append(
                {
                    "path": str(path),
                    "genre": genre,
                    "label": label,
                    "track_id": f"{genre}.{index:05d}",
                    "index": index,
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["root"] = str(genre_root)
    return table


def load_gtzan(
    flavour: str | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
    fallback: bool = True,
) -> pd.DataFrame:
    """Resolve a GTZAN flavour to a folder and return its table (see :func:`gtzan_table`).

    Explained in chapter *Getting started*.

    Resolution: ``path`` → ``$GTZAN_FULL_DIR`` / ``$GTZAN_MINI_DIR`` → the cache under
    :func:`helpers.config.data_home` → a download (pooch, pinned URL; see
    :mod:`helpers.datasets.remote`) → with ``fallback``, the synthetic flavour, announced with a
    printed notice so that nobody mistakes its numbers for real ones.

    Parameters
    ----------
    flavour : {'full', 'mini', 'synthetic'}, optional
        Default: :func:`default_flavour`.
    path : path, optional
        A local GTZAN folder to use as this flavour.
    download : bool
        Allow a download when nothing local is found (``$BOOK_OFFLINE=1`` forbids it too).
    fallback : bool
        Fall back to synthetic data when the flavour cannot be had; otherwise raise.

    Returns
    -------
    pandas.DataFrame
        The clip table; ``table.attrs['flavour']`` says which flavour it really is.
    """
    flavour = (flavour or default_flavour()).lower()
    if flavour not in FLAVOURS:
        raise DataError(f"unknown GTZAN flavour {flavour!r}; choose one of {FLAVOURS}")

    if flavour == "synthetic":
        from helpers import synth

        root = synth.synthetic_gtzan_dir()
        table = gtzan_table(root)
        table.attrs["flavour"] = "synthetic"
        return table

    local = path or os.environ.get(ENV_DIRS[flavour])
    if local:
        table = gtzan_table(local)
        table.attrs["flavour"] = flavour
        return table

    from helpers.datasets import remote

    try:
        root = remote.fetch_gtzan(flavour, download=download)
    except (OSError, DataError) as error:
        if not fallback:
            raise
        print(
            f"NOTICE: GTZAN '{flavour}' is not available ({error}).\n"
            "        Using SYNTHETIC GTZAN-layout clips instead: every number below is on synthetic "
            "data, not on real music."
        )
        return load_gtzan("synthetic")
    table = gtzan_table(root)
    table.attrs["flavour"] = flavour
    return table
