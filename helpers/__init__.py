"""Helpers for the course book *Music Genre Classification with Convolutional and Recurrent Networks*.

The package mirrors the book, in the style of libfmp: each module follows one step of the
pipeline (data → features → models → training → evaluation → plots) and each public function's
docstring names the chapter that explains it.  Chapters show the code first and then reuse it
from here (the d2l convention): what the reader saw is what runs.

Heavy dependencies (TensorFlow in particular) are imported lazily by the modules that need them,
so ``import helpers`` stays fast.
"""

import os as _os

# Keep TensorFlow's C++ start-up chatter out of notebook outputs (set before TF is imported).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.config import GENRES, SPOTIFY_GENRES, data_home, set_seed  # noqa: E402

__all__ = ["GENRES", "SPOTIFY_GENRES", "data_home", "set_seed"]
__version__ = "0.1.0"
