"""The browser test's own helpers (no browser needed): toc walking, math detection, Colab links."""

import json

import pytest
from book_pages import REPO, TocPage, colab_url_for, source_has_math, toc_pages


def _md(tmp_path, text):
    path = tmp_path / "page.md"
    path.write_text(text)
    return TocPage("chapters/page", path)


@pytest.mark.parametrize("text", [
    "Energy $E = \\sum_n x_n^2$ per frame.",
    "$$\nX_k = \\sum_n x_n e^{-2\\pi i k n / N}\n$$",
    "inline \\(a+b\\) math",
    "```{math}\nx^2\n```",
    "the role {math}`x^2` too",
    "\\begin{align}a &= b\\end{align}",
])
def test_math_is_detected(tmp_path, text):
    assert source_has_math(_md(tmp_path, text))


@pytest.mark.parametrize("text", [
    "It costs $5 and $10 in total.",
    "Code: `price = $x$` is not math.",
    "```python\ny = f'$x$'\n```",
    "No math here at all.",
])
def test_non_math_is_not_detected(tmp_path, text):
    assert not source_has_math(_md(tmp_path, text))


def test_notebook_math_comes_from_markdown_cells_only(tmp_path):
    path = tmp_path / "nb.ipynb"
    cells = [{"cell_type": "code", "source": "print('$x$')", "metadata": {}, "outputs": []},
             {"cell_type": "markdown", "source": "plain text", "metadata": {}}]
    path.write_text(json.dumps({"cells": cells}))
    page = TocPage("chapters/nb", path)
    assert page.is_notebook and not source_has_math(page)
    cells[1]["source"] = ["The rate $f_s$", " in Hz."]
    path.write_text(json.dumps({"cells": cells}))
    assert source_has_math(page)


def test_toc_pages_follow_the_toc():
    pages = toc_pages()
    assert pages[0].docname == "intro" and pages[0].html == "intro.html"
    names = [p.docname for p in pages]
    assert "chapters/course_plan" in names and "chapters/running_the_book" in names
    assert all(p.source.is_file() for p in pages)


def test_missing_toc_file_is_reported(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: intro\nparts:\n  - chapters:\n      - file: chapters/nope\n")
    (tmp_path / "intro.md").write_text("# x")
    with pytest.raises(FileNotFoundError, match="chapters/nope"):
        toc_pages(tmp_path)


def test_colab_url_uses_the_repository_settings():
    page = TocPage("chapters/06_cnn", REPO / "chapters" / "06_cnn.ipynb")
    url = colab_url_for(page)
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith("/blob/main/chapters/06_cnn.ipynb")
