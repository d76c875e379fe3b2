"""Optional span reader: a transformers question-answering model narrows the sentence answer.

Imported only when QA_READER_MODEL is set; transformers and torch load inside the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from qa.domain import Answer, Passage
from qa.errors import ConfigError


@dataclass(frozen=True)
class ReaderSpan:
    """A span of one passage and the reader's probability for it."""

    passage_id: str
    start: int
    end: int
    score: float


class SpanReader(Protocol):
    """Finds the best answer span in some passages (None when nothing fits)."""

    def read(self, question: str, passages: Sequence[Passage]) -> ReaderSpan | None:
        """The most probable span over all passages, offsets in code points."""
        ...


def narrow(
    answer: Answer,
    question: str,
    passages: Sequence[Passage],
    reader: SpanReader,
    min_score: float,
) -> Answer:
    """The reader's span when it is confident enough, else the sentence answer unchanged.

    The answer's own passage is read first, then the other given passages; the returned
    answer keeps the offsets contract (passage.text[start:end] == text) and the pipeline's
    calibrated score.
    """
    first = [p for p in passages if p.id == answer.passage_id]
    ordered = first + [p for p in passages if p.id != answer.passage_id]
    span = reader.read(question, ordered)
    if span is None or span.score < min_score:
        return answer
    passage = next(p for p in ordered if p.id == span.passage_id)
    return replace(
        answer,
        text=passage.text[span.start : span.end],
        passage_id=passage.id,
        start=span.start,
        end=span.end,
    )


class TransformersReader:
    """An extractive QA model (e.g. XLM-RoBERTa fine-tuned on SQuAD 2.0), by name or path."""

    def __init__(
        self,
        model: str,
        device: str | None = None,
        max_answer_tokens: int = 48,
        max_length: int = 384,
        stride: int = 128,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(
                "QA_READER_MODEL needs transformers and torch: pip install 'qa[st]'"
            ) from exc
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(model)
            self.model: Any = AutoModelForQuestionAnswering.from_pretrained(model)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the reader model {model!r}: {exc}") from exc
        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError(f"the reader model {model!r} needs a fast tokenizer (offsets)")
        self.model.eval().to(device or "cpu")
        self._torch = torch
        self.device = device or "cpu"
        self.max_answer_tokens = max_answer_tokens
        self.max_length = max_length
        self.stride = stride

    def read(self, question: str, passages: Sequence[Passage]) -> ReaderSpan | None:
        """The most probable non-empty span of any passage window, with its probability."""
        best: ReaderSpan | None = None
        for passage in passages:
            span = self._read_one(question, passage)
            if span is not None and (best is None or span.score > best.score):
                best = span
        return best

    def _read_one(self, question: str, passage: Passage) -> ReaderSpan | None:
        encoded = self.tokenizer(
            question,
            passage.text,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping").tolist()
        encoded.pop("overflow_to_sample_mapping", None)
        with self._torch.inference_mode():
            output = self.model(**{k: v.to(self.device) for k, v in encoded.items()})
        starts = output.start_logits.softmax(-1).cpu().tolist()
        ends = output.end_logits.softmax(-1).cpu().tolist()
        best: ReaderSpan | None = None
        for window in range(len(offsets)):
            sequence = encoded.sequence_ids(window)
            context = [i for i, s in enumerate(sequence) if s == 1]
            span = self._best_span(passage, context, offsets[window], starts[window], ends[window])
            if span is not None and (best is None or span.score > best.score):
                best = span
        return best

    def _best_span(
        self,
        passage: Passage,
        context: list[int],
        offsets: list[list[int]],
        starts: list[float],
        ends: list[float],
    ) -> ReaderSpan | None:
        best: tuple[float, int, int] | None = None
        for i in context:
            for j in context:
                if j < i or j - i >= self.max_answer_tokens:
                    continue
                score = starts[i] * ends[j]
                if best is None or score > best[0]:
                    best = (score, offsets[i][0], offsets[j][1])
        if best is None:
            return None
        score, start, end = best
        text = passage.text[start:end]
        start += len(text) - len(text.lstrip())
        end -= len(text) - len(text.rstrip())
        return ReaderSpan(passage.id, start, end, score) if end > start else None


def load_reader(model: str, device: str | None = None) -> SpanReader:
    """The configured reader backend."""
    return TransformersReader(model, device)
