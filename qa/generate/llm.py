"""An OpenAI-compatible chat client (httpx) and the citation check of what it generates."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from qa.domain import Passage
from qa.errors import QAError
from qa.text.normalize import tokens

NO_ANSWER_MARK = "NO_ANSWER"
SYSTEM_PROMPT = (
    "Answer the question using only the numbered passages. After each sentence, cite the "
    "passages that support it by number in square brackets, like [1] or [2][3]. Answer in the "
    f"language of the question. If the passages do not contain the answer, reply exactly "
    f"{NO_ANSWER_MARK}."
)
_CITATION = re.compile(r"\s*\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?؟。])\s+|\n+")

# similarity(sentence, passages) -> one score per passage, higher is closer; None = lexical only
Similarity = Callable[[str, Sequence[Passage]], list[float]]


class GenerationError(QAError):
    """The LLM endpoint failed or answered something that is not a chat completion."""

    code = "generation_failed"


class LLMClient:
    """Calls POST {base_url}/chat/completions of a vLLM, llama.cpp, Ollama or OpenAI server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"LLM base URL must start with http:// or https://: {base_url!r}")
        if not model:
            raise ValueError("an LLM model name is required")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to the messages (temperature 0, not streamed)."""
        body = {"model": self.model, "messages": messages, "temperature": 0, "stream": False}
        try:
            response = self._http.post(self.url, json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise GenerationError(f"LLM call to {self.url} failed: {exc}") from exc
        if not isinstance(content, str):
            raise GenerationError(f"LLM call to {self.url} returned no text")
        return content

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


@dataclass(frozen=True)
class Citation:
    """A `[n]` of the generated text and whether passage n supports its sentence."""

    number: int
    sentence: str
    supported: bool


@dataclass(frozen=True)
class CheckedText:
    """Generated text with unsupported citations (and sentences left without one) removed."""

    text: str
    citations: list[Citation]


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """The prompt: numbered passages (numbers match the returned sources) and the question."""
    numbered = "\n\n".join(
        f"[{i}] {p.title}\n{p.text}".replace("\n\n", "\n") for i, p in enumerate(passages, 1)
    )
    user = f"Passages:\n\n{numbered}\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def lexical_support(sentence: str, passage: Passage) -> float:
    """Share of the sentence's content words (normalised, stemmed) that the passage contains."""
    words = set(tokens(sentence))
    if not words:
        return 0.0
    return len(words & set(tokens(f"{passage.title} {passage.text}"))) / len(words)


def check_citations(
    text: str,
    passages: Sequence[Passage],
    similarity: Similarity | None = None,
    min_overlap: float = 0.5,
    min_similarity: float = 0.8,
) -> CheckedText:
    """Keep each sentence's citations that name an existing passage that supports it.

    A citation is supported when most of the sentence's words occur in the passage, or (for
    answers in another language than the passage) when the similarity ranks that passage
    first among the given ones (within 0.01) and reaches min_similarity (0.8 separates
    paraphrases from unrelated claims for e5 cosines on the seeds; not fitted on a data set).
    Sentences left without a supported citation are dropped.
    """
    kept: list[str] = []
    citations: list[Citation] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        numbers = [int(n) for n in _CITATION.findall(sentence)]
        bare = _CITATION.sub("", sentence).strip()
        if not bare or not numbers:
            continue
        scores = similarity(bare, passages) if similarity is not None else None
        good: list[int] = []
        for n in dict.fromkeys(numbers):
            ok = 1 <= n <= len(passages) and (
                lexical_support(bare, passages[n - 1]) >= min_overlap
                or _similar(scores, n - 1, min_similarity)
            )
            citations.append(Citation(n, bare, ok))
            if ok:
                good.append(n)
        if good:
            kept.append(bare + "".join(f" [{n}]" for n in good))
    return CheckedText(" ".join(kept), citations)


def _similar(scores: list[float] | None, index: int, floor: float) -> bool:
    if scores is None:
        return False
    return scores[index] >= floor and scores[index] >= max(scores) - 0.01


class Generator:
    """Writes a cited answer from passages through an LLM, then checks every citation."""

    def __init__(self, client: LLMClient, similarity: Similarity | None = None) -> None:
        self.client = client
        self.similarity = similarity

    def generate(self, question: str, passages: Sequence[Passage]) -> CheckedText | None:
        """Checked text, or None when the LLM abstains or no citation survives the check."""
        if not passages:
            return None
        reply = self.client.complete(build_messages(question, passages)).strip()
        if not reply or reply.startswith(NO_ANSWER_MARK):
            return None
        checked = check_citations(reply, passages, self.similarity)
        return checked if checked.text else None
