"""The course's autograded assignments (``assignments/*.ipynb``, graded offline by otter-grader).

The central check grades, for every assignment, its reference solution (full marks) and its blank
student hand-out (zero marks, graded without crashing) — the promise of issue 26, in ``make test``.
Each grading executes a notebook in a fresh kernel (seconds each); the two of an assignment run in
parallel. The other tests are fast checks of the convention and of the hand-out.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tools import grade, handout
from tools.solutions import (
    ANSWER_TAG,
    HIDDEN_TEST_TAG,
    SOLUTION_TAG,
    TEST_TAG,
    cell_text,
    check_assignment,
    questions,
    read_notebook,
    tags_of,
    write_notebook,
)

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted((REPO / "assignments").glob("*.ipynb"))
#: The book's teaching parts (``_toc.yml`` captions after "Start here"): one assignment each at least.
PARTS = ["A first baseline", "Sound, spectra and MFCCs", "GTZAN and features",
         "Networks and honest evaluation", "Going further"]


def _toy(tmp_path: Path) -> Path:
    """A two-question assignment that runs in a blink."""
    def cell(kind, text, tags=(), grading=None):
        c = {"cell_type": kind, "id": f"c{abs(hash((kind, text))) % 10**8}", "metadata": {}, "source": text}
        if tags:
            c["metadata"]["tags"] = list(tags)
        if grading:
            c["metadata"]["grading"] = grading
        if kind == "code":
            c.update(outputs=[], execution_count=None)
        return c

    nb = {"cells": [
        cell("markdown", "# Toy assignment"),
        cell("code", "# Setup: replaced in the hand-out\nimport otter\n\ngrader = otter.Notebook()"),
        cell("code", "import numpy as np"),
        cell("markdown", "**Q1.** Store 6 × 7 in `answer`.", grading={"name": "q1", "points": 2}),
        cell("code", "answer = ...", [ANSWER_TAG]),
        cell("code", "answer = 6 * 7  # the secret", [SOLUTION_TAG, "hide-cell"]),
        cell("markdown", "**Solution.** Multiply.", [SOLUTION_TAG, "hide-cell"]),
        cell("code", "assert isinstance(answer, (int, np.integer))", [TEST_TAG]),
        cell("code", "assert answer == 42  # hidden check", [HIDDEN_TEST_TAG]),
        cell("markdown", "**Q2.** Write `double(x)`.", grading={"name": "q2", "points": 3}),
        cell("code", "def double(x):\n    ...", [ANSWER_TAG]),
        cell("code", "def double(x):\n    return 2 * x", [SOLUTION_TAG, "hide-cell"]),
        cell("code", "assert double(4) == 8", [HIDDEN_TEST_TAG]),
        cell("code", "assert double(-1.5) == -3.0", [HIDDEN_TEST_TAG]),
    ], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "toy_assignment.ipynb"
    write_notebook(nb, path)
    return path


def test_the_five_parts_each_have_an_assignment_that_follows_the_convention():
    parts = {}
    for path in ASSIGNMENTS:
        nb = read_notebook(path)
        assert not check_assignment(nb, path.name)
        meta = nb["metadata"]["assignment"]
        planned = {"11_scaling_out"}  # chapter 11 is being written (issue 25)
        assert meta["chapters"] and all((REPO / "chapters" / f"{c}.ipynb").is_file() or c in planned
                                        for c in meta["chapters"]), meta["chapters"]
        parts[meta["part"]] = path.stem
        assert sum(q["points"] for q in questions(nb)) >= 10
    assert set(PARTS) <= set(parts), f"parts without an assignment: {set(PARTS) - set(parts)}"


def test_check_assignment_names_the_problems(tmp_path):
    nb = read_notebook(_toy(tmp_path))
    nb["cells"][3]["metadata"]["grading"] = {"name": "q 1", "points": 0}
    del nb["cells"][8]  # q1's only hidden test
    nb["cells"].insert(4, {"cell_type": "code", "id": "loose", "metadata": {}, "outputs": [],
                           "execution_count": None, "source": "x = 1"})
    problems = "\n".join(check_assignment(nb, "toy"))
    assert "the name must be a unique identifier" in problems
    assert "points must be a positive number" in problems
    assert "no code cell tagged 'hidden-test'" in problems
    assert "an untagged code cell" in problems


def test_otter_master_blocks_and_points(tmp_path):
    master = handout.otter_master(read_notebook(_toy(tmp_path)), "toy_assignment")
    raw = [cell_text(c) for c in master["cells"] if c["cell_type"] == "raw"]
    assert raw[0].startswith("# ASSIGNMENT CONFIG\nname: toy_assignment")
    assert raw.count("# BEGIN QUESTION\nname: q2\npoints: 3") == 1
    code = [cell_text(c) for c in master["cells"] if c["cell_type"] == "code"]
    assert "# BEGIN SOLUTION NO PROMPT\nanswer = 6 * 7  # the secret\n# END SOLUTION" in code
    hidden = [c for c in code if "hidden: true" in c]
    assert len(hidden) == 3 and "points: 2" in hidden[0]
    assert [c.split("points: ")[1].split("\n")[0] for c in hidden[1:]] == ["1.5", "1.5"]
    assert any("points: 0" in c and "isinstance(answer" in c for c in code), "public tests carry no marks"
    assert handout._shares(4, 3) == [1.333333, 1.333333, 1.333334]
    assert "otter.Notebook(\"toy_assignment.ipynb\")" in code[0], "the hand-out's setup cell starts the grader"


def test_handout_writes_students_and_teacher_files_without_leaking(tmp_path):
    source = _toy(tmp_path)
    outdir = tmp_path / "out"
    written = handout.write_handout(outdir, [source])
    student = outdir / "students" / "toy_assignment.ipynb"
    zip_path = outdir / "teacher" / "toy_assignment" / "autograder.zip"
    solution = outdir / "teacher" / "toy_assignment" / "toy_assignment-solution.ipynb"
    assert set(written) == {student, zip_path, solution}
    text = student.read_text(encoding="utf-8")
    assert "the secret" not in text and "hidden check" not in text and "Multiply" not in text
    assert "return 2 * x" not in text and 'grader.check(\\"q2\\")' in text
    nb = json.loads(text)
    assert nb["metadata"]["otter"]["assignment_name"] == "toy_assignment"
    assert not any(c["cell_type"] == "code" and not cell_text(c).strip() for c in nb["cells"])
    with zipfile.ZipFile(zip_path) as archive:
        tests = archive.read("tests/q1.py").decode()
    assert "answer == 42" in tests and "'hidden': True" in tests
    reference = read_notebook(solution)
    assert any("the secret" in cell_text(c) for c in reference["cells"])
    assert any(c["cell_type"] == "markdown" and "Hidden test" in cell_text(c) for c in reference["cells"])


def test_grading_a_notebook_that_is_not_a_hand_out_is_a_clear_error(tmp_path):
    path = tmp_path / "chapter.ipynb"
    write_notebook({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, path)
    with pytest.raises(grade.GradingError, match="no otter.assignment_name"):
        grade.assignment_of(path)
    with pytest.raises(grade.GradingError, match="does not exist"):
        grade.grade(path, tmp_path / "missing.zip")


def test_student_handouts_hold_no_solution_and_no_hidden_test(tmp_path):
    for path in ASSIGNMENTS:
        nb = read_notebook(path)
        built = handout.build_assignment(path, tmp_path / "students", tmp_path / "teacher")
        student = built["student"].read_text(encoding="utf-8")
        given = {line for c in nb["cells"] if not {SOLUTION_TAG, HIDDEN_TEST_TAG} & set(tags_of(c))
                 for line in cell_text(c).splitlines()}  # e.g. a function's signature in its template
        for cell in nb["cells"]:
            if {SOLUTION_TAG, HIDDEN_TEST_TAG} & set(tags_of(cell)):
                body = [line for line in cell_text(cell).splitlines() if len(line.strip()) > 25 and line not in given]
                leaked = [line for line in body if json.dumps(line)[1:-1] in student]
                assert not leaked, f"{path.name}: hand-out shows {leaked[:2]}"


def test_reference_solutions_get_full_marks_and_blank_handouts_zero():
    """The course kit's self-test (``python -m tools.grade check``): every assignment, both ways."""
    rows = grade.check(ASSIGNMENTS, workers=2)
    assert [r["assignment"] for r in rows] == [p.stem for p in ASSIGNMENTS]
    for row in rows:
        reference, blank = row["reference"], row["blank"]
        assert reference["possible"] > 0
        assert reference["total"] == pytest.approx(reference["possible"]), (row["assignment"], reference)
        assert blank["total"] == 0, (row["assignment"], blank)
        assert set(reference["questions"]) == set(blank["questions"])


def test_grade_command_grades_a_folder_and_writes_a_table(tmp_path, capsys):
    """``python -m tools.grade run``: the assignment is read from each notebook; marks per question."""
    handout.write_handout(tmp_path / "out", [_toy(tmp_path)])
    student = tmp_path / "out" / "students" / "toy_assignment.ipynb"
    solved = tmp_path / "out" / "teacher" / "toy_assignment" / "toy_assignment-solution.ipynb"
    table = tmp_path / "grades.csv"
    assert grade.main(["run", str(tmp_path / "out" / "teacher"), str(student), str(solved),
                       "--csv", str(table)]) == 0
    marks = pd.read_csv(table).pivot(index="submission", columns="question", values="score")
    assert marks.loc[str(student)].tolist() == [0, 0] and marks.loc[str(solved)].tolist() == [2, 3]
    assert f"{student}: 0 / 5 (toy_assignment)" in capsys.readouterr().out
