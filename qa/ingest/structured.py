"""The text of a structured file, built piece by piece with the role and page of each piece.

Loaders of .md, .html, .docx and .pdf read a file into pieces (a heading, a paragraph, a list
item, a table row) and this writes them out as the document's text: blocks separated by a
blank line, the items of one list and the rows of one table by a line break. Each piece's
span becomes a Region, so chunking knows the headings and lists instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.domain import Document, Region, Role
from qa.text.bidi import fold_presentation_forms
from qa.text.structure import table_lines

_GROUPED: frozenset[Role] = frozenset({"list_item", "table_row"})


@dataclass(frozen=True)
class Piece:
    """One unit of a file's text: `group` tells apart two lists or tables that touch.

    `page_marks` are (offset in text, page) pairs where a page starts inside the piece; a
    piece from a paged file carries at least its first page at offset 0.
    """

    role: Role
    text: str
    level: int = 0
    group: int = 0
    page_marks: tuple[tuple[int, int], ...] = ()


@dataclass
class Pieces:
    """Pieces gathered in document order; tables and lists are numbered as they open."""

    items: list[Piece]
    groups: int = 0

    def add(self, role: Role, text: str, level: int = 0, group: int = 0) -> None:
        """Add a piece, unless its text is only whitespace."""
        folded = " ".join(text.split())
        if folded:
            self.items.append(Piece(role, folded, level, group))

    def new_group(self) -> int:
        """A number for a list or table that starts now."""
        self.groups += 1
        return self.groups

    def add_table(self, rows: Sequence[Sequence[str]], header_rows: int | None) -> None:
        """A table's rows as lines that keep their header (see qa.text.structure.row_text)."""
        group = self.new_group()
        for line in table_lines(rows, header_rows):
            self.add("table_row", line, group=group)


def assemble(pieces: Sequence[Piece]) -> tuple[str, tuple[Region, ...], tuple[int, ...]]:
    """The document text, its regions and the start of each page (empty when not paged).

    Presentation forms of Arabic letters are folded here (qa.text.bidi), before any offset is
    taken, so that the stored text, the answers copied from it and their offsets agree.
    """
    text = ""
    regions: list[Region] = []
    page_starts: dict[int, int] = {}
    previous: Piece | None = None
    for piece in pieces:
        if previous is not None:
            same = piece.role in _GROUPED and (piece.role, piece.group) == (
                previous.role,
                previous.group,
            )
            text += "\n" if same else "\n\n"
        start = len(text)
        marks = sorted(piece.page_marks)
        body = ""
        cut = 0
        for offset, page in marks:
            body += fold_presentation_forms(piece.text[cut:offset])
            page_starts.setdefault(page, start + len(body))
            cut = offset
        body += fold_presentation_forms(piece.text[cut:])
        text += body
        regions.append(Region(start, len(text), piece.role, piece.level))
        previous = piece
    return text, tuple(regions), _page_offsets(page_starts, len(text))


def _page_offsets(page_starts: dict[int, int], length: int) -> tuple[int, ...]:
    """Where pages 1..N start; a page without text starts where the next one's text does."""
    if not page_starts:
        return ()
    out: list[int] = []
    following = length
    for page in range(max(page_starts), 0, -1):
        following = page_starts.get(page, following)
        out.append(following)
    return tuple(reversed(out))


def structured_document(
    pieces: Sequence[Piece], doc_id: str, name: str, title: str
) -> Document | None:
    """A Document from pieces, or None when they hold no text."""
    text, regions, pages = assemble(pieces)
    if not text.strip():
        return None
    return Document(
        id=doc_id,
        text=text,
        title=title,
        metadata={"source": name},
        regions=regions,
        pages=pages,
    )
