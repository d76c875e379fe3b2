"""SQLite catalogue of documents, passages and their vectors: the index's source of truth.

Each write is one transaction, so a document is either wholly present or absent. Every write
also appends (generation, op, rid) rows to a change log in the same transaction: generations
grow in commit order (writers are serialised by BEGIN IMMEDIATE), row ids are never reused, so
a reader holding a view at generation g becomes current by applying only the log after g.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.domain import Clause, Document, DocumentInfo, Passage
from qa.store.base import NewPassage, StoredPassage
from qa.store.manifest import Manifest, write_manifest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, metadata TEXT NOT NULL, text TEXT NOT NULL,
    passages INTEGER NOT NULL, added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    title TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL,
    metadata TEXT NOT NULL, units TEXT NOT NULL, vector BLOB NOT NULL, unit_vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_document ON passages(document_id);
CREATE TABLE IF NOT EXISTS changes (
    generation INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL, rid INTEGER NOT NULL
);
"""
ADD, DELETE = 1, 2  # change-log ops
_SELECT = (
    "SELECT rid, id, document_id, title, text, start, stop, metadata, units, vector,"
    " unit_vectors FROM passages"
)


@dataclass(frozen=True)
class Delta:
    """What changed after a generation: rids to drop, passages to add, the generation reached."""

    generation: int
    removed: list[int]
    added: list[StoredPassage]
    full: bool = False
    catalog_id: str = ""


