"""Turn a Document into Passages: paragraphs, headings as titles, windows, clause offsets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from qa.domain import Clause, Document, Passage
from qa.text.split import blocks, clauses, windows
from qa.text.structure import page_range, region_blocks


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut; recorded in the index manifest."""

    max_tokens: int = 400
    overlap_sentences: int = 1
    clause_max_words: int = 30

    def as_dict(self) -> dict[str, int]:
        """Plain mapping for the manifest."""
        return asdict(self)


TITLE_CONTEXT_WORDS = 24
MIN_WINDOW_TOKENS = 64  # a passage's share of the window when the title takes the rest


def with_title(passage: Passage) -> str:
    """The passage text prefixed with (the start of) its title, as it is embedded and indexed."""
    return with_title_text(passage.title, passage.text)


def clause_spans_in_titled(passage: Passage) -> list[tuple[int, int]]:
    """Where each of the passage's clauses lies in with_title(passage) (code points)."""
    shift = len(with_title(passage)) - len(passage.text)
    return [(shift + c.start, shift + c.end) for c in passage.clauses]


def with_title_text(title: str, text: str) -> str:
    """A text prefixed with the first TITLE_CONTEXT_WORDS words of a title, if there is one."""
    title = " ".join(title.split()[:TITLE_CONTEXT_WORDS])
    return f"{title}\n{text}" if title else text


def passage_id(document_id: str, index: int) -> str:
    """A stable passage id: the same document and position always give the same id."""
    digest = hashlib.sha1(document_id.encode("utf-8")).hexdigest()[:12]
    return f"p_{digest}_{index:04d}"


def chunk_document(
    document: Document,
    count_tokens: Callable[[str], int],
    config: ChunkingConfig,
    window: int | None = None,
) -> list[Passage]:
    """Passages of a document, each with offsets into document.text and its clause spans.

    `window` is the most tokens the embedding model reads: a passage is cut short enough that
    it fits whole, with its title, instead of losing its end to the model's truncation.
    """
    out: list[Passage] = []
    text = document.text
    fixed = count_tokens("")
    parts = region_blocks(text, document.regions) if document.regions else blocks(text)
    for block in parts:
        body = text[block.start : block.end]
        title = block.heading or document.title
        limit = config.max_tokens
        if window is not None:
            title_cost = count_tokens(with_title_text(title, "")) - fixed if title else 0
            limit = max(MIN_WINDOW_TOKENS, min(limit, window - title_cost))
        for span in windows(body, count_tokens, limit, config.overlap_sentences):
            start, end = block.start + span.start, block.start + span.end
            piece = text[start:end]
            clause_spans = clauses(piece, config.clause_max_words)
            out.append(
                Passage(
                    id=passage_id(document.id, len(out)),
                    document_id=document.id,
                    text=piece,
                    title=title,
                    start=start,
                    end=end,
                    metadata=_metadata(document, start, end),
                    clauses=tuple(Clause(c.start, c.end) for c in clause_spans),
                )
            )
    return out


def _metadata(document: Document, start: int, end: int) -> dict[str, Any]:
    """The document's metadata, with the page (and last page, if another) of a paged source."""
    metadata = dict(document.metadata)
    if document.pages:
        first, last = page_range(document.pages, start, end)
        metadata["page"] = first
        if last != first:
            metadata["last_page"] = last
    return metadata
