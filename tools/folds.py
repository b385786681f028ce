"""Make and check the book's committed fold tables (``helpers/folds/<name>.csv``): folds as data.

Usage::

    python -m tools.folds list            # the registered tables and what each is for
    python -m tools.folds write [NAME …]  # (re)make tables from their version-free generators
    python -m tools.folds check [NAME …]  # regenerate in memory and compare with the committed files

Every split the book reports on is a committed table, read by the chapters, so that no library
version can move it (``helpers.splits.read_fold_table``). Each generator below uses only
``helpers.splits.hashed_folds`` (a SHA-256 of seed and item id: no random generator, no library
splitter) on a fixed list of items, so ``check`` gives the same answer in every environment,
Colab's pinned stack included (``tests/test_folds.py`` runs it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from helpers.splits import check_fold_table, read_fold_table, write_fold_table


@dataclass(frozen=True)
class FoldTable:
    """A registered fold table: its name, what it is for, and its generator."""

    name: str
    purpose: str
    make: Callable[[], pd.DataFrame]
    compress: bool = False  # written as <name>.csv.gz (large tables)


class InputMissing(Exception):
    """A generator's input data is not on this machine (``check`` and the tests skip that table)."""


#: Registered tables, by name. Generators take no argument: their items and seeds are fixed here.
TABLES: dict[str, FoldTable] = {}


def register(name: str, purpose: str, compress: bool = False):
    """Decorator: register a generator as fold table ``name`` (gzip-compressed with ``compress``)."""
    def add(make: Callable[[], pd.DataFrame]) -> Callable[[], pd.DataFrame]:
        TABLES[name] = FoldTable(name, purpose, make, compress)
        return make
    return add


def header(table: FoldTable) -> str:
    """The comment lines written above a table."""
    return (f"{table.name}: {table.purpose}\n"
            f"Made by `python -m tools.folds write {table.name}` (version-free: "
            "helpers.splits.hashed_folds). Do not edit by hand.")


def _selected(names: list[str]) -> list[FoldTable]:
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise SystemExit(f"unknown fold table(s) {unknown}; known: {sorted(TABLES)}")
    return [TABLES[n] for n in (names or sorted(TABLES))]


def differences(table: FoldTable) -> str | None:
    """None when the committed file equals a fresh generation; else what differs."""
    fresh = check_fold_table(table.make(), source=f"generated {table.name}")
    try:
        stored = read_fold_table(table.name)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return str(error)
    key = ["repeat", "fold", "item"]
    a = fresh.sort_values(key).reset_index(drop=True)
    b = stored.sort_values(key).reset_index(drop=True)
    if a.equals(b):
        return None
    merged = a.merge(b, on=key, how="outer", suffixes=("_generated", "_committed"), indicator=True)
    changed = merged[(merged["_merge"] != "both") | (merged["role_generated"] != merged["role_committed"])]
    return f"{len(changed)} row(s) differ, e.g. {changed.head(3).to_dict('records')}"



# --------------------------------------------------------------------------- GTZAN (mini)
# Mini GTZAN's 100 tracks (mirdata's subset): clips 00000-00009 of every genre, except jazz, which has
# no 00003 or 00009 and has 00011 and 00012 instead. helpers.splits.gtzan_fold_plan reads these tables
# when the data's tracks are exactly these; for other tracks (the synthetic flavour's jazz.00003 and
# jazz.00009, a subset, full GTZAN's own protocol) it generates or uses the lists, and says so.

from helpers.config import DEFAULT_SEED, GENRES  # noqa: E402
from helpers.splits import (  # noqa: E402
    CONFIRM_REPEATS,
    CONFIRM_SEED,
    CV_REPEATS,
    CV_SPLITS,
    GTZAN_CONFIRM_TABLE,
    GTZAN_CV_TABLE,
    GTZAN_SPLIT_TABLE,
    cv_fold_table,
    split_fold_table,
)

#: The clip numbers of mini GTZAN that differ from 00000-00009.
MINI_EXCEPTIONS = {"jazz": (0, 1, 2, 4, 5, 6, 7, 8, 11, 12)}


def gtzan_mini_tracks() -> tuple[list[str], list[str]]:
    """Mini GTZAN's track ids and their genres (fixed: mirdata's 100 clips)."""
    items = [f"{genre}.{i:05d}" for genre in GENRES for i in MINI_EXCEPTIONS.get(genre, range(10))]
    return items, [item.split(".")[0] for item in items]


