"""OpenAI-compatible /v1/chat/completions (JSON or server-sent events) and /v1/models."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from qa.api.chat_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChatRequest,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    Usage,
)
from qa.api.convert import source
from qa.api.deps import PipelineDep
from qa.api.schemas import ErrorResponse
from qa.config import Settings
from qa.errors import InvalidInputError, NotFoundError
from qa.generate.compose import ChatAnswer, compose, embedding_similarity
from qa.generate.llm import Generator, LLMClient
from qa.pipeline import Pipeline

MODEL = "qa"  # generated answers when an LLM is configured, else extractive
EXTRACTIVE_MODEL = "qa-extractive"  # always the verbatim extractive answer
SERVED = (MODEL, EXTRACTIVE_MODEL)
STARTED = int(time.time())
_PIECE = re.compile(r"\S+\s*|\s+")

router = APIRouter(
    prefix="/v1",
    tags=["chat"],
    responses={s: {"model": ErrorResponse} for s in (401, 404, 413, 422, 503)},
)


def build_generator(settings: Settings, pipeline: Pipeline) -> Generator | None:
    """A generator when QA_LLM_BASE_URL and QA_LLM_MODEL are set; no network call otherwise."""
    if not settings.llm_base_url or not settings.llm_model:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = LLMClient(str(settings.llm_base_url), settings.llm_model, key, settings.llm_timeout_s)
    return Generator(client, embedding_similarity(pipeline.embedder))


async def get_generator(request: Request, pipeline: PipelineDep) -> Generator | None:
    """The app's generator, built on first use (runs on the event loop, so built once)."""
    state = request.app.state
    if not hasattr(state, "generator"):
        state.generator = build_generator(state.settings, pipeline)
    generator: Generator | None = state.generator
    return generator


GeneratorDep = Annotated[Generator | None, Depends(get_generator)]


def last_user_message(messages: list[ChatMessage]) -> str:
    """The text of the last user message: the question that gets answered."""
    for message in reversed(messages):
        if message.role == "user":
            content = message.content
            if isinstance(content, list):
                return "\n".join(part.text for part in content)
            return content or ""
    raise InvalidInputError("messages: no user message to answer")


@router.get("/models", response_model=ModelList)
def list_models() -> ModelList:
    """The model ids this service answers as."""
    return ModelList(data=[ModelCard(id=name, created=STARTED) for name in SERVED])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatRequest, pipeline: PipelineDep, generator: GeneratorDep
) -> Response:
    """Answer the last user message from the index, citing `sources` as [1], [2], ..."""
    if body.model not in SERVED:
        raise NotFoundError(f"model {body.model!r} is not served; see GET /v1/models")
    question = last_user_message(body.messages)
    result = await run_in_threadpool(pipeline.ask, question, body.top_k, body.filters)
    chosen = generator if body.model == MODEL else None
    answer = await run_in_threadpool(compose, result, chosen)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        events = _events(completion_id, body.model, answer)
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    completion = ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=body.model,
        choices=[ChatChoice(message=AssistantMessage(content=answer.text))],
        usage=_usage(question, answer.text),
        sources=[source(h) for h in answer.hits],
    )
    return JSONResponse(completion.model_dump(mode="json"))


def _usage(question: str, text: str) -> Usage:
    asked, said = len(question.split()), len(text.split())
    return Usage(prompt_tokens=asked, completion_tokens=said, total_tokens=asked + said)


def _sse(payload: Any) -> str:
    return f"data: {payload}\n\n"


def _events(completion_id: str, model: str, answer: ChatAnswer) -> Iterator[str]:
    """Role and sources first, then the text a few words at a time, then stop and [DONE]."""
    created = int(time.time())

    def chunk(delta: Delta, finish: bool = False, with_sources: bool = False) -> str:
        body = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            sources=[source(h) for h in answer.hits] if with_sources else None,
        )
        return _sse(body.model_dump_json(exclude_none=True))

    yield chunk(Delta(role="assistant", content=""), with_sources=True)
    pieces = _PIECE.findall(answer.text)
    for start in range(0, len(pieces), 4):
        yield chunk(Delta(content="".join(pieces[start : start + 4])))
    yield chunk(Delta(), finish=True)
    yield _sse("[DONE]")
