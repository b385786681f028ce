"""Keep the code a chapter shows identical to ``helpers``: rewrite ``#@save`` cells from the helpers' source.

``python -m tools.shown_code --check [chapters/NN_x.ipynb ...]`` lists every top-level def/class of a
``#@save <module>`` cell that differs from ``<module>``'s (docstrings aside: what
``tests/test_shown_code.py`` compares); ``--write`` replaces each such definition in the cell by the
helper's source, keeping the cell's own docstring (a chapter may word it for its reader). Only the
cell's source changes (json, cell ids and outputs kept); re-execute the chapter afterwards. The
helper is the reference: edit ``helpers`` first, then write the chapters (issue 27).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK = re.compile(r"^#@save (helpers(?:\.\w+)+)\s*$")


def _docstring_lines(node) -> tuple[int, int] | None:
    """First and last line (1-based) of a def/class node's docstring, or None."""
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.lineno, first.end_lineno
    return None


def _strip(source: str) -> str:
    """A definition's source without its docstrings, trailing spaces and final blank lines."""
    tree = ast.parse(textwrap.dedent(source))
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            span = _docstring_lines(node)
            if span:
                drop.update(range(span[0], span[1] + 1))
    lines = [line.rstrip() for i, line in enumerate(textwrap.dedent(source).splitlines(), 1) if i not in drop]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def rewritten_cell(module: str, body: str) -> tuple[str, list[str]]:
    """The cell body with every differing definition replaced by the helper's, and their names."""
    lines = body.splitlines()
    tree = ast.parse(body)
    changed, edits = [], []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        helper = getattr(importlib.import_module(module), node.name, None)
        if helper is None:
            raise SystemExit(f"{module} has no {node.name}: add it to helpers first")
        start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
        shown = "\n".join(lines[start:node.end_lineno])
        source = inspect.getsource(helper)
        if _strip(shown) == _strip(source):
            continue
        new = source.rstrip("\n").splitlines()
        helper_doc = _docstring_lines(ast.parse(source).body[0])
        cell_doc = _docstring_lines(node)
        if helper_doc:  # the cell's docstring replaces the helper's (or none, if the cell has none)
            keep = lines[cell_doc[0] - 1:cell_doc[1]] if cell_doc else []
            new[helper_doc[0] - 1:helper_doc[1]] = keep
        edits.append((start, node.end_lineno, new))
        changed.append(node.name)
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    return "\n".join(lines), changed


def process(path: Path, write: bool) -> list[str]:
    """Check (or rewrite) the #@save cells of one notebook; returns what differed, one line each."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    report = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        first, _, body = source.partition("\n")
        match = MARK.match(first)
        if not match:
            continue
        new_body, changed = rewritten_cell(match.group(1), body)
        if changed:
            report.append(f"{path.name} cell {index} (id {cell.get('id')}): {', '.join(changed)}")
            cell["source"] = f"{first}\n{new_body}".splitlines(keepends=True)
    if report and write:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m tools.shown_code --check|--write [notebooks ...]``."""
    parser = argparse.ArgumentParser(prog="python -m tools.shown_code", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list the shown definitions that differ (exit 1 if any)")
    mode.add_argument("--write", action="store_true", help="rewrite them from the helpers' source")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    notebooks = args.notebooks or sorted((REPO / "chapters").glob("*.ipynb"))
    report = [line for path in notebooks for line in process(path, args.write)]
    for line in report:
        print(("rewrote " if args.write else "differs: ") + line)
    return 1 if report and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
