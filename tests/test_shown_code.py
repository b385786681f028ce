"""Code shown is code run: each function a chapter defines in a ``#@save`` cell is, byte for byte
(docstrings aside), the function that ``helpers`` provides to later chapters (d2l's convention).

A chapter teaches an idea by defining it in a code cell whose first line is ``#@save <module>``,
for example ``#@save helpers.mfcc``. Every top-level ``def`` or ``class`` of such a cell must
exist in that module (where it is defined, not re-exported) with the same source once docstrings
are removed (comments, argument checks and formatting included); the cell holds nothing else but
imports. Edit both together (``python -m tools.shown_code --write`` copies a helper's source into
its chapter's cell); this test fails as soon as they drift apart.

Which functions a chapter must show is not kept here: it is derived from the helpers' docstrings,
where each shown function has one line ``Notebook: chapters/NN_name.ipynb`` (libfmp's convention).
A shown function may call other helpers only if they are shown too, are exceptions, or are
documented plumbing: their docstring names the chapter that explains them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = REPO / "chapters"
PACKAGE = REPO / "helpers"
MARK = re.compile(r"^#@save (helpers(?:\.\w+)+)\s*$")
NOTEBOOK_LINE = re.compile(r"^\s*Notebook: chapters/(\w+)\.ipynb\s*$", re.M)


def notebook_lines() -> dict[str, dict[str, list[str]]]:
    """``{chapter stem: {module: [names]}}`` from the ``Notebook:`` lines of the helpers' docstrings.

    Read from the source files (no import): top-level functions and classes of every module.
    """
    shown: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for chapter in NOTEBOOK_LINE.findall(ast.get_docstring(node) or ""):
                    shown.setdefault(chapter, {}).setdefault(module, []).append(node.name)
    return shown


#: chapter stem -> {module: [names the chapter must define in a #@save cell]}, derived.
SHOWN = notebook_lines()


def _strip_docstrings(source: str) -> str:
    """``source`` (one def/class) without its docstrings, dedented, trailing spaces removed."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                drop.update(range(first.lineno, first.end_lineno + 1))
    lines = [line.rstrip() for i, line in enumerate(source.splitlines(), 1) if i not in drop]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def saved_cells(path: Path) -> list[tuple[str, str, int]]:
    """``(module, source without the marker line, cell index)`` for each ``#@save`` cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        first, _, rest = source.partition("\n")
        match = MARK.match(first)
        if match:
            found.append((match.group(1), rest, index))
    return found


def shown_definitions(path: Path) -> list[tuple[str, str, str, int]]:
    """``(module, name, source, cell index)`` of every top-level def/class in ``#@save`` cells."""
    shown = []
    for module, source, index in saved_cells(path):
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                segment = ast.get_source_segment(source, node, padded=True)
                if node.decorator_list:
                    start = node.decorator_list[0].lineno
                    segment = "\n".join(source.splitlines()[start - 1:node.end_lineno])
                shown.append((module, node.name, segment, index))
    return shown


NOTEBOOKS = sorted(CHAPTERS.glob("*.ipynb"))
DEFINITIONS = [(path.stem, *item) for path in NOTEBOOKS for item in shown_definitions(path)]


@pytest.mark.parametrize("chapter, module, name, source, cell", DEFINITIONS,
                         ids=[f"{d[0]}:{d[2]}" for d in DEFINITIONS])
def test_shown_definition_is_the_helper(chapter, module, name, source, cell):
    helper = getattr(importlib.import_module(module), name, None)
    assert helper is not None, f"chapters/{chapter}.ipynb cell {cell} shows {name}, which {module} lacks"
    assert helper.__module__ == module, (
        f"chapters/{chapter}.ipynb cell {cell}: '#@save {module}' names a module that re-exports {name}; "
        f"name the module that defines it: '#@save {helper.__module__}'")
    expected = _strip_docstrings(inspect.getsource(helper))
    shown = _strip_docstrings(source)
    assert shown == expected, (
        f"chapters/{chapter}.ipynb cell {cell} shows a {name} that differs from {module}.{name}: "
        "edit both together (docstrings may differ, nothing else)")


def test_the_derived_list_is_not_empty_and_names_real_chapters():
    assert sum(len(names) for modules in SHOWN.values() for names in modules.values()) >= 30
    missing = sorted(chapter for chapter in SHOWN if not (CHAPTERS / f"{chapter}.ipynb").is_file())
    assert not missing, f"Notebook: lines name chapters that do not exist: {missing}"


