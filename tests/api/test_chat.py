"""/v1/chat/completions and /v1/models: the OpenAI format, citations, streaming, abstention."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.config import Settings
from qa.generate.compose import NO_ANSWER_TEXT
from qa.pipeline import Pipeline
from tests.live_server import LiveServer, live_server

ARABIC_QUESTION = "ماذا أكد عمران خان؟"
UNANSWERABLE = "What is the boiling point of liquid nitrogen?"
CITATION = re.compile(r"\[(\d+)\]")


@pytest.fixture
def client(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    settings = Settings(index_dir=seed_pipeline.options.index_dir)
    with TestClient(create_app(settings, pipeline=seed_pipeline)) as test_client:
        yield test_client


def _chat(question: str, **extra: object) -> dict[str, object]:
    return {"model": "qa", "messages": [{"role": "user", "content": question}], **extra}


def _cited_sources(text: str, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbers = [int(n) for n in CITATION.findall(text)]
    assert numbers, text
    assert all(1 <= n <= len(sources) for n in numbers)
    return [sources[n - 1] for n in numbers]


def _unmarked(content: str) -> str:
    """The reply without citations and without the **bold** that marks a reader's span."""
    return CITATION.sub("", content).replace("**", "").strip()


def test_chat_answers_with_inline_citation_matching_sources(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json=_chat(ARABIC_QUESTION, top_k=3)).json()
    assert body["object"] == "chat.completion" and body["model"] == "qa"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and body["choices"][0]["finish_reason"] == "stop"
    assert "الدعم الواسع" in message["content"]
    cited = _cited_sources(message["content"], body["sources"])
    answer_text = _unmarked(message["content"])
    assert answer_text in cited[0]["text"]  # verbatim from the source it cites
    ask = client.post("/v1/ask", json={"question": ARABIC_QUESTION, "top_k": 3}).json()
    assert body["sources"] == ask["sources"]  # the same source objects as /v1/ask


def test_chat_answers_the_last_user_message_of_a_conversation(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": UNANSWERABLE},
        {"role": "assistant", "content": NO_ANSWER_TEXT},
        {"role": "user", "content": [{"type": "text", "text": ARABIC_QUESTION}]},
    ]
    body = client.post("/v1/chat/completions", json={"model": "qa", "messages": messages}).json()
    assert "الدعم الواسع" in body["choices"][0]["message"]["content"]


def test_chat_says_no_answer_when_the_service_abstains(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json=_chat(UNANSWERABLE)).json()
    assert body["choices"][0]["message"]["content"] == NO_ANSWER_TEXT
    assert not CITATION.search(body["choices"][0]["message"]["content"])
    assert len(body["sources"]) == 5  # the nearest passages are still shown


def test_chat_streams_server_sent_events_ending_in_done(client: TestClient) -> None:
    request = _chat(ARABIC_QUESTION, stream=True)
    with client.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    whole = client.post("/v1/chat/completions", json=_chat(ARABIC_QUESTION)).json()
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[0]["sources"] == whole["sources"]


def test_models_lists_what_chat_accepts(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    for model in ids:
        response = client.post(
            "/v1/chat/completions", json={**_chat(ARABIC_QUESTION), "model": model}
        )
        assert response.status_code == 200, model


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, 404),
        ({"model": "qa", "messages": [{"role": "system", "content": "hi"}]}, 422),
        ({"model": "qa", "messages": [{"role": "user", "content": "   "}]}, 422),
        ({"model": "qa", "messages": []}, 422),
        ({"model": "qa"}, 422),
        ({"model": "qa", "messages": [{"role": "user", "content": "x" * 3000}]}, 422),
        ({**_chat("ok"), "top_k": 51}, 422),
    ],
)
def test_chat_rejects_bad_requests_with_json_errors(
    client: TestClient,
    payload: dict[str, Any],
    status: int,
) -> None:
    response = client.post("/v1/chat/completions", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


@pytest.fixture(scope="module")
def server(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(seed_index_dir, tmp_path_factory.mktemp("chat-live")) as running:
        yield running


@pytest.mark.integration
def test_official_openai_client_against_live_server(server: LiveServer) -> None:
    from openai import NotFoundError, OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    assert {m.id for m in client.models.list()} >= {"qa"}

    completion = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": ARABIC_QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    assert "الدعم الواسع" in content
    assert completion.model_extra is not None
    sources = completion.model_extra["sources"]
    assert _unmarked(content) in _cited_sources(content, sources)[0]["text"]

    stream = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": ARABIC_QUESTION}], stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert streamed == content

    abstained = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": UNANSWERABLE}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in abstained) == NO_ANSWER_TEXT

    with pytest.raises(NotFoundError):
        client.chat.completions.create(
            model="not-served", messages=[{"role": "user", "content": "hi"}]
        )
