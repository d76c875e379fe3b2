"""Hybrid retrieval over an in-memory view of the catalogue: dense + clause-dense + BM25."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.domain import Passage
from qa.retrieve.fusion import Floats, fuse, lexical_weight
from qa.retrieve.lexical import LexicalIndex, idf_table
from qa.store.catalog import StoredPassage
from qa.store.vectors import FaissIndex, Matrix, VectorIndex
from qa.text.chunk import with_title
from qa.text.normalize import tokens

UNIT_SLOTS = 1 << 12  # clause ids are rid * UNIT_SLOTS + clause number
CANDIDATES = 50
WEIGHTS = {"dense": 1.0, "clause": 0.5, "lexical": 0.7}


@dataclass(frozen=True)
class Candidate:
    """A passage with every signal that scored it, for the answerer and for abstention."""

    passage: Passage
    score: float
    dense: float
    clause: float
    lexical: float
    clause_scores: Matrix


@dataclass(frozen=True)
class Retrieval:
    """Ranked candidates plus what the query looked like to the index."""

    candidates: list[Candidate]
    query_tokens: list[str]
    lexical_weight: float


def _matches(passage: Passage, filters: Mapping[str, Any] | None) -> bool:
    if not filters:
        return True
    for key, value in filters.items():
        actual = passage.document_id if key == "document_id" else passage.metadata.get(key)
        if actual != value:
            return False
    return True


class HybridIndex:
    """Searchable in-memory view; changes and searches are serialised by one lock."""

    def __init__(self, dim: int, make_index: type[FaissIndex] = FaissIndex) -> None:
        self._passages: dict[int, Passage] = {}
        self._vectors: dict[int, Matrix] = {}
        self._units: dict[int, Matrix] = {}
        self._dense: VectorIndex = make_index(dim)
        self._clauses: VectorIndex = make_index(dim)
        self._lexical = LexicalIndex()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._passages)

    def add(self, items: Iterable[StoredPassage]) -> None:
        """Make stored passages searchable."""
        items = list(items)
        if not items:
            return
        with self._lock:
            rids = np.array([s.rid for s in items], dtype=np.int64)
            self._dense.add(rids, np.stack([s.vector for s in items]))
            unit_ids: list[int] = []
            unit_rows: list[Matrix] = []
            for s in items:
                self._passages[s.rid] = s.passage
                self._vectors[s.rid] = s.vector
                self._units[s.rid] = s.unit_vectors
                unit_ids.extend(s.rid * UNIT_SLOTS + j for j in range(len(s.unit_vectors)))
                unit_rows.append(s.unit_vectors)
                self._lexical.add(s.rid, tokens(with_title(s.passage)))
            if unit_ids:
                self._clauses.add(np.array(unit_ids, dtype=np.int64), np.concatenate(unit_rows))

    def remove(self, rids: Iterable[int]) -> None:
        """Make passages unsearchable (dense, clause and lexical alike)."""
        with self._lock:
            for rid in rids:
                if self._passages.pop(rid, None) is None:
                    continue
                self._vectors.pop(rid, None)
                units = self._units.pop(rid)
                self._dense.remove(np.array([rid], dtype=np.int64))
                ids = np.arange(len(units), dtype=np.int64) + rid * UNIT_SLOTS
                self._clauses.remove(ids)
                self._lexical.remove(rid)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of the given terms in this index."""
        df = self._lexical.document_frequency
        return idf_table({t: df.get(t, 0) for t in terms}, len(self._passages))

    def search(
        self, query: str, vector: Matrix, top_k: int, filters: Mapping[str, Any] | None = None
    ) -> Retrieval:
        """The top_k passages for a question, with the signals behind each score."""
        query_tokens = tokens(query)
        with self._lock:
            if not self._passages:
                return Retrieval([], query_tokens, 0.0)
            weight = lexical_weight(query_tokens, self._lexical.document_frequency)
            rids = self._candidate_rids(query_tokens, vector, weight, filters, top_k)
            if not rids:
                return Retrieval([], query_tokens, weight)
            candidates = self._score(rids, query_tokens, vector, weight)
        return Retrieval(candidates[:top_k], query_tokens, weight)

    def _candidate_rids(
        self,
        query_tokens: list[str],
        vector: Matrix,
        weight: float,
        filters: Mapping[str, Any] | None,
        top_k: int,
    ) -> list[int]:
        if filters:
            return [rid for rid, p in self._passages.items() if _matches(p, filters)]
        n = max(CANDIDATES, top_k * 3)
        found: set[int] = set()
        _, dense_ids = self._dense.search(vector[None, :], n)
        found.update(int(i) for i in dense_ids[0] if i >= 0)
        _, unit_ids = self._clauses.search(vector[None, :], n * 2)
        found.update(int(i) // UNIT_SLOTS for i in unit_ids[0] if i >= 0)
        if weight > 0:
            rids, scores = self._lexical.scores(query_tokens)
            for j in np.argsort(-scores)[:n]:
                if scores[j] > 0:
                    found.add(rids[j])
        return sorted(found & self._passages.keys())

    def _score(
        self, rids: list[int], query_tokens: list[str], vector: Matrix, weight: float
    ) -> list[Candidate]:
        dense = np.array([float(self._vectors[r] @ vector) for r in rids])
        unit_scores = [self._units[r] @ vector for r in rids]
        clause = np.array([float(u.max()) if len(u) else -1.0 for u in unit_scores])
        lexical = np.zeros(len(rids))
        if weight > 0:
            all_rids, all_scores = self._lexical.scores(query_tokens)
            position = {rid: j for j, rid in enumerate(all_rids)}
            lexical = np.array([all_scores[position[r]] for r in rids], dtype=np.float64)
        signals: dict[str, Floats] = {"dense": dense, "clause": clause}
        weights = dict(WEIGHTS)
        if weight > 0 and lexical.max() > 0:
            signals["lexical"] = lexical
            weights["lexical"] = WEIGHTS["lexical"] * weight
        fused = fuse(signals, weights)
        order = np.argsort(-fused, kind="stable")
        return [
            Candidate(
                passage=self._passages[rids[j]],
                score=float(fused[j]),
                dense=float(dense[j]),
                clause=float(clause[j]),
                lexical=float(lexical[j]),
                clause_scores=unit_scores[j],
            )
            for j in order
        ]
