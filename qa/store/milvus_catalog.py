"""Documents, passages, vectors and BM25 terms in Milvus, where every search runs.

The Milvus counterpart of the SQLite Catalog (same writing and reading methods, same
StoredPassage rows), plus the searches a stateless replica sends (qa/retrieve/milvus_search.py).
Collections under one prefix:

- `_heads`: one row per document, the pointer to its live version (and its summary);
- `_texts`: the document's text in parts of at most 16,000 characters (Milvus strings are at
  most 64 KiB), tagged with document id and version;
- `_passages`: text, offsets and metadata, the passage vector and the BM25 sparse vector;
- `_clauses`: one vector per clause (key rid * CLAUSE_SLOTS + clause);
- `_terms`: how many passages hold each term (for idf), and the passage count and total length;
- `_meta`: the manifest and the layout's format.

Milvus has no transactions, so a write never changes what readers see until one row changes:
a replacement writes the new version's texts, clauses and passages under a fresh version number,
then flips the document's head row to it (one upsert, which Milvus applies whole), then deletes
every row of other versions. Searches keep only hits whose version is their document's head.
So a crash before the flip leaves the old version live (the half-written rows are invisible and
swept by the document's next write), a crash after it leaves the new one live, and a replaced
document never shows twice. Deleting removes the head first.

Term counts are not transactional: they are read, changed and written back after the flip, so a
crash between the flip and that update, or two replicas writing documents that share a term at
the same moment, can leave a count off by the passages of one document. They only weigh terms
(idf, logarithmic in the count); ranking and visibility never depend on them.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.domain import Clause, Document, DocumentInfo, Passage
from qa.errors import IndexMismatchError, InvalidInputError
from qa.store.base import CLAUSE_SLOTS, NewPassage, StoredPassage
from qa.store.manifest import Manifest
from qa.store.milvus import (
    BATCH,
    connect,
    ensure_collection,
    id_list,
    iterate,
    pymilvus_module,
    vector_schema,
)
from qa.store.milvus_lexical import Sparse, frequency_changes, passage_weights, term_dimension
from qa.text.chunk import with_title
from qa.text.normalize import tokens

RID_BITS = 50  # rid * CLAUSE_SLOTS stays inside int64
PART_CHARS = 16000  # 4 bytes per character at worst: under Milvus's 65,535-byte strings
MAX_STRING = 65535
FORMAT = "2"  # versioned rows under a head pointer, BM25 as sparse vectors
TOTALS = -1  # the `_terms` row holding (passage count, total length)
MAX_RESULTS = 16384  # Milvus caps a search's limit at this
NO_VECTOR = [0.0, 0.0]  # collections without a searchable vector still need one
NO_TERMS = {0: 1e-9}  # the sparse vector of a passage with no terms (Milvus refuses an empty one)


def _string(max_length: int = MAX_STRING) -> tuple[str, dict[str, Any]]:
    return ("VARCHAR", {"max_length": max_length})


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def filter_expression(filters: Mapping[str, Any] | None) -> str:
    """A Milvus filter for equality on `document_id` or metadata keys (empty: no filter)."""
    parts = []
    for key, value in (filters or {}).items():
        field = "document_id" if key == "document_id" else f"metadata[{_quote(key)}]"
        parts.append(f"{field} == {json.dumps(value, ensure_ascii=False)}")
    return " and ".join(parts)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


@dataclass(frozen=True)
class SearchHit:
    """A passage a search found, with the version its row belongs to."""

    rid: int
    document_id: str
    version: int
    score: float


@dataclass(frozen=True)
class Candidate:
    """What scoring a candidate passage needs from Milvus."""

    vector: np.ndarray
    lexical: Sparse
    units: int


@dataclass(frozen=True)
class TermStats:
    """What BM25 needs to weigh a query's terms."""

    document_frequency: dict[str, int]
    passages: int
    total_length: int


