"""Solution-free student notebooks for a course: ``python -m tools.handout OUTDIR [chapters...]``.

Writes a copy of each chapter notebook (default: every ``chapters/*.ipynb``) into ``OUTDIR`` with
every cell tagged ``solution`` removed — the exercise questions, hints (cells tagged ``hint``, still
collapsed in the book) and everything else stay. The outputs of the remaining cells are kept, so the
hand-out reads like the book; ``--clear-outputs`` empties them (and the execution counts) so that
students run every cell themselves. The chapters themselves are never changed.

Solutions follow the convention of :mod:`tools.solutions` (each solution its own cell tagged
``solution`` + ``hide-cell``). A notebook that still holds a ``:::{admonition} Solution`` block is
refused, since its solution would leak into the hand-out: run ``python -m tools.solutions convert``
on the chapters first. Examples::

    python -m tools.handout handout/                       # every chapter, outputs kept
    python -m tools.handout handout/ --clear-outputs chapters/02_sound_and_sampling.ipynb

The chapters import ``helpers`` (the book's package): students install it as the setup cell at the
top of each chapter says, and the data as ``chapters/running_the_book.md`` describes.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from tools.solutions import (
    CHAPTERS,
    SOLUTION_TAG,
    check_notebook,
    read_notebook,
    tags_of,
    write_notebook,
)


def handout_notebook(nb: dict, *, clear_outputs: bool = False) -> dict:
    """Return a copy of ``nb`` without its ``solution`` cells (outputs cleared if asked)."""
    out = copy.deepcopy(nb)
    out["cells"] = [cell for cell in out["cells"] if SOLUTION_TAG not in tags_of(cell)]
    if clear_outputs:
        for cell in out["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
                cell.get("metadata", {}).pop("execution", None)
    return out


def leftover_solutions(nb: dict, name: str) -> list[str]:
    """Solution markup that the hand-out could not remove (unconverted admonitions, untagged solutions)."""
    return [p for p in check_notebook(nb, name) if "markup left" in p or "not tagged" in p]


def write_handout(outdir: Path, notebooks: list[Path], *, clear_outputs: bool = False) -> list[Path]:
    """Write the hand-out of each notebook into ``outdir``; return the paths written."""
    outdir = Path(outdir)
    problems = []
    for path in notebooks:
        problems += leftover_solutions(read_notebook(path), str(path))
    if problems:
        raise SystemExit("solutions that a hand-out would leak (run `python -m tools.solutions convert` first):\n"
                         + "\n".join(problems))
    for path in notebooks:
        if outdir.resolve() == Path(path).resolve().parent:
            raise SystemExit(f"{outdir} holds the chapters themselves: choose another OUTDIR")
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        target = outdir / Path(path).name
        write_notebook(handout_notebook(read_notebook(path), clear_outputs=clear_outputs), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.handout",
                                     description="Write solution-free copies of the chapter notebooks.")
    parser.add_argument("outdir", type=Path, help="folder for the hand-out notebooks (created if missing)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: chapters/*.ipynb")
    parser.add_argument("--clear-outputs", action="store_true", help="empty every code cell's outputs")
    args = parser.parse_intermixed_args(argv)
    notebooks = args.notebooks or sorted(CHAPTERS.glob("*.ipynb"))
    for target in write_handout(args.outdir, notebooks, clear_outputs=args.clear_outputs):
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
