"""Domain types shared by every layer: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """A source document as loaded, before it is split into passages."""

    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sentence:
    """A sentence or clause of a passage; offsets are code points into the passage text."""

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
    sentences: tuple[Sentence, ...] = ()


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
