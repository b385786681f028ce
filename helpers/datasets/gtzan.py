"""GTZAN as a tidy table, in three flavours: ``full``, ``mini`` and ``synthetic``; its download.

Explained in chapters *Getting started* and *GTZAN* (``chapters/04_gtzan.ipynb``).

:func:`fetch_gtzan` downloads an archive with the machinery of :mod:`helpers.datasets.remote`
(pinned URL, checksum, atomic extraction) and verifies its content (:func:`verify_gtzan_content`);
this module imports ``remote``, never the other way round.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import warnings
from pathlib import Path

import pandas as pd

from helpers.audio import check_clip, scan_clips
from helpers.config import GENRES, SAMPLE_RATE, data_home
from helpers.datasets import remote
from helpers.errors import DataError, ParameterError
from helpers.files import atomic_path

FLAVOURS = ("full", "mini", "synthetic")

#: Environment variable naming a local folder for each flavour.
ENV_DIRS = {"full": "GTZAN_FULL_DIR", "mini": "GTZAN_MINI_DIR"}

#: A clip's file name, ``<genre>.000NN.wav`` or ``.au``, matched case-insensitively.
_CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<index>\d{5})\.(?:wav|au)$", re.IGNORECASE)
#: Suffixes of files that look like audio: such a file with another name is reported, not ignored.
_AUDIO_SUFFIXES = {".wav", ".au", ".mp3", ".flac", ".ogg", ".aif", ".aiff", ".snd"}

MINI_URLS = ["https://github.com/TempoBeatDownbeat/gtzan_mini/archive/refs/heads/main.zip"]
#: As recorded by mirdata for this archive.
MINI_HASH = "md5:44f7f23af8363d96c59663a987f29a4c"

FULL_URLS = ["https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"]

#: Clips known to be unreadable in some copies of full GTZAN: recorded, not fatal.
KNOWN_FAULTS = ("jazz.00054",)

#: File at the root of a generated GTZAN-layout tree (``tools/rehearsal.py``) that declares it
#: generated and states its size (``n_per_genre``, ``seconds``), so :func:`verify_gtzan_content` can
#: check such a tree at its declared size. A real download never holds one.
GENERATED_MARKER = "GENERATED.json"

#: What :func:`fetch_gtzan` requires of each flavour's extracted content.
EXPECTED = {
    "mini": {"n_per_genre": 10, "seconds": (29.0, 31.0), "known_faults": ()},
    "full": {"n_per_genre": 100, "seconds": (29.0, 31.0), "known_faults": KNOWN_FAULTS},
}


def default_flavour() -> str:
    """Return the flavour chapters use when none is given.

    ``$GTZAN_FLAVOUR`` if set, else ``mini`` everywhere, Colab included, so that a reader's numbers
    match the book's stored outputs (which are all computed on mini). Full GTZAN is the one switch
    ``GTZAN_FLAVOUR=full`` (1000 clips, about 1.2 GB to download).

    Raises
    ------
    ParameterError
        If ``$GTZAN_FLAVOUR`` names no flavour in :data:`FLAVOURS`.
    """
    flavour = os.environ.get("GTZAN_FLAVOUR", "").strip().lower()
    if flavour:
        if flavour not in FLAVOURS:
            raise ParameterError(f"GTZAN_FLAVOUR={flavour!r} is not one of {FLAVOURS}")
        return flavour
    return "mini"


def find_genre_root(root: str | os.PathLike, warn: bool = True) -> Path:
    """Return the folder that holds the ten genre folders below ``root``.

    Accepts both common layouts: ``genres/<genre>/<genre>.000NN.au|wav`` (the original archive,
    Hugging Face ``marsyas/gtzan``, mirdata's mini subset) and Kaggle's
    ``Data/genres_original/<genre>/...``; ``root`` may also be the genre folder's parent itself.
    Where several of these hold genre folders (``genres/`` and ``Data/genres_original/`` both),
    the first in that order is used and, with ``warn``, a warning names it and the others.

    Raises
    ------
    DataError
        If ``root`` does not exist or no folder below it holds GTZAN genre folders.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"GTZAN folder {shown(root)} does not exist or is not a folder")
    candidates = [root, root / "genres", root / "genres_original", root / "Data" / "genres_original"]
    try:
        candidates += sorted(p for p in root.glob("*/genres") if p.is_dir())
        candidates += sorted(p for p in root.glob("*/genres_original") if p.is_dir())
    except OSError as error:
        raise DataError(f"GTZAN folder {shown(root)} cannot be read ({error.strerror or error})") from None
    found = []
    for candidate in candidates:
        if any((candidate / g).is_dir() for g in GENRES) and all(
                candidate.resolve() != other.resolve() for other in found):
            found.append(candidate)
    if not found:
        raise DataError(
            f"no GTZAN genre folders (blues/, classical/, ...) found in {shown(root)} "
            "or its genres/ or genres_original/ subfolder"
        )
    if warn and len(found) > 1:
        warnings.warn(f"several folders below {shown(root)} hold GTZAN genre folders: using "
                      f"{shown(found[0])}, not " + ", ".join(shown(f) for f in found[1:]),
                      UserWarning, stacklevel=3)
    return found[0]


