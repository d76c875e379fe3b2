"""Hybrid retrieval with every search in Milvus: a replica holds nothing per passage.

The same three signals and the same fusion as HybridIndex (dense passage search, clause search,
BM25 over our normalised, stemmed tokens), but each search runs in Milvus and only the
candidates are scored here: Milvus returns the candidate lists, then, by primary key, the
candidates' passage vectors, BM25 sparse vectors and clause vectors (their inner products with
the question are the three signals, exactly what Milvus's searches computed), and finally the
text of the top passages only, for the answer layer. Hits from a version that is not its document's
head (a replacement under way, or a crash's leftovers) are dropped before scoring.

One difference from the embedded store: with filters, the embedded store scores every matching
passage, while here the three searches are filtered and score their top candidates, so that a
broad filter does not fetch the whole corpus.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.domain import Query
from qa.retrieve.fusion import Floats, fuse, lexical_weight
from qa.retrieve.hybrid import CANDIDATES, WEIGHTS, Candidate, Retrieval
from qa.retrieve.lexical import idf_table
from qa.store.milvus import SPEC
from qa.store.milvus_catalog import SearchHit, TermStats, filter_expression
from qa.store.milvus_lexical import Sparse, query_weights
from qa.store.vectors import Matrix

if TYPE_CHECKING:
    from qa.store.milvus_catalog import MilvusCatalog

STATS_SECONDS = 1.0  # how stale term and passage counts (idf, readiness) may be across replicas
STATS_KEPT = 256


class MilvusSearch:
    """Searches a Milvus catalogue the way HybridIndex searches memory; stateless."""

    def __init__(self, catalog: MilvusCatalog, dim: int) -> None:
        self.catalog = catalog
        self.dim = dim
        self.specs: dict[str, Any] = {"passages": SPEC.as_dict(), "clauses": SPEC.as_dict()}
        # the candidate searches are independent round trips: sent together
        self._pool = ThreadPoolExecutor(3, thread_name_prefix="milvus-search")
        self._lock = threading.Lock()
        self._stats: dict[frozenset[str], tuple[float, TermStats]] = {}  # (when read, counts)

    def __len__(self) -> int:
        """Passages searchable."""
        return self._term_stats(()).passages

    def forget_count(self) -> None:
        """Read term and passage counts again on next use (after a write here)."""
        with self._lock:
            self._stats.clear()

    def _term_stats(self, terms: Iterable[str]) -> TermStats:
        """Term counts, kept a second: the search and the answer's idf ask for the same terms."""
        key = frozenset(terms)
        with self._lock:
            read, stats = self._stats.get(key, (float("-inf"), None))
        if stats is not None and time.monotonic() - read < STATS_SECONDS:
            return stats
        stats = self.catalog.term_stats(key)
        with self._lock:
            if len(self._stats) >= STATS_KEPT:
                self._stats.clear()
            self._stats[key] = (time.monotonic(), stats)
        return stats

    def close(self) -> None:
        """Stop the search threads."""
        self._pool.shutdown(wait=False)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of the given terms, from Milvus's term counts."""
        stats = self._term_stats(terms)
        return idf_table(stats.document_frequency, stats.passages)

    def search(
        self, query: Query, top_k: int, filters: Mapping[str, Any] | None = None
    ) -> Retrieval:
        """The top_k passages for a question, with the signals behind each score."""
        stats = self._term_stats(query.tokens)
        if not stats.passages:
            return Retrieval([], 0.0)
        weight = lexical_weight(query.tokens, stats.document_frequency)
        bm25 = query_weights(query.tokens, stats.document_frequency, stats.passages)
        bm25 = bm25 if weight > 0 else {}
        rids = self._candidates(query.vector, bm25, filter_expression(filters), top_k)
        if not rids:
            return Retrieval([], weight)
        return Retrieval(self._score(rids, bm25, query.vector, weight, top_k), weight)

    def _candidates(self, vector: Matrix, bm25: Sparse, where: str, top_k: int) -> list[int]:
        """The union of the three searches' candidates, from live versions only."""
        n = max(CANDIDATES, top_k * 3)
        searches = [
            self._pool.submit(self.catalog.search, "dense", vector, n, where),
            self._pool.submit(self.catalog.search, "clause", vector, n * 2, where),
        ]
        if bm25:
            searches.append(self._pool.submit(self.catalog.search, "lexical", bm25, n, where))
        hits: list[SearchHit] = [h for s in searches for h in s.result()]
        live = self.catalog.live_versions(h.document_id for h in hits)
        return sorted({h.rid for h in hits if live.get(h.document_id) == h.version})

    def _score(
        self, rids: list[int], bm25: Sparse, vector: Matrix, weight: float, top_k: int
    ) -> list[Candidate]:
        found = self.catalog.candidates(rids)
        rids = [r for r in rids if r in found]  # a row deleted since the search is gone
        if not rids:
            return []
        units = self.catalog.clause_vectors({r: found[r].units for r in rids})
        unit_scores = {r: units[r] @ vector for r in rids}
        dense = (np.stack([found[r].vector for r in rids]) @ vector).astype(np.float64)
        clause = np.array(
            [float(unit_scores[r].max()) if len(unit_scores[r]) else -1.0 for r in rids]
        )
        lexical = np.array(
            [sum(w * found[r].lexical.get(d, 0.0) for d, w in bm25.items()) for r in rids]
        )
        signals: dict[str, Floats] = {"dense": dense, "clause": clause}
        weights = dict(WEIGHTS)
        if weight > 0 and lexical.max() > 0:
            signals["lexical"] = lexical
            weights["lexical"] = WEIGHTS["lexical"] * weight
        fused = fuse(signals, weights)
        order = [int(j) for j in np.argsort(-fused, kind="stable")[:top_k]]
        passages = self.catalog.passage_texts([rids[j] for j in order])
        return [
            Candidate(
                passage=passages[rids[j]],
                score=float(fused[j]),
                dense=float(dense[j]),
                clause=float(clause[j]),
                lexical=float(lexical[j]),
                clause_scores=unit_scores[rids[j]],
            )
            for j in order
            if rids[j] in passages
        ]
