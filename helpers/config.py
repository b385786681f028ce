"""Project-wide constants, data locations and the one seeding function.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``).

Environment variables (all optional)
------------------------------------
``BOOK_DATA_DIR``
    Cache folder for downloads and derived files (default: ``data/`` in the repository when the
    package is imported from a checkout, else ``~/.cache/genre-book``). An installed package also
    writes its results tables and a retrained model there, never into ``site-packages``. It may be
    read-only (a classroom's shared copy): what it holds is used; what would be written there
    falls back (see :func:`data_home`).
``BOOK_CACHE_DIR``
    Folder of the derived caches only (MFCC features, embeddings, descriptors; default:
    ``BOOK_DATA_DIR``). The chapter runner points it at an empty folder for every chapter, so the
    recorded runtimes include the extraction a fresh Colab VM does.
``GTZAN_FLAVOUR``
    ``full``, ``mini`` or ``synthetic``: which GTZAN the chapters use (default: ``mini``
    everywhere, Colab included; a flavour that cannot be found or downloaded falls back to ``synthetic``
    with a printed notice).
``GTZAN_FULL_DIR`` / ``GTZAN_MINI_DIR``
    A local folder holding that flavour (either GTZAN layout).
``GTZAN_SPLIT_DIR``
    A local folder holding ``{train,valid,test}_filtered.txt`` (the fault-filtered split).
``SPOTIFY_CSV``
    A local copy of the TidyTuesday 2020-01-21 ``spotify_songs.csv``.
``BOOK_OFFLINE``
    Set to ``1`` to never try a download (useful in classrooms without network).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from helpers.errors import DataError, ParameterError

# tqdm.auto (imported by pooch, which librosa imports lazily, e.g. in specshow) warns "IProgress not
# found" in Jupyter kernels without ipywidgets, then draws text progress bars anyway: keep that hint
# out of the book's stored outputs.
warnings.filterwarnings("ignore", message="IProgress not found")

#: The ten GTZAN genres, in the order used for integer labels throughout the book.
GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

#: The six Spotify playlist genres of the TidyTuesday table (chapter 1).
SPOTIFY_GENRES: tuple[str, ...] = ("edm", "latin", "pop", "r&b", "rap", "rock")

#: GTZAN's sample rate and clip length; the report's arithmetic: 22050 Hz × 30 s = 661,500 samples.
SAMPLE_RATE: int = 22050
CLIP_SECONDS: float = 30.0

#: The seed used by every chapter unless it says otherwise.
DEFAULT_SEED: int = 42

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent

#: Package data: the default model bundle shipped with ``helpers`` (written by chapter 8).
BUNDLED_DIR = _PACKAGE_DIR / "bundled"
#: File stem of the book's model bundle (``gtzan_cnn.keras`` + ``gtzan_cnn.json``).
BUNDLE_NAME = "gtzan_cnn"


def checkout_root() -> Path | None:
    """Return the repository checkout ``helpers`` is imported from, or None when it is installed.

    A checkout is recognised by the book's ``_toc.yml`` next to the package; an installed wheel
    lives in ``site-packages``, which has none.
    """
    return _REPO_ROOT if (_REPO_ROOT / "_toc.yml").is_file() else None


def data_home(create: bool = True) -> Path:
    """Return the cache folder for downloads and derived data.

    Explained in chapter *Getting started*.

    Parameters
    ----------
    create : bool
        Create the folder if it does not exist.

    Returns
    -------
    pathlib.Path
        ``$BOOK_DATA_DIR`` if set; else ``data/`` of the repository checkout (when ``helpers`` is
        imported from one); else ``~/.cache/genre-book`` (never ``site-packages``).

    Raises
    ------
    DataError
        With ``create``, if the folder cannot be created (its path is a file, or a parent is
        read-only): one line naming it and the fix. A folder that exists but is read-only is
        returned: its contents are used, and the loaders fall back where they would write (the
        synthetic data to :func:`scratch_home`, derived caches to computing without caching).
    """
    env = os.environ.get("BOOK_DATA_DIR")
    root = checkout_root()
    if env:
        path = Path(env).expanduser()
    elif root is not None:
        path = root / "data"
    else:
        path = Path.home() / ".cache" / "genre-book"
    if create:
        make_folder(path, "the data folder" + (" ($BOOK_DATA_DIR)" if env else ""), "BOOK_DATA_DIR")
    return path


def make_folder(path: Path, what: str, variable: str = "BOOK_DATA_DIR") -> Path:
    """Create ``path`` (and its parents) or raise a one-line :class:`DataError` saying why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataError(f"{what} {path} cannot be created: a file of that name exists; "
                        f"set {variable} to a writable folder") from None
    except OSError as error:
        raise DataError(f"{what} {path} cannot be created ({error.strerror or error}); "
                        f"set {variable} to a writable folder") from None
    return path