def shown(name) -> str:
    """A file name as text that can always be printed: bytes that are not UTF-8 as ``\\xNN`` escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _not_a_file(path: Path) -> str:
    """What a directory entry that is not a readable regular file is, in words."""
    try:
        if path.is_symlink():
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                return "a dangling symbolic link"
            except OSError as error:
                if error.errno == errno.ELOOP:
                    return "a symbolic link loop"
                return f"a symbolic link that cannot be followed ({error.strerror})"
            prefix = "a symbolic link to "
        else:
            mode = path.lstat().st_mode
            prefix = ""
    except OSError as error:
        return f"cannot be inspected ({error.strerror or error})"
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    return prefix + (kind[2:] if prefix and kind.startswith("a ") else kind)


def gtzan_table(root: str | os.PathLike, genres: tuple[str, ...] = GENRES,  # noqa: C901 (issue 27: split when next touched)
                skip_unreadable: bool = False) -> pd.DataFrame:
    """List the clips of a GTZAN folder as a tidy table.

    Explained in chapter *GTZAN*.

    Parameters
    ----------
    root : path
        A GTZAN folder in either layout (see :func:`find_genre_root`).
    genres : tuple of str
        The genre folders that must exist.
    skip_unreadable : bool
        Check every clip's header (:func:`helpers.audio.scan_clips`, milliseconds per clip) and
        drop the clips that cannot be opened or are empty or truncated, with a warning that names
        them and counts them. Clips recorded as known faults by the downloader (``_complete.json``,
        e.g. ``jazz.00054`` of full GTZAN) are always dropped, with the same warning.

    Returns
    -------
    pandas.DataFrame
        One row per clip, sorted by genre and index, with columns ``path`` (str), ``genre``,
        ``label`` (int, position in :data:`helpers.config.GENRES`), ``track_id``
        (``"blues.00042"``) and ``index`` (the clip number; clips of one artist are contiguous
        in GTZAN, so ``index`` is the proxy for artist blocks). macOS ``._*`` files and other
        non-clip files are ignored. ``attrs['root']`` is the genre folder and
        ``attrs['skipped']`` lists the dropped clips as ``'track_id: problem'``;
        ``attrs['ignored']`` and ``attrs['not_files']`` the entries named in warnings (see Notes).

    Notes
    -----
    Clip names are matched case-insensitively (``Blues.00001.WAV`` is ``blues.00001``): the
    name is unambiguous. Files that look like audio but are named otherwise (``blues_00001.wav``,
    ``song.mp3``) are not clips of the table: a warning names them (``attrs['ignored']``).
    Entries named like clips (or like audio) that are not readable regular files — dangling
    symbolic links, symbolic link loops, FIFOs, devices, folders — are not clips either: a warning
    names each and says what it is (``attrs['not_files']``). Hidden files (``.DS_Store``, macOS
    ``._*``) are ignored silently. File names whose bytes are not UTF-8 are shown with ``\\xNN``
    escapes; a GTZAN folder whose own path is not UTF-8 is refused with a :class:`DataError`
    (its clip paths could not be stored as text).

    Raises
    ------
    DataError
        If a genre folder is missing or empty, a clip lies in another genre's folder, or two files
        are the same clip (``blues.00001.wav`` and ``blues.00001.au``): naming the files.
    """
    genre_root = find_genre_root(root)
    if shown(genre_root) != str(genre_root):
        raise DataError(f"GTZAN folder {shown(genre_root)} has a name that is not valid UTF-8 text (the "
                        "\\x escapes above): rename it, or copy the clips to a folder with a UTF-8 name")
    rows, ignored, not_files = [], [], []
    for label, genre in enumerate(genres):
        folder = genre_root / genre
        if not folder.is_dir():
            raise DataError(f"GTZAN genre folder {folder} is missing")
        try:
            entries = sorted(folder.iterdir())
        except OSError as error:
            raise DataError(f"GTZAN genre folder {folder} cannot be read ({error.strerror or error})") from None
        clips = {}
        for path in entries:
            if path.name.startswith("."):
                continue
            match = _CLIP_NAME.match(path.name)
            if not _is_regular_file(path):
                if match is not None or path.suffix.lower() in _AUDIO_SUFFIXES:
                    not_files.append(f"{genre}/{shown(path.name)} ({_not_a_file(path)})")
                continue
            if match is None:
                if path.suffix.lower() in _AUDIO_SUFFIXES:
                    ignored.append(f"{genre}/{shown(path.name)}")
                continue
            if match["genre"].lower() != genre:
                raise DataError(f"{path} is named as genre {match['genre']!r} but lies in {folder}")
            index = int(match["index"])
            if index in clips:
                raise DataError(f"{clips[index]} and {path} are both clip {genre}.{index:05d}: "
                                "keep only one of them")
            clips[index] = path
        if not clips:
            raise DataError(f"GTZAN genre folder {folder} holds no clips named {genre}.000NN.wav/.au")
        for index, path in sorted(clips.items()):
            rows.append(
                {
                    "path": str(path),
                    "genre": genre,
                    "label": label,
                    "track_id": f"{genre}.{index:05d}",
                    "index": index,
                }
            )
    table = pd.DataFrame(rows)
    skipped = []
    faults = _recorded_faults(Path(root).expanduser(), genre_root)
    if faults:
        drop = table["track_id"].isin(faults)
        skipped += [f"{t}: recorded as unreadable when the dataset was verified" for t in table.loc[drop, "track_id"]]
        table = table[~drop].reset_index(drop=True)
    if ignored:
        warnings.warn(f"ignored {len(ignored)} file(s) in {genre_root} not named <genre>.000NN.wav/.au: "
                      + ", ".join(ignored), UserWarning, stacklevel=2)
    if not_files:
        warnings.warn(f"ignored {len(not_files)} entr{'y' if len(not_files) == 1 else 'ies'} in {genre_root} "
                      "named like clips that are not readable files: " + ", ".join(not_files),
                      UserWarning, stacklevel=2)
    if skip_unreadable:
        report = scan_clips(table, expect_sr=None, expect_mono=None)
        unreadable = report["sr"].isna() | report["problem"].str.contains("truncated|no audio samples")
        skipped += [f"{t}: {p}" for t, p in zip(report.loc[unreadable, "track_id"],
                                                report.loc[unreadable, "problem"], strict=True)]
        table = table[~unreadable.to_numpy()].reset_index(drop=True)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable GTZAN clip(s) in {genre_root}: "
                      + "; ".join(skipped), UserWarning, stacklevel=2)
    table.attrs["root"] = str(genre_root)
    table.attrs["skipped"] = skipped
    table.attrs["ignored"] = ignored
    table.attrs["not_files"] = not_files
    return table


def spread_over_genres(table: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """At most ``limit`` clips of a clip table, spread evenly over the genres (the first clips of each).

    The benchmarks' quick runs (``--limit N``; chapter *From audio to features*). ``None`` or a
    limit of at least the table's length keeps the whole table; ``attrs`` (the flavour) are kept.
    """
    if limit is None or limit >= len(table):
        return table
    per_genre = max(1, limit // table["genre"].nunique())
    picked = table.groupby("genre", sort=False).head(per_genre).head(limit)
    picked.attrs.update(table.attrs)
    return picked


def _is_regular_file(path: Path) -> bool:
    """True for a regular file or a link to one (False for folders, FIFOs, devices, broken or looping links)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _recorded_faults(*folders: Path) -> list[str]:
    """Track ids recorded as faults in a downloader's ``_complete.json`` (in or above the genre folder).

    A ``_complete.json`` that is not a valid record (not JSON, ``null``, ``{"faults": 5}``) is
    treated as absent, with a warning naming it.
    """
    for folder in folders:
        for candidate in (folder, folder.parent, folder.parent.parent):
            marker = candidate / "_complete.json"
            if marker.is_file():
                record = remote.read_complete_marker(candidate)
                if record is None:
                    warnings.warn(f"{marker} is not a valid record of a verified download; ignored",
                                  UserWarning, stacklevel=3)
                    return []
                return list(record.get("faults", []))
    return []


