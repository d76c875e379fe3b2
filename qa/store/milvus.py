"""Milvus connection helpers, and a VectorIndex over one Milvus collection.

`connect`, `vector_schema`, `ensure_collection` and `iterate` serve the Milvus catalogue
(qa/store/milvus_catalog.py), where Milvus mode keeps and searches everything. `MilvusIndex`
implements the VectorIndex protocol over a collection it owns (add inserts, remove deletes,
search is Milvus's), keeping the vectors it was given in memory so that `reconstruct` needs no
round trip; Milvus mode's search does not use it (it would hold every vector in the replica).
pymilvus is imported only here and in the Milvus catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from qa.errors import ConfigError
from qa.store.vectors import Ids, IndexSpec, Matrix

BATCH = 1000
MAX_RESULTS = 16384  # Milvus caps limit (and offset + limit) at this
SPEC = IndexSpec(kind="milvus-flat")  # what the manifest records for Milvus-held vectors


def pymilvus_module() -> Any:
    """The pymilvus module, or a ConfigError saying which extra installs it."""
    try:
        import pymilvus
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("the Milvus backend needs pymilvus: pip install 'qa[milvus]'") from exc
    return pymilvus


def connect(uri: str | None, token: str | None = None) -> Any:
    """A MilvusClient for a server URI (http://host:19530) or a milvus-lite file (*.db)."""
    if not uri:
        raise ConfigError("QA_VECTOR_STORE=milvus needs QA_MILVUS_URI (http://host:19530 or *.db)")
    client_class = pymilvus_module().MilvusClient
    try:
        return client_class(uri=uri, token=token or "")
    except Exception as exc:  # pymilvus raises its own tree, and grpc/OS errors
        raise ConfigError(f"cannot connect to Milvus at {uri!r}: {exc}") from exc


def vector_schema(client: Any, pk: str, dim: int, **fields: tuple[str, dict[str, Any]]) -> Any:
    """A collection schema: an int64 or varchar key, extra scalar fields, one float vector."""
    data_type = pymilvus_module().DataType
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if pk in fields:
        kind, extra = fields.pop(pk)
        schema.add_field(pk, getattr(data_type, kind), is_primary=True, **extra)
    else:
        schema.add_field(pk, data_type.INT64, is_primary=True)
    for name, (kind, extra) in fields.items():
        schema.add_field(name, getattr(data_type, kind), **extra)
    schema.add_field("vector", data_type.FLOAT_VECTOR, dim=dim)
    return schema


def ensure_collection(
    client: Any, name: str, schema: Any, index_type: str = "FLAT", sparse: str | None = None
) -> None:
    """Create (inner-product indexes, strong consistency) and load a collection if missing."""
    if not client.has_collection(name):
        params = client.prepare_index_params()
        params.add_index("vector", index_type=index_type, metric_type="IP")
        if sparse is not None:
            params.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        client.create_collection(
            name, schema=schema, index_params=params, consistency_level="Strong"
        )
    client.load_collection(name)


def iterate(
    client: Any, collection: str, filter_: str, fields: list[str]
) -> Iterator[dict[str, Any]]:
    """Every row matching a filter, in batches (plain queries stop at 16384 rows)."""
    iterator = client.query_iterator(
        collection, batch_size=BATCH, filter=filter_, output_fields=fields
    )
    try:
        while batch := iterator.next():
            yield from batch
    finally:
        iterator.close()


def id_list(ids: Iterable[int]) -> str:
    """A Milvus `in` list of integers."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


class MilvusIndex:
    """VectorIndex over a Milvus collection: exact inner product (FLAT) unless told otherwise."""

    def __init__(
        self,
        client: Any,
        collection: str,
        dim: int,
        pk: str = "id",
        index_type: str = "FLAT",
    ) -> None:
        self._client = client
        self._collection = collection
        self._pk = pk
        self.dim = dim
        self.spec = SPEC
        self._vectors: dict[int, Matrix] = {}  # the visible ids and their vectors
        ensure_collection(client, collection, vector_schema(client, pk, dim), index_type)
        for row in iterate(client, collection, "", [pk, "vector"]):
            self._vectors[int(row[pk])] = np.asarray(row["vector"], np.float32)

    def add(self, ids: Ids, vectors: Matrix) -> None:
        if not len(ids):
            return
        matrix = np.asarray(vectors, np.float32).reshape(len(ids), self.dim)
        rows = [{self._pk: int(i), "vector": v.tolist()} for i, v in zip(ids, matrix, strict=True)]
        for start in range(0, len(rows), BATCH):
            self._client.upsert(self._collection, rows[start : start + BATCH])
        for i, v in zip(ids, matrix, strict=True):
            self._vectors[int(i)] = v.copy()

    def remove(self, ids: Ids) -> None:
        known = [int(i) for i in ids if int(i) in self._vectors]
        if not known:
            return
        for start in range(0, len(known), BATCH):
            self._client.delete(self._collection, ids=known[start : start + BATCH])
        for i in known:
            del self._vectors[i]

    def reconstruct(self, ids: Ids) -> Matrix:
        """The vectors of these ids, from memory (KeyError for an id this view does not hold)."""
        if len(ids) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._vectors[int(i)] for i in ids])

    def search(self, queries: Matrix, k: int) -> tuple[Matrix, Ids]:
        n = len(queries)
        k = max(1, min(k, len(self), MAX_RESULTS))
        scores = np.zeros((n, k), np.float32)
        found = np.full((n, k), -1, np.int64)
        if not self._vectors:
            return scores[:, :0], found[:, :0]
        results = self._client.search(
            self._collection,
            data=np.asarray(queries, np.float32).tolist(),
            limit=k,
            output_fields=[self._pk],
            search_params={"metric_type": "IP"},
        )
        for row, hits in enumerate(results):
            kept = [h for h in hits if _hit_id(h, self._pk) in self._vectors][:k]
            for col, hit in enumerate(kept):
                scores[row, col] = float(hit["distance"])
                found[row, col] = _hit_id(hit, self._pk)
        return scores, found

    def __len__(self) -> int:
        return len(self._vectors)


def _hit_id(hit: Any, pk: str) -> int:
    """The key of a search hit (pymilvus names it after the key field, older ones 'id')."""
    value = hit.get(pk, hit.get("id")) if hasattr(hit, "get") else hit.id
    return int(value)
