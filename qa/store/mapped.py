"""FAISS indexes opened memory-mapped from a snapshot file, copied into memory on first write.

Mapping skips reading and deserialising hundreds of MB at start-up (and processes serving the
same snapshot share its pages). A mapped index is read-only: FAISS aborts the process on a
write to mapped flat codes, and mapped IVF lists only refer to their file. So every write, and
every serialisation, first swaps in an owned copy; searches and reads never need one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss

from qa.store.vectors import FaissIndex, Ids, IndexSpec, Matrix

_FLAGS = {
    "flat": faiss.IO_FLAG_MMAP_IFC,  # flat codes used in place
    "ivf": faiss.IO_FLAG_MMAP,  # inverted lists used in place (read-only mapping)
    "ivfpq": faiss.IO_FLAG_MMAP_IFC,  # the re-ranking store's vectors used in place
}


def _owned(raw: Any, kind: str) -> Any:
    """The same index with every part in memory that a write may touch."""
    ivf: Any = faiss.try_extract_index_ivf(raw) if kind == "ivf" else None
    if ivf is not None:  # the lists are all that changes (the quantizer stays as it is)
        lists: Any = ivf.invlists
        if not isinstance(faiss.downcast_InvertedLists(lists), faiss.ArrayInvertedLists):
            copy: Any = faiss.ArrayInvertedLists(lists.nlist, lists.code_size)
            for i in range(lists.nlist):
                size = lists.list_size(i)
                if size:
                    copy.add_entries(i, size, lists.get_ids(i), lists.get_codes(i))
            ivf.replace_invlists(copy, True)
            copy.this.disown()  # the IVF index owns and frees it now
        return raw
    return faiss.deserialize_index(faiss.serialize_index(raw))


class MappedIndex(FaissIndex):
    """A FaissIndex over a mapped snapshot file until its first write (then an ordinary one)."""

    def __init__(self, dim: int, spec: IndexSpec, raw: Any, mapped: bool) -> None:
        super().__init__(dim, spec, raw)
        self.mapped = mapped

    @classmethod
    def open(cls, path: Path, dim: int, spec: IndexSpec) -> MappedIndex:
        """Map the index in `path` (kinds without mapping support are read whole)."""
        flags = _FLAGS.get(spec.kind, 0)
        raw = faiss.read_index(str(path), flags)
        if raw.d != dim:
            raise ValueError(f"{path.name}: dimension {raw.d}, expected {dim}")
        return cls(dim, spec, raw, mapped=bool(flags))

    def own(self) -> None:
        """Copy what is still mapped into memory (done before any write)."""
        if self.mapped:
            self._take(_owned(self._index, self.spec.kind))
            self.mapped = False

    def add(self, ids: Ids, vectors: Matrix) -> None:
        if len(ids):
            self.own()
        super().add(ids, vectors)

    def remove(self, ids: Ids) -> None:
        if len(ids):
            self.own()
        super().remove(ids)

    def serialize(self) -> Any:
        """The index as bytes (mapped IVF lists would be written as a reference to the file)."""
        self.own()
        return super().serialize()
