"""Documents, passages and vectors in Milvus, so that any number of stateless replicas share them.

The Milvus counterpart of the SQLite Catalog (same methods, same StoredPassage rows). Four
collections under one prefix: `_documents` (each document's text in parts of at most
16,000 characters, Milvus strings being at most 64 KiB), `_passages` (text, offsets, metadata
and the passage vector), `_clauses` (one vector per clause, key rid * CLAUSE_SLOTS + clause) and
`_meta` (the manifest and a change token that replicas poll to notice each other's writes).

Milvus has no transactions: a replacement inserts the new passages before it deletes the old
ones, so a crash in between leaves the document twice, never absent, until it is written again.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from qa.domain import Clause, Document, DocumentInfo, Passage
from qa.errors import InvalidInputError
from qa.store.base import CLAUSE_SLOTS, NewPassage, StoredPassage
from qa.store.manifest import Manifest
from qa.store.milvus import (
    BATCH,
    MilvusIndex,
    connect,
    ensure_collection,
    id_list,
    iterate,
    vector_schema,
)
from qa.store.vectors import IndexSpec

RID_BITS = 50  # rid * CLAUSE_SLOTS stays inside int64
PART_CHARS = 16000  # 4 bytes per character at worst: under Milvus's 65,535-byte strings
MAX_STRING = 65535
POLL_SECONDS = 1.0  # how stale a replica's view of other replicas' writes may be


def _string(max_length: int = MAX_STRING) -> tuple[str, dict[str, Any]]:
    return ("VARCHAR", {"max_length": max_length})


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class MilvusCatalog:
    """The catalogue in Milvus: what the pipeline stores, readable by every replica."""

    def __init__(self, uri: str | None, prefix: str, dim: int, token: str | None = None) -> None:
        self._client = connect(uri, token)
        self._dim = dim
        self._prefix = prefix
        self._lock = threading.RLock()
        self._version = 0
        self._checked = 0.0
        c = self._client
        self.documents_name = f"{prefix}_documents"
        self.passages_name = f"{prefix}_passages"
        self.clauses_name = f"{prefix}_clauses"
        self.meta_name = f"{prefix}_meta"
        ensure_collection(
            c,
            self.documents_name,
            vector_schema(
                c,
                "key",
                2,
                key=_string(1100),
                document_id=_string(1024),
                part=("INT64", {}),
                title=_string(),
                metadata=_string(),
                passages=("INT64", {}),
                chars=("INT64", {}),
                text=_string(),
            ),
        )
        ensure_collection(
            c,
            self.passages_name,
            vector_schema(
                c, "rid", dim, passage_id=_string(256), document_id=_string(1024), body=_string()
            ),
        )
        ensure_collection(
            c,
            self.clauses_name,
            vector_schema(c, "id", dim, rid=("INT64", {}), document_id=_string(1024)),
        )
        ensure_collection(
            c, self.meta_name, vector_schema(c, "key", 2, key=_string(256), value=_string())
        )

    # ----------------------------------------------------------------- views for search
    def dense_view(self, dim: int, spec: IndexSpec | None = None) -> MilvusIndex:
        """Passage-vector search over the stored passages (rows are written by this catalogue).

        `spec` (a FAISS index kind) is accepted to match HybridIndex's factories and ignored:
        Milvus holds these vectors in one exact (FLAT) index.
        """
        return MilvusIndex(self._client, self.passages_name, dim, pk="rid", owned=False)

    def clause_view(self, dim: int, spec: IndexSpec | None = None) -> MilvusIndex:
        """Clause-vector search over the stored clauses."""
        return MilvusIndex(self._client, self.clauses_name, dim, pk="id", owned=False)

    # ----------------------------------------------------------------- meta
    @property
    def local_dir(self) -> None:
        """Nothing is kept on this machine: replicas are stateless."""
        return None

    def record_manifest(self, manifest: Manifest) -> None:
        """The manifest lives in Milvus, written once when the collections are created."""

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def get_meta(self, key: str) -> str | None:
        """A value from the meta collection."""
        rows = self._client.query(
            self.meta_name, filter=f"key == {_quote(key)}", output_fields=["value"]
        )
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value in the meta collection."""
        self._client.upsert(self.meta_name, [{"key": key, "value": value, "vector": [0.0, 0.0]}])

    def data_version(self) -> int:
        """A token that changes with every write by any replica (polled at most once a second)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= POLL_SECONDS:
                self._version = int(self.get_meta("version") or 0)
                self._checked = now
            return self._version

    def _bump(self) -> None:
        with self._lock:
            self._version = secrets.randbits(62)
            self.set_meta("version", str(self._version))
            self._checked = time.monotonic()

    # ----------------------------------------------------------------- writing
    def upsert(
        self, document: Document, passages: Sequence[NewPassage]
    ) -> tuple[list[int], list[int]]:
        """Replace a document and its passages; (removed rids, new rids)."""
        with self._lock:
            removed = self._rids_of(document.id)
            added = self._new_rids(len(passages))
            self._insert_passages(document.id, passages, added)
            self._write_document(document, len(passages))
            self._delete_rids(removed)
            self._bump()
        return removed, added

    def delete(self, document_id: str) -> list[int] | None:
        """Delete a document; the rids of its passages, or None when it was not there."""
        with self._lock:
            if self.document(document_id) is None:
                return None
            rids = self._rids_of(document_id)
            where = f"document_id == {_quote(document_id)}"
            self._client.delete(self.documents_name, filter=where)
            self._client.delete(self.clauses_name, filter=where)
            self._client.delete(self.passages_name, filter=where)
            self._bump()
        return rids

    def _rids_of(self, document_id: str) -> list[int]:
        where = f"document_id == {_quote(document_id)}"
        return sorted(
            int(r["rid"]) for r in iterate(self._client, self.passages_name, where, ["rid"])
        )

    def _new_rids(self, n: int) -> list[int]:
        """Random 50-bit keys that no stored passage uses (writers never coordinate)."""
        rids: set[int] = set()
        while len(rids) < n:
            fresh = {secrets.randbits(RID_BITS) for _ in range(n - len(rids))} - rids
            taken = self._client.query(
                self.passages_name, filter=f"rid in {id_list(fresh)}", output_fields=["rid"]
            )
            rids |= fresh - {int(r["rid"]) for r in taken}
        return sorted(rids)

    def _insert_passages(
        self, document_id: str, passages: Sequence[NewPassage], rids: list[int]
    ) -> None:
        rows, clauses = [], []
        for rid, item in zip(rids, passages, strict=True):
            p = item.passage
            body = json.dumps(
                {
                    "title": p.title,
                    "text": p.text,
                    "start": p.start,
                    "end": p.end,
                    "metadata": p.metadata,
                    "units": [[s.start, s.end] for s in p.clauses],
                },
                ensure_ascii=False,
            )
            if len(body.encode()) > MAX_STRING:
                raise InvalidInputError(f"passage {p.id!r} is too large for Milvus (64 KiB)")
            vector = np.asarray(item.vector, np.float32).tolist()
            rows.append(
                {
                    "rid": rid,
                    "passage_id": p.id,
                    "document_id": document_id,
                    "body": body,
                    "vector": vector,
                }
            )
            for j, vector in enumerate(np.asarray(item.clause_vectors, np.float32)):
                clauses.append(
                    {
                        "id": rid * CLAUSE_SLOTS + j,
                        "rid": rid,
                        "document_id": document_id,
                        "vector": vector.tolist(),
                    }
                )
        for name, items in ((self.clauses_name, clauses), (self.passages_name, rows)):
            for start in range(0, len(items), BATCH):
                self._client.insert(name, items[start : start + BATCH])

    def _write_document(self, document: Document, passages: int) -> None:
        metadata = json.dumps(document.metadata, ensure_ascii=False)
        if len(metadata.encode()) > MAX_STRING or len(document.title.encode()) > MAX_STRING:
            raise InvalidInputError("document metadata and title must each fit in 64 KiB")
        text = document.text
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        where = f"document_id == {_quote(document.id)} and part >= {len(parts)}"
        self._client.delete(self.documents_name, filter=where)
        rows = [
            {
                "key": f"{document.id}\x1f{n}",
                "document_id": document.id,
                "part": n,
                "title": document.title if n == 0 else "",
                "metadata": metadata if n == 0 else "{}",
                "passages": passages,
                "chars": len(text),
                "text": part,
                "vector": [0.0, 0.0],
            }
            for n, part in enumerate(parts)
        ]
        self._client.upsert(self.documents_name, rows)

    def _delete_rids(self, rids: list[int]) -> None:
        for start in range(0, len(rids), BATCH):
            chunk = rids[start : start + BATCH]
            self._client.delete(self.clauses_name, filter=f"rid in {id_list(chunk)}")
            self._client.delete(self.passages_name, ids=chunk)

    # ----------------------------------------------------------------- reading
    def passages(self, rids: Sequence[int] | None = None) -> Iterator[StoredPassage]:
        """Stored passages with their vectors (all, or those rids), in rid order."""
        chunks = (
            [None] if rids is None else [rids[i : i + BATCH] for i in range(0, len(rids), BATCH)]
        )
        for chunk in chunks:
            where = "" if chunk is None else f"rid in {id_list(chunk)}"
            clause_rows: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)
            for row in iterate(self._client, self.clauses_name, where, ["id", "rid", "vector"]):
                clause_rows[int(row["rid"])].append((int(row["id"]), row["vector"]))
            fields = ["rid", "passage_id", "document_id", "body", "vector"]
            rows = sorted(
                iterate(self._client, self.passages_name, where, fields),
                key=lambda r: int(r["rid"]),
            )
            for row in rows:
                yield self._stored(row, clause_rows.get(int(row["rid"]), []))

    def passages_of(self, document_id: str) -> list[StoredPassage]:
        """A document's stored passages with their vectors (none when it is not stored)."""
        rids = self._rids_of(document_id)
        return list(self.passages(rids)) if rids else []

    def passage(self, passage_id: str) -> Passage | None:
        """One stored passage by its id (None when no such passage is stored)."""
        where = f"passage_id == {_quote(passage_id)}"
        rids = [int(r["rid"]) for r in iterate(self._client, self.passages_name, where, ["rid"])]
        found = list(self.passages(rids[:1]))
        return found[0].passage if found else None

    def _stored(
        self, row: dict[str, Any], clause_rows: list[tuple[int, list[float]]]
    ) -> StoredPassage:
        body = json.loads(row["body"])
        passage = Passage(
            id=row["passage_id"],
            document_id=row["document_id"],
            title=body["title"],
            text=body["text"],
            start=int(body["start"]),
            end=int(body["end"]),
            metadata=body["metadata"],
            clauses=tuple(Clause(int(a), int(b)) for a, b in body["units"]),
        )
        ordered = [v for _, v in sorted(clause_rows)]
        clause_vectors = np.asarray(ordered, np.float32).reshape(-1, self._dim)
        return StoredPassage(
            int(row["rid"]), passage, np.asarray(row["vector"], np.float32), clause_vectors
        )

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Document summaries ordered by id."""
        fields = ["document_id", "title", "metadata", "passages", "chars"]
        rows = sorted(
            iterate(self._client, self.documents_name, "part == 0", fields),
            key=lambda r: str(r["document_id"]),
        )
        end = None if limit is None else offset + limit
        return [self._info(r) for r in rows[offset:end]]

    def document(self, document_id: str) -> tuple[DocumentInfo, str] | None:
        """One document's summary and full text."""
        fields = ["document_id", "part", "title", "metadata", "passages", "chars", "text"]
        where = f"document_id == {_quote(document_id)}"
        parts = sorted(
            iterate(self._client, self.documents_name, where, fields), key=lambda r: int(r["part"])
        )
        if not parts:
            return None
        return self._info(parts[0]), "".join(str(p["text"]) for p in parts)

    def count(self) -> tuple[int, int]:
        """(documents, passages) stored."""
        docs = self._client.query(
            self.documents_name, filter="part == 0", output_fields=["count(*)"]
        )
        passages = self._client.query(self.passages_name, filter="", output_fields=["count(*)"])
        return int(docs[0]["count(*)"]), int(passages[0]["count(*)"])

    @staticmethod
    def _info(row: dict[str, Any]) -> DocumentInfo:
        metadata = json.loads(row["metadata"])
        return DocumentInfo(
            id=row["document_id"],
            title=row["title"],
            metadata=metadata,
            passages=int(row["passages"]),
            chars=int(row["chars"]),
            source=str(metadata.get("source", "")),
        )


def open_milvus(
    uri: str | None, prefix: str, manifest: Manifest, token: str | None = None
) -> MilvusCatalog:
    """Open the shared catalogue, refusing one built with another model (manifest in Milvus)."""
    catalog = MilvusCatalog(uri, prefix, manifest.dimension, token)
    stored = catalog.get_meta("manifest")
    if stored is None:
        catalog.set_meta("manifest", manifest.to_json())
    else:
        manifest.check_compatible(Manifest.from_json(stored))
    return catalog