class Catalog:
    """Documents and passages in SQLite (WAL mode: readers never block the writer)."""

    def __init__(self, path: Path, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._dir = path.parent
        self._dim = dim
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.executescript(_SCHEMA)

    @property
    def local_dir(self) -> Path:
        """The index folder: the catalogue, manifest and snapshots live here."""
        return self._dir

    def record_manifest(self, manifest: Manifest) -> None:
        """Write manifest.json beside the catalogue (atomically)."""
        write_manifest(self._dir, manifest)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap 'is my view stale?' check."""
        with self._lock:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def upsert(
        self, document: Document, passages: Sequence[NewPassage]
    ) -> tuple[list[int], list[int]]:
        """Replace a document and its passages in one transaction; (removed rids, new rids)."""
        with self._transaction() as conn:
            removed = [
                int(r[0])
                for r in conn.execute(
                    "SELECT rid FROM passages WHERE document_id = ?", (document.id,)
                )
            ]
            conn.execute("DELETE FROM documents WHERE id = ?", (document.id,))
            conn.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                (
                    document.id,
                    document.title,
                    json.dumps(document.metadata, ensure_ascii=False),
                    document.text,
                    len(passages),
                    time.time(),
                ),
            )
            added = [self._insert_passage(conn, item) for item in passages]
            self._log(conn, removed, added)
        return removed, added

    @staticmethod
    def _log(conn: sqlite3.Connection, removed: Sequence[int], added: Sequence[int]) -> None:
        conn.executemany(
            "INSERT INTO changes (op, rid) VALUES (?, ?)",
            [(DELETE, r) for r in removed] + [(ADD, r) for r in added],
        )

    def _insert_passage(self, conn: sqlite3.Connection, item: NewPassage) -> int:
        p = item.passage
        cursor = conn.execute(
            "INSERT INTO passages (id, document_id, title, text, start, stop, metadata, units,"
            " vector, unit_vectors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.id,
                p.document_id,
                p.title,
                p.text,
                p.start,
                p.end,
                json.dumps(p.metadata, ensure_ascii=False),
                json.dumps([[s.start, s.end] for s in p.clauses]),
                np.ascontiguousarray(item.vector, dtype=np.float32).tobytes(),
                np.ascontiguousarray(item.clause_vectors, dtype=np.float32).tobytes(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def delete(self, document_id: str) -> list[int] | None:
        """Delete a document; the rids of its passages, or None when it was not there."""
        with self._transaction() as conn:
            rids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT rid FROM passages WHERE document_id = ?", (document_id,)
                )
            ]
            cursor = conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            if cursor.rowcount == 0:
                return None
            self._log(conn, rids, [])
        return rids

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees one committed state."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def generation(self) -> int:
        """The latest committed generation (0 for an index without logged changes)."""
        with self._lock:
            return self._generation(self._conn)

    def delta(self, since: int) -> Delta:
        """Changes committed after generation `since`, read in one consistent snapshot."""
        with self._snapshot() as conn:
            generation = self._generation(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone()
            catalog_id = "" if row is None else str(row[0])
            # Start over when the catalogue was replaced under us (`since` is ahead of it) or
            # the rows after `since` were compacted away.
            if since > generation or since < self._log_start(conn):
                return Delta(generation, [], [], full=True, catalog_id=catalog_id)
            log = conn.execute(
                "SELECT op, rid FROM changes WHERE generation > ? ORDER BY generation", (since,)
            ).fetchall()
            removed = sorted({int(rid) for op, rid in log if op == DELETE})
            gone = set(removed)
            fresh = sorted({int(rid) for op, rid in log if op == ADD} - gone)
            added = [self._stored(r) for r in self._rows(conn, fresh)]
        return Delta(generation, removed, added, catalog_id=catalog_id)

    def scan(self, chunk: int = 5000) -> Iterator[tuple[int, list[StoredPassage]]]:
        """Every passage, in chunks, from one snapshot: (its generation, passages) pairs.

        At least one pair comes, so an empty catalogue still tells its generation.
        """
        with self._snapshot() as conn:
            generation = self._generation(conn)
            cursor = conn.execute(_SELECT + " ORDER BY rid")
            rows = cursor.fetchmany(chunk)
            yield generation, [self._stored(r) for r in rows]  # once even when empty
            while rows := cursor.fetchmany(chunk):
                yield generation, [self._stored(r) for r in rows]

    def identity(self) -> str:
        """A random id fixed when the catalogue was created: snapshots of another are stale."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone()
            if row is not None:
                return str(row[0])
        value = uuid.uuid4().hex
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('catalog_id', ?)", (value,))
            row = conn.execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone()
        return str(row[0])

    def compact_log(self, through: int) -> int:
        """Forget change-log rows up to generation `through` (never the newest); rows removed.

        A reader whose view is older than the cut can no longer catch up row by row: `delta`
        then answers `full` and the reader reloads (from a snapshot, which the caller keeps).
        """
        with self._transaction() as conn:
            cut = min(through, self._generation(conn) - 1)
            if cut <= self._log_start(conn):
                return 0
            removed = conn.execute("DELETE FROM changes WHERE generation <= ?", (cut,)).rowcount
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('log_start', ?)", (str(cut),))
        return int(removed)

    def log_size(self) -> int:
        """Rows in the change log."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM changes").fetchone()[0])

    @staticmethod
    def _log_start(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'log_start'").fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _generation(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT coalesce(max(generation), 0) FROM changes").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        """(passages, clause vectors) stored, for checking the in-memory view against."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*), coalesce(sum(length(unit_vectors)), 0) FROM passages"
            ).fetchone()
        return int(row[0]), int(row[1]) // (4 * self._dim)

    def rids(self) -> set[int]:
        """Row ids of every stored passage (for start-up consistency checks)."""
        with self._lock:
            return {rid for (rid,) in self._conn.execute("SELECT rid FROM passages")}

    def passages(self, rids: Sequence[int] | None = None) -> Iterator[StoredPassage]:
        """Stored passages with their vectors (all, or those rids), in row order."""
        with self._lock:
            if rids is None:
                rows = self._conn.execute(_SELECT + " ORDER BY rid").fetchall()
            else:
                rows = self._rows(self._conn, rids)
        for row in rows:
            yield self._stored(row)

    def passages_of(self, document_id: str) -> list[StoredPassage]:
        """A document's stored passages with their vectors (none when it is not stored)."""
        with self._lock:
            rows = self._conn.execute(
                _SELECT + " WHERE document_id = ? ORDER BY rid", (document_id,)
            ).fetchall()
        return [self._stored(row) for row in rows]

    def passage(self, passage_id: str) -> Passage | None:
        """One stored passage by its id (None when no such passage is stored)."""
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE id = ?", (passage_id,)).fetchone()
        return None if row is None else self._stored(row).passage

    @staticmethod
    def _rows(conn: sqlite3.Connection, rids: Sequence[int]) -> list[Any]:
        rows: list[Any] = []
        for i in range(0, len(rids), 500):
            chunk = list(rids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows += conn.execute(f"{_SELECT} WHERE rid IN ({marks}) ORDER BY rid", chunk).fetchall()
        return rows

    def _stored(self, row: Any) -> StoredPassage:
        clauses = tuple(Clause(int(a), int(b)) for a, b in json.loads(row[8]))
        passage = Passage(
            id=row[1],
            document_id=row[2],
            title=row[3],
            text=row[4],
            start=int(row[5]),
            end=int(row[6]),
            metadata=json.loads(row[7]),
            clauses=clauses,
        )
        vector = np.frombuffer(row[9], dtype=np.float32)
        clause_vectors = np.frombuffer(row[10], dtype=np.float32).reshape(-1, self._dim)
        return StoredPassage(int(row[0]), passage, vector, clause_vectors)

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Document summaries ordered by id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, title, metadata, passages, length(text) FROM documents ORDER BY id"
                " LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [self._info(row) for row in rows]

    def document(self, document_id: str) -> tuple[DocumentInfo, str] | None:
        """One document's summary and full text."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, title, metadata, passages, length(text), text FROM documents"
                " WHERE id = ?",
                (document_id,),
            ).fetchone()
        return None if row is None else (self._info(row), str(row[5]))

    def count(self) -> tuple[int, int]:
        """(documents, passages) stored."""
        with self._lock:
            docs = self._conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            passages = self._conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        return int(docs), int(passages)

    @staticmethod
    def _info(row: Any) -> DocumentInfo:
        metadata = json.loads(row[2])
        return DocumentInfo(
            id=row[0],
            title=row[1],
            metadata=metadata,
            passages=int(row[3]),
            chars=int(row[4]),
            source=str(metadata.get("source", "")),
        )
