"""Code shown is code run: each function a chapter defines in a ``#@save`` cell is, byte for byte
(docstrings aside), the function that ``helpers`` provides to later chapters (d2l's convention).

A chapter teaches an idea by defining it in a code cell whose first line is ``#@save <module>``,
for example ``#@save helpers.mfcc``. Every top-level ``def`` or ``class`` of such a cell must
exist in that module with the same source once docstrings are removed (comments, argument checks
and formatting included). Edit both together; this test fails as soon as they drift apart.

``SHOWN`` lists, per chapter, the functions the chapter must show (the book's promise in the
issue "Code shown is code run"); a chapter may show more.
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
MARK = re.compile(r"^#@save (helpers(?:\.\w+)+)\s*$")

#: chapter stem -> {module: [names the chapter must define in a #@save cell]}
SHOWN: dict[str, dict[str, list[str]]] = {
    "01_spotify_baseline": {
        "helpers.models.spotify": ["build_dense", "build_cnn1d", "build_rnn"],
    },
    "03_spectrograms_and_mfccs": {
        "helpers.mfcc": ["frame_signal", "hann_window", "power_spectrogram", "hz_to_mel", "mel_to_hz",
                         "mel_filterbank", "power_to_db", "log_mel_spectrogram", "dct_matrix", "mfcc"],
    },
    "05_features": {
        "helpers.features": ["segment_starts", "report_segment_mfccs"],
    },
    "06_cnn": {
        "helpers.models.mfcc": ["conv_block", "report_conv_blocks", "build_report_cnn"],
        "helpers.training": ["compile_model", "fit_model"],
    },
    "07_lstm": {
        "helpers.models.mfcc": ["build_report_lstm"],
    },
    "08_evaluation": {
        "helpers.metrics": ["track_vote"],
        "helpers.evaluation": ["late_fusion", "cross_validate", "nested_cross_validate"],
        "helpers.models.mfcc": ["build_gap_cnn"],
        "helpers.stats": ["corrected_resampled_ttest", "holm"],
    },
    "09_beyond": {
        "helpers.models.beyond": ["build_fusion_model", "build_logmel_cnn"],
    },
    "10_transfer_learning": {
        "helpers.models.probe": ["nested_probe_cv"],
    },
}


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
    expected = _strip_docstrings(inspect.getsource(helper))
    shown = _strip_docstrings(source)
    assert shown == expected, (
        f"chapters/{chapter}.ipynb cell {cell} shows a {name} that differs from {module}.{name}: "
        "edit both together (docstrings may differ, nothing else)")


@pytest.mark.parametrize("chapter", sorted(SHOWN))
def test_chapter_shows_what_it_teaches(chapter):
    path = CHAPTERS / f"{chapter}.ipynb"
    shown = {(module, name) for module, name, _, _ in shown_definitions(path)}
    missing = [f"{module}.{name}" for module, names in SHOWN[chapter].items() for name in names
               if (module, name) not in shown]
    assert not missing, f"chapters/{chapter}.ipynb does not define in a #@save cell: {missing}"


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
