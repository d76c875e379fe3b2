"""The metrics behind `qa eval`, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from qa.evaluate import EvalQuestion, QuestionResult, answer_correct, is_gold, summarise


def _result(
    qid: str,
    *,
    rank: int | None,
    answer: str | None,
    correct: bool,
    latency: float,
    answerable: bool = True,
) -> QuestionResult:
    return QuestionResult(
        id=qid,
        lang="ar",
        answerable=answerable,
        gold_rank=rank,
        answer=answer,
        answer_score=None if answer is None else 0.5,
        confidence=None if answer is None else 0.5,
        correct=correct,
        latency_ms=latency,
    )


# Five answerable questions (gold at rank 1, 3, 7, missing, 12) and two unanswerable ones.
RESULTS = [
    _result("q1", rank=1, answer="a b c", correct=True, latency=10.0),
    _result("q2", rank=3, answer="x y", correct=False, latency=20.0),
    _result("q3", rank=7, answer="one", correct=True, latency=30.0),
    _result("q4", rank=None, answer=None, correct=False, latency=40.0),
    _result("q5", rank=12, answer=None, correct=False, latency=50.0),
    _result("u1", rank=None, answer=None, correct=True, latency=60.0, answerable=False),
    _result("u2", rank=None, answer="oops wrong", correct=False, latency=70.0, answerable=False),
]


def test_summarise_against_hand_computed_metrics() -> None:
    report = summarise(RESULTS)
    assert report.questions == 7
    assert report.answerable == 5
    assert report.recall_at_1 == pytest.approx(1 / 5)  # q1
    assert report.recall_at_5 == pytest.approx(2 / 5)  # q1, q2
    assert report.recall_at_10 == pytest.approx(3 / 5)  # q1, q2, q3; rank 12 is outside
    assert report.mrr_at_10 == pytest.approx((1 + 1 / 3 + 1 / 7) / 5)
    assert report.answer_accuracy == pytest.approx(2 / 5)  # over answerable questions only
    assert report.abstention_accuracy == pytest.approx(1 / 2)  # u1 abstained, u2 answered
    assert report.mean_answer_words == pytest.approx((3 + 2 + 1 + 2) / 4)  # answers given
    assert report.latency_p50_ms == 40.0
    assert report.latency_p95_ms == 70.0  # index int(0.95 * 7) = 6 of the sorted latencies
    assert report.results == RESULTS
    assert "results" not in report.summary() and report.summary()["questions"] == 7


def test_summarise_without_unanswerable_questions_has_no_abstention_score() -> None:
    report = summarise(RESULTS[:5])
    assert report.abstention_accuracy is None
    assert report.answer_accuracy == pytest.approx(2 / 5)


def test_summarise_counts_unanswerable_questions_out_of_retrieval() -> None:
    """An unanswerable question has no gold passage: it must not lower recall."""
    only_first = summarise([RESULTS[0], RESULTS[5], RESULTS[6]])
    assert only_first.recall_at_1 == 1.0
    assert only_first.mrr_at_10 == 1.0
    assert only_first.answer_accuracy == 1.0


def test_summarise_of_nothing_is_zero_not_an_error() -> None:
    report = summarise([])
    assert (report.questions, report.answerable) == (0, 0)
    assert report.recall_at_1 == report.mrr_at_10 == report.answer_accuracy == 0.0
    assert report.abstention_accuracy is None
    assert report.latency_p50_ms == report.latency_p95_ms == 0.0


@pytest.mark.parametrize(
    ("latencies", "p50", "p95"),
    [
        ([5.0], 5.0, 5.0),
        ([1.0, 3.0], 2.0, 3.0),  # median of two is their mean
        ([float(n) for n in range(1, 21)], 10.5, 20.0),  # index 19 of 20
        ([float(n) for n in range(100, 0, -1)], 50.5, 96.0),  # sorted first; index 95
    ],
)
def test_latency_percentiles(latencies: list[float], p50: float, p95: float) -> None:
    results = [
        _result(f"q{i}", rank=1, answer="a", correct=True, latency=ms)
        for i, ms in enumerate(latencies)
    ]
    report = summarise(results)
    assert math.isclose(report.latency_p50_ms, p50)
    assert math.isclose(report.latency_p95_ms, p95)


def _question(answers: tuple[str, ...], answerable: bool = True) -> EvalQuestion:
    return EvalQuestion("q", "?", ("gold",), answers, answerable)


@pytest.mark.parametrize(
    ("answers", "answerable", "answer", "correct"),
    [
        (("1947",), True, "منذ عام 1947 من منظور", True),
        (("1947",), True, "منذ عام 1948", False),
        (("1947",), True, None, False),  # abstaining on an answerable question is wrong
        (("الدعم الواسع",), True, "شدد على الدّعم الواسع", True),  # diacritics folded
        (("إيران",), True, "زار ايران", True),  # alef forms folded
        (("مدرسة",), True, "في المدرسه", True),  # teh marbuta folded
        (("a", "b"), True, "only b here", True),  # any one gold string
        ((), False, None, True),  # unanswerable: right only when abstaining
        ((), False, "anything", False),
    ],
)
def test_answer_correct(
    answers: tuple[str, ...], answerable: bool, answer: str | None, correct: bool
) -> None:
    assert answer_correct(_question(answers, answerable), answer) is correct


@pytest.mark.parametrize(
    ("source", "gold", "expected"),
    [
        ("a passage  of\ntext", ["a passage of text"], True),  # whitespace folded
        ("a passage", ["a passage of text"], True),  # a piece of a long gold paragraph
        ("before. a passage of text. after", ["a passage of text"], True),
        ("another passage", ["a passage of text"], False),
        ("anything", [""], False),  # an empty gold text matches nothing
    ],
)
def test_is_gold(source: str, gold: list[str], expected: bool) -> None:
    assert is_gold(source, gold) is expected
