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
* Nothing of the user's is deleted. A *cached* file that fails its checksum (edited, converted to
  CRLF line ends, an old version) is named in a printed notice and kept: offline (or with
  ``download=False``) it stays where it is, unused, and the notice says how to use it anyway; online
  it stays in place until a fresh download has verified, and is then kept beside it as
  ``<name>.failed-checksum-<first 12 hex digits of its hash>``.
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
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from helpers.config import data_home, download_timeout, make_folder, offline
from helpers.errors import DataError
from helpers.files import atomic_path, set_aside

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


def download_forbidden(download: bool = True) -> str | None:
    """Why no download may happen now (``'download=False'`` or ``'BOOK_OFFLINE is set'``), or None."""
    if not download:
        return "download=False"
    if offline():
        return "BOOK_OFFLINE is set"
    return None


def ensure_download_allowed(what: str, download: bool) -> None:
    """Raise :class:`DownloadError` when ``download=False`` or ``$BOOK_OFFLINE`` forbids fetching ``what``."""
    reason = download_forbidden(download)
    if reason is not None:
        raise DownloadError(f"{what} has no verified copy in the cache {data_home(create=False)} and {reason}")


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
        The downloaded file's hash does not match: the download is discarded (pooch downloads into
        a temporary file), and a file already at ``folder / fname`` is left as it was.
    DownloadError
        No URL could be reached. A host that timed out or could not be reached is not asked again
        for the remaining URLs (each costs up to :func:`helpers.config.download_timeout`).
    """
    import pooch
    import requests

    make_folder(folder, "the download folder")  # a one-line DataError if it cannot be created
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
            raise DataError(f"checksum mismatch for {folder / fname} downloaded from {url}: "
                            f"{error} The download was discarded.") from None
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

    ``target`` counts as complete only with a valid ``_complete.json`` (:func:`read_complete_marker`);
    a folder there without one (left by hand, or by an older version) is renamed aside
    (:func:`helpers.files.set_aside`, with a printed notice), never deleted. Leftovers of runs
    killed hard (hidden ``.<name>-*`` folders this function created, older than six hours) are removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for stale in target.parent.glob(f".{glob_escape(target.name)}-*"):
        if (re.fullmatch(rf"\.{re.escape(target.name)}-[A-Za-z0-9_]{{8}}", stale.name) and stale.is_dir()
                and not stale.is_symlink() and now - stale.stat().st_mtime > 6 * 3600):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        if (target.exists() or target.is_symlink()) and read_complete_marker(target) is None:
            aside = set_aside(target)  # an incomplete folder put there by hand or an older version
            print(f"NOTICE: {target} was not a complete download; it is kept as {aside} (delete it when "
                  "you no longer need it).")
        try:
            tmp.rename(target)
        except OSError:
            if read_complete_marker(target) is None:  # not a concurrent download that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped, for :meth:`pathlib.Path.glob`."""
    return re.sub(r"([*?[])", r"[\1]", name)


