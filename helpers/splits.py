"""Every split of the book in one module, and the measure of the leak they prevent.

One function per purpose, one default seed (:data:`helpers.config.DEFAULT_SEED`):

====================================  ===========================================================
purpose                               function
====================================  ===========================================================
GTZAN train / test by track           :func:`track_train_test_split` (chapter *From audio to features*)
GTZAN k-fold by track                 :func:`track_folds` (chapter *Evaluation*)
validation tracks inside training     :func:`validation_tracks_split` (chapter *A CNN on MFCCs*)
the report's segment-level split      :func:`leaky_segment_split` (chapter *Evaluation*, to measure the leak)
the fault-filtered GTZAN split        :func:`load_filtered_split`, :func:`filtered_split`,
                                      :func:`filtered_folds`, :func:`standin_filtered_split`
                                      (chapters *GTZAN* and *Evaluation*)
Spotify splits (grouped by track,     :func:`grouped_split`, :func:`naive_split`,
a track may carry several genres)     :func:`validation_split` (chapter *The Spotify baseline*)
share of leaked test segments         :func:`leak_fraction` (chapter *From audio to features*)
====================================  ===========================================================

Every function returns integer row positions (NumPy arrays) into the table it was given, so one
table can be split once and the positions reused for features, labels and track ids.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED, GENRES
from helpers.errors import DataError, ParameterError

#: The three lists of the fault-filtered GTZAN split.
SPLIT_NAMES = ("train", "valid", "test")

#: Protocol (c) of chapter *Evaluation* on mini GTZAN: track-grouped folds per repetition, and
#: repetitions (:func:`track_folds`). Chapter *Transfer learning* scores its probe on the same folds
#: (read from here) so that it can pair its fold scores with chapter 8's. Four folds and two
#: repetitions (8 outer folds) are what chapter 8's 10-minute budget on a 2-core CPU allows for its
#: three networks.
CV_SPLITS, CV_REPEATS = 4, 2


def _require_columns(table, columns) -> pd.DataFrame:
    """``table`` as a DataFrame (a FeatureSet gives its ``.table()``), checked for ``columns``."""
    if not isinstance(table, pd.DataFrame):
        if not hasattr(table, "table"):
            raise ParameterError(f"expected a pandas.DataFrame or a FeatureSet, got {type(table).__name__}")
        table = table.table()
    missing = set(columns) - set(table.columns)
    if missing:
        raise DataError(f"table lacks column(s) {sorted(missing)}")
    return table


def _check_fraction(name: str, value: float, upper: float = 1.0) -> None:
    if not 0 < value < upper:
        raise ParameterError(f"{name} must lie in (0, {upper}), got {value}")


# --------------------------------------------------------------------------- GTZAN, by track


def track_train_test_split(
    table, test_size: float = 0.25, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows of a table so that each track lies wholly in train or in test.

    Explained in chapter *From audio to features*. Stratified by genre over *tracks*, so that
    the segments of one track never end up on both sides (the leak of a segment-level split).

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Any table with ``track_id`` and ``genre`` columns (clips or segments).
    test_size : float
        Fraction of tracks held out, in ``(0, 1)``.
    seed : int
        Random seed.

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Integer positions of the rows of ``table``.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    table = _require_columns(table, ["track_id", "genre"])
    _check_fraction("test_size", test_size)
    tracks = table.drop_duplicates("track_id")[["track_id", "genre"]].reset_index(drop=True)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    _, test_t = next(splitter.split(tracks, tracks["genre"]))
    in_test = table["track_id"].isin(set(tracks["track_id"].iloc[test_t])).to_numpy()
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def track_folds(
    table, n_splits: int = 5, n_repeats: int = 1, seed: int = DEFAULT_SEED
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, track-grouped k-fold (optionally repeated with different shuffles).

    Explained in chapter *Evaluation*. Every track's rows stay together in one fold; genres are
    balanced across folds.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Any table with ``track_id`` and ``genre`` columns.
    n_splits : int
        Folds per repetition (at least 2).
    n_repeats : int
        Repetitions, each with another shuffle (seed ``seed + r``).
    seed : int
        Base random seed.

    Returns
    -------
    list of (train_rows, test_rows)
        ``n_splits * n_repeats`` pairs of integer row positions.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    table = _require_columns(table, ["track_id", "genre"])
    if n_splits < 2 or n_repeats < 1:
        raise ParameterError(f"need n_splits >= 2 and n_repeats >= 1, got {n_splits} and {n_repeats}")
    groups, labels = table["track_id"].to_numpy(), table["genre"].to_numpy()
    folds = []
    for repeat in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + repeat)
        folds.extend(splitter.split(np.zeros(len(table)), labels, groups))
    return folds


def validation_tracks_split(
    table, rows, fraction: float = 0.2, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows by *track* into rows to fit and rows for early stopping.

    Explained in chapter *A CNN on MFCCs*. Stratified by genre over tracks, so that no track has
    segments on both sides and each genre is represented in validation. The test rows are never
    involved: early stopping on them would be tuning on the test set. With too few tracks to put
    every genre on both sides, the validation tracks are drawn without stratification.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        A table with ``track_id`` and ``genre`` columns (or a FeatureSet: its ``.table()``).
    rows : array-like of int
        Positions (in that table) of the training rows to split.
    fraction : float
        Fraction of the training *tracks* held out for validation, in ``(0, 1)``.
    seed : int
        Random seed.

    Returns
    -------
    fit_rows, val_rows : numpy.ndarray
        Disjoint subsets of ``rows`` (positions in the full table) that share no track.
    """
    table = _require_columns(table, ["track_id", "genre"])
    rows = np.asarray(rows, dtype=int)
    _check_fraction("fraction", fraction)
    sub = table.iloc[rows].reset_index(drop=True)
    if sub["track_id"].nunique() < 2:
        raise DataError("validation_tracks_split: need at least two training tracks")
    try:
        fit_pos, val_pos = track_train_test_split(sub, test_size=fraction, seed=seed)
    except ValueError:
        # Too few tracks to put every genre on both sides: an unstratified track split.
        tracks = sub["track_id"].drop_duplicates().to_numpy()
        n_val = max(1, round(fraction * len(tracks)))
        val_tracks = set(np.random.default_rng(seed).choice(tracks, size=n_val, replace=False))
        in_val = sub["track_id"].isin(val_tracks).to_numpy()
        fit_pos, val_pos = np.flatnonzero(~in_val), np.flatnonzero(in_val)
    return rows[fit_pos], rows[val_pos]


