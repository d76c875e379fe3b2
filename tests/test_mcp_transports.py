"""Both MCP transports driven by the official `mcp` client: `qa mcp` (stdio), `qa serve` /mcp."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp", reason="the MCP server is the optional 'mcp' extra")

import httpx
import httpx2
from mcp import ClientSession, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.conftest import EVAL, ROOT
from tests.server_process import LiveServer

pytestmark = pytest.mark.integration

SEEDS = {q["id"]: q for q in map(json.loads, (EVAL / "seed_questions.jsonl").open())}
ASKED = [SEEDS["seed-01"], SEEDS["seed-02"]]  # the same question in English and in Arabic
READ_KEY = "mcp-reader-4f1c"
WRITE_KEY = "mcp-writer-9b2e"
PRESENTATION_FORMS = range(0xFB50, 0xFEFF)  # what terminal reshaping would put in the text


@pytest.fixture
def index_copy(seed_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index_dir, target)
    return target


def _call(result: Any) -> dict[str, Any]:
    assert isinstance(result, CallToolResult) and not result.is_error, result
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def _exercise(session: ClientSession) -> None:
    """What an assistant does: list the tools, ask (en, ar), fetch a source and its document."""
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == {"search", "fetch", "ask"}
    for tool in tools.values():
        assert tool.description and tool.input_schema["type"] == "object"
        assert tool.output_schema is not None
    assert tools["ask"].input_schema["required"] == ["question"]
    for seed in ASKED:
        body = _call(await session.call_tool("ask", {"question": seed["question"]}))
        answer = body["answer"]
        assert answer is not None, seed["question"]
        [cited] = [s for s in body["sources"] if s["id"] == answer["source_id"]]
        assert cited["text"][answer["start"] : answer["end"]] == answer["text"]
        context = (answer.get("context") or {}).get("text", "")
        for gold in seed["answer_contains"]:
            assert gold in answer["text"] or gold in context or gold in cited["text"]
        passage = _call(await session.call_tool("fetch", {"id": answer["source_id"]}))
        assert passage["kind"] == "passage" and passage["text"] == cited["text"]
        assert all(gold in passage["text"] for gold in seed["answer_contains"])
        assert not any(ord(ch) in PRESENTATION_FORMS for ch in passage["text"])  # as stored
        document = _call(await session.call_tool("fetch", {"id": passage["document_id"]}))
        assert document["kind"] == "document"
        assert document["text"][passage["start"] : passage["end"]] == passage["text"]
    found = _call(await session.call_tool("search", {"query": "بوتين", "top_k": 3}))
    assert 1 <= len(found["results"]) <= 3 and found["results"][0]["rank"] == 1
    missing = await session.call_tool("fetch", {"id": "no-such-id"})
    assert missing.is_error and "not_found" in str(missing.content[0])


def test_stdio_transport(index_copy: Path) -> None:
    env = {
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "QA_MODEL_CACHE_DIR": os.environ["QA_MODEL_CACHE_DIR"],
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qa.cli", "mcp", "--index-dir", str(index_copy)],
        env=env,
        cwd=ROOT,
    )

    async def run() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await _exercise(session)

    anyio.run(run)


@pytest.fixture
def keyed_server(index_copy: Path) -> Iterator[LiveServer]:
    """`qa serve --workers 2` with keys and closed reads: /mcp needs a key like /v1/ask."""
    env = {"QA_API_KEYS": f"{WRITE_KEY},{READ_KEY}:read", "QA_PROTECT_READS": "true"}
    server = LiveServer(index_copy, workers=2, env=env)  # stateless: any worker answers
    try:
        server.wait_alive(timeout=180, route="/healthz")
        yield server
    finally:
        server.stop()


def test_streamable_http_transport_behind_the_api_keys(keyed_server: LiveServer) -> None:
    url = f"{keyed_server.url}/mcp"
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    async def run(key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=120, event_hooks={"response": [record]}
            ) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await _exercise(session)

    anyio.run(run, READ_KEY)  # a read-only key may use every tool: they only read
    assert statuses and set(statuses) <= {200, 202}
    statuses.clear()
    with pytest.raises(ExceptionGroup) as refused:
        anyio.run(run, "wrong-" + READ_KEY)
    assert refused.group_contains(MCPError, depth=None)
    assert statuses == [401]  # refused at the first message, before any tool ran
    plain = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "unauthorized"