def read_complete_marker(folder: Path) -> dict | None:
    """The ``_complete.json`` record of a verified download in ``folder``, or None if absent or not valid.

    Valid: a JSON object whose ``faults``, if present, is a list of track ids (strings). Anything
    else (not JSON, ``null``, ``{"faults": 5}``, unreadable, not a regular file) counts as absent,
    so the folder is verified again instead of trusted or crashed on.
    """
    marker = Path(folder) / "_complete.json"
    try:
        if not stat.S_ISREG(marker.stat().st_mode):
            return None
        record = json.loads(marker.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    faults = record.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        return None
    return record


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


def cached(path: Path, known_hash: str, download: bool = True, use_anyway: str = "") -> bool:
    """True if ``path`` exists and matches its hash; a file that fails is reported and kept.

    A cached file that fails its checksum (edited, converted to CRLF line ends, truncated, an old
    version) is named in a printed notice with both hashes, and never deleted: with no download
    possible (``download=False``, ``$BOOK_OFFLINE``) it stays in place, unused, and the notice says
    so (and, with ``use_anyway``, how to use it anyway); otherwise the caller downloads a fresh copy
    with :func:`refresh`, which replaces it only once the new one has verified.

    Raises
    ------
    DataError
        If ``path`` exists but is not a regular file (a folder, a FIFO, a device): it is not read
        (reading a FIFO would wait forever) and nothing is downloaded over it.
    """
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as error:
        raise DataError(f"the cached file {path} cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"the cached file {path} is not a regular file ({_kind(info.st_mode)}): remove it "
                        "or put the real file there")
    import pooch

    alg, _, digest = known_hash.partition(":")
    try:
        found = pooch.file_hash(str(path), alg=alg)
    except OSError as error:
        raise DataError(f"the cached file {path} cannot be read ({error.strerror or error})") from None
    if found == digest:
        return True
    reason = download_forbidden(download)
    if reason is None:
        what_next = (f"it stays in place until a fresh download has verified, and is then kept as "
                     f"{_aside_name(path, found).name}.")
    else:
        what_next = f"it is kept as it is and not used ({reason}, so no fresh copy can be downloaded)."
        if use_anyway:
            what_next += f" To use your copy anyway, set {use_anyway}."
    print(f"NOTICE: the cached file {path} failed its checksum (expected {alg} {digest[:12]}…, found "
          f"{found[:12]}…); {what_next}")
    return False


def refresh(urls: list[str], known_hash: str, path: Path) -> Path:
    """Download ``path`` again (see :func:`retrieve`); a copy that failed its checksum is kept aside.

    The old file stays in place until the new download has verified (pooch downloads into a
    temporary file and renames it over ``path`` only then); it is kept as
    ``<name>.failed-checksum-<hash prefix>``, beside it. If the download fails, nothing changes.
    """
    aside = None
    if path.is_file():
        import pooch

        aside = _aside_name(path, pooch.file_hash(str(path), alg=known_hash.partition(":")[0]))
        if aside.exists():
            aside = None  # the same content is already kept aside
        else:
            try:
                os.link(path, aside)  # a second name for the old content: costs no space, no copy
            except OSError:
                shutil.copy2(path, aside)
    try:
        return retrieve(urls, known_hash, path.name, path.parent)
    except BaseException:
        if aside is not None:
            aside.unlink(missing_ok=True)  # the old file is still in place
        raise


def _aside_name(path: Path, digest: str) -> Path:
    """Where :func:`refresh` keeps a cached file that failed its checksum."""
    return path.with_name(f"{path.name}.failed-checksum-{digest[:12]}")


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def write_complete_marker(folder: Path, **info) -> None:
    """Write ``_complete.json`` (what :func:`atomic_folder` and the loaders take as "complete")."""
    with atomic_path(folder / "_complete.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1))


def fetch_filtered_split(download: bool = True) -> Path:
    """Return a folder with the fault-filtered GTZAN split lists, downloading them once.

    Explained in chapter *GTZAN*. The three lists come from ``jongpillee/music_dataset_split``
    (folder ``GTZAN_split``, pinned commit, SHA-256-checked).

    Returns
    -------
    pathlib.Path
        ``data_home()/gtzan_split`` holding ``{train,valid,test}_filtered.txt``.
    """
    folder = data_home(create=False) / "gtzan_split"
    missing = [name for name, known in SPLIT_HASHES.items()
               if not cached(folder / name, known, download, use_anyway=f"GTZAN_SPLIT_DIR={folder}")]
    if not missing:
        return folder
    ensure_download_allowed("the fault-filtered GTZAN split", download)
    data_home()  # created (or a clear DataError) before the first download
    for name in missing:  # pooch writes each file atomically
        refresh([base + name for base in _SPLIT_BASES], SPLIT_HASHES[name], folder / name)
    return folder


def fetch_spotify(download: bool = True) -> Path:
    """Return the path of the TidyTuesday 2020-01-21 ``spotify_songs.csv``, downloading it once.

    Explained in chapter *The Spotify baseline*. Pinned commit URL with branch mirrors, SHA-256-checked.

    Returns
    -------
    pathlib.Path
        ``data_home()/spotify/spotify_songs.csv``.
    """
    path = data_home(create=False) / "spotify" / "spotify_songs.csv"
    if cached(path, SPOTIFY_HASH, download, use_anyway=f"SPOTIFY_CSV={path}"):
        return path
    ensure_download_allowed("the Spotify songs table", download)
    data_home()  # created (or a clear DataError) before the download
    return refresh(SPOTIFY_URLS, SPOTIFY_HASH, path)


__all__ = [
    "DownloadError",
    "atomic_folder",
    "cached",
    "download_forbidden",
    "ensure_download_allowed",
    "extract_archive",
    "fetch_filtered_split",
    "fetch_spotify",
    "read_complete_marker",
    "refresh",
    "retrieve",
    "write_complete_marker",
]
