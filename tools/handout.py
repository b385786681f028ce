"""Student hand-outs and the teacher's grading files, in one command: ``python -m tools.handout OUTDIR``.

Writes two folders:

``OUTDIR/students/``
    what students get: a copy of each chapter notebook (default: every ``chapters/*.ipynb``) with
    every cell tagged ``solution`` removed — the exercise questions, hints (cells tagged ``hint``,
    still collapsed in the book) and everything else stay — and each assignment
    (``assignments/*.ipynb``) as a notebook with its questions, the starting code of its answers and
    ``grader.check("q1")`` cells that run the public tests; no solutions, no hidden tests.
``OUTDIR/teacher/<assignment>/``
    what the teacher keeps: ``autograder.zip`` (otter-grader's grading configuration, hidden tests
    included) and ``<assignment>-solution.ipynb`` (the questions with the reference solutions).

The outputs of the chapters' remaining cells are kept, so a chapter hand-out reads like the book;
``--clear-outputs`` empties them (and the execution counts) so that students run every cell
themselves. Assignment hand-outs never carry outputs. The chapters and assignments themselves are
never changed.

Solutions follow the convention of :mod:`tools.solutions` (each solution its own cell tagged
``solution`` + ``hide-cell``; assignments add ``answer``, ``test`` and ``hidden-test`` cells and a
``grading`` entry in each question's metadata). A notebook that still holds a
``:::{admonition} Solution`` block, or an assignment that breaks the convention, is refused, since
its solution would leak into the hand-out. Examples::

    python -m tools.handout handout/                       # every chapter and assignment
    python -m tools.handout handout/ --clear-outputs chapters/02_sound_and_sampling.ipynb
    python -m tools.handout handout/ assignments/a2_sound_spectra_mfccs.ipynb

Assignments are converted into the source format of **otter-grader** (``otter assign``) and built by
it; ``python -m tools.grade`` then grades students' notebooks offline with ``otter run`` (no Docker).
The chapters and assignments import ``helpers`` (the book's package): students install it as the
setup cell at the top of each notebook says, and the data as ``chapters/running_the_book.md``
describes.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import shutil
import sys
import tempfile
from pathlib import Path

from tools.solutions import (
    ANSWER_TAG,
    ASSIGNMENTS,
    CHAPTERS,
    HIDDEN_TEST_TAG,
    SOLUTION_TAG,
    TEST_TAG,
    cell_text,
    check_assignment,
    check_notebook,
    questions,
    read_notebook,
    tags_of,
    write_notebook,
)

#: First line of an assignment's setup cell (replaced by :func:`assignment_setup_source` in hand-outs).
SETUP_MARKER = "# Setup"


def handout_notebook(nb: dict, *, clear_outputs: bool = False) -> dict:
    """Return a copy of ``nb`` without its ``solution`` cells (outputs cleared if asked)."""
    out = copy.deepcopy(nb)
    out["cells"] = [cell for cell in out["cells"] if SOLUTION_TAG not in tags_of(cell)]
    if clear_outputs:
        _clear_outputs(out)
    return out


def _clear_outputs(nb: dict) -> None:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)


def leftover_solutions(nb: dict, name: str) -> list[str]:
    """Solution markup that the hand-out could not remove (unconverted admonitions, untagged solutions)."""
    return [p for p in check_notebook(nb, name) if "markup left" in p or "not tagged" in p]


def is_assignment(path: Path, nb: dict | None = None) -> bool:
    """An assignment is a notebook with at least one question (a cell with ``metadata.grading``)."""
    nb = read_notebook(path) if nb is None else nb
    return bool(questions(nb))


# ---------------------------------------------------------------------------------------------
# assignments -> otter-grader


def assignment_setup_source(name: str) -> str:
    """The first code cell of an assignment hand-out: the chapters' setup cell (on Colab it installs the book's helpers, ``tools/setup_cell.py``), then, on Colab, the autograder's client pinned to the otter-grader that built the hand-out, and everywhere the grader of this notebook."""
    from tools.setup_cell import cell_source

    otter_version = importlib.metadata.version("otter-grader")
    return (
        cell_source().rstrip("\n") + "\n\n"
        "# The autograder's client: `grader.check(...)` runs a question's public checks.\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "otter-grader=={otter_version}"\n\n'
        "import otter\n\n"
        f'grader = otter.Notebook("{name}.ipynb")'
    )


def _raw(text: str) -> dict:
    return {"cell_type": "raw", "metadata": {}, "source": text}


def _code(text: str, like: dict | None = None) -> dict:
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text}
    if like is not None and like.get("id"):
        cell["id"] = like["id"]
    return cell


