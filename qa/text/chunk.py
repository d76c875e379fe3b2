"""Turn a Document into Passages: paragraphs, headings as titles, windows, clause offsets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

from qa.domain import Document, Passage, Sentence
from qa.text.split import blocks, clauses, windows


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


def with_title(passage: Passage) -> str:
    """The passage text prefixed with (the start of) its title, as it is embedded and indexed."""
    title = " ".join(passage.title.split()[:TITLE_CONTEXT_WORDS])
    return f"{title}\n{passage.text}" if title else passage.text


def passage_id(document_id: str, index: int) -> str:
    """A stable passage id: the same document and position always give the same id."""
    digest = hashlib.sha1(document_id.encode("utf-8")).hexdigest()[:12]
    return f"p_{digest}_{index:04d}"


def chunk_document(
    document: Document, count_tokens: Callable[[str], int], config: ChunkingConfig
) -> list[Passage]:
    """Passages of a document, each with offsets into document.text and its clause spans."""
    out: list[Passage] = []
    text = document.text
    for block in blocks(text):
        body = text[block.start : block.end]
        for span in windows(body, count_tokens, config.max_tokens, config.overlap_sentences):
            start, end = block.start + span.start, block.start + span.end
            piece = text[start:end]
            units = tuple(Sentence(c.start, c.end) for c in clauses(piece, config.clause_max_words))
            out.append(
                Passage(
                    id=passage_id(document.id, len(out)),
                    document_id=document.id,
                    text=piece,
                    title=block.heading or document.title,
                    start=start,
                    end=end,
                    metadata=dict(document.metadata),
                    sentences=units,
                )
            )
    return out
