"""Hybrid retrieval over an in-memory view of the catalogue: dense + clause-dense + BM25."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.domain import Passage, Query
from qa.retrieve.fusion import Floats, fuse, lexical_weight
from qa.retrieve.lexical import LexicalIndex, idf_table
from qa.retrieve.passages import PassageTable
from qa.store.base import CLAUSE_SLOTS, StoredPassage
from qa.store.mapped import MappedIndex
from qa.store.snapshot import Snapshot, SnapshotData
from qa.store.vectors import FaissIndex, Ids, IndexSpec, Matrix, choose_spec
from qa.text.chunk import with_title
from qa.text.normalize import tokens

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
    lexical_weight: float


class HybridIndex:
    """Searchable in-memory view at one catalogue generation.

    Changes (`apply`) and searches are serialised by one lock, so a search sees every passage
    of a document or none of them. Vectors live only in the FAISS indexes (read back by id
    for scoring). The Milvus store searches in Milvus instead (qa/retrieve/milvus_search.py).
    """

    def __init__(
        self,
        dim: int,
        passage_spec: IndexSpec | None = None,
    ) -> None:
        self.dim = dim
        self._passages = PassageTable()  # with the clause-vector count of each
        self._dense = FaissIndex(dim, passage_spec or IndexSpec())
        self._clauses = FaissIndex(dim, IndexSpec(fp16=True))
        self._lexical = LexicalIndex()
        self._lock = threading.Lock()  # searches, and the moment a change is made
        self._write_lock = threading.Lock()  # changes and snapshots, one at a time
        self.generation = 0

    def __len__(self) -> int:
        return len(self._passages)

    @property
    def specs(self) -> dict[str, Any]:
        """The FAISS index kinds in use (for the manifest)."""
        return {"passages": self._dense.spec.as_dict(), "clauses": self._clauses.spec.as_dict()}

    def counts(self) -> tuple[int, int, int, int]:
        """(passages, passage vectors, clauses expected, clause vectors) for integrity checks."""
        with self._lock:
            expected = self._passages.clause_total
            return len(self._passages), len(self._dense), expected, len(self._clauses)

    def rids(self) -> set[int]:
        """Row ids held."""
        with self._lock:
            return self._passages.rids()

    def add(self, items: Iterable[StoredPassage]) -> None:
        """Make stored passages searchable."""
        self.apply((), items)

    def remove(self, rids: Iterable[int]) -> None:
        """Make passages unsearchable (dense, clause and lexical alike)."""
        self.apply(rids, ())

    def apply(
        self,
        removed: Iterable[int],
        added: Iterable[StoredPassage],
        generation: int | None = None,
    ) -> None:
        """Remove then add as one step: a concurrent search sees the state before or after."""
        items = list(added)
        with self._write_lock, self._lock:
            self._remove(removed)
            self._add(items)
            if generation is not None:
                self.generation = generation
            self._grow()

    def _add(self, items: list[StoredPassage]) -> None:
        items = [s for s in items if s.rid not in self._passages]
        if not items:
            return
        rids = np.array([s.rid for s in items], dtype=np.int64)
        self._dense.add(rids, np.stack([s.vector for s in items]))
        clause_ids: list[int] = []
        clause_rows: list[Matrix] = []
        for s in items:
            self._passages.add(s.rid, s.passage, len(s.clause_vectors))
            clause_ids.extend(s.rid * CLAUSE_SLOTS + j for j in range(len(s.clause_vectors)))
            clause_rows.append(s.clause_vectors)
            self._lexical.add(s.rid, tokens(with_title(s.passage)))
        if clause_ids:
            self._clauses.add(np.array(clause_ids, dtype=np.int64), np.concatenate(clause_rows))

    def _remove(self, rids: Iterable[int]) -> None:
        gone = [rid for rid in rids if rid in self._passages]
        if not gone:
            return
        clause_ids: list[Ids] = []
        for rid in gone:
            count = self._passages.remove(rid)
            clause_ids.append(np.arange(count, dtype=np.int64) + rid * CLAUSE_SLOTS)
        self._lexical.remove(gone)
        self._dense.remove(np.array(gone, dtype=np.int64))
        self._clauses.remove(np.concatenate(clause_ids))

    def _grow(self) -> None:
        """Switch a vector index to IVF once it outgrows exact search (a one-off rebuild)."""
        for name in ("_dense", "_clauses"):
            index: FaissIndex = getattr(self, name)
            spec = choose_spec(len(index), fp16=index.spec.fp16)
            if index.spec.kind == "flat" and spec.kind != "flat":
                ids, vectors = index.all_vectors()
                setattr(self, name, FaissIndex.build(self.dim, spec, ids, vectors))

    # ------------------------------------------------------------- snapshots
    def snapshot(self) -> SnapshotData:
        """Everything needed to restore this view; searches go on while it is taken.

        Writers wait, so nothing changes meanwhile: the passage table and the BM25 postings are
        compacted into new arrays and the FAISS indexes serialised (FAISS releases the GIL)
        while searches read the current ones. Only swapping the compacted arrays in takes the
        search lock. They are never changed in place afterwards, so they are written out
        after the locks are gone.
        """
        with self._write_lock:
            dense, clauses = self._dense, self._clauses
            passages, postings = self._passages.compacted(), self._lexical.merged()
            dense_bytes, clause_bytes = dense.serialize(), clauses.serialize()
            with self._lock:
                self._passages = passages
                if postings is not None:
                    self._lexical.adopt(postings)
            return SnapshotData(
                generation=self.generation,
                dense=dense_bytes,
                clauses=clause_bytes,
                specs=(dense.spec, clauses.spec),
                columns={**passages.columns(), **self._lexical.columns()},
            )

    @classmethod
    def restore(cls, dim: int, snapshot: Snapshot) -> HybridIndex:
        """A view over a snapshot (already checked by its reader): mapped, not read."""
        index = cls(dim)
        index._dense = MappedIndex.open(snapshot.dense_path, dim, snapshot.specs[0])
        index._clauses = MappedIndex.open(snapshot.clauses_path, dim, snapshot.specs[1])
        index._passages = PassageTable(snapshot.columns)
        index._lexical = LexicalIndex(snapshot.columns)
        if not np.array_equal(snapshot.columns["passages.rids"], snapshot.columns["lexical.rids"]):
            raise ValueError("the snapshot's passages and BM25 postings hold different rows")
        index.generation = snapshot.generation
        return index

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of the given terms in this index."""
        df = self._lexical.document_frequency
        return idf_table({t: df.get(t, 0) for t in terms}, len(self._passages))

    def search(
        self, query: Query, top_k: int, filters: Mapping[str, Any] | None = None
    ) -> Retrieval:
        """The top_k passages for a question, with the signals behind each score."""
        vector = query.vector
        with self._lock:
            if not len(self._passages):
                return Retrieval([], 0.0)
            weight = lexical_weight(query.tokens, self._lexical.document_frequency)
            bm25 = self._lexical.scores(query.tokens) if weight > 0 else {}
            rids = self._candidate_rids(bm25, vector, filters, top_k)
            if not rids:
                return Retrieval([], weight)
            candidates = self._score(rids, bm25, vector, weight, top_k)
        return Retrieval(candidates, weight)

    def _candidate_rids(
        self,
        bm25: dict[int, float],
        vector: Matrix,
        filters: Mapping[str, Any] | None,
        top_k: int,
    ) -> list[int]:
        if filters:
            return self._passages.matching(filters)
        n = max(CANDIDATES, top_k * 3)
        found: set[int] = set()
        _, dense_ids = self._dense.search(vector[None, :], n)
        found.update(int(i) for i in dense_ids[0] if i >= 0)
        _, clause_ids = self._clauses.search(vector[None, :], n * 2)
        found.update(int(i) // CLAUSE_SLOTS for i in clause_ids[0] if i >= 0)
        found.update(sorted(bm25, key=bm25.__getitem__, reverse=True)[:n])
        return sorted(rid for rid in found if rid in self._passages)

    def _score(
        self, rids: list[int], bm25: dict[int, float], vector: Matrix, weight: float, top_k: int
    ) -> list[Candidate]:
        ids = np.array(rids, dtype=np.int64)
        dense = (self._dense.reconstruct(ids) @ vector).astype(np.float64)
        counts = np.array([self._passages.clause_count(r) for r in rids], dtype=np.int64)
        starts = np.cumsum(counts) - counts
        clause_ids = np.repeat(ids * CLAUSE_SLOTS - starts, counts) + np.arange(counts.sum())
        clause_scores = (
            self._clauses.reconstruct(clause_ids) @ vector if len(clause_ids) else vector[:0]
        )
        clause = np.full(len(rids), -1.0)
        held = counts > 0
        if held.any():  # best clause of each passage, in one pass over all clause scores
            clause[held] = np.maximum.reduceat(clause_scores, starts[held])
        lexical = np.array([bm25.get(r, 0.0) for r in rids], dtype=np.float64)
        signals: dict[str, Floats] = {"dense": dense, "clause": clause}
        weights = dict(WEIGHTS)
        if weight > 0 and lexical.max() > 0:
            signals["lexical"] = lexical
            weights["lexical"] = WEIGHTS["lexical"] * weight
        fused = fuse(signals, weights)
        order = np.argsort(-fused, kind="stable")[:top_k]
        return [
            Candidate(
                passage=self._passages[rids[j]],
                score=float(fused[j]),
                dense=float(dense[j]),
                clause=float(clause[j]),
                lexical=float(lexical[j]),
                clause_scores=clause_scores[starts[j] : starts[j] + counts[j]],
            )
            for j in order
        ]