def _shares(points: float, n: int) -> list[float]:
    """``points`` split into ``n`` shares of 6 decimals that add up to ``points`` (to 1e-6)."""
    shares = [round(points / n, 6)] * (n - 1)
    return [*shares, round(points - sum(shares), 6)]


def _quiet(code: str) -> str:
    """A test's code as one statement that prints nothing: otter runs tests as doctests, where any printed line (a data layer's NOTICE, say) fails the test. One statement also stops at the first failed assertion, so a blank answer does not pay for the recomputation that follows it."""
    body = "\n".join(("    " + line) if line.strip() else "" for line in code.rstrip("\n").splitlines())
    return ("import contextlib as _contextlib\nimport io as _io\n\n"
            "with _contextlib.redirect_stdout(_io.StringIO()):\n" + body)


def otter_master(nb: dict, name: str) -> dict:
    """Translate an assignment (the tags of :mod:`tools.solutions`) into otter-grader's master format.

    Each question becomes ``# BEGIN QUESTION`` (name, points) … ``# END QUESTION``: its markdown, its
    ``answer`` cells as a prompt block, its ``solution`` code cells as a solution block (all of each
    cell removed from the student version), its ``test`` cells as public and its ``hidden-test``
    cells as hidden test cases, each run as one statement that prints nothing (:func:`_quiet`).
    Only hidden tests carry points (public ones check the format).
    Markdown solutions (written answers) go to the teacher's solution notebook only.
    """
    problems = check_assignment(nb, name)
    if problems:
        raise SystemExit(f"{name} breaks the assignment convention:\n" + "\n".join(problems))
    config = (f"# ASSIGNMENT CONFIG\nname: {name}\ninit_cell: false\ncheck_all_cell: false\n"
              "export_cell: false\nrun_tests: false\nrequirements: null\ngenerate:\n  pdf: false\n")
    cells = [_raw(config)]
    found = questions(nb)
    first = found[0]["cells"][0]
    for cell in nb["cells"][:first]:
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            _clear_outputs({"cells": [cell]})
            if cell_text(cell).startswith(SETUP_MARKER):
                cell["source"] = assignment_setup_source(name)
        cells.append(cell)
    for question in found:
        members = [nb["cells"][i] for i in question["cells"]]
        cells.append(_raw(f"# BEGIN QUESTION\nname: {question['name']}\npoints: {question['points']}"))
        cells.append({"cell_type": "markdown", "metadata": {}, "source": cell_text(members[0])})
        by_tag = {tag: [c for c in members[1:] if tag in tags_of(c) and c["cell_type"] == "code"]
                  for tag in (ANSWER_TAG, SOLUTION_TAG, TEST_TAG, HIDDEN_TEST_TAG)}
        cells.append(_raw("# BEGIN PROMPT"))
        cells += [_code(cell_text(c).rstrip("\n"), c) for c in by_tag[ANSWER_TAG]]
        cells.append(_raw("# END PROMPT"))
        cells.append(_raw("# BEGIN SOLUTION"))
        cells += [_code("# BEGIN SOLUTION NO PROMPT\n" + cell_text(c).rstrip("\n") + "\n# END SOLUTION", c)
                  for c in by_tag[SOLUTION_TAG]]
        cells.append(_raw("# END SOLUTION"))
        cells.append(_raw("# BEGIN TESTS"))
        for cell in by_tag[TEST_TAG]:
            cells.append(_code('""" # BEGIN TEST CONFIG\npoints: 0\n""" # END TEST CONFIG\n'
                               + _quiet(cell_text(cell))))
        hidden = by_tag[HIDDEN_TEST_TAG]
        for cell, share in zip(hidden, _shares(question["points"], len(hidden)), strict=True):
            cells.append(_code(f'""" # BEGIN TEST CONFIG\nhidden: true\npoints: {share!r}\n""" # END TEST CONFIG\n'
                               + _quiet(cell_text(cell))))
        cells.append(_raw("# END TESTS"))
        cells.append(_raw("# END QUESTION"))
        # markdown after the question's code (a written discussion for everyone) stays in place
        cells += [copy.deepcopy(c) for c in members[1:] if c["cell_type"] == "markdown"
                  and SOLUTION_TAG not in tags_of(c)]
    master = copy.deepcopy(nb)
    master["cells"] = cells
    for cell in master["cells"]:
        cell.pop("id", None)
    master["nbformat"], master["nbformat_minor"] = 4, 4  # ids are regenerated by otter
    return master


