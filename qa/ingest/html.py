"""HTML: visible text in document order, with its headings, list items and table rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.domain import Role
from qa.ingest.structured import Pieces

if TYPE_CHECKING:
    from bs4 import Tag

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIPPED = {"script", "style", "noscript", "template", "head", "title", "svg", "math"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
    "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    *HEADINGS,
}  # fmt: skip


def html_pieces(soup: Tag) -> Pieces:
    """The pieces of a parsed page: text between block elements becomes a paragraph."""
    pieces = Pieces([])
    inline: list[str] = []
    _walk(soup, pieces, inline, _PARAGRAPH)
    _flush(pieces, inline, _PARAGRAPH)
    return pieces


_PARAGRAPH: tuple[Role, int] = ("paragraph", 0)


def _walk(node: Tag, pieces: Pieces, inline: list[str], where: tuple[Role, int]) -> None:
    """Visit children in order; inline text gathers until a block element closes it.

    `where` is the role (and list) that gathered text takes: a list item's own words stay
    one item even when a nested list cuts them.
    """
    from bs4.element import (
        Comment,
        Declaration,
        Doctype,
        NavigableString,
        ProcessingInstruction,
        Tag,
    )

    for child in node.children:
        if isinstance(child, Comment | Declaration | Doctype | ProcessingInstruction):
            continue
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _SKIPPED:
            continue
        if child.name == "br":
            inline.append(" ")
        elif child.name not in _BLOCKS:
            _walk(child, pieces, inline, where)
        else:
            _flush(pieces, inline, where)
            _block(child, pieces, where)


def _block(tag: Tag, pieces: Pieces, where: tuple[Role, int]) -> None:
    """A block element: a heading, list, list item, table or container of other blocks."""
    name = tag.name
    inline: list[str] = []
    if name in HEADINGS:
        pieces.add("heading", tag.get_text(" "), level=HEADINGS[name])
    elif name == "table":
        caption = tag.find("caption")
        if caption is not None:
            pieces.add("paragraph", caption.get_text(" "))
        rows, header_rows = _table(tag)
        pieces.add_table(rows, header_rows)
    elif name in {"ul", "ol", "menu", "dl"}:
        _walk(tag, pieces, inline, ("list_item", pieces.new_group()))
        _flush(pieces, inline, where)
    elif name in {"li", "dt", "dd"}:
        group = where[1] if where[0] == "list_item" else pieces.new_group()
        item: tuple[Role, int] = ("list_item", group)
        _walk(tag, pieces, inline, item)
        _flush(pieces, inline, item)
    elif name == "pre":
        pieces.add("paragraph", tag.get_text())
    else:
        _walk(tag, pieces, inline, where)
        _flush(pieces, inline, where)


def _flush(pieces: Pieces, inline: list[str], where: tuple[Role, int]) -> None:
    """The gathered inline text as a piece of the current role, if it holds any words."""
    role, group = where
    pieces.add(role, "".join(inline), group=group)
    inline.clear()


def _table(table: Tag) -> tuple[list[list[str]], int | None]:
    """A table's rows of cell texts, and how many header rows the markup declares (or None)."""
    rows: list[list[str]] = []
    header_rows = 0
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a nested table's rows belong to its own cell's text
        cells = tr.find_all(["td", "th"], recursive=False)
        row: list[str] = []
        for cell in cells:
            span = cell.get("colspan")
            repeat = int(span) if isinstance(span, str) and span.isdigit() else 1
            row.extend([" ".join(cell.get_text(" ").split())] * max(1, min(repeat, 50)))
        if not row:
            continue
        is_header = tr.find_parent("thead") is not None or all(c.name == "th" for c in cells)
        if is_header and header_rows == len(rows):
            header_rows += 1
        rows.append(row)
    return rows, (header_rows or None)
