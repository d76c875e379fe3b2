"""Reading: a span model reads windows of the top passages and picks the answer.

The clause ranker (extractive.py) says where in each passage the answer probably is; each of
the top passages contributes one window, its best clause grown with neighbours to about
`window_words` words. The span model reads the ranker's passage's window first and the
others (one call) only when that one is unsure. Its span scores decide both which
passage answers and which words are the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from qa.answer.extractive import ClauseChoice, grow
from qa.answer.span import cap_words, clause_at, context_bounds, fill_words, tidy, words_in
from qa.domain import Answer, Context, Passage
from qa.retrieve.hybrid import Retrieval
from qa.text.normalize import tokens


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
    """Reads (question, text) pairs in one call and returns the best spans, best first.

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

    Windows of 64-128 words (~120-220 tokens each with the question, for Arabic): the reader's
    CPU time grows with every token (int8, one thread: 41 ms for one window, 71 for two, 95
    for three), and with the half-epoch weights a third window lost more answers to a wrong
    passage than it found (ARCD-XL: context accuracy 0.33 with two windows, 0.26 with three;
    no longer so, below). The lead window is
    read alone, the second only when no span of the lead clears its no-answer score by
    `confident_margin` (None: both in one pass): with margin 0, ARCD questions read 1.4
    windows instead of 2 at equal or better F1 (0.308 vs 0.301) and context accuracy (0.655
    vs 0.649; torch int8, step-188 weights).

    A question in another script than the passages gets windows of `cross_window_words`: the
    clause ranker misplaces its answer more often (it matches words, and there are none in
    common), and the reader finds it in a wider window. 128 words instead of 64, measured on
    ARCD-XL (240 questions, 3-epoch weights, no abstention): context accuracy 0.596 -> 0.613,
    token F1 0.316 -> 0.323, at 1.5x the tokens read. Same-script questions read 80 words:
    on all 693 ARCD questions 64 -> 80 -> 96 words gave context accuracy 0.746 -> 0.758 ->
    0.763 and F1 0.411 -> 0.419 -> 0.417 at 126 -> 145 -> 163 tokens a question.

    The chosen span then widens to the short span holding it that ranks best with
    `length_weight` added per word (`widen`): the reader was trained on short TyDi/XQuAD
    answers, and its spans were shorter than the gold answer 307 times and longer 69 times on
    ARCD questions whose context held the answer. At 0.4 a word, token F1 went 0.419 -> 0.437
    (ARCD) and 0.310 -> 0.327 (ARCD-XL), context accuracy unchanged; 0.3 and 0.6 gave about
    the same, 1.0 less, and 20 candidates a window instead of 10 cost context accuracy.
    Choosing among all spans with that prior instead moved one seed answer's context off its
    gold string.

    Since the reader trained on ARCD's other articles (2026-12-02), a third passage pays: read
    with the second when the lead is not confident, it took the questions of ARCD's held-out
    articles (over the whole ARCD index) from token F1 0.406 to 0.420 and context accuracy
    0.714 to 0.726 (Arabic), and 0.351 to 0.421 and 0.578 to 0.627 (English, French, German),
    at 1.23 and 1.48 windows a question instead of 1.13 and 1.24; a fourth or fifth added
    nothing, reading all three at once cost context accuracy (0.709, 0.578), and a margin of
    1.5 instead of 0 read more for slightly less. The trained reader's spans are longer, so
    0.2 a word widens better than 0.4 (F1 0.406 vs 0.404 Arabic, 0.351 vs 0.342
    cross-lingual, seeds 0.401 vs 0.351). Same-script windows then grew to 128 words too:
    80 -> 100 -> 128 gave F1 0.414 -> 0.423 -> 0.425 and context accuracy 0.714 -> 0.718 ->
    0.726 on ARCD's held-out articles, and 0.524 -> 0.542 -> 0.546 for English questions over
    XQuAD's held-out articles in English and Arabic, at 168 -> 194 -> 220 tokens a question.
    """

    passages: int = 3
    window_words: int = 128
    cross_window_words: int = 128
    top_n: int = 10
    max_answer_tokens: int = 24
    max_span_words: int = 8
    context_words: int = 40
    context_min_words: int = 12
    confident_margin: float | None = 0.0
    length_weight: float = 0.2

    def __post_init__(self) -> None:
        if min(self.passages, self.window_words, self.cross_window_words, self.max_span_words) < 1:
            raise ValueError("ReadingShape needs at least one passage, window word and span word")
        if self.context_words < self.max_span_words:
            raise ValueError("the context must be allowed at least as many words as the span")

    def for_script(self, cross: bool) -> ReadingShape:
        """This shape, with the cross-script window size when `cross`."""
        return replace(self, window_words=self.cross_window_words) if cross else self


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
    """One window per top passage: its best-ranked clause grown to about window_words words.

    The passage of the clause ranker's answer comes first (it is read alone first), then the
    others in retrieval order.
    """
    best: dict[int, tuple[float, int]] = {}
    own: dict[int, list[float]] = {}
    for (ci, j), score in zip(clauses.slots, clauses.scores, strict=True):
        if ci >= shape.passages:
            continue
        own.setdefault(ci, []).append(score)
        if ci not in best or score > best[ci][0]:
            best[ci] = (score, j)
    lead = next(
        (ci for ci in best if retrieval.candidates[ci].passage.id == clauses.answer.passage_id),
        None,
    )
    windows = []
    for ci in sorted(best, key=lambda c: (c != lead, c)):
        passage = retrieval.candidates[ci].passage
        first, last = grow(passage, best[ci][1], own[ci], shape.window_words)
        start, end = passage.clauses[first].start, passage.clauses[last].end
        windows.append(Window(ci, start, end))
    return windows


@dataclass(frozen=True)
class _Proposal:
    """A span of one window, offsets in its passage, with the scores the ranking reads."""

    window: Window
    start: int
    end: int
    short: bool
    words: int
    rank: float  # span score plus the priors
    score: float
    null_score: float


def _proposals(
    spans: Sequence[SpanCandidateLike],
    windows: Sequence[Window],
    retrieval: Retrieval,
    clauses: ClauseChoice,
    shape: ReadingShape,
    priors: tuple[float, float],
) -> list[_Proposal]:
    """The model's spans as passage offsets, tidied, with their ranking score."""
    passage_weight, clause_weight = priors
    lead = retrieval.candidates[0].score or 1.0
    clause_score = dict(zip(clauses.slots, clauses.scores, strict=True))
    best_clause = max(clauses.scores, default=0.0)
    out = []
    for span in spans:
        window = windows[span.text_index]
        candidate = retrieval.candidates[window.candidate]
        text = candidate.passage.text
        start, end = tidy(text, window.start + span.start, window.start + span.end)
        if end <= start:
            continue
        words = len(words_in(text, start, end))
        short = words <= shape.max_span_words
        prior = passage_weight * candidate.score / lead
        if clause_weight:
            j = clause_at(candidate.passage.clauses, start)
            prior += clause_weight * (
                clause_score.get((window.candidate, j), best_clause) - best_clause
            )
        out.append(
            _Proposal(
                window, start, end, short, words, span.score + prior, span.score, span.null_score
            )
        )
    return out


