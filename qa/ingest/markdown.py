"""Markdown: rendered to plain text (no # or ** marks) with its headings, lists and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qa.domain import Role
from qa.ingest.structured import Pieces

if TYPE_CHECKING:
    from markdown_it.token import Token


def markdown_pieces(source: str) -> Pieces:
    """The pieces of a Markdown text (CommonMark with GitHub tables), in document order."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(source)
    reader = _Reader(Pieces([]))
    for i, token in enumerate(tokens):
        reader.read(token, tokens[i + 1] if i + 1 < len(tokens) else token)
    return reader.pieces


@dataclass
class _Reader:
    """Walks the token stream, knowing which containers (lists, a table) are open."""

    pieces: Pieces
    open_: list[str] = field(default_factory=list)  # enclosing containers, innermost last
    lists: list[int] = field(default_factory=list)  # the group of each open list
    table: list[list[str]] | None = None
    header_rows: int = 0

    def read(self, token: Token, following: Token) -> None:
        """Take one token (`following` holds the words of a heading, paragraph or cell)."""
        kind = token.type
        if kind in {"bullet_list_open", "ordered_list_open"}:
            self.lists.append(self.pieces.new_group())
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            self.lists.pop()
        elif kind == "heading_open":
            self.pieces.add("heading", inline_text(following), level=int(token.tag[1:]))
        elif kind == "paragraph_open":
            in_item = bool(self.open_) and self.open_[-1] == "list_item"
            role: Role = "list_item" if in_item else "paragraph"
            self.pieces.add(role, inline_text(following), group=self.lists[-1] if in_item else 0)
        elif kind in {"fence", "code_block"}:
            self.pieces.add("paragraph", token.content)
        elif kind == "html_block":
            _html(token.content, self.pieces)
        else:
            self._table(kind, following)
        if token.nesting == 1:
            self.open_.append(kind.removesuffix("_open"))
        elif token.nesting == -1 and self.open_:
            self.open_.pop()

    def _table(self, kind: str, following: Token) -> None:
        if kind == "table_open":
            self.table, self.header_rows = [], 0
        elif self.table is None:
            return
        elif kind == "tr_open":
            self.table.append([])
            self.header_rows += "thead" in self.open_
        elif kind in {"th_open", "td_open"}:
            self.table[-1].append(inline_text(following))
        elif kind == "table_close":
            self.pieces.add_table(self.table, self.header_rows or None)
            self.table = None


def inline_text(token: Token) -> str:
    """The visible words of an inline token: text, code and image descriptions, no marks."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def _html(source: str, pieces: Pieces) -> None:
    """A block of raw HTML inside Markdown (a table, a <details>) read as HTML is."""
    from bs4 import BeautifulSoup

    from qa.ingest.html import html_pieces

    groups: dict[int, int] = {0: 0}
    for piece in html_pieces(BeautifulSoup(source, "html.parser")).items:
        if piece.group not in groups:
            groups[piece.group] = pieces.new_group()
        pieces.add(piece.role, piece.text, piece.level, groups[piece.group])
