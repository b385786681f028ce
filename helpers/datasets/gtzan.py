"""GTZAN as a tidy table, in three flavours: ``full``, ``mini`` and ``synthetic``.

Explained in chapters *Getting started* and *GTZAN* (``chapters/04_gtzan.ipynb``).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import pandas as pd

from helpers.config import GENRES, on_colab
from helpers.errors import DataError

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


def gtzan_table(root: str | os.PathLike, genres: tuple[str, ...] = GENRES,
                skip_unreadable: bool = False) -> pd.DataFrame:
    """List the clips of a GTZAN folder as a tidy table.

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    root : path
        A GTZAN folder in either layout (see :func:`find_genre_root`).
    genres : tuple of str
        The genre folders that must exist.
    skip_unreadable : bool
        Check every clip's header (:func:`helpers.audio.scan_clips`, milliseconds per clip) and
        drop the clips that cannot be opened or are empty or truncated, with a warning that names
        them and counts them. Clips recorded as known faults by the downloader (``_complete.json``,
        e.g. ``jazz.00054`` of full GTZAN) are always dropped, with the same warning.

    Returns
    -------
    pandas.DataFrame
        One row per clip, sorted by genre and index, with columns ``path`` (str), ``genre``,
        ``label`` (int, position in :data:`helpers.config.GENRES`), ``track_id``
        (``"blues.00042"``) and ``index`` (the clip number; clips of one artist are contiguous
        in GTZAN, so ``index`` is the proxy for artist blocks). macOS ``._*`` files and other
        non-clip files are ignored. ``attrs['root']`` is the genre folder and
        ``attrs['skipped']`` lists the dropped clips as ``'track_id: problem'``.

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
    skipped = []
    faults = _recorded_faults(Path(root).expanduser(), genre_root)
    if faults:
        drop = table["track_id"].isin(faults)
        skipped += [f"{t}: recorded as unreadable when the dataset was verified" for t in table.loc[drop, "track_id"]]
        table = table[~drop].reset_index(drop=True)
    if skip_unreadable:
        from helpers.audio import scan_clips

        report = scan_clips(table, expect_sr=None, expect_mono=None)
        unreadable = report["sr"].isna() | report["problem"].str.contains("truncated|no audio samples")
        skipped += [f"{t}: {p}" for t, p in zip(report.loc[unreadable, "track_id"],
                                                report.loc[unreadable, "problem"], strict=True)]
        table = table[~unreadable.to_numpy()].reset_index(drop=True)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable GTZAN clip(s) in {genre_root}: "
                      + "; ".join(skipped), UserWarning, stacklevel=2)
    table.attrs["root"] = str(genre_root)
    table.attrs["skipped"] = skipped
    return table


def _recorded_faults(*folders: Path) -> list[str]:
    """Track ids recorded as faults in a downloader's ``_complete.json`` (in or above the genre folder)."""
    for folder in folders:
        for candidate in (folder, folder.parent, folder.parent.parent):
            marker = candidate / "_complete.json"
            if marker.is_file():
                try:
                    return list(json.loads(marker.read_text()).get("faults", []))
                except (OSError, ValueError):
                    return []
    return []


def load_gtzan(
    flavour: str | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
    fallback: bool = True,
    skip_unreadable: bool = True,
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
    skip_unreadable : bool
        Drop clips that cannot be read, with a warning naming them (see :func:`gtzan_table`).

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
        table = gtzan_table(root, skip_unreadable=skip_unreadable)
        table.attrs["flavour"] = "synthetic"
        return table

    local = path or os.environ.get(ENV_DIRS[flavour])
    if local:
        table = gtzan_table(local, skip_unreadable=skip_unreadable)
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
        return load_gtzan("synthetic", skip_unreadable=skip_unreadable)
    table = gtzan_table(root, skip_unreadable=skip_unreadable)
    table.attrs["flavour"] = flavour
    return table
