"""Tables in a PDF's text layer: side-by-side boxes of short lines that line up row by row.

pdfminer groups a table's cells column by column (each column one box). Two or more such
boxes next to each other, whose lines sit at the same heights, are read back as rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace

from qa.ingest.pdf_layout import Box, Line
from qa.text.bidi import is_rtl, visual_to_logical

CELL_MAX_WORDS = 5  # a column whose lines are longer than this (median) is text, not cells
ALIGNED_SHARE = 0.8  # this share of a column's lines must sit level with the other's
ROW_TOLERANCE = 0.4  # of the type size: lines closer than this in height share a row


def _centre(line: Line) -> float:
    return (line.y0 + line.y1) / 2


def _cell_like(box: Box) -> bool:
    return len(box.lines) >= 2 and statistics.median(len(x.text.split()) for x in box.lines) <= (
        CELL_MAX_WORDS
    )


def _aligned(a: Box, b: Box) -> bool:
    """Whether two boxes sit side by side with their lines at the same heights."""
    if not (a.x1 <= b.x0 or b.x1 <= a.x0) or a.y0 >= b.y1 or b.y0 >= a.y1:
        return False
    fewer, more = sorted((a, b), key=lambda box: len(box.lines))
    level = sum(
        any(abs(_centre(x) - _centre(y)) <= ROW_TOLERANCE * x.size for y in more.lines)
        for x in fewer.lines
    )
    return level >= ALIGNED_SHARE * len(fewer.lines)


def find_tables(boxes: Sequence[Box], rtl: bool) -> list[Box]:
    """The page's boxes with each table's column boxes replaced by one box holding its rows."""
    cells = [i for i, box in enumerate(boxes) if _cell_like(box)]
    group = {i: i for i in cells}

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for n, i in enumerate(cells):
        for j in cells[n + 1 :]:
            if _aligned(boxes[i], boxes[j]):
                group[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for i in cells:
        members.setdefault(root(i), []).append(i)
    tables = [sorted(m) for m in members.values() if len(m) > 1]
    taken = {i for table in tables for i in table}
    out = [box for i, box in enumerate(boxes) if i not in taken]
    for table in tables:
        out.append(_table_box([boxes[i] for i in table], rtl))
    return out


def _table_box(columns: list[Box], rtl: bool) -> Box:
    """One box for a table: its rows of cells in reading order (right to left in Arabic)."""
    right_to_left = is_rtl("\n".join(c.text for c in columns)) or rtl
    columns = sorted(columns, key=lambda c: c.x0, reverse=right_to_left)
    lines = sorted(
        ((_centre(x), k, x) for k, c in enumerate(columns) for x in c.lines),
        key=lambda t: -t[0],
    )
    rows: list[list[str]] = []
    last = float("inf")
    for centre, k, line in lines:
        if not rows or last - centre > ROW_TOLERANCE * line.size:
            rows.append([""] * len(columns))
            last = centre
        text = visual_to_logical(line.text, is_rtl(line.text) or right_to_left)
        rows[-1][k] = f"{rows[-1][k]} {text}".strip()
    every = [x for c in columns for x in c.lines]
    return replace(
        columns[0],
        x0=min(c.x0 for c in columns),
        y0=min(c.y0 for c in columns),
        x1=max(c.x1 for c in columns),
        y1=max(c.y1 for c in columns),
        lines=tuple(every),
        rows=tuple(tuple(row) for row in rows),
    )
