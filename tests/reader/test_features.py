"""Reader features: windows, offsets back into the text, answer labels, span trimming."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qa.reader.features import (
    NO_OFFSET,
    Encoded,
    Specials,
    WindowSpec,
    answer_positions,
    build_windows,
    encode,
    span_chars,
    strip_span,
    window_ranges,
)


def words(text: str) -> Encoded:
    """A whitespace 'tokenizer' for pure tests: one id per word, offsets of the word."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    return Encoded(tuple(range(10, 10 + len(spans))), tuple(spans))


@pytest.mark.parametrize(
    ("n", "room", "overlap", "expected"),
    [
        (0, 10, 2, [(0, 0)]),
        (5, 10, 2, [(0, 5)]),
        (10, 10, 2, [(0, 10)]),
        (11, 10, 2, [(0, 10), (8, 11)]),
        (20, 10, 4, [(0, 10), (6, 16), (12, 20)]),
        (7, 3, 0, [(0, 3), (3, 6), (6, 7)]),
    ],
)
def test_window_ranges_cover_with_overlap(
    n: int, room: int, overlap: int, expected: list[tuple[int, int]]
) -> None:
    assert window_ranges(n, room, overlap) == expected


def test_window_layout_question_then_text() -> None:
    text = "one two three four five six seven eight"
    spec = WindowSpec(max_len=84, overlap=2, max_question_tokens=64)
    windows = build_windows([5, 6], words(text), 3, spec, Specials(cls=0, sep=2, pad=1))
    first = windows[0]
    assert first.input_ids[:5] == (0, 5, 6, 2, 2)
    assert first.input_ids[-1] == 2
    assert first.context_start == 5
    assert first.text_index == 3
    assert first.offsets[: first.context_start] == (NO_OFFSET,) * 5
    assert first.offsets[first.context_end] == NO_OFFSET
    assert len(windows) == 1  # 8 words fit in 84 - 5 - 1 tokens


def test_long_text_windows_share_overlap_and_stay_in_budget() -> None:
    text = " ".join(f"w{i}" for i in range(200))
    spec = WindowSpec(max_len=90, overlap=10, max_question_tokens=64)
    windows = build_windows(list(range(100, 180)), words(text), 0, spec)
    assert all(len(w.input_ids) <= 90 for w in windows)
    # the question is cut to 64 tokens: <s> q </s></s> is 67, so 90 - 67 - 1 = 22 text tokens
    assert windows[0].context_start == 67
    assert windows[0].context_end - windows[0].context_start == 22
    firsts = [w.offsets[w.context_start][0] for w in windows]
    assert firsts == sorted(firsts)
    covered = {w.offsets[p] for w in windows for p in range(w.context_start, w.context_end)}
    assert len(covered) == 200


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The treaty was signed in 1947 by both sides", "1947"),
        ("The treaty was signed in 1947 by both sides", "signed in 1947"),
        ("وقعت المعاهدة عام 1947 بين الطرفين", "1947"),
        ("عاصمة مصر هي القاهرة وأكبر مدنها", "القاهرة"),
    ],
)
def test_answer_positions_label_the_answer_words(text: str, answer: str) -> None:
    spec = WindowSpec(max_len=84, overlap=2)
    (window,) = build_windows([7], words(text), 0, spec)
    start = text.index(answer)
    s, e = answer_positions(window, start, start + len(answer))
    assert s >= window.context_start
    assert text[slice(*span_chars(window, s, e))] == answer