def solution_notebook(nb: dict, name: str) -> dict:
    """The teacher's reference: every question with the students' starting code (it may hold data the question gives), then the solution, written answers and tests (hidden ones marked); outputs cleared."""
    out = copy.deepcopy(nb)
    kept = []
    for cell in out["cells"]:
        tags = set(tags_of(cell))
        if cell["cell_type"] == "code" and cell_text(cell).startswith(SETUP_MARKER):
            cell["source"] = assignment_setup_source(name)
        if HIDDEN_TEST_TAG in tags:  # shown, not run: the autograder runs it
            cell = {**{k: v for k, v in cell.items() if k in ("id", "metadata")}, "cell_type": "markdown",
                    "source": "**Hidden test** (in `autograder.zip`; it carries the marks):\n\n```python\n"
                              + cell_text(cell).rstrip("\n") + "\n```"}
        kept.append(cell)
    out["cells"] = kept
    out["metadata"]["otter"] = {"assignment_name": name}
    _clear_outputs(out)
    return out


def build_assignment(path: Path, students: Path, teacher: Path) -> dict[str, Path]:
    """Build one assignment with ``otter assign``: the student notebook, the autograder, the solutions.

    Returns
    -------
    dict
        ``student`` (``students/<name>.ipynb``), ``autograder`` (``teacher/<name>/autograder.zip``)
        and ``solution`` (``teacher/<name>/<name>-solution.ipynb``).
    """
    from otter.assign import main as otter_assign

    path = Path(path)
    name = path.stem
    nb = read_notebook(path)
    master = otter_master(nb, name)
    folder = Path(teacher) / name
    folder.mkdir(parents=True, exist_ok=True)
    Path(students).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"otter-{name}-") as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        write_notebook(master, source)
        otter_assign(str(source), str(Path(tmp) / "dist"), no_pdfs=True, no_run_tests=True)
        student = read_notebook(Path(tmp) / "dist" / "student" / f"{name}.ipynb")
        # otter leaves an empty cell where a whole solution cell was removed
        student["cells"] = [c for c in student["cells"] if not (c["cell_type"] == "code" and not cell_text(c).strip())]
        zips = sorted((Path(tmp) / "dist" / "autograder").glob(f"{name}-autograder_*.zip"))
        if len(zips) != 1:
            raise SystemExit(f"otter assign wrote {len(zips)} autograder zips for {name}")
        written = {"student": Path(students) / f"{name}.ipynb", "autograder": folder / "autograder.zip",
                   "solution": folder / f"{name}-solution.ipynb"}
        write_notebook(student, written["student"])
        shutil.copyfile(zips[0], written["autograder"])
    write_notebook(solution_notebook(nb, name), written["solution"])
    return written


# ---------------------------------------------------------------------------------------------
# the command


def write_handout(outdir: Path, notebooks: list[Path], *, clear_outputs: bool = False) -> list[Path]:
    """Write the hand-out of each chapter and assignment into ``outdir``; return the paths written."""
    outdir = Path(outdir)
    problems = []
    loaded = {Path(path): read_notebook(path) for path in notebooks}
    for path, nb in loaded.items():
        if is_assignment(path, nb):
            problems += check_assignment(nb, str(path))
        else:
            problems += leftover_solutions(nb, str(path))
    if problems:
        raise SystemExit("solutions that a hand-out would leak (run `python -m tools.solutions convert` first, "
                         "or fix the assignment):\n" + "\n".join(problems))
    for path in loaded:
        if outdir.resolve() == path.resolve().parent:
            raise SystemExit(f"{outdir} holds the notebooks themselves: choose another OUTDIR")
    students, teacher = outdir / "students", outdir / "teacher"
    students.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in loaded.items():
        if is_assignment(path, nb):
            written += list(build_assignment(path, students, teacher).values())
        else:
            target = students / path.name
            write_notebook(handout_notebook(nb, clear_outputs=clear_outputs), target)
            written.append(target)
    return written


def default_notebooks() -> list[Path]:
    """Every chapter, then every assignment."""
    return sorted(CHAPTERS.glob("*.ipynb")) + sorted(ASSIGNMENTS.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m tools.handout``."""
    parser = argparse.ArgumentParser(prog="python -m tools.handout",
                                     description="Write the student hand-outs and the teacher's grading files.")
    parser.add_argument("outdir", type=Path, help="folder for students/ and teacher/ (created if missing)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: chapters/*.ipynb and assignments/*.ipynb")
    parser.add_argument("--clear-outputs", action="store_true", help="empty every chapter code cell's outputs")
    args = parser.parse_intermixed_args(argv)
    notebooks = args.notebooks or default_notebooks()
    for target in write_handout(args.outdir, notebooks, clear_outputs=args.clear_outputs):
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
