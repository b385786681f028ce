"""Downloads of the book's data with pooch: pinned URLs, checksums, atomic extraction.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``). The loaders in
:mod:`helpers.datasets` call these functions lazily, only when no local copy is given or cached.

Guarantees
----------
* Every file is checked against a pinned hash (MD5 of mirdata's mini-GTZAN archive, SHA-256 of
  the split lists and of the Spotify table). A mismatch raises :class:`DataError` naming the file
  and both hashes; pooch downloads into a temporary file and deletes it, so nothing bad stays.
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
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from helpers.config import data_home, offline
from helpers.errors import DataError

#: Seconds to wait for a server to answer (connect, read); keeps "no network" fast.
TIMEOUT = (10, 60)

MINI_URLS = ["https://github.com/TempoBeatDownbeat/gtzan_mini/archive/refs/heads/main.zip"]
#: As recorded by mirdata for this archive.
MINI_HASH = "md5:44f7f23af8363d96c59663a987f29a4c"

FULL_URLS = ["https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"]

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

#: Clips known to be unreadable in some copies of full GTZAN: recorded, not fatal.
KNOWN_FAULTS = ("jazz.00054",)

#: What :func:`fetch_gtzan` requires of each flavour's extracted content.
EXPECTED = {
    "mini": {"n_per_genre": 10, "seconds": (29.0, 31.0), "known_faults": ()},
    "full": {"n_per_genre": 100, "seconds": (29.0, 31.0), "known_faults": KNOWN_FAULTS},
}


class DownloadError(OSError):
    """A dataset could not be downloaded (no network, downloads disabled, server error)."""


def _ensure_allowed(what: str, download: bool) -> None:
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
        No URL could be reached.
    """
    import pooch
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    try:
        import tqdm  # noqa: F401  - pooch draws its progress bar with tqdm

        progressbar = True
    except ImportError:  # pragma: no cover
        progressbar = False
    downloader = pooch.HTTPDownloader(timeout=TIMEOUT, progressbar=progressbar)
    logger = pooch.get_logger()
    level = logger.level
    failures = []
    for url in urls:
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
            failures.append(f"{urlparse(url).netloc}: {_reason(error)}")
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


def _atomic_folder(target: Path, build) -> Path:
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


def verify_gtzan_content(root: str | os.PathLike, n_per_genre: int = 100, sr: int = 22050,
                         seconds: tuple[float, float] = (29.0, 31.0),
                         known_faults: tuple[str, ...] = KNOWN_FAULTS) -> dict:
    """Check that a folder holds a complete GTZAN: every genre, every clip, readable, 22050 Hz mono, ~30 s.

    Explained in chapter *GTZAN*. Reads only the headers (about a second for 1000 clips).

    Parameters
    ----------
    root : path
        A GTZAN folder in either layout; macOS ``._*`` files are ignored.
    n_per_genre : int
        Clips each genre must have (100 for full GTZAN).
    sr : int
        Required sample rate in Hz.
    seconds : (float, float)
        Allowed clip length in seconds.
    known_faults : tuple of str
        Track ids that may be unreadable without failing the check (recorded as faults).

    Returns
    -------
    dict
        ``{'clips': int, 'faults': [track ids of unreadable known-fault clips]}``.

    Raises
    ------
    DataError
        Listing every problem (missing genre folder, wrong clip count, unreadable clip, wrong
        rate, stereo, wrong length), each naming the file.
    """
    from helpers.audio import check_clip
    from helpers.datasets.gtzan import gtzan_table

    table = gtzan_table(root)
    problems, faults = [], []
    for genre, count in table.groupby("genre")["track_id"].count().items():
        if count != n_per_genre:
            problems.append(f"genre folder {genre}/ holds {count} clips, expected {n_per_genre}")
    for track_id, path in zip(table["track_id"], table["path"], strict=True):
        report = check_clip(path, expect_sr=sr, expect_mono=True)
        if report["sr"] is None and track_id in known_faults:
            faults.append(track_id)
            continue
        if not report["ok"]:
            problems.append(f"{path} {report['problem']}")
        elif not seconds[0] <= report["seconds"] <= seconds[1]:
            problems.append(f"{path} is {report['seconds']:.2f} s long, expected {seconds[0]:g}–{seconds[1]:g} s")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise DataError(f"GTZAN folder {root} failed verification ({len(problems)} problem(s)):\n  "
                        + "\n  ".join(shown))
    return {"clips": int(len(table)), "faults": faults}


