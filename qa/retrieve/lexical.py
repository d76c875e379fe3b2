"""BM25 over Arabic-normalised, light-stemmed tokens (bm25s), rebuilt lazily after changes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np

from qa.retrieve.fusion import Floats

SEP = "\x1f"  # tokens are kept joined: one string per passage pickles and loads fast


class LexicalIndex:
    """BM25 scores for every passage row; rebuilt on the next query after a change."""

    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}
        self._rids: list[int] = []
        self._bm25: bm25s.BM25 | None = None
        self._df: Counter[str] = Counter()

    def state(self) -> tuple[dict[int, str], Counter[str]]:
        """What a snapshot keeps (shared, not copied: pickle it under the owner's lock)."""
        return self._tokens, self._df

    @classmethod
    def from_state(cls, state: tuple[dict[int, str], Counter[str]]) -> LexicalIndex:
        """An index restored from `state` (no re-tokenising, no recounting)."""
        index = cls()
        index._tokens, index._df = state
        return index

    def add(self, rid: int, tokens: list[str]) -> None:
        """Index a passage's tokens under its row id."""
        self._tokens[rid] = SEP.join(tokens)
        self._df.update(set(tokens))
        self._bm25 = None

    def remove(self, rid: int) -> None:
        """Forget a passage."""
        joined = self._tokens.pop(rid, None)
        if joined is not None:
            self._df.subtract(set(joined.split(SEP)) if joined else set())
            self._bm25 = None

    @property
    def document_frequency(self) -> Counter[str]:
        """How many passages contain each token."""
        return self._df

    def scores(self, query_tokens: Sequence[str]) -> dict[int, float]:
        """BM25 score of every passage that matches at least one query term, by row id."""
        rids, values = self._all_scores(query_tokens)
        hits = np.flatnonzero(values > 0)
        return {rids[j]: float(values[j]) for j in hits}

    def _all_scores(self, query_tokens: Sequence[str]) -> tuple[list[int], Floats]:
        """(row ids, BM25 score of each) for every indexed passage."""
        if not self._tokens:
            return [], np.zeros(0)
        if self._bm25 is None:
            self._rids = list(self._tokens)
            # an empty token list would make bm25s skip the row; a placeholder keeps alignment
            corpus = [
                self._tokens[r].split(SEP) if self._tokens[r] else ["\u2400"] for r in self._rids
            ]
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)
        known = [t for t in query_tokens if self._df.get(t, 0) > 0]
        if not known:
            return self._rids, np.zeros(len(self._rids))
        return self._rids, np.asarray(self._bm25.get_scores(known), dtype=np.float64)


def idf_table(document_frequency: dict[str, int], passages: int) -> dict[str, float]:
    """Smoothed inverse document frequencies (BM25's) for the given terms."""
    return {
        term: math.log(1.0 + (passages - df + 0.5) / (df + 0.5))
        for term, df in document_frequency.items()
    }
