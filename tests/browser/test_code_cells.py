"""Code a reader must read does not hide behind a horizontal scroll bar (issue 26, pages that read well).

At the test's 1280 px viewport the article column holds about 75 characters of code; longer lines wrap
inside their cell (``_static/code_wrap.css``) instead of scrolling. Collapsed cells (the setup cell,
import blocks tagged ``hide-input``, solutions) are checked as they open: every code cell is shown
before measuring. Part of ``make browser-test`` (needs a built book and Chromium).
"""

from __future__ import annotations

import pytest
from book_pages import toc_pages

_SCROLLING_CODE_JS = r"""
() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.cell_input, .cell_input *').forEach(el => {
    if (getComputedStyle(el).display === 'none') el.style.display = 'block';
  });
  return [...document.querySelectorAll('div.cell_input pre')]
    .filter(pre => pre.clientWidth > 0 && pre.scrollWidth > pre.clientWidth + 2)
    .map(pre => `${pre.scrollWidth} px of code in ${pre.clientWidth} px: ${pre.textContent.trim().slice(0, 60)}`);
}
"""

NOTEBOOK_PAGES = [page for page in toc_pages() if page.is_notebook]


@pytest.fixture(scope="module")
def code_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("notebook_page", NOTEBOOK_PAGES, ids=lambda p: p.docname)
def test_code_cells_do_not_scroll(code_page, base_url, notebook_page):
    code_page.goto(base_url + notebook_page.html, wait_until="load")
    scrolling = code_page.evaluate(_SCROLLING_CODE_JS)
    assert not scrolling, f"{notebook_page.docname}: code that scrolls sideways: {scrolling[:3]}"
