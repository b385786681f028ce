"""Every split of the book in one module, and the measure of the leak they prevent.

One function per purpose, one default seed (:data:`helpers.config.DEFAULT_SEED`):

====================================  ===========================================================
purpose                               function
====================================  ===========================================================
folds as data: committed tables,      :func:`read_fold_table`, :func:`write_fold_table`, :func:`hashed_folds`,
made by a version-free generator      :func:`hashed_split`, :func:`stable_key` (chapter *Evaluation*)
GTZAN folds with roles (fit, tune,    :func:`gtzan_fold_plan` → :class:`FoldPlan`; generators
select, test) for every protocol      :func:`cv_fold_table`, :func:`split_fold_table`,
                                      :func:`filtered_fold_table` (chapter *Evaluation*)
GTZAN train / test by track           :func:`track_train_test_split` (chapter *From audio to features*)
GTZAN k-fold by track                 :func:`track_folds` (chapter *Evaluation*)
validation tracks inside training     :func:`validation_tracks_split` (chapter *A CNN on MFCCs*)
the report's segment-level split      :func:`leaky_segment_split` (chapter *Evaluation*, to measure the leak)
the fault-filtered GTZAN split        :func:`load_filtered_split`, :func:`filtered_split`,
                                      :func:`standin_filtered_split` (chapters *GTZAN* and *Evaluation*)
Spotify, by song (all tracks of a     :func:`spotify_fold_plan` (committed table :data:`SPOTIFY_TABLE`),
song on one side; fit/tune/select)    :func:`spotify_fold_table`, :func:`group_roles`, :func:`group_strata`
                                      (chapter *The Spotify baseline*)
share of leaked test segments         :func:`leak_fraction` (chapter *From audio to features*)
====================================  ===========================================================

Every function returns integer row positions (NumPy arrays) into the table it was given, so one
table can be split once and the positions reused for features, labels and track ids.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED, GENRES
from helpers.datasets.split_lists import read_split_list
from helpers.errors import DataError, ParameterError, require_columns
from helpers.files import atomic_path

#: The three lists of the fault-filtered GTZAN split.
SPLIT_NAMES = ("train", "valid", "test")

#: Protocol (c) of chapter *Evaluation* on mini GTZAN: track-grouped folds per repetition, and
#: repetitions — the design of the committed table :data:`GTZAN_CV_TABLE`, which chapters *Beyond*
#: and *Transfer learning* read too (:func:`gtzan_fold_plan`). Four folds, one repetition: what
#: chapter 8's budget (and the book's CI time) on a 2-core CPU allows for its three networks. The
#: confirmation run (``make confirm``, a make target, not a chapter) re-scores the same candidates on
#: :data:`CONFIRM_REPEATS` repetitions of fresh folds (:data:`GTZAN_CONFIRM_TABLE`).
CV_SPLITS, CV_REPEATS = 4, 1
CONFIRM_REPEATS = 2


def _require_columns(table, columns) -> pd.DataFrame:
    """``table`` as a DataFrame (a FeatureSet gives its ``.table()``), checked for ``columns``."""
    if not isinstance(table, pd.DataFrame):
        if not hasattr(table, "table"):
            raise ParameterError(f"expected a pandas.DataFrame or a FeatureSet, got {type(table).__name__}")
        table = table.table()
    require_columns(table, columns)
    return table


def _check_fraction(name: str, value: float, upper: float = 1.0) -> None:
    if not 0 < value < upper:
        raise ParameterError(f"{name} must lie in (0, {upper}), got {value}")


# --------------------------------------------------------------------------- folds as data


#: The roles a track (or song) can play in one fold of a committed fold table.
ROLES = ("fit", "tune", "select", "test", "excluded")

#: Package data: the committed fold tables (``<name>.csv``), made by ``python -m tools.folds write``.
FOLDS_DIR = Path(__file__).resolve().parent / "folds"

#: Columns of a fold table, one row per (repetition, fold, item).
FOLD_COLUMNS = ("repeat", "fold", "item", "stratum", "role")


def stable_key(seed: int, item: str) -> int:
    """A 64-bit number drawn from a SHA-256 hash of ``seed`` and ``item``.

    Explained in chapter *Evaluation* (folds as data). Unlike a random generator's stream, it
    depends on nothing but its two arguments, so no library upgrade can change it.

    Examples
    --------
    >>> stable_key(42, "blues.00000") == stable_key(42, "blues.00000")
    True
    """
    digest = hashlib.sha256(f"{int(seed)}/{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def hashed_folds(items, strata, n_splits: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Deal items into ``n_splits`` folds, stratified, from a hash of seed and item (version-free).

    Explained in chapter *Evaluation* (folds as data). Within each stratum (taken in sorted order)
    the items are ordered by :func:`stable_key` and dealt round robin; each stratum starts where the
    previous one stopped, so every fold gets the same number of items of each stratum (±1) and the
    folds the same number of items overall (±1). Nothing here calls a random generator or a
    library splitter, so the assignment is the same under every version of NumPy or scikit-learn.

    Parameters
    ----------
    items : array-like of str
        Unique item ids (tracks, songs).
    strata : array-like of str
        The stratum (genre) of each item.
    n_splits : int
        Number of folds (at least 2).
    seed : int
        Seed of the hash.

    Returns
    -------
    numpy.ndarray of int
        The fold (``0 … n_splits - 1``) of each item, in the order given.

    Raises
    ------
    ParameterError
        If items repeat, lengths differ or ``n_splits < 2``.
    """
    items = np.asarray(items).astype(str)
    strata = np.asarray(strata).astype(str)
    if items.shape != strata.shape or items.ndim != 1:
        raise ParameterError(f"hashed_folds: {items.shape} items but {strata.shape} strata")
    if int(n_splits) < 2:
        raise ParameterError(f"hashed_folds needs n_splits >= 2, got {n_splits}")
    if len(np.unique(items)) != len(items):
        raise ParameterError("hashed_folds: item ids must be unique (pass one row per track or song)")
    fold = np.empty(len(items), dtype=np.int64)
    start = 0
    for stratum in sorted(set(strata.tolist())):
        members = np.flatnonzero(strata == stratum)
        order = sorted(members.tolist(), key=lambda i: (stable_key(seed, items[i]), items[i]))
        for position, i in enumerate(order):
            fold[i] = (start + position) % int(n_splits)
        start = (start + len(order)) % int(n_splits)
    return fold


