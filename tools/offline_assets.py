"""Make the rendered book work without internet: bundle MathJax, and find what pages would fetch remotely.

Explained in chapter *Running the book* (``chapters/running_the_book.md``, section "Offline").

By default Sphinx loads MathJax from a CDN, so a book opened in a classroom or on a train without
network shows raw ``$$ ... $$``. This module is a small Sphinx extension (listed in ``_config.yml``
under ``sphinx.extra_extensions``) that, after every HTML build, copies MathJax |version| into
``_build/html/_static/mathjax/`` — the place ``mathjax_path`` in ``_config.yml`` points to. The
MathJax package is the npm registry's tarball, downloaded once with pooch (pinned URL and SHA-256)
into the book's data cache (:func:`helpers.data_home`), so later builds need no network.

Command line::

    python -m tools.offline_assets fetch             # download (or verify) the MathJax tarball
    python -m tools.offline_assets check _build/html # install MathJax there if missing, then list
                                                       # every resource a page would fetch remotely

Environment variables
---------------------
``BOOK_MATHJAX_TGZ``
    A local copy of ``mathjax-3.2.2.tgz`` (checked against the pinned hash) — for machines that
    reach neither the npm registry nor a cache.
``BOOK_OFFLINE``
    ``1``: never download; use the cache or ``BOOK_MATHJAX_TGZ``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from helpers.config import data_home, offline
from helpers.errors import DataError

MATHJAX_VERSION = "3.2.2"
#: The npm registry's tarball of the ``mathjax`` package (its files live under ``package/es5/``).
MATHJAX_URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
#: The combined component the book loads (``mathjax_path`` in ``_config.yml`` is ``mathjax/`` + this).
MATHJAX_ENTRY = "tex-mml-chtml.js"
#: Where the files go inside the HTML output's ``_static`` folder.
STATIC_SUBDIR = "mathjax"

# What the entry component may load lazily: TeX extensions (autoload of \color, \boldsymbol, ...),
# the CHTML fonts, the context menu and its accessibility tools (explorer, speech rule engine with
# English rules). Other combined components, SVG output and non-English speech rules are left out.
_KEEP = (
    re.compile(r"^es5/" + re.escape(MATHJAX_ENTRY) + "$"),
    re.compile(r"^es5/input/(tex|mml)(/.*)?(\.js|\.json)$"),
    re.compile(r"^es5/output/chtml(\.js|/.*)$"),
    re.compile(r"^es5/(ui|a11y|adaptors)/[^/]+\.js$"),
    re.compile(r"^es5/sre/mathmaps/(base|en|nemeth)\.json$"),
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_mathjax(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return a verified local copy of the MathJax tarball, downloading it once if needed.

    Explained in chapter *Running the book* (offline reading).

    Parameters
    ----------
    cache_dir : path, optional
        Where the tarball is kept (default: ``<data_home()>/web``).

    Returns
    -------
    pathlib.Path
        The tarball, whose SHA-256 equals :data:`MATHJAX_SHA256`.

    Raises
    ------
    DataError
        If ``BOOK_MATHJAX_TGZ`` names a missing file or one with the wrong hash, or if the tarball
        is neither cached nor downloadable (no network, or ``BOOK_OFFLINE=1``).
    """
    local = os.environ.get("BOOK_MATHJAX_TGZ", "").strip()
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise DataError(f"BOOK_MATHJAX_TGZ={path} does not exist or is not a file")
        if _sha256(path) != MATHJAX_SHA256:
            raise DataError(
                f"{path} is not the MathJax {MATHJAX_VERSION} tarball: its SHA-256 differs from "
                f"{MATHJAX_SHA256} (download it from {MATHJAX_URL})"
            )
        return path
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "web"
    target = folder / f"mathjax-{MATHJAX_VERSION}.tgz"
    if target.is_file() and _sha256(target) == MATHJAX_SHA256:
        return target
    if offline():
        raise DataError(
            f"MathJax is not cached at {target} and BOOK_OFFLINE=1 forbids downloading it; "
            f"set BOOK_MATHJAX_TGZ to a copy of {MATHJAX_URL}"
        )
    import pooch

    folder.mkdir(parents=True, exist_ok=True)
    try:
        fetched = pooch.retrieve(
            MATHJAX_URL, known_hash=f"sha256:{MATHJAX_SHA256}", fname=target.name, path=folder,
            progressbar=False,
        )
    except ValueError as err:  # pooch: hash mismatch (the bad file is removed)
        raise DataError(f"downloaded {MATHJAX_URL} into {target} but {err}") from err
    except Exception as err:  # network errors: requests / urllib exceptions
        raise DataError(
            f"could not download {MATHJAX_URL} into {target} ({type(err).__name__}: {err}); "
            "without it the book's math renders only online. Set BOOK_MATHJAX_TGZ to a local copy."
        ) from err
    return Path(fetched)


def _kept_members(archive: tarfile.TarFile) -> Iterable[tuple[tarfile.TarInfo, PurePosixPath]]:
    for member in archive.getmembers():
        if not member.isfile():
            continue
        parts = PurePosixPath(member.name).parts
        if len(parts) < 2 or parts[0] != "package" or ".." in parts:
            continue
        relative = PurePosixPath(*parts[1:])
        if any(pattern.match(str(relative)) for pattern in _KEEP):
            yield member, PurePosixPath(*relative.parts[1:])  # drop "es5/"


