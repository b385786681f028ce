"""Fixtures for the browser test of the rendered book (``make browser-test``; not part of plain ``pytest``).

The test does not build the book: it serves an existing ``_build/html`` (``make book``) on a
localhost port, opens every page of ``_toc.yml`` in headless Chromium (Debian's ``chromium``, driven
by Playwright; ``tests/browser/install_browser.sh`` installs both) with every request that leaves
localhost blocked — so it also proves the book renders without internet — and saves a full-page
screenshot of each page in ``_build/screenshots/``.

Environment variables: ``BOOK_HTML_DIR`` (default ``_build/html``), ``CHROMIUM`` (default
``/usr/bin/chromium``), ``BOOK_SCREENSHOT_DIR`` (default ``_build/screenshots``).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from book_pages import HTML_DIR, SCREENSHOT_DIR, screenshot_name, toc_pages

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
#: Seconds a page may take to load, and MathJax to start typesetting.
PAGE_TIMEOUT_S = 30
MATHJAX_TIMEOUT_S = 10


# ---------------------------------------------------------------------------------------------
# server, browser, and one visit per page


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def html_dir() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"{HTML_DIR} holds no built book: run `make book` first", pytrace=False)
    return HTML_DIR


@pytest.fixture(scope="session")
def base_url(html_dir):
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `bash tests/browser/install_browser.sh`", pytrace=False)
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `bash tests/browser/install_browser.sh`", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@dataclass
class Visit:
    """What the browser saw on one page."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    seconds: float = 0.0


# JavaScript run in the page once it has loaded: waits for images and MathJax, then reports.
_FACTS_JS = r"""
async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  const visibleText = (() => {
    const clone = document.querySelector('main, article, body').cloneNode(true);
    clone.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml, .highlight, textarea')
      .forEach(el => el.remove());
    return clone.textContent;
  })();
  const audio = [];
  for (const [i, el] of [...document.querySelectorAll('audio')].entries()) {
    const sources = [];
    if (el.getAttribute('src')) sources.push({src: el.getAttribute('src'), type: ''});
    el.querySelectorAll('source').forEach(s => sources.push({src: s.getAttribute('src') || '', type: s.getAttribute('type') || ''}));
    const results = [];
    for (const s of sources) {
      const probe = new Audio();
      const can = s.type ? probe.canPlayType(s.type) : 'untyped';
      const outcome = await new Promise(resolve => {
        const timer = setTimeout(() => resolve({ok: false, why: 'timeout'}), 10000);
        probe.onloadedmetadata = () => { clearTimeout(timer); resolve({ok: true, duration: probe.duration}); };
        probe.onerror = () => { clearTimeout(timer); resolve({ok: false, why: 'media error ' + (probe.error && probe.error.code)}); };
        probe.preload = 'metadata';
        probe.src = new URL(s.src, document.baseURI).href;
      });
      results.push({type: s.type, canPlay: can, prefix: s.src.slice(0, 40), ...outcome});
    }
    audio.push({index: i, sources: results});
  }
  return {
    title: document.title,
    h1: (document.querySelector('main h1, article h1, h1') || {}).textContent || '',
    images: images.map(img => ({src: (img.getAttribute('src') || '').slice(0, 120), complete: img.complete, width: img.naturalWidth})),
    mathjaxLoaded: !!(window.MathJax && window.MathJax.version),
    mathElements: document.querySelectorAll('span.math, div.math').length,
    mathUnrendered: [...document.querySelectorAll('span.math, div.math')]
      .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 80)),
    mjxContainers: document.querySelectorAll('mjx-container').length,
    mathjaxErrors: [...document.querySelectorAll('mjx-merror')].map(el => el.textContent.slice(0, 80)),
    rawMath: (visibleText.match(/\$\$|\\\(|\\\[|\\begin\{/g) || []).length,
    rawMathSample: (visibleText.match(/.{0,40}(\$\$|\\\(|\\\[|\\begin\{).{0,40}/) || [''])[0],
    audio,
    colabLinks: [...document.querySelectorAll('.dropdown-launch-buttons a[href*="colab"]')].map(a => a.href),
    textLength: visibleText.length,
    ...layoutFacts(),
  };
}
"""

