"""Vector index protocol and its embedded FAISS implementation: exact while small, IVF-PQ above.

The index type follows the corpus size (`choose_spec`): exact inner product (IndexFlatIP, fp16
for the clause index) below a threshold; above it an inverted file of 4-bit fast-scan PQ codes
whose best `rerank` candidates are re-scored exactly against the stored vectors (IndexRefine:
full vectors, or fp16 for clauses). bench/vector_index.py measured the defaults at 1M vectors.
Fast-scan lists cannot delete, so that kind removes by tombstone (qa/store/tombstones.py) and
rebuilds itself, as the kind `choose_spec` picks for what is left, once tombstones pass a
quarter of what it stores. Ids are the catalogue's stable row ids; "ivf" (IVF-Flat) is still
read from older snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from qa.store.tombstones import IdTable, id_map, live_selector

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]

EXACT_LIMIT = 200_000  # vectors: exact search below, IVF-PQ from here on
TRAIN_PER_LIST = 40  # training vectors per inverted list (FAISS warns below 39)
PQ_DIMS = 2  # dimensions per 4-bit PQ sub-quantizer: 192 codes of 4 bits at 384-d
RERANK = 2000  # PQ candidates re-scored exactly per query (1000: recall@10 0.958 at 1M)
# Lists (per sqrt(n)) and probed share, keyed by fp16: passages (False) and clause vectors
# (True: 4-5 a passage, only extra candidates beside dense and BM25, so probed more cheaply).
# bench/vector_index.py, 1M passages: 2048 lists, nprobe 256: recall@10 0.975, p99 4.0 ms on
# one thread, built in 110 s (4096 lists: same recall, 263 s), 1.6 GiB. 5M clause vectors:
# 1024 lists, nprobe 64: recall@10 0.918, p99 6.6 ms, 127 s, 4.1 GiB (nprobe 128: 0.957,
# p99 13.5 ms; 4096 lists: same recall, 475 s).
LISTS_PER_ROOT = {False: 2.0, True: 0.5}
PROBE_SHARE = {False: 8, True: 16}
COMPACT_SHARE = 0.25  # rebuild a tombstoned index once this share of it is removed
CHUNK = 65_536  # vectors per add or reconstruct call while (re)building


@dataclass(frozen=True)
class IndexSpec:
    """What kind of FAISS index holds a set of vectors (recorded in manifest.json)."""

    kind: str = "flat"  # "flat" (exact), "ivfpq" (IVF fast-scan PQ + exact re-rank), "ivf"
    nlist: int = 0
    nprobe: int = 0
    fp16: bool = False
    pq_dims: int = 0  # "ivfpq": dimensions per 4-bit PQ sub-quantizer
    rerank: int = 0  # "ivfpq": candidates per query re-scored against the stored vectors

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


def choose_spec(count: int, fp16: bool = False, exact_limit: int = EXACT_LIMIT) -> IndexSpec:
    """Exact search while small; IVF-PQ with ~c·sqrt(n) lists (a power of two) above the limit.

    `fp16` marks the clause index, which gets fewer lists and a smaller probed share.
    """
    if count < exact_limit:
        return IndexSpec("flat", fp16=fp16)
    nlist = 1 << max(4, round(math.log2(LISTS_PER_ROOT[fp16] * math.sqrt(count))))
    nprobe = max(16, nlist // PROBE_SHARE[fp16])
    return IndexSpec("ivfpq", nlist, nprobe, fp16, pq_dims=PQ_DIMS, rerank=RERANK)


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


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """FAISS's OpenMP thread count for the calling thread only (a per-thread setting)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _owning(outer: Any, inner: Any) -> Any:
    outer.own_fields = True
    inner.this.disown()  # the outer index frees the inner one
    return outer


def _make(dim: int, spec: IndexSpec) -> Any:
    ip = faiss.METRIC_INNER_PRODUCT
    if spec.kind == "flat":
        if spec.fp16:
            return faiss.IndexIDMap2(
                faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, ip)
            )
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if spec.kind == "ivfpq":
        if spec.pq_dims <= 0 or dim % spec.pq_dims:
            raise ValueError(f"pq_dims {spec.pq_dims} does not divide dimension {dim}")
        refine = "Refine(SQfp16)" if spec.fp16 else "RFlat"
        layout = f"IVF{spec.nlist},PQ{dim // spec.pq_dims}x4fs,{refine}"
        base = faiss.index_factory(dim, layout, ip)
        return _owning(faiss.IndexIDMap(base), base)
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
    return _owning(index, quantizer)


