"""The chat answer: the extractive answer cited as [n], or a generated one when configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.domain import Answer, AskResult, Hit, Passage
from qa.embed.base import Embedder
from qa.generate.llm import GenerationError, Generator, Similarity

NO_ANSWER_TEXT = "No answer found in the indexed documents."
log = logging.getLogger("qa.generate")


@dataclass(frozen=True)
class ChatAnswer:
    """What the chat endpoint says, and the sources its [n] markers number from 1."""

    text: str
    hits: list[Hit]
    answered: bool
    generated: bool


def marked_context(answer: Answer) -> str:
    """The answer's context with the span in **bold** (the span alone when it is the context)."""
    context = answer.context
    if context is None or (context.start, context.end) == (answer.start, answer.end):
        return answer.text
    before = context.text[: answer.start - context.start]
    after = context.text[answer.end - context.start :]
    return f"{before}**{answer.text}**{after}"


def extractive_answer(result: AskResult) -> ChatAnswer:
    """The answer's context, span in bold, followed by the number of the source it comes from."""
    if result.answer is None:
        return ChatAnswer(NO_ANSWER_TEXT, result.hits, answered=False, generated=False)
    number = next(
        i for i, h in enumerate(result.hits, 1) if h.passage.id == result.answer.passage_id
    )
    return ChatAnswer(f"{marked_context(result.answer)} [{number}]", result.hits, True, False)


def compose(result: AskResult, generator: Generator | None) -> ChatAnswer:
    """Generate from the sources when a generator is configured, else (or on failure) extract.

    The generator runs only when the pipeline did not abstain, so an LLM never answers what
    the index cannot support.
    """
    if generator is None or result.answer is None:
        return extractive_answer(result)
    try:
        checked = generator.generate(result.question, [h.passage for h in result.hits])
    except GenerationError as exc:
        log.warning("generation failed, using the extractive answer: %s", exc)
        return extractive_answer(result)
    if checked is None:
        return extractive_answer(result)
    return ChatAnswer(checked.text, result.hits, answered=True, generated=True)


def embedding_similarity(embedder: Embedder) -> Similarity:
    """Cosine between a sentence (as a query) and each passage, with the given embedder."""

    def similarity(sentence: str, passages: Sequence[Passage]) -> list[float]:
        query = embedder.embed_queries([sentence])[0]
        vectors = embedder.embed_passages([f"{p.title}\n{p.text}".strip() for p in passages])
        return [float(v) for v in np.asarray(vectors) @ np.asarray(query)]

    return similarity
