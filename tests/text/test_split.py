import itertools
from collections.abc import Callable, Sequence

import pytest

from qa.text.split import (
    Span,
    _cut_by_words,
    blocks,
    clauses,
    is_heading,
    paragraphs,
    sentences,
    windows,
)


def _texts(text: str, spans: Sequence[Span]) -> list[str]:
    return [text[s.start : s.end] for s in spans]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one\n\ntwo\nstill two\n\n\nthree", ["one", "two\nstill two", "three"]),
        ("سطر أول\nسطر ثان\n\nفقرة", ["سطر أول\nسطر ثان", "فقرة"]),
        (
            "no blank lines\nso each line\nis a paragraph",
            ["no blank lines", "so each line", "is a paragraph"],
        ),
        ("  padded  \n \n\n  ", ["padded"]),
        ("", []),
    ],
)
def test_paragraphs(text: str, expected: list[str]) -> None:
    assert _texts(text, paragraphs(text)) == expected


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("العلاقات الروسية الباكستانية", True),
        ("# Introduction", True),
        ("A short title", True),
        ("This line ends like a sentence.", False),
        ("هل هذا سؤال؟", False),
        (" ".join(["word"] * 20), False),
        (" ".join(["كلمة"] * 14), True),  # HEADING_MAX_WORDS words: still a heading
        (" ".join(["كلمة"] * 15), False),  # one more: a line of text
        ("Three word line:", False),  # a colon announces what follows
        ("سطر قصير،", False),
        ("Quoted end”", False),
        ("", False),
    ],
)
def test_is_heading(line: str, heading: bool) -> None:
    assert is_heading(line) is heading


def test_headings_become_titles_not_passages() -> None:
    text = "Title line\nFirst paragraph here.\nSecond paragraph.\nSection two\nThird paragraph."
    got = [(text[b.start : b.end], b.heading) for b in blocks(text)]
    assert got == [
        ("First paragraph here.", "Title line"),
        ("Second paragraph.", "Title line"),
        ("Third paragraph.", "Section two"),
    ]


def test_trailing_heading_is_kept_as_text() -> None:
    text = "Body sentence.\nLonely heading"
    assert [text[b.start : b.end] for b in blocks(text)] == ["Body sentence.", "Lonely heading"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "جملة أولى. جملة ثانية؟ ثالثة! رابعة؛ خامسة",
            ["جملة أولى.", "جملة ثانية؟", "ثالثة!", "رابعة؛", "خامسة"],
        ),
        ("It cost 3.5 dollars. Then it rose.", ["It cost 3.5 dollars.", "Then it rose."]),
        ("Born in the U.S. in 1950.", ["Born in the U.S. in 1950."]),
        ("line one\nline two", ["line one", "line two"]),
        ("He said “yes.” Then left.", ["He said “yes.”", "Then left."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert _texts(text, sentences(text)) == expected


def test_clauses_cut_long_sentences_at_commas_and_keep_offsets() -> None:
    text = ("كلمة " * 20).strip() + "، " + ("أخرى " * 20).strip() + "."
    spans = clauses(text, max_words=30)
    assert len(spans) == 2
    assert all(len(text[s.start : s.end].split()) <= 30 for s in spans)
    assert text[spans[0].start : spans[0].end].endswith("،")
    assert spans[1].end == len(text)


def test_clauses_without_commas_fall_back_to_even_word_chunks() -> None:
    text = " ".join(f"w{i}" for i in range(70))
    spans = clauses(text, max_words=30)
    assert [len(text[s.start : s.end].split()) for s in spans] == [24, 24, 22]


@pytest.mark.parametrize(
    ("words", "sizes"),
    [(60, [30, 30]), (61, [21, 21, 19]), (31, [16, 15])],
)
def test_even_word_chunks_are_as_few_as_fit(words: int, sizes: list[int]) -> None:
    text = " ".join(f"w{i}" for i in range(words))
    assert [len(text[s.start : s.end].split()) for s in clauses(text, max_words=30)] == sizes


def test_clauses_merge_tiny_pieces() -> None:
    text = "Added: " + ", ".join(["x y z w v"] * 8) + "."
    spans = clauses(text, max_words=30)
    assert all(len(text[s.start : s.end].split()) >= 4 for s in spans)


def _comma_pieces(*sizes: int) -> str:
    """A sentence of comma-separated pieces of the given word counts."""
    return ", ".join(" ".join(f"w{n}x{i}" for i in range(size)) for n, size in enumerate(sizes))


@pytest.mark.parametrize(
    ("sizes", "clause_words"),
    [
        ((3, 9, 9), [12, 9]),  # under CLAUSE_MIN_WORDS (4): merged even past max_words
        ((4, 9, 9), [4, 9, 9]),  # exactly the minimum: a clause of its own
        ((9, 9, 3), [9, 12]),  # a short last piece joins the one before
        ((9, 9, 4), [9, 9, 4]),  # a last piece of the minimum stays
        ((5, 4, 9), [9, 9]),  # pieces merge while they fit in max_words
        ((6, 4, 9), [10, 9]),  # ...up to exactly max_words
    ],
)
def test_clause_pieces_merge_at_the_minimum(
    sizes: tuple[int, ...], clause_words: list[int]
) -> None:
    text = _comma_pieces(*sizes) + "."
    spans = clauses(text, max_words=10)
    assert [len(text[s.start : s.end].split()) for s in spans] == clause_words
    assert spans[0].start == 0 and spans[-1].end == len(text)


def test_the_arabic_comma_breaks_a_clause_off_centre() -> None:
    """A cut at "،" after 8 words, where an even split of 38 words would cut at 19."""
    text = " ".join(["كلمة"] * 8) + "، " + " ".join(["أخرى"] * 30) + "."
    spans = clauses(text, max_words=30)
    assert [len(text[s.start : s.end].split()) for s in spans] == [8, 30]
    assert text[spans[0].start : spans[0].end].endswith("،")


def test_windows_fit_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))

    def count(t: str) -> int:  # a word count stands in for a tokenizer
        return len(t.split())

    spans = windows(text, count, max_tokens=50, overlap=1)
    assert len(spans) > 1
    assert all(count(text[s.start : s.end]) <= 50 for s in spans)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for a, b in itertools.pairwise(spans):
        assert b.start < a.end  # consecutive windows share a sentence


