"""tools.solutions: exercise solutions as their own cells tagged ``solution`` + ``hide-cell``."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from tools import solutions
from tools.solutions import check_notebook, convert_notebook, render_for_book, split_admonitions

REPO = Path(__file__).resolve().parents[1]


def md(text, tags=None, cell_id="m"):
    cell = {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text.splitlines(keepends=True)}
    if tags:
        cell["metadata"]["tags"] = tags
    return cell


def code(text, tags=None, cell_id="c", outputs=None):
    cell = {"cell_type": "code", "id": cell_id, "metadata": {"tags": tags} if tags else {}, "execution_count": 1,
            "outputs": outputs if outputs is not None else [{"name": "stdout", "output_type": "stream", "text": ["42\n"]}],
            "source": text.splitlines(keepends=True)}
    return cell


def notebook(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def text(cell):
    return "".join(cell["source"])


QUESTION_AND_SOLUTION = """**2.** Why must the statistics come from the training tracks only?

:::{admonition} Solution
:class: dropdown
Because the test tracks would otherwise leak into training.
:::

**3.** What changes with 40 mel bands?

:::{admonition} Solution
:class: dropdown
```python
print(40)
```
The image gets taller.
:::"""


def test_split_admonitions_separates_text_and_solutions():
    segments = split_admonitions(QUESTION_AND_SOLUTION)
    assert [kind for _, kind in segments] == [None, "solution", None, "solution"]
    assert segments[1][0] == "Because the test tracks would otherwise leak into training."
    assert segments[3][0].startswith("```python\nprint(40)\n```")


def test_unclosed_admonition_is_an_error():
    with pytest.raises(ValueError, match="unclosed"):
        split_admonitions(":::{admonition} Solution\n:class: dropdown\nno end")


def test_convert_splits_markdown_solutions_into_tagged_cells():
    nb = notebook(md("## Exercises\n", cell_id="h"), md(QUESTION_AND_SOLUTION, cell_id="q"))
    converted, changes = convert_notebook(nb)
    cells = converted["cells"]
    assert changes == 2
    assert [text(c)[:9] for c in cells] == ["## Exerci", "**2.** Wh", "**Solutio", "**3.** Wh", "**Solutio"]
    assert [c["metadata"].get("tags") for c in cells] == [None, None, ["solution", "hide-cell"], None,
                                                          ["solution", "hide-cell"]]
    assert text(cells[2]) == "**Solution.** Because the test tracks would otherwise leak into training."
    assert text(cells[4]).startswith("**Solution.**\n\n```python\nprint(40)\n```")
    assert cells[1]["id"] == "q" and len({c["id"] for c in cells}) == len(cells)
    assert not check_notebook(converted)
    assert nb["cells"][1]["source"] == md(QUESTION_AND_SOLUTION)["source"], "the input must not change"


def test_convert_retags_code_solutions_and_their_commentary_only_in_exercises():
    nb = notebook(
        code("import numpy as np", tags=["hide-input"], cell_id="setup"),  # not an exercise
        md("## Exercises\n\n**1.** Compute 6 × 7.", cell_id="q1"),
        code("print(6 * 7)", tags=["hide-input", "other"], cell_id="s1"),
        md("The answer is printed above.\n\n**2.** And 2 + 2?", cell_id="q2"),
        code("print(2 + 2)", tags=["hide-input"], cell_id="s2"),
        md("**3.** Think about it.", cell_id="q3"),
        md("## References\n\nA book.", cell_id="refs"),
        code("print('after')", tags=["hide-input"], cell_id="late"),
    )
    converted, _ = convert_notebook(nb)
    by_id = {c["id"]: c for c in converted["cells"]}
    assert by_id["setup"]["metadata"]["tags"] == ["hide-input"]
    assert by_id["late"]["metadata"]["tags"] == ["hide-input"], "a later section is no exercise"
    assert by_id["s1"]["metadata"]["tags"] == ["other", "solution", "hide-cell"]
    assert by_id["s2"]["metadata"]["tags"] == ["solution", "hide-cell"]
    assert by_id["s1"]["outputs"] == nb["cells"][2]["outputs"]
    order = [c["id"] for c in converted["cells"]]
    commentary = order[order.index("s1") + 1]
    assert text(by_id[commentary]) == "The answer is printed above."
    assert by_id[commentary]["metadata"]["tags"] == ["solution", "hide-cell"]
    assert text(by_id["q2"]) == "**2.** And 2 + 2?" and "tags" not in by_id["q2"]["metadata"]
    assert "tags" not in by_id["q3"]["metadata"], "the next question is not commentary"
    assert not check_notebook(converted)


def test_discussion_and_hint_admonitions():
    nb = notebook(md("## Exercises\n\n**1.** Q?\n\n:::{admonition} Hint\n:class: dropdown\nLook up.\n:::\n\n"
                     ":::{admonition} Discussion\n:class: dropdown\nIt depends.\n:::"))
    converted, _ = convert_notebook(nb)
    tagged = [(text(c), c["metadata"].get("tags")) for c in converted["cells"]]
    assert tagged[1:] == [("**Hint.** Look up.", ["hint", "hide-cell"]),
                          ("**Discussion.** It depends.", ["solution", "hide-cell"])]


def test_other_admonitions_are_left_alone():
    warning = ":::{admonition} Caveat\n:class: warning\nArtists leak.\n:::"
    nb = notebook(md(warning))
    converted, changes = convert_notebook(nb)
    assert changes == 0 and converted == nb


def test_convert_is_idempotent():
    nb = notebook(md("## Exercises\n", cell_id="h"), md(QUESTION_AND_SOLUTION, cell_id="q"),
                  code("print(1)", tags=["hide-input"], cell_id="s"))
    once, _ = convert_notebook(nb)
    twice, changes = convert_notebook(once)
    assert changes == 0 and twice == once


def test_check_names_each_problem():
    nb = notebook(md("## Exercises\n\n**1.** Q?", cell_id="q"),
                  md(":::{admonition} Solution\n:class: dropdown\nA.\n:::", cell_id="left"),
                  code("print(1)", tags=["hide-input"], cell_id="untagged"),
                  code("print(2)", tags=["solution"], cell_id="shown"),
                  code("print(3)", tags=["solution", "hide-cell", "hide-input"], cell_id="both"))
    problems = "\n".join(check_notebook(nb, "nb"))
    assert "cell 1 (id left): `{admonition}`" in problems
    assert "cell 2 (id untagged): an exercise's hide-input code cell is not tagged 'solution'" in problems
    assert "cell 3 (id shown): tagged 'solution' but not 'hide-cell'" in problems
    assert "cell 4 (id both): a solution tagged 'hide-input' too" in problems


def test_render_for_book_wraps_markdown_solutions_in_a_dropdown():
    nb = notebook(md("**Solution.** It is\n\n:::{note}\nx\n:::", tags=["solution", "hide-cell"]),
                  md("**Hint.** Look.", tags=["hint", "hide-cell"], cell_id="h"),
                  code("print(1)", tags=["solution", "hide-cell"]))
    rendered = render_for_book(nb)["cells"]
    assert rendered[0]["source"] == "::::{admonition} Solution\n:class: dropdown solution\nIt is\n\n:::{note}\nx\n:::\n::::\n"
    assert rendered[1]["source"].startswith(":::{admonition} Hint\n:class: dropdown hint\nLook.")
    assert rendered[2]["metadata"]["mystnb"] == {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"}
    assert nb["cells"][0]["metadata"] == {"tags": ["solution", "hide-cell"]}, "the input must not change"


def test_cli_convert_then_check(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    solutions.write_notebook(notebook(md("## Exercises\n", cell_id="h"), md(QUESTION_AND_SOLUTION, cell_id="q")), path)
    assert solutions.main(["check", str(path)]) == 1
    assert solutions.main(["convert", str(path)]) == 0
    assert solutions.main(["check", str(path)]) == 0
    written = path.read_text(encoding="utf-8")
    nb = json.loads(written)
    assert written == json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert "2 solution/hint cell(s) converted" in capsys.readouterr().out


def _chapters():
    return sorted((REPO / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("chapter", _chapters(), ids=lambda p: p.stem)
def test_converting_a_copy_of_each_chapter_keeps_everything_else(chapter, tmp_path):
    """On a copy: the result follows the convention, and code, outputs, ids and prose are kept."""
    copy = tmp_path / chapter.name
    shutil.copy(chapter, copy)
    before = json.loads(copy.read_text(encoding="utf-8"))
    solutions.main(["convert", str(copy)])
    after = json.loads(copy.read_text(encoding="utf-8"))
    assert not check_notebook(after, chapter.name)
    assert after["metadata"] == before["metadata"]
    old_code = [c for c in before["cells"] if c["cell_type"] == "code"]
    new_code = [c for c in after["cells"] if c["cell_type"] == "code"]
    assert len(old_code) == len(new_code)
    for old, new in zip(old_code, new_code, strict=True):
        assert (old.get("id"), old["source"], old["outputs"]) == (new.get("id"), new["source"], new["outputs"])
        assert {k: v for k, v in old["metadata"].items() if k != "tags"} == \
               {k: v for k, v in new["metadata"].items() if k != "tags"}
    assert {c.get("id") for c in before["cells"]} <= {c.get("id") for c in after["cells"]}

    def words(nb):
        prose = " ".join(text(c) for c in nb["cells"] if c["cell_type"] == "markdown")
        for markup in (":::{admonition} Solution", ":::{admonition} Discussion", ":::{admonition} Hint",
                       ":class: dropdown", ":::", "**Solution.**", "**Discussion.**", "**Hint.**"):
            prose = prose.replace(markup, " ")
        return prose.split()

    assert words(after) == words(before)


def test_sphinx_hook_rewrites_only_notebooks_with_tagged_cells():
    class Env:
        def doc2path(self, docname):
            return Path(f"/book/{docname}")

    class App:
        env = Env()

    nb = notebook(md("**Solution.** A.", tags=["solution", "hide-cell"]))
    source = [json.dumps(nb)]
    solutions._source_read(App(), "chapters/x.ipynb", source)
    assert json.loads(source[0])["cells"][0]["source"].startswith(":::{admonition} Solution\n:class: dropdown")
    for docname, text_ in (("chapters/x.md", json.dumps(nb)), ("chapters/y.ipynb", json.dumps(notebook(md("plain"))))):
        source = [text_]
        solutions._source_read(App(), docname, source)
        assert source == [text_]


BOOK_CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("chapter", BOOK_CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_a_summary_and_exercises_with_executed_solutions(chapter):
    """Issue 26: a Summary and an Exercises section in every chapter, and every code solution executed
    (stored with the outputs the chapter's runner gave it; a solution shown but not run fails)."""
    nb = solutions.read_notebook(chapter)
    headings = [line for cell in nb["cells"] if cell["cell_type"] == "markdown"
                for line in solutions.cell_text(cell).splitlines() if line.startswith("## ")]
    assert "## Summary" in headings and "## Exercises" in headings, f"{chapter.name}: {headings}"
    unrun = [cell.get("id") for cell in nb["cells"] if cell["cell_type"] == "code"
             and solutions.is_solution(cell) and cell.get("execution_count") is None]
    assert not unrun, f"{chapter.name}: solution cells never executed (run the chapter): {unrun}"



def _code(source: str) -> str:
    """A cell's source without IPython's magic and shell lines (not Python)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _assigned_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(_code(source))):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _read_names(source: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(_code(source))) if isinstance(node, ast.Name)}


@pytest.mark.parametrize("path", sorted((REPO / "chapters").glob("*.ipynb")), ids=lambda p: p.stem)
def test_cells_ci_skips_are_executed_solutions_that_nothing_later_needs(path):
    """``nbval-skip`` (CI time): only on exercise solutions that were run (stored outputs, timed), and no
    later code cell of the chapter reads a name such a cell defines, so skipping it cannot break the rest."""
    cells = json.loads(path.read_text())["cells"]
    for index, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if "nbval-skip" not in tags:
            continue
        assert cell["cell_type"] == "code" and "solution" in tags, f"{path.name}: nbval-skip on {cell.get('id')}"
        assert "iopub.execute_input" in cell["metadata"].get("execution", {}), f"{path.name}: {cell.get('id')} not run"
        defined = _assigned_names("".join(cell["source"]))
        for later in cells[index + 1:]:
            if later["cell_type"] != "code" or "nbval-skip" in later.get("metadata", {}).get("tags", []):
                continue
            source = "".join(later["source"])
            needed = (defined & _read_names(source)) - _assigned_names(source)
            assert not needed, f"{path.name}: cell {later.get('id')} reads {sorted(needed)} from {cell.get('id')}"
