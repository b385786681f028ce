"""Reproducible release wheels and the SHA-256 the setup cell checks.

Usage::

    python -m tools.release build [--ref HEAD] [--out dist]   # build the wheel, print its SHA-256
    python -m tools.release record dist/<wheel>              # write its name and SHA-256 to tools/release.json
    python -m tools.release check [--ref HEAD]               # rebuild; exit 1 unless it is the recorded wheel

The setup cell of every chapter (``tools/setup_cell.py``) installs the release wheel in pip's
hash-checking mode, so the hash must be known *before* the file is uploaded, and a rebuild of the
same source must give the same file, byte for byte. Three things make a setuptools wheel differ
between two builds of the same source, and :func:`build_wheel` fixes each:

- **timestamps**: every zip entry gets the same date (:data:`SOURCE_DATE_EPOCH`, 1980-01-01, the
  earliest a zip can store; also passed to the build as ``SOURCE_DATE_EPOCH``);
- **permissions**: every entry is a regular file with mode 0644 (the modes on disk depend on the
  umask and the checkout);
- **contents**: the build starts from an export of the tracked files only (``git archive`` of a
  commit, or the tracked files of the working tree), never from a folder with stale ``build/``
  files or untracked modules, with the build backend pinned exactly in ``pyproject.toml``.

Entries keep the order the build backend wrote (sorted paths, ``RECORD`` last). Compressed bytes
depend on zlib; every mainstream zlib gives the same output at the same level.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The committed record of the release wheel: version, file name and SHA-256.
RECORD_FILE = Path(__file__).resolve().with_name("release.json")
#: Seconds since 1970 given to every entry of the wheel: 1980-01-01 00:00:00 UTC.
SOURCE_DATE_EPOCH = 315532800
_ZIP_DATE = time.gmtime(SOURCE_DATE_EPOCH)[:6]
_FILE_MODE = (stat.S_IFREG | 0o644) << 16


def project() -> dict:
    """``pyproject.toml``'s ``[project]`` table."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file, as hex (what pip's ``--hash=sha256:`` takes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_source(dest: Path, ref: str | None = None, repo: Path = REPO) -> Path:
    """Copy the tracked files of ``repo`` into ``dest``, with normalised modes and times.

    ``ref`` (a commit, e.g. ``"HEAD"``) exports that commit (``git archive``); None exports the
    tracked files as they are in the working tree (uncommitted edits included, untracked files not).
    """
    dest.mkdir(parents=True, exist_ok=True)
    if ref is not None:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    else:
        listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"],
                                capture_output=True, check=True).stdout.decode()
        for name in filter(None, listed.split("\0")):
            source = repo / name
            if source.is_file():  # tracked but deleted in the working tree: left out
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest / name)
    for root, dirs, files in os.walk(dest):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            os.chmod(path, 0o644)
            os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
    return dest


def normalise_wheel(path: Path) -> None:
    """Rewrite a wheel in place with one date and mode 0644 for every entry, in the same order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_DATE)
            info.external_attr = _FILE_MODE
            info.create_system = 3  # Unix, so the mode is read back
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(entry), compresslevel=9)
    path.write_bytes(buffer.getvalue())


def build_wheel(out_dir: str | Path, ref: str | None = None, repo: Path = REPO,
                python: str = sys.executable, source: Path | None = None) -> Path:
    """Build the package's wheel reproducibly into ``out_dir`` and return its path.

    The source is :func:`export_source` of ``repo`` (``ref``: a commit, or None for the working
    tree's tracked files), or ``source``, a folder that :func:`export_source` made; pip builds a
    copy of it in an isolated environment with the build backend that ``pyproject.toml`` pins
    (fetched from the package registry or pip's cache), with ``SOURCE_DATE_EPOCH`` set and umask
    022; :func:`normalise_wheel` then fixes dates and modes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="genre-book-release-") as tmp:
        if source is None:
            source = export_source(Path(tmp) / "src", ref=ref, repo=repo)
        else:
            source = Path(shutil.copytree(source, Path(tmp) / "src"))
        built = Path(tmp) / "dist"
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH), "PYTHONHASHSEED": "0"}
        old_umask = os.umask(0o022)
        try:
            run = subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                  "--wheel-dir", str(built), str(source)],
                                 capture_output=True, text=True, env=env)
        finally:
            os.umask(old_umask)
        if run.returncode != 0:
            raise RuntimeError(f"building the wheel failed:\n{run.stdout}{run.stderr}")
        (wheel,) = built.glob("*.whl")
        normalise_wheel(wheel)
        target = out_dir / wheel.name
        shutil.copyfile(wheel, target)
    return target


def read_record(path: Path = RECORD_FILE) -> dict:
    """The recorded release: ``{"version", "wheel", "sha256"}``."""
    return json.loads(path.read_text())


def write_record(wheel: str | Path, path: Path = RECORD_FILE) -> dict:
    """Record ``wheel``'s file name and SHA-256 as the release the setup cell installs."""
    wheel = Path(wheel)
    version = project()["version"]
    expected = f"genre_book_helpers-{version}-py3-none-any.whl"
    if wheel.name != expected:
        raise SystemExit(f"{wheel.name} is not the wheel of version {version} ({expected})")
    record = {"version": version, "wheel": wheel.name, "sha256": sha256(wheel)}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def check(ref: str | None = "HEAD", record: Path = RECORD_FILE) -> str | None:
    """Rebuild ``ref`` and compare with the recorded release; return what differs, or None."""
    recorded = read_record(record)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(tmp, ref=ref)
        digest = sha256(wheel)
    if (wheel.name, digest) == (recorded["wheel"], recorded["sha256"]):
        return None
    return (f"the rebuilt {wheel.name} (sha256 {digest}) is not the recorded {recorded['wheel']} "
            f"(sha256 {recorded['sha256']}): record the new wheel (python -m tools.release record) "
            "and regenerate the setup cells (make setup-cells), or build the released commit")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m tools.release``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ref_help = "commit to build (default HEAD); 'worktree': the tracked files as they are now"
    command = commands.add_parser("build", help="build the wheel reproducibly and print its SHA-256")
    command.add_argument("--ref", default="HEAD", help=ref_help)
    command.add_argument("--out", default="dist", type=Path)
    command = commands.add_parser("record", help="write a wheel's name and SHA-256 to tools/release.json")
    command.add_argument("wheel", type=Path)
    command = commands.add_parser("check", help="rebuild and compare with tools/release.json")
    command.add_argument("--ref", default="HEAD", help=ref_help)
    args = parser.parse_args(argv)
    ref = None if getattr(args, "ref", None) == "worktree" else getattr(args, "ref", None)
    if args.command == "build":
        wheel = build_wheel(args.out, ref=ref)
        print(f"{wheel}\nsha256:{sha256(wheel)}")
    elif args.command == "record":
        print(json.dumps(write_record(args.wheel)))
    else:
        problem = check(ref)
        print(problem or f"the rebuilt wheel is the recorded release ({read_record()['sha256']})")
        return 1 if problem else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
