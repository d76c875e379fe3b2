"""A memory-mapped FAISS index answers like the one written, and takes writes once copied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.store.mapped import MappedIndex
from qa.store.vectors import FaissIndex, IndexSpec

DIM = 16
SPECS = [
    IndexSpec("flat"),
    IndexSpec("flat", fp16=True),
    IndexSpec("ivf", nlist=4, nprobe=4),  # every list probed: results are exact
    IndexSpec("ivf", nlist=4, nprobe=4, fp16=True),
    IndexSpec("ivfpq", nlist=4, nprobe=4, pq_dims=2, rerank=100),  # tombstones for removal
]


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def _written(tmp_path: Path, spec: IndexSpec) -> tuple[FaissIndex, Path]:
    rng = np.random.default_rng(0)
    ids = np.arange(0, 600, 2, dtype=np.int64)
    index = FaissIndex.build(DIM, spec, ids, _unit(rng, len(ids)))
    path = tmp_path / "index.faiss"
    path.write_bytes(index.serialize().tobytes())
    return index, path


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-fp16={s.fp16}")
def test_mapped_index_reads_then_writes_like_the_original(tmp_path: Path, spec: IndexSpec) -> None:
    original, path = _written(tmp_path, spec)
    mapped = MappedIndex.open(path, DIM, spec)
    queries = _unit(np.random.default_rng(1), 5)
    assert len(mapped) == len(original)
    np.testing.assert_array_equal(mapped.search(queries, 10)[1], original.search(queries, 10)[1])
    some = np.array([0, 2, 598], dtype=np.int64)
    np.testing.assert_array_equal(mapped.reconstruct(some), original.reconstruct(some))

    extra_ids = np.array([1001, 1003], dtype=np.int64)
    extra = _unit(np.random.default_rng(2), 2)
    gone = np.array([2, 4, 1001], dtype=np.int64)
    for index in (original, mapped):  # the same writes on both
        index.add(extra_ids, extra)
        index.remove(gone)
    assert not mapped.mapped
    assert len(mapped) == len(original) == 300 + 2 - 3
    np.testing.assert_array_equal(mapped.search(queries, 10)[1], original.search(queries, 10)[1])
    found = mapped.search(extra[1:], 1)[1]
    assert found[0, 0] == 1003

    again = tmp_path / "again.faiss"  # what a later snapshot writes holds the data itself
    again.write_bytes(mapped.serialize().tobytes())
    path.unlink()
    reread = FaissIndex.load(again, DIM, spec)
    np.testing.assert_array_equal(reread.search(queries, 10)[1], original.search(queries, 10)[1])


@pytest.mark.parametrize("spec", SPECS[::2], ids=lambda s: s.kind)
def test_serialising_an_unchanged_mapped_index_copies_its_data(
    tmp_path: Path, spec: IndexSpec
) -> None:
    original, path = _written(tmp_path, spec)
    data = MappedIndex.open(path, DIM, spec).serialize()
    path.unlink()  # a mapped IVF index refers to its file; the copy must not
    other = tmp_path / "copy.faiss"
    other.write_bytes(data.tobytes())
    queries = _unit(np.random.default_rng(3), 3)
    reread = FaissIndex.load(other, DIM, spec)
    np.testing.assert_array_equal(reread.search(queries, 5)[1], original.search(queries, 5)[1])


def test_a_file_of_another_dimension_is_refused(tmp_path: Path) -> None:
    _, path = _written(tmp_path, IndexSpec("flat"))
    with pytest.raises(ValueError, match="dimension"):
        MappedIndex.open(path, DIM * 2, IndexSpec("flat"))
