"""Domain types shared by every layer: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Role = Literal["heading", "paragraph", "list_item", "table_row"]


@dataclass(frozen=True)
class Region:
    """A span of a document's text and the role its file gave it (a heading, a table row...).

    Loaders of structured formats (.md, .html, .docx, .pdf) record what the file says, so that
    chunking need not guess headings from short lines; `level` is a heading's depth (1 = top).
    """

    start: int
    end: int
    role: Role
    level: int = 0


@dataclass(frozen=True)
class Document:
    """A source document as loaded, before it is split into passages.

    `regions` (in text order) is the structure a loader read from the file, empty for plain
    text; `pages` holds where each page's text starts (page n at pages[n - 1]) for paged
    formats, so that passages can say which page they come from.
    """

    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Clause:
    """An answer-sized piece of a passage (a sentence, or part of a long one); offsets are code
    points into the passage text."""

    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A retrievable unit of a document, with its offsets in the original document text."""

    id: str
    document_id: str
    text: str
    title: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)
    clauses: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class Query:
    """A question read once (qa.text.query.parse_query): what every later stage needs of it.

    Retrieval, clause choice and abstention used to normalise, tokenise and script-check the
    question again each; they now read these fields.
    """

    text: str
    tokens: tuple[str, ...]  # normalised, light-stemmed terms (BM25, term overlap)
    script: str  # 'arabic', 'latin' or 'other' (qa.text.normalize.script_of)
    wants_number: bool  # asks when, how many, which year: the answer should hold a number
    vector: npt.NDArray[np.float32] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and rank (1 = best)."""

    passage: Passage
    score: float
    rank: int


@dataclass(frozen=True)
class Context:
    """The sentence or clause around an answer span, in the same passage as the span."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """A span copied verbatim from one passage: passage.text[start:end] == text.

    `context` (when set) is the clause around it: context.start <= start, end <= context.end.
    """

    text: str
    passage_id: str
    start: int
    end: int
    score: float
    context: Context | None = None


@dataclass(frozen=True)
class AskResult:
    """What a question gets: an answer (None when the service abstains) and its sources."""

    question: str
    answer: Answer | None
    hits: list[Hit]
    confidence: float | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """What the store knows about an indexed document."""

    id: str
    title: str
    metadata: dict[str, Any]
    passages: int
    chars: int
    source: str = ""