def cache_home(create: bool = True) -> Path:
    """Return the folder of the derived caches (features, embeddings, descriptors).

    Explained in chapter *From audio to features*: ``$BOOK_CACHE_DIR`` if set, else
    :func:`data_home`. Downloads stay in :func:`data_home` either way. ``create`` tries to create
    it and never fails: a cache folder that cannot be created or written means computing without
    caching (:func:`helpers.features.cached_arrays` says so once).
    """
    env = os.environ.get("BOOK_CACHE_DIR")
    path = Path(env).expanduser() if env else data_home(create=False)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
    return path


def scratch_home(create: bool = True) -> Path:
    """A private folder of this user in the system's temporary folder, for data :func:`data_home` cannot take.

    Explained in chapter *Getting started*: when the data folder is read-only or cannot be created,
    generated stand-ins (the synthetic GTZAN clips, librosa's offline examples) are written here
    instead, with a printed notice; the system may delete them later, which costs a regeneration.

    Parameters
    ----------
    create : bool
        Create the folder (mode 700) if it does not exist.

    Raises
    ------
    DataError
        If the folder cannot be created, or exists but is not this user's own folder (nothing
        another user put there is read).
    """
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = Path(tempfile.gettempdir()) / f"genre-book-{uid if uid is not None else 'user'}"
    try:
        if create:
            path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except FileNotFoundError:
        if not create:
            return path
        raise DataError(f"the temporary data folder {path} cannot be created; "
                        "set BOOK_DATA_DIR to a writable folder") from None
    except OSError as error:
        raise DataError(f"the temporary data folder {path} cannot be created ({error.strerror or error}); "
                        "set BOOK_DATA_DIR to a writable folder") from None
    import stat

    if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
        raise DataError(f"the temporary data folder {path} is not this user's own folder; "
                        "set BOOK_DATA_DIR to a writable folder")
    return path


def model_dir(create: bool = False) -> Path:
    """Return the folder chapter 8 saves the book's model bundle into.

    In a checkout this is the package data folder :data:`BUNDLED_DIR` (``helpers/bundled/``,
    committed, so the wheel ships the model chapter 8 trained); installed, it is
    ``data_home() / "models"``, so that re-running chapter 8 (e.g. on Colab) never writes into
    ``site-packages``.
    """
    path = BUNDLED_DIR if checkout_root() is not None else data_home(create=create) / "models"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cnn_bundle() -> Path:
    """Return the stem of the CNN model bundle (chapter 8's network; ``genre-predict --model cnn``).

    ``genre-predict``'s default model is the musicnn probe (``helpers.predict.DEFAULT_MODEL``,
    chapter 10). The CNN bundle is the one chapter 8 saved in this environment
    (``model_dir() / BUNDLE_NAME``) if there is one, else the one shipped as package data
    (``BUNDLED_DIR / BUNDLE_NAME``). In a checkout both are the same files.
    """
    trained = model_dir() / BUNDLE_NAME
    if trained.with_suffix(".json").is_file():
        return trained
    return BUNDLED_DIR / BUNDLE_NAME


def offline() -> bool:
    """Return True when ``BOOK_OFFLINE`` asks the data layer never to download."""
    return os.environ.get("BOOK_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


#: Seconds a download waits for a server: to connect, and for the next bytes. A mirror that never
#: answers costs at most this; the data layer then tries the next mirror (``$BOOK_DOWNLOAD_TIMEOUT``
#: overrides it, see :func:`download_timeout`).
DOWNLOAD_TIMEOUT: tuple[float, float] = (5.0, 30.0)


def download_timeout() -> tuple[float, float]:
    """The (connect, read) timeout of every download, in seconds — the one place it is set.

    ``$BOOK_DOWNLOAD_TIMEOUT`` overrides :data:`DOWNLOAD_TIMEOUT`: one number for both (``"3"``) or
    two (``"3,60"``).

    Raises
    ------
    ParameterError
        If the variable is not one or two positive numbers.
    """
    text = os.environ.get("BOOK_DOWNLOAD_TIMEOUT", "").strip()
    if not text:
        return DOWNLOAD_TIMEOUT
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(v > 0 for v in values):
        raise ParameterError(f"BOOK_DOWNLOAD_TIMEOUT={text!r} must be one or two positive numbers of seconds")
    return (values[0], values[-1])


def set_seed(
    seed: int = DEFAULT_SEED, deterministic_ops: bool = True, with_tensorflow: bool = False
) -> int:
    """Seed Python, NumPy and (if imported or available) TensorFlow/Keras — the one place for seeds.

    Explained in chapter *Getting started*; every chapter calls it once at the top.

    Parameters
    ----------
    seed : int
        The seed.
    with_tensorflow : bool
        Import and seed TensorFlow/Keras even if not imported yet. When False (default),
        TensorFlow is seeded only if it is already imported, so data-only chapters stay fast.
    deterministic_ops : bool
        Also ask TensorFlow for deterministic kernels (``enable_op_determinism``). On the CPU
        this costs little; re-running a chapter then reproduces its numbers on the same machine.

    Returns
    -------
    int
        The seed, so that ``rng = np.random.default_rng(set_seed())`` reads naturally.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the legacy global generator other libraries use
    if not with_tensorflow and "tensorflow" not in sys.modules:
        return seed
    try:
        import keras
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TensorFlow is optional for the data chapters
        return seed
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - very old TensorFlow
            pass
    return seed