class FaissIndex:
    """Inner-product search (cosine on unit vectors) under stable int64 ids.

    A single query is searched on one FAISS thread (`search_threads`): a server's parallelism
    is its request threads, and on shared cores OpenMP teams for one query cost more than
    they save (bench/vector_index.py: p50 0.5 ms on one thread, 16 ms on two, at 100k).
    """

    search_threads = 1  # FAISS threads for a single-query search; 0: FAISS's default
    exact_limit = EXACT_LIMIT  # compaction re-chooses the kind for what is left (choose_spec)

    def __init__(self, dim: int, spec: IndexSpec | None = None, raw: Any = None) -> None:
        self.dim = dim
        self.spec = spec or IndexSpec()
        self._take(raw if raw is not None else _make(dim, self.spec))

    def _take(self, raw: Any) -> None:
        """Hold this FAISS index from now on (new, read from a file, or an owned copy of it)."""
        self._index = raw
        if self.spec.kind == "ivf":
            raw.nprobe = self.spec.nprobe
        self._table = IdTable(raw) if self.spec.kind == "ivfpq" else None

    @classmethod
    def build(cls, dim: int, spec: IndexSpec, ids: Ids, vectors: Matrix) -> FaissIndex:
        """A new index of this kind holding these vectors (IVF kinds train on a sample)."""
        return cls._assemble(dim, spec, np.asarray(ids, dtype=np.int64), lambda rows: vectors[rows])

    @classmethod
    def _assemble(
        cls, dim: int, spec: IndexSpec, ids: Ids, take: Callable[[Ids], Matrix]
    ) -> FaissIndex:
        """Build from vectors fetched a chunk at a time (`take(rows)`), never all at once."""
        index = cls(dim, spec)
        if spec.kind in ("ivf", "ivfpq"):
            rng = np.random.default_rng(0)
            n = min(len(ids), spec.nlist * TRAIN_PER_LIST)
            sample = np.ascontiguousarray(
                take(np.sort(rng.choice(len(ids), n, replace=False))), dtype=np.float32
            )
            # training runs thousands of small OpenMP regions (PQ: 192 tiny k-means); on shared
            # cores each can stall for milliseconds: 14 s on 1 thread, 109 s on 2 at 100k
            with _omp_threads(1):
                index._index.train(sample)
        if spec.kind == "ivf":
            hashtable = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]
            index._index.set_direct_map_type(hashtable)
        for start in range(0, len(ids), CHUNK):
            rows = np.arange(start, min(start + CHUNK, len(ids)), dtype=np.int64)
            index.add(ids[rows], take(rows))
        return index

    def add(self, ids: Ids, vectors: Matrix) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self._table is not None and ids.min() < 0:
            raise ValueError("ids must be >= 0 (negative ids mark removed vectors)")
        start = int(self._index.ntotal)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        if self._table is not None:
            self._table.added(ids, start)

    def remove(self, ids: Ids) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self._table is None:
            self._index.remove_ids(faiss.IDSelectorArray(ids))
        elif self._table.kill(ids) and self._table.dead > COMPACT_SHARE * self._index.ntotal:
            self._compact()

    def _compact(self) -> None:
        """Rebuild without the tombstones, as the kind `choose_spec` picks for what is left.

        Retrained on the live vectors (or exact once few are left, so nothing is trained on
        too few points); blocks the caller for about a fresh build of that size.
        """
        assert self._table is not None
        live = self._table.live()
        ids = id_map(self._index)[live].copy()
        inner = self._index.index
        spec = choose_spec(len(live), self.spec.fp16, self.exact_limit)

        def take(rows: Ids) -> Matrix:
            return self._stored(inner, live[rows])

        fresh = FaissIndex._assemble(self.dim, spec, ids, take)  # not a subclass's constructor
        self.spec = spec
        self._take(fresh._index)

    def _stored(self, inner: Any, positions: Ids) -> Matrix:
        if len(positions) == 0:
            return np.zeros((0, self.dim), np.float32)
        out: Matrix = inner.reconstruct_batch(positions)
        return out.reshape(len(positions), self.dim)

    def reconstruct(self, ids: Ids) -> Matrix:
        """The stored vectors of these ids (fp16 indexes give them back rounded)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, self.dim), np.float32)
        if self._table is None:
            out: Matrix = self._index.reconstruct_batch(ids)
            return out.reshape(len(ids), self.dim)
        where = self._table.positions(ids)
        if (where < 0).any():
            raise KeyError(f"ids not held: {ids[where < 0][:5].tolist()}")
        return self._stored(self._index.index, where)

    def all_vectors(self) -> tuple[Ids, Matrix]:
        """Every (id, vector) held, for rebuilding as another kind."""
        if self._table is not None:
            live = self._table.live()
            return id_map(self._index)[live].copy(), self._stored(self._index.index, live)
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
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        k = max(1, min(k, len(self)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(queries) > 1 or not self.search_threads:
            return self._search(queries, k)
        with _omp_threads(self.search_threads):
            return self._search(queries, k)

    def _search(self, queries: Matrix, k: int) -> tuple[Matrix, Ids]:
        if self._table is None:
            scores, ids = self._index.search(queries, k)
            return scores, ids
        probe = faiss.SearchParametersIVF()
        probe.nprobe = self.spec.nprobe
        selector = live_selector(self._index) if self._table.dead else None
        if selector is not None:
            probe.sel = selector  # removed vectors are never returned
        params = faiss.IndexRefineSearchParameters()
        params.k_factor = max(1.0, self.spec.rerank / k)
        params.base_index_params = probe
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def serialize(self) -> npt.NDArray[np.uint8]:
        """The index as bytes (taken under the owner's lock, written to disk outside it)."""
        data: npt.NDArray[np.uint8] = faiss.serialize_index(self._index)
        return data

    @classmethod
    def load(cls, path: Path, dim: int, spec: IndexSpec) -> FaissIndex:
        """Read an index written from `serialize` (qa/store/mapped.py maps one instead)."""
        raw = faiss.read_index(str(path))
        if raw.d != dim:
            raise ValueError(f"{path.name}: dimension {raw.d}, expected {dim}")
        return cls(dim, spec, raw)

    def __len__(self) -> int:
        dead = self._table.dead if self._table is not None else 0
        return int(self._index.ntotal) - dead