def test_answer_outside_or_cut_by_window_is_no_answer() -> None:
    text = " ".join(f"w{i}" for i in range(60))
    spec = WindowSpec(max_len=84, overlap=4, max_question_tokens=64)
    windows = build_windows([7] * 64, words(text), 0, spec)  # 15 text tokens per window
    target = text.index("w40")
    labels = [answer_positions(w, target, target + 3) for w in windows]
    assert sum(label != (0, 0) for label in labels) >= 1
    assert labels[0] == (0, 0)
    # a longer answer is labelled only in windows that hold it whole, and maps back exactly
    span_start, span_end = text.index("w10"), text.index("w20") + 3
    for window in windows:
        s, e = answer_positions(window, span_start, span_end)
        if (s, e) != (0, 0):
            assert text[slice(*span_chars(window, s, e))] == text[span_start:span_end]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 1947, ", "1947"),
        ("(1947)", "(1947)"),
        ("(1947", "1947"),
        ("1947)", "1947"),
        ("«القاهرة»،", "«القاهرة»"),
        ("القاهرة.", "القاهرة"),
        (" 50% ", "50%"),
        ("، بوتين", "بوتين"),
        ("...", ""),
    ],
)
def test_strip_span(text: str, expected: str) -> None:
    start, end = strip_span(text, 0, len(text))
    assert text[start:end] == expected


@pytest.mark.parametrize(
    "text",
    [
        "جمال أحمد حمزة خاشقجي (13 أكتوبر 1958، المدينة المنورة) صحفي سعودي.",
        "The Eiffel Tower, completed in 1889, is 330 metres tall.",
        "وُلِدَ فِي القَاهِرَةِ عام ١٩٤٧ - born in Cairo",
        "ﻻ  تقرأ    هذا",
    ],
)
def test_real_tokenizer_offsets_map_back_exactly(tokenizer: Any, text: str) -> None:
    encoded = encode(tokenizer, text)
    assert encoded.ids
    covered = "".join(text[a:b] for a, b in encoded.offsets)
    assert "".join(covered.split()) == "".join(text.split())
    for a, b in encoded.offsets:
        assert 0 <= a < b <= len(text)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("جمال أحمد حمزة خاشقجي (13 أكتوبر 1958، المدينة المنورة) صحفي سعودي.", "13 أكتوبر 1958"),
        ("جمال أحمد حمزة خاشقجي (13 أكتوبر 1958، المدينة المنورة) صحفي سعودي.", "المدينة المنورة"),
        ("The Eiffel Tower, completed in 1889, is 330 metres tall.", "1889"),
        ("The Eiffel Tower, completed in 1889, is 330 metres tall.", "330 metres"),
    ],
)
def test_real_tokenizer_answer_round_trip(tokenizer: Any, text: str, answer: str) -> None:
    question = encode(tokenizer, "When?").ids
    (window,) = build_windows(
        question, encode(tokenizer, text), 0, WindowSpec(max_len=128, overlap=32)
    )
    start = text.index(answer)
    s, e = answer_positions(window, start, start + len(answer))
    assert (s, e) != (0, 0)
    a, b = strip_span(text, *span_chars(window, s, e))
    assert text[a:b] == answer


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("ولد في لينينغراد عام 1952", 10, 25, "لينينغراد عام 1952"),  # cut inside a word
        ("born in Leningrad, 1952", 11, 23, "Leningrad, 1952"),
        ("born in Leningrad, 1952", 16, 19, "Leningrad"),  # "d, " → the word, no comma
        ("وُلِدَ فِي القَاهِرَةِ", 15, 22, "القَاهِرَةِ"),  # diacritics are part of the word
        ("(1947)", 0, 6, "(1947)"),
        ("within time f(n), if", 12, 15, "f(n)"),  # the model stopped before the closer
        ("DTIME(f(n)) is", 0, 9, "DTIME(f(n))"),
        ("a (b) c) d", 0, 5, "a (b)"),  # a closer the span does not open stays out
        ("«القاهرة» مدينة", 0, 8, "القاهرة"),  # an opener at the start is trimmed first
        ("f(n)", 2, 3, "n"),  # no opener inside the span: nothing to close
    ],
)
def test_answer_span_trims_and_keeps_whole_words(
    text: str, start: int, end: int, expected: str
) -> None:
    from qa.reader.features import answer_span

    a, b = answer_span(text, start, end)
    assert text[a:b] == expected