def load_gtzan(
    flavour: str | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
    fallback: bool = True,
    skip_unreadable: bool = True,
) -> pd.DataFrame:
    """Resolve a GTZAN flavour to a folder and return its table (see :func:`gtzan_table`).

    Explained in chapter *Getting started*.

    Resolution: ``path`` → ``$GTZAN_FULL_DIR`` / ``$GTZAN_MINI_DIR`` → the cache under
    :func:`helpers.config.data_home` → a download (pooch, pinned URL; see
    :mod:`helpers.datasets.remote`) → with ``fallback``, the synthetic flavour, announced with a
    printed notice so that nobody mistakes its numbers for real ones.

    Parameters
    ----------
    flavour : {'full', 'mini', 'synthetic'}, optional
        Default: :func:`default_flavour`.
    path : path, optional
        A local GTZAN folder to use as this flavour.
    download : bool
        Allow a download when nothing local is found (``$BOOK_OFFLINE=1`` forbids it too).
    fallback : bool
        Fall back to synthetic data when the flavour cannot be had; otherwise raise.
    skip_unreadable : bool
        Drop clips that cannot be read, with a warning naming them (see :func:`gtzan_table`).

    Returns
    -------
    pandas.DataFrame
        The clip table; ``table.attrs['flavour']`` says which flavour it really is.
    """
    flavour = (flavour or default_flavour()).lower()
    if flavour not in FLAVOURS:
        raise ParameterError(f"unknown GTZAN flavour {flavour!r}; choose one of {FLAVOURS}")

    if flavour == "synthetic":
        from helpers import synth

        root = synth.synthetic_gtzan_dir()
        table = gtzan_table(root, skip_unreadable=skip_unreadable)
        table.attrs["flavour"] = "synthetic"
        return table

    local = path or os.environ.get(ENV_DIRS[flavour])
    if local:
        table = gtzan_table(local, skip_unreadable=skip_unreadable)
        table.attrs["flavour"] = flavour
        return table

    try:
        root = fetch_gtzan(flavour, download=download)
    except (OSError, DataError) as error:
        if not fallback:
            raise
        print(
            f"NOTICE: GTZAN '{flavour}' is not available ({error}).\n"
            "        Using SYNTHETIC GTZAN-layout clips instead: every number below is on synthetic "
            "data, not on real music."
        )
        return load_gtzan("synthetic", skip_unreadable=skip_unreadable)  # a one-line DataError at worst
    table = gtzan_table(root, skip_unreadable=skip_unreadable)
    table.attrs["flavour"] = flavour
    return table


