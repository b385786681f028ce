"""Helpers for the course book *Music Genre Classification with Convolutional and Recurrent Networks*.

The package mirrors the book, in the style of libfmp: each module follows one step of the
pipeline (data → features → models → training → evaluation → plots) and each public function's
docstring names the chapter that explains it.  Chapters show the code first and then reuse it
from here (the d2l convention): what the reader saw is what runs.

Heavy dependencies (TensorFlow in particular) are imported lazily by the modules that need them,
so ``import helpers`` stays fast. The base install (``pip install genre-book-helpers``) is what
``genre-predict`` needs; the chapters' stack (TensorFlow, Keras, librosa, scikit-learn, ...) is the
``chapters`` extra, and a module that needs it says so in one line when it is missing
(:func:`helpers.backend.require_chapters`).
"""

import os as _os
from importlib import metadata as _metadata

# Keep TensorFlow's C++ start-up chatter out of notebook outputs (set before TF is imported).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.config import GENRES, SPOTIFY_GENRES, data_home, set_seed  # noqa: E402

__all__ = ["GENRES", "SPOTIFY_GENRES", "data_home", "set_seed"]

try:  # the installed distribution's version (pyproject.toml's, at install time)
    __version__ = _metadata.version("genre-book-helpers")
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
