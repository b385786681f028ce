"""The input-shape check every model builder starts with (no TensorFlow needed).

Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``), where the first
builder calls it; every builder of :mod:`helpers.models` uses this one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

from helpers.errors import ParameterError


def check_input_shape(input_shape: int | Sequence[int], rank: int, what: str) -> tuple[int, ...]:
    """``input_shape`` as a tuple of ``rank`` positive ints, or a :class:`ParameterError` naming ``what``.

    Explained in chapter *The Spotify baseline*: a model builder's first line. An int is a shape
    of rank 1. Every size must be a whole number of at least 1 (a float such as ``13.0`` or a bool is
    refused, not truncated).

    Parameters
    ----------
    input_shape : int or sequence of int
        The shape of one input, without the batch axis.
    rank : int
        How many sizes it must have.
    what : str
        The builder's name, for the message.

    Returns
    -------
    tuple of int

    Raises
    ------
    ParameterError
        ``"<what>: input_shape must be <rank> positive whole size(s), got <input_shape>"``.
    """
    try:
        shape = (input_shape,) if isinstance(input_shape, Integral) else tuple(input_shape)
    except TypeError:  # neither an int nor a sequence (e.g. 13.5)
        shape = ()
    if len(shape) != rank or not all(isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in shape):
        raise ParameterError(f"{what}: input_shape must be {rank} positive whole size(s), got {input_shape!r}")
    return tuple(int(n) for n in shape)


__all__ = ["check_input_shape"]
