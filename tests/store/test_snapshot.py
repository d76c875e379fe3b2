"""Snapshots are a cache: a torn one is never served, a stale one is caught up from the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.domain import Document
from qa.pipeline import Pipeline, PipelineOptions
from qa.store.snapshot import FOLDER


def _docs(n: int, start: int = 0) -> list[Document]:
    return [
        Document(id=f"d{i}", text=f"Station {i} records the river level at gauge number {i}.")
        for i in range(start, start + n)
    ]


def _ids(pipeline: Pipeline) -> set[str]:
    hits = pipeline.search("river level gauge", top_k=50)
    return {h.passage.document_id for h in hits}


def test_stale_snapshot_is_caught_up_from_the_change_log(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    first = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    first.add_documents(_docs(4))
    first.close()  # snapshot at this generation
    second = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    second.add_documents(_docs(2, start=4))
    second.delete_document("d0")
    second.catalog.close()  # a crash: no newer snapshot is written
    third = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(third) == {"d1", "d2", "d3", "d4", "d5"}
    third.close()


@pytest.mark.parametrize("victim", ["state.pickle", "dense.faiss", "clauses.faiss"])
def test_torn_snapshot_is_rebuilt_not_served(tmp_path: Path, embedder, victim: str) -> None:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    pipeline.add_documents(_docs(3))
    pipeline.close()
    [snap] = (tmp_path / FOLDER).glob("snap-*")
    data = (snap / victim).read_bytes()
    (snap / victim).write_bytes(data[: len(data) // 2])
    reopened = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(reopened) == {"d0", "d1", "d2"}
    reopened.close()


def test_snapshot_that_disagrees_with_the_catalogue_is_repaired(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    pipeline.add_documents(_docs(3))
    pipeline.close()
    # rows vanish without a log entry (e.g. a hand-edited catalogue): the snapshot is now wrong
    import sqlite3

    conn = sqlite3.connect(tmp_path / "catalog.sqlite3")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM documents WHERE id = 'd1'")
    conn.commit()
    conn.close()
    reopened = Pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(reopened) == {"d0", "d2"}
    reopened.close()
