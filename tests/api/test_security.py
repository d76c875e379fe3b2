"""API keys: 401 without one, 403 for a read-only key on a write, reads open or closed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.api.security import ApiKeys, bearer_token, is_write
from qa.config import Settings
from qa.pipeline import Pipeline

WRITE_KEY = "w-8c1f2e9a-secret"
READ_KEY = "r-77ab01-secret"
NEW_DOC = {"documents": [{"id": "k", "text": "Keys protect writes."}]}


def _client(pipeline: Pipeline, protect_reads: bool) -> TestClient:
    settings = Settings(
        index_dir=pipeline.options.index_dir,
        api_keys=f"{WRITE_KEY}, {READ_KEY}:read",
        protect_reads=protect_reads,
    )
    return TestClient(create_app(settings, pipeline=pipeline))


@pytest.fixture
def client(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    with _client(seed_pipeline, protect_reads=False) as test_client:
        yield test_client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/v1/documents", {"json": NEW_DOC}),
        ("put", "/v1/documents/k", {"json": {"text": "Keys protect writes."}}),
        ("delete", "/v1/documents/000_cc7b3c5100db086b", {}),
    ],
)
def test_writes_need_a_write_key(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    call = getattr(client, method)
    missing = call(path, **kwargs)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert call(path, headers=_auth("wrong"), **kwargs).status_code == 401
    assert call(path, headers={"Authorization": WRITE_KEY}, **kwargs).status_code == 401
    readonly = call(path, headers=_auth(READ_KEY), **kwargs)
    assert readonly.status_code == 403 and readonly.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/documents").json()["total"] == 1  # nothing stored or deleted
    assert call(path, headers=_auth(WRITE_KEY), **kwargs).status_code in (200, 201, 204)


def test_reads_are_open_by_default(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟"}).status_code == 200
    assert client.post("/v1/search", json={"query": "بوتين"}).status_code == 200
    assert client.get("/v1/documents").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_reads_can_be_closed(seed_pipeline: Pipeline) -> None:
    with _client(seed_pipeline, protect_reads=True) as client:
        chat = {"model": "qa", "messages": [{"role": "user", "content": "بوتين"}]}
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("post", "/v1/ask", {"json": {"question": "بوتين"}}),
            ("post", "/v1/chat/completions", {"json": chat}),
            ("get", "/v1/documents", {}),
            ("get", "/v1/models", {}),
            ("get", "/metrics", {}),
        ]
        for method, path, kwargs in calls:
            call = getattr(client, method)
            assert call(path, **kwargs).status_code == 401, path
            assert call(path, headers=_auth(READ_KEY), **kwargs).status_code == 200, path
            assert call(path, headers=_auth(WRITE_KEY), **kwargs).status_code == 200, path
        assert client.get("/healthz").status_code == 200  # probes stay open
        assert client.get("/readyz").status_code == 200


def test_keys_never_reach_the_logs(
    seed_pipeline: Pipeline, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level("DEBUG"), _client(seed_pipeline, protect_reads=True) as client:
        client.get("/v1/documents", headers=_auth(READ_KEY))
        client.post("/v1/documents", json=NEW_DOC, headers=_auth(READ_KEY))
        client.post("/v1/documents", json=NEW_DOC, headers=_auth("guess-" + WRITE_KEY))
    logged = caplog.text + "".join(capfd.readouterr())
    assert "/v1/documents" in logged  # the requests were logged...
    assert READ_KEY not in logged and WRITE_KEY not in logged  # ...without their keys


def test_key_parsing_and_scopes() -> None:
    keys = ApiKeys.parse(" a1 ,b2:read,, ")
    assert keys.scope_of("a1") == "write"
    assert keys.scope_of("b2") == "read"
    assert keys.scope_of("b2:read") is None and keys.scope_of("a") is None
    with pytest.raises(ValueError, match="no key"):
        ApiKeys.parse(" , ")
    assert bearer_token("Bearer  xyz ") == "xyz" and bearer_token("Basic xyz") is None
    assert is_write("POST", "/v1/documents") and not is_write("POST", "/v1/ask")


@pytest.mark.parametrize("protect_reads", [False, True])
def test_openapi_declares_the_bearer_scheme_and_where_it_is_needed(
    seed_pipeline: Pipeline, protect_reads: bool
) -> None:
    with _client(seed_pipeline, protect_reads=protect_reads) as client:
        spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    paths = spec["paths"]

    def needs(method: str, path: str) -> bool:
        return bool(paths[path][method].get("security") == [{"apiKey": []}])

    for method, path in [
        ("post", "/v1/documents"),
        ("put", "/v1/documents/{document_id}"),
        ("delete", "/v1/documents/{document_id}"),
    ]:
        assert needs(method, path), path
        assert {"401", "403"} <= set(paths[path][method]["responses"])
    for method, path in [("post", "/v1/ask"), ("get", "/v1/documents"), ("get", "/metrics")]:
        assert needs(method, path) is protect_reads, path
    assert not needs("get", "/healthz") and not needs("get", "/readyz")


def test_openapi_needs_no_key_when_none_is_configured(seed_pipeline: Pipeline) -> None:
    settings = Settings(index_dir=seed_pipeline.options.index_dir)
    with TestClient(create_app(settings, pipeline=seed_pipeline)) as client:
        spec = client.get("/openapi.json").json()
    assert "apiKey" in spec["components"]["securitySchemes"]  # /docs still shows Authorize
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    assert operations and not any("security" in op for op in operations)
