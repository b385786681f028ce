"""Figure text is legible on the page: points × dpi / 72 × displayed width / figure width ≥ 10 px.

No browser needed (``pytest tests/browser/test_figure_text.py``); the column width it assumes is
checked against the rendered book by ``test_rendered_book.py::test_article_column_width``.
"""

from __future__ import annotations

import io

import matplotlib
import pytest
from book_pages import REPO
from figure_text import (
    COLUMN_PX,
    MIN_TEXT_PX,
    displayed_width,
    notebook_figures,
    png_size_and_dpi,
    rendered_text_px,
    smallest_legible_font_pt,
    smallest_style_font_pt,
)

matplotlib.use("Agg")


def _png(width_in, height_in, dpi):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def test_formula():
    assert rendered_text_px(10, 72, 500, 500) == 10
    assert rendered_text_px(10, 144, 500, 1000) == 10  # a retina PNG shown at half its pixel width
    assert rendered_text_px(8, 100, 688, 1201) == pytest.approx(6.37, abs=0.01)  # chapter 8's old matrix
    with pytest.raises(ValueError):
        rendered_text_px(10, 0, 1, 1)


def test_png_size_and_dpi_are_read_from_matplotlib_output():
    assert png_size_and_dpi(_png(4, 2, 100)) == (400, 200, 100.0)
    assert png_size_and_dpi(_png(3, 2, 150)) == (450, 300, 150.0)
    with pytest.raises(ValueError):
        png_size_and_dpi(b"GIF89a")


def test_displayed_width_is_capped_by_the_column():
    assert displayed_width(400) == 400
    assert displayed_width(1200) == COLUMN_PX
    assert displayed_width(2000, css_width=1000) == COLUMN_PX
    assert displayed_width(800, css_width=400) == 400


def test_wide_figures_need_larger_fonts_whatever_their_dpi():
    for dpi in (80, 100, 200):
        width = 10 * dpi  # a 10-inch figure
        px = rendered_text_px(10, dpi, displayed_width(width), width)
        assert px == pytest.approx(10 * COLUMN_PX / 720)
        assert px < MIN_TEXT_PX
    assert smallest_legible_font_pt(10) == pytest.approx(10.47, abs=0.01)
    assert rendered_text_px(smallest_legible_font_pt(10), 100, COLUMN_PX, 1000) == pytest.approx(MIN_TEXT_PX)


def _committed_figures():
    return [fig for path in sorted((REPO / "chapters").glob("*.ipynb")) for fig in notebook_figures(path)]


def test_committed_figures_have_a_dpi():
    missing = [f"{f.notebook} cell {f.cell}" for f in _committed_figures() if f.dpi is None]
    assert not missing, f"PNG figures without a dpi (pHYs chunk): {missing}"


def test_committed_figures_text_is_legible():
    """The book style's smallest font, in every committed PNG figure, renders at ≥ 10 CSS px."""
    points = smallest_style_font_pt()
    small = [f"{f.notebook} cell {f.cell}: {f.width} px at {f.dpi:g} dpi -> {f.text_px(points):.1f} px "
             f"(needs {smallest_legible_font_pt(f.width / f.dpi):.1f} pt)"
             for f in _committed_figures() if f.dpi and f.text_px(points) < MIN_TEXT_PX]
    assert not small, (f"figure text under {MIN_TEXT_PX:g} px at the style's smallest font ({points:g} pt):\n"
                       + "\n".join(small))
