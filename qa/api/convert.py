"""Explicit converters between domain types and API schemas."""

from __future__ import annotations

from qa.api.schemas import AnswerOut, AskResponse, ContextOut, DocumentSummary, Source
from qa.domain import AskResult, DocumentInfo, Hit


def source(hit: Hit) -> Source:
    """A hit as an API source object."""
    p = hit.passage
    return Source(
        id=p.id,
        document_id=p.document_id,
        title=p.title,
        text=p.text,
        score=hit.score,
        rank=hit.rank,
        metadata=p.metadata,
    )


def ask_response(result: AskResult) -> AskResponse:
    """An ask result as the /v1/ask body."""
    answer = None
    if result.answer is not None:
        a = result.answer
        context = a.context
        answer = AnswerOut(
            text=a.text,
            source_id=a.passage_id,
            start=a.start,
            end=a.end,
            score=round(a.score, 4),
            context=ContextOut(text=context.text, start=context.start, end=context.end)
            if context is not None
            else None,
        )
    return AskResponse(
        question=result.question, answer=answer, sources=[source(h) for h in result.hits]
    )


def document_summary(info: DocumentInfo) -> DocumentSummary:
    """A document as listed."""
    return DocumentSummary(
        id=info.id,
        title=info.title,
        metadata=info.metadata,
        passages=info.passages,
        chars=info.chars,
    )
