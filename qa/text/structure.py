"""A document's structure as text: table rows that keep their header, blocks from regions."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence

from qa.domain import Region
from qa.text.normalize import script_of
from qa.text.split import Block

_NUMERIC = re.compile(r"^[\s\d\u0660-\u0669.,٫٬%+\-–/()]+$")


def row_text(header: Sequence[str], cells: Sequence[str]) -> str:
    """One table row as a line of prose that names each value by its column's header.

    ("المصدر", "الإنتاج بالميغاواط") and ("الطاقة النووية", "2490") give
    "المصدر: الطاقة النووية، الإنتاج بالميغاواط: 2490": a row read alone still says what its
    numbers are. Empty cells are left out; a column without a header gives its value alone.
    Arabic rows are joined with the Arabic comma, others with a comma.
    """
    cells = [" ".join(c.split()) for c in cells]
    header = [" ".join(h.split()) for h in header]
    parts = [
        f"{name}: {value}" if name and name != value else value
        for name, value in itertools.zip_longest(header[: len(cells)], cells, fillvalue="")
        if value
    ]
    separator = "، " if script_of(" ".join(cells + header)) == "arabic" else ", "
    return separator.join(parts)


def looks_like_header(cells: Sequence[str]) -> bool:
    """Whether a first row names columns: no empty-looking row, and no cell a bare number."""
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and not any(_NUMERIC.match(c) for c in filled)


def table_lines(rows: Sequence[Sequence[str]], header_rows: int | None = None) -> list[str]:
    """The rows of a table as lines of text (see row_text), header rows not repeated.

    `header_rows` is what the file says (an HTML <thead> or <th> row, a Markdown table's first
    row); None when it does not say, and the first row is taken as the header if it looks
    like one. A two-column table without a header reads as "key: value" lines.
    """
    rows = [list(r) for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    if header_rows is None:
        header_rows = 1 if len(rows) > 1 and looks_like_header(rows[0]) else 0
    if header_rows:
        columns = itertools.zip_longest(*rows[:header_rows], fillvalue="")
        header = [" ".join(dict.fromkeys(col)).strip() for col in columns]
        body = rows[header_rows:]
    else:
        header, body = [], rows
    if not header and all(len(r) == 2 for r in body):
        return [row_text([r[0]], [r[1]]) if r[0].strip() else r[1] for r in body]
    lines = [row_text(header, r) for r in body]
    return [line for line in lines if line]


def region_blocks(text: str, regions: Sequence[Region]) -> list[Block]:
    """Paragraphs of a structured document: each under the nearest heading before it.

    A list is one block (with the paragraph that introduces it, when that ends with ':'), and
    so is a table: its rows stay together as long as they fit, like a paragraph's sentences.
    A heading with nothing under it before the next heading of its level is a block itself.
    """
    out: list[Block] = []
    heading = ""
    i = 0
    while i < len(regions):
        region = regions[i]
        if region.role == "heading":
            if _has_body(regions, i):
                heading = " ".join(text[region.start : region.end].split())
            else:
                _append(out, text, region.start, region.end, heading)
            i += 1
            continue
        j = i + 1
        grouped = {"list_item", "table_row"} & {region.role}
        if region.role == "paragraph" and text[region.start : region.end].rstrip().endswith(":"):
            grouped = {"list_item", "table_row"}  # "The figures are:" and what it introduces
        while j < len(regions) and regions[j].role in grouped:
            grouped = {regions[j].role}
            j += 1
        _append(out, text, region.start, regions[j - 1].end, heading)
        i = j
    return out


def _has_body(regions: Sequence[Region], i: int) -> bool:
    """Whether text (or a deeper heading's text) follows heading i before one of its level."""
    for region in regions[i + 1 :]:
        if region.role != "heading":
            return True
        if region.level <= regions[i].level:
            return False
    return False


def _append(out: list[Block], text: str, start: int, end: int, heading: str) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Block(start, end, heading))


def page_range(pages: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """The first and last page (1-based) of the text [start, end), given each page's start."""
    first = max(1, bisect.bisect_right(pages, start))
    last = max(first, bisect.bisect_right(pages, max(start, end - 1)))
    return first, last