def _cached(path: Path, known_hash: str) -> bool:
    """True if ``path`` exists and matches its hash; a mismatching file is removed."""
    if not path.is_file():
        return False
    import pooch

    alg, _, digest = known_hash.partition(":")
    if pooch.file_hash(str(path), alg=alg) == digest:
        return True
    path.unlink()
    return False


def _complete_marker(folder: Path, **info) -> None:
    (folder / "_complete.json").write_text(json.dumps(info, indent=1))


def fetch_gtzan(flavour: str, download: bool = True) -> Path:
    """Return a local folder holding GTZAN ``'mini'`` or ``'full'``, downloading it once.

    Explained in chapter *Getting started*.

    Parameters
    ----------
    flavour : {'mini', 'full'}
        ``mini``: mirdata's 100-clip subset (GitHub archive of ``TempoBeatDownbeat/gtzan_mini``,
        MD5-checked, ~130 MB). ``full``: the 1000 clips of Hugging Face ``marsyas/gtzan``
        (``data/genres.tar.gz``, ~1.2 GB; content-verified, SHA-256 recorded on first download).
    download : bool
        Allow a download when the folder is not cached yet.

    Returns
    -------
    pathlib.Path
        ``data_home()/gtzan_<flavour>``, usable with :func:`helpers.datasets.gtzan_table`.
        It holds ``_complete.json`` (source, hash, known faults).

    Raises
    ------
    DownloadError
        Not cached and no download possible (no network, ``download=False``, ``BOOK_OFFLINE``).
    DataError
        Checksum mismatch, damaged archive, or content that fails verification.
    """
    if flavour not in ("mini", "full"):
        raise DataError(f"GTZAN flavour {flavour!r} cannot be downloaded; choose 'mini' or 'full'")
    home = data_home()
    target = home / f"gtzan_{flavour}"
    if (target / "_complete.json").is_file():
        return target
    _ensure_allowed(f"GTZAN '{flavour}'", download)
    downloads = home / "downloads"

    if flavour == "mini":
        archive = retrieve(MINI_URLS, MINI_HASH, "gtzan_mini.zip", downloads)
        known_hash = MINI_HASH
    else:
        record = home / "gtzan_full.sha256.json"
        recorded = json.loads(record.read_text())["sha256"] if record.is_file() else None
        archive = retrieve(FULL_URLS, f"sha256:{recorded}" if recorded else None,
                           "gtzan_genres.tar.gz", downloads)
        known_hash = recorded

    def build(tmp: Path) -> None:
        extract_archive(archive, tmp)
        report = verify_gtzan_content(tmp, **EXPECTED[flavour])
        sha256 = known_hash
        if flavour == "full" and known_hash is None:
            import pooch

            sha256 = pooch.file_hash(str(archive), alg="sha256")
        _complete_marker(tmp, flavour=flavour, source=(MINI_URLS if flavour == "mini" else FULL_URLS)[0],
                         archive_hash=sha256, clips=report["clips"], faults=report["faults"])
        if flavour == "full" and known_hash is None:
            record_tmp = home / "gtzan_full.sha256.json.part"
            record_tmp.write_text(json.dumps({"file": FULL_URLS[0], "sha256": sha256}, indent=1))
            record_tmp.replace(home / "gtzan_full.sha256.json")

    try:
        _atomic_folder(target, build)
    except DataError:
        archive.unlink(missing_ok=True)  # a bad archive must not be reused next time
        raise
    archive.unlink(missing_ok=True)  # the verified folder is what we keep
    return target


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
    missing = [name for name, known in SPLIT_HASHES.items() if not _cached(folder / name, known)]
    if not missing:
        return folder
    _ensure_allowed("the fault-filtered GTZAN split", download)
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
    if _cached(path, SPOTIFY_HASH):
        return path
    _ensure_allowed("the Spotify songs table", download)
    return retrieve(SPOTIFY_URLS, SPOTIFY_HASH, "spotify_songs.csv", folder)


__all__ = [
    "DownloadError",
    "extract_archive",
    "fetch_filtered_split",
    "fetch_gtzan",
    "fetch_spotify",
    "retrieve",
    "verify_gtzan_content",
]
