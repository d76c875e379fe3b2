"""Thin handlers: parse, one pipeline call, convert."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from qa.api.convert import ask_response, document_summary, source
from qa.api.deps import PipelineDep, SettingsDep
from qa.api.schemas import (
    AddDocumentsRequest,
    AddDocumentsResponse,
    AddedDocument,
    AskRequest,
    AskResponse,
    DocumentDetail,
    DocumentIn,
    DocumentList,
    ErrorResponse,
    SearchRequest,
    SearchResponse,
)
from qa.domain import Document
from qa.errors import InvalidInputError, PayloadTooLargeError
from qa.ingest import load_bytes

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (404, 413, 415, 422, 503)
}
router = APIRouter(prefix="/v1", responses=ERRORS)

# Bounds on every path and query parameter, so that out-of-range values get a 422: an offset
# past SQLite's 64-bit integers was a 500 (schemathesis). Ids are at most 512 characters, as
# DocumentIn.id; a billion documents is beyond any one index.
DocumentId = Annotated[str, Path(min_length=1, max_length=512)]
MAX_OFFSET = 1_000_000_000


@router.post("/ask", response_model=AskResponse, tags=["questions"])
def ask(body: AskRequest, pipeline: PipelineDep) -> AskResponse:
    """Answer a question from the indexed documents, with sources (answer null = abstained)."""
    return ask_response(pipeline.ask(body.question, top_k=body.top_k, filters=body.filters))


@router.post("/search", response_model=SearchResponse, tags=["questions"])
def search(body: SearchRequest, pipeline: PipelineDep) -> SearchResponse:
    """Passages that best match a query, best first."""
    hits = pipeline.search(body.query, top_k=body.top_k, filters=body.filters)
    return SearchResponse(results=[source(h) for h in hits])


_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    k: v
                    for k, v in AddDocumentsRequest.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    ).items()
                    if k != "$defs"  # DocumentIn is a component already (PUT uses it)
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["file"],
                }
            },
        },
        "required": True,
    }
}


@router.post(
    "/documents",
    status_code=201,
    response_model=AddDocumentsResponse,
    tags=["documents"],
    openapi_extra=_UPLOAD_DOC,
)
async def add_documents(
    request: Request, pipeline: PipelineDep, settings: SettingsDep
) -> AddDocumentsResponse:
    """Add or replace documents: JSON {"documents": [...]} or a multipart file upload."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        documents = await _uploaded_documents(request, settings.max_upload_bytes)
    else:
        documents = _json_documents(await request.body())
    if len(documents) > settings.max_documents_per_request:
        limit = settings.max_documents_per_request
        raise PayloadTooLargeError(f"more than {limit} documents in one request")
    results = await run_in_threadpool(pipeline.add_documents, documents)
    return AddDocumentsResponse(
        documents=[
            AddedDocument(id=r.document_id, passages=r.passages, replaced=r.replaced)
            for r in results
        ]
    )


def _json_documents(raw: bytes) -> list[Document]:
    try:
        body = AddDocumentsRequest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInputError(f"{where}: {first['msg']}" if where else first["msg"]) from exc
    return [_document(d) for d in body.documents]


def _document(d: DocumentIn, doc_id: str | None = None) -> Document:
    if not d.text.strip():
        raise InvalidInputError("text: the document is empty")
    return Document(
        id=(doc_id or d.id or f"d_{uuid.uuid4().hex[:16]}").strip(),
        text=d.text,
        title=d.title,
        metadata=d.metadata,
    )


async def _uploaded_documents(request: Request, limit: int) -> list[Document]:
    form = await request.form(max_part_size=limit)
    files = [v for v in form.getlist("file") + form.getlist("files") if isinstance(v, UploadFile)]
    if not files:
        raise InvalidInputError("multipart upload needs a 'file' field")
    documents: list[Document] = []
    for upload in files:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLargeError(f"{upload.filename}: larger than {limit} bytes")
        documents.extend(load_bytes(data, upload.filename or "upload.txt"))
    return documents


@router.put(
    "/documents/{document_id}",
    response_model=AddDocumentsResponse,
    tags=["documents"],
)
def replace_document(
    document_id: DocumentId, body: DocumentIn, pipeline: PipelineDep
) -> AddDocumentsResponse:
    """Create or replace the document with this id."""
    if body.id is not None and body.id != document_id:
        raise InvalidInputError("the id in the body differs from the id in the path")
    results = pipeline.add_documents([_document(body, document_id)])
    return AddDocumentsResponse(
        documents=[
            AddedDocument(id=r.document_id, passages=r.passages, replaced=r.replaced)
            for r in results
        ]
    )


@router.get("/documents", response_model=DocumentList, tags=["documents"])
def list_documents(
    pipeline: PipelineDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentList:
    """A page of indexed documents, ordered by id."""
    total = pipeline.stats()["documents"]
    docs = pipeline.list_documents(offset, limit)
    return DocumentList(
        documents=[document_summary(d) for d in docs], total=total, offset=offset, limit=limit
    )


@router.get("/documents/{document_id}", response_model=DocumentDetail, tags=["documents"])
def get_document(document_id: DocumentId, pipeline: PipelineDep) -> DocumentDetail:
    """One document with its full text."""
    info, text = pipeline.get_document(document_id)
    return DocumentDetail(**document_summary(info).model_dump(), text=text)


@router.delete("/documents/{document_id}", status_code=204, tags=["documents"])
def delete_document(document_id: DocumentId, pipeline: PipelineDep) -> Response:
    """Delete a document and its passages."""
    pipeline.delete_document(document_id)
    return Response(status_code=204)


ops = APIRouter(tags=["operations"])


@ops.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@ops.get("/readyz", responses={503: {"model": ErrorResponse}})
def readyz(request: Request) -> Response:
    """The index is loaded and can answer."""
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None or not pipeline.ready:
        body = {"error": {"code": "index_not_ready", "message": "the index is empty or loading"}}
        return Response(json.dumps(body), status_code=503, media_type="application/json")
    stats = pipeline.stats()
    body2 = {
        "status": "ready",
        "documents": stats["documents"],
        "passages": stats["passages"],
        "embedder": stats["manifest"].embedder,
    }
    return Response(json.dumps(body2), media_type="application/json")
