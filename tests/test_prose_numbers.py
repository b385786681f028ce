"""No typed results: numbers in a chapter's prose come from its outputs or from recorded timings.

A result of the book's own runs (an accuracy, a gain, a runtime) is printed by the notebook, or
written by generated Markdown (``display(Markdown(...))``), never typed into a markdown cell where
it would go stale when the chapter is re-executed. Two checks:

- every decimal percentage (``84.3 %``) and every measured time (``169 s measured``) in a markdown
  cell appears in that notebook's outputs (numbers quoted from the report or the literature are
  integers there, or carry their source: add them to ``QUOTED`` with the source);
- each chapter's **Runtime** paragraph is the one :func:`tools.runtimes.stamp_runtime` writes from
  the stored cells' execution times (``python -m tools.notebooks run`` stamps it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools.runtimes import notebook_runtime, runtime_sentence, stated_runtime

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))

#: Decimal numbers quoted from a source (not results of the book's runs): number -> source.
QUOTED: dict[str, str] = {}

_RESULT = re.compile(r"(\d+\.\d+)\s?%|(\d+(?:\.\d+)?)\s?(?:s|min|minutes|seconds)\s+measured"
                     r"|measured\s+(?:in\s+)?(\d+(?:\.\d+)?)\s?(?:s|min)\b")
_CODE_OR_MATH = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\{\{[^}]*\}\}", re.S)


def typed_numbers(notebook: dict) -> list[tuple[int, str, str]]:
    """``(cell index, number, context)`` for each result-like number in markdown that no output shows."""
    cells = notebook["cells"]
    shown = " ".join(
        "".join(output.get("text", "")) + " "
        + " ".join("".join(v) for k, v in output.get("data", {}).items() if k.startswith("text"))
        for cell in cells for output in cell.get("outputs", []))
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = _CODE_OR_MATH.sub("", "".join(cell["source"]))
        text = re.sub(r"^\*\*Runtime\*\*:.*$", "", text, flags=re.M)  # checked below
        for match in _RESULT.finditer(text):
            number = next(g for g in match.groups() if g)
            value = float(number)
            forms = {number, f"{value:.1f}", f"{value / 100:.3f}", f"{value / 100:.2f}"}
            if number not in QUOTED and not any(form in shown for form in forms):
                found.append((index, number, text[max(0, match.start() - 60):match.end() + 10]))
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_typed_results(path):
    typed = typed_numbers(json.loads(path.read_text(encoding="utf-8")))
    assert not typed, f"{path.name}: markdown types results no output shows: {typed}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_runtime_comes_from_recorded_times(path):
    assert stated_runtime(path) == runtime_sentence(notebook_runtime(path)), (
        f"{path.name}: the Runtime paragraph is not the recorded one; "
        "re-execute with `python -m tools.notebooks run` (it stamps the paragraph)")


def test_the_check_catches_a_typed_result():
    notebook = {"cells": [
        {"cell_type": "markdown", "source": "The CNN reaches 84.3 % and takes 169 s measured."},
        {"cell_type": "markdown", "source": "Frames overlap by 75 %; `x = 12.5 %` is code."},
        {"cell_type": "code", "source": "", "outputs": [{"output_type": "stream", "text": "acc 0.843"}]},
    ]}
    assert [n for _, n, _ in typed_numbers(notebook)] == ["169"]
