"""A self-contained HTML page showing every class elite with its label and confidence."""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from html import escape
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fooling.errors import FoolingError
from fooling.records import FOOLED_AT, atomic_write_text

_TARGET_WIDTH = 112  # CSS pixels a small image is scaled up to (28 px * 4)
_MAX_WIDTH = 224  # larger images are shown scaled down to this width
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
:root{color-scheme:light}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;
background:#f6f6f6;color:#222}
h1{margin:0 0 .25rem;font-size:1.5rem}
h2{margin:1.75rem 0 .25rem;font-size:1.15rem}
.sub,.note,.count{color:#555;margin:.25rem 0 .75rem}
.grid{display:grid;gap:10px;
grid-template-columns:repeat(auto-fill,minmax(min(var(--w),100%),1fr))}
figure{margin:0;padding:6px;background:#fff;border:3px solid #ddd;border-radius:6px;
text-align:center}
figure.hit{border-color:#2e9e44;background:#f1fbf3}
img{display:block;margin:0 auto 4px;max-width:100%;height:auto}
img.px{image-rendering:crisp-edges;image-rendering:pixelated}
figcaption{overflow-wrap:anywhere;font-size:12px}
figcaption b{font-variant-numeric:tabular-nums}
.hit b{color:#1d7a31}
"""


@dataclass
class GalleryCell:
    """One class elite.

    Attributes:
        index: the class index (None: a cell that is not one class's, such as a figure).
        label: the class label, shown as given (escaped).
        confidence: the classifier's probability for that class, in ``[0, 1]``.
        image: a PNG file; a relative path is taken relative to the gallery's folder.
        caption: shown instead of the confidence, when given.
        width: the CSS width to show the image at (None: from its size).
    """

    index: int | None
    label: str
    confidence: float
    image: Path
    caption: str | None = None
    width: int | None = None


@dataclass
class GallerySection:
    """A heading, an optional note, and a grid of cells.

    Attributes:
        heading: the section heading.
        cells: the cells, shown in this order.
        note: a line of text under the heading; empty for none.
        count: show how many cells are at >= 99% confidence.
    """

    heading: str
    cells: list[GalleryCell] = field(default_factory=list)
    note: str = ""
    count: bool = True


def format_confidence(confidence: float) -> str:
    """Format a probability as a percentage with 4 decimals: ``0.99998712`` -> ``"99.9987%"``.

    Digits are cut, not rounded, so a value shown as 99.0000% or more really is
    ``>= 0.99`` and 100.0000% means exactly 1.

    Args:
        confidence: a probability; NaN and infinity are shown as ``nan%`` / ``inf%``.

    Returns:
        The percentage text.
    """
    if not math.isfinite(confidence):
        return f"{confidence}%"
    percent = (Decimal(repr(float(confidence))) * 100).quantize(
        Decimal("0.0001"), rounding=ROUND_DOWN
    )
    return f"{percent}%"


def _display_width(width: int) -> tuple[int, bool]:
    """The CSS width to show an image of ``width`` pixels at, and whether it is scaled up."""
    if width >= _TARGET_WIDTH:
        return min(width, _MAX_WIDTH), False
    scale = max(1, round(_TARGET_WIDTH / width))
    return width * scale, scale > 1


def _read_png(path: Path) -> tuple[str, int, int]:
    """Return ``(base64 text, width, height)`` of a PNG file."""
    try:
        data = path.read_bytes()
        if not data.startswith(_PNG_SIGNATURE):
            raise FoolingError(f"gallery image is not a PNG file: {path}")
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
    except (OSError, UnidentifiedImageError) as error:
        raise FoolingError(f"cannot read gallery image {path}: {error}") from error
    return base64.b64encode(data).decode("ascii"), width, height


def _cell_html(cell: GalleryCell, folder: Path) -> tuple[str, int]:
    """The markup of one cell and the CSS width its image takes."""
    encoded, width, height = _read_png(folder / cell.image)
    shown_width, scaled_up = _display_width(width)
    if cell.width is not None:
        shown_width, scaled_up = cell.width, cell.width > width
    shown_height = max(1, round(height * shown_width / width))
    label = escape(cell.label)
    named = label if cell.index is None else f"{cell.index} {label}"
    shown = label if cell.index is None else f"{cell.index} · {label}"
    hit = cell.confidence >= FOOLED_AT
    value = format_confidence(cell.confidence) if cell.caption is None else escape(cell.caption)
    html = (
        f"<figure{' class=hit' if hit else ''}>"
        f"<img{' class=px' if scaled_up else ''} width={shown_width} height={shown_height} "
        f'alt="{named}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{shown}<br>"
        f"<b>{value}</b></figcaption></figure>\n"
    )
    return html, shown_width


def _section_html(section: GallerySection, folder: Path) -> str:
    """The markup of one section: heading, count of fooled cells, note and grid."""
    cells, widths = [], [_TARGET_WIDTH]
    for cell in section.cells:
        html, width = _cell_html(cell, folder)
        cells.append(html)
        widths.append(width)
    fooled = sum(cell.confidence >= FOOLED_AT for cell in section.cells)
    parts = [f"<section>\n<h2>{escape(section.heading)}</h2>\n"]
    if section.count:
        parts.append(f'<p class="count">{fooled} of {len(section.cells)} at ≥ 99% confidence</p>\n')
    if section.note:
        parts.append(f'<p class="note">{escape(section.note)}</p>\n')
    column = max(widths) + 18  # image + figure padding and border
    parts.append(f'<div class="grid" style="--w:{column}px">\n')
    parts.extend(cells)
    parts.append("</div>\n</section>\n")
    return "".join(parts)


def write_gallery(
    path: Path, title: str, sections: list[GallerySection], subtitle: str = ""
) -> None:
    """Write one self-contained HTML file with every cell's image, label and confidence.

    Images are inlined as base64 ``data:`` URIs and the CSS is inline, so the file
    can be mailed or moved on its own. All text is HTML-escaped. Cells with
    confidence ``>= 0.99`` get a green border. The file is replaced atomically.

    Args:
        path: the HTML file to write; missing parent folders are created.
        title: the page title and top heading.
        sections: the sections, in order.
        subtitle: a line under the title; empty for none.

    Raises:
        FoolingError: if a cell's image cannot be read or is not a PNG file.
    """
    path = Path(path)
    folder = path.parent
    parts = [
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>{escape(title)}</h1>\n",
    ]
    if subtitle:
        parts.append(f'<p class="sub">{escape(subtitle)}</p>\n')
    parts.extend(_section_html(section, folder) for section in sections)
    parts.append("</body>\n</html>\n")
    atomic_write_text(path, "".join(parts))
