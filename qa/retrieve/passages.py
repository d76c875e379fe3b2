"""The search view's passages, column-wise: start-up maps arrays instead of unpickling objects.

The base is a handful of numpy columns (from a snapshot, or folded from the previous base):
row ids in ascending order, offsets, clause counts, every string field of every row in one
UTF-8 blob, and clause bounds as one flat array. A `Passage` is built only when one is asked
for (a search hit, a filter, a removal). Changes after the base cost O(changed): new passages
wait in an overlay dict, removed base rows in a tombstone set, until `compacted()` folds both
into a new base (done when a snapshot is taken).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.domain import Clause, Passage

Array = npt.NDArray[Any]
PREFIX = "passages."
FIELDS = ("id", "document_id", "title", "text", "metadata")  # string fields, in blob order
_F = len(FIELDS)
# Snapshot column names; "units" (clause counts), "sentence_bounds" and "sentences" (clause
# spans) keep the names of the snapshot format that existing indexes were written with.
_COLUMNS = ("rids", "units", "start", "end", "string_bounds", "strings", "sentence_bounds",
            "sentences")  # fmt: skip


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # any Python str round-trips


def _row_strings(passage: Passage) -> list[bytes]:
    metadata = json.dumps(passage.metadata, ensure_ascii=False) if passage.metadata else ""
    fields = (passage.id, passage.document_id, passage.title, passage.text, metadata)
    return [_encode(f) for f in fields]


def matches(document_id: str, metadata: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """True when every filter holds: `document_id` or a metadata key equal to the value."""
    for key, value in filters.items():
        actual = document_id if key == "document_id" else metadata.get(key)
        if actual != value:
            return False
    return True


def _empty_columns() -> dict[str, Array]:
    return {
        "rids": np.zeros(0, np.int64),
        "units": np.zeros(0, np.int32),
        "start": np.zeros(0, np.int64),
        "end": np.zeros(0, np.int64),
        "string_bounds": np.zeros(1, np.int64),
        "strings": np.zeros(0, np.uint8),
        "sentence_bounds": np.zeros(1, np.int64),
        "sentences": np.zeros(0, np.int32),
    }


class PassageTable:
    """Passages by catalogue row id: a columnar base plus an overlay of changes since it."""

    def __init__(self, columns: Mapping[str, Array] | None = None) -> None:
        cols = _empty_columns() if columns is None else {k: columns[PREFIX + k] for k in _COLUMNS}
        self._rids: Array = cols["rids"]
        self._clause_counts: Array = cols["units"]
        self._start: Array = cols["start"]
        self._end: Array = cols["end"]
        self._string_bounds: Array = cols["string_bounds"]
        self._strings: Array = cols["strings"]
        self._clause_bounds: Array = cols["sentence_bounds"]
        self._clause_spans: Array = cols["sentences"]
        self._check()
        self._view = self._strings.data
        self._dead: set[int] = set()  # base rows removed since
        self._fresh: dict[int, tuple[Passage, int]] = {}  # rid -> (passage, clause count)
        self._clause_total = int(self._clause_counts.sum(dtype=np.int64))
        self._filter_fields: tuple[list[str], list[dict[str, Any]]] | None = None

    def _check(self) -> None:
        """Refuse columns that do not fit together (a snapshot is only trusted when whole)."""
        n = len(self._rids)
        if not len(self._clause_counts) == len(self._start) == len(self._end) == n:
            raise ValueError("passage columns differ in length")
        if len(self._string_bounds) != n * _F + 1 or len(self._clause_bounds) != n + 1:
            raise ValueError("passage bounds do not match the row count")
        if self._string_bounds[-1] != len(self._strings):
            raise ValueError("passage strings do not match their bounds")
        if self._clause_bounds[-1] * 2 != len(self._clause_spans):
            raise ValueError("passage clauses do not match their bounds")
        if n > 1 and not bool(np.all(self._rids[1:] > self._rids[:-1])):
            raise ValueError("passage row ids are not in ascending order")

    # ----------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self._rids) - len(self._dead) + len(self._fresh)

    def __contains__(self, rid: object) -> bool:
        if not isinstance(rid, int | np.integer):
            return False
        rid = int(rid)
        return rid in self._fresh or (self._row(rid) >= 0 and rid not in self._dead)

    def __iter__(self) -> Iterator[int]:
        dead = self._dead
        yield from (r for r in self._rids.tolist() if r not in dead)
        yield from self._fresh

    def __getitem__(self, rid: int) -> Passage:
        fresh = self._fresh.get(rid)
        if fresh is not None:
            return fresh[0]
        return self._passage(self._live_row(rid))

    def _live_row(self, rid: int) -> int:
        """The base row of a live (not removed) base passage; KeyError for any other id."""
        row = self._row(rid)
        if row < 0 or rid in self._dead:
            raise KeyError(rid)
        return row

    def _row(self, rid: int) -> int:
        """The base row of a row id, or -1 (dead rows included)."""
        row = int(np.searchsorted(self._rids, rid))
        return row if row < len(self._rids) and int(self._rids[row]) == rid else -1

    def _string(self, bounds: list[int], at: int) -> str:
        """The string between bounds[at] and bounds[at + 1] of the blob."""
        return str(self._view[bounds[at] : bounds[at + 1]], "utf-8", "surrogatepass")

    def _passage(self, row: int) -> Passage:
        bounds = self._string_bounds[row * _F : row * _F + _F + 1].tolist()
        first, last = self._clause_bounds[row : row + 2].tolist()
        flat = self._clause_spans[2 * first : 2 * last].tolist()
        metadata = self._string(bounds, 4)
        return Passage(
            id=self._string(bounds, 0),
            document_id=self._string(bounds, 1),
            text=self._string(bounds, 3),
            title=self._string(bounds, 2),
            start=int(self._start[row]),
            end=int(self._end[row]),
            metadata=json.loads(metadata) if metadata else {},
            clauses=tuple(Clause(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)),
        )

    def clause_count(self, rid: int) -> int:
        """Clause vectors held for a passage."""
        fresh = self._fresh.get(rid)
        if fresh is not None:
            return fresh[1]
        return int(self._clause_counts[self._live_row(rid)])

    @property
    def clause_total(self) -> int:
        """Clause vectors held for all passages."""
        return self._clause_total

    def rids(self) -> set[int]:
        """Every row id held."""
        held = set(self._rids.tolist())
        held.difference_update(self._dead)
        held.update(self._fresh)
        return held

    def matching(self, filters: Mapping[str, Any]) -> list[int]:
        """Row ids of the passages every filter holds for (document id or metadata values)."""
        if self._filter_fields is None:  # decoded once per base, then kept
            bounds = self._string_bounds.tolist()
            documents = [self._string(bounds, i * _F + 1) for i in range(len(self._rids))]
            metadata = [self._string(bounds, i * _F + 4) for i in range(len(self._rids))]
            self._filter_fields = documents, [json.loads(m) if m else {} for m in metadata]
        documents, metas = self._filter_fields
        dead = self._dead
        found = [
            rid
            for rid, document, meta in zip(self._rids.tolist(), documents, metas, strict=True)
            if rid not in dead and matches(document, meta, filters)
        ]
        found += [
            rid
            for rid, (p, _) in self._fresh.items()
            if matches(p.document_id, p.metadata, filters)
        ]
        return found

    # ----------------------------------------------------------------- changes
    def add(self, rid: int, passage: Passage, clauses: int) -> None:
        """Hold a passage (and how many clause vectors it has) under its row id."""
        if rid in self:
            raise KeyError(f"row {rid} is already held")
        self._fresh[rid] = (passage, clauses)
        self._clause_total += clauses

    def remove(self, rid: int) -> int:
        """Drop a passage; the number of clause vectors it had."""
        fresh = self._fresh.pop(rid, None)
        if fresh is not None:
            count = fresh[1]
        else:
            row = self._row(rid)
            if row < 0 or rid in self._dead:
                raise KeyError(rid)
            self._dead.add(rid)
            count = int(self._clause_counts[row])
        self._clause_total -= count
        return count

    # ----------------------------------------------------------------- columns
    def columns(self) -> dict[str, Array]:
        """The base columns (named for a snapshot); call on a compacted table."""
        if self._dead or self._fresh:
            raise RuntimeError("compact the table before taking its columns")
        return {
            PREFIX + "rids": self._rids,
            PREFIX + "units": self._clause_counts,
            PREFIX + "start": self._start,
            PREFIX + "end": self._end,
            PREFIX + "string_bounds": self._string_bounds,
            PREFIX + "strings": self._strings,
            PREFIX + "sentence_bounds": self._clause_bounds,
            PREFIX + "sentences": self._clause_spans,
        }

    def compacted(self) -> PassageTable:
        """A table holding the same passages with the overlay folded into a new base."""
        if not self._dead and not self._fresh:
            return self
        keep = np.flatnonzero(~np.isin(self._rids, np.fromiter(self._dead, np.int64)))
        fresh = sorted(self._fresh.items())
        kept, added = len(keep), len(fresh)
        rids = np.concatenate([self._rids[keep], np.array([r for r, _ in fresh], np.int64)])
        order = np.argsort(rids, kind="stable")

        # per-row numbers: base rows gathered, new rows appended, then all put in rid order
        passages = [p for _, (p, _) in fresh]
        clause_counts = np.concatenate(
            [self._clause_counts[keep], np.array([c for _, (_, c) in fresh], np.int32)]
        )
        start = np.concatenate([self._start[keep], np.array([p.start for p in passages], np.int64)])
        end = np.concatenate([self._end[keep], np.array([p.end for p in passages], np.int64)])

        # strings: each row's fields are contiguous in the blob, so a row is one slice
        new_strings = [_row_strings(p) for p in passages]
        field_sizes = np.concatenate(
            [
                np.diff(self._string_bounds).reshape(-1, _F)[keep],
                np.array([[len(s) for s in row] for row in new_strings], np.int64).reshape(-1, _F),
            ]
        )[order]
        row_start = self._string_bounds[::_F].tolist()
        pieces: list[bytes | memoryview] = []
        keep_rows = keep.tolist()
        for j in order.tolist():
            if j < kept:
                row = keep_rows[j]
                pieces.append(self._view[row_start[row] : row_start[row + 1]])
            else:
                pieces.append(b"".join(new_strings[j - kept]))
        blob = b"".join(pieces)
        string_bounds = np.zeros(len(rids) * _F + 1, np.int64)
        np.cumsum(field_sizes.ravel(), out=string_bounds[1:])

        # clauses: gather each row's (start, end) pairs from old and new flat arrays
        counts = np.concatenate(
            [np.diff(self._clause_bounds)[keep], np.array([len(p.clauses) for p in passages])]
        ).astype(np.int64)
        firsts = np.concatenate(
            [
                self._clause_bounds[:-1][keep],
                self._clause_bounds[-1] + np.cumsum([0, *counts[kept:]])[:added],
            ]
        ).astype(np.int64)
        pairs = np.concatenate(
            [
                self._clause_spans.reshape(-1, 2),
                np.array([[s.start, s.end] for p in passages for s in p.clauses], np.int32).reshape(
                    -1, 2
                ),
            ]
        )
        counts, firsts = counts[order], firsts[order]
        sentence_bounds = np.zeros(len(rids) + 1, np.int64)
        np.cumsum(counts, out=sentence_bounds[1:])
        gather = np.repeat(firsts - sentence_bounds[:-1], counts) + np.arange(sentence_bounds[-1])
        return PassageTable(
            {
                PREFIX + "rids": rids[order],
                PREFIX + "units": clause_counts[order],
                PREFIX + "start": start[order],
                PREFIX + "end": end[order],
                PREFIX + "string_bounds": string_bounds,
                PREFIX + "strings": np.frombuffer(blob, np.uint8),
                PREFIX + "sentence_bounds": sentence_bounds,
                PREFIX + "sentences": np.ascontiguousarray(pairs[gather]).reshape(-1),
            }
        )
