"""Stable ids over FAISS indexes that cannot delete (HNSW, fast-scan IVF): tombstones in place.

Such an index sits inside an `IndexIDMap`, whose `id_map` gives each stored position its id.
Removal overwrites the id at the position with `TOMBSTONE`, so the id map (and therefore the
serialized index) alone says what is deleted; searches pass a selector that rejects negative
ids, so a removed vector still routes the graph walk but is never returned, and re-adding the
id stores a fresh vector at a new position. `IdTable` finds positions by id: a sorted snapshot
of the id map (16 bytes a vector, O(log n) a lookup) plus a dict of the ids added since.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]

TOMBSTONE = -2  # id written over a removed position (FAISS pads with -1; ours are >= 0)
MERGE_SHARE = 8  # fold recent adds into the sorted snapshot once they pass 1/8 of it
MERGE_MIN = 4096


def id_map(index: Any) -> Ids:
    """A writable view of an IndexIDMap's id map (valid until the next add)."""
    size = index.id_map.size()
    if size == 0:
        return np.zeros(0, np.int64)
    view: Ids = faiss.rev_swig_ptr(index.id_map.data(), size)
    return view


def live_selector(index: Any) -> Any:
    """A selector over stored positions that rejects tombstones (kept alive by the caller)."""
    keep = faiss.IDSelectorRange(0, np.iinfo(np.int64).max)
    selector = faiss.IDSelectorTranslated(index.id_map, keep)
    selector.referenced_objects = [keep]  # type: ignore[attr-defined]  # it does not own `keep`
    return selector


class IdTable:
    """Positions of live ids in an IndexIDMap; `kill` writes tombstones."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._sorted = np.zeros(0, np.int64)
        self._order = np.zeros(0, np.int64)
        self._recent: dict[int, int] = {}
        self.dead = 0
        self._merge()

    def _merge(self) -> None:
        ids = id_map(self._index)
        live = np.flatnonzero(ids >= 0)
        keys = ids[live]
        order = np.argsort(keys, kind="stable")
        self._sorted, self._order = keys[order], live[order].astype(np.int64)
        self._recent = {}
        self.dead = len(ids) - len(live)

    def added(self, ids: Ids, start: int) -> None:
        """Record ids just stored at positions start, start + 1, ..."""
        if len(self._recent) + len(ids) > max(MERGE_MIN, len(self._sorted) // MERGE_SHARE):
            self._merge()
        else:
            self._recent.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))

    def positions(self, ids: Ids) -> Ids:
        """Where each id is stored, -1 for ids not held (never added, or removed)."""
        ids = np.asarray(ids, dtype=np.int64)
        found = np.full(len(ids), -1, np.int64)
        if len(self._sorted):
            at = np.minimum(np.searchsorted(self._sorted, ids), len(self._sorted) - 1)
            hit = self._sorted[at] == ids
            found[hit] = self._order[at[hit]]
        if self._recent:
            for i, key in enumerate(ids.tolist()):
                found[i] = self._recent.get(key, found[i])
        known = found >= 0
        current = id_map(self._index)
        known[known] = current[found[known]] == ids[known]  # a tombstone replaced it since
        found[~known] = -1
        return found

    def kill(self, ids: Ids) -> int:
        """Tombstone these ids (unknown ones are ignored); how many were removed."""
        where = self.positions(ids)
        where = np.unique(where[where >= 0])
        id_map(self._index)[where] = TOMBSTONE
        self.dead += len(where)
        return len(where)

    def live(self) -> Ids:
        """Positions of every live vector, in storage order."""
        return np.flatnonzero(id_map(self._index) >= 0).astype(np.int64)
