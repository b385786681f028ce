"""The rendered book as readers see it: every page of ``_toc.yml`` opened in headless Chromium.

Run with ``make browser-test`` after ``make book`` (see ``conftest.py``). Each page is opened once,
with every request that leaves localhost blocked; the tests below then check what the browser saw.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from book_pages import (
    REPO,
    SCREENSHOT_DIR,
    colab_url_for,
    screenshot_name,
    source_has_math,
    toc_pages,
)
from figure_text import COLUMN_PX


def test_toc_is_not_empty():
    pages = toc_pages()
    assert pages[0].docname == "intro", "the toc's root should be the landing page"
    assert len(pages) >= 2


def test_page_loads_without_console_errors(page_visit):
    assert page_visit.facts, f"{page_visit.url} did not load: {page_visit.console_errors}"
    assert not page_visit.console_errors, f"{page_visit.url}:\n" + "\n".join(page_visit.console_errors)
    assert page_visit.facts["textLength"] > 200, f"{page_visit.url} shows almost no text"


def test_page_needs_no_network(page_visit):
    assert not page_visit.remote_requests, (
        f"{page_visit.url} fetched from outside localhost (fails offline): {page_visit.remote_requests}"
    )
    assert not page_visit.failed_responses, f"{page_visit.url}: broken local resources {page_visit.failed_responses}"


def test_images_loaded(page_visit):
    broken = [img for img in page_visit.facts.get("images", []) if not img["complete"] or img["width"] == 0]
    assert not broken, f"{page_visit.url}: images that did not load: {broken}"


def test_math_rendered(page_visit, toc_page):
    facts = page_visit.facts
    assert not facts["rawMath"], f"{page_visit.url}: raw TeX visible: {facts['rawMathSample']!r}"
    assert not facts["mathUnrendered"], f"{page_visit.url}: math MathJax did not render: {facts['mathUnrendered']}"
    assert not facts["mathjaxErrors"], f"{page_visit.url}: MathJax errors: {facts['mathjaxErrors']}"
    if source_has_math(toc_page):
        assert facts["mathjaxLoaded"], f"{page_visit.url}: the source has math but MathJax did not load"
        assert facts["mjxContainers"] > 0, f"{page_visit.url}: the source has math but none was rendered"


def test_audio_playable(page_visit):
    for player in page_visit.facts.get("audio", []):
        sources = player["sources"]
        assert sources, f"{page_visit.url}: <audio> #{player['index']} has no source"
        playable = [s for s in sources if s["ok"] and s["canPlay"] != "" and s["duration"] > 0]
        assert playable, f"{page_visit.url}: <audio> #{player['index']} has no playable source: {sources}"


def test_colab_link_points_to_this_notebook(page_visit, toc_page):
    links = set(page_visit.facts.get("colabLinks", []))
    if toc_page.is_notebook:
        expected = colab_url_for(toc_page)
        assert links == {expected}, f"{page_visit.url}: Colab link(s) {sorted(links)}, expected {expected}"
        assert toc_page.source.relative_to(REPO).as_posix() in expected
    else:
        assert not links, f"{page_visit.url} is not a notebook but links to Colab: {sorted(links)}"


def test_top_bar_once(page_visit):
    """One top bar and one visible search box (not pydata-sphinx-theme's empty second navbar too)."""
    facts = page_visit.facts
    assert len(facts["topBars"]) == 1, f"{page_visit.url}: {len(facts['topBars'])} top bars: {facts['topBars']}"
    assert facts["searchFields"] == 1, f"{page_visit.url}: {facts['searchFields']} visible search boxes"


def test_nothing_wider_than_its_column(page_visit):
    """No element sticks out of the article column, and no text is clipped or spills over it,
    except inside a horizontal scroller (code cells, wide tables)."""
    too_wide = page_visit.facts["tooWide"]
    assert not too_wide, f"{page_visit.url}: wider than the column:\n" + "\n".join(too_wide)


def test_printed_lines_wrap(page_visit):
    """Printed outputs wrap their long lines instead of hiding them behind a horizontal scroll bar."""
    scrolled = page_visit.facts["scrolledText"]
    assert not scrolled, f"{page_visit.url}: printed lines that do not wrap:\n" + "\n".join(scrolled[:10])


def test_article_column_width(page_visit, toc_page):
    """The column width that tests/browser/figure_text.py assumes for figure text sizes."""
    if toc_page.is_notebook:
        assert abs(page_visit.facts["columnWidth"] - COLUMN_PX) <= 40, (
            f"{page_visit.url}: the article column is {page_visit.facts['columnWidth']} px, "
            f"figure_text.COLUMN_PX assumes {COLUMN_PX}")


def test_screenshot_saved(page_visit, toc_page):
    shot = SCREENSHOT_DIR / screenshot_name(toc_page.docname)
    assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot of {page_visit.url} at {shot}"


_STOP = {"with", "from", "that", "this", "what", "your", "into", "their", "about", "which", "networks"}


def _search_word(title: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z]{5,}", title) if w.lower() not in _STOP]
    assert words, f"no searchable word in title {title!r}"
    return max(words, key=len)


def test_search_finds_each_page(browser, base_url, visit):
    """The search page finds every page of the toc by the longest word of its title."""
    failures = []
    context = browser.new_context()
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base_url.rstrip("/"))
                  else r.abort("internetdisconnected"))
    page = context.new_page()
    try:
        for toc_page in toc_pages():
            title = visit(toc_page.html).facts.get("h1", "") or toc_page.docname
            word = _search_word(title.replace("#", ""))
            page.goto(f"{base_url}search.html?q={quote(word)}", wait_until="load")
            page.wait_for_function(
                "() => /Search finished|did not match/.test("
                "(document.querySelector('.search-summary') || {}).textContent || '')",
                timeout=20_000,
            )
            hrefs = page.eval_on_selector_all("ul.search li a", "els => els.map(a => a.getAttribute('href'))")
            if not any(h.split("#")[0].split("?")[0] == toc_page.html for h in hrefs):
                failures.append(f"search for {word!r} (from {title.strip()!r}) missed {toc_page.html}; got {hrefs[:8]}")
    finally:
        context.close()
    assert not failures, "\n".join(failures)


def test_whole_run_is_fast(visit):
    """Keep the browser test cheap: no page may take more than 20 s to load, typeset and shoot."""
    slow = {p.html: round(visit(p.html).seconds, 1) for p in toc_pages() if visit(p.html).seconds > 20}
    assert not slow, f"pages slower than 20 s: {slow}"