def leaky_segment_split(
    n_rows: int, test_size: float = 0.25, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """The report's split: scikit-learn's ``train_test_split`` over *segments*, ignoring tracks.

    Explained in chapter *Evaluation* — shown to measure the leak, not to be used. Segments of one
    track end up on both sides, so the network is tested on tracks it was trained on.

    Parameters
    ----------
    n_rows : int
        Number of segments (at least 2).
    test_size : float
        Fraction of segments held out (the report's tutorial: 0.25).
    seed : int
        ``random_state`` of the shuffle.

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Sorted integer row positions.
    """
    from sklearn.model_selection import train_test_split

    if int(n_rows) < 2:
        raise ParameterError(f"leaky_segment_split needs at least 2 rows, got {n_rows}")
    _check_fraction("test_size", test_size)
    train, test = train_test_split(np.arange(int(n_rows)), test_size=test_size, random_state=seed)
    return np.sort(train), np.sort(test)


def leak_fraction(train_track_ids, test_track_ids) -> float:
    """Fraction of test segments whose track also has segments in the training set.

    Explained in chapter *From audio to features*: 0 for a split by track; for the report's
    segment-level ``train_test_split`` most test segments have siblings in training.

    Parameters
    ----------
    train_track_ids, test_track_ids : array-like of str
        The track id of every training / test segment.

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    test = np.asarray(test_track_ids).astype(str)
    if len(test) == 0:
        raise ParameterError("leak_fraction needs at least one test segment")
    train = np.unique(np.asarray(train_track_ids).astype(str))
    return float(np.isin(test, train).mean())


# --------------------------------------------------------------------------- the fault-filtered split


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
    ranges = {"train": range(0, 44), "valid": range(44, 64), "test": range(64, 93)}
    split = SplitLists({name: [f"{g}.{i:05d}" for g in GENRES for i in ranges[name]]
                        for name in SPLIT_NAMES})
    split.source = "stand-in"
    return split


def _read_split_list(file: Path) -> list[str]:
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
    return ids


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

    Raises
    ------
    DataError
        A list is missing or malformed, or a track is listed in two lists (naming the track and
        both files).
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
    split, listed_in = SplitLists(), {}
    for name in SPLIT_NAMES:
        file = folder / f"{name}_filtered.txt"
        split[name] = _read_split_list(file)
        for track in split[name]:
            if track in listed_in and listed_in[track] != file:
                raise DataError(f"track {track} is listed in both {listed_in[track]} and {file}")
            listed_in[track] = file
    return split


def filtered_split(table, split: dict | None = None) -> pd.Series:
    """Label each row of a table (clips or segments) with its fault-filtered split.

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Any table with a ``track_id`` column.
    split : dict, optional
        As returned by :func:`load_filtered_split` (loaded if omitted).

    Returns
    -------
    pandas.Series
        ``'train'``, ``'valid'``, ``'test'`` or ``'excluded'`` for each row.
    """
    table = _require_columns(table, ["track_id"])
    split = split if split is not None else load_filtered_split()
    where = {track: name for name in SPLIT_NAMES for track in split[name]}
    return table["track_id"].map(where).fillna("excluded").rename("split")


def filtered_folds(table, split: dict | None = None) -> list[tuple[np.ndarray, ...]]:
    """The fault-filtered split as one (train, validation, test) fold for cross-validation.

    Explained in chapter *Evaluation* (protocol (c) on full GTZAN). Excluded clips are dropped.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        The segment table (``track_id`` column).
    split : dict, optional
        As returned by :func:`load_filtered_split` (loaded if omitted).

    Returns
    -------
    list
        ``[(train_rows, valid_rows, test_rows)]``.
    """
    names = filtered_split(table, split).to_numpy()
    fold = tuple(np.flatnonzero(names == name) for name in SPLIT_NAMES)
    empty = [name for name, rows in zip(SPLIT_NAMES, fold, strict=True) if len(rows) == 0]
    if empty:
        raise DataError(f"no track of this table lies in the fault-filtered {empty} list(s)")
    return [fold]


# --------------------------------------------------------------------------- Spotify


def grouped_split(table: pd.DataFrame, test_size: float = 0.25, seed: int = DEFAULT_SEED,
                  group: str = "track_id", label: str = "playlist_genre") -> tuple[np.ndarray, np.ndarray]:
    """Split rows so that every track lies wholly in train or in test, genres balanced.

    Explained in chapter *The Spotify baseline* (an honest split). Unlike GTZAN's
    :func:`track_train_test_split`, a Spotify track may be listed under several genres, so this
    uses scikit-learn's ``StratifiedGroupKFold`` with ``round(1 / test_size)`` folds and keeps the
    first fold as the test part: the test fraction is close to ``test_size`` and genre proportions
    match.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``group`` and ``label`` columns.
    test_size : float
        Fraction held out, in ``(0, 0.5]``.
    seed : int
        Shuffling seed.
    group : str
        Column whose values must not be split (default ``track_id``).
    label : str
        Column to stratify by (default ``playlist_genre``).

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Sorted integer positions of the rows of ``table``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0 < test_size <= 0.5:
        raise ParameterError(f"test_size must lie in (0, 0.5], got {test_size}")
    table = _require_columns(table, [group, label])
    splitter = StratifiedGroupKFold(n_splits=round(1 / test_size), shuffle=True, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(table)), table[label], table[group]))
    return np.sort(train), np.sort(test)


