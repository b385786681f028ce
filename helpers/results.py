"""Result tables that chapters write and the final comparison reads (no number is typed by hand).

Each chapter that trains models saves its results table to ``results/<chapter>.csv`` (committed,
produced by executing the chapter); chapter *Beyond* gathers them into the book's final comparison.
Where that folder is: :func:`results_dir` (``results/`` of a checkout; an installed package writes
to ``data_home() / "results"`` instead, never into ``site-packages``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import config
from helpers.errors import ParameterError
from helpers.files import atomic_path

#: Columns of every results table. ``data`` is full / mini / synthetic / real (Spotify);
#: ``split`` names the protocol (e.g. "track-grouped 25 % test", "segment (leaky)", "track 5-fold ×3").
COLUMNS = ("chapter", "model", "data", "split", "accuracy", "accuracy_std", "track_vote_accuracy",
           "macro_f1", "train_seconds", "notes")


def results_dir(create: bool = False) -> Path:
    """Return the folder of the results tables.

    ``results/`` of the repository checkout when ``helpers`` is imported from one (the committed
    tables); else ``config.data_home() / "results"`` (``$BOOK_DATA_DIR`` or ``~/.cache/genre-book``).
    """
    root = config.checkout_root()
    path = root / "results" if root is not None else config.data_home(create=create) / "results"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def results_frame(rows: list[dict]) -> pd.DataFrame:
    """Build a results table with the standard columns (missing values left empty).

    Parameters
    ----------
    rows : list of dict
        One dict per model/protocol; keys from :data:`COLUMNS` (``model``, ``data`` and ``split``
        are required).

    Returns
    -------
    pandas.DataFrame
    """
    for row in rows:
        missing = [key for key in ("model", "data", "split") if not row.get(key)]
        if missing:
            raise ParameterError(f"result row {row} lacks {missing}: every number must say its data and split")
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ParameterError(f"result row has unknown column(s) {sorted(unknown)}; use {COLUMNS}")
    return pd.DataFrame(rows, columns=list(COLUMNS))


def save_results(frame: pd.DataFrame, name: str, folder: str | Path | None = None) -> Path:
    """Write a chapter's results table to ``<results_dir()>/<name>.csv`` and return the path."""
    folder = Path(folder) if folder is not None else results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f")
    return path


def load_results(folder: str | Path | None = None) -> pd.DataFrame:
    """Concatenate the results tables of ``<results_dir()>/*.csv`` (in file-name order) into one table.

    Only files with exactly the :data:`COLUMNS` are results tables; supplementary tables a chapter
    writes beside them (per-fold scores, per-track predictions) are left out.
    """
    folder = Path(folder) if folder is not None else results_dir()
    tables = [table for table in (pd.read_csv(f) for f in sorted(folder.glob("*.csv")))
              if tuple(table.columns) == COLUMNS]
    if not tables:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(tables, ignore_index=True)
