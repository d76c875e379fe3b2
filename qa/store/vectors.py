"""Vector index protocol and its embedded FAISS implementation (exact inner product)."""

from __future__ import annotations

from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


class VectorIndex(Protocol):
    """Vectors under int64 ids; search returns (scores, ids) best first, -1 ids for padding."""

    def add(self, ids: Ids, vectors: Matrix) -> None:
        """Add vectors under the given ids."""
        ...

    def remove(self, ids: Ids) -> None:
        """Remove the vectors with these ids (unknown ids are ignored)."""
        ...

    def search(self, queries: Matrix, k: int) -> tuple[Matrix, Ids]:
        """The k best ids per query by inner product."""
        ...

    def __len__(self) -> int:
        """Number of vectors held."""
        ...


class FaissIndex:
    """Exact inner-product search (cosine on unit vectors) with stable int64 ids."""

    def __init__(self, dim: int) -> None:
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add(self, ids: Ids, vectors: Matrix) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: Ids) -> None:
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, queries: Matrix, k: int) -> tuple[Matrix, Ids]:
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def __len__(self) -> int:
        return int(self._index.ntotal)
