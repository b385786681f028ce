"""Result tables that chapters write and the final comparison reads (no number is typed by hand).

Each chapter that trains models saves its results table to ``results/<chapter>.csv`` (committed,
produced by executing the chapter); chapter *Beyond* gathers them into the book's final comparison.
Where that folder is: :func:`results_dir` (``results/`` of a checkout; an installed package writes
to ``data_home() / "results"`` instead, never into ``site-packages``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpers import config
from helpers.errors import ParameterError
from helpers.files import atomic_path

if TYPE_CHECKING:  # pandas is the chapters extra's: imported where a table is made or read
    import pandas as pd

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
    import pandas as pd

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
    import pandas as pd

    tables = [table for table in (pd.read_csv(f) for f in sorted(folder.glob("*.csv")))
              if tuple(table.columns) == COLUMNS]
    if not tables:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(tables, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Recorded studies: heavier work a chapter shows, recorded by a make target, rendered when it is the
# chapter's own run
# ---------------------------------------------------------------------------------------------

#: Set (to anything) to make :func:`load_record` find no record, so that a chapter trains its study
#: again and records it (``make sweep`` does, on a scratch run of the chapter).
RERUN_STUDIES = "BOOK_RERUN_STUDIES"
_KEY, _RECORDED = "key: ", "recorded"


def _key_text(value) -> str:
    """A key value as the text a record stores (floats to 4 significant digits)."""
    import numbers

    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def save_record(table: pd.DataFrame, name: str, key: dict, folder: str | Path | None = None) -> Path:
    """Write a study's table to ``<results_dir()>/<name>.csv`` with the key of the run it belongs to.

    Explained in chapter *A CNN on MFCCs* (its learning-rate sweep). ``key`` names what the study
    depends on (data, the setting it varies around, the numbers of the run it starts from); each item
    is stored as a column ``key: <name>``, with the date in ``recorded``. :func:`load_record` serves
    the table only to a run with the same key.
    """
    import datetime

    if not key:
        raise ParameterError("save_record needs a key: a record must say which run it belongs to")
    stored = table.copy()
    for item, value in key.items():
        stored[f"{_KEY}{item}"] = _key_text(value)
    stored[_RECORDED] = datetime.date.today().isoformat()
    return save_results(stored, name, folder)


def load_record(name: str, key: dict, folder: str | Path | None = None) -> tuple[pd.DataFrame | None, str]:
    """The recorded study ``name`` if it belongs to a run with this ``key``; else None and why.

    Explained in chapter *A CNN on MFCCs*. The reason is a phrase for the chapter to print: the file
    is absent, unreadable, another run's (the differing key items named), or
    ``BOOK_RERUN_STUDIES`` is set. On success the phrase says when it was recorded; the table comes
    without its key columns.
    """
    import os

    import pandas as pd

    folder = Path(folder) if folder is not None else results_dir()
    path = folder / f"{name}.csv"
    if os.environ.get(RERUN_STUDIES):
        return None, f"{RERUN_STUDIES} is set"
    if not path.is_file():
        return None, f"{path.name} is absent"
    try:
        columns = pd.read_csv(path, nrows=0).columns
        table = pd.read_csv(path, dtype={column: str for column in columns
                                         if column.startswith(_KEY) or column == _RECORDED})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        return None, f"{path.name} is unreadable ({error})"
    keys = [column for column in table.columns if column.startswith(_KEY)]
    if table.empty or _RECORDED not in table.columns or not keys:
        return None, f"{path.name} is no record (no rows, key or date)"
    stored = {column[len(_KEY):]: table[column].iloc[0] for column in keys}
    wanted = {item: _key_text(value) for item, value in key.items()}
    differing = sorted(item for item in stored.keys() | wanted.keys() if stored.get(item) != wanted.get(item))
    if differing:
        return None, f"{path.name} belongs to another run (it differs in: {', '.join(differing)})"
    return table.drop(columns=[*keys, _RECORDED]), f"recorded on {table[_RECORDED].iloc[0]} (`{path.name}`)"
