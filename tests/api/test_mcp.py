"""/mcp in the app: behind the API keys, labelled in the metrics, absent without the extra."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.config import Settings
from qa.pipeline import Pipeline
from tests.conftest import hide_the_mcp_package

pytest.importorskip("mcp", reason="the MCP server is the optional 'mcp' extra")

READ_KEY = "r-mcp-1"
WRITE_KEY = "w-mcp-1"
# The SDK refuses Host headers other than localhost's when serving 127.0.0.1 (DNS rebinding).
BASE_URL = "http://127.0.0.1:8000"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def _client(pipeline: Pipeline, **settings: Any) -> TestClient:
    config = Settings(index_dir=pipeline.options.index_dir, **settings)
    return TestClient(create_app(config, pipeline=pipeline), base_url=BASE_URL)


@pytest.fixture
def keyed(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    keys = f"{WRITE_KEY},{READ_KEY}:read"
    with _client(seed_pipeline, api_keys=keys, protect_reads=True) as client:
        yield client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **MCP_HEADERS}


def test_mcp_needs_a_key_when_reads_are_closed(keyed: TestClient) -> None:
    for headers in (MCP_HEADERS, _auth("wrong"), {"Authorization": READ_KEY, **MCP_HEADERS}):
        refused = keyed.post("/mcp", json=INITIALIZE, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    for key in (READ_KEY, WRITE_KEY):  # every tool only reads: a read-only key is enough
        accepted = keyed.post("/mcp", json=INITIALIZE, headers=_auth(key))
        assert accepted.status_code == 200
        assert accepted.json()["result"]["serverInfo"]["name"] == "qa"
    metrics = keyed.get("/metrics", headers=_auth(READ_KEY)).text
    assert 'qa_http_requests_total{method="POST",route="/mcp",status="401"} 3.0' in metrics
    assert 'qa_http_requests_total{method="POST",route="/mcp",status="200"} 2.0' in metrics


def test_mcp_is_open_like_every_read_by_default(seed_pipeline: Pipeline) -> None:
    keys = WRITE_KEY
    with _client(seed_pipeline, api_keys=keys) as client:
        listed = client.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={**MCP_HEADERS, "Mcp-Protocol-Version": "2025-06-18"},
        )
        assert listed.status_code == 200
        assert {t["name"] for t in listed.json()["result"]["tools"]} == {"search", "fetch", "ask"}


def test_without_the_extra_the_app_serves_everything_but_mcp(
    seed_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_the_mcp_package(monkeypatch)
    with _client(seed_pipeline) as client:
        assert client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS).status_code == 404
        asked = client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟"})
        assert asked.status_code == 200 and asked.json()["answer"] is not None