@register(GTZAN_CV_TABLE, f"protocol (c) of chapters 8-10 on mini GTZAN: {CV_SPLITS} stratified folds x "
          f"{CV_REPEATS} repetition{'s' if CV_REPEATS > 1 else ''} (seed {DEFAULT_SEED}); inside each outer fold the training tracks are "
          "fit / tune / select (60 / 20 / 20)")
def gtzan_mini_cv() -> pd.DataFrame:
    """Mini GTZAN's committed cross-validation folds (``helpers/folds/gtzan_mini_cv.csv``)."""
    return cv_fold_table(*gtzan_mini_tracks(), CV_SPLITS, CV_REPEATS, DEFAULT_SEED)


@register(GTZAN_CONFIRM_TABLE, f"the confirmation run (make confirm): {CV_SPLITS} stratified folds x "
          f"{CONFIRM_REPEATS} repetitions with a fresh seed ({CONFIRM_SEED}), never used while the chapters were "
          "developed; inside each outer fold fit / tune / select (60 / 20 / 20) as in " + GTZAN_CV_TABLE)
def gtzan_mini_confirm() -> pd.DataFrame:
    """Mini GTZAN's fresh-seed folds of the confirmation run (``gtzan_mini_confirm.csv``)."""
    return cv_fold_table(*gtzan_mini_tracks(), CV_SPLITS, CONFIRM_REPEATS, CONFIRM_SEED)


@register(GTZAN_SPLIT_TABLE, f"the single split of chapters 5-7 on mini GTZAN (seed {DEFAULT_SEED}): 25 % "
          "test tracks; the training tracks fit / tune / select (60 / 20 / 20)")
def gtzan_mini_split() -> pd.DataFrame:
    """Mini GTZAN's committed single split with roles (``gtzan_mini_split.csv``)."""
    return split_fold_table(*gtzan_mini_tracks(), 0.25, DEFAULT_SEED)


# --------------------------------------------------------------------------- Spotify (chapter 1)
# The real TidyTuesday table's 28,356 track ids, grouped by song (helpers.tabular.song_ids); made
# from the table itself, so writing or checking it needs the real table ($SPOTIFY_CSV or the cache:
# never a download). helpers.splits.spotify_fold_plan reads it when a table's tracks are exactly these.

from helpers.splits import SPOTIFY_TABLE, spotify_fold_table  # noqa: E402


@register(SPOTIFY_TABLE, "chapter 1's split of the real Spotify table (TidyTuesday 2020-01-21), one row per "
          "track_id: songs (same track_id, normalised name + artist, or identical audio features; "
          "helpers.tabular.song_ids) stay whole, stratified by the genre of most of their rows "
          f"(ties: alphabetical); 25 % of the songs test, the rest fit / tune / select (60 / 20 / 20), "
          f"seed {DEFAULT_SEED}", compress=True)
def spotify_songs() -> pd.DataFrame:
    """The Spotify songs table's committed grouped split (``spotify_songs.csv.gz``)."""
    from helpers.datasets import load_spotify
    from helpers.errors import DataError
    from helpers.tabular import song_ids

    try:
        table = load_spotify(download=False, fallback=False)
    except (OSError, DataError) as error:
        raise InputMissing(f"the real Spotify table is not here: {error}") from None
    return spotify_fold_table(table.assign(song=song_ids(table)), "song", 0.25, DEFAULT_SEED)


def main(argv=None) -> int:
    """Command-line entry point: ``python -m tools.folds``."""
    parser = argparse.ArgumentParser(prog="python -m tools.folds", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("list", "write", "check"))
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    tables = _selected(args.names)
    if args.command == "list":
        for table in tables:
            print(f"{table.name}: {table.purpose}")
        return 0
    if args.command == "write":
        for table in tables:
            path = write_fold_table(table.name, table.make(), header(table), compress=table.compress)
            print(f"wrote {path}")
        return 0
    failed = 0
    for table in tables:
        try:
            problem = differences(table)
        except InputMissing as missing:
            print(f"{table.name}: skipped ({missing})")
            continue
        print(f"{table.name}: {'ok' if problem is None else 'DIFFERS: ' + problem}")
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
