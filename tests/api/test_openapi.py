"""The OpenAPI document says what the service enforces, and bad parameters get a 422, not a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.api.openapi import HAS_LETTER_OR_DIGIT, question_schema
from qa.config import Settings
from qa.pipeline import Pipeline


def _schema(settings: Settings) -> dict[str, Any]:
    spec: dict[str, Any] = create_app(settings).openapi()
    return spec


@pytest.fixture
def client(seed_pipeline: Pipeline) -> TestClient:
    settings = Settings(index_dir=seed_pipeline.options.index_dir)
    return TestClient(create_app(settings, pipeline=seed_pipeline))


@pytest.mark.parametrize(
    "question",
    [
        "ماذا أكد عمران خان؟",
        "What did Imran Khan emphasize?",
        "١٢٣",  # Arabic-Indic digits
        "?x",
        "日本",
        "",
        "   ",
        "؟؟ !!",
        "🎉🎈",
        "\u200b\u3000",
        "---",
    ],
)
def test_question_pattern_agrees_with_the_pipeline(question: str) -> None:
    # jsonschema_rs is the validator schemathesis checks responses with (ECMA-262, Unicode).
    validator = jsonschema_rs.validator_for({"type": "string", **question_schema(100)})
    accepted_by_pipeline = any(ch.isalnum() for ch in question.strip())
    assert validator.is_valid(question) == accepted_by_pipeline


def test_schema_states_this_deployments_limits(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", max_question_chars=300, max_top_k=20)
    models = _schema(settings)["components"]["schemas"]
    for model, field in (("AskRequest", "question"), ("SearchRequest", "query")):
        text = models[model]["properties"][field]
        assert (text["minLength"], text["maxLength"]) == (1, 300)
        assert text["pattern"] == HAS_LETTER_OR_DIGIT
        assert field in models[model]["required"]
    for model in ("AskRequest", "SearchRequest", "ChatRequest"):
        assert models[model]["properties"]["top_k"]["maximum"] == 20
        assert models[model]["properties"]["top_k"]["minimum"] == 1
    messages = models["ChatRequest"]["properties"]["messages"]
    assert messages["contains"]["properties"]["role"] == {"const": "user"}
    assert set(models["ChatRequest"]["required"]) == {"model", "messages"}


def test_every_parameter_is_bounded(tmp_path: Path) -> None:
    spec = _schema(Settings(index_dir=tmp_path / "index"))
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                bounds = {"integer": ("minimum", "maximum"), "string": ("maxLength",)}
                needed = bounds.get(schema.get("type", ""), ())
                if not all(b in schema for b in needed):
                    unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert not unbounded


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/documents?limit=200&offset=18446744073709551617", "query.offset"),
        ("/v1/documents?offset=-1", "query.offset"),
        ("/v1/documents?limit=0", "query.limit"),
        ("/v1/documents?limit=1001", "query.limit"),
        ("/v1/documents?limit=x", "query.limit"),
        ("/v1/documents/" + "d" * 513, "path.document_id"),
    ],
)
def test_out_of_range_parameters_get_a_422(client: TestClient, url: str, field: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(field)


def test_bounds_leave_valid_requests_alone(client: TestClient) -> None:
    assert client.get("/v1/documents?offset=1000000000&limit=1000").json()["documents"] == []
    first = client.get("/v1/documents").json()["documents"][0]["id"]
    assert client.get(f"/v1/documents/{first}").status_code == 200
