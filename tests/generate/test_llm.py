"""Generation through an OpenAI-compatible endpoint, and the citation check of its output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from qa.api.main import create_app
from qa.config import Settings
from qa.domain import Passage
from qa.generate.compose import NO_ANSWER_TEXT, compose
from qa.generate.llm import LLMClient, build_messages, check_citations
from qa.pipeline import Pipeline
from tests.live_server import free_port

ARABIC_QUESTION = "ماذا أكد عمران خان؟"
SCRIPT = Path(__file__).with_name("scripted_llm_server.py")


def _passage(n: int, text: str) -> Passage:
    return Passage(f"p{n}", "d", text, "", 0, len(text))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("The budget grew by 12 percent [1].", "The budget grew by 12 percent. [1]"),
        ("The budget grew by 12 percent [2].", ""),  # names the wrong passage
        ("The budget grew [1][9].", "The budget grew. [1]"),  # [9] does not exist
        ("The budget grew [1]. Cats can fly [2].", "The budget grew. [1]"),
        ("The budget grew by 12 percent.", ""),  # no citation at all
        (
            "Die Sitzung ist am Freitag [2]. The budget grew [1][2]",
            "Die Sitzung ist am Freitag. [2] The budget grew [1]",
        ),
    ],
)
def test_citation_check_keeps_only_supported_citations(reply: str, expected: str) -> None:
    passages = [
        _passage(1, "The budget grew by 12 percent in 2020."),
        _passage(2, "Die Sitzung ist am Freitag."),
    ]
    assert check_citations(reply, passages).text == expected


def test_prompt_numbers_passages_like_the_sources() -> None:
    messages = build_messages("Why?", [_passage(1, "A.\n\nB."), _passage(2, "C.")])
    assert messages[0]["role"] == "system" and "[1]" in messages[0]["content"]
    assert "[1] \nA.\nB.\n\n[2] \nC.\n\nQuestion: Why?" in messages[1]["content"]


def test_client_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="http"):
        LLMClient("localhost:8080", "m")
    with pytest.raises(ValueError, match="model"):
        LLMClient("http://localhost:8080/v1", "")


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The scripted OpenAI-compatible server as a real process on a loopback port."""
    log = tmp_path_factory.mktemp("llm") / "requests.jsonl"
    log.touch()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port), str(log)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield f"http://127.0.0.1:{port}/v1", log
    process.terminate()
    process.wait(timeout=10)


def _requests(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _chat(client: TestClient, question: str, model: str = "qa") -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": question}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def _app(pipeline: Pipeline, url: str | None, model: str | None) -> TestClient:
    settings = Settings(
        index_dir=pipeline.options.index_dir,
        llm_base_url=url,
        llm_model=model,
        llm_api_key=SecretStr("llm-key") if url else None,
    )
    return TestClient(create_app(settings, pipeline=pipeline))


@pytest.mark.integration
def test_loopback_openai_compatible_server_proves_http_and_citation_checks_not_llm_quality(
    seed_pipeline: Pipeline, llm_server: tuple[str, Path]
) -> None:
    """A scripted server stands in for the LLM: this proves the HTTP exchange, the prompt,
    the citation check and the fallbacks; it cannot say anything about a real model's answers."""
    url, log = llm_server
    seen = len(_requests(log))
    with _app(seed_pipeline, url, "copy-first") as client:
        body = _chat(client, ARABIC_QUESTION)
        content = body["choices"][0]["message"]["content"]
        first_words = " ".join(body["sources"][0]["text"].split()[:12])
        assert content == f"{first_words}. [1]"  # [2] unsupported and [9] absent: both dropped
        sent = _requests(log)[seen:]
        assert len(sent) == 1 and sent[0]["auth"] == "Bearer llm-key"
        assert sent[0]["body"]["model"] == "copy-first"
        prompt = sent[0]["body"]["messages"][-1]["content"]
        assert ARABIC_QUESTION in prompt
        assert all(f"[{s['rank']}]" in prompt for s in body["sources"])

        extractive = _chat(client, ARABIC_QUESTION, model="qa-extractive")
        assert "الدعم الواسع" in extractive["choices"][0]["message"]["content"]
        abstained = _chat(client, "What is the boiling point of liquid nitrogen?")
        assert abstained["choices"][0]["message"]["content"] == NO_ANSWER_TEXT
        assert len(_requests(log)) == seen + 1  # neither called the LLM

    for script in ("no-answer", "fail"):  # the LLM abstains or fails: the extractive answer
        with _app(seed_pipeline, url, script) as client:
            content = _chat(client, ARABIC_QUESTION)["choices"][0]["message"]["content"]
            assert "الدعم الواسع" in content and content.endswith("]")
    assert len(_requests(log)) == seen + 3


@pytest.mark.integration
def test_no_llm_call_without_configuration(
    seed_pipeline: Pipeline, llm_server: tuple[str, Path]
) -> None:
    _, log = llm_server
    seen = len(_requests(log))
    with _app(seed_pipeline, None, None) as client:
        content = _chat(client, ARABIC_QUESTION)["choices"][0]["message"]["content"]
    assert "الدعم الواسع" in content
    assert len(_requests(log)) == seen
    result = seed_pipeline.ask(ARABIC_QUESTION)
    assert compose(result, None).generated is False
