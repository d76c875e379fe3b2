"""Span geometry: tidy edges, word caps and the clause around a span, on Arabic and English."""

from __future__ import annotations

import pytest

from qa.answer.span import cap_words, context_bounds, fill_words, tidy, words_in
from qa.domain import Clause
from qa.text.split import clauses


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("He was born in 1947.", "1947.", "1947"),
        ("قال بوتين، في 23 ديسمبر.", " 23 ديسمبر.", "23 ديسمبر"),
        ("قال «بوتين» أمس", "«بوتين»", "بوتين"),
        ("the (United Nations) said", "(United Nations)", "United Nations"),
        ("🎉 Paris, France", "Paris,", "Paris"),
        ("a , b", " , ", ""),
    ],
)
def test_tidy_strips_spaces_and_punctuation_at_the_edges(
    text: str, span: str, expected: str
) -> None:
    start = text.index(span)
    s, e = tidy(text, start, start + len(span))
    assert text[s:e] == expected
    assert start <= s <= e <= start + len(span)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("one two three", 8, "one two three"),
        ("one two three four, five", 4, "one two three four"),
        ("الدعم الواسع في المجتمع الباكستاني وفي العالم الإسلامي", 3, "الدعم الواسع في"),
        ("🎉 a b", 2, "🎉 a"),
    ],
)
def test_cap_words_keeps_the_first_words(text: str, limit: int, expected: str) -> None:
    s, e = cap_words(text, 0, len(text), limit)
    assert text[s:e] == expected


def _units(text: str) -> tuple[Clause, ...]:
    return tuple(Clause(s.start, s.end) for s in clauses(text))


ARABIC = (
    "أجرى الرئيس الروسي فلاديمير بوتين اتصالا هاتفيا مع رئيس الوزراء الباكستاني عمران خان. "
    "وأكد عمران خان على الدعم الواسع في المجتمع الباكستاني وفي العالم الإسلامي لموقف بوتين. "
    "وجاء ذلك في 23 ديسمبر. "
    "وناقش الجانبان التعاون في المجالات التجارية والاقتصادية والطاقة وفي مجالات أخرى كثيرة "
    "تهم البلدين وشعبيهما منذ سنوات طويلة وحتى اليوم."
)
ENGLISH = (
    "🎉 The fair opened on Monday. It is held in the village of Tarnwick every May, "
    "and visitors bring lanterns made of paper. Nobody wanted to leave before midnight."
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        (ARABIC, "الدعم الواسع"),
        (ARABIC, "23 ديسمبر"),
        (ARABIC, "التجارية والاقتصادية والطاقة"),
        (ARABIC, "فلاديمير بوتين"),
        (ENGLISH, "Tarnwick"),
        (ENGLISH, "Monday"),
        (ENGLISH, "midnight"),
    ],
)
def test_context_holds_the_span_within_forty_words(text: str, span: str) -> None:
    start = text.index(span)
    end = start + len(span)
    c_start, c_end = context_bounds(text, _units(text), start, end, max_words=40, min_words=12)
    assert c_start <= start and end <= c_end
    assert len(words_in(text, c_start, c_end)) <= 40
    assert text[c_start:c_end] != text, "the context is never the whole passage here"
    assert text[c_start:c_end] == text[c_start:c_end].strip()


def test_a_short_clause_takes_the_one_before_it_first() -> None:
    start = ARABIC.index("23 ديسمبر")
    c_start, c_end = context_bounds(ARABIC, _units(ARABIC), start, start + 9, 40, 12)
    context = ARABIC[c_start:c_end]
    assert context.startswith("وأكد عمران خان") and context.endswith("23 ديسمبر.")


def test_a_clause_longer_than_the_cap_is_cut_around_the_span() -> None:
    text = " ".join(f"w{i}" for i in range(100))  # one long unit, no clause breaks
    start = text.index("w50")
    c_start, c_end = context_bounds(text, (Clause(0, len(text)),), start, start + 3, 10, 4)
    words = text[c_start:c_end].split()
    assert len(words) == 10 and "w50" in words
    assert words[0] == "w46" and words[-1] == "w55"


def test_without_clause_offsets_the_context_is_a_word_window() -> None:
    text = "alpha beta gamma delta epsilon"
    start = text.index("gamma")
    c_start, c_end = context_bounds(text, (), start, start + 5, max_words=3, min_words=1)
    assert text[c_start:c_end] == "beta gamma delta"


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        (
            ARABIC,
            "23 ديسمبر",
            "لموقف بوتين. وجاء ذلك في 23 ديسمبر. وناقش الجانبان التعاون في المجالات",
        ),
        (
            ENGLISH,
            "Tarnwick",
            "held in the village of Tarnwick every May, and visitors bring lanterns",
        ),
        (
            ENGLISH,
            "midnight",
            "visitors bring lanterns made of paper. Nobody wanted to leave before midnight.",
        ),
    ],
)
def test_fill_spends_the_whole_word_budget_around_the_clauses(
    text: str, span: str, expected: str
) -> None:
    start = text.index(span)
    end = start + len(span)
    own = context_bounds(text, _units(text), start, end, 12, 12)
    c_start, c_end = fill_words(text, *own, 12)
    assert text[c_start:c_end] == expected
    assert len(words_in(text, c_start, c_end)) == 12
    assert c_start <= own[0] and own[1] <= c_end, "the clauses stay whole inside the fill"


@pytest.mark.parametrize(
    ("text", "span", "limit", "expected"),
    [
        ("one two three four five six", "three", 3, "three four five"),
        ("one two three four five six", "three", 4, "two three four five"),
        ("one two three four five six", "two", 5, "one two three four five"),
        ("one two three four five six", "one", 3, "one two three"),
        ("one two three four five six", "six", 2, "five six"),
        ("one two three four five six", "four five", 1, "four five"),
        ("أ ب ت ث ج ح خ", "ث", 4, "ت ث ج ح"),
        ("a b", "a", 10, "a b"),
    ],
)
def test_fill_words_takes_two_words_after_for_each_before(
    text: str, span: str, limit: int, expected: str
) -> None:
    start = text.index(span)
    c_start, c_end = fill_words(text, start, start + len(span), limit)
    assert text[c_start:c_end] == expected