def generated_marker(root: str | os.PathLike) -> dict | None:
    """Read the :data:`GENERATED_MARKER` of a generated GTZAN-layout tree; None for any other folder.

    Written by ``tools/rehearsal.py`` (the full-scale rehearsal). The marker lies in ``root`` or
    beside the genre folders' parent folder (``genres/``).

    Raises
    ------
    DataError
        If a marker exists but is not ``{"generated": true, "n_per_genre": int >= 1,
        "seconds": number > 0, ...}``, or if the folder is (or lies in) a download location:
        ``_complete.json`` beside the marker, or ``data_home()/gtzan_full`` / ``gtzan_mini``. A
        marker there is never trusted, so it cannot relax the check of a real download.
    """
    root = Path(root).expanduser()
    folders = [root]
    try:
        folders.append(find_genre_root(root, warn=False).parent)
    except DataError:
        pass
    marker = next((f / GENERATED_MARKER for f in folders if (f / GENERATED_MARKER).is_file()), None)
    if marker is None:
        return None
    downloads = [data_home(create=False) / f"gtzan_{flavour}" for flavour in ("full", "mini")]
    resolved = marker.parent.resolve()
    if any((f / "_complete.json").is_file() for f in {marker.parent, *folders}) or any(
            resolved == d.resolve() or d.resolve() in resolved.parents for d in downloads):
        raise DataError(f"{marker} declares a generated tree, but {marker.parent} is a GTZAN download "
                        "location: a download is never generated; remove the marker or re-download")
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{marker} is not readable JSON ({error})") from error
    valid = (isinstance(info, dict) and info.get("generated") is True
             and isinstance(info.get("n_per_genre"), int) and not isinstance(info["n_per_genre"], bool)
             and info["n_per_genre"] >= 1 and isinstance(info.get("seconds"), (int, float))
             and info["seconds"] > 0)
    if not valid:
        raise DataError(f"{marker} must hold generated: true, n_per_genre (int >= 1) and seconds (> 0)")
    return info


