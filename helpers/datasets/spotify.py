"""The TidyTuesday 2020-01-21 Spotify songs table (6 playlist genres, 12 audio features).

Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``).
"""

from __future__ import annotations

import os
import stat

import pandas as pd

from helpers.errors import DataError, require_columns

#: The 12 numeric audio features of Spotify's API used by the report.
AUDIO_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
)

REQUIRED_COLUMNS = ("track_id", "playlist_genre", *AUDIO_FEATURES)


def read_spotify_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a ``spotify_songs.csv``.

    Raises
    ------
    DataError
        If the path is missing, a folder or any other non-regular file (a FIFO, a device, a socket:
        never opened, so nothing blocks), the file is unreadable (as a file or as CSV), lacks a
        required column (named), or holds a non-numeric value in an audio feature column (naming
        the column, the value and its row).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"Spotify table {path} does not exist") from None
    except OSError as error:
        raise DataError(f"Spotify table {path} cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"Spotify table {path} is a folder, not a CSV file (check $SPOTIFY_CSV)")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise DataError(f"Spotify table {path} is {kind}, not a regular CSV file (check $SPOTIFY_CSV)")
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"Spotify table {path} does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"Spotify table {path} is not a readable CSV: {error}") from None
    except OSError as error:
        raise DataError(f"Spotify table {path} cannot be read ({error.strerror or error})") from None
    require_columns(table, REQUIRED_COLUMNS, f"Spotify table {path}")
    for column in AUDIO_FEATURES:
        if not pd.api.types.is_numeric_dtype(table[column]):
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = table[column].notna() & numbers.isna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise DataError(f"Spotify table {path}: column {column!r} holds the non-numeric value "
                                f"{table[column].iloc[row]!r} in data row {row + 1} "
                                f"(track_id {table['track_id'].iloc[row]!r})")
            table[column] = numbers
    table.attrs["source"] = "real"
    return table


def load_spotify(
    path: str | os.PathLike | None = None, download: bool = True, fallback: bool = True
) -> pd.DataFrame:
    """Return the Spotify songs table: resolved like every dataset of the book.

    Explained in chapter *The Spotify baseline*.

    Resolution: ``path`` → ``$SPOTIFY_CSV`` → cache → download (pooch, pinned URL and SHA-256)
    → with ``fallback``, a synthetic stand-in of the same columns, announced with a printed
    notice.

    Returns
    -------
    pandas.DataFrame
        All columns of the CSV (32,833 rows for the real table);
        ``table.attrs['source']`` is ``'real'`` or ``'synthetic'``.
    """
    local = path or os.environ.get("SPOTIFY_CSV")
    if local:
        return read_spotify_csv(local)
    from helpers.datasets import remote

    try:
        return read_spotify_csv(remote.fetch_spotify(download=download))
    except (OSError, DataError) as error:
        if not fallback:
            raise
        from helpers import synth

        print(
            f"NOTICE: the Spotify songs table is not available ({error}).\n"
            "        Using a SYNTHETIC stand-in with the same columns: every number below is on "
            "synthetic data, not on Spotify's."
        )
        table = synth.synthetic_spotify()
        table.attrs["source"] = "synthetic"
        return table