def install_mathjax(static_dir: str | os.PathLike, tarball: str | os.PathLike | None = None) -> Path:
    """Unpack the parts of MathJax the book needs into ``<static_dir>/mathjax`` (idempotent).

    Explained in chapter *Running the book* (offline reading).

    Parameters
    ----------
    static_dir : path
        The HTML output's ``_static`` folder.
    tarball : path, optional
        The npm tarball (default: :func:`fetch_mathjax`).

    Returns
    -------
    pathlib.Path
        The entry script, ``<static_dir>/mathjax/tex-mml-chtml.js``.

    Raises
    ------
    DataError
        If ``static_dir`` does not exist, or the tarball is unreadable or lacks the entry script.
    """
    static_dir = Path(static_dir)
    if not static_dir.is_dir():
        raise DataError(f"{static_dir} does not exist: build the book's HTML first")
    target = static_dir / STATIC_SUBDIR
    entry = target / MATHJAX_ENTRY
    stamp = target / ".version"
    if entry.is_file() and stamp.is_file() and stamp.read_text().strip() == MATHJAX_VERSION:
        return entry
    tarball = Path(tarball) if tarball is not None else fetch_mathjax()
    tmp = static_dir / f".{STATIC_SUBDIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            count = 0
            for member, relative in _kept_members(archive):
                destination = tmp.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    continue
                with source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out)
                count += 1
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot unpack MathJax from {tarball}: {err}") from err
    if not (tmp / MATHJAX_ENTRY).is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{tarball} holds no package/es5/{MATHJAX_ENTRY}: not a MathJax 3 tarball")
    (tmp / ".version").write_text(MATHJAX_VERSION + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)
    return entry


# Resources a browser fetches by itself when it opens a page (links a reader clicks are not listed).
_AUTO_FETCH = (
    re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"<(?:audio|video|source|iframe|embed)\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"<link\b(?=[^>]*\brel\s*=\s*[\"'](?:stylesheet|preload|icon|modulepreload)[\"'])"
               r"[^>]*\bhref\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"@import\s+(?:url\()?[\"']?([^\"')\s;]+)", re.I),
    re.compile(r"url\(\s*[\"']?([^\"')]+)", re.I),
)
_REMOTE = re.compile(r"^(?:https?:)?//", re.I)


def remote_references(html_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """List the remote resources that built pages (and their CSS) would fetch on opening.

    Explained in chapter *Running the book* (offline reading). Scripts, stylesheets, icons,
    images, media and frames of the HTML pages, and ``url(...)``/``@import`` of the CSS files are
    checked; ordinary links (which a reader clicks) are not.

    Parameters
    ----------
    html_dir : path
        The HTML output folder (``_build/html``).

    Returns
    -------
    list of (str, str)
        ``(file relative to html_dir, URL)`` pairs, sorted; empty when the book is self-contained.

    Raises
    ------
    DataError
        If ``html_dir`` holds no ``index.html``.
    """
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise DataError(f"{html_dir} holds no index.html: build the book first")
    found: set[tuple[str, str]] = set()
    files = [*html_dir.rglob("*.html"), *html_dir.rglob("*.css")]
    for path in files:
        relative = path.relative_to(html_dir).as_posix()
        if relative.startswith(f"_static/{STATIC_SUBDIR}/"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        patterns = _AUTO_FETCH[:4] if path.suffix == ".html" else _AUTO_FETCH[4:]
        for pattern in patterns:
            for match in pattern.finditer(text):
                url = match.group(1).strip()
                if _REMOTE.match(url):
                    found.add((relative, url))
    return sorted(found)


def _install_after_build(app, exception) -> None:
    """Sphinx ``build-finished`` hook: put MathJax where ``mathjax_path`` points."""
    if exception is not None or app.builder.format != "html":
        return
    install_mathjax(Path(app.outdir) / "_static")


def dedupe_scripts(scripts: list) -> list:
    """Drop repeated ``<script>`` entries (same file or inline body and attributes), keeping the first.

    Sphinx 7 with jupyter-book emits some extensions' inline scripts twice per page; sphinx-thebe's
    ``const THEBE_JS_URL = ...`` then throws "Identifier has already been declared" in the browser
    (found by the browser test, ``tests/browser``). Modifies ``scripts`` in place and returns it.
    """
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(filename), repr(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique
    return scripts


def _dedupe_page_scripts(app, pagename, templatename, context, doctree) -> None:
    """Sphinx ``html-page-context`` hook: see :func:`dedupe_scripts`."""
    if isinstance(context.get("script_files"), list):
        dedupe_scripts(context["script_files"])


def setup(app) -> dict:
    """Register the extension with Sphinx (``sphinx.local_extensions`` in ``_config.yml``)."""
    app.connect("build-finished", _install_after_build)
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    return {"version": MATHJAX_VERSION, "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.offline_assets",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download (or verify) the MathJax tarball in the cache")
    check = sub.add_parser("check", help="install MathJax into a built book and list remote resources")
    check.add_argument("html_dir", nargs="?", default="_build/html")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch_mathjax())
            return 0
        entry = install_mathjax(Path(args.html_dir) / "_static")
        remote = remote_references(args.html_dir)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"MathJax {MATHJAX_VERSION}: {entry}")
    if remote:
        print(f"{len(remote)} remote resource(s) that pages fetch on opening (offline they fail):")
        for page, url in remote:
            print(f"  {page}: {url}")
        return 1
    print(f"no page of {args.html_dir} fetches anything remotely")
    return 0


if __name__ == "__main__":
    sys.exit(main())
