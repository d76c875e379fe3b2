"""MCP tools for assistants (search, fetch, ask) over the pipeline; stdio here, HTTP in api/mcp.

Needs the optional `mcp` extra: without it, importing this module raises ConfigError with a hint.
Text is returned exactly as stored: right-to-left scripts are the client's to lay out
(qa/display.py reshapes for terminals only).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from qa import __version__
from qa.api.convert import ask_response, source
from qa.api.schemas import AskResponse, SearchResponse
from qa.errors import ConfigError, NotFoundError, QAError
from qa.pipeline import Pipeline

INSTALL_HINT = "the MCP server needs the 'mcp' extra: pip install 'qa[mcp]'"
try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, TextContent, ToolAnnotations
except ImportError as missing:
    raise ConfigError(INSTALL_HINT) from missing
NO_ANSWER = "No answer: nothing in the indexed documents answers this question."

INSTRUCTIONS = (
    "Answers questions from the user's own indexed documents, in any language (Arabic and "
    "English included; a question may be in one language and the documents in another). Use "
    "`ask` for a question: its answer is copied verbatim from a source passage, or it says "
    "there is no answer when the documents do not say. Use `search` to find passages and "
    "`fetch` to read a passage or a whole document by id. Cite the passage ids you used."
)

# Upper limits (question length, top_k) are the service's settings: the pipeline checks them.
Question = Annotated[str, Field(description="The question, in any language.", min_length=1)]
Query = Annotated[str, Field(description="What to look for, in any language.", min_length=1)]
TopK = Annotated[
    int, Field(description="How many passages to return (at most 50 by default).", ge=1)
]
ItemId = Annotated[
    str,
    Field(
        description="A passage id (`p_…`, as `search` and `ask` return) or a document id.",
        min_length=1,
        max_length=1024,
    ),
]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


class Fetched(BaseModel):
    """A whole passage or document, with where it comes from."""

    id: str = Field(description="The id that was fetched.")
    kind: Literal["passage", "document"]
    document_id: str = Field(description="The document it belongs to (itself for a document).")
    title: str
    text: str = Field(description="The full text, exactly as indexed.")
    start: int | None = Field(
        None, description="A passage's offset in its document's text (code points)."
    )
    end: int | None = Field(None, description="Where the passage ends in its document's text.")
    metadata: dict[str, Any] = Field(default_factory=dict)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The caller's mistakes reach the assistant as tool errors it can read and correct."""
    try:
        yield
    except QAError as error:
        raise ToolError(f"{error.code}: {error}") from error


def _fetch(pipeline: Pipeline, item_id: str) -> Fetched:
    try:
        p = pipeline.get_passage(item_id)
    except NotFoundError:
        try:
            info, text = pipeline.get_document(item_id)
        except NotFoundError:
            raise NotFoundError(f"no passage or document with id {item_id!r}") from None
        return Fetched(
            id=info.id,
            kind="document",
            document_id=info.id,
            title=info.title,
            text=text,
            metadata=info.metadata,
        )
    return Fetched(
        id=p.id,
        kind="passage",
        document_id=p.document_id,
        title=p.title,
        text=p.text,
        start=p.start,
        end=p.end,
        metadata=p.metadata,
    )


def _ask_result(body: AskResponse) -> CallToolResult:
    """The structured answer, and the same as JSON text; an abstention says so first."""
    data = body.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if body.answer is None:
        text = f"{NO_ANSWER} The nearest passages:\n{text}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def build_server(pipeline: Callable[[], Pipeline]) -> MCPServer[Any]:
    """The three tools; `pipeline` is called per request (the HTTP app loads it after start)."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    server: MCPServer[Any] = MCPServer(
        name="qa",
        title="Questions over your documents",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    # MCPServer calls logging.basicConfig: every qa log line would be written twice
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]

    def search(query: Query, top_k: TopK = 5) -> SearchResponse:
        """Find the passages of the indexed documents that best match a query, best first.

        Each result has its passage id (for `fetch`), its document id and title, the whole
        passage text and a relevance score. Use it to explore; use `ask` to get an answer.
        """
        with _tool_errors():
            hits = pipeline().search(query, top_k=top_k)
        return SearchResponse(results=[source(h) for h in hits])

    def fetch(id: ItemId) -> Fetched:
        """Return the full text and metadata of a passage or of a whole document.

        Give a passage id as `search` or `ask` returned it, or a document id.
        """
        with _tool_errors():
            return _fetch(pipeline(), id)

    def ask(question: Question, top_k: TopK = 5) -> Annotated[CallToolResult, AskResponse]:
        """Answer a question from the indexed documents.

        `answer.text` is copied verbatim from the source passage `answer.source_id`, at
        `sources[i].text[answer.start:answer.end]`. `answer` is null (and the text says
        "No answer") when the documents do not answer the question: do not guess then.
        `sources` are the passages consulted, best first.
        """
        with _tool_errors():
            result = pipeline().ask(question, top_k=top_k)
        return _ask_result(ask_response(result))

    tools: list[tuple[Callable[..., Any], str]] = [
        (search, "Search the documents"),
        (fetch, "Read a passage or document"),
        (ask, "Answer a question"),
    ]
    for tool, title in tools:
        description = inspect.cleandoc(tool.__doc__ or "")
        server.add_tool(tool, title=title, description=description, annotations=READ_ONLY)
    return server


def run_stdio(pipeline: Pipeline) -> None:
    """Serve the tools on stdin/stdout until the client closes them (desktop assistants)."""
    build_server(lambda: pipeline).run("stdio")
