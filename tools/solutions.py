"""Exercise solutions as tagged cells: hidden with their outputs in the book, clean in Jupyter and Colab.

The convention
--------------
An exercise is a markdown question (``**2.** Why must ...?``). Its solution is its *own* cell, tagged
``solution`` and ``hide-cell``:

* a **code** solution is a code cell tagged ``solution`` + ``hide-cell``: Jupyter Book collapses the
  whole cell, input *and* outputs, behind a "Show solution" button;
* a **markdown** solution is a markdown cell that starts with ``**Solution.**`` tagged ``solution`` +
  ``hide-cell``. Jupyter and Colab show it as plain text (no directive markup); in the HTML book the
  Sphinx extension in this module (``setup`` below, listed under ``sphinx: local_extensions`` in
  ``_config.yml``) wraps it in a collapsed "Solution" dropdown at build time, so the notebook itself
  never holds ``:::{admonition}`` markup.

Hints follow the same rule with the tag ``hint`` (``**Hint.** ...``); they stay in the student hand-out
(``python -m tools.handout``), solutions do not.

Assignments (``assignments/*.ipynb``, graded by otter-grader) use the same tags and three more. Each
question starts with a markdown cell whose metadata says ``"grading": {"name": "q1", "points": 3}``;
then come its ``answer`` cells (the student's starting code, e.g. ``alias_hz = ...``; kept in the
hand-out), its ``solution`` cells (removed from the hand-out, as in the chapters), its public ``test``
cells (the student's ``grader.check`` runs them; for format, not marks) and its ``hidden-test`` cells
(in the teacher's grading files only: they recompute the expected results and carry the marks).
``check_assignment`` says when an assignment breaks this; ``python -m tools.handout`` turns it into a
student notebook and the teacher's otter autograder (see ``tools/handout.py``). The tests run after the
whole notebook, on its final variables: give each question's variables names of their own (a later
question that reuses ``test`` would change what an earlier question's test reads).

Commands
--------
``python -m tools.solutions convert [NOTEBOOK ...]`` rewrites notebooks in place (default: every
``chapters/*.ipynb``): each ``:::{admonition} Solution`` / ``Discussion`` / ``Hint`` dropdown inside a
markdown cell becomes its own tagged markdown cell (text before and after stays in cells of its own);
a code cell tagged ``hide-input`` in a chapter's *Exercises* section is retagged ``solution`` +
``hide-cell``; a markdown cell right after such a code cell that does not start with the next
question is the solution's commentary and is tagged too. Outputs, cell ids and all other metadata are
kept; the file is written as ``json.dump(nb, f, indent=1, sort_keys=True, ensure_ascii=False)`` plus a
newline, as ``tools.notebooks`` writes it. Converting twice changes nothing.

``python -m tools.solutions check [NOTEBOOK ...]`` exits with status 1 and names the cell when a
solution admonition is left, a ``solution``/``hint`` cell lacks ``hide-cell``, or an exercise's
``hide-input`` code cell is not tagged ``solution`` (default: the chapters and the assignments, which
are also held to ``check_assignment``).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = REPO / "chapters"

SOLUTION_TAG = "solution"
HINT_TAG = "hint"
HIDE_TAG = "hide-cell"
#: Assignment cells (``assignments/*.ipynb``): the student's starting code, public and hidden tests.
ANSWER_TAG = "answer"
TEST_TAG = "test"
HIDDEN_TEST_TAG = "hidden-test"
#: The metadata key of an assignment question's first (markdown) cell: ``{"name": ..., "points": ...}``.
GRADING_KEY = "grading"
ASSIGNMENTS = REPO / "assignments"

#: Admonition titles converted, and the tag and label their cell gets.
KINDS = {"solution": (SOLUTION_TAG, "Solution"), "discussion": (SOLUTION_TAG, "Discussion"),
         "hint": (HINT_TAG, "Hint")}

_OPEN = re.compile(r"^(?P<fence>:{3,})\{admonition\}\s*(?P<title>Solution|Discussion|Hint)\s*$", re.I)
_CLASS = re.compile(r"^:class:.*$")
_LEFTOVER = re.compile(r"\{admonition\}\s*(Solution|Discussion|Hint)\b", re.I)
_EXERCISES = re.compile(r"^#{1,6}\s+Exercises\b", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+\S", re.M)
#: The start of a question: ``**2.**``, ``**2. Title.**``, ``2. **Title.**``, or a heading.
_QUESTION = re.compile(r"^\s*(\*\*\d+\.|\d+\.\s+\*\*|#{1,6}\s)")
_LABEL = re.compile(r"^\*\*(Solution|Discussion|Hint)(?: \(continued\))?\.\*\*[ \t]*\n?", re.I)


# ---------------------------------------------------------------------------------------------
# notebook I/O


def read_notebook(path: Path) -> dict:
    """A notebook as plain JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_notebook(nb: dict, path: Path) -> None:
    """Write a notebook as plain JSON in nbformat's layout."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def cell_text(cell: dict) -> str:
    """A cell's source as one string."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _as_source(text: str, like) -> list[str] | str:
    """``text`` in the notebook's source format (list of lines, as stored, or one string)."""
    return text if isinstance(like, str) else text.splitlines(keepends=True)


