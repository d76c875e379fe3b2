"""Reading: a span model reads windows of the top passages in one batch and picks the answer.

The clause ranker (extractive.py) says where in each passage the answer probably is; each of
the top passages contributes one window, its best clause grown with neighbours to about
`window_words` words, and the span model reads all windows in one forward pass. Its span
scores decide both which passage answers and which words are the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from qa.answer.extractive import ClauseChoice, grow
from qa.answer.span import cap_words, clause_at, context_bounds, tidy, words_in
from qa.domain import Answer, Context, Passage
from qa.retrieve.hybrid import Retrieval


class SpanCandidateLike(Protocol):
    """One span a span model proposes; offsets are code points into texts[text_index]."""

    @property
    def text_index(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float:
        """start logit + end logit of the span."""
        ...

    @property
    def null_score(self) -> float:
        """start logit + end logit of the no-answer position, in the span's window."""
        ...


class SpanScorer(Protocol):
    """Reads (question, text) pairs in one batch and returns the best spans, best first.

    qa.reader.infer.TrainedReader (the reader trained on the bundled model) implements it.
    """

    def read(
        self,
        question: str,
        texts: Sequence[str],
        top_n: int = 5,
        max_answer_tokens: int = 30,
    ) -> Sequence[SpanCandidateLike]:
        """Spans of the given texts, best first."""
        ...


@dataclass(frozen=True)
class ReadingShape:
    """How much the span model reads and how long answers and contexts may be.

    Two windows of about 64 words (~120 tokens each with the question, for Arabic) are one
    batched pass: the reader's CPU time grows with every token (int8, one thread: 41 ms for
    one window, 71 for two, 95 for three), and with the reader's weights of this session a
    third window lost more answers to a wrong passage than it found (ARCD-XL: context
    accuracy 0.33 with two windows, 0.26 with three).
    """

    passages: int = 2
    window_words: int = 64
    top_n: int = 10
    max_answer_tokens: int = 24
    max_span_words: int = 8
    context_words: int = 40
    context_min_words: int = 12

    def __post_init__(self) -> None:
        if self.passages < 1 or self.window_words < 1 or self.max_span_words < 1:
            raise ValueError("ReadingShape needs at least one passage, window word and span word")
        if self.context_words < self.max_span_words:
            raise ValueError("the context must be allowed at least as many words as the span")


@dataclass(frozen=True)
class Window:
    """A slice of one retrieved passage that the span model reads."""

    candidate: int  # index into retrieval.candidates
    start: int
    end: int


@dataclass(frozen=True)
class SpanChoice:
    """The span the model chose, with its context, and the scores abstention reads."""

    answer: Answer
    score: float
    null_score: float
    candidate: int

    @property
    def margin(self) -> float:
        """How far the span's score is above its window's no-answer score."""
        return self.score - self.null_score


def reading_windows(
    retrieval: Retrieval, clauses: ClauseChoice, shape: ReadingShape
) -> list[Window]:
    """One window per top passage: its best-ranked clause grown to about window_words words."""
    best: dict[int, tuple[float, int]] = {}
    own: dict[int, list[float]] = {}
    for (ci, j), score in zip(clauses.slots, clauses.scores, strict=True):
        if ci >= shape.passages:
            continue
        own.setdefault(ci, []).append(score)
        if ci not in best or score > best[ci][0]:
            best[ci] = (score, j)
    windows = []
    for ci in sorted(best):
        passage = retrieval.candidates[ci].passage
        first, last = grow(passage, best[ci][1], own[ci], shape.window_words)
        start, end = passage.clauses[first].start, passage.clauses[last].end
        windows.append(Window(ci, start, end))
    return windows


def read_span(
    question: str,
    retrieval: Retrieval,
    clauses: ClauseChoice,
    model: SpanScorer,
    shape: ReadingShape,
    passage_weight: float = 0.0,
    clause_weight: float = 0.0,
) -> SpanChoice | None:
    """The best span of the top passages' windows, from one call of the span model.

    Candidates are ranked by span score plus two priors (0: the reader alone decides):
    `passage_weight` times the passage's fused retrieval score relative to the best one, and
    `clause_weight` times the clause ranker's score of the clause the span starts in, minus
    the best clause score. Spans longer than max_span_words lose to any shorter candidate and
    are cut when none is left.
    """
    windows = reading_windows(retrieval, clauses, shape)
    if not windows:
        return None
    texts = [retrieval.candidates[w.candidate].passage.text[w.start : w.end] for w in windows]
    spans = model.read(question, texts, shape.top_n, shape.max_answer_tokens)
    lead = retrieval.candidates[0].score or 1.0
    clause_score = dict(zip(clauses.slots, clauses.scores, strict=True))
    best_clause = max(clauses.scores, default=0.0)
    ranked: list[tuple[bool, float, int, int, int, SpanCandidateLike]] = []
    for span in spans:
        window = windows[span.text_index]
        text = retrieval.candidates[window.candidate].passage.text
        start, end = tidy(text, window.start + span.start, window.start + span.end)
        if end <= start:
            continue
        short = len(words_in(text, start, end)) <= shape.max_span_words
        passage = retrieval.candidates[window.candidate].passage
        prior = passage_weight * retrieval.candidates[window.candidate].score / lead
        if clause_weight:
            j = clause_at(passage.clauses, start)
            prior += clause_weight * (
                clause_score.get((window.candidate, j), best_clause) - best_clause
            )
        ranked.append((short, span.score + prior, window.candidate, start, end, span))
    if not ranked:
        return None
    _, _, ci, start, end, span = max(ranked, key=lambda r: (r[0], r[1]))
    passage = retrieval.candidates[ci].passage
    start, end = cap_words(passage.text, start, end, shape.max_span_words)
    c_start, c_end = span_context(passage, start, end, clauses.answer, shape)
    context = Context(passage.text[c_start:c_end], c_start, c_end)
    answer = Answer(passage.text[start:end], passage.id, start, end, span.score, context)
    return SpanChoice(answer, span.score, span.null_score, ci)


def span_context(
    passage: Passage, start: int, end: int, ranked: Answer, shape: ReadingShape
) -> tuple[int, int]:
    """The context of a span: its clause(s), or the ranker's grown clause when that holds it.

    The clause ranker's answer (a clause grown with neighbours, 37 words at most) is the
    context whenever the span lies inside it and it fits in context_words: it held the gold
    answer for 68% of ARCD questions, more often than a span's own short clause does.
    """
    inside = ranked.passage_id == passage.id and ranked.start <= start and end <= ranked.end
    if inside and len(words_in(passage.text, ranked.start, ranked.end)) <= shape.context_words:
        return ranked.start, ranked.end
    return context_bounds(
        passage.text,
        passage.clauses,
        start,
        end,
        shape.context_words,
        shape.context_min_words,
    )
