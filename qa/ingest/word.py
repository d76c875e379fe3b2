"""Word .docx: paragraphs and tables in document order, headings and lists by their style."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from qa.ingest.structured import Pieces

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_HEADING_STYLE = re.compile(r"^(?:heading|titre|überschrift|عنوان)\s*(\d)$", re.IGNORECASE)


def docx_pieces(document: Any) -> Pieces:
    """The pieces of an opened python-docx Document (the body; page headers are left out)."""
    from docx.table import Table

    pieces = Pieces([])
    list_group = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            list_group = 0
            pieces.add_table(*_table(block))
            continue
        level = heading_level(block)
        if level:
            list_group = 0
            pieces.add("heading", block.text, level=level)
        elif _is_list_item(block):
            list_group = list_group or pieces.new_group()
            pieces.add("list_item", block.text, group=list_group)
        elif block.text.strip():
            list_group = 0
            pieces.add("paragraph", block.text)
    return pieces


def heading_level(paragraph: Paragraph) -> int:
    """1-9 for a paragraph styled Title or Heading N (or with an outline level), else 0."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1))
    p_pr = paragraph._p.pPr
    outline = p_pr.find(_qn("w:outlineLvl")) if p_pr is not None else None
    if outline is not None:
        value = outline.get(_qn("w:val"), "")
        return int(value) + 1 if value.isdigit() and int(value) < 9 else 0
    return 0


def _is_list_item(paragraph: Paragraph) -> bool:
    """A numbered or bulleted paragraph: a List style, or numbering set on the paragraph."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower().startswith("list"):
        return True
    p_pr = paragraph._p.pPr
    return p_pr is not None and p_pr.find(_qn("w:numPr")) is not None


def _table(table: Table) -> tuple[list[list[str]], int | None]:
    """Cell texts row by row, and the header rows the file marks ("repeat as header row")."""
    rows: list[list[str]] = []
    header_rows = 0
    for row in table.rows:
        rows.append([cell.text for cell in row.cells])
        tr_pr = row._tr.trPr
        marked = tr_pr is not None and tr_pr.find(_qn("w:tblHeader")) is not None
        if marked and header_rows == len(rows) - 1:
            header_rows += 1
    return rows, (header_rows or None)


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return str(qn(tag))
