"""The two errors the book raises, in librosa's style (the bottom of the package: imports nothing).

- :class:`ParameterError` — a bad *argument* (a negative hop length, an unknown genre, arrays of
  the wrong shape): the caller's mistake, named in the message.
- :class:`DataError` — bad or missing *data* (a corrupt clip, a missing genre folder, a checksum
  mismatch): the message names the file or folder and what is wrong with it;
  :func:`require_columns` raises it for a table that lacks a column.

Both are :class:`ValueError` subclasses, so ``except ValueError`` catches either.
"""


class ParameterError(ValueError):
    """A bad argument: the message names the argument, the value and what was expected."""


class DataError(ValueError):
    """Bad or missing data: the message names the file (or folder) and what is wrong with it."""


def require_columns(table, columns, what: str = "table") -> None:
    """Raise a :class:`DataError` naming ``what`` and the ``columns`` that ``table`` lacks, in their order.

    The one column check of the package (clip tables, fold tables, the Spotify table, ...): explained
    in chapter *Getting started* with the data layer's errors. ``table`` is anything with a
    ``columns`` attribute (a pandas DataFrame); nothing is imported.
    """
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataError(f"{what} lacks column(s) {missing}")
