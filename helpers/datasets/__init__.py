"""The book's data layer: GTZAN (full / mini / synthetic) and the Spotify songs table.

Splits (the fault-filtered GTZAN lists included) live in :mod:`helpers.splits`.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``) and, for GTZAN,
chapter *GTZAN* (``chapters/04_gtzan.ipynb``).

Every dataset is resolved the same way: explicit argument → environment variable → local cache
under :func:`helpers.config.data_home` → download (pooch, pinned URL and hash) → offline fallback
(synthetic data, announced with a printed notice).
"""

import importlib

from helpers.errors import DataError

# Loaders are imported on first use (PEP 562), so that `from helpers.errors import DataError`
# (as the predict command does) does not pay for pandas and scikit-learn.
_LAZY = {
    "gtzan_table": "helpers.datasets.gtzan",
    "load_gtzan": "helpers.datasets.gtzan",
    "AUDIO_FEATURES": "helpers.datasets.spotify",
    "load_spotify": "helpers.datasets.spotify",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'helpers.datasets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "AUDIO_FEATURES",
    "DataError",
    "gtzan_table",
    "load_gtzan",
    "load_spotify",
]
