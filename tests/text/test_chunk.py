from dataclasses import replace

import pytest

from qa.domain import Document
from qa.text.chunk import (
    MIN_WINDOW_TOKENS,
    TITLE_CONTEXT_WORDS,
    ChunkingConfig,
    chunk_document,
    clause_spans_in_titled,
    passage_id,
    with_title,
)
from tests.conftest import SEEDS


def words(text: str) -> int:
    return len(text.split())


def test_passages_keep_offsets_into_the_document() -> None:
    text = (SEEDS / "000_cc7b3c5100db086b.txt").read_text(encoding="utf-8")
    doc = Document(id="seed", text=text, title="t")
    passages = chunk_document(doc, words, ChunkingConfig())
    assert len(passages) == 6  # 8 non-empty lines: a title, a section heading, 6 paragraphs
    for p in passages:
        assert text[p.start : p.end] == p.text
        for s in p.clauses:
            assert p.text[s.start : s.end].strip() == p.text[s.start : s.end]
    assert passages[0].title.startswith("بوتين يبحث")
    assert passages[3].title == "العلاقات الروسية الباكستانية"


def test_long_paragraphs_become_overlapping_windows() -> None:
    body = " ".join(f"Sentence {i} says something." for i in range(60))
    doc = Document(id="long", text=body)
    passages = chunk_document(doc, words, ChunkingConfig(max_tokens=40))
    assert len(passages) > 3
    assert all(words(p.text) <= 40 for p in passages)
    assert all(body[p.start : p.end] == p.text for p in passages)
    assert passages[1].start < passages[0].end


@pytest.mark.parametrize("index", [0, 7, 123])
def test_passage_ids_are_stable(index: int) -> None:
    assert passage_id("doc", index) == passage_id("doc", index)
    assert passage_id("doc", index) != passage_id("other", index)
    assert passage_id("doc", index).startswith("p_")


def test_long_titles_are_cut_for_embedding() -> None:
    doc = Document(id="t", text="Body.", title=" ".join(["word"] * 1000))
    [passage] = chunk_document(doc, words, ChunkingConfig())
    assert with_title(passage).split("\n")[0].split() == ["word"] * 24
    assert TITLE_CONTEXT_WORDS == 24
    assert with_title(replace(passage, title="")) == "Body."


@pytest.mark.parametrize("title", ["", "Title", "  a  long   title  "])
def test_clause_spans_point_at_the_clauses_in_the_titled_text(title: str) -> None:
    text = "First clause, and a second one. Then a sentence."
    [passage] = chunk_document(Document(id="d", text=text, title=title), words, ChunkingConfig())
    titled = with_title(passage)
    spans = clause_spans_in_titled(passage)
    assert len(spans) == len(passage.clauses) > 1
    assert [titled[a:b] for a, b in spans] == [
        passage.text[c.start : c.end] for c in passage.clauses
    ]


@pytest.mark.parametrize(("title", "window"), [("", 100), ("A five word long title", 100)])
def test_passages_fit_the_model_window_with_their_title(title: str, window: int) -> None:
    """A model that reads 100 tokens gets passages it reads whole, title included."""
    body = " ".join(f"Sentence {i} says something." for i in range(120))
    doc = Document(id="w", text=body, title=title)
    passages = chunk_document(doc, words, ChunkingConfig(max_tokens=400), window=window)
    assert len(passages) > 3
    assert all(words(with_title(p)) <= window for p in passages)
    assert max(words(with_title(p)) for p in passages) > window - 5  # and use most of it
    unbounded = chunk_document(doc, words, ChunkingConfig(max_tokens=400))
    assert max(words(p.text) for p in unbounded) > window  # without a window only max_tokens cuts


def tokens_with_specials(text: str) -> int:
    """A tokenizer's count: a token per word plus two special tokens, even for no text."""
    return len(text.split()) + 2


ONE_WORD_SENTENCES = " ".join(f"w{i}." for i in range(400))


def test_the_title_takes_its_own_cost_out_of_the_window() -> None:
    """Passages fill the window exactly: body + title + the specials counted once."""
    doc = Document(id="w", text=ONE_WORD_SENTENCES, title="A five word long title")
    passages = chunk_document(doc, tokens_with_specials, ChunkingConfig(), window=100)
    counts = [tokens_with_specials(with_title(p)) for p in passages]
    assert max(counts) == 100
    assert all(n <= 100 for n in counts)


def test_a_long_title_leaves_the_passage_at_least_min_window_tokens() -> None:
    """A 24-word title would leave 54 of 80 tokens: the passage keeps MIN_WINDOW_TOKENS."""
    doc = Document(id="w", text=ONE_WORD_SENTENCES, title=" ".join(["heading"] * 30))
    passages = chunk_document(doc, tokens_with_specials, ChunkingConfig(), window=80)
    assert max(tokens_with_specials(p.text) for p in passages) == 64
    assert MIN_WINDOW_TOKENS == 64
