"""The OpenAPI document states the limits this deployment enforces, settings-dependent ones too.

The pipeline refuses (422) a question with no letter or digit, one longer than
QA_MAX_QUESTION_CHARS and a top_k above QA_MAX_TOP_K; chat needs a user message to answer.
Without these in the schema, client generators and fuzzers build bodies that are mostly refused
(schemathesis warned that most generated /v1/ask, /v1/search and chat bodies got a 422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from qa.config import Settings

# ECMA-262 with Unicode property escapes (what JSON Schema 2020-12 validators use): at least one
# letter or digit in any script, as the pipeline's `str.isalnum` check asks.
HAS_LETTER_OR_DIGIT = r"[\p{L}\p{N}]"

QUESTION_FIELDS = {"AskRequest": "question", "SearchRequest": "query"}
TOP_K_MODELS = ("AskRequest", "SearchRequest", "ChatRequest")


def question_schema(max_chars: int) -> dict[str, Any]:
    """What a question (or search query) must be to be answered."""
    return {"minLength": 1, "maxLength": max_chars, "pattern": HAS_LETTER_OR_DIGIT}


def state_limits(schema: dict[str, Any], max_question_chars: int, max_top_k: int) -> None:
    """Write the enforced limits into a generated OpenAPI document, in place."""
    models: dict[str, Any] = schema["components"]["schemas"]
    for model, field in QUESTION_FIELDS.items():
        models[model]["properties"][field].update(question_schema(max_question_chars))
    for model in TOP_K_MODELS:
        models[model]["properties"]["top_k"]["maximum"] = max_top_k
    user_message = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"const": "user"},
            "content": {
                "anyOf": [
                    {"type": "string", **question_schema(max_question_chars)},
                    {"type": "array", "minItems": 1},
                ]
            },
        },
    }
    messages = models["ChatRequest"]["properties"]["messages"]
    messages["contains"] = user_message
    messages["description"] = "The conversation; the last user message is the question."


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Generate the app's OpenAPI document once, with this deployment's limits written in."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            state_limits(generate(), settings.max_question_chars, settings.max_top_k)
        return generate()  # cached by FastAPI after the first call

    app.openapi = openapi  # type: ignore[method-assign]