def test_windows_cut_an_overlong_sentence_by_words() -> None:
    text = " ".join(["word"] * 120)
    spans = windows(text, lambda t: len(t.split()), max_tokens=50)
    assert [len(text[s.start : s.end].split()) for s in spans] == [50, 50, 20]


def _windows_by_full_counts(text: str, count: Callable[[str], int], max_tokens: int) -> list[Span]:
    """The plain way: count every candidate window whole (one sentence per unit, overlap 1)."""
    units = sentences(text)
    out, i = [], 0
    while i < len(units):
        j = i + 1
        while j < len(units) and count(text[units[i].start : units[j].end]) <= max_tokens:
            j += 1
        out.append(Span(units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        i = max(i + 1, j - 1)
    return out


@pytest.mark.parametrize("max_tokens", [12, 25, 60])
def test_windows_from_unit_counts_match_counting_each_window(max_tokens: int) -> None:
    """Counts that add up (a tokeniser's, with its 2 special tokens) give the same windows."""
    text = " ".join(f"Line {i} has {'many ' * (i % 5)}words." for i in range(30))

    def count(t: str) -> int:  # words plus [CLS] and [SEP]
        return len(t.split()) + 2

    assert windows(text, count, max_tokens) == _windows_by_full_counts(text, count, max_tokens)


def test_windows_fit_when_counts_do_not_add_up() -> None:
    """A counter that charges more for a joined text than for its parts: windows still fit."""
    text = " ".join(f"Clause {i} of the text." for i in range(40))

    def count(t: str) -> int:  # joins cost more
        return len(t.split()) + t.count(" ") // 4

    spans = windows(text, count, max_tokens=30)
    assert all(count(text[s.start : s.end]) <= 30 for s in spans)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for a, b in itertools.pairwise(spans):
        assert b.start <= a.end  # nothing left uncovered


@pytest.mark.parametrize(
    ("sentence", "second_starts_with"),
    [
        (" ".join(["كلمة"] * 22) + " بشأن " + " ".join(["أخرى"] * 20), "بشأن"),
        (" ".join(["word"] * 20) + " which " + " ".join(["more"] * 22), "which"),
        (" ".join(["mot"] * 26) + " qui " + " ".join(["encore"] * 18), "qui"),
    ],
)
def test_long_sentences_are_cut_before_a_clause_opener(
    sentence: str, second_starts_with: str
) -> None:
    spans = clauses(sentence, max_words=30)
    assert len(spans) == 2
    assert sentence[spans[1].start : spans[1].end].startswith(second_starts_with)


def test_word_runs_carry_their_exact_token_counts() -> None:
    text = " ".join(f"w{i}" * (1 + i % 3) for i in range(90))  # words of varied cost

    def count(t: str) -> int:
        return sum(len(w) // 2 for w in t.split()) + 2

    runs = _cut_by_words(text, Span(0, len(text)), count, 20)
    assert len(runs) > 2
    assert all(n == count(text[s.start : s.end]) <= 20 for s, n in runs)
    assert " ".join(text[s.start : s.end] for s, _ in runs) == text
