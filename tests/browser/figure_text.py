"""How large a figure's text is on the page, in CSS pixels (used by ``test_figure_text.py``).

A figure saved at ``dpi`` with text of ``points`` is ``points * dpi / 72`` pixels tall in the PNG; the
page shows the PNG at ``displayed`` CSS pixels wide instead of its ``width`` pixels (a browser shows an
image at its pixel size, shrunk to fit the article column), so the reader sees

    rendered = points * dpi / 72 * displayed / width          (CSS px; at least MIN_TEXT_PX)

A PNG records its size and dpi (the ``pHYs`` chunk matplotlib writes) but not its font sizes, so the
check over the chapters' committed figures uses the smallest font of the book's plotting style
(matplotlib's rcParams after importing ``helpers.plots``).

Two cases follow. A figure narrower than the column is shown at its pixel size: ``rendered = points *
dpi / 72`` (at 100 dpi, 7.2 pt is the smallest legible font). A figure ``inches`` wide that is wider
than the column is shrunk to it and the dpi cancels out: ``rendered = points * COLUMN_PX / (72 *
inches)``, so its text needs ``points >= MIN_TEXT_PX * 72 * inches / COLUMN_PX`` (about 1.05 pt per
inch of figure width: 10.5 pt for a 10-inch figure). SVG behaves like a PNG at 96 dpi.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from pathlib import Path

#: Smallest legible text on the page, CSS px.
MIN_TEXT_PX = 10.0
#: Width of the article column at the browser test's 1280 px viewport (checked by test_rendered_book).
COLUMN_PX = 688


def rendered_text_px(points: float, dpi: float, displayed_px: float, width_px: float) -> float:
    """Height in CSS px of ``points``-pt text of a ``width_px``-wide figure saved at ``dpi``, shown
    ``displayed_px`` wide."""
    if min(points, dpi, displayed_px, width_px) <= 0:
        raise ValueError("points, dpi and both widths must be positive")
    return points * dpi / 72.0 * displayed_px / width_px


def displayed_width(width_px: float, css_width: float | None = None, column_px: float = COLUMN_PX) -> float:
    """Width the page shows an image at: its declared (``metadata.width``) or pixel width, at most the column."""
    return min(css_width or width_px, column_px)


def png_size_and_dpi(data: bytes) -> tuple[int, int, float | None]:
    """``(width, height, dpi)`` of a PNG; dpi from its ``pHYs`` chunk (None if it has none)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    dpi, offset = None, 8
    while offset + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[offset:offset + 4]), data[offset + 4:offset + 8]
        if kind == b"pHYs":
            x_per_unit, _, unit = struct.unpack(">IIB", data[offset + 8:offset + 17])
            if unit == 1:  # pixels per metre
                dpi = round(x_per_unit * 0.0254, 1)
        if kind in (b"IDAT", b"IEND"):
            break
        offset += 12 + length
    return width, height, dpi


@dataclass(frozen=True)
class Figure:
    notebook: str
    cell: int
    width: int
    height: int
    dpi: float | None
    css_width: float | None

    def text_px(self, points: float, column_px: float = COLUMN_PX) -> float:
        return rendered_text_px(points, self.dpi or 72.0, displayed_width(self.width, self.css_width, column_px),
                                self.width)


def notebook_figures(path: Path) -> list[Figure]:
    """The PNG figures in a notebook's stored outputs."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    figures = []
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if not png:
                continue
            data = base64.b64decode("".join(png) if isinstance(png, list) else png)
            width, height, dpi = png_size_and_dpi(data)
            css = output.get("metadata", {}).get("image/png", {}).get("width")
            figures.append(Figure(Path(path).name, index, width, height, dpi, float(css) if css else None))
    return figures


def smallest_style_font_pt() -> float:
    """Smallest text size, in points, of the book's plotting style (rcParams after importing helpers.plots)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    import helpers.plots  # noqa: F401  (a book style set on import is what the chapters get)

    keys = ["font.size", "xtick.labelsize", "ytick.labelsize", "axes.labelsize", "axes.titlesize",
            "legend.fontsize", "figure.titlesize"]
    return min(FontProperties(size=rcParams[key]).get_size_in_points() for key in keys)


def smallest_legible_font_pt(width_inches: float, column_px: float = COLUMN_PX) -> float:
    """Smallest font (pt) that renders at :data:`MIN_TEXT_PX` in a figure ``width_inches`` wide shown
    in the column (at any dpi, once the figure is wider than the column)."""
    return MIN_TEXT_PX * 72.0 * width_inches / column_px
