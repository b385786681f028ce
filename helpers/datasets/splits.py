"""Splits that keep every track on one side: the fault-filtered GTZAN split and track-grouped folds.

Explained in chapters *GTZAN* (the fault-filtered split) and *From audio to features* (why the
split must happen by track *before* segmenting).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

from helpers.errors import DataError

SPLIT_NAMES = ("train", "valid", "test")


class SplitLists(dict):
    """``{'train': [...], 'valid': [...], 'test': [...]}`` with a ``source`` attribute.

    ``source`` is ``'real'`` for the published lists and ``'stand-in'`` for the offline
    replacement of :func:`standin_filtered_split`.
    """

    source: str = "real"


def standin_filtered_split() -> SplitLists:
    """An offline stand-in for the fault-filtered split, used only when the real lists cannot be had.

    Explained in chapter *GTZAN*. Per genre, clips 0–43 train, 44–63 valid, 64–92 test and
    93–99 excluded (440 / 200 / 290 tracks, 70 excluded, like the real 443 / 197 / 290 / 70):
    contiguous blocks, so that GTZAN's contiguous artist runs mostly stay on one side. It is *not*
    the curated split of Kereliuk et al.; results on it must say so.
    """
    from helpers.config import GENRES

    ranges = {"train": range(0, 44), "valid": range(44, 64), "test": range(64, 93)}
    split = SplitLists({name: [f"{g}.{i:05d}" for g in GENRES for i in ranges[name]]
                        for name in SPLIT_NAMES})
    split.source = "stand-in"
    return split


def load_filtered_split(path: str | os.PathLike | None = None, download: bool = True,
                        fallback: bool = True) -> SplitLists:
    """Load the fault-filtered GTZAN split (Kereliuk, Sturm & Larsen 2015) as track ids.

    Explained in chapter *GTZAN*.

    Resolution: ``path`` → ``$GTZAN_SPLIT_DIR`` → cache → download (pinned URLs and SHA-256 of
    ``jongpillee/music_dataset_split``, folder ``GTZAN_split``).

    Parameters
    ----------
    path : path, optional
        A folder holding ``{train,valid,test}_filtered.txt``.
    download : bool
        Allow a download when nothing local is found (``$BOOK_OFFLINE=1`` forbids it too).
    fallback : bool
        When the lists cannot be downloaded, print a notice and return
        :func:`standin_filtered_split` (``source == 'stand-in'``); otherwise raise.

    Returns
    -------
    SplitLists
        ``{'train': [...], 'valid': [...], 'test': [...]}`` of track ids such as ``'blues.00029'``
        (443 / 197 / 290 tracks; the other 70 GTZAN clips are excluded); ``.source`` says
        ``'real'`` or ``'stand-in'``.
    """
    folder = path or os.environ.get("GTZAN_SPLIT_DIR")
    if folder is None:
        from helpers.datasets import remote

        try:
            folder = remote.fetch_filtered_split(download=download)
        except (OSError, DataError) as error:
            if not fallback:
                raise
            print(f"NOTICE: the fault-filtered split lists are not available ({error}).\n"
                  "        Using a STAND-IN split of contiguous clip blocks instead: it is not the "
                  "curated fault-filtered split.")
            return standin_filtered_split()
    folder = Path(folder)
    split = SplitLists()
    for name in SPLIT_NAMES:
        file = folder / f"{name}_filtered.txt"
        if not file.is_file():
            raise DataError(f"fault-filtered split file {file} is missing")
        ids = []
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            stem = Path(line).name
            if not stem.endswith((".wav", ".au")) or stem.count(".") != 2:
                raise DataError(f"{file}, line {number}: {line!r} is not 'genre/genre.000NN.wav'")
            ids.append(stem.rsplit(".", 1)[0])
        split[name] = ids
    return split


def filtered_split(table: pd.DataFrame, split: dict | None = None) -> pd.Series:
    """Label each row of a table (clips or segments) with its fault-filtered split.

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    table : pandas.DataFrame
        Any table with a ``track_id`` column.
    split : dict, optional
        As returned by :func:`load_filtered_split` (loaded if omitted).

    Returns
    -------
    pandas.Series
        ``'train'``, ``'valid'``, ``'test'`` or ``'excluded'`` for each row.
    """
    split = split if split is not None else load_filtered_split()
    where = {track: name for name in SPLIT_NAMES for track in split[name]}
    return table["track_id"].map(where).fillna("excluded").rename("split")


def _track_frame(table: pd.DataFrame) -> pd.DataFrame:
    tracks = table.drop_duplicates("track_id")[["track_id", "genre"]].reset_index(drop=True)
    return tracks


def track_train_test_split(
    table: pd.DataFrame, test_size: float = 0.25, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows of a table so that each track lies wholly in train or in test.

    Explained in chapter *From audio to features*. Stratified by genre over *tracks*, so that
    the segments of one track never end up on both sides (the leak of a segment-level split).

    Parameters
    ----------
    table : pandas.DataFrame
        Any table with ``track_id`` and ``genre`` columns (clips or segments).
    test_size : float
        Fraction of tracks held out.
    seed : int
        Random seed.

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Integer positions of the rows of ``table``.
    """
    tracks = _track_frame(table)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_t, test_t = next(splitter.split(tracks, tracks["genre"]))
    test_ids = set(tracks["track_id"].iloc[test_t])
    in_test = table["track_id"].isin(test_ids).to_numpy()
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def track_folds(
    table: pd.DataFrame, n_splits: int = 5, n_repeats: int = 1, seed: int = 42
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, track-grouped k-fold (optionally repeated with different shuffles).

    Explained in chapter *Evaluation*. Every track's rows stay together in one fold; genres are
    balanced across folds.

    Parameters
    ----------
    table : pandas.DataFrame
        Any table with ``track_id`` and ``genre`` columns.
    n_splits : int
        Folds per repetition.
    n_repeats : int
        Repetitions, each with another shuffle (seed ``seed + r``).
    seed : int
        Base random seed.

    Returns
    -------
    list of (train_rows, test_rows)
        ``n_splits * n_repeats`` pairs of integer row positions.
    """
    folds = []
    groups = table["track_id"].to_numpy()
    labels = table["genre"].to_numpy()
    for repeat in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + repeat)
        for train, test in splitter.split(np.zeros(len(table)), labels, groups):
            folds.append((train, test))
    return folds
