"""Section cross-references point at sections that exist (the prose checks of ``test_prose_numbers.py``,
extended to references; issue 26).

A chapter numbers its sections in headings (``## 3.3 The short-time Fourier transform``). Prose and
code comments refer to them as ``§3.3``, ``§ 3.3`` or ``section 3.3``. Every such reference to a
section N.M must name a numbered heading of chapter N: in the chapter itself, in another chapter, or
from a page of the book (``intro.md``, ``chapters/*.md``). A reference to a chapter that does not
exist is as broken as one to a missing section.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "chapters").glob("*.ipynb"))
PAGES = sorted((REPO / "chapters").glob("*.md")) + [REPO / "intro.md"]

#: A numbered section heading: ``## 3.3 Title`` (also ``### 3.3.1``); the number is group 1.
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)+)\.?\s", re.M)
#: A reference: ``§3.3``, ``§ 3.3``, ``§§3.3``, ``section 3.3``, ``sections 3.3``; the number is group 1.
REFERENCE = re.compile(r"(?:§+\s?|\bsections?\s+)(\d+(?:\.\d+)+)", re.I)


def _texts(path: Path) -> list[tuple[str, str]]:
    """``(where, text)`` for each markdown and code cell of a notebook, or the whole of a page."""
    if path.suffix != ".ipynb":
        return [(path.name, path.read_text(encoding="utf-8"))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"{path.name} cell {i}", "".join(c["source"])) for i, c in enumerate(cells)]


def sections(path: Path) -> set[str]:
    """The numbered sections of a chapter notebook (from its markdown headings)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return {m[1] for c in cells if c["cell_type"] == "markdown" for m in HEADING.finditer("".join(c["source"]))}


def chapter_sections(chapters: list[Path]) -> dict[int, set[str]]:
    """Chapter number (from the file name ``NN_...``) → its numbered sections."""
    return {int(p.name[:2]): sections(p) for p in chapters if p.name[:2].isdigit()}


def broken_references(path: Path, known: dict[int, set[str]]) -> list[str]:
    """Every section reference in ``path`` whose section does not exist, with where it is."""
    broken = []
    for where, text in _texts(path):
        for match in REFERENCE.finditer(text):
            number = match[1]
            chapter = int(number.split(".")[0])
            if chapter not in known:
                broken.append(f"{where}: {match[0]!r} — there is no chapter {chapter}")
            elif number not in known[chapter]:
                broken.append(f"{where}: {match[0]!r} — chapter {chapter} has sections "
                              f"{', '.join(sorted(known[chapter], key=lambda s: [int(x) for x in s.split('.')])) or 'none'}")
    return broken


KNOWN = chapter_sections(CHAPTERS)


@pytest.mark.parametrize("path", CHAPTERS + PAGES, ids=lambda p: p.name)
def test_section_references_exist(path):
    broken = broken_references(path, KNOWN)
    assert not broken, "references to sections that do not exist:\n" + "\n".join(broken)


def test_the_check_finds_a_broken_reference(tmp_path):
    def notebook(name, *cells):
        path = tmp_path / name
        path.write_text(json.dumps({"cells": [{"cell_type": t, "source": s} for t, s in cells]}))
        return path

    three = notebook("03_x.ipynb", ("markdown", "# 3. X\n\n## 3.1 Frames\n\n### 3.1.2 Detail\n\n## 3.2 Windows"),
                     ("markdown", "See §3.2, § 3.1.2 and section 3.1; the FFT is in §3.8."),
                     ("code", "# the player is in section 3.3\nx = 1"))
    four = notebook("04_y.ipynb", ("markdown", "## 4.1 Data\n\nAs §3.1 showed, and Section 7.2 will."))
    known = chapter_sections([three, four])
    assert known == {3: {"3.1", "3.1.2", "3.2"}, 4: {"4.1"}}
    found = broken_references(three, known) + broken_references(four, known)
    assert [f.split(": ", 1)[1].split(" —")[0] for f in found] == ["'§3.8'", "'section 3.3'", "'Section 7.2'"]
    assert "cell 2" in found[1] and "no chapter 7" in found[2]
