"""Limits: body size, file size, documents per request, question length, top_k, timeout, CORS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.config import Settings
from qa.pipeline import Pipeline


def _client(pipeline: Pipeline, **overrides: Any) -> TestClient:
    settings = Settings(index_dir=pipeline.options.index_dir, **overrides)
    return TestClient(create_app(settings, pipeline=pipeline))


@pytest.fixture
def client(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    limits = {"max_body_bytes": 4096, "max_upload_bytes": 1024, "max_documents_per_request": 3}
    with _client(seed_pipeline, **limits) as test_client:
        yield test_client


def _docs(n: int, size: int = 10) -> dict[str, Any]:
    return {"documents": [{"id": f"n{i}", "text": "word " * size} for i in range(n)]}


def _chunked(payload: bytes) -> Iterator[bytes]:
    yield from (payload[i : i + 1000] for i in range(0, len(payload), 1000))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/v1/documents", {"json": _docs(1, size=2000)}, 413, "payload_too_large"),
        (
            "post",
            "/v1/documents",
            {
                "content": _chunked(b'{"documents": [{"text": "' + b"a" * 6000 + b'"}]}'),
                "headers": {"content-type": "application/json"},
            },
            413,
            "payload_too_large",
        ),
        ("post", "/v1/documents", {"json": _docs(4)}, 413, "payload_too_large"),
        (
            "post",
            "/v1/documents",
            {"files": {"file": ("big.txt", b"text " * 300, "text/plain")}},
            413,
            "payload_too_large",
        ),
        ("post", "/v1/ask", {"json": {"question": "q" * 2001}}, 422, "invalid_input"),
        ("post", "/v1/ask", {"json": {"question": "ok", "top_k": 51}}, 422, "invalid_input"),
        ("post", "/v1/search", {"json": {"query": "ok", "top_k": 0}}, 422, "invalid_request"),
    ],
)
def test_limits_answer_4xx_and_store_nothing(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    before = client.get("/v1/documents").json()
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert client.get("/v1/documents").json() == before


def test_within_limits_is_accepted(client: TestClient) -> None:
    assert client.post("/v1/documents", json=_docs(3)).status_code == 201
    upload = {"file": ("small.txt", b"text " * 100, "text/plain")}
    assert client.post("/v1/documents", files=upload).status_code == 201


def test_slow_requests_get_504(seed_pipeline: Pipeline) -> None:
    with _client(seed_pipeline, request_timeout_s=1e-6) as client:
        response = client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"


def test_cors_is_off_unless_configured(client: TestClient, seed_pipeline: Pipeline) -> None:
    preflight = {
        "Origin": "https://chat.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    assert "access-control-allow-origin" not in client.options("/v1/ask", headers=preflight).headers
    with _client(seed_pipeline, cors_origins="https://chat.example") as cors:
        allowed = cors.options("/v1/ask", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://chat.example"
        other = cors.options("/v1/ask", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        simple = cors.get("/healthz", headers={"Origin": "https://chat.example"})
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
