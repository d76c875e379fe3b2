"""Answer assembly with a span model: windows, one batched call, passage choice, offsets.

The span models here are hand-made fakes that propose given spans by text: they test the
plumbing around any reader, never reading quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from qa.answer.extractive import ClauseChoice
from qa.answer.reading import ReadingShape, SpanChoice, SpanScorer, read_span, reading_windows
from qa.answer.span import words_in
from qa.domain import Answer, Clause, Passage
from qa.retrieve.hybrid import Candidate, Retrieval
from qa.text.split import clauses


@dataclass(frozen=True)
class FakeSpan:
    """A span as qa.reader.infer.SpanCandidate describes one."""

    text_index: int
    start: int
    end: int
    score: float
    null_score: float


@dataclass
class FakeReader:
    """Proposes each (substring, score) found in a text; records what it was asked."""

    wanted: list[tuple[str, float]]
    null_score: float = 0.0
    calls: list[list[str]] = field(default_factory=list)

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> list[FakeSpan]:
        self.calls.append(list(texts))
        found = [
            FakeSpan(i, text.index(s), text.index(s) + len(s), score, self.null_score)
            for s, score in self.wanted
            for i, text in enumerate(texts)
            if s in text
        ]
        return sorted(found, key=lambda f: -f.score)[:top_n]


def _passage(pid: str, text: str) -> Passage:
    units = tuple(Clause(s.start, s.end) for s in clauses(text))
    return Passage(pid, "d", text, "", 0, len(text), clauses=units)


PASSAGES = [
    _passage(
        "p1",
        "🎉 وأكد عمران خان على الدعم الواسع في المجتمع الباكستاني وفي العالم الإسلامي. "
        "وجاء ذلك خلال اتصال هاتفي. وتحدث الجانبان عن الطاقة.",
    ),
    _passage(
        "p2",
        "Putin held his annual press conference on 23 December in Moscow. "
        "Reporters from many countries attended it.",
    ),
    _passage("p3", "Pakistan has looked at Russia through India since 1947. Ties grew later."),
    _passage("p4", "An unrelated fourth passage about rivers and lakes."),
]


def _retrieval(passages: list[Passage]) -> Retrieval:
    candidates = [
        Candidate(p, 1.0 - 0.1 * i, 0.8, 0.8, 0.5, np.zeros(len(p.clauses), np.float32))
        for i, p in enumerate(passages)
    ]
    return Retrieval(candidates, 0.5)


def _clauses(retrieval: Retrieval, best: dict[int, int] | None = None) -> ClauseChoice:
    """Clause ranker output: every clause of the top passages, the `best` one scoring highest."""
    slots, scores = [], []
    for ci, c in enumerate(retrieval.candidates[:4]):
        for j in range(len(c.passage.clauses)):
            slots.append((ci, j))
            scores.append(1.0 if (best or {}).get(ci) == j else -float(j))
    p = retrieval.candidates[0].passage  # the ranker's answer: the first passage's last clause
    unit = p.clauses[-1]
    answer = Answer(p.text[unit.start : unit.end], p.id, unit.start, unit.end, 1.0)
    return ClauseChoice(answer, 0.5, 0.1, 0.1, tuple(slots), tuple(scores))


def _read(reader: SpanScorer, shape: ReadingShape | None = None, **kw: float) -> SpanChoice | None:
    retrieval = _retrieval(PASSAGES)
    shape = shape or ReadingShape(passages=3, confident_margin=None)  # all windows in one pass
    return read_span("q?", retrieval, _clauses(retrieval), reader, shape, **kw)


@pytest.mark.parametrize(
    ("wanted", "text", "passage"),
    [
        ([("الدعم الواسع", 5.0), ("23 December", 3.0)], "الدعم الواسع", "p1"),
        ([("الدعم الواسع", 2.0), ("23 December", 6.0)], "23 December", "p2"),
        ([("1947", 9.0), ("23 December", 6.0)], "1947", "p3"),
    ],
)
def test_the_reader_score_picks_span_and_passage(
    wanted: list[tuple[str, float]], text: str, passage: str
) -> None:
    reader = FakeReader(wanted)
    choice = _read(reader)
    assert choice is not None
    assert (choice.answer.text, choice.answer.passage_id) == (text, passage)
    source = next(p for p in PASSAGES if p.id == passage)
    assert source.text[choice.answer.start : choice.answer.end] == text


def test_one_batched_call_reads_one_window_per_top_passage() -> None:
    reader = FakeReader([("1947", 1.0)])
    _read(reader, ReadingShape(passages=3, confident_margin=None))
    assert len(reader.calls) == 1
    [texts] = reader.calls
    assert len(texts) == 3  # the fourth passage is not read
    _read(reader, ReadingShape(passages=2, confident_margin=None))
    assert len(reader.calls[1]) == 2  # the top two
    _read(reader, ReadingShape())
    assert [len(c) for c in reader.calls[2:]] == [1, 2]  # default: the lead, then the others
    for text, passage in zip(texts, PASSAGES, strict=False):
        assert text in passage.text


def test_windows_are_the_best_clause_and_neighbours_within_the_word_budget() -> None:
    long = _passage("long", " ".join(f"Sentence {i} has five words." for i in range(40)))
    retrieval = _retrieval([long])
    shape = ReadingShape(passages=1, window_words=16)
    [window] = reading_windows(retrieval, _clauses(retrieval, best={0: 20}), shape)
    text = long.text[window.start : window.end]
    assert "Sentence 20 has" in text
    assert len(text.split()) <= 16


def test_cross_script_questions_read_wider_windows() -> None:
    long = _passage("long", " ".join(f"Sentence {i} has five words." for i in range(40)))
    retrieval = _retrieval([long])
    shape = ReadingShape(passages=1, window_words=16, cross_window_words=48)
    assert shape.for_script(False) == shape
    sizes = []
    for cross in (False, True):
        clauses = _clauses(retrieval, best={0: 20})
        [window] = reading_windows(retrieval, clauses, shape.for_script(cross))
        sizes.append(len(long.text[window.start : window.end].split()))
    assert 10 < sizes[0] <= 16 < 40 < sizes[1] <= 48


def test_retrieval_prior_can_overrule_a_close_reader_score() -> None:
    wanted = [("الدعم الواسع", 5.0), ("1947", 5.1)]
    choice = _read(FakeReader(wanted))
    assert choice is not None and choice.answer.text == "1947"
    # p1 leads retrieval (1.0 vs 0.8): a passage weight of 1 moves the answer there
    chosen = _read(FakeReader(wanted), passage_weight=1.0)
    assert chosen is not None and chosen.answer.text == "الدعم الواسع"


def test_clause_prior_prefers_spans_in_the_ranker_s_best_clause() -> None:
    retrieval = _retrieval(PASSAGES)
    clauses = _clauses(retrieval, best={2: 0})  # p3's first clause is the ranker's best
    wanted = [("Ties grew later", 5.0), ("1947", 4.0)]  # p3: clause 1 vs clause 0
    shape = ReadingShape(passages=3, confident_margin=None)
    alone = read_span("q?", retrieval, clauses, FakeReader(wanted), shape)
    assert alone is not None and alone.answer.text == "Ties grew later"
    chosen = read_span("q?", retrieval, clauses, FakeReader(wanted), shape, clause_weight=2.0)
    assert chosen is not None and chosen.answer.text == "1947"  # 4 beats 5 - 2 x (1 - -1)


def test_context_holds_the_span_with_exact_offsets_in_arabic_after_emoji() -> None:
    choice = _read(FakeReader([("الدعم الواسع", 5.0)]))
    assert choice is not None
    answer, context = choice.answer, choice.answer.context
    assert context is not None
    passage = PASSAGES[0].text
    assert passage[context.start : context.end] == context.text
    assert context.start <= answer.start and answer.end <= context.end
    assert context.text[answer.start - context.start : answer.end - context.start] == answer.text
    assert len(words_in(passage, context.start, context.end)) <= 40
    assert "🎉" in passage[: answer.start]
    long = _read(FakeReader([("الدعم الواسع", 5.0)]), ReadingShape(context_words=10))
    assert long is not None and long.answer.context is not None
    assert len(long.answer.context.text.split()) == 10, "filled to the budget, not the passage"


def test_the_ranker_s_clause_is_the_context_when_it_holds_the_span() -> None:
    shape = ReadingShape(passages=3, context_words=8, confident_margin=None)
    inside = _read(FakeReader([("الطاقة", 5.0)]), shape)  # in p1's last clause: the ranker's
    assert inside is not None and inside.answer.context is not None
    # the ranker's clause, filled to 8 words: nothing follows it, so the words before
    assert inside.answer.context.text == "ذلك خلال اتصال هاتفي. وتحدث الجانبان عن الطاقة."
    outside = _read(FakeReader([("1947", 5.0)]), shape)  # elsewhere: the span's own clause(s)
    assert outside is not None and outside.answer.context is not None
    # its clause (9 words) is over the budget: the 8 words that end with the span
    assert outside.answer.context.text == "has looked at Russia through India since 1947."
    assert len(outside.answer.context.text.split()) == 8


def test_a_long_best_span_yields_to_a_short_span_inside_it_else_is_capped() -> None:
    long = "Putin held his annual press conference on 23 December in Moscow"  # 11 words
    inside = "his annual press conference on 23 December"  # 7 words, inside the long one
    choice = _read(FakeReader([(long, 9.0), ("عمران خان", 6.0), (inside, 4.0)]))
    assert choice is not None and choice.answer.text == inside
    elsewhere = _read(FakeReader([(long, 9.0), ("عمران خان", 6.0)]))
    assert elsewhere is not None
    assert elsewhere.answer.text == "Putin held his annual press conference on 23"
    short_best = _read(FakeReader([("عمران خان", 9.0), (long, 8.0)]))
    assert short_best is not None and short_best.answer.text == "عمران خان"


@pytest.mark.parametrize(
    ("length_weight", "text"),
    [
        (0.0, "23 December"),
        (0.4, "on 23 December"),  # 4.9 + 3 x 0.4 beats 5.0 + 2 x 0.4 and 3.0 + 6 x 0.4
        (2.0, "conference on 23 December in Moscow"),
    ],
)
def test_the_chosen_span_widens_to_a_longer_short_span_holding_it(
    length_weight: float, text: str
) -> None:
    wanted = [
        ("23 December", 5.0),
        ("on 23 December", 4.9),
        ("conference on 23 December in Moscow", 3.0),
        ("Reporters from many countries attended it", 4.0),  # longer, but elsewhere
        ("Putin held his annual press conference on 23 December in Moscow", 2.0),  # 11 words
    ]
    shape = ReadingShape(passages=3, confident_margin=None, length_weight=length_weight)
    choice = _read(FakeReader(wanted), shape)
    assert choice is not None and choice.answer.text == text
    # abstention reads the chosen span's evidence, not the widened span's lower score
    assert choice.score == 5.0


def test_punctuation_only_spans_are_skipped_and_margins_reported() -> None:
    reader = FakeReader([(". ", 9.0), ("1947", 2.0)], null_score=0.5)
    choice = _read(reader)
    assert choice is not None and choice.answer.text == "1947"
    assert choice.score == 2.0 and choice.null_score == 0.5 and choice.margin == 1.5


@pytest.mark.parametrize(
    ("wanted", "text"),
    [
        ([("في", 9.0), ("الدعم الواسع", 2.0)], "الدعم الواسع"),  # "in" alone
        ([("from", 9.0), ("23 December", 2.0)], "23 December"),
        ([("في المجتمع", 9.0), ("الدعم", 2.0)], "في المجتمع"),  # a function word with content
    ],
)
def test_function_words_alone_are_no_answer(wanted: list[tuple[str, float]], text: str) -> None:
    choice = _read(FakeReader(wanted))
    assert choice is not None and choice.answer.text == text


def test_nothing_proposed_means_no_choice() -> None:
    assert _read(FakeReader([])) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"passages": 0},
        {"window_words": 0},
        {"cross_window_words": 0},
        {"max_span_words": 10, "context_words": 8},
    ],
)
def test_reading_shape_refuses_impossible_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"ReadingShape|context"):
        ReadingShape(**kwargs)


@pytest.mark.parametrize(
    ("wanted", "null", "reads", "text"),
    [
        # the lead window's span clears its no-answer score: the second window is not read
        ([("الدعم الواسع", 5.0), ("23 December", 9.0)], 1.0, 1, "الدعم الواسع"),
        # it does not: the other windows are read, in one more call, and may win
        ([("الدعم الواسع", 0.5), ("23 December", 0.8)], 1.0, 2, "23 December"),
        ([("الدعم الواسع", 0.9), ("23 December", 0.8)], 1.0, 2, "الدعم الواسع"),
        # nothing in the lead window at all
        ([("23 December", 0.2)], 1.0, 2, "23 December"),
    ],
)
def test_the_lead_window_is_read_alone_and_the_rest_only_when_it_is_unsure(
    wanted: list[tuple[str, float]], null: float, reads: int, text: str
) -> None:
    reader = FakeReader(wanted, null_score=null)
    choice = _read(reader, ReadingShape(passages=2, confident_margin=0.0))
    assert choice is not None and choice.answer.text == text
    assert len(reader.calls) == reads
    assert len(reader.calls[0]) == 1 and "عمران خان" in reader.calls[0][0]
    if reads == 2:
        assert len(reader.calls[1]) == 1 and "Putin" in reader.calls[1][0]


def test_the_clause_ranker_s_passage_is_the_lead_window() -> None:
    retrieval = _retrieval(PASSAGES)
    lead = retrieval.candidates[1].passage
    ranked = Answer(lead.text[:10], lead.id, 0, 10, 1.0)
    clauses = replace(_clauses(retrieval), answer=ranked)
    windows = reading_windows(retrieval, clauses, ReadingShape(passages=3))
    assert [w.candidate for w in windows] == [1, 0, 2]
    reader = FakeReader([("Putin", 5.0)], null_score=1.0)
    shape = ReadingShape(passages=3, confident_margin=0.0)
    choice = read_span("q?", retrieval, clauses, reader, shape)
    assert choice is not None and choice.candidate == 1
    assert reader.calls == [[lead.text[windows[0].start : windows[0].end]]]