def tags_of(cell: dict) -> list[str]:
    """A cell's tags."""
    return list(cell.get("metadata", {}).get("tags", []))


def _set_tags(cell: dict, tags: list[str]) -> None:
    cell.setdefault("metadata", {})["tags"] = tags


def is_solution(cell: dict) -> bool:
    """Whether a cell is an exercise's solution (tagged ``solution``)."""
    return SOLUTION_TAG in tags_of(cell)


# ---------------------------------------------------------------------------------------------
# splitting admonitions out of markdown cells


def split_admonitions(text: str) -> list[tuple[str, str | None]]:
    """Split markdown into ``(text, kind)`` segments: ``kind`` is None for plain text, else a key of :data:`KINDS` for the body of a ``:::{admonition} Solution`` (Discussion, Hint) block."""
    lines = text.splitlines()
    segments: list[tuple[str, str | None]] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        n = len(match["fence"])
        j = i + 1
        if j < len(lines) and _CLASS.match(lines[j]):
            j += 1
        body: list[str] = []
        depth = 0
        while j < len(lines):
            line = lines[j]
            if re.match(rf"^:{{{n},}}\{{", line):
                depth += 1
            elif re.match(rf"^:{{{n},}}\s*$", line):
                if depth == 0:
                    break
                depth -= 1
            body.append(line)
            j += 1
        else:
            raise ValueError(f"unclosed {lines[i]!r} block")
        segments.append(("\n".join(plain), None))
        plain = []
        segments.append(("\n".join(body), match["title"].lower()))
        i = j + 1
    segments.append(("\n".join(plain), None))
    return [(seg.strip("\n"), kind) for seg, kind in segments if seg.strip()]


def _new_id(nb: dict, used: set, base: str, suffix: str) -> str | None:
    """A fresh cell id ``<base>-<suffix><k>`` (None for notebooks older than nbformat 4.5, which have no ids)."""
    if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) < (4, 5):
        return None
    k = 1
    while f"{base[: 60 - len(suffix)]}-{suffix}{k}" in used:
        k += 1
    used.add(f"{base[: 60 - len(suffix)]}-{suffix}{k}")
    return f"{base[: 60 - len(suffix)]}-{suffix}{k}"


def _markdown_cell(nb: dict, used: set, like: dict, text: str, tags: list[str], suffix: str) -> dict:
    cell = {"cell_type": "markdown", "metadata": {"tags": tags} if tags else {},
            "source": _as_source(text, like.get("source", []))}
    new_id = _new_id(nb, used, like.get("id") or "cell", suffix)
    if new_id:
        cell["id"] = new_id
    return cell


def _labelled(kind: str, body: str) -> str:
    label = KINDS[kind][1]
    if _LABEL.match(body):
        return body
    if body.lstrip().startswith(("```", "~~~", ":::", "$$", "- ", "* ", "|", "1.")):
        return f"**{label}.**\n\n{body}"
    return f"**{label}.** {body}"


# ---------------------------------------------------------------------------------------------
# convert


def _exercise_flags(cells: list[dict]) -> list[bool]:
    """For each cell, whether it comes after an ``Exercises`` heading (until the next heading as high)."""
    flags, level = [], None
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = cell_text(cell)
            for heading in _HEADING.finditer(text):
                depth = len(heading[1])
                if _EXERCISES.match(text, heading.start()):
                    level = depth
                elif level is not None and depth <= level:
                    level = None
            flags.append(level is not None or bool(_EXERCISES.search(text)))
        else:
            flags.append(level is not None)
    return flags