@pytest.mark.parametrize("chapter", sorted(SHOWN))
def test_chapter_shows_what_it_teaches(chapter):
    path = CHAPTERS / f"{chapter}.ipynb"
    shown = {(module, name) for module, name, _, _ in shown_definitions(path)}
    missing = [f"{module}.{name}" for module, names in SHOWN[chapter].items() for name in names
               if (module, name) not in shown]
    assert not missing, (f"chapters/{chapter}.ipynb does not define in a '#@save <module>' cell what the "
                         f"helpers' docstrings say it shows (Notebook: chapters/{chapter}.ipynb): {missing}")


@pytest.mark.parametrize("chapter, module, name, source, cell", DEFINITIONS,
                         ids=[f"{d[0]}:{d[2]}" for d in DEFINITIONS])
def test_shown_definition_says_so_in_its_docstring(chapter, module, name, source, cell):
    assert name in SHOWN.get(chapter, {}).get(module, []), (
        f"chapters/{chapter}.ipynb cell {cell} shows {module}.{name}, whose docstring lacks the line "
        f"'Notebook: chapters/{chapter}.ipynb'")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_save_cells_hold_only_definitions_and_imports(path):
    wrong = []
    for _, source, index in saved_cells(path):
        for node in ast.parse(source).body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                     ast.ImportFrom)):
                wrong.append(f"cell {index}, line {node.lineno + 1}: {ast.get_source_segment(source, node)[:60]!r}")
    assert not wrong, (f"chapters/{path.name}: a #@save cell holds statements other than def/class/import "
                       f"(move them to the next cell): {wrong}")


def _plumbing_problem(target, shown: set[tuple[str, str]]) -> str | None:
    """Why a helper called by a shown function is neither shown, an exception nor documented plumbing."""
    if isinstance(target, type) and issubclass(target, BaseException):
        return None
    if (target.__module__, target.__name__) in shown:
        return None
    doc = inspect.getdoc(target) or ""
    if re.search(r"\bchapters?\b", doc, re.I):
        return None
    return "neither shown nor documented plumbing (its docstring names no chapter)"


SHOWN_PAIRS = [(chapter, module, name) for chapter, modules in SHOWN.items()
               for module, names in modules.items() for name in names]


@pytest.mark.parametrize("chapter, module, name", SHOWN_PAIRS, ids=[f"{c}:{n}" for c, _, n in SHOWN_PAIRS])
def test_shown_functions_call_only_shown_or_documented_helpers(chapter, module, name):
    home = importlib.import_module(module)
    tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(home, name))))
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    shown = {(m, n) for _, m, n in SHOWN_PAIRS}
    problems = []
    for callee in sorted(called - {name}):
        target = getattr(home, callee, None)
        if target is None or not callable(target) or not getattr(target, "__module__", "").startswith("helpers"):
            continue
        problem = _plumbing_problem(target, shown)
        if problem:
            problems.append(f"{target.__module__}.{callee}: {problem}")
    assert not problems, f"{module}.{name} (shown in chapters/{chapter}.ipynb) calls {problems}"


def test_the_check_sees_a_drift(tmp_path):
    """The comparison is not vacuous: a changed line or comment is a difference, a docstring is not."""
    original = 'def f(x):\n    """Doc."""\n    # double it\n    return 2 * x\n'
    assert _strip_docstrings(original) == _strip_docstrings(original.replace('"""Doc."""', '"""Other."""'))
    assert _strip_docstrings(original) != _strip_docstrings(original.replace("2 * x", "3 * x"))
    assert _strip_docstrings(original) != _strip_docstrings(original.replace("double", "twice"))
    notebook = {"cells": [{"cell_type": "code", "source": ["#@save helpers.errors\n", original]}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    assert [(m, n) for m, n, _, _ in shown_definitions(path)] == [("helpers.errors", "f")]


def test_the_rewriting_tool_copies_the_helper_and_keeps_the_cells_docstring(tmp_path):
    """python -m tools.shown_code --write makes a drifted cell identical again, its own docstring kept."""
    from tools import shown_code

    drifted = ('def require_columns(table, columns, what="table"):\n    """The chapter\'s own words."""\n'
               "    return None  # drifted\n")
    notebook = {"cells": [{"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["#@save helpers.errors\n", drifted]}]}
    path = tmp_path / "99_demo.ipynb"
    path.write_text(json.dumps(notebook))
    assert shown_code.main(["--check", str(path)]) == 1
    assert shown_code.main(["--write", str(path)]) == 0
    assert shown_code.main(["--check", str(path)]) == 0
    source = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert "The chapter's own words." in source and "drifted" not in source
    [(module, name, shown, _)] = shown_definitions(path)
    assert _strip_docstrings(shown) == _strip_docstrings(inspect.getsource(importlib.import_module(module).require_columns))
