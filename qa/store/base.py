"""The store seam: the row types every store reads and writes, and the Protocol they implement.

Two stores implement it: the embedded one (SQLite catalogue, FAISS views: qa/store/catalog.py)
and the Milvus one (qa/store/milvus_catalog.py). The pipeline holds a `Store` and never asks
which; the choice is made once, in qa/backends.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qa.domain import Document, DocumentInfo, Passage
from qa.store.manifest import Manifest
from qa.store.vectors import Matrix

# A clause's vector id is rid * CLAUSE_SLOTS + its number in the passage (in both stores).
CLAUSE_SLOTS = 1 << 12


@dataclass(frozen=True)
class StoredPassage:
    """A passage with its catalogue row id and vectors (one per passage, one per clause)."""

    rid: int
    passage: Passage
    vector: Matrix
    clause_vectors: Matrix


@dataclass(frozen=True)
class NewPassage:
    """A passage to store with its embeddings."""

    passage: Passage
    vector: Matrix
    clause_vectors: Matrix


class Store(Protocol):
    """Documents, their passages and vectors: the index's source of truth."""

    @property
    def local_dir(self) -> Path | None:
        """The folder this store keeps files in on this machine (None for a remote store)."""
        ...

    def upsert(
        self, document: Document, passages: Sequence[NewPassage]
    ) -> tuple[list[int], list[int]]:
        """Replace a document and its passages, all or nothing; (removed rids, new rids)."""
        ...

    def delete(self, document_id: str) -> list[int] | None:
        """Delete a document; the rids of its passages, or None when it was not there."""
        ...

    def passages_of(self, document_id: str) -> list[StoredPassage]:
        """A document's stored passages with their vectors (empty when unknown)."""
        ...

    def passage(self, passage_id: str) -> Passage | None:
        """One stored passage by its id, or None."""
        ...

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Document summaries, ordered by id."""
        ...

    def document(self, document_id: str) -> tuple[DocumentInfo, str] | None:
        """A document's summary and text, or None."""
        ...

    def count(self) -> tuple[int, int]:
        """(documents, passages)."""
        ...

    def record_manifest(self, manifest: Manifest) -> None:
        """Keep the manifest up to date where this store keeps it."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