def convert_notebook(nb: dict) -> tuple[dict, int]:
    """Return ``(converted copy, number of cells changed or added)``; see the module docstring."""
    nb = copy.deepcopy(nb)
    changes = 0
    used = {c.get("id") for c in nb["cells"]}
    # 1. admonitions -> cells of their own
    cells: list[dict] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or not any(_OPEN.match(x) for x in cell_text(cell).splitlines()):
            cells.append(cell)
            continue
        segments = split_admonitions(cell_text(cell))
        first = True
        for text, kind in segments:
            if kind is None:
                if first:
                    cell["source"] = _as_source(text, cell["source"])
                    cells.append(cell)
                else:
                    cells.append(_markdown_cell(nb, used, cell, text, [], "text"))
            else:
                tag = KINDS[kind][0]
                new = _markdown_cell(nb, used, cell, _labelled(kind, text), [tag, HIDE_TAG], tag[:3])
                if first:  # the cell was nothing but the admonition: keep its id and metadata
                    new["metadata"] = {**cell.get("metadata", {}), "tags": _merge(tags_of(cell), [tag, HIDE_TAG])}
                    if "id" in cell:
                        new["id"] = cell["id"]
                cells.append(new)
                changes += 1
            first = False
    nb["cells"] = cells
    # 2. code solutions (hide-input in an Exercises section) and their commentary
    flags = _exercise_flags(cells)
    out: list[dict] = []
    for cell, in_exercises in zip(cells, flags, strict=True):
        tags = tags_of(cell)
        if in_exercises and cell["cell_type"] == "code" and "hide-input" in tags and SOLUTION_TAG not in tags:
            _set_tags(cell, _merge([t for t in tags if t != "hide-input"], [SOLUTION_TAG, HIDE_TAG]))
            changes += 1
        elif (in_exercises and cell["cell_type"] == "markdown" and out and out[-1]["cell_type"] == "code"
              and is_solution(out[-1]) and not tags):
            text = cell_text(cell)
            lines = text.splitlines(keepends=True)
            cut = next((k for k, line in enumerate(lines) if _QUESTION.match(line)), len(lines))
            commentary, rest = "".join(lines[:cut]).strip("\n"), "".join(lines[cut:]).strip("\n")
            if commentary.strip():
                changes += 1
                if rest.strip():
                    cell["source"] = _as_source(rest, cell["source"])
                    out.append(_markdown_cell(nb, used, cell, commentary, [SOLUTION_TAG, HIDE_TAG], "sol"))
                else:
                    cell["source"] = _as_source(commentary, cell["source"])
                    _set_tags(cell, [SOLUTION_TAG, HIDE_TAG])
        out.append(cell)
    nb["cells"] = out
    return nb, changes


def _merge(tags: list[str], extra: list[str]) -> list[str]:
    return tags + [t for t in extra if t not in tags]


# ---------------------------------------------------------------------------------------------
# check


def check_notebook(nb: dict, name: str = "notebook") -> list[str]:
    """Problems with the solution convention in ``nb`` (empty when it follows it)."""
    problems = []
    flags = _exercise_flags(nb["cells"])
    for index, (cell, in_exercises) in enumerate(zip(nb["cells"], flags, strict=True)):
        where = f"{name}, cell {index}" + (f" (id {cell['id']})" if cell.get("id") else "")
        tags = tags_of(cell)
        if cell["cell_type"] == "markdown" and _LEFTOVER.search(cell_text(cell)):
            problems.append(f"{where}: `{{admonition}}` solution/hint markup left (run `python -m tools.solutions convert`)")
        for tag in (SOLUTION_TAG, HINT_TAG):
            if tag in tags and HIDE_TAG not in tags:
                problems.append(f"{where}: tagged {tag!r} but not {HIDE_TAG!r} (it would show in the book)")
        if SOLUTION_TAG in tags and "hide-input" in tags:
            problems.append(f"{where}: a solution tagged 'hide-input' too (its outputs would show): use only {HIDE_TAG!r}")
        if in_exercises and cell["cell_type"] == "code" and "hide-input" in tags and SOLUTION_TAG not in tags:
            problems.append(f"{where}: an exercise's hide-input code cell is not tagged {SOLUTION_TAG!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# assignments


def questions(nb: dict) -> list[dict]:
    """The questions of an assignment: ``{"name", "points", "cells": [indices]}`` in order.

    A question runs from its markdown cell with ``metadata.grading`` to the cell before the next one
    (or to the end); cells before the first question are the assignment's preamble.
    """
    found: list[dict] = []
    for index, cell in enumerate(nb["cells"]):
        grading = cell.get("metadata", {}).get(GRADING_KEY)
        if grading is not None:
            found.append({"name": grading.get("name"), "points": grading.get("points"), "cells": [index]})
        elif found:
            found[-1]["cells"].append(index)
    return found


def check_assignment(nb: dict, name: str = "assignment") -> list[str]:
    """Problems with an assignment notebook (empty when it follows the convention above)."""
    problems = check_notebook(nb, name)
    found = questions(nb)
    if not found:
        return [*problems, f"{name}: no question (a markdown cell with metadata.{GRADING_KEY})"]
    seen = set()
    first = found[0]["cells"][0]
    for index, cell in enumerate(nb["cells"][:first]):
        if {ANSWER_TAG, TEST_TAG, HIDDEN_TEST_TAG} & set(tags_of(cell)):
            problems.append(f"{name}, cell {index}: an answer or test cell before the first question")
    for question in found:
        label, points = question["name"], question["points"]
        where = f"{name}, question {label!r}"
        if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z_]\w*", label) or label in seen:
            problems.append(f"{where}: the name must be a unique identifier")
        seen.add(label)
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            problems.append(f"{where}: points must be a positive number, got {points!r}")
        cells = [nb["cells"][i] for i in question["cells"]]
        if cells[0]["cell_type"] != "markdown":
            problems.append(f"{where}: its first cell (the question) must be markdown")
        kinds = [(c["cell_type"], set(tags_of(c))) for c in cells[1:]]
        for tag, kind in ((ANSWER_TAG, "code"), (SOLUTION_TAG, "code"), (HIDDEN_TEST_TAG, "code")):
            if not any(t == kind and tag in tags for t, tags in kinds):
                problems.append(f"{where}: no {kind} cell tagged {tag!r}")
        for cell_type, tags in kinds:
            if cell_type == "code" and not tags & {ANSWER_TAG, SOLUTION_TAG, TEST_TAG, HIDDEN_TEST_TAG}:
                problems.append(f"{where}: an untagged code cell (tag it answer, solution, test or hidden-test)")
            if len(tags & {ANSWER_TAG, SOLUTION_TAG, TEST_TAG, HIDDEN_TEST_TAG}) > 1:
                problems.append(f"{where}: a cell with more than one of answer/solution/test/hidden-test")
    return problems


