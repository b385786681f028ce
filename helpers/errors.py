"""The two errors the book raises, in librosa's style (the bottom of the package: imports nothing).

- :class:`ParameterError` — a bad *argument* (a negative hop length, an unknown genre, arrays of
  the wrong shape): the caller's mistake, named in the message.
- :class:`DataError` — bad or missing *data* (a corrupt clip, a missing genre folder, a checksum
  mismatch): the message names the file or folder and what is wrong with it.

Both are :class:`ValueError` subclasses, so ``except ValueError`` catches either.
"""


class ParameterError(ValueError):
    """A bad argument: the message names the argument, the value and what was expected."""


class DataError(ValueError):
    """Bad or missing data: the message names the file (or folder) and what is wrong with it."""