class MilvusCatalog:
    """The catalogue in Milvus: what the pipeline stores and searches, shared by every replica."""

    def __init__(self, uri: str | None, prefix: str, dim: int, token: str | None = None) -> None:
        self._client = connect(uri, token)
        self._dim = dim
        self._lock = threading.RLock()  # this process's writes, one at a time
        self.heads_name = f"{prefix}_heads"
        self.texts_name = f"{prefix}_texts"
        self.passages_name = f"{prefix}_passages"
        self.clauses_name = f"{prefix}_clauses"
        self.terms_name = f"{prefix}_terms"
        self.meta_name = f"{prefix}_meta"
        self._create_collections(prefix)

    def _create_collections(self, prefix: str) -> None:
        c = self._client
        if c.has_collection(f"{prefix}_documents") and not c.has_collection(self.heads_name):
            raise IndexMismatchError(
                f"the Milvus collections {prefix}_* were written by an older version of qa "
                "(no versioned rows): index again under a new QA_MILVUS_COLLECTION"
            )
        document = {"document_id": _string(1024), "version": ("INT64", {})}
        ensure_collection(
            c,
            self.heads_name,
            vector_schema(
                c,
                "document_id",
                2,
                **document,
                title=_string(),
                metadata=_string(),
                passages=("INT64", {}),
                chars=("INT64", {}),
                parts=("INT64", {}),
            ),
        )
        ensure_collection(
            c,
            self.texts_name,
            vector_schema(
                c, "key", 2, key=_string(1100), **document, part=("INT64", {}), text=_string()
            ),
        )
        passages = vector_schema(
            c,
            "rid",
            self._dim,
            passage_id=_string(256),
            **document,
            body=_string(),
            metadata=("JSON", {}),
            length=("INT64", {}),
            units=("INT64", {}),
        )
        DataType = pymilvus_module().DataType

        passages.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
        ensure_collection(c, self.passages_name, passages, sparse="lexical")
        ensure_collection(
            c,
            self.clauses_name,
            vector_schema(c, "id", self._dim, rid=("INT64", {}), **document, metadata=("JSON", {})),
        )
        ensure_collection(
            c,
            self.terms_name,
            vector_schema(c, "dim", 2, df=("INT64", {}), length=("INT64", {})),
        )
        ensure_collection(
            c, self.meta_name, vector_schema(c, "key", 2, key=_string(256), value=_string())
        )

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
        self._client.upsert(self.meta_name, [{"key": key, "value": value, "vector": NO_VECTOR}])

    # ----------------------------------------------------------------- writing
    def upsert(
        self, document: Document, passages: Sequence[NewPassage]
    ) -> tuple[list[int], list[int]]:
        """Replace a document and its passages; (removed rids, new rids)."""
        [result] = self.upsert_many([(document, passages)])
        return result

    def upsert_many(
        self, items: Sequence[tuple[Document, Sequence[NewPassage]]]
    ) -> list[tuple[list[int], list[int]]]:
        """Replace documents; each one's (removed rids, new rids).

        Everything is written under fresh versions before the head rows flip to them; each
        document flips whole (one row), and the term counts change once for the batch, which
        is what makes bulk loads fast (`bench/milvus_scale.py`).
        """
        ids = [document.id for document, _ in items]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("a batch may hold each document once")
        heads, texts, passage_rows, clause_rows, added = [], [], [], [], []
        lexical: list[tuple[Sparse, int]] = []
        with self._lock:
            old = self._heads(ids)
            mean = self._mean_length(items)
            rids = iter(self._new_rids(sum(len(p) for _, p in items)))
            versions = {}
            for document, passages in items:
                versions[document.id] = version = secrets.randbits(62)
                added.append([next(rids) for _ in passages])
                parts = self._text_rows(document, version)
                texts += parts
                rows, clauses, weights = self._passage_rows(
                    document, passages, added[-1], version, mean
                )
                passage_rows += rows
                clause_rows += clauses
                lexical += weights
                heads.append(self._head_row(document, version, len(passages), len(parts)))
            for name, new in (
                (self.texts_name, texts),
                (self.clauses_name, clause_rows),
                (self.passages_name, passage_rows),
            ):
                self._insert(name, new)
            for start in range(0, len(heads), BATCH):  # the flip: readers see the new versions
                self._client.upsert(self.heads_name, heads[start : start + BATCH])
            removed = self._retire(ids, old, lexical, versions)
        return [(removed.get(i, []), new) for i, new in zip(ids, added, strict=True)]

    def delete(self, document_id: str) -> list[int] | None:
        """Delete a document; the rids of its passages, or None when it was not there."""
        with self._lock:
            old = self._heads([document_id])
            if not old:
                return None
            self._client.delete(self.heads_name, ids=[document_id])  # gone for readers
            return self._retire([document_id], old, [], None).get(document_id, [])

    def _retire(
        self,
        ids: list[str],
        old: dict[str, int],
        added: list[tuple[Sparse, int]],
        keep: dict[str, int] | None,
    ) -> dict[str, list[int]]:
        """Count the new versions' terms instead of the old ones', then drop other versions."""
        removed: list[tuple[Sparse, int]] = []
        rids: dict[str, list[int]] = {}
        for document_id, version in old.items():
            live = f"document_id == {_quote(document_id)} and version == {version}"
            for row in iterate(
                self._client, self.passages_name, live, ["rid", "lexical", "length"]
            ):
                rids.setdefault(document_id, []).append(int(row["rid"]))
                length = int(row["length"])  # 0: the row holds the placeholder, no terms
                removed.append((dict(row["lexical"]) if length else {}, length))
        self._count_terms(added, removed)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            stale = f"document_id in [{', '.join(map(_quote, chunk))}]"
            if keep is not None:  # versions are random 62-bit: no other document has these
                stale += f" and version not in {id_list(keep[i] for i in chunk)}"
            for name in (self.texts_name, self.clauses_name, self.passages_name):
                self._client.delete(name, filter=stale)
        return {document_id: sorted(found) for document_id, found in rids.items()}

    def _heads(self, ids: Sequence[str]) -> dict[str, int]:
        """The live version of each of these documents that is stored."""
        return self.live_versions(ids)

    def _head(self, document_id: str) -> dict[str, Any] | None:
        rows = self._client.query(
            self.heads_name,
            filter=f"document_id == {_quote(document_id)}",
            output_fields=["document_id", "version", "title", "metadata", "passages", "chars"],
        )
        return dict(rows[0]) if rows else None

    def _new_rids(self, n: int) -> list[int]:
        """Random 50-bit keys that no stored passage uses (writers never coordinate)."""
        rids: set[int] = set()
        while len(rids) < n:
            fresh = {secrets.randbits(RID_BITS) for _ in range(n - len(rids))} - rids
            for chunk in _chunks(sorted(fresh)):
                taken = self._client.query(
                    self.passages_name, filter=f"rid in {id_list(chunk)}", output_fields=["rid"]
                )
                fresh -= {int(r["rid"]) for r in taken}
            rids |= fresh
        return sorted(rids)

    def _mean_length(self, items: Sequence[tuple[Document, Sequence[NewPassage]]]) -> float:
        """The corpus's mean passage length in terms (this batch's, for the first batch)."""
        stats = self.term_stats([])
        if stats.passages:
            return stats.total_length / stats.passages
        lengths = [len(tokens(with_title(n.passage))) for _, new in items for n in new]
        return sum(lengths) / max(1, len(lengths))

    @staticmethod
    def _head_row(document: Document, version: int, passages: int, parts: int) -> dict[str, Any]:
        metadata = json.dumps(document.metadata, ensure_ascii=False)
        if len(metadata.encode()) > MAX_STRING or len(document.title.encode()) > MAX_STRING:
            raise InvalidInputError("document metadata and title must each fit in 64 KiB")
        return {
            "document_id": document.id,
            "version": version,
            "title": document.title,
            "metadata": metadata,
            "passages": passages,
            "chars": len(document.text),
            "parts": parts,
            "vector": NO_VECTOR,
        }

    @staticmethod
    def _text_rows(document: Document, version: int) -> list[dict[str, Any]]:
        text = document.text
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        return [
            {
                "key": f"{document.id}\x1f{version}\x1f{n}",
                "document_id": document.id,
                "version": version,
                "part": n,
                "text": part,
                "vector": NO_VECTOR,
            }
            for n, part in enumerate(parts)
        ]

    @staticmethod
    def _passage_rows(
        document: Document,
        passages: Sequence[NewPassage],
        rids: list[int],
        version: int,
        mean: float,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[Sparse, int]]]:
        """The passage and clause rows of a version, and each passage's (terms, length)."""
        terms = [tokens(with_title(item.passage)) for item in passages]
        lexical = [(passage_weights(t, mean), len(t)) for t in terms]
        rows, clauses = [], []
        tag = {"document_id": document.id, "version": version}
        for rid, item, (weights, length) in zip(rids, passages, lexical, strict=True):
            p = item.passage
            body = json.dumps(
                {
                    "title": p.title,
                    "text": p.text,
                    "start": p.start,
                    "end": p.end,
                    "units": [[s.start, s.end] for s in p.clauses],
                },
                ensure_ascii=False,
            )
            if len(body.encode()) > MAX_STRING:
                raise InvalidInputError(f"passage {p.id!r} is too large for Milvus (64 KiB)")
            units = np.asarray(item.clause_vectors, np.float32)
            rows.append(
                {
                    "rid": rid,
                    "passage_id": p.id,
                    **tag,
                    "body": body,
                    "metadata": p.metadata,
                    "length": length,
                    "units": len(units),
                    "vector": np.asarray(item.vector, np.float32).tolist(),
                    "lexical": weights or NO_TERMS,
                }
            )
            clauses += [
                {
                    "id": rid * CLAUSE_SLOTS + j,
                    "rid": rid,
                    **tag,
                    "metadata": p.metadata,
                    "vector": unit.tolist(),
                }
                for j, unit in enumerate(units)
            ]
        return rows, clauses, lexical

    def _insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), BATCH):
            self._client.insert(name, rows[start : start + BATCH])

    def _count_terms(
        self, added: list[tuple[Sparse, int]], removed: list[tuple[Sparse, int]]
    ) -> None:
        change = frequency_changes((w for w, _ in added), (w for w, _ in removed))
        dims = [*change, TOTALS]
        current: dict[int, tuple[int, int]] = {}
        for start in range(0, len(dims), BATCH):
            for row in self._client.query(
                self.terms_name,
                filter=f"dim in {id_list(dims[start : start + BATCH])}",
                output_fields=["dim", "df", "length"],
            ):
                current[int(row["dim"])] = (int(row["df"]), int(row["length"]))
        passages, length = current.get(TOTALS, (0, 0))
        totals = (
            passages + len(added) - len(removed),
            length + sum(n for _, n in added) - sum(n for _, n in removed),
        )
        rows = [{"dim": TOTALS, "df": totals[0], "length": totals[1], "vector": NO_VECTOR}]
        gone = []
        for dim, delta in change.items():
            df = current.get(dim, (0, 0))[0] + delta
            if df > 0:
                rows.append({"dim": dim, "df": df, "length": 0, "vector": NO_VECTOR})
            elif dim in current:
                gone.append(dim)
        for start in range(0, len(rows), BATCH):
            self._client.upsert(self.terms_name, rows[start : start + BATCH])
        for start in range(0, len(gone), BATCH):
            self._client.delete(self.terms_name, ids=gone[start : start + BATCH])

    # ----------------------------------------------------------------- searching
    def term_stats(self, terms: Iterable[str]) -> TermStats:
        """Document frequencies of these terms, and the passage count and total length."""
        dims = {term: term_dimension(term) for term in set(terms)}
        found: dict[int, tuple[int, int]] = {}
        wanted = [*set(dims.values()), TOTALS]
        for row in self._client.query(
            self.terms_name,
            filter=f"dim in {id_list(wanted)}",
            output_fields=["dim", "df", "length"],
        ):
            found[int(row["dim"])] = (int(row["df"]), int(row["length"]))
        passages, length = found.get(TOTALS, (0, 0))
        df = {term: found.get(dim, (0, 0))[0] for term, dim in dims.items()}
        return TermStats(df, max(0, passages), max(0, length))

    def search(
        self,
        kind: str,
        query: np.ndarray | Sparse,
        limit: int,
        where: str = "",
    ) -> list[SearchHit]:
        """Nearest passages ('dense'), clauses ('clause') or BM25 passages ('lexical')."""
        collection = self.clauses_name if kind == "clause" else self.passages_name
        field = "lexical" if kind == "lexical" else "vector"
        data = query if kind == "lexical" else np.asarray(query, np.float32).tolist()
        [hits] = self._client.search(
            collection,
            data=[data],
            anns_field=field,
            limit=max(1, min(limit, MAX_RESULTS)),
            filter=where,
            output_fields=["rid", "document_id", "version"],
            search_params={"metric_type": "IP"},
        )
        return [
            SearchHit(
                int(h["entity"]["rid"]),
                str(h["entity"]["document_id"]),
                int(h["entity"]["version"]),
                float(h["distance"]),
            )
            for h in hits
        ]

    def live_versions(self, document_ids: Iterable[str]) -> dict[str, int]:
        """The version each of these documents shows (absent: deleted or never written)."""
        ids = sorted(set(document_ids))
        found: dict[str, int] = {}
        for start in range(0, len(ids), BATCH):
            chunk = ", ".join(_quote(d) for d in ids[start : start + BATCH])
            for row in self._client.query(
                self.heads_name,
                filter=f"document_id in [{chunk}]",
                output_fields=["document_id", "version"],
            ):
                found[str(row["document_id"])] = int(row["version"])
        return found

    def candidates(self, rids: Sequence[int]) -> dict[int, Candidate]:
        """The passage vector, BM25 sparse vector and clause count of these rids.

        Looked up by primary key (rows deleted meanwhile are left out): filtering a search by
        rid instead cost milvus-lite seconds at 100k passages.
        """
        rows = self._client.query(
            self.passages_name,
            filter=f"rid in {id_list(rids)}",
            output_fields=["rid", "vector", "lexical", "length", "units"],
        )
        return {
            int(r["rid"]): Candidate(
                np.asarray(r["vector"], np.float32),
                dict(r["lexical"]) if int(r["length"]) else {},
                int(r["units"]),
            )
            for r in rows
        }

    def passage_texts(self, rids: Sequence[int]) -> dict[int, Passage]:
        """The passages of these rids, without vectors."""
        fields = ["rid", "passage_id", "document_id", "body", "metadata"]
        rows = self._client.query(
            self.passages_name, filter=f"rid in {id_list(rids)}", output_fields=fields
        )
        return {int(r["rid"]): self._passage(r) for r in rows}

    def clause_vectors(self, units: Mapping[int, int]) -> dict[int, np.ndarray]:
        """The clause vectors of passages (rid: clause count), in clause order, by key."""
        keys = [rid * CLAUSE_SLOTS + j for rid, n in units.items() for j in range(n)]
        found: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)
        for chunk in _chunks(keys):
            for row in self._client.query(
                self.clauses_name,
                filter=f"id in {id_list(chunk)}",
                output_fields=["id", "vector"],
                limit=len(chunk),
            ):
                key = int(row["id"])
                found[key // CLAUSE_SLOTS].append((key, row["vector"]))
        return {rid: self._matrix(found.get(rid, [])) for rid in units}

    def _matrix(self, units: list[tuple[int, list[float]]]) -> np.ndarray:
        ordered = [v for _, v in sorted(units)]
        return np.asarray(ordered, np.float32).reshape(-1, self._dim)

    # ----------------------------------------------------------------- reading
    def passages(self, rids: Sequence[int]) -> Iterator[StoredPassage]:
        """Stored passages with their vectors, in rid order."""
        for chunk in _chunks(rids):
            fields = ["rid", "passage_id", "document_id", "body", "metadata", "vector", "units"]
            where = f"rid in {id_list(chunk)}"
            rows = sorted(
                iterate(self._client, self.passages_name, where, fields),
                key=lambda r: int(r["rid"]),
            )
            units = self.clause_vectors({int(r["rid"]): int(r["units"]) for r in rows})
            for row in rows:
                rid = int(row["rid"])
                yield StoredPassage(
                    rid, self._passage(row), np.asarray(row["vector"], np.float32), units[rid]
                )

    def passages_of(self, document_id: str) -> list[StoredPassage]:
        """A document's live passages with their vectors (none when it is not stored)."""
        head = self._head(document_id)
        if head is None:
            return []
        where = f"document_id == {_quote(document_id)} and version == {int(head['version'])}"
        rids = [int(r["rid"]) for r in iterate(self._client, self.passages_name, where, ["rid"])]
        return list(self.passages(sorted(rids)))

    def passage(self, passage_id: str) -> Passage | None:
        """One live passage by its id (None when no such passage is stored)."""
        where = f"passage_id == {_quote(passage_id)}"
        fields = ["rid", "document_id", "version"]
        for row in iterate(self._client, self.passages_name, where, fields):
            head = self._head(str(row["document_id"]))
            if head is not None and int(head["version"]) == int(row["version"]):
                found = list(self.passages([int(row["rid"])]))
                return found[0].passage if found else None
        return None

    @staticmethod
    def _passage(row: Mapping[str, Any]) -> Passage:
        body = json.loads(row["body"])
        return Passage(
            id=row["passage_id"],
            document_id=row["document_id"],
            title=body["title"],
            text=body["text"],
            start=int(body["start"]),
            end=int(body["end"]),
            metadata=dict(row["metadata"]),
            clauses=tuple(Clause(int(a), int(b)) for a, b in body["units"]),
        )

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Document summaries ordered by id."""
        fields = ["document_id", "title", "metadata", "passages", "chars"]
        rows = sorted(
            iterate(self._client, self.heads_name, "", fields),
            key=lambda r: str(r["document_id"]),
        )
        end = None if limit is None else offset + limit
        return [self._info(r) for r in rows[offset:end]]

    def document(self, document_id: str) -> tuple[DocumentInfo, str] | None:
        """One document's summary and full text (its live version's)."""
        head = self._head(document_id)
        if head is None:
            return None
        where = f"document_id == {_quote(document_id)} and version == {int(head['version'])}"
        parts = sorted(
            iterate(self._client, self.texts_name, where, ["part", "text"]),
            key=lambda r: int(r["part"]),
        )
        return self._info(head), "".join(str(p["text"]) for p in parts)

    def count(self) -> tuple[int, int]:
        """(documents, passages) stored (passages from the term counts: no scan)."""
        docs = self._client.query(self.heads_name, filter="", output_fields=["count(*)"])
        return int(docs[0]["count(*)"]), self.term_stats([]).passages

    @staticmethod
    def _info(row: Mapping[str, Any]) -> DocumentInfo:
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
        catalog.set_meta("format", FORMAT)
    else:
        manifest.check_compatible(Manifest.from_json(stored))
    return catalog
