"""IVF-PQ with tombstones (the large-corpus kind): removal, re-adding, snapshots and recall.

Fast-scan PQ lists cannot delete, so removal writes tombstones into the id map; these tests
check that a removed id never comes back from search or reconstruct, that an id can be
re-added with a new vector, that tombstones survive serialization, that the index compacts
itself once a quarter is removed, and that recall@10 against exact search stays high.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from qa.store.vectors import FaissIndex, IndexSpec, choose_spec

DIM = 32
SPEC = IndexSpec("ivfpq", nlist=32, nprobe=8, pq_dims=2, rerank=100)


def _clustered(n: int, dim: int = DIM, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few dozen centres, as embeddings of related texts are."""
    centres = np.random.default_rng(dim).standard_normal((clusters, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    unit: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def _returned(index: FaissIndex, queries: np.ndarray, k: int) -> set[int]:
    _, found = index.search(queries, k)
    return {int(i) for i in found.ravel() if i >= 0}


@pytest.fixture
def built() -> tuple[FaissIndex, np.ndarray, np.ndarray]:
    vectors = _clustered(3000)
    ids = np.arange(3000, dtype=np.int64) * 4096 + 1
    return FaissIndex.build(DIM, SPEC, ids, vectors), ids, vectors


def test_removed_ids_never_come_back(built: tuple[FaissIndex, np.ndarray, np.ndarray]) -> None:
    index, ids, vectors = built
    gone = ids[::5]  # 20%: below the compaction share, so these stay as tombstones
    index.remove(gone)
    assert len(index) == 3000 - len(gone)
    # querying with the removed vectors themselves: their own ids would be the best hits
    assert not _returned(index, vectors[::5], 50) & set(gone.tolist())
    with pytest.raises(KeyError):
        index.reconstruct(gone[:1])
    held, _ = index.all_vectors()
    assert sorted(held.tolist()) == sorted(set(ids.tolist()) - set(gone.tolist()))


def test_unknown_ids_are_ignored_and_negative_ids_refused(
    built: tuple[FaissIndex, np.ndarray, np.ndarray],
) -> None:
    index, ids, vectors = built
    index.remove(np.array([2, 5, 7], dtype=np.int64))  # never added
    index.remove(ids[:1])
    index.remove(ids[:1])  # twice
    assert len(index) == 2999
    with pytest.raises(ValueError, match="ids must be >= 0"):
        index.add(np.array([-5], dtype=np.int64), vectors[:1])


def test_an_id_can_be_re_added_with_a_new_vector(
    built: tuple[FaissIndex, np.ndarray, np.ndarray],
) -> None:
    index, ids, vectors = built
    index.remove(ids[:10])
    fresh = _clustered(10, seed=9)
    index.add(ids[:10], fresh)
    assert len(index) == 3000
    np.testing.assert_allclose(index.reconstruct(ids[:10]), fresh, atol=1e-6)
    _, top = index.search(fresh, 1)
    assert top[:, 0].tolist() == ids[:10].tolist()
    _, near_old = index.search(vectors[:10], 3000)
    for row in near_old:
        row = row[row >= 0]  # -1 pads what the probed lists did not fill
        assert len(set(row.tolist())) == len(row), "an id came back twice"


def test_tombstones_survive_serialization(
    built: tuple[FaissIndex, np.ndarray, np.ndarray],
) -> None:
    index, ids, vectors = built
    index.remove(ids[:400])
    copy = FaissIndex(DIM, SPEC, faiss.deserialize_index(index.serialize()))
    assert len(copy) == 2600
    assert not _returned(copy, vectors[:400], 20) & set(ids[:400].tolist())
    np.testing.assert_allclose(copy.reconstruct(ids[500:505]), vectors[500:505], atol=1e-6)
    copy.add(ids[:5], vectors[:5])  # the copy keeps working as a live index
    assert _returned(copy, vectors[:5], 1) == set(ids[:5].tolist())


def test_compacts_once_a_quarter_is_removed(
    built: tuple[FaissIndex, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FaissIndex, "exact_limit", 1000)  # what is left is still "large"
    index, ids, vectors = built
    before = len(index.serialize())
    index.remove(ids[:1200])
    assert len(index) == 1800
    assert index.spec.kind == "ivfpq" and index.spec == choose_spec(1800, exact_limit=1000)
    assert len(index.serialize()) < 0.75 * before, "removed vectors still take space"
    assert not _returned(index, vectors[:1200], 20) & set(ids[:1200].tolist())
    np.testing.assert_allclose(index.reconstruct(ids[2000:2003]), vectors[2000:2003], atol=1e-6)
    index.remove(ids[1200:1300])  # tombstones again in the rebuilt index
    assert len(index) == 1700
    assert not _returned(index, vectors[1200:1300], 20) & set(ids[:1300].tolist())


def test_compaction_turns_exact_once_few_are_left(
    built: tuple[FaissIndex, np.ndarray, np.ndarray],
) -> None:
    index, ids, vectors = built  # the default exact limit is far above 3000
    index.remove(ids[:2990])
    assert index.spec.kind == "flat" and len(index) == 10
    _, found = index.search(vectors[2990:], 1)
    assert found[:, 0].tolist() == ids[2990:].tolist()
    index.remove(ids[2990:])
    assert len(index) == 0 and index.search(vectors[:1], 5)[1].size == 0
    index.add(ids[:3], vectors[:3])
    assert _returned(index, vectors[:3], 1) == set(ids[:3].tolist())


def test_random_edits_agree_with_a_model() -> None:
    rng = np.random.default_rng(3)
    vectors = _clustered(4000, seed=4)
    index = FaissIndex.build(DIM, SPEC, np.arange(1000, dtype=np.int64), vectors[:1000])
    model = {i: vectors[i] for i in range(1000)}
    for step in range(30):
        if step % 2:
            gone = rng.choice(sorted(model), 60, replace=False)
            index.remove(gone.astype(np.int64))
            for key in gone.tolist():
                del model[key]
        else:
            keys = rng.choice(2000, 80, replace=False)  # some new, some held, some removed
            keys = np.array([k for k in keys.tolist() if k not in model], dtype=np.int64)
            rows = rng.choice(4000, len(keys), replace=False)
            index.add(keys, vectors[rows])
            model.update(zip(keys.tolist(), vectors[rows], strict=True))
        assert len(index) == len(model)
        assert _returned(index, vectors[rng.choice(4000, 20)], 50) <= set(model)
        sample = np.array(rng.choice(sorted(model), 20, replace=False), dtype=np.int64)
        expected = np.stack([model[k] for k in sample.tolist()])
        np.testing.assert_allclose(index.reconstruct(sample), expected, atol=1e-6)


@pytest.mark.parametrize("fp16", [False, True], ids=["passages", "clauses-fp16"])
def test_recall_at_10_against_exact_search(fp16: bool) -> None:
    vectors = _clustered(6000, dim=64, clusters=60, seed=1)
    queries = _clustered(200, dim=64, clusters=60, seed=2)  # same centres, other draws
    ids = np.arange(6000, dtype=np.int64) * 7
    spec = choose_spec(6000, fp16=fp16, exact_limit=1000)  # force the large-corpus kind
    assert spec.kind == "ivfpq"
    index = FaissIndex.build(64, spec, ids, vectors)
    exact = FaissIndex.build(64, IndexSpec(), ids, vectors)
    _, truth = exact.search(queries, 10)
    _, found = index.search(queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.9, f"recall@10 {recall:.3f}"
