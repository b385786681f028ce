"""The book's pages as the browser test sees them: the toc, each page's source, its Colab link.

Used by ``conftest.py`` and ``test_rendered_book.py`` (chapter *Running the book* describes the test).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("BOOK_HTML_DIR", REPO / "_build" / "html"))
SCREENSHOT_DIR = Path(os.environ.get("BOOK_SCREENSHOT_DIR", REPO / "_build" / "screenshots"))


def screenshot_name(docname: str) -> str:
    """File name of a page's screenshot in :data:`SCREENSHOT_DIR`."""
    return docname.replace("/", "__") + ".png"


@dataclass(frozen=True)
class TocPage:
    """One page of the table of contents: its toc entry, source file and built HTML path."""

    docname: str  # e.g. "chapters/06_cnn"
    source: Path  # the .ipynb or .md file in the repository

    @property
    def html(self) -> str:
        return f"{self.docname}.html"

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"


def toc_pages(repo: Path = REPO) -> list[TocPage]:
    """Return the pages of ``_toc.yml`` (root first, then in order), each with its source file."""
    toc = yaml.safe_load((repo / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    pages = []
    for name in names:
        name = re.sub(r"\.(md|ipynb)$", "", name)
        for suffix in (".ipynb", ".md"):
            if (repo / f"{name}{suffix}").is_file():
                pages.append(TocPage(name, repo / f"{name}{suffix}"))
                break
        else:
            raise FileNotFoundError(f"_toc.yml lists {name!r} but neither {name}.ipynb nor {name}.md exists")
    return pages


def source_text(page: TocPage) -> str:
    """The page's markdown as written (markdown cells only for a notebook)."""
    if not page.is_notebook:
        return page.source.read_text(encoding="utf-8")
    notebook = json.loads(page.source.read_text(encoding="utf-8"))
    return "\n\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_MATH = re.compile(
    r"\$\$.+?\$\$|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<=\S)\$(?![\w$])|\\\(|\\\[|\\begin\{|\{math\}|```\{math\}",
    re.S,
)


def source_has_math(page: TocPage) -> bool:
    """True if the page's markdown contains math (dollar math, ``\\(``, ``{math}``, ``\\begin{...}``)."""
    text = source_text(page)
    if re.search(r"```\{math\}|\{math\}`", text):
        return True
    text = _INLINE_CODE.sub("", _FENCE.sub("", text))
    return bool(_MATH.search(text))


def colab_url_for(page: TocPage, repo: Path = REPO) -> str:
    """The Colab link that page's launch button must carry (from ``_config.yml``)."""
    config = yaml.safe_load((repo / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    branch = config["repository"].get("branch", "main")
    book = (config["repository"].get("path_to_book") or "").strip("/")
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    owner_repo = urlsplit(url).path.strip("/")
    path = f"{book}/{page.docname}.ipynb" if book else f"{page.docname}.ipynb"
    return f"{colab}/github/{owner_repo}/blob/{branch}/{path}"