def verify_gtzan_content(root: str | os.PathLike, n_per_genre: int | None = None, sr: int = SAMPLE_RATE,
                         seconds: tuple[float, float] | None = None,
                         known_faults: tuple[str, ...] = KNOWN_FAULTS, allow_generated: bool = True) -> dict:
    """Check that a folder holds a complete GTZAN: every genre, every clip, readable, 22050 Hz mono, ~30 s.

    Explained in chapter *GTZAN*. Reads only the headers (about a second for 1000 clips).

    Parameters
    ----------
    root : path
        A GTZAN folder in either layout; macOS ``._*`` files are ignored.
    n_per_genre : int, optional
        Clips each genre must have. Default: 100 (full GTZAN), or the ``n_per_genre`` a generated
        tree declares in its :data:`GENERATED_MARKER` (see :func:`generated_marker`). Given
        explicitly, it wins over any marker.
    sr : int
        Required sample rate in Hz.
    seconds : (float, float), optional
        Allowed clip length in seconds. Default: (29, 31), or the generated tree's ``seconds`` ± 1.
    known_faults : tuple of str
        Track ids that may be unreadable without failing the check (recorded as faults).
    allow_generated : bool
        With False (:func:`fetch_gtzan`'s downloads) a folder holding a generation marker fails.

    Returns
    -------
    dict
        ``{'clips': int, 'faults': [track ids of unreadable known-fault clips]}``.

    Raises
    ------
    DataError
        Listing every problem (missing genre folder, wrong clip count, unreadable clip, wrong
        rate, stereo, wrong length), each naming the file; or a marker where none may be.
    """
    marker = generated_marker(root)
    if marker is not None and not allow_generated:
        raise DataError(f"{root} holds {GENERATED_MARKER}: a generated tree, not a GTZAN download")
    if n_per_genre is None:
        n_per_genre = marker["n_per_genre"] if marker else EXPECTED["full"]["n_per_genre"]
    if seconds is None:
        seconds = ((max(0.0, marker["seconds"] - 1.0), marker["seconds"] + 1.0) if marker
                   else EXPECTED["full"]["seconds"])
    if n_per_genre < 1 or not 0 <= seconds[0] <= seconds[1]:
        raise ParameterError(f"need n_per_genre >= 1 and 0 <= seconds[0] <= seconds[1], got {n_per_genre}, {seconds}")
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
        ``data_home()/gtzan_<flavour>``, usable with :func:`gtzan_table`.
        It holds ``_complete.json`` (source, hash, known faults). A damaged record (not JSON,
        ``null``, ``{"faults": 5}``) counts as absent: the folder is verified again and the record
        rewritten if it passes; a folder that fails is set aside before a new download, never deleted.

    Raises
    ------
    DownloadError
        Not cached and no download possible (no network, ``download=False``, ``BOOK_OFFLINE``).
    DataError
        Checksum mismatch, damaged archive, or content that fails verification.
    """
    if flavour not in ("mini", "full"):
        raise ParameterError(f"GTZAN flavour {flavour!r} cannot be downloaded; choose 'mini' or 'full'")
    target = data_home(create=False) / f"gtzan_{flavour}"
    if remote.read_complete_marker(target) is not None:
        return target
    if _reverified(target, flavour):
        return target
    remote.ensure_download_allowed(f"GTZAN '{flavour}'", download)
    home = data_home()  # created now, or a one-line DataError
    downloads = home / "downloads"

    if flavour == "mini":
        archive = remote.retrieve(MINI_URLS, MINI_HASH, "gtzan_mini.zip", downloads)
        known_hash = MINI_HASH
    else:
        recorded = _recorded_full_hash(home / "gtzan_full.sha256.json")
        archive = remote.retrieve(FULL_URLS, f"sha256:{recorded}" if recorded else None,
                           "gtzan_genres.tar.gz", downloads)
        known_hash = recorded

    def build(tmp: Path) -> None:
        remote.extract_archive(archive, tmp)
        report = verify_gtzan_content(tmp, **EXPECTED[flavour], allow_generated=False)
        sha256 = known_hash
        if flavour == "full" and known_hash is None:
            import pooch

            sha256 = pooch.file_hash(str(archive), alg="sha256")
        remote.write_complete_marker(tmp, flavour=flavour, source=(MINI_URLS if flavour == "mini" else FULL_URLS)[0],
                         archive_hash=sha256, clips=report["clips"], faults=report["faults"])
        if flavour == "full" and known_hash is None:
            with atomic_path(home / "gtzan_full.sha256.json") as record_tmp:
                record_tmp.write_text(json.dumps({"file": FULL_URLS[0], "sha256": sha256}, indent=1))

    try:
        remote.atomic_folder(target, build)
    except DataError:
        archive.unlink(missing_ok=True)  # a bad archive must not be reused next time
        raise
    archive.unlink(missing_ok=True)  # the verified folder is what we keep
    return target


def _reverified(target: Path, flavour: str) -> bool:
    """True if ``target`` has a damaged ``_complete.json`` but its content verifies (the record is rewritten).

    A ``_complete.json`` that is not JSON, ``null`` or ``{"faults": 5}`` is treated as absent: the
    folder's content is verified again (clip headers only, about a second for 1000 clips) and, if
    it passes, a fresh record is written (where the folder is writable). A folder that fails is
    left as it is, for :func:`fetch_gtzan` to download again (the folder is then set aside, not
    deleted).
    """
    marker = target / "_complete.json"
    if not (marker.exists() or marker.is_symlink()):
        return False
    try:
        with warnings.catch_warnings():  # the damaged record is what is being replaced
            warnings.filterwarnings("ignore", message=".*is not a valid record of a verified download")
            report = verify_gtzan_content(target, **EXPECTED[flavour], allow_generated=False)
    except DataError as error:
        print(f"NOTICE: {marker} is not a valid record and {target} fails verification "
              f"({str(error).splitlines()[0]}).")
        return False
    try:
        with atomic_path(marker) as tmp:
            tmp.write_text(json.dumps({"flavour": flavour, "source": "re-verified local folder",
                                       "archive_hash": None, "clips": report["clips"],
                                       "faults": report["faults"]}, indent=1))
    except OSError as error:
        warnings.warn(f"{marker} is not a valid record; {target} verified again, but the record cannot be "
                      f"rewritten ({error.strerror or error})", UserWarning, stacklevel=3)
    return True


def _recorded_full_hash(record: Path) -> str | None:
    """The SHA-256 of full GTZAN's archive recorded on first download, or None if none was recorded.

    Raises
    ------
    DataError
        If the record exists but is damaged: a pinned hash is never silently dropped.
    """
    if not record.is_file():
        return None
    try:
        info = json.loads(record.read_text())
        digest = info["sha256"]
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise DataError(f"{record} is damaged ({type(error).__name__}: {error}); delete it to accept the "
                        "hash of the next download of full GTZAN") from None
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise DataError(f"{record} does not hold a SHA-256 (64 hex digits); delete it to accept the hash "
                        "of the next download of full GTZAN")
    return digest
