"""PDF: the text layer as paragraphs in reading order, with headings and the page of each.

pdfminer.six gives each line with its position and font size, grouped into boxes of nearby
lines (a paragraph, a heading, a header line). From those: page headers, footers and numbers
are dropped, columns are read in order (right to left for Arabic), lines go from drawing
order to reading order, a box's lines are joined into paragraphs (across a page break too),
and large type becomes headings.
"""

from __future__ import annotations

import io
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.domain import Role
from qa.errors import InvalidInputError
from qa.ingest.pdf_layout import Box, Line
from qa.ingest.pdf_tables import find_tables
from qa.ingest.structured import Piece
from qa.text.bidi import fold_presentation_forms, is_rtl, visual_to_logical
from qa.text.lines import ends_sentence, furniture_key, is_page_number, join_lines
from qa.text.structure import table_lines

MARGIN_BAND = 0.08  # headers and footers sit in the top and bottom 8% of a page
HEADING_RATIO = 1.15  # type this much larger than the body text makes a heading
HEADING_MAX_WORDS = 20
SHORT_LINE = 0.8  # a line under 80% of its box's width that ends a sentence ends a paragraph
MARK_MAX = 8.0  # points: a shape smaller than this beside a line is a list bullet
_STAMP = re.compile(
    r"^(?:(?:file|https?)://\S+|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},?\s+\d{1,2}:\d{2}(?:\s*[AP]M)?)$",
    re.IGNORECASE,
)  # what a browser prints in the margins: the page's address, the date and time
_BULLET = re.compile(r"^(?:[•◦▪‣●○■□➢➤✓\-–*]|\d{1,3}[.)]|[a-z][.)])\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Paragraph:
    """Lines joined in reading order, with the role the layout suggests."""

    text: str
    size: float
    role: Role
    page_marks: tuple[tuple[int, int], ...]


def pdf_boxes(data: bytes, name: str) -> tuple[list[list[Box]], list[float], bool]:
    """Boxes page by page, each page's height, and whether any page holds images."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import (
        LAParams,
        LTChar,
        LTCurve,
        LTFigure,
        LTImage,
        LTTextBox,
        LTTextLine,
    )

    pages: list[list[Box]] = []
    heights: list[float] = []
    images = False
    try:
        for number, layout in enumerate(extract_pages(io.BytesIO(data), laparams=LAParams()), 1):
            boxes: list[Box] = []
            marks = [
                (e.x0, e.y0, e.x1, e.y1)
                for e in layout
                if isinstance(e, LTCurve) and 1 < e.width < MARK_MAX and 1 < e.height < MARK_MAX
            ]
            for element in layout:
                if isinstance(element, LTFigure | LTImage):
                    images = True
                if not isinstance(element, LTTextBox):
                    continue
                lines: list[Line] = []
                for line in element:
                    if not isinstance(line, LTTextLine):
                        continue
                    sizes = [c.size for c in line if isinstance(c, LTChar)]
                    text = _line_text([(c.get_text(), isinstance(c, LTChar)) for c in line])
                    if text and sizes:
                        size = statistics.median(sizes)
                        found = Line(text, line.x0, line.x1, size, line.y0, line.y1)
                        lines.append(replace(found, bullet=has_marker(found, marks)))
                boxes += split_by_size(number, lines)
            pages.append(boxes)
            heights.append(float(layout.height))
    except Exception as exc:  # pdfminer raises many kinds on malformed files: all the caller's
        raise InvalidInputError(f"{name}: not a readable PDF ({exc})") from exc
    return pages, heights, images


def has_marker(line: Line, marks: Sequence[tuple[float, float, float, float]]) -> bool:
    """Whether a small shape sits level with the line, just before its start or after its end
    (where a browser draws a list's bullet, on the right of an Arabic line)."""
    reach = 3 * line.size
    for x0, y0, x1, y1 in marks:
        if not line.y0 <= (y0 + y1) / 2 <= line.y1:
            continue
        if 0 <= line.x0 - x1 <= reach or 0 <= x0 - line.x1 <= reach:
            return True
    return False


def split_by_size(page: int, lines: list[Line]) -> list[Box]:
    """A text box cut where the type size changes: a page header set in small type that sits
    close above the text is its own box, and so is a heading run into its paragraph."""
    groups: list[list[Line]] = []
    for line in lines:
        if groups and abs(groups[-1][-1].size - line.size) <= 0.5:
            groups[-1].append(line)
        else:
            groups.append([line])
    return [
        Box(
            page,
            min(line.x0 for line in group),
            min(line.y0 for line in group),
            max(line.x1 for line in group),
            max(line.y1 for line in group),
            tuple(group),
        )
        for group in groups
    ]


def _line_text(parts: list[tuple[str, bool]]) -> str:
    """A line's text from its characters and the spaces pdfminer guessed from gaps (drawn=False).

    A guessed space next to a vowel mark is dropped: a mark is drawn over its letter, so the
    gap that follows it is not one between words (it split هاتفيًا as هاتفي ًا).
    """
    chars: list[str] = []
    for i, (text, drawn) in enumerate(parts):
        if not drawn and text.isspace():
            before = parts[i - 1][0] if i else ""
            after = parts[i + 1][0] if i + 1 < len(parts) else ""
            if any(unicodedata.category(c) == "Mn" for c in before[-1:] + after[:1]):
                continue
        chars.append(text)
    return " ".join("".join(chars).split())


def remove_furniture(pages: list[list[Box]], heights: list[float], title: str) -> list[list[Box]]:
    """Pages without running headers, footers and page numbers.

    A short box in the top or bottom band of a page is furniture when the same words (numbers
    aside) come back in the band of another page, or when it is a page number, the document's
    title, or a browser's date or address stamp.
    """
    banded = [
        [_in_band(box, height) for box in page] for page, height in zip(pages, heights, strict=True)
    ]
    seen = Counter(
        key
        for page, bands in zip(pages, banded, strict=True)
        for key in {furniture_key(b.text) for b, band in zip(page, bands, strict=True) if band}
    )
    folded_title = "".join(fold_presentation_forms(title).split()).casefold()
    out: list[list[Box]] = []
    for page, bands in zip(pages, banded, strict=True):
        kept = []
        for box, band in zip(page, bands, strict=True):
            text = fold_presentation_forms(" ".join(box.text.split()))
            furniture = band and (
                (len(pages) > 1 and seen[furniture_key(box.text)] > 1)
                or is_page_number(text)
                or bool(_STAMP.match(text))
                or len("".join(text.split())) <= 2  # a stray glyph drawn past the text's end
                or (bool(folded_title) and _squeezed(box) == folded_title)
            )
            if not furniture:
                kept.append(box)
        out.append(kept)
    return out


def _in_band(box: Box, height: float) -> bool:
    return len(box.lines) <= 2 and (
        box.y0 >= height * (1 - MARGIN_BAND) or box.y1 <= height * MARGIN_BAND
    )


def _squeezed(box: Box) -> str:
    """A box's text in reading order, folded, without spaces: to compare with the title."""
    rtl = is_rtl(box.text)
    logical = "".join(visual_to_logical(line.text, rtl) for line in box.lines)
    return "".join(fold_presentation_forms(logical).split()).casefold()


def reading_order(boxes: Sequence[Box], rtl: bool) -> list[Box]:
    """A page's boxes in reading order: top to bottom, and column by column where boxes sit
    side by side (the right-hand column first in a right-to-left document).

    Boxes are taken top down; a run of boxes narrower than half the text width is a band of
    columns when two of them share a height; a wide box (a title over both columns) ends it.
    """
    ordered = sorted(boxes, key=lambda b: (-b.y1, b.x0))
    if not ordered:
        return []
    left = min(b.x0 for b in ordered)
    width = max(b.x1 for b in ordered) - left
    out: list[Box] = []
    band: list[Box] = []
    for box in ordered:
        if box.x1 - box.x0 < 0.55 * width:
            band.append(box)
            continue
        out += _band_order(band, rtl)
        band = []
        out.append(box)
    return out + _band_order(band, rtl)


def _band_order(band: list[Box], rtl: bool) -> list[Box]:
    """Narrow boxes as columns (each read top down), if any two of them sit side by side."""
    columns: list[list[Box]] = []
    for box in sorted(band, key=lambda b: b.x0):
        if columns and box.x0 < max(b.x1 for b in columns[-1]):
            columns[-1].append(box)
        else:
            columns.append([box])
    side_by_side = any(
        a.y0 < b.y1 and b.y0 < a.y1
        for i, first in enumerate(columns)
        for second in columns[i + 1 :]
        for a in first
        for b in second
    )
    if not side_by_side:
        return band
    if rtl:
        columns.reverse()
    return [box for column in columns for box in sorted(column, key=lambda b: -b.y1)]


def box_paragraphs(box: Box, rtl: bool) -> list[Paragraph]:
    """A box's lines in reading order, joined into paragraphs.

    A paragraph ends after a short line that ends a sentence, before a line in another type
    size, and before a line that starts with a bullet or a number (a list item).
    """
    if box.rows:
        size = statistics.median(line.size for line in box.lines)
        rows = table_lines(box.rows, None)
        return [Paragraph(row, size, "table_row", ((0, box.page),)) for row in rows]
    groups: list[list[Line]] = []
    width = box.x1 - box.x0
    for line in box.lines:
        logical = visual_to_logical(line.text, rtl)
        line = replace(line, text=logical)
        previous = groups[-1][-1] if groups else None
        if (
            previous is None
            or abs(previous.size - line.size) > 0.5
            or (ends_sentence(previous.text) and previous.x1 - previous.x0 < SHORT_LINE * width)
            or _BULLET.match(line.text)
            or line.bullet
        ):
            groups.append([line])
        else:
            groups[-1].append(line)
    out: list[Paragraph] = []
    for group in groups:
        text, _ = join_lines([line.text for line in group])
        role: Role = "list_item" if group[0].bullet or _BULLET.match(text) else "paragraph"
        size = statistics.median(line.size for line in group)
        out.append(Paragraph(text, size, role, ((0, box.page),)))
    return out


def paragraphs(pages: list[list[Box]]) -> list[Paragraph]:
    """All paragraphs in reading order; one cut by a page or column break is joined again."""
    rtl = is_rtl("\n".join(box.text for page in pages for box in page))
    out: list[Paragraph] = []
    previous: Box | None = None
    for page in pages:
        for box in reading_order(find_tables(page, rtl), rtl):
            found = box_paragraphs(box, is_rtl(box.text) if box.text.strip() else rtl)
            new_page = previous is not None and previous.page != box.page
            new_column = previous is not None and box.y1 > previous.y1  # back up: a new column
            if (new_page or new_column) and found and out and _continues(out[-1], found[0]):
                first, last = found[0], out[-1]
                joined, starts = join_lines([last.text, first.text])
                marks = last.page_marks
                if new_page:
                    marks = (*marks, (starts[1], box.page))
                out[-1] = Paragraph(joined, last.size, last.role, marks)
                found = found[1:]
            out += found
            previous = box
    return out


def _continues(last: Paragraph, first: Paragraph) -> bool:
    """Whether a page's first paragraph carries on the previous page's last sentence."""
    return (
        last.role == first.role == "paragraph"
        and not ends_sentence(last.text)
        and abs(last.size - first.size) <= 0.5
    )


def pieces_from_paragraphs(found: list[Paragraph]) -> list[Piece]:
    """Paragraphs as pieces: short ones in type larger than the body text become headings."""
    if not found:
        return []
    weights: Counter[float] = Counter()
    for paragraph in found:
        weights[round(paragraph.size, 1)] += len(paragraph.text)
    body = weights.most_common(1)[0][0]
    heading_sizes = sorted(
        {round(p.size, 1) for p in found if _heading_like(p, body)}, reverse=True
    )
    pieces: list[Piece] = []
    group = 0
    for paragraph in found:
        size = round(paragraph.size, 1)
        if paragraph.role == "paragraph" and _heading_like(paragraph, body):
            pieces.append(
                Piece(
                    "heading",
                    paragraph.text,
                    heading_sizes.index(size) + 1,
                    0,
                    paragraph.page_marks,
                )
            )
            continue
        if paragraph.role in {"list_item", "table_row"}:
            if not pieces or pieces[-1].role != paragraph.role:
                group += 1
            pieces.append(Piece(paragraph.role, paragraph.text, 0, group, paragraph.page_marks))
            continue
        pieces.append(Piece("paragraph", paragraph.text, 0, 0, paragraph.page_marks))
    return pieces


def _heading_like(paragraph: Paragraph, body: float) -> bool:
    return (
        paragraph.size >= HEADING_RATIO * body
        and len(paragraph.text.split()) <= HEADING_MAX_WORDS
        and not paragraph.text.rstrip().endswith((".", "。"))
    )