# JavaScript: what a reader sees of the layout at the test's 1280 px viewport (legibility checks).
# topBars: visible bars across the top of the page; searchFields: visible search boxes;
# columnWidth: the article column's content width; tooWide: elements that stick out of the column,
# or whose content is clipped or spills over it, unless inside a horizontal scroller; scrolledText:
# printed outputs whose lines need horizontal scrolling (they should wrap).
_LAYOUT_JS = r"""
function layoutFacts() {
  const visible = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility !== 'hidden';
  };
  const bars = [...document.querySelectorAll('header, .bd-header, .bd-header-article, .bd-navbar')]
    .filter(visible).filter(el => el.getBoundingClientRect().top < 150);
  const topBars = bars.filter(el => !bars.some(other => other !== el && other.contains(el)))
    .map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
  const searchFields = [...document.querySelectorAll('.search-button-field, input[type="search"]')]
    .filter(el => visible(el) && !el.closest('.search-button__wrapper, .bd-search-container, dialog')).length;
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  if (!article) return {topBars, searchFields, columnWidth: 0, tooWide: [], scrolledText: []};
  const col = article.getBoundingClientRect();
  const pad = getComputedStyle(article);
  const left = col.left + parseFloat(pad.paddingLeft), right = col.right - parseFloat(pad.paddingRight);
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const ignored = el => /^mjx-/i.test(el.tagName) || el.closest('mjx-container, .visually-hidden, .sr-only, .headerlink')
    || ['fixed', 'absolute'].includes(getComputedStyle(el).position);
  const tooWide = [];
  // MathJax's assistive MathML is invisible (clipped, absolutely placed) but counts in scrollWidth.
  const hide = document.createElement('style');
  hide.textContent = 'mjx-assistive-mml { display: none !important; }';
  document.head.appendChild(hide);
  for (const el of article.querySelectorAll('*')) {
    if (tooWide.length >= 15 || !visible(el) || ignored(el)) continue;
    let scroller = false;
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) if (scrolls(a)) { scroller = true; break; }
    if (scroller) continue;
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    let why = '';
    if (r.left < left - 2 || r.right > right + 2) why = `box ${Math.round(r.left - left)}..${Math.round(r.right - left)} px in a ${Math.round(right - left)} px column`;
    else if (!scrolls(el) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 2) {
      if (['hidden', 'clip'].includes(s.overflowX)) why = `content clipped: ${el.scrollWidth} px in ${el.clientWidth} px`;
      else if (r.left + el.scrollWidth > right + 2) why = `content spills: ${el.scrollWidth} px in ${el.clientWidth} px`;
    }
    if (why) tooWide.push(`<${el.tagName.toLowerCase()} class="${el.className}"> ${why}: ${(el.textContent || '').trim().slice(0, 60)}`);
  }
  // Printed text must wrap, not hide behind a horizontal scroll bar (tables may scroll).
  const scrolledText = [...article.querySelectorAll('.cell_output pre, .output pre')]
    .filter(el => visible(el) && el.scrollWidth > el.clientWidth + 2)
    .map(el => `${el.scrollWidth} px of text in ${el.clientWidth} px: ${el.textContent.trim().slice(0, 60)}`);
  hide.remove();
  return {topBars, searchFields, columnWidth: Math.round(right - left), tooWide, scrolledText};
}
"""


@pytest.fixture(scope="session")
def visit(browser, base_url, screenshot_dir):
    """Return a function that opens a page once (cached) and reports what the browser saw."""
    from playwright.sync_api import Error as PlaywrightError

    cache: dict[str, Visit] = {}

    def _visit(path: str, screenshot: str | None = None) -> Visit:
        if path in cache:
            return cache[path]
        origin = base_url.rstrip("/")
        result = Visit(url=base_url + path)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

        def route(route_obj):
            url = route_obj.request.url
            if url.startswith(origin) or url.startswith(("data:", "blob:", "about:")):
                route_obj.continue_()
            else:
                result.remote_requests.append(url)
                route_obj.abort("internetdisconnected")

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda msg: result.console_errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda err: result.console_errors.append(f"uncaught: {err}"))
        page.on("response", lambda resp: result.failed_responses.append(f"{resp.status} {resp.url}")
                if resp.status >= 400 else None)
        start = time.perf_counter()
        try:
            page.goto(result.url, wait_until="load", timeout=PAGE_TIMEOUT_S * 1000)
            try:
                page.wait_for_function(
                    "() => !document.querySelector('script[src*=\"mathjax\"]')"
                    " || (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)",
                    timeout=MATHJAX_TIMEOUT_S * 1000,
                )
            except PlaywrightError:  # reported, and the math test then names the unrendered math
                result.console_errors.append(f"MathJax did not start within {MATHJAX_TIMEOUT_S} s")
            result.facts = page.evaluate(f"async () => {{\n{_LAYOUT_JS}\nreturn await ({_FACTS_JS})();\n}}")
            if screenshot:
                page.screenshot(path=str(screenshot_dir / screenshot), full_page=True)
        except PlaywrightError as err:
            result.console_errors.append(f"page did not finish loading: {type(err).__name__}: {err}")
        finally:
            result.seconds = time.perf_counter() - start
            context.close()
        cache[path] = result
        return result

    return _visit


@pytest.fixture
def page_visit(visit, toc_page):
    return visit(toc_page.html, screenshot=screenshot_name(toc_page.docname))


def pytest_generate_tests(metafunc):
    if "toc_page" in metafunc.fixturenames:
        pages = toc_pages()
        metafunc.parametrize("toc_page", pages, ids=[p.docname for p in pages])
