"""Grade students' assignment notebooks offline with otter-grader: ``python -m tools.grade``.

Usage::

    python -m tools.grade run TEACHER_DIR SUBMISSION.ipynb ... [--csv grades.csv]
    python -m tools.grade check [ASSIGNMENT.ipynb ...]

``run`` grades each submission with ``otter run`` (otter-grader's non-containerised grader: it executes
the notebook in a fresh kernel of this environment, then runs the public and hidden tests of the
assignment's ``autograder.zip``; no Docker). The assignment is read from the submission itself (the
``otter.assignment_name`` that its hand-out carries), so one call grades a folder of mixed
assignments; ``TEACHER_DIR`` is the ``teacher/`` folder that ``python -m tools.handout OUTDIR`` wrote.
It prints one line per submission and question and, with ``--csv``, writes them as a table.

``check`` is the self-test of the course kit (``make grade``, and ``tests/test_assignments.py`` in
``make test``): it builds every assignment (default: ``assignments/*.ipynb``) into a temporary folder
and grades its reference solution, which must get full marks, and its blank hand-out, which must get
zero marks without crashing the grader.

Grading runs the submission's code: grade untrusted notebooks in a throw-away environment (a container
or a virtual machine), as with any autograder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from tools.solutions import ASSIGNMENTS, read_notebook


class GradingError(RuntimeError):
    """The grader itself failed (not the submission's tests)."""


def assignment_of(submission: Path) -> str:
    """The assignment a hand-out notebook belongs to (its ``metadata.otter.assignment_name``)."""
    try:
        name = read_notebook(submission).get("metadata", {}).get("otter", {}).get("assignment_name")
    except (OSError, ValueError) as err:
        raise GradingError(f"{submission}: not a readable notebook ({err})") from err
    if not name:
        raise GradingError(f"{submission}: no otter.assignment_name in its metadata (is it an assignment hand-out?)")
    return name


def grade(submission: Path, autograder: Path, timeout: int = 600) -> dict:
    """Grade one notebook with ``otter run``; return ``{"total", "possible", "questions": {name: (score, max)}}``.

    Raises
    ------
    GradingError
        If otter fails or writes no results (a submission whose cells fail still gets results: failing
        cells lose the marks of the tests that need them).
    """
    submission, autograder = Path(submission), Path(autograder)
    if not autograder.is_file():
        raise GradingError(f"autograder {autograder} does not exist (run `python -m tools.handout OUTDIR` first)")
    with tempfile.TemporaryDirectory(prefix="grade-") as out:
        env = dict(os.environ)
        env.pop("BOOK_STORED_OUTPUTS", None)
        env.pop("MPLBACKEND", None)
        command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder.resolve()),
                   "-o", out, str(submission.resolve())]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as err:
            raise GradingError(f"{submission}: grading took longer than {timeout} s") from err
        results = Path(out) / "results.json"
        if not results.is_file():
            raise GradingError(f"{submission}: otter run wrote no results (exit {done.returncode}):\n"
                               + (done.stderr or done.stdout)[-2000:])
        tests = json.loads(results.read_text())["tests"]
    questions = {t["name"]: (float(t.get("score") or 0.0), float(t["max_score"])) for t in tests
                 if t.get("max_score") is not None}
    return {"total": sum(s for s, _ in questions.values()), "possible": sum(m for _, m in questions.values()),
            "questions": questions}


def grade_many(pairs: list[tuple[Path, Path]], workers: int = 2) -> list[dict]:
    """Grade ``(submission, autograder)`` pairs, ``workers`` at a time (each in its own process)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda pair: grade(*pair), pairs))


def grades_table(submissions: list[Path], results: list[dict]) -> pd.DataFrame:
    """One row per submission and question: ``submission, assignment, question, score, max_score``."""
    rows = []
    for path, result in zip(submissions, results, strict=True):
        for question, (score, possible) in result["questions"].items():
            rows.append({"submission": str(path), "assignment": result.get("assignment", ""),
                         "question": question, "score": score, "max_score": possible})
    return pd.DataFrame(rows, columns=["submission", "assignment", "question", "score", "max_score"])


def check(assignments: list[Path], workers: int = 2) -> list[dict]:
    """Build every assignment in a temporary folder; grade its reference solution and its blank hand-out.

    Returns one ``{"assignment", "reference", "blank"}`` per assignment, each a :func:`grade` result.
    """
    from tools.handout import build_assignment

    with tempfile.TemporaryDirectory(prefix="assignments-") as tmp:
        built = {Path(p).stem: build_assignment(Path(p), Path(tmp) / "students", Path(tmp) / "teacher")
                 for p in assignments}
        pairs = []
        for files in built.values():
            pairs += [(files["solution"], files["autograder"]), (files["student"], files["autograder"])]
        results = grade_many(pairs, workers=workers)
    return [{"assignment": name, "reference": results[2 * i], "blank": results[2 * i + 1]}
            for i, name in enumerate(built)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m tools.grade``."""
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade submissions with the teacher's autograders")
    run.add_argument("teacher", type=Path, help="the teacher/ folder written by `python -m tools.handout OUTDIR`")
    run.add_argument("submissions", nargs="+", type=Path, help="students' notebooks")
    run.add_argument("--csv", type=Path, help="also write the grades to this CSV file")
    run.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    selfcheck = sub.add_parser("check", help="reference solutions get full marks, blank hand-outs zero")
    selfcheck.add_argument("assignments", nargs="*", type=Path, help="default: assignments/*.ipynb")
    selfcheck.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    if args.command == "check":
        paths = args.assignments or sorted(ASSIGNMENTS.glob("*.ipynb"))
        status = 0
        for row in check(paths, workers=args.workers):
            ref, blank = row["reference"], row["blank"]
            ok = ref["possible"] > 0 and abs(ref["total"] - ref["possible"]) < 1e-6 and blank["total"] == 0
            status = status or int(not ok)
            print(f"{row['assignment']:<32} reference {ref['total']:g}/{ref['possible']:g}, "
                  f"blank hand-out {blank['total']:g}/{blank['possible']:g}: {'ok' if ok else 'WRONG'}")
        return status

    try:
        pairs = [(s, args.teacher / assignment_of(s) / "autograder.zip") for s in args.submissions]
        results = grade_many(pairs, workers=args.workers)
    except GradingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for (submission, autograder), result in zip(pairs, results, strict=True):
        result["assignment"] = autograder.parent.name
        print(f"{submission}: {result['total']:g} / {result['possible']:g} ({result['assignment']})")
        for question, (score, possible) in result["questions"].items():
            print(f"    {question}: {score:g} / {possible:g}")
    if args.csv:
        grades_table([s for s, _ in pairs], results).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
