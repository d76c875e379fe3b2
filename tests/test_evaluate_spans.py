"""`qa eval`'s answer metrics against values computed by hand (SQuAD F1/EM, context accuracy)."""

from __future__ import annotations

import pytest

from qa.domain import Answer, AskResult, Context, Hit, Passage
from qa.evaluate import (
    EvalQuestion,
    evaluate,
    exact_match,
    normalize_answer,
    span_scores,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Kremlin.", "kremlin"),
        ("an  Apple, a day", "apple day"),
        ("الكرملين", "كرملين"),
        ("«بوتين»،", "بوتين"),
        ("مُحَمَّد", "محمد"),
        ("إسلام أباد", "اسلام اباد"),
        ("مدرسة الأطفال؟", "مدرسه اطفال"),
        ("U.S.", "us"),
        ("1947", "1947"),
        ("alpha the", "alpha"),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("في 23 ديسمبر", "23 ديسمبر", 0.8),  # P 2/3, R 1
        ("the cat sat", "a cat", 2 / 3),  # articles go: P 1/2, R 1
        ("بوتين", "فلاديمير بوتين", 2 / 3),  # P 1, R 1/2
        ("الرئيس بوتين", "رئيس بوتين", 1.0),  # the Arabic article goes
        ("Paris", "London", 0.0),
        ("", "London", 0.0),
        ("!", ".", 1.0),  # both empty after normalisation (SQuAD's convention)
        ("a a b", "a b b", 2 / 3),  # articles go: "b" vs "b b", P 1, R 1/2
    ],
)
def test_token_f1(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_token_f1_counts_repeated_tokens_once_per_occurrence() -> None:
    # pred x x y, gold x y y: common = min(2,1) + min(1,2) = 2 -> P 2/3, R 2/3
    assert token_f1("x x y", "x y y") == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("prediction", "gold", "same"),
    [("The Kremlin", "kremlin.", True), ("أحمد", "احمد", True), ("23 ديسمبر", "23", False)],
)
def test_exact_match(prediction: str, gold: str, same: bool) -> None:
    assert exact_match(prediction, gold) is same


def _question(answers: tuple[str, ...], answerable: bool = True) -> EvalQuestion:
    return EvalQuestion("q", "?", (), answers, answerable)


@pytest.mark.parametrize(
    ("answers", "answerable", "answer", "context", "expected"),
    [
        # best of two golds: ديسمبر vs "23 ديسمبر" is P 1 R 1/2 -> 2/3 (vs 1/2 for the other)
        (("23 ديسمبر", "23 ديسمبر 2021"), True, "ديسمبر", "في 23 ديسمبر.", (2 / 3, False, True)),
        (("23 ديسمبر",), True, "23 ديسمبر", "23 ديسمبر", (1.0, True, True)),
        (("مدينة غزة",), True, "غزة", "في مدينه غزه", (2 / 3, False, True)),  # folded ة/ه
        (("1947",), True, "1948", "منذ عام 1948", (0.0, False, False)),
        (("1947",), True, None, None, (0.0, False, False)),  # abstained: counts as 0
        ((), False, None, None, (None, None, None)),  # unanswerable: not scored here
        ((), True, "x", "x", (None, None, None)),  # no gold answers to compare with
    ],
)
def test_span_scores(
    answers: tuple[str, ...],
    answerable: bool,
    answer: str | None,
    context: str | None,
    expected: tuple[float | None, bool | None, bool | None],
) -> None:
    f1, exact, in_context = span_scores(_question(answers, answerable), answer, context)
    assert (exact, in_context) == expected[1:]
    assert f1 == (None if expected[0] is None else pytest.approx(expected[0]))


def test_report_averages_over_answerable_questions_with_gold() -> None:
    text = "قال بوتين في مؤتمره السنوي في 23 ديسمبر إن العلاقات جيدة"
    passage = Passage("p", "d", text, "", 0, len(text))
    span_start = text.index("23 ديسمبر")
    context = Context(text[text.index("في مؤتمره") :], text.index("في مؤتمره"), len(text))
    answers = {
        "when": Answer("23 ديسمبر", "p", span_start, span_start + 9, 0.9, context),
        "who": Answer("بوتين", "p", 4, 9, 0.8, Context("قال بوتين", 0, 9)),
        "where": None,
        "nitrogen": None,
    }
    questions = [
        EvalQuestion("when", "when", (text,), ("23 ديسمبر",), True),  # F1 1, EM, in context
        EvalQuestion("who", "who", (text,), ("فلاديمير بوتين",), True),  # F1 2/3, not in context
        EvalQuestion("where", "where", (text,), ("موسكو",), True),  # abstained: 0
        EvalQuestion("nitrogen", "nitrogen", (), (), False),  # right to abstain
    ]

    def ask(question: str) -> AskResult:
        return AskResult(question, answers[question], [Hit(passage, 1.0, 1)], 0.5)

    report = evaluate(ask, questions)
    assert report.token_f1 == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)
    assert report.exact_match == pytest.approx(1 / 3)
    assert report.context_accuracy == pytest.approx(1 / 3)
    assert report.max_answer_words == 2
    assert report.abstention_accuracy == 1.0
    assert report.results[0].context == context.text
    assert "token_f1" in report.summary() and "results" not in report.summary()