def fold_table_path(name: str) -> Path:
    """The committed fold table ``name`` (``helpers/folds/<name>.csv``, or ``.csv.gz`` where that exists)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ParameterError(f"not a fold table name: {name!r}")
    compressed = FOLDS_DIR / f"{name}.csv.gz"
    return compressed if compressed.is_file() else FOLDS_DIR / f"{name}.csv"


def check_fold_table(frame: pd.DataFrame, source: str = "fold table") -> pd.DataFrame:
    """Check a fold table's columns, roles and uniqueness; return it with clean dtypes.

    Explained in chapter *Evaluation* (folds as data). Every (repeat, fold, item) appears once;
    each item has the same stratum everywhere; roles come from :data:`ROLES`.
    """
    require_columns(frame, FOLD_COLUMNS, source)
    frame = frame.loc[:, list(FOLD_COLUMNS)].copy()
    for column in ("repeat", "fold"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(np.int64)
    frame["item"] = frame["item"].astype(str)
    frame["stratum"] = frame["stratum"].astype(str)
    frame["role"] = frame["role"].astype(str)
    unknown = sorted(set(frame["role"]) - set(ROLES))
    if unknown:
        raise DataError(f"{source}: unknown role(s) {unknown}; expected some of {ROLES}")
    if frame.duplicated(["repeat", "fold", "item"]).any():
        first = frame[frame.duplicated(["repeat", "fold", "item"])].iloc[0]
        raise DataError(f"{source}: item {first['item']} appears twice in repeat {first['repeat']}, "
                        f"fold {first['fold']}")
    if frame.groupby("item")["stratum"].nunique().gt(1).any():
        raise DataError(f"{source}: an item has different strata in different folds")
    return frame.reset_index(drop=True)


def read_fold_table(name: str) -> pd.DataFrame:
    """Read the committed fold table ``name`` (checked by :func:`check_fold_table`).

    Explained in chapter *Evaluation* (folds as data): the folds every chapter reports on are
    committed data, made once by ``python -m tools.folds write``, so no library version changes them.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FOLD_COLUMNS`.

    Raises
    ------
    DataError
        If the table is missing or malformed (naming the file).
    """
    path = fold_table_path(name)
    if not path.is_file():
        raise DataError(f"fold table {path} is missing (make it with `python -m tools.folds write`)")
    try:
        frame = pd.read_csv(path, comment="#", dtype={"item": str, "stratum": str, "role": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"fold table {path} cannot be read: {error}") from None
    return check_fold_table(frame, source=f"fold table {path}")


def write_fold_table(name: str, frame: pd.DataFrame, header: str, folder=None, compress: bool = False) -> Path:
    """Write a fold table (checked first) with a comment header saying how it was made.

    Used by ``python -m tools.folds write``; ``folder`` defaults to :data:`FOLDS_DIR`. With
    ``compress`` the file is ``<name>.csv.gz`` (gzip without a time stamp, so the same table gives
    the same bytes), which :func:`read_fold_table` reads as well.
    """
    import gzip

    frame = check_fold_table(frame, source=f"fold table {name}")
    frame = frame.sort_values(["repeat", "fold", "stratum", "item"], kind="stable")
    path = Path(FOLDS_DIR if folder is None else folder) / f"{name}.csv{'.gz' if compress else ''}"
    text = "".join(f"# {line}\n" for line in header.strip().splitlines()) + frame.to_csv(index=False,
                                                                                          lineterminator="\n")
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(text.encode(), mtime=0) if compress else text.encode())
    return path


# --------------------------------------------------------------------------- GTZAN, by track

#: The committed GTZAN fold tables (``python -m tools.folds write``), for mini GTZAN's 100 tracks
#: ``<genre>.0000N`` (the synthetic flavour uses the same ids, so they serve it too):
#: protocol (c) of chapters *Evaluation*, *Beyond* and *Transfer learning*, the same design with a
#: fresh seed for the confirmation run (``make confirm``), and the single split of chapters 5–7.
GTZAN_CV_TABLE, GTZAN_CONFIRM_TABLE, GTZAN_SPLIT_TABLE = "gtzan_mini_cv", "gtzan_mini_confirm", "gtzan_mini_split"

#: Seed of the confirmation run's folds: fresh, never used while the chapters were developed.
CONFIRM_SEED = 2027

#: Inside the training tracks of every outer fold (or of the single split), the roles of
#: :func:`hashed_folds`' five parts: 60 % fit, 20 % tune (the one inner decision of every candidate:
#: a network's early-stopping epoch, a linear model's C), 20 % select (the choice between candidates).
INNER_ROLES = ("fit", "fit", "fit", "tune", "select")


def _track_strata(table) -> tuple[np.ndarray, np.ndarray]:
    """Unique track ids of a table (first appearance order) and their genres."""
    table = _require_columns(table, ["track_id", "genre"])
    tracks = table.drop_duplicates("track_id")
    return tracks["track_id"].astype(str).to_numpy(), tracks["genre"].astype(str).to_numpy()


def hashed_split(items, strata, fraction: float, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Which items form the held-out part of a stratified, version-free split (a boolean mask).

    Explained in chapter *Evaluation* (folds as data). Within each stratum (in sorted order) the
    items are ordered by :func:`stable_key`; each stratum gives its first items, as many as the
    running total ``round(fraction * items so far)`` requires, so the part has ``round(fraction * n)``
    items overall and every stratum its share ±1. At least one item is held out and one kept.

    Raises
    ------
    ParameterError
        For fewer than two items, repeated items or a fraction outside (0, 1).
    """
    items, strata = np.asarray(items).astype(str), np.asarray(strata).astype(str)
    _check_fraction("fraction", fraction)
    if items.shape != strata.shape or items.ndim != 1 or len(items) < 2:
        raise ParameterError(f"hashed_split needs two or more items with one stratum each, got {items.shape}")
    if len(np.unique(items)) != len(items):
        raise ParameterError("hashed_split: item ids must be unique (pass one row per track)")
    held = np.zeros(len(items), dtype=bool)
    seen = taken = 0
    for stratum in sorted(set(strata.tolist())):
        members = sorted(np.flatnonzero(strata == stratum).tolist(), key=lambda i: (stable_key(seed, items[i]), items[i]))
        seen += len(members)
        quota = int(np.floor(fraction * seen + 0.5)) - taken
        held[members[:max(quota, 0)]] = True
        taken += max(quota, 0)
    if not held.any():
        held[min(range(len(items)), key=lambda i: (stable_key(seed, items[i]), items[i]))] = True
    if held.all():
        held[max(range(len(items)), key=lambda i: (stable_key(seed, items[i]), items[i]))] = False
    return held


def _inner_seed(seed: int, repeat: int, fold: int) -> int:
    """The seed of the inner roles of one outer fold (distinct from every outer seed ``seed + r``)."""
    return 1000 * int(seed) + 100 * (int(repeat) + 1) + int(fold)


def inner_roles(items, strata, seed: int) -> np.ndarray:
    """The role (fit / tune / select, :data:`INNER_ROLES`) of each training track of one outer fold.

    Explained in chapter *Evaluation*: :func:`hashed_folds` deals the tracks into five parts,
    stratified by genre; three are fitted on, one tunes, one selects (60 / 20 / 20).
    """
    return np.asarray(INNER_ROLES)[hashed_folds(items, strata, len(INNER_ROLES), seed)]


def cv_fold_table(items, strata, n_splits: int = 4, n_repeats: int = 2, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Repeated, stratified outer folds with inner roles, as a fold table (version-free).

    Explained in chapter *Evaluation* (folds as data). Repetition ``r`` deals the items into
    ``n_splits`` folds with :func:`hashed_folds` (seed ``seed + r``); in outer fold ``f`` the fold's
    items are ``test`` and the others get :func:`inner_roles` (seed from ``seed``, ``r`` and ``f``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FOLD_COLUMNS`, one row per (repeat, fold, item); ``fold`` counts within the
        repetition.
    """
    items, strata = np.asarray(items).astype(str), np.asarray(strata).astype(str)
    if int(n_repeats) < 1:
        raise ParameterError(f"cv_fold_table needs n_repeats >= 1, got {n_repeats}")
    frames = []
    for repeat in range(int(n_repeats)):
        outer = hashed_folds(items, strata, n_splits, seed + repeat)
        for fold in range(int(n_splits)):
            role = np.full(len(items), "test", dtype=object)
            train = outer != fold
            role[train] = inner_roles(items[train], strata[train], _inner_seed(seed, repeat, fold))
            frames.append(pd.DataFrame({"repeat": repeat, "fold": fold, "item": items, "stratum": strata,
                                        "role": role}))
    return check_fold_table(pd.concat(frames, ignore_index=True))


def split_fold_table(items, strata, test_size: float = 0.25, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One stratified split with roles — test, and fit / tune / select inside training (version-free).

    Explained in chapter *From audio to features* (the split by track) and used by chapters *A CNN
    on MFCCs* and *An LSTM on MFCC sequences*: :func:`hashed_split` holds out ``test_size`` of the
    items, :func:`inner_roles` divides the rest.
    """
    items, strata = np.asarray(items).astype(str), np.asarray(strata).astype(str)
    test = hashed_split(items, strata, test_size, seed)
    role = np.full(len(items), "test", dtype=object)
    role[~test] = inner_roles(items[~test], strata[~test], _inner_seed(seed, 0, 0))
    return check_fold_table(pd.DataFrame({"repeat": 0, "fold": 0, "item": items, "stratum": strata,
                                          "role": role}))


