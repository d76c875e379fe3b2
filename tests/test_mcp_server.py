"""The MCP tools in process (the SDK's in-memory client): schemas, answers, abstention, errors."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from qa.errors import ConfigError
from qa.pipeline import Pipeline
from tests.conftest import hide_the_mcp_package

pytest.importorskip("mcp", reason="the MCP server is the optional 'mcp' extra")

from mcp import Client
from mcp.types import CallToolResult, TextContent

from qa.mcp_server import INSTALL_HINT, NO_ANSWER, build_server


def _with_client(pipeline: Pipeline, body: Callable[[Client], Awaitable[None]]) -> None:
    async def run() -> None:
        async with Client(build_server(lambda: pipeline)) as client:
            await body(client)

    anyio.run(run)


def _text(result: CallToolResult) -> str:
    """The first content block's text (the tools answer with text blocks)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def _structured(result: Any) -> dict[str, Any]:
    assert isinstance(result, CallToolResult) and not result.is_error, result
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


def test_tools_describe_their_arguments_and_results(seed_pipeline: Pipeline) -> None:
    async def body(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert sorted(tools) == ["ask", "fetch", "search"]
        for name, arguments in [("ask", {"question", "top_k"}), ("search", {"query", "top_k"})]:
            schema = tools[name].input_schema
            assert set(schema["properties"]) == arguments
            top_k = schema["properties"]["top_k"]
            assert (top_k["minimum"], top_k["default"]) == (1, 5)
        assert tools["fetch"].input_schema["required"] == ["id"]
        ask_out = tools["ask"].output_schema
        assert ask_out is not None and {"answer", "sources"} <= set(ask_out["properties"])
        for tool in tools.values():
            assert tool.annotations is not None and tool.annotations.read_only_hint
            assert tool.description and "\n    " not in tool.description  # dedented

    _with_client(seed_pipeline, body)


def test_arabic_comes_back_as_stored_and_sources_can_be_fetched(seed_pipeline: Pipeline) -> None:
    _, document_text = seed_pipeline.get_document("000_cc7b3c5100db086b")

    async def body(client: Client) -> None:
        result = await client.call_tool("ask", {"question": "ماذا أكد عمران خان؟", "top_k": 2})
        answer = _structured(result)["answer"]
        assert answer is not None and "الدعم الواسع" in answer["text"]
        assert answer["text"] in document_text  # logical order, no shaping
        assert answer["text"] in _text(result)  # the JSON text is not \\u-escaped
        passage = _structured(await client.call_tool("fetch", {"id": answer["source_id"]}))
        assert passage["kind"] == "passage"
        assert document_text[passage["start"] : passage["end"]] == passage["text"]
        document = _structured(await client.call_tool("fetch", {"id": passage["document_id"]}))
        assert (document["kind"], document["text"]) == ("document", document_text)

    _with_client(seed_pipeline, body)


def test_abstention_is_a_plain_no_answer(seed_pipeline: Pipeline) -> None:
    question = "What is the boiling point of liquid nitrogen?"
    assert seed_pipeline.ask(question).answer is None  # the premise: the seed does not say

    async def body(client: Client) -> None:
        result = await client.call_tool("ask", {"question": question})
        assert not result.is_error
        assert _text(result).startswith(NO_ANSWER)
        data = _structured(result)
        assert data["answer"] is None and data["sources"]  # the nearest passages, to cite

    _with_client(seed_pipeline, body)


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("ask", {"question": "???"}, "invalid_input"),
        ("search", {"query": "بوتين", "top_k": 51}, "top_k must be between 1 and 50"),
        ("search", {"query": "بوتين", "top_k": 0}, "top_k"),
        ("ask", {"question": "x" * 2001}, "longer than 2000"),
        ("fetch", {"id": "p_000000000000_0000"}, "not_found: no passage or document"),
    ],
)
def test_mistakes_are_tool_errors_the_assistant_can_read(
    seed_pipeline: Pipeline, tool: str, arguments: dict[str, Any], code: str
) -> None:
    async def body(client: Client) -> None:
        result = await client.call_tool(tool, arguments)
        assert result.is_error and code in _text(result)

    _with_client(seed_pipeline, body)


def test_without_the_extra_qa_mcp_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa import cli

    hide_the_mcp_package(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["qa", "mcp"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 6  # ConfigError's exit code
    assert capsys.readouterr().err.strip() == f"error: {INSTALL_HINT}"
    with pytest.raises(ConfigError, match="pip install 'qa\\[mcp\\]'"):
        import qa.mcp_server  # noqa: F401
