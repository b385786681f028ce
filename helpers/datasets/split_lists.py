"""Reading a split list: one clip per line, ``genre/genre.000NN.wav`` (the fault-filtered GTZAN lists).

Explained in chapter *GTZAN* (``chapters/04_gtzan.ipynb``). The lists themselves are downloaded by
:mod:`helpers.datasets.remote` and turned into a split by :mod:`helpers.splits`; this module only
reads one file, robustly: every problem is a one-line :class:`~helpers.errors.DataError` naming the
file (and the line), and a track listed twice is kept once, with a warning.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

from helpers.errors import DataError

#: One line of a list: an optional folder, then ``<genre>.<5 digits>.wav`` or ``.au``.
_LINE = re.compile(r"^(?:[^/\\]*[/\\])*(?P<track>[A-Za-z]+\.\d{5})\.(?:wav|au)$")


def read_split_list(path: str | os.PathLike) -> list[str]:
    """The track ids of a split list, in file order, each once.

    Explained in chapter *GTZAN*. A line is ``genre/genre.000NN.wav`` (or ``.au``; the folder part
    is optional); blank lines, surrounding spaces, a UTF-8 byte-order mark and CRLF line ends are
    accepted.

    Parameters
    ----------
    path : path
        The list, e.g. ``train_filtered.txt``.

    Returns
    -------
    list of str
        Track ids such as ``'blues.00029'``. A track listed more than once is kept once (at its
        first line), with a warning naming the file, the track and the lines.

    Raises
    ------
    DataError
        If the file is missing, not a regular file (a folder, a FIFO: never opened, so nothing
        blocks), unreadable, not UTF-8 text (naming the line and the byte), or a line is not
        ``genre/genre.000NN.wav`` (naming the line).
    """
    path = Path(path)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"split list {path} is missing") from None
    except OSError as error:
        raise DataError(f"split list {path} cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"split list {path} is not a regular file (a folder, a FIFO or a device)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"split list {path} cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"split list {path}, line {line}: byte 0x{data[error.start]:02x} is not UTF-8 text "
                        "(a damaged or converted file)") from None
    ids, first_line, repeated = [], {}, {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise DataError(f"split list {path}, line {number}: {line!r} is not 'genre/genre.000NN.wav'")
        track = match["track"]
        if track in first_line:
            repeated.setdefault(track, [first_line[track]]).append(number)
            continue
        first_line[track] = number
        ids.append(track)
    if repeated:
        shown = "; ".join(f"{track} (lines {', '.join(map(str, lines))})"
                          for track, lines in list(repeated.items())[:5])
        more = f"; and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        warnings.warn(f"split list {path} lists {len(repeated)} track(s) more than once, kept once: {shown}{more}",
                      UserWarning, stacklevel=2)
    return ids


__all__ = ["read_split_list"]
