"""Request and response bodies of the HTTP contract (../API.md), apart from domain types."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Filters = dict[str, str | int | float | bool]


class AskRequest(BaseModel):
    """POST /v1/ask."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., description="The question, in any language.", max_length=100_000)
    top_k: int = Field(5, ge=1, description="How many source passages to return (at most 50).")
    filters: Filters | None = Field(
        None, description="Equality filters: `document_id` or any metadata key."
    )


class SearchRequest(BaseModel):
    """POST /v1/search."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(..., description="What to look for, in any language.", max_length=100_000)
    top_k: int = Field(10, ge=1, description="How many passages to return (at most 50).")
    filters: Filters | None = None


class Source(BaseModel):
    """A passage returned as evidence."""

    id: str
    document_id: str
    title: str
    text: str
    score: float
    rank: int
    metadata: dict[str, Any] = Field(default_factory=dict)


class ContextOut(BaseModel):
    """The clause around the answer, in the same source: text == source.text[start:end]."""

    text: str
    start: int
    end: int


class AnswerOut(BaseModel):
    """The answer span: sources[i].text[start:end] == text for the source with id source_id."""

    text: str
    source_id: str
    start: int
    end: int
    score: float
    context: ContextOut | None = Field(
        None, description="The sentence or clause around the span (API v1.1)."
    )


class AskResponse(BaseModel):
    """The answer (null when the service abstains) and its sources, best first."""

    question: str
    answer: AnswerOut | None
    sources: list[Source]


class SearchResponse(BaseModel):
    """Passages best first."""

    results: list[Source]


class DocumentIn(BaseModel):
    """A document to add; an existing id is replaced."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, min_length=1, max_length=512)
    title: str = Field("", max_length=10_000)
    text: str = Field(..., min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class AddDocumentsRequest(BaseModel):
    """POST /v1/documents (JSON)."""

    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(..., min_length=1)


class AddedDocument(BaseModel):
    """One stored document."""

    id: str
    passages: int
    replaced: bool


class AddDocumentsResponse(BaseModel):
    """What was stored."""

    documents: list[AddedDocument]


class DocumentSummary(BaseModel):
    """A document as listed."""

    id: str
    title: str
    metadata: dict[str, Any]
    passages: int
    chars: int


class DocumentDetail(DocumentSummary):
    """A document with its text."""

    text: str


class DocumentList(BaseModel):
    """A page of documents."""

    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int


class ErrorBody(BaseModel):
    """Error detail."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error response."""

    error: ErrorBody