def _says_something(retrieval: Retrieval, proposal: _Proposal) -> bool:
    """True when the proposal holds a word that is not a function word."""
    text = retrieval.candidates[proposal.window.candidate].passage.text
    return bool(tokens(text[proposal.start : proposal.end], stem=False))


def _confident(proposals: Sequence[_Proposal], shape: ReadingShape) -> bool:
    """True when the first window's best short span clears its no-answer score by the margin."""
    if shape.confident_margin is None:
        return False
    short = [p for p in proposals if p.short]
    return bool(short) and max(p.score - p.null_score for p in short) >= shape.confident_margin


def pick_short(ranked: Sequence[_Proposal]) -> _Proposal:
    """The best-ranked proposal, or if it is long, the best short one overlapping it.

    Measured on the seed questions: the best span of "ماذا أكد عمران خان؟" was 9 words ("شدد على
    الدعم الواسع ... الإسلامي") and the best short span anywhere was the next clause's
    "ككل لتصريحات الرئيس الروسي فلاديمير بوتين"; the short span inside the best holds the answer.
    """
    best = max(ranked, key=lambda p: p.rank)
    if best.short:
        return best
    near = [
        p
        for p in ranked
        if p.short
        and p.window.candidate == best.window.candidate
        and p.start < best.end
        and best.start < p.end
    ]
    return max(near, key=lambda p: p.rank) if near else best


