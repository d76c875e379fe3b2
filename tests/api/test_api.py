"""The HTTP contract of ../API.md, through FastAPI's test client over a real seed index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.backends import open_pipeline
from qa.config import Settings
from qa.embed import Embedder
from qa.pipeline import Pipeline


@pytest.fixture
def client(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    settings = Settings(index_dir=seed_pipeline.options.index_dir)
    with TestClient(create_app(settings, pipeline=seed_pipeline)) as test_client:
        yield test_client


def test_ask_returns_answer_with_exact_offsets(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟", "top_k": 3}).json()
    assert body["question"] == "ماذا أكد عمران خان؟"
    assert [s["rank"] for s in body["sources"]] == [1, 2, 3]
    answer = body["answer"]
    source = next(s for s in body["sources"] if s["id"] == answer["source_id"])
    assert source["text"][answer["start"] : answer["end"]] == answer["text"]
    assert "الدعم الواسع" in answer["text"]
    assert set(source) == {"id", "document_id", "title", "text", "score", "rank", "metadata"}


def test_unanswerable_question_gets_null_answer_and_sources(client: TestClient) -> None:
    body = client.post(
        "/v1/ask", json={"question": "What is the boiling point of liquid nitrogen?"}
    ).json()
    assert body["answer"] is None
    assert len(body["sources"]) == 5


def test_search(client: TestClient) -> None:
    body = client.post("/v1/search", json={"query": "الكرملين", "top_k": 2}).json()
    assert len(body["results"]) == 2
    assert body["results"][0]["rank"] == 1


def test_documents_lifecycle(client: TestClient) -> None:
    created = client.post(
        "/v1/documents",
        json={
            "documents": [
                {
                    "id": "note",
                    "title": "Note",
                    "text": "The meeting moved to Friday.",
                    "metadata": {"k": "v"},
                }
            ]
        },
    )
    assert created.status_code == 201
    assert created.json() == {"documents": [{"id": "note", "passages": 1, "replaced": False}]}
    ask = client.post(
        "/v1/ask", json={"question": "When is the meeting?", "filters": {"document_id": "note"}}
    )
    assert ask.json()["sources"][0]["document_id"] == "note"

    listing = client.get("/v1/documents").json()
    assert {d["id"] for d in listing["documents"]} == {"note", "000_cc7b3c5100db086b"}
    assert listing["total"] == 2
    detail = client.get("/v1/documents/note").json()
    assert detail["text"] == "The meeting moved to Friday." and detail["metadata"] == {"k": "v"}

    replaced = client.put("/v1/documents/note", json={"text": "The meeting moved to Monday."})
    assert replaced.json()["documents"][0]["replaced"] is True
    assert client.get("/v1/documents").json()["total"] == 2

    assert client.delete("/v1/documents/note").status_code == 204
    assert client.get("/v1/documents/note").status_code == 404
    assert client.delete("/v1/documents/note").status_code == 404


def test_generated_ids_for_documents_without_one(client: TestClient) -> None:
    body = client.post("/v1/documents", json={"documents": [{"text": "Anonymous text."}]}).json()
    assert body["documents"][0]["id"].startswith("d_")


def test_file_upload(client: TestClient) -> None:
    files = {
        "file": (
            "report.md",
            b"# Report\n\nThe budget grew by 12 percent.",
            "text/markdown",
        )
    }
    response = client.post("/v1/documents", files=files)
    assert response.status_code == 201, response.text
    assert response.json()["documents"][0]["id"] == "report"
    hits = client.post("/v1/search", json={"query": "budget growth", "top_k": 1}).json()["results"]
    assert hits[0]["document_id"] == "report"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        (
            "post",
            "/v1/ask",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "invalid_json",
        ),
        ("post", "/v1/ask", {"json": {"question": "   "}}, 422, "invalid_input"),
        ("post", "/v1/ask", {"json": {"question": "ok", "top_k": 51}}, 422, "invalid_input"),
        ("post", "/v1/ask", {"json": {"question": "x" * 3000}}, 422, "invalid_input"),
        ("post", "/v1/ask", {"json": {"top_k": 3}}, 422, "invalid_request"),
        ("post", "/v1/search", {"json": {"query": ""}}, 422, "invalid_input"),
        ("get", "/v1/documents/nope", {}, 404, "not_found"),
        ("delete", "/v1/documents/nope", {}, 404, "not_found"),
        ("post", "/v1/documents", {"json": {"documents": []}}, 422, "invalid_input"),
        ("post", "/v1/documents", {"json": {"documents": [{"text": "  "}]}}, 422, "invalid_input"),
        (
            "post",
            "/v1/documents",
            {"files": {"file": ("x.png", b"img", "image/png")}},
            415,
            "unsupported_format",
        ),
        (
            "post",
            "/v1/documents",
            {"files": {"file": ("x.txt", b"\xff\xfe\x00bin", "text/plain")}},
            422,
            "invalid_input",
        ),
        ("get", "/v1/nowhere", {}, 404, "not_found"),
    ],
)
def test_errors_are_json(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    before = client.get("/v1/documents").json()["total"]
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert client.get("/v1/documents").json()["total"] == before  # nothing stored


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["passages"] == 6


def test_readiness_is_503_on_an_empty_index(tmp_path: Path, embedder: Embedder) -> None:
    from qa.pipeline import PipelineOptions

    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path / "empty"), embedder=embedder)
    with TestClient(create_app(Settings(index_dir=tmp_path / "empty"), pipeline=pipeline)) as c:
        assert c.get("/readyz").status_code == 503
        response = c.post("/v1/ask", json={"question": "anything?"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "index_not_ready"


def test_openapi_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{document_id}"} <= set(
        spec["paths"]
    )
