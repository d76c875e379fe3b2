"""BM25 scores and document frequencies stay exact through adds, removes, merges and snapshots."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from qa.retrieve import lexical
from qa.retrieve.lexical import LexicalIndex


def _reference(docs: dict[int, list[str]], query: list[str]) -> dict[int, float]:
    """Textbook Lucene BM25 (k1 1.5, b 0.75), summed over query tokens as given."""
    n = len(docs)
    mean = sum(len(t) for t in docs.values()) / n
    df = Counter(term for tokens in docs.values() for term in set(tokens))
    out: dict[int, float] = {}
    for rid, tokens in docs.items():
        tf = Counter(tokens)
        score = 0.0
        for term in query:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] / (tf[term] + 1.5 * (1 - 0.75 + 0.75 * len(tokens) / mean))
        if score > 0:
            out[rid] = score
    return out


def _restored(index: LexicalIndex) -> LexicalIndex:
    return LexicalIndex({k: np.array(v) for k, v in index.columns().items()})


def _check(index: LexicalIndex, docs: dict[int, list[str]], vocab: list[str]) -> None:
    assert len(index) == len(docs)
    assert index.rids() == set(docs)
    counts = Counter(term for tokens in docs.values() for term in set(tokens))
    frequency = index.document_frequency
    assert {t: frequency.get(t, 0) for t in vocab} == {t: counts[t] for t in vocab}
    for query in (vocab[:2], [vocab[3], vocab[3], vocab[-1]], ["unknown", vocab[5]], vocab[::7]):
        got, want = index.scores(query), _reference(docs, query)
        assert got.keys() == want.keys()
        for rid, score in want.items():
            assert got[rid] == pytest.approx(score, rel=1e-9)


@pytest.mark.parametrize("merge_min", [4, 10_000])  # merged often, or never until a snapshot
def test_scores_match_textbook_bm25_through_changes(
    monkeypatch: pytest.MonkeyPatch, merge_min: int
) -> None:
    monkeypatch.setattr(lexical, "MERGE_MIN", merge_min)
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(40)] + ["سلام", "𝄞note"]
    docs = {rid: rng.choices(vocab, k=rng.randint(1, 12)) for rid in range(0, 120, 3)}
    index = LexicalIndex()
    for rid, tokens in docs.items():
        index.add(rid, tokens)
    _check(index, docs, vocab)
    index = _restored(index)
    _check(index, docs, vocab)
    for step in range(6):  # removes and adds after a restore, new rows among the old ones
        gone = rng.sample(sorted(docs), 5)
        index.remove(gone)
        for rid in gone:
            del docs[rid]
        for rid in range(1000 + 10 * step, 1000 + 10 * step + 4):
            docs[rid] = rng.choices(vocab, k=rng.randint(1, 12))
            index.add(rid, docs[rid])
        docs[step * 3 + 1] = ["w1", "w2", "w2"]
        index.add(step * 3 + 1, docs[step * 3 + 1])
        _check(index, docs, vocab)
    _check(_restored(index), docs, vocab)


def test_a_removed_row_id_can_come_back() -> None:
    index = LexicalIndex()
    index.add(1, ["alpha", "beta"])
    index.add(2, ["beta"])
    index = _restored(index)
    index.remove([1, 99])  # an unknown row id is ignored
    index.add(1, ["gamma"])
    docs = {1: ["gamma"], 2: ["beta"]}
    _check(index, docs, ["alpha", "beta", "gamma", "x", "y", "z", "q", "r"])
    _check(_restored(index), docs, ["alpha", "beta", "gamma", "x", "y", "z", "q", "r"])


def test_a_row_held_twice_is_refused() -> None:
    index = LexicalIndex()
    index.add(1, ["alpha"])
    with pytest.raises(KeyError):
        index.add(1, ["beta"])
    with pytest.raises(KeyError):
        _restored(index).add(1, ["beta"])


def test_empty_passages_count_but_never_match() -> None:
    index = LexicalIndex()
    index.add(1, [])
    index.add(2, ["alpha"])
    restored = _restored(index)
    assert len(restored) == 2
    assert set(restored.scores(["alpha"])) == {2}
    assert restored.scores([]) == {}
    assert LexicalIndex().scores(["alpha"]) == {}


def test_scores_match_bm25s() -> None:
    """The maintained library is the oracle: same corpus, same query, same scores.

    bm25s cannot add or remove a document without re-indexing the corpus, which is why the
    index keeps its own postings; on a fixed corpus the two must agree.
    """
    import bm25s

    rng = random.Random(11)
    vocab = [f"t{i}" for i in range(60)] + ["كتاب", "مكتبة", "café"]
    docs = {rid: rng.choices(vocab, k=rng.randint(2, 30)) for rid in range(200)}
    index = LexicalIndex()
    for rid, tokens in docs.items():
        index.add(rid, tokens)
    oracle = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    oracle.index([docs[r] for r in range(200)], show_progress=False)
    for query in (["t1", "t2"], ["كتاب", "t5", "t5"], ["café", "t59", "unknown"]):
        known = [t for t in query if t in vocab]
        want = oracle.get_scores(known)
        got = index.scores(query)
        for rid in range(200):
            assert got.get(rid, 0.0) == pytest.approx(float(want[rid]), rel=1e-5, abs=1e-6)