def naive_split(table: pd.DataFrame, test_size: float = 0.25, seed: int = DEFAULT_SEED,
                label: str = "playlist_genre") -> tuple[np.ndarray, np.ndarray]:
    """Split rows at random, stratified by genre, ignoring which track a row belongs to.

    Explained in chapter *The Spotify baseline*: this is the report's split; repeated tracks
    can land on both sides. Shown only for comparison with :func:`grouped_split`.

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Sorted integer positions of the rows of ``table``.
    """
    from sklearn.model_selection import train_test_split

    _check_fraction("test_size", test_size)
    table = _require_columns(table, [label])
    train, test = train_test_split(np.arange(len(table)), test_size=test_size,
                                   stratify=table[label], random_state=seed)
    return np.sort(train), np.sort(test)


def validation_split(table: pd.DataFrame, train_rows, fraction: float = 0.2,
                     seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Carve a track-grouped validation part out of the training rows (never out of test).

    Explained in chapter *The Spotify baseline* (early stopping and tuning watch this part).

    Parameters
    ----------
    table : pandas.DataFrame
        The table the rows index.
    train_rows : array-like of int
        Positions of the training rows.
    fraction : float
        Fraction of the training rows' tracks held out for validation.
    seed : int
        Random seed.

    Returns
    -------
    fit_rows, val_rows : numpy.ndarray
        Disjoint subsets of ``train_rows`` (positions in ``table``), no track on both sides.
    """
    train_rows = np.asarray(train_rows)
    fit, val = grouped_split(table.iloc[train_rows], test_size=fraction, seed=seed)
    return train_rows[fit], train_rows[val]


__all__ = [
    "SPLIT_NAMES",
    "SplitLists",
    "filtered_folds",
    "filtered_split",
    "grouped_split",
    "leak_fraction",
    "leaky_segment_split",
    "load_filtered_split",
    "naive_split",
    "standin_filtered_split",
    "track_folds",
    "track_train_test_split",
    "validation_split",
    "validation_tracks_split",
]