# ---------------------------------------------------------------------------------------------
# Sphinx extension: markdown solutions become collapsed dropdowns in the HTML (build time only)


def render_for_book(nb: dict) -> dict:
    """The notebook as the book renders it: each tagged markdown solution/hint wrapped in a dropdown admonition, each tagged code solution's toggle labelled "Show solution"."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        tags = tags_of(cell)
        kind = SOLUTION_TAG if SOLUTION_TAG in tags else HINT_TAG if HINT_TAG in tags else None
        if kind is None or HIDE_TAG not in tags:
            continue
        if cell["cell_type"] == "code":
            word = "solution" if kind == SOLUTION_TAG else "hint"
            cell["metadata"].setdefault("mystnb", {}).update(
                code_prompt_show=f"Show {word}", code_prompt_hide=f"Hide {word}")
        elif cell["cell_type"] == "markdown":
            text = cell_text(cell)
            label = _LABEL.match(text)
            title = label[1].capitalize() if label else ("Solution" if kind == SOLUTION_TAG else "Hint")
            body = text[label.end():] if label else text
            longest = max([len(m) for m in re.findall(r"^:{3,}", body, re.M)] + [2])
            fence = ":" * (longest + 1)
            cell["source"] = f"{fence}{{admonition}} {title}\n:class: dropdown {kind}\n{body.strip()}\n{fence}\n"
    return nb


def _source_read(app, docname: str, source: list[str]) -> None:
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    try:
        nb = json.loads(source[0])
    except (ValueError, TypeError):
        return
    if any(SOLUTION_TAG in tags_of(c) or HINT_TAG in tags_of(c) for c in nb.get("cells", [])):
        source[0] = json.dumps(render_for_book(nb), ensure_ascii=False)


def setup(app):
    """Sphinx extension entry point: connect the source-read hook."""
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


# ---------------------------------------------------------------------------------------------
# command line


def _paths(names: list[str], assignments: bool = False) -> list[Path]:
    if names:
        return [Path(n) for n in names]
    return sorted(CHAPTERS.glob("*.ipynb")) + (sorted(ASSIGNMENTS.glob("*.ipynb")) if assignments else [])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m tools.solutions``."""
    parser = argparse.ArgumentParser(prog="python -m tools.solutions", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("convert", "rewrite notebooks in place to the convention"),
                       ("check", "fail if a notebook breaks the convention")):
        p = sub.add_parser(name, help=text)
        p.add_argument("notebooks", nargs="*", help="default: chapters/*.ipynb")
    args = parser.parse_args(argv)
    status = 0
    for path in _paths(args.notebooks, assignments=args.command == "check"):
        nb = read_notebook(path)
        if args.command == "convert":
            converted, changes = convert_notebook(nb)
            if changes:
                write_notebook(converted, path)
            print(f"{path}: {changes} solution/hint cell(s) converted" if changes else f"{path}: nothing to convert")
        else:
            problems = check_assignment(nb, str(path)) if questions(nb) else check_notebook(nb, str(path))
            for problem in problems:
                print(problem, file=sys.stderr)
            status = status or int(bool(problems))
    if args.command == "check" and not status:
        print("every solution is its own cell tagged 'solution' + 'hide-cell'")
    return status


if __name__ == "__main__":
    sys.exit(main())
