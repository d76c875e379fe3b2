"""The positioned text of a PDF page: lines and the boxes pdfminer groups them into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One line of a box as drawn: its text in drawing order, its extent and type size."""

    text: str
    x0: float
    x1: float
    size: float
    y0: float = 0.0
    y1: float = 0.0
    bullet: bool = False  # a list marker is drawn beside it (a disc or square, not a glyph)


@dataclass(frozen=True)
class Box:
    """Lines that sit together on a page (pdfminer's text box), with its bounding box."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    lines: tuple[Line, ...]
    rows: tuple[tuple[str, ...], ...] = ()  # a table's cells, row by row, in reading order

    @property
    def text(self) -> str:
        """The lines' text, one per line (drawing order)."""
        return "\n".join(line.text for line in self.lines)
