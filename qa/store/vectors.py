"""Vector index protocol and its embedded FAISS implementation: exact while small, IVF above.

The index type follows the corpus size (`choose_spec`): exact inner product (IndexFlatIP)
below a threshold, an inverted-file index (IVF, exact vectors in each list, fp16 for the
clause index) above it. Ids are the catalogue's stable row ids; removal and reconstruction by
id cost O(removed) through a hash-table direct map, never O(corpus) per id.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]

EXACT_LIMIT = 200_000  # vectors: exact search below, IVF from here on
TRAIN_PER_LIST = 40  # training vectors per inverted list (FAISS warns below 39)
PROBE_SHARE = 16  # probe nlist/16 lists: recall@10 0.95 at 1M (bench/vector_index.py)


@dataclass(frozen=True)
class IndexSpec:
    """What kind of FAISS index holds a set of vectors (recorded in manifest.json)."""

    kind: str = "flat"  # "flat" (exact) or "ivf"
    nlist: int = 0
    nprobe: int = 0
    fp16: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


def choose_spec(count: int, fp16: bool = False, exact_limit: int = EXACT_LIMIT) -> IndexSpec:
    """Exact search while small; IVF with ~4·sqrt(n) lists (a power of two) above the limit."""
    if count < exact_limit:
        return IndexSpec("flat", fp16=fp16)
    nlist = 1 << max(8, round(math.log2(4 * math.sqrt(count))))
    return IndexSpec("ivf", nlist=nlist, nprobe=max(32, nlist // PROBE_SHARE), fp16=fp16)


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


def _make(dim: int, spec: IndexSpec) -> Any:
    ip = faiss.METRIC_INNER_PRODUCT
    if spec.kind == "flat":
        if spec.fp16:
            return faiss.IndexIDMap2(
                faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, ip)
            )
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if spec.kind != "ivf":
        raise ValueError(f"unknown vector index kind {spec.kind!r}")
    quantizer: Any = faiss.IndexFlatIP(dim)
    index: Any
    if spec.fp16:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_fp16, ip
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, ip)
    index.own_fields = True
    quantizer.this.disown()  # the IVF index owns and frees its quantizer
    return index


class FaissIndex:
    """Inner-product search (cosine on unit vectors) under stable int64 ids."""

    def __init__(self, dim: int, spec: IndexSpec | None = None, raw: Any = None) -> None:
        self.dim = dim
        self.spec = spec or IndexSpec()
        self._index = raw if raw is not None else _make(dim, self.spec)
        if self.spec.kind == "ivf":
            self._index.nprobe = self.spec.nprobe

    @classmethod
    def build(cls, dim: int, spec: IndexSpec, ids: Ids, vectors: Matrix) -> FaissIndex:
        """A new index of this kind holding these vectors (IVF is trained on a sample)."""
        index = cls(dim, spec)
        if spec.kind == "ivf":
            rng = np.random.default_rng(0)
            n = min(len(vectors), spec.nlist * TRAIN_PER_LIST)
            sample = vectors[np.sort(rng.choice(len(vectors), n, replace=False))]
            index._index.train(np.ascontiguousarray(sample, dtype=np.float32))
            hashtable = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]
            index._index.set_direct_map_type(hashtable)
        index.add(ids, vectors)
        return index

    def add(self, ids: Ids, vectors: Matrix) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: Ids) -> None:
        if len(ids):
            selector = faiss.IDSelectorArray(np.asarray(ids, dtype=np.int64))
            self._index.remove_ids(selector)

    def reconstruct(self, ids: Ids) -> Matrix:
        """The stored vectors of these ids (fp16 indexes give them back rounded)."""
        if len(ids) == 0:
            return np.zeros((0, self.dim), np.float32)
        out: Matrix = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return out.reshape(len(ids), self.dim)

    def all_vectors(self) -> tuple[Ids, Matrix]:
        """Every (id, vector) held, for rebuilding as another kind."""
        if self.spec.kind == "flat":
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        else:
            lists = self._index.invlists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(lists.nlist)
                if lists.list_size(i)
            ]
            ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return ids, self.reconstruct(ids)

    def search(self, queries: Matrix, k: int) -> tuple[Matrix, Ids]:
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def serialize(self) -> npt.NDArray[np.uint8]:
        """The index as bytes (taken under the owner's lock, written to disk outside it)."""
        data: npt.NDArray[np.uint8] = faiss.serialize_index(self._index)
        return data

    @classmethod
    def load(cls, path: Path, dim: int, spec: IndexSpec) -> FaissIndex:
        """Read an index written from `serialize`."""
        raw = faiss.read_index(str(path))
        if raw.d != dim:
            raise ValueError(f"{path.name}: dimension {raw.d}, expected {dim}")
        return cls(dim, spec, raw)

    def __len__(self) -> int:
        return int(self._index.ntotal)
