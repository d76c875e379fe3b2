"""Late chunking: character spans → token spans → pooled clause vectors (qa.embed.late), and
the clause branch of a split pass (labels, attention, vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed.base import Embedder, SpanEmbedder
from qa.embed.late import (
    OUTSIDE,
    Span,
    clause_attention,
    clause_labels,
    pool_spans,
    shifted_offsets,
    token_span,
)
from qa.errors import ConfigError
from qa.pipeline import CLAUSE_LAYERS

# Offsets as the bundled tokenizer reports them for "passage: " + text (content tokens only):
# a "▁word" token covers the space before its word.
ENGLISH = "passage: Hello world. The cat sat."
ENGLISH_OFFSETS: list[Span] = [(0, 7), (7, 8), (8, 14), (14, 20), (20, 21), (21, 25)]
ENGLISH_OFFSETS += [(25, 29), (29, 33), (33, 34)]
ARABIC = "passage: مرحبا بالعالم. ذهب الولد إلى المدرسة."
ARABIC_OFFSETS: list[Span] = [(0, 7), (7, 8), (8, 10), (10, 13), (13, 14), (14, 18), (18, 22)]
ARABIC_OFFSETS += [(22, 23), (23, 24), (24, 27), (27, 30), (30, 33), (33, 37), (37, 45), (45, 46)]


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("abc", {}, [0, 1, 2, 3]),
        ("", {}, [0]),
        ("ﻻ شيء", {ord("ﻻ"): "لا"}, [0, 2, 3, 4, 5, 6]),  # a ligature becomes two letters
        ("a\x01b", {1: ""}, [0, 1, 1, 2]),  # a deleted character takes no room
        ("مَرحبا", {ord("َ"): ""}, [0, 1, 1, 2, 3, 4, 5]),  # a diacritic dropped
    ],
)
def test_shifted_offsets(text: str, table: dict[int, str], expected: list[int]) -> None:
    assert shifted_offsets(text, table) == expected
    assert expected[-1] == len(text.translate(table))


@pytest.mark.parametrize(
    ("offsets", "chars", "expected"),
    [
        (ENGLISH_OFFSETS, "Hello world.", (2, 5)),
        (ENGLISH_OFFSETS, "The cat sat.", (5, 9)),  # the last clause ends at the last token
        (ENGLISH_OFFSETS, "cat", (6, 7)),
        (ENGLISH_OFFSETS, "passage", (0, 1)),  # the first token of the text
        (ARABIC_OFFSETS, "مرحبا بالعالم.", (2, 8)),
        # The lone "▁" between the sentences belongs to neither.
        (ARABIC_OFFSETS, "ذهب الولد إلى المدرسة.", (9, 15)),
        (ARABIC_OFFSETS, "الولد", (10, 12)),
    ],
)
def test_token_span_covers_the_tokens_of_the_characters(
    offsets: list[Span], chars: str, expected: Span
) -> None:
    text = ENGLISH if offsets is ENGLISH_OFFSETS else ARABIC
    start = text.index(chars)
    assert token_span(offsets, start, start + len(chars)) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (22, 22, (6, 7)),  # empty, after "عالم": that token
        (23, 24, (8, 9)),  # only the space between the sentences: its own token
        (0, 0, (0, 1)),
        (99, 99, (14, 15)),  # past the end: the last token
    ],
)
def test_a_span_no_token_overlaps_takes_the_nearest_one(
    start: int, end: int, expected: Span
) -> None:
    assert token_span(ARABIC_OFFSETS, start, end) == expected


def _windows(n_tokens: int, window: int, dim: int = 3) -> list[np.ndarray]:
    """Token states in windows: content token t's state is (t, 1, 0); <s> and </s> are far
    away (1000s), so pooling that reads a special or a wrong row shows."""
    out = []
    for first in range(0, n_tokens, window):
        count = min(window, n_tokens - first)
        rows = np.zeros((count + 2, dim), dtype=np.float32)
        rows[0] = rows[-1] = 1000.0
        rows[1:-1, 0] = np.arange(first, first + count)
        rows[1:-1, 1] = 1.0
        out.append(rows)
    return out


def _expected(first: int, last: int) -> np.ndarray:
    mean = np.array([np.mean(np.arange(first, last)), 1.0, 0.0])
    unit: np.ndarray = mean / np.linalg.norm(mean)
    return unit


@pytest.mark.parametrize(
    ("n_tokens", "window", "span"),
    [
        (10, 510, (0, 10)),  # the whole text
        (10, 510, (0, 1)),  # the first token, right after <s>
        (10, 510, (9, 10)),  # the last token, right before </s>
        (10, 510, (3, 7)),
        (12, 4, (2, 4)),  # ends at a window's end
        (12, 4, (4, 6)),  # starts at the next window's start
        (12, 4, (3, 5)),  # crosses from one window into the next
        (12, 4, (1, 11)),  # spans three windows
        (10, 4, (8, 10)),  # in a last, shorter window
        (1200, 510, (505, 530)),  # a passage longer than the model's 512 tokens
        (1200, 510, (1190, 1200)),
    ],
)
def test_pool_spans_averages_the_spans_token_states(n_tokens: int, window: int, span: Span) -> None:
    [row] = pool_spans(_windows(n_tokens, window), [span], window, 3)
    assert row.dtype == np.float32
    assert np.allclose(row, _expected(*span), atol=1e-6)


def test_pool_spans_gives_one_unit_row_per_span_in_order() -> None:
    spans = [(0, 3), (3, 9), (9, 10)]
    rows = pool_spans(_windows(10, 4), spans, 4, 3)
    assert rows.shape == (3, 3)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert np.allclose(rows, [_expected(*s) for s in spans], atol=1e-6)
    assert pool_spans(_windows(10, 4), [], 4, 3).shape == (0, 3)


@pytest.mark.parametrize("span", [(3, 3), (5, 2), (8, 11), (0, 13)])
def test_pool_spans_refuses_an_empty_span_or_one_past_the_end(span: Span) -> None:
    with pytest.raises(ValueError, match="span"):
        pool_spans(_windows(10, 4), [span], 4, 3)


X = OUTSIDE


@pytest.mark.parametrize(
    ("n_content", "spans", "window", "expected"),
    [
        # "passage:" (2 tokens), then two clauses, a space token between them
        (7, [(2, 4), (5, 7)], 510, [[X, X, X, 0, 0, X, 1, 1, X]]),
        (3, [(0, 3)], 510, [[X, 0, 0, 0, X]]),
        (4, [(0, 3), (2, 4)], 510, [[X, 0, 0, 0, 1, X]]),  # a shared token: the first's
        (0, [], 510, [[X, X]]),  # an empty text still has one window
        # windows of 3 content tokens: each gets its own <s> and </s>
        (7, [(1, 5), (5, 7)], 3, [[X, X, 0, 0, X], [X, 0, 0, 1, X], [X, 1, X]]),
    ],
)
def test_clause_labels(
    n_content: int, spans: list[Span], window: int, expected: list[list[int]]
) -> None:
    assert [w.tolist() for w in clause_labels(n_content, spans, window)] == expected


def test_clause_attention_keeps_each_clause_to_itself_and_the_outside() -> None:
    labels = np.array([X, 0, 0, X, 1, X])
    allowed = clause_attention(labels, width=8)
    assert allowed.shape == (8, 8)
    outside = [0, 3, 5]
    for i, label in enumerate(labels):
        seen = set(np.flatnonzero(allowed[i]).tolist())
        own = {j for j, other in enumerate(labels) if other == label}
        assert seen == own | set(outside)
    assert not allowed[:, 6:].any()  # padding is no one's key
    assert allowed[6:].any(axis=1).all()  # and its own rows are not empty


def _span_embedder(embedder: Embedder) -> SpanEmbedder:
    if not isinstance(embedder, SpanEmbedder):
        pytest.skip("the torch indexing engine (sentence-transformers) is not installed")
    return embedder


def _three_clauses() -> tuple[str, list[str], list[tuple[int, int]]]:
    """A passage of three clauses in three languages, its clauses and their spans."""
    text = (
        "Der Rhein entspringt in den Alpen. "
        "ﻻ تزال القاهرة أكبر مدينة في أفريقيا. "
        "The volcano erupted in 1883 and darkened the sky."
    )
    clauses = [s.strip() + "." for s in text.split(".") if s.strip()]
    return text, clauses, [(text.index(c), text.index(c) + len(c)) for c in clauses]


def test_late_vectors_come_from_the_passage_pass(embedder: Embedder) -> None:
    """Passage vectors are those embed_passages gives; each clause's pooled vector is nearer
    to its own text embedded alone than to any other clause of the passage."""
    late = _span_embedder(embedder)
    text, clauses, spans = _three_clauses()
    passages, rows = late.embed_passages_with_spans([text, "A short one."], [spans, []])
    assert np.allclose(passages, embedder.embed_passages([text, "A short one."]), atol=1e-5)
    assert rows[0].shape == (3, embedder.dim) and rows[1].shape == (0, embedder.dim)
    alone = embedder.embed_passages(clauses)
    assert list(np.argmax(rows[0] @ alone.T, axis=1)) == [0, 1, 2]


def test_late_vectors_of_a_passage_longer_than_the_model_reads(embedder: Embedder) -> None:
    late = _span_embedder(embedder)
    filler = " ".join(f"Sentence number {i} is about nothing in particular." for i in range(130))
    end = "The Nile floods every summer."
    text = f"{filler} {end}"
    assert embedder.count_tokens(text) > 2 * embedder.max_tokens
    start = text.index(end)
    _, [rows] = late.embed_passages_with_spans([text], [[(0, 20), (start, len(text))]])
    alone = embedder.embed_passages(["Sentence number 0 is", end])
    assert np.argmax(rows @ alone.T, axis=1).tolist() == [0, 1]


def test_split_vectors_share_the_passage_pass_and_read_nearer_their_clause_alone(
    embedder: Embedder,
) -> None:
    """With the top layers run again per clause, passage vectors stay those of the usual
    pass, and each clause vector is nearer to its clause embedded alone than the late one."""
    late = _span_embedder(embedder)
    text, clauses, spans = _three_clauses()
    plain, pooled = late.embed_passages_with_spans([text], [spans])
    passages, [rows] = late.embed_passages_with_spans([text], [spans], clause_layers=4)
    assert float(passages[0] @ plain[0]) > 0.9999
    alone = embedder.embed_passages(clauses)
    assert list(np.argmax(rows @ alone.T, axis=1)) == [0, 1, 2]
    assert np.all(np.sum(rows * alone, axis=1) > np.sum(pooled[0] * alone, axis=1))


@pytest.mark.parametrize("layers", [-1, 13])
def test_split_refuses_more_layers_than_the_model_has(embedder: Embedder, layers: int) -> None:
    late = _span_embedder(embedder)
    with pytest.raises(ValueError, match="clause_layers"):
        late.embed_passages_with_spans(["One. Two."], [[(0, 4), (5, 9)]], clause_layers=layers)


def test_mapped_vectors_read_nearer_their_clause_alone(embedder: Embedder) -> None:
    """QA_CLAUSE_VECTORS=mapped: the shipped clause map moves the vectors pooled with its clause
    layers toward each clause embedded alone, and is refused for another layer count."""
    late = _span_embedder(embedder)
    text, clauses, spans = _three_clauses()
    layers = CLAUSE_LAYERS["mapped"]
    _, [raw] = late.embed_passages_with_spans([text], [spans], clause_layers=layers)
    _, [mapped] = late.embed_passages_with_spans([text], [spans], layers, fitted=True)
    alone = embedder.embed_passages(clauses)
    assert list(np.argmax(mapped @ alone.T, axis=1)) == [0, 1, 2]
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), 1.0, atol=1e-5)
    assert np.mean(np.sum(mapped * alone, axis=1)) > np.mean(np.sum(raw * alone, axis=1))
    with pytest.raises(ConfigError, match=f"{layers} clause layers"):
        late.embed_passages_with_spans([text], [spans], clause_layers=layers + 1, fitted=True)