def _runs(numbers: list[int]) -> list[list[int]]:
    """Maximal runs of consecutive clip numbers."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def divide_valid(valid) -> dict[str, str]:
    """Divide the fault-filtered *valid* list into tune and select tracks by contiguous clip numbers.

    Explained in chapter *Evaluation* (protocol (c) on full GTZAN). GTZAN's clips of one artist come
    in runs of clip numbers, so the list is never divided at random: per genre, its clips in
    clip-number order are cut in two — the lower block tunes, the upper block selects — at the gap
    between runs of consecutive numbers that leaves the two blocks closest in size (a genre whose
    valid clips form one run is cut in its middle). Genres with a single valid clip (small generated
    trees) give it to tune and select in turn, in genre order, so that both roles have tracks.

    Returns
    -------
    dict
        Track id → ``'tune'`` or ``'select'``.
    """
    by_genre: dict[str, list[int]] = {}
    for track in valid:
        genre, _, number = str(track).rpartition(".")
        by_genre.setdefault(genre, []).append(int(number))
    roles, singles = {}, 0
    for genre, numbers in sorted(by_genre.items()):
        if len(numbers) == 1:
            roles[f"{genre}.{numbers[0]:05d}"] = ("tune", "select")[singles % 2]
            singles += 1
            continue
        ordered, runs = sorted(numbers), _runs(numbers)
        cuts = np.cumsum([len(run) for run in runs])[:-1].tolist() or [(len(ordered) + 1) // 2]
        cut = min(cuts, key=lambda c: (abs(2 * c - len(ordered)), c))
        for position, number in enumerate(ordered):
            roles[f"{genre}.{number:05d}"] = "tune" if position < cut else "select"
    return roles


def filtered_fold_table(items, strata, split: dict) -> pd.DataFrame:
    """The fault-filtered lists as a one-fold table: fit on train, tune / select on valid, test on test.

    Explained in chapter *Evaluation* (protocol (c) on full GTZAN): the lists as they are, with
    *valid* divided by :func:`divide_valid`; tracks in no list (or unreadable) are ``excluded``.
    """
    items, strata = np.asarray(items).astype(str), np.asarray(strata).astype(str)
    where = {track: name for name in SPLIT_NAMES for track in split[name]}
    valid_roles = divide_valid([t for t in items if where.get(t) == "valid"])
    role = [{"train": "fit", "test": "test"}.get(where.get(t, ""), valid_roles.get(t, "excluded")) for t in items]
    return check_fold_table(pd.DataFrame({"repeat": 0, "fold": 0, "item": items, "stratum": strata,
                                          "role": role}))


@dataclass(frozen=True, eq=False)
class FoldPlan:
    """Which track plays which role in every outer fold, and where that came from.

    Explained in chapter *Evaluation*. Made by :func:`gtzan_fold_plan`; every candidate of a
    comparison reads its rows from the same plan (:meth:`rows`), so all learn from the same tracks.

    Attributes
    ----------
    table : pandas.DataFrame
        A fold table (:data:`FOLD_COLUMNS`).
    name : str
        The committed table's name, or ``'fault-filtered lists'`` / ``'generated'``.
    protocol : str
        The protocol in words, printed with every number (e.g. ``'track-grouped 4-fold × 2'``).
    source : str
        Where the roles come from, in words (committed file, version-free generation, the lists).
    """

    table: pd.DataFrame
    name: str
    protocol: str
    source: str

    @property
    def folds(self) -> list[tuple[int, int]]:
        """The outer folds as ``(repeat, fold)`` pairs, in order."""
        pairs = self.table[["repeat", "fold"]].drop_duplicates().sort_values(["repeat", "fold"])
        return [(int(r), int(f)) for r, f in pairs.itertuples(index=False)]

    def roles(self, index: int) -> pd.Series:
        """Track id → role in outer fold ``index`` (position in :attr:`folds`)."""
        repeat, fold = self.folds[index]
        part = self.table[(self.table["repeat"] == repeat) & (self.table["fold"] == fold)]
        return pd.Series(part["role"].to_numpy(), index=part["item"].to_numpy())

    def rows(self, track_ids, index: int) -> dict[str, np.ndarray]:
        """Role → row positions of ``track_ids`` (one per row of a table) in outer fold ``index``.

        Rows whose track is excluded or absent from the plan belong to no role.

        Raises
        ------
        DataError
            If a role other than ``excluded`` gets no row (the tracks do not match the plan).
        """
        role = pd.Series(np.asarray(track_ids).astype(str)).map(self.roles(index)).fillna("excluded").to_numpy()
        rows = {name: np.flatnonzero(role == name) for name in ("fit", "tune", "select", "test")}
        empty = [name for name, r in rows.items() if len(r) == 0]
        if empty:
            raise DataError(f"fold plan {self.name}, outer fold {self.folds[index]}: no row of these tracks "
                            f"has role(s) {empty}")
        return rows

    def counts(self) -> pd.DataFrame:
        """Tracks per role in every outer fold (columns ``repeat``, ``fold``, ``n_fit`` … ``n_test``)."""
        counts = self.table.pivot_table(index=["repeat", "fold"], columns="role", values="item",
                                        aggfunc="count", fill_value=0)
        counts = counts.reindex(columns=["fit", "tune", "select", "test"], fill_value=0)
        return counts.add_prefix("n_").reset_index().rename_axis(columns=None)

    def subset(self, repeats) -> FoldPlan:
        """Only the outer folds of some repetitions (e.g. ``[0]``); the protocol says so."""
        repeats = sorted({int(r) for r in np.atleast_1d(repeats)})
        known = sorted(set(self.table["repeat"]))
        if not repeats or not set(repeats) <= set(known):
            raise ParameterError(f"fold plan {self.name} has repetitions {known}, not {repeats}")
        if repeats == known:
            return self
        which = "first repetition" if repeats == [0] else f"repetition(s) {repeats}"
        return FoldPlan(self.table[self.table["repeat"].isin(repeats)].reset_index(drop=True), self.name,
                        f"{self.protocol}, {which} only", self.source)


def _flavour_of(table) -> str | None:
    flavour = getattr(table, "flavour", None)
    if flavour is None and hasattr(table, "attrs"):
        flavour = table.attrs.get("flavour")
    return flavour


def gtzan_fold_plan(table, kind: str = "cv", *, flavour: str | None = None, split: dict | None = None) -> FoldPlan:
    """The book's folds and roles for the GTZAN tracks of ``table``: committed, version-free, or the lists.

    Explained in chapter *Evaluation* (folds as data). ``kind`` is ``'cv'`` (protocol (c) of
    chapters 8–10: :data:`GTZAN_CV_TABLE`), ``'confirm'`` (the confirmation run's fresh folds) or
    ``'split'`` (the single split of chapters 5–7). On **full** GTZAN every kind is the fault-filtered
    split (:func:`filtered_fold_table`). Otherwise, when the tracks are exactly the committed table's
    (mini, and synthetic, which shares its ids), that table is read; for any other set of tracks the
    same version-free generator makes the roles on the spot, and ``source`` says so.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Clips or segments, with ``track_id`` and ``genre``; its flavour is read from ``.flavour`` or
        ``attrs['flavour']`` unless given.
    kind : {'cv', 'confirm', 'split'}
    flavour : str, optional
    split : dict, optional
        The fault-filtered lists (:func:`load_filtered_split`; loaded when needed and omitted).

    Returns
    -------
    FoldPlan
    """
    names = {"cv": GTZAN_CV_TABLE, "confirm": GTZAN_CONFIRM_TABLE, "split": GTZAN_SPLIT_TABLE}
    if kind not in names:
        raise ParameterError(f"kind must be one of {sorted(names)}, got {kind!r}")
    flavour = flavour or _flavour_of(table)
    items, strata = _track_strata(table)
    if flavour == "full":
        split = split if split is not None else load_filtered_split()
        source = getattr(split, "source", "real")
        return FoldPlan(filtered_fold_table(items, strata, split), "fault-filtered lists",
                        "fault-filtered (train / valid / test)",
                        f"the fault-filtered lists ({source}), valid divided by contiguous clip numbers")
    name = names[kind]
    if kind == "split":
        protocol = "track-grouped 25 % test"
        make = lambda: split_fold_table(items, strata, 0.25, DEFAULT_SEED)  # noqa: E731
    else:
        repeats = CONFIRM_REPEATS if kind == "confirm" else CV_REPEATS
        protocol = f"track-grouped {CV_SPLITS}-fold" + (f" × {repeats}" if repeats > 1 else "")
        seed = CONFIRM_SEED if kind == "confirm" else DEFAULT_SEED
        make = lambda: cv_fold_table(items, strata, CV_SPLITS, repeats, seed)  # noqa: E731
    committed = read_fold_table(name)
    if set(committed["item"]) == set(items):
        return FoldPlan(committed, name, protocol, f"the committed table helpers/folds/{name}.csv")
    return FoldPlan(make(), "generated", protocol,
                    f"generated on the spot for these {len(items)} tracks (version-free, as {name} is made; "
                    "not a committed table)")


def _plan_rows(table, plan: FoldPlan, index: int, parts) -> np.ndarray:
    rows = plan.rows(_require_columns(table, ["track_id"])["track_id"], index)
    return np.sort(np.concatenate([rows[p] for p in parts]))


def track_train_test_split(
    table, test_size: float = 0.25, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows of a table so that each track lies wholly in train or in test.

    Explained in chapter *From audio to features*. Stratified by genre over *tracks*, so that the
    segments of one track never end up on both sides (the leak of a segment-level split). With the
    defaults, on the tracks of the committed single split (mini GTZAN), it reads that table
    (:data:`GTZAN_SPLIT_TABLE`: train = its fit, tune and select tracks); otherwise
    :func:`hashed_split` makes the split, version-free.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Any table with ``track_id`` and ``genre`` columns (clips or segments).
    test_size : float
        Fraction of tracks held out, in ``(0, 1)``.
    seed : int
        Seed of the hash.

    Returns
    -------
    train_rows, test_rows : numpy.ndarray
        Integer positions of the rows of ``table``.
    """
    table = _require_columns(table, ["track_id", "genre"])
    _check_fraction("test_size", test_size)
    items, strata = _track_strata(table)
    if test_size == 0.25 and seed == DEFAULT_SEED and set(read_fold_table(GTZAN_SPLIT_TABLE)["item"]) == set(items):
        plan = FoldPlan(read_fold_table(GTZAN_SPLIT_TABLE), GTZAN_SPLIT_TABLE, "", "")
        return _plan_rows(table, plan, 0, ["fit", "tune", "select"]), _plan_rows(table, plan, 0, ["test"])
    in_test = table["track_id"].astype(str).isin(set(items[hashed_split(items, strata, test_size, seed)])).to_numpy()
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def track_folds(
    table, n_splits: int = 5, n_repeats: int = 1, seed: int = DEFAULT_SEED
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, track-grouped k-fold (optionally repeated), version-free.

    Explained in chapter *Evaluation*. Every track's rows stay together in one fold; genres are
    balanced across folds (:func:`hashed_folds`, seed ``seed + r`` for repetition ``r``). With
    chapter 8's settings on mini GTZAN's tracks the folds are those of the committed table
    :data:`GTZAN_CV_TABLE`. :func:`gtzan_fold_plan` gives the folds *with* their inner roles.

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        Any table with ``track_id`` and ``genre`` columns.
    n_splits : int
        Folds per repetition (at least 2).
    n_repeats : int
        Repetitions.
    seed : int
        Base seed of the hash.

    Returns
    -------
    list of (train_rows, test_rows)
        ``n_splits * n_repeats`` pairs of integer row positions.
    """
    table = _require_columns(table, ["track_id", "genre"])
    if n_splits < 2 or n_repeats < 1:
        raise ParameterError(f"need n_splits >= 2 and n_repeats >= 1, got {n_splits} and {n_repeats}")
    items, strata = _track_strata(table)
    frame = None
    if (n_splits, n_repeats, seed) == (CV_SPLITS, CV_REPEATS, DEFAULT_SEED):
        committed = read_fold_table(GTZAN_CV_TABLE)
        frame = committed if set(committed["item"]) == set(items) else None
    plan = FoldPlan(frame if frame is not None else cv_fold_table(items, strata, n_splits, n_repeats, seed),
                    "track_folds", "", "")
    return [(_plan_rows(table, plan, i, ["fit", "tune", "select"]), _plan_rows(table, plan, i, ["test"]))
            for i in range(len(plan.folds))]


def validation_tracks_split(
    table, rows, fraction: float = 0.2, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows by *track* into rows to fit and rows for early stopping (version-free).

    Explained in chapter *A CNN on MFCCs*. Stratified by genre over tracks (:func:`hashed_split`),
    so that no track has segments on both sides. The test rows are never involved: early stopping on
    them would be tuning on the test set. The chapters' protocols take their roles from a fold plan
    (:func:`gtzan_fold_plan`); this serves a model trained outside them (e.g. on all tracks).

    Parameters
    ----------
    table : pandas.DataFrame or FeatureSet
        A table with ``track_id`` and ``genre`` columns (or a FeatureSet: its ``.table()``).
    rows : array-like of int
        Positions (in that table) of the training rows to split.
    fraction : float
        Fraction of the training *tracks* held out for validation, in ``(0, 1)``.
    seed : int
        Seed of the hash.

    Returns
    -------
    fit_rows, val_rows : numpy.ndarray
        Disjoint subsets of ``rows`` (positions in the full table) that share no track.
    """
    table = _require_columns(table, ["track_id", "genre"])
    rows = np.asarray(rows, dtype=int)
    _check_fraction("fraction", fraction)
    sub = table.iloc[rows]
    items, strata = _track_strata(sub)
    if len(items) < 2:
        raise DataError("validation_tracks_split: need at least two training tracks")
    held = set(items[hashed_split(items, strata, fraction, seed)])
    in_val = sub["track_id"].astype(str).isin(held).to_numpy()
    return rows[~in_val], rows[in_val]


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


def sized_segment_split(n_rows: int, sizes, seed: int = DEFAULT_SEED) -> list[np.ndarray]:
    """Segments drawn at random, ignoring tracks, into parts of given sizes (version-free).

    Explained in chapter *Evaluation* (the leak at equal training size): the report's kind of split
    with as many fit, tune and test segments as a track-grouped fold has, so that the two protocols
    differ only in whether a test track's other segments may be training segments. The rows are
    ordered by :func:`stable_key` of ``seed`` and the row number, then cut into ``sizes``.

    Returns
    -------
    list of numpy.ndarray
        One sorted array of row positions per size.
    """
    sizes = [int(size) for size in sizes]
    if any(size < 1 for size in sizes) or sum(sizes) > int(n_rows):
        raise ParameterError(f"sized_segment_split: sizes {sizes} do not fit {n_rows} rows")
    order = np.array(sorted(range(int(n_rows)), key=lambda i: (stable_key(seed, str(i)), i)), dtype=np.int64)
    ends = np.cumsum(sizes)
    return [np.sort(order[end - size:end]) for size, end in zip(sizes, ends, strict=True)]


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
        split[name] = read_split_list(file)
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


# --------------------------------------------------------------------------- Spotify (chapter 1)

#: The committed split of chapter *The Spotify baseline* on the real Spotify table
#: (``helpers/folds/spotify_songs.csv.gz``, made by ``python -m tools.folds write spotify_songs``).
SPOTIFY_TABLE = "spotify_songs"

#: The protocol of that split, in words (the ``split`` column of chapter 1's results).
SPOTIFY_PROTOCOL = "song-grouped 25 % test"


def group_strata(groups, labels) -> pd.Series:
    """The genre that stratifies each group (a song): the label most of its rows carry.

    Explained in chapter *The Spotify baseline*. A song listed in several playlists may carry
    several genres; it is counted under the genre of most of its rows, a tie going to the genre
    first in alphabetical order (edm, latin, pop, r&b, rap, rock). Deterministic, and the same in
    every library version.

    Parameters
    ----------
    groups, labels : array-like
        The group and the label of every row (same length).

    Returns
    -------
    pandas.Series
        Group id (str) → its genre (str), sorted by group id.
    """
    groups, labels = np.asarray(groups).astype(str), np.asarray(labels).astype(str)
    if groups.shape != labels.shape or groups.ndim != 1 or not len(groups):
        raise ParameterError(f"group_strata needs one label per row, got {groups.shape} groups and "
                             f"{labels.shape} labels")
    counts = pd.DataFrame({"group": groups, "label": labels}).value_counts().rename("n").reset_index()
    counts = counts.sort_values(["group", "n", "label"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("group")
    return pd.Series(first["label"].to_numpy(), index=pd.Index(first["group"].to_numpy(), name="group"),
                     name="stratum")


def group_roles(groups, labels, test_size: float = 0.25, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The role of every row — ``fit``, ``tune``, ``select`` or ``test`` — with each group on one side.

    Explained in chapter *The Spotify baseline*. The groups (songs), stratified by
    :func:`group_strata`, go through :func:`split_fold_table`, the book's single split: a hash of
    seed and group id (:func:`hashed_split`) holds out ``test_size`` of them for test and deals the
    rest into fit / tune / select (60 / 20 / 20 of the training groups). No random generator and
    no library splitter is involved, so the roles are the same in every environment. To split
    rows naively, give every row its own group (its row number).

    Parameters
    ----------
    groups, labels : array-like
        The group (song, track id, or row number) and the genre of every row.
    test_size : float
        Fraction of the groups held out for test, in ``(0, 1)``.
    seed : int
        Seed of the hash.

    Returns
    -------
    numpy.ndarray of str
        The role of each row, in the order given.
    """
    groups = np.asarray(groups).astype(str)
    strata = group_strata(groups, labels)
    table = split_fold_table(strata.index.to_numpy(), strata.to_numpy(), test_size, seed)
    return pd.Series(table["role"].to_numpy(), index=table["item"].to_numpy()).reindex(groups).to_numpy(dtype=str)


def spotify_fold_table(table, group: str = "song", test_size: float = 0.25,
                       seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Chapter 1's split as a fold table keyed by ``track_id`` (one repeat, one fold).

    Explained in chapter *The Spotify baseline*: every track takes the role of its group
    (:func:`group_roles`) and the group's genre as its stratum. ``python -m tools.folds write
    spotify_songs`` runs it on the real table, grouped by song (:func:`helpers.tabular.song_ids`);
    the chapter runs it on the fly for any other table (the synthetic stand-in).

    Parameters
    ----------
    table : pandas.DataFrame
        Spotify rows with ``track_id``, ``playlist_genre`` and the ``group`` column.
    group : str
        The column whose groups stay whole (``'song'``; ``'track_id'`` for the old grouping).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FOLD_COLUMNS`, one row per track.

    Raises
    ------
    DataError
        If a track lies in two groups.
    """
    table = _require_columns(table, ["track_id", "playlist_genre", group])
    groups = table[group].astype(str).to_numpy()
    strata = group_strata(groups, table["playlist_genre"])
    frame = pd.DataFrame({"repeat": 0, "fold": 0, "item": table["track_id"].astype(str).to_numpy(),
                          "stratum": strata.reindex(groups).to_numpy(),
                          "role": group_roles(groups, table["playlist_genre"], test_size, seed)})
    frame = frame.drop_duplicates()
    if frame["item"].duplicated().any():
        track = frame.loc[frame["item"].duplicated(), "item"].iloc[0]
        raise DataError(f"spotify_fold_table: track {track} lies in two groups of column {group!r}")
    return check_fold_table(frame, source="Spotify fold table")


def spotify_fold_plan(table) -> FoldPlan:
    """Chapter 1's split for the tracks of ``table``: the committed table, or made on the fly.

    Explained in chapter *The Spotify baseline*. When the table's track ids are exactly those of
    the committed :data:`SPOTIFY_TABLE` (the real TidyTuesday table), that table is read; for any
    other table (the synthetic stand-in, another copy) :func:`spotify_fold_table` makes the roles on
    the spot, by the same version-free rule, and ``source`` says so.

    Parameters
    ----------
    table : pandas.DataFrame
        All rows of a Spotify table, with a ``song`` column (:func:`helpers.tabular.song_ids`).

    Returns
    -------
    FoldPlan
        One outer fold; :meth:`FoldPlan.rows` gives the fit / tune / select / test rows.
    """
    table = _require_columns(table, ["track_id", "playlist_genre", "song"])
    committed = read_fold_table(SPOTIFY_TABLE)
    if set(committed["item"]) == set(table["track_id"].astype(str)):
        return FoldPlan(committed, SPOTIFY_TABLE, SPOTIFY_PROTOCOL,
                        f"the committed table helpers/folds/{fold_table_path(SPOTIFY_TABLE).name}")
    return FoldPlan(spotify_fold_table(table), "generated", SPOTIFY_PROTOCOL,
                    f"generated on the spot for these {table['track_id'].nunique():,} tracks (version-free, "
                    f"as {SPOTIFY_TABLE} is made for the real table; not a committed table)")


__all__ = [
    "FOLDS_DIR",
    "FOLD_COLUMNS",
    "ROLES",
    "SPLIT_NAMES",
    "check_fold_table",
    "fold_table_path",
    "hashed_folds",
    "read_fold_table",
    "stable_key",
    "write_fold_table",
    "CONFIRM_REPEATS",
    "CONFIRM_SEED",
    "GTZAN_CONFIRM_TABLE",
    "GTZAN_CV_TABLE",
    "GTZAN_SPLIT_TABLE",
    "INNER_ROLES",
    "FoldPlan",
    "cv_fold_table",
    "divide_valid",
    "filtered_fold_table",
    "gtzan_fold_plan",
    "hashed_split",
    "inner_roles",
    "sized_segment_split",
    "split_fold_table",
    "SPOTIFY_PROTOCOL",
    "SPOTIFY_TABLE",
    "group_roles",
    "group_strata",
    "spotify_fold_plan",
    "spotify_fold_table",
    "SplitLists",
    "filtered_split",
    "leak_fraction",
    "leaky_segment_split",
    "load_filtered_split",
    "standin_filtered_split",
    "track_folds",
    "track_train_test_split",
    "validation_tracks_split",
]
