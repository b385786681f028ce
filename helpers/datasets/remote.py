"""Downloads of the book's data with pooch: pinned URLs, checksums, atomic extraction.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``). The loaders in
:mod:`helpers.datasets` call these functions lazily, only when no local copy is given or cached.
This module is the download machinery (:func:`retrieve`, :func:`extract_archive`,
:func:`atomic_folder`, :func:`cached`) and the two small downloads (split lists, Spotify table);
GTZAN's archives are fetched and verified by :mod:`helpers.datasets.gtzan`, which imports this
module (never the other way round).

Guarantees
----------
* Every file is checked against a pinned hash (MD5 of mirdata's mini-GTZAN archive, SHA-256 of
  the split lists and of the Spotify table). A mismatch raises :class:`DataError` naming the file
  and both hashes; pooch downloads into a temporary file and deletes it, so nothing bad stays.
  A *cached* file that fails its checksum is removed with a printed notice naming it, before the
  download is tried again.
* Full GTZAN's archive hash cannot be pinned in advance (it was never published): the archive's
  *content* is verified instead (10 genres × 100 clips, readable headers, 22050 Hz mono, about
  30 s; ``jazz.00054`` may be unreadable and is recorded as a known fault), and its SHA-256 is
  recorded in ``gtzan_full.sha256.json`` beside the cache on first download; later downloads must
  match it.
* Archives are extracted into a hidden temporary folder of the cache and renamed into place only
  when extraction and verification are complete, so an interrupted run never leaves a folder that
  looks complete.
* No network, ``$BOOK_OFFLINE=1`` or ``download=False`` raise :class:`DownloadError` (an
  ``OSError``) within seconds; the loaders turn it into the synthetic fallback with a notice.
* A server that never answers costs at most :func:`helpers.config.download_timeout` (5 s to
  connect, 30 s between reads; ``$BOOK_DOWNLOAD_TIMEOUT`` changes it); the next mirror is tried,
  but not another URL on a host that already timed out or could not be reached.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from helpers.config import data_home, download_timeout, offline
from helpers.errors import DataError

_SPLIT_COMMIT = "07e855758f180ac8bdc0e3abebbde19277094681"
_SPLIT_BASES = [
    f"https://raw.githubusercontent.com/jongpillee/music_dataset_split/{_SPLIT_COMMIT}/GTZAN_split/",
    "https://raw.githubusercontent.com/jongpillee/music_dataset_split/master/GTZAN_split/",
]
SPLIT_HASHES = {
    "train_filtered.txt": "sha256:2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
    "valid_filtered.txt": "sha256:f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
    "test_filtered.txt": "sha256:09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
}

_TIDY = "https://raw.githubusercontent.com/rfordatascience/tidytuesday/{}/data/2020/2020-01-21/spotify_songs.csv"
SPOTIFY_URLS = [_TIDY.format("2c423bacc57e4632ff8550557e0bc823eefa31ab"), _TIDY.format("main"),
                _TIDY.format("master")]
SPOTIFY_HASH = "sha256:9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845"


class DownloadError(OSError):
    """A dataset could not be downloaded (no network, downloads disabled, server error)."""


def ensure_download_allowed(what: str, download: bool) -> None:
    """Raise :class:`DownloadError` when ``download=False`` or ``$BOOK_OFFLINE`` forbids fetching ``what``."""
    if not download:
        raise DownloadError(f"{what} is not in the cache {data_home()} and download=False")
    if offline():
        raise DownloadError(f"{what} is not in the cache {data_home()} and BOOK_OFFLINE is set")


def retrieve(urls: list[str], known_hash: str | None, fname: str, folder: Path) -> Path:
    """Download ``fname`` into ``folder`` from the first URL that answers, checking its hash.

    Explained in chapter *Getting started*.

    Parameters
    ----------
    urls : list of str
        The URL and its mirrors, tried in order.
    known_hash : str or None
        ``'sha256:...'`` / ``'md5:...'``; ``None`` accepts any content (full GTZAN only).
    fname : str
        File name in ``folder``.
    folder : pathlib.Path
        Download folder (created).

    Returns
    -------
    pathlib.Path
        The downloaded (or already present and matching) file.

    Raises
    ------
    DataError
        The file's hash does not match (the bad file is removed).
    DownloadError
        No URL could be reached. A host that timed out or could not be reached is not asked again
        for the remaining URLs (each costs up to :func:`helpers.config.download_timeout`).
    """
    import pooch
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    try:
        import tqdm  # noqa: F401  - pooch draws its progress bar with tqdm

        progressbar = True
    except ImportError:  # pragma: no cover
        progressbar = False
    downloader = pooch.HTTPDownloader(timeout=download_timeout(), progressbar=progressbar)
    logger = pooch.get_logger()
    level = logger.level
    failures, unreachable = [], set()
    for url in urls:
        host = urlparse(url).netloc
        if host in unreachable:
            continue
        try:
            logger.setLevel("WARNING")  # no "Downloading ..." line for attempts that fail at once
            return Path(pooch.retrieve(url, known_hash, fname=fname, path=folder,
                                       downloader=downloader))
        except ValueError as error:  # pooch: hash mismatch; the temporary download is deleted
            if "hash" not in str(error):
                raise
            (folder / fname).unlink(missing_ok=True)
            raise DataError(f"checksum mismatch for {folder / fname} downloaded from {url}: "
                            f"{error} The file was removed.") from None
        except (requests.exceptions.RequestException, OSError) as error:
            failures.append(f"{host}: {_reason(error)}")
            if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
                unreachable.add(host)
        finally:
            logger.setLevel(level)
    raise DownloadError(f"could not download {fname} ({'; '.join(dict.fromkeys(failures))})")


def _reason(error: Exception) -> str:
    """A short reason for a failed request, for the fallback notice."""
    text = str(error)
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "no network: host name not resolved"
    if "timed out" in text.lower() or "Timeout" in type(error).__name__:
        return "no answer: timed out"
    if "Connection refused" in text or "Max retries" in text:
        return "no connection"
    return f"{type(error).__name__}: {text[:120]}"


def atomic_folder(target: Path, build) -> Path:
    """Build a folder with ``build(tmp)`` in a hidden temporary folder, then rename it to ``target``.

    ``target`` counts as complete only with its ``_complete.json``; leftovers of runs killed hard
    (hidden ``.<name>-*`` folders older than six hours) are removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for stale in target.parent.glob(f".{target.name}-*"):
        if stale.is_dir() and now - stale.stat().st_mtime > 6 * 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        if target.exists() and not (target / "_complete.json").is_file():
            shutil.rmtree(target)  # an incomplete folder put there by hand or an old version
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "_complete.json").is_file():  # not a concurrent download that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def extract_archive(archive: Path, destination: Path) -> None:
    """Extract a .zip or .tar(.gz) archive safely (no absolute paths, no ``..``, no links)."""
    destination = destination.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.namelist():
                    if not (destination / member).resolve().is_relative_to(destination):
                        raise DataError(f"archive {archive} holds an unsafe path {member!r}")
                zipped.extractall(destination)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tarred:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12
                    tarred.extractall(destination, filter="data")
                else:  # pragma: no cover - older Pythons
                    for member in tarred.getmembers():
                        if not member.isreg() and not member.isdir() or not (
                                destination / member.name).resolve().is_relative_to(destination):
                            raise DataError(f"archive {archive} holds an unsafe member {member.name!r}")
                    tarred.extractall(destination)
        else:
            raise DataError(f"archive {archive} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise DataError(f"archive {archive} is damaged or truncated: {error}") from None


def cached(path: Path, known_hash: str) -> bool:
    """True if ``path`` exists and matches its hash.

    A cached file that fails its checksum (edited, truncated, an old version) is removed, with a
    printed notice that names it, so that the caller downloads it again.
    """
    if not path.is_file():
        return False
    import pooch

    alg, _, digest = known_hash.partition(":")
    found = pooch.file_hash(str(path), alg=alg)
    if found == digest:
        return True
    path.unlink()
    print(f"NOTICE: the cached file {path} failed its checksum (expected {alg} {digest[:12]}…, found "
          f"{found[:12]}…); it was removed and will be downloaded again.")
    return False


def write_complete_marker(folder: Path, **info) -> None:
    """Write ``_complete.json`` (what :func:`atomic_folder` and the loaders take as "complete")."""
    (folder / "_complete.json").write_text(json.dumps(info, indent=1))


def fetch_filtered_split(download: bool = True) -> Path:
    """Return a folder with the fault-filtered GTZAN split lists, downloading them once.

    Explained in chapter *GTZAN*. The three lists come from ``jongpillee/music_dataset_split``
    (folder ``GTZAN_split``, pinned commit, SHA-256-checked).

    Returns
    -------
    pathlib.Path
        ``data_home()/gtzan_split`` holding ``{train,valid,test}_filtered.txt``.
    """
    folder = data_home() / "gtzan_split"
    missing = [name for name, known in SPLIT_HASHES.items() if not cached(folder / name, known)]
    if not missing:
        return folder
    ensure_download_allowed("the fault-filtered GTZAN split", download)
    for name in missing:  # pooch writes each file atomically
        retrieve([base + name for base in _SPLIT_BASES], SPLIT_HASHES[name], name, folder)
    return folder


def fetch_spotify(download: bool = True) -> Path:
    """Return the path of the TidyTuesday 2020-01-21 ``spotify_songs.csv``, downloading it once.

    Explained in chapter *The Spotify baseline*. Pinned commit URL with branch mirrors, SHA-256-checked.

    Returns
    -------
    pathlib.Path
        ``data_home()/spotify/spotify_songs.csv``.
    """
    folder = data_home() / "spotify"
    path = folder / "spotify_songs.csv"
    if cached(path, SPOTIFY_HASH):
        return path
    ensure_download_allowed("the Spotify songs table", download)
    return retrieve(SPOTIFY_URLS, SPOTIFY_HASH, "spotify_songs.csv", folder)


__all__ = [
    "DownloadError",
    "atomic_folder",
    "cached",
    "ensure_download_allowed",
    "extract_archive",
    "fetch_filtered_split",
    "fetch_spotify",
    "retrieve",
    "write_complete_marker",
]
