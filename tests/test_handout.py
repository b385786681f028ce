"""tools.handout: solution-free student notebooks that still run (assignments: tests/test_assignments.py)."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from tools import handout
from tools.solutions import write_notebook


def cell(kind, source, tags=(), cell_id=None, outputs=None):
    c = {"cell_type": kind, "id": cell_id or f"c{abs(hash(source)) % 10**8}", "metadata": {}, "source": source}
    if tags:
        c["metadata"]["tags"] = list(tags)
    if kind == "code":
        c["execution_count"] = 1
        c["outputs"] = outputs if outputs is not None else [{"name": "stdout", "output_type": "stream", "text": "x\n"}]
    return c


def exercise_notebook():
    return {
        "cells": [
            cell("markdown", "# A chapter", cell_id="title"),
            cell("code", "import math\nx = math.sqrt(16)\nprint(x)", cell_id="setup"),
            cell("markdown", "## Exercises\n\n**1.** What is `x + 1`?", cell_id="q1"),
            cell("code", "print(x + 1)", tags=["solution", "hide-cell"], cell_id="s1"),
            cell("markdown", "**Solution.** Five: `x` is 4.0.", tags=["solution", "hide-cell"], cell_id="s1-text"),
            cell("markdown", "**2.** Is `x` a float?", cell_id="q2"),
            cell("markdown", "**Hint.** Use `type`.", tags=["hint", "hide-cell"], cell_id="h2"),
            cell("code", "# your answer here\nassert isinstance(x, float)", cell_id="student"),
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_handout_removes_solution_cells_and_keeps_the_rest():
    out = handout.handout_notebook(exercise_notebook())
    ids = [c["id"] for c in out["cells"]]
    assert ids == ["title", "setup", "q1", "q2", "h2", "student"]
    assert not any("solution" in c["metadata"].get("tags", []) for c in out["cells"])
    assert out["cells"][1]["outputs"], "outputs are kept by default"


def test_clear_outputs():
    out = handout.handout_notebook(exercise_notebook(), clear_outputs=True)
    code = [c for c in out["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_cli_writes_valid_notebooks_that_run(tmp_path):
    source = tmp_path / "chapters" / "01_toy.ipynb"
    source.parent.mkdir()
    write_notebook(exercise_notebook(), source)
    before = source.read_text(encoding="utf-8")
    outdir = tmp_path / "handout"
    assert handout.main([str(outdir), "--clear-outputs", str(source)]) == 0
    assert source.read_text(encoding="utf-8") == before, "the chapter itself must not change"
    written = outdir / "students" / "01_toy.ipynb"
    assert not (outdir / "teacher").exists(), "a chapter alone needs no grading files"
    text = written.read_text(encoding="utf-8")
    assert "Solution" not in text and "print(x + 1)" not in text and "Hint" in text
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[1].outputs[0]["text"] == "4.0\n"


def test_unconverted_solutions_are_refused(tmp_path):
    nb = exercise_notebook()
    nb["cells"].append(cell("markdown", "**3.** Q?\n\n:::{admonition} Solution\n:class: dropdown\nA.\n:::"))
    source = tmp_path / "nb.ipynb"
    write_notebook(nb, source)
    with pytest.raises(SystemExit, match="tools.solutions convert"):
        handout.main([str(tmp_path / "out"), str(source)])
    assert not (tmp_path / "out").exists()


def test_outdir_may_not_be_the_chapters_folder(tmp_path):
    source = tmp_path / "nb.ipynb"
    write_notebook(exercise_notebook(), source)
    with pytest.raises(SystemExit, match="holds the notebooks themselves"):
        handout.main([str(tmp_path), str(source)])
    assert json.loads(source.read_text())["cells"][3]["id"] == "s1"
