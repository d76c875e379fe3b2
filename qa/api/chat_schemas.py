"""OpenAI chat-completions bodies (the subset the official client uses), plus our `sources`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.api.schemas import Filters, Source


class TextPart(BaseModel):
    """One text part of a message whose content is a list of parts."""

    type: Literal["text"]
    text: str = Field(..., max_length=100_000)


class ChatMessage(BaseModel):
    """One message of the conversation; only the last user message is answered."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=100_000)] | list[TextPart] | None = None


class ChatRequest(BaseModel):
    """POST /v1/chat/completions; sampling parameters the client may send are ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(
        ...,
        max_length=200,
        description="One of the ids listed by /v1/models (others get a 404).",
        json_schema_extra={"enum": ["qa", "qa-extractive"]},
    )
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=1000)
    stream: bool = False
    top_k: int = Field(5, ge=1, description="Extension: how many sources to return (at most 50).")
    filters: Filters | None = Field(None, description="Extension: equality filters, as /v1/ask.")


class AssistantMessage(BaseModel):
    """The answer as the assistant's message."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    """The single choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Sizes of the exchange, counted in whitespace-separated words (not model tokens)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """A whole completion; `sources` are the /v1/ask source objects that `[n]` cites."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    sources: list[Source]


class Delta(BaseModel):
    """The part of the message a stream chunk adds."""

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    """The single choice of a stream chunk."""

    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion; the first one carries `sources`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    sources: list[Source] | None = None


class ModelCard(BaseModel):
    """One model that /v1/chat/completions accepts."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qa"


class ModelList(BaseModel):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