def widen(best: _Proposal, ranked: Sequence[_Proposal], length_weight: float) -> _Proposal:
    """The short proposal holding `best` whose rank plus `length_weight` per word is highest."""
    if length_weight <= 0 or not best.short:
        return best
    holding = [
        p
        for p in ranked
        if p.short
        and p.window.candidate == best.window.candidate
        and p.start <= best.start
        and best.end <= p.end
    ]
    return max(holding, key=lambda p: p.rank + length_weight * p.words, default=best)


def read_span(
    question: str,
    retrieval: Retrieval,
    clauses: ClauseChoice,
    model: SpanScorer,
    shape: ReadingShape,
    passage_weight: float = 0.0,
    clause_weight: float = 0.0,
) -> SpanChoice | None:
    """The best span of the top passages' windows, in one or two calls of the span model.

    The lead window (the clause ranker's passage) is read alone first; the other windows are
    read, in one call, only when none of its short spans clears the no-answer score by
    shape.confident_margin. Candidates are ranked by span score plus two priors (0: the
    reader alone decides): `passage_weight` times the passage's fused retrieval score
    relative to the best one, and `clause_weight` times the clause ranker's score of the
    clause the span starts in, minus the best clause score. When the best span is longer than
    max_span_words, the best short span inside or overlapping it answers (the model's evidence
    is there; an unrelated short span elsewhere is not), and it is cut when there is none.
    """
    windows = reading_windows(retrieval, clauses, shape)
    if not windows:
        return None
    texts = [retrieval.candidates[w.candidate].passage.text[w.start : w.end] for w in windows]
    priors = (passage_weight, clause_weight)
    read = 1 if shape.confident_margin is not None else len(windows)
    spans = model.read(question, texts[:read], shape.top_n, shape.max_answer_tokens)
    ranked = _proposals(spans, windows[:read], retrieval, clauses, shape, priors)
    if read < len(windows) and not _confident(ranked, shape):
        rest = model.read(question, texts[read:], shape.top_n, shape.max_answer_tokens)
        ranked += _proposals(rest, windows[read:], retrieval, clauses, shape, priors)
    # Function words alone ("لم", "the") answer nothing; they still count as the reader's
    # evidence above, which decides how much is read.
    ranked = [p for p in ranked if _says_something(retrieval, p)]
    if not ranked:
        return None
    chosen = pick_short(ranked)
    best = widen(chosen, ranked, shape.length_weight)
    passage = retrieval.candidates[best.window.candidate].passage
    start, end = cap_words(passage.text, best.start, best.end, shape.max_span_words)
    c_start, c_end = span_context(passage, start, end, clauses.answer, shape)
    context = Context(passage.text[c_start:c_end], c_start, c_end)
    # Abstention reads the chosen span's evidence: widening only moves its edges.
    answer = Answer(passage.text[start:end], passage.id, start, end, chosen.score, context)
    return SpanChoice(answer, chosen.score, chosen.null_score, best.window.candidate)


def span_context(
    passage: Passage, start: int, end: int, ranked: Answer, shape: ReadingShape
) -> tuple[int, int]:
    """The context of a span: the ranker's grown clause when it holds it, else its own clause(s),
    filled with the words around to context_words.

    The clause ranker's answer (a clause grown with neighbours, 37 words at most) held the gold
    answer for 68% of ARCD questions, more often than a span's own short clause does.
    """
    text = passage.text
    inside = ranked.passage_id == passage.id and ranked.start <= start and end <= ranked.end
    if inside and len(words_in(text, ranked.start, ranked.end)) <= shape.context_words:
        lo, hi = ranked.start, ranked.end
    else:
        lo, hi = context_bounds(
            text, passage.clauses, start, end, shape.context_words, shape.context_min_words
        )
    return fill_words(text, lo, hi, shape.context_words)
