"""The book's data layer: GTZAN (full / mini / synthetic), its splits, and the Spotify songs table.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``) and, for GTZAN,
chapter *GTZAN* (``chapters/04_gtzan.ipynb``).

Every dataset is resolved the same way: explicit argument → environment variable → local cache
under :func:`helpers.config.data_home` → download (pooch, pinned URL and hash) → offline fallback
(synthetic data, announced with a printed notice).
"""

from helpers.datasets.errors import DataError
from helpers.datasets.gtzan import gtzan_table, load_gtzan
from helpers.datasets.splits import (
    filtered_split,
    load_filtered_split,
    track_folds,
    track_train_test_split,
)
from helpers.datasets.spotify import AUDIO_FEATURES, load_spotify

__all__ = [
    "AUDIO_FEATURES",
    "DataError",
    "filtered_split",
    "gtzan_table",
    "load_filtered_split",
    "load_gtzan",
    "load_spotify",
    "track_folds",
    "track_train_test_split",
]
