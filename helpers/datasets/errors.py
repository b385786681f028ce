"""Errors raised by the data layer."""


class DataError(ValueError):
    """Bad or missing data: the message names the file (or folder) and what is wrong with it."""
