"""The FAISS index kinds: exact below the threshold, IVF-PQ above; ids stable across removals."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from qa.store.vectors import EXACT_LIMIT, FaissIndex, IndexSpec, choose_spec


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    unit: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def test_kind_follows_the_corpus_size() -> None:
    assert choose_spec(EXACT_LIMIT - 1).kind == "flat"
    big = choose_spec(1_000_000)
    assert big.kind == "ivfpq" and big.nlist == 2048 and 0 < big.nprobe <= big.nlist
    assert big.pq_dims > 0 and big.rerank >= 10
    assert IndexSpec(**big.as_dict()) == big  # the manifest form reads back as the same spec
    clauses = choose_spec(5_000_000, fp16=True)  # the clause index: probed more cheaply
    assert clauses.kind == "ivfpq" and clauses.fp16
    assert clauses.nprobe / clauses.nlist < big.nprobe / big.nlist


@pytest.mark.parametrize(
    "spec",
    [
        IndexSpec(),
        IndexSpec(fp16=True),
        IndexSpec("ivf", 16, 16),
        IndexSpec("ivf", 16, 16, True),
        IndexSpec("ivfpq", 16, 16, pq_dims=2, rerank=100),
        IndexSpec("ivfpq", 16, 16, True, pq_dims=4, rerank=100),
    ],
    ids=["flat", "flat-fp16", "ivf", "ivf-fp16", "ivfpq", "ivfpq-fp16"],
)
def test_add_remove_reconstruct_and_serialise(spec: IndexSpec) -> None:
    vectors = _unit(2000)
    ids = np.arange(2000, dtype=np.int64) * 4096 + 3  # sparse ids, as clause ids are
    index = FaissIndex.build(32, spec, ids, vectors)
    index.remove(ids[:500])
    assert len(index) == 1500
    _, found = index.search(vectors[:500], 5)
    assert not set(found.ravel()) & set(ids[:500].tolist()), "a removed id came back"
    np.testing.assert_allclose(index.reconstruct(ids[600:603]), vectors[600:603], atol=1e-3)
    # nprobe = nlist makes IVF exact (IVF-PQ: after re-ranking), so a held vector finds itself
    _, top = index.search(vectors[700:710], 1)
    assert top[:, 0].tolist() == ids[700:710].tolist()
    copy = FaissIndex(32, spec, faiss.deserialize_index(index.serialize()))
    held, _ = copy.all_vectors()
    assert sorted(held.tolist()) == sorted(ids[500:].tolist())
    np.testing.assert_allclose(copy.reconstruct(ids[900:901]), vectors[900:901], atol=1e-3)
