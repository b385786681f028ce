"""Re-execute the book's chapters in place so that their stored outputs are fresh and consistent.

Usage::

    python -m tools.notebooks run                 # every chapter in _toc.yml order
    python -m tools.notebooks run chapters/06_cnn.ipynb --flavour mini
    python -m tools.notebooks list

The data flavour is chosen with ``--flavour`` (sets ``GTZAN_FLAVOUR``); the other data variables
(``GTZAN_MINI_DIR``, ``SPOTIFY_CSV``, ...) are passed through from the environment. Each chapter
runs in a fresh kernel from the ``chapters/`` folder; its wall time is printed. Outputs that embed
audio are size-checked by the tests, not here.

Caches start **cold**: every chapter gets an empty ``BOOK_CACHE_DIR`` (features, embeddings,
descriptors; removed afterwards), as on a fresh Colab VM where every notebook starts without them,
so the recorded runtimes include the extraction a student waits for. Downloads are kept.
``--warm-caches`` uses the normal caches instead; the notebook's metadata records which
(``metadata.book_run.caches``), and the stamped **Runtime** line says it.

While it runs, the kernel sees ``BOOK_STORED_OUTPUTS=1``: the outputs will be stored in the book, so
a listening-lab cell prints a note instead of embedding a player for dataset audio (which the book
never publishes); a reader who runs the same cell gets the players.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools.runtimes import stamp_runtime

REPO = Path(__file__).resolve().parent.parent


def chapter_paths() -> list[Path]:
    """Return the chapter notebooks in table-of-contents order (notebooks only)."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    paths = []
    for file in files:
        path = REPO / file
        if path.suffix == "":
            path = path.with_suffix(".ipynb")
        if path.suffix == ".ipynb" and path.exists():
            paths.append(path)
    return paths


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def has_widget_outputs(notebook) -> bool:
    """Whether a cell's stored outputs hold a Jupyter widget (its saved state must then stay)."""
    return any(WIDGET_VIEW in output.get("data", {}) for cell in notebook["cells"] for output in cell.get("outputs", []))


def execute(path: Path, timeout: int = 1800, kernel_name: str = "python3", cold_caches: bool = True,
            store: bool = True) -> float:
    """Execute one notebook in place with nbclient; return its wall time in seconds.

    With ``cold_caches`` the kernel gets an empty ``BOOK_CACHE_DIR`` of its own (removed afterwards).
    ``store=False`` runs it for what it writes elsewhere (a recorded study, ``tools/sweep.py``) and
    leaves the stored notebook as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    cache = Path(tempfile.mkdtemp(prefix="book-cold-cache-")) if cold_caches else None
    previous = os.environ.get("BOOK_CACHE_DIR")
    stored = os.environ.get("BOOK_STORED_OUTPUTS")
    os.environ["BOOK_STORED_OUTPUTS"] = "1"  # no dataset audio in outputs that the book stores
    if cache is not None:
        os.environ["BOOK_CACHE_DIR"] = str(cache)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=kernel_name,
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    finally:
        if stored is None:
            os.environ.pop("BOOK_STORED_OUTPUTS", None)
        else:
            os.environ["BOOK_STORED_OUTPUTS"] = stored
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
            if previous is None:
                os.environ.pop("BOOK_CACHE_DIR", None)
            else:
                os.environ["BOOK_CACHE_DIR"] = previous
    if not store:
        return elapsed
    notebook.metadata["book_run"] = {"caches": "cold" if cold_caches else "warm"}
    if not has_widget_outputs(notebook):  # an earlier run's widget state would make the page load scripts
        notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters in place")
    run.add_argument("notebooks", nargs="*", help="chapter notebooks (default: all, in toc order)")
    run.add_argument("--flavour", choices=["full", "mini", "synthetic"], help="GTZAN flavour")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    run.add_argument("--warm-caches", action="store_true",
                     help="use the normal feature/embedding caches (default: an empty cache per chapter)")
    sub.add_parser("list", help="list the chapter notebooks in toc order")
    args = parser.parse_args(argv)

    if args.command == "list":
        for path in chapter_paths():
            print(path.relative_to(REPO))
        return 0
    if args.flavour:
        os.environ["GTZAN_FLAVOUR"] = args.flavour
    # A non-interactive MPLBACKEND (e.g. Agg in CI) would stop the kernel from storing figures.
    os.environ.pop("MPLBACKEND", None)
    paths = [Path(p).resolve() for p in args.notebooks] or chapter_paths()
    for path in paths:
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    total = 0.0
    for path in paths:
        print(f"executing {path.relative_to(REPO)} ...", flush=True)
        elapsed = execute(path, timeout=args.timeout, cold_caches=not args.warm_caches)
        total += elapsed
        print(f"  done in {elapsed:.0f} s; {stamp_runtime(path)}", flush=True)
    print(f"{len(paths)} chapter(s) executed in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
