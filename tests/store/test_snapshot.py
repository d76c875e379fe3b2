"""Snapshots are a cache: a torn one is never served, a stale one is caught up from the log."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from qa.backends import open_pipeline
from qa.domain import Clause, Document, Passage
from qa.embed import Embedder
from qa.pipeline import Pipeline, PipelineOptions
from qa.retrieve.hybrid import HybridIndex
from qa.retrieve.live import LiveIndex
from qa.store.base import StoredPassage
from qa.store.catalog import Catalog
from qa.store.layout import SNAPSHOT_FOLDER as FOLDER
from qa.store.layout import SNAPSHOT_META as META
from qa.store.snapshot import (
    COLUMNS,
    FORMAT,
    SnapshotData,
    read_snapshot,
    write_snapshot,
)
from qa.store.vectors import FaissIndex
from qa.text.query import parse_query


def _docs(n: int, start: int = 0) -> list[Document]:
    return [
        Document(id=f"d{i}", text=f"Station {i} records the river level at gauge number {i}.")
        for i in range(start, start + n)
    ]


def _ids(pipeline: Pipeline) -> set[str]:
    hits = pipeline.search("river level gauge", top_k=50)
    return {h.passage.document_id for h in hits}


def test_stale_snapshot_is_caught_up_from_the_change_log(
    tmp_path: Path, embedder: Embedder
) -> None:
    first = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    first.add_documents(_docs(4))
    first.close()  # snapshot at this generation
    second = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    second.add_documents(_docs(2, start=4))
    second.delete_document("d0")
    second.store.close()  # a crash: no newer snapshot is written
    third = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(third) == {"d1", "d2", "d3", "d4", "d5"}
    third.close()


@pytest.mark.parametrize("victim", ["columns.bin", "dense.faiss", "clauses.faiss"])
def test_torn_snapshot_is_rebuilt_not_served(
    tmp_path: Path, embedder: Embedder, victim: str
) -> None:
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    pipeline.add_documents(_docs(3))
    pipeline.close()
    [snap] = (tmp_path / FOLDER).glob("snap-*")
    data = (snap / victim).read_bytes()
    (snap / victim).write_bytes(data[: len(data) // 2])
    reopened = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(reopened) == {"d0", "d1", "d2"}
    reopened.close()


def test_snapshot_that_disagrees_with_the_catalogue_is_repaired(
    tmp_path: Path, embedder: Embedder
) -> None:
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    pipeline.add_documents(_docs(3))
    pipeline.close()
    # rows vanish without a log entry (e.g. a hand-edited catalogue): the snapshot is now wrong
    import sqlite3

    conn = sqlite3.connect(tmp_path / "catalog.sqlite3")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM documents WHERE id = 'd1'")
    conn.commit()
    conn.close()
    reopened = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(reopened) == {"d0", "d2"}
    reopened.close()


def _snapshot_meta(index_dir: Path) -> tuple[Path, dict[str, object]]:
    [snap] = (index_dir / FOLDER).glob("snap-*")
    return snap, json.loads((snap / META).read_text(encoding="utf-8"))


def test_old_format_snapshot_is_ignored_then_replaced(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    pipeline.add_documents(_docs(3))
    pipeline.close()
    snap, meta = _snapshot_meta(tmp_path)
    # the first format: no version, the passages pickled in state.pickle (checksums still right)
    del meta["format"], meta["columns"]
    files = meta["files"]
    assert isinstance(files, dict)
    (snap / COLUMNS).rename(snap / "state.pickle")
    files["state.pickle"] = files.pop(COLUMNS)
    (snap / META).write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="qa.store"):
        reopened = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert "format 1" in caplog.text
    assert _ids(reopened) == {"d0", "d1", "d2"}
    reopened.close()  # rebuilt from SQLite: a current snapshot replaces the old one
    snap_again, meta_again = _snapshot_meta(tmp_path)
    assert snap_again == snap and meta_again["format"] == FORMAT
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa.store"):
        third = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert "ignoring snapshot" not in caplog.text and "rebuilding" not in caplog.text
    assert _ids(third) == {"d0", "d1", "d2"}
    third.close()


def test_view_loaded_from_snapshot_takes_writes_and_keeps_every_field(
    tmp_path: Path, embedder: Embedder
) -> None:
    odd = Document(
        id="odd 𝄞",
        title="",
        text="Le niveau du fleuve 😀 monte.\n\nمستوى النهر يرتفع عند المحطة.",
        metadata={"lang": "mixed", "tags": ["𝄞", "ü"], "n": 2},
    )
    first = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    first.add_documents([*_docs(3), odd])
    before = {h.passage.id: h.passage for h in first.search("river level", top_k=50)}
    first.close()
    second = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)  # mapped
    after = {h.passage.id: h.passage for h in second.search("river level", top_k=50)}
    assert after == before
    assert {h.passage.document_id for h in second.search("x", filters={"n": 2})} == {odd.id}
    second.add_documents(_docs(2, start=3))  # the first writes after a mapped load
    second.delete_document("d1")
    expected = {"d0", "d2", "d3", "d4", odd.id}
    assert _ids(second) == expected
    second.close()
    third = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(third) == expected
    odd_passages = {p.id: p for p in before.values() if p.document_id == odd.id}
    assert odd_passages
    hits = third.search("fleuve", top_k=50, filters={"document_id": odd.id})
    assert {h.passage.id: h.passage for h in hits} == odd_passages
    third.close()


def test_change_log_is_compacted_and_lagging_readers_reload(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """Each snapshot lets the log drop what every kept snapshot already holds."""
    writer = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    writer.add_documents(_docs(3))
    reader = open_pipeline(
        PipelineOptions(index_dir=tmp_path), embedder=embedder
    )  # another process
    assert _ids(reader) == {"d0", "d1", "d2"}
    assert isinstance(writer.store, Catalog) and isinstance(writer._live, LiveIndex)
    log_before = writer.store.log_size()
    for round_ in range(3):  # three snapshots; two are kept
        writer.add_documents(_docs(2, start=3 + 2 * round_))
        writer.delete_document(f"d{round_}")
        writer._live.save_snapshot()
    assert log_before == 3
    assert writer.store.log_size() <= 4  # of 12 rows, those the older kept snapshot holds go
    expected = {"d3", "d4", "d5", "d6", "d7", "d8"}
    assert _ids(writer) == expected
    # The reader's view predates the cut: it cannot catch up row by row, so it reloads.
    assert _ids(reader) == expected
    reader.store.close()
    writer.close()
    reopened = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert _ids(reopened) == expected
    reopened.add_documents(_docs(1, start=20))
    assert _ids(reopened) == expected | {"d20"}
    reopened.close()


def test_emptied_index_with_a_compacted_log_reopens_without_snapshots(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """A rebuild from SQLite of an empty catalogue still knows its generation."""
    import shutil

    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert isinstance(pipeline._live, LiveIndex)
    pipeline.add_documents(_docs(3))
    pipeline._live.save_snapshot()
    for i in range(3):
        pipeline.delete_document(f"d{i}")
    pipeline._live.save_snapshot()  # compacts the log past its first rows
    pipeline.close()
    shutil.rmtree(tmp_path / FOLDER)
    reopened = open_pipeline(PipelineOptions(index_dir=tmp_path), embedder=embedder)
    assert not reopened.ready
    reopened.add_documents(_docs(1, start=7))
    assert _ids(reopened) == {"d7"}
    reopened.close()


def _stored(rid: int, rng: np.random.Generator) -> StoredPassage:
    vectors = rng.standard_normal((3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    text = f"Gauge {rid} on the river. Level rising."
    passage = Passage(
        f"p{rid}", f"d{rid}", text, "", 0, len(text), {}, (Clause(0, 19), Clause(20, 33))
    )
    return StoredPassage(rid, passage, vectors[0], vectors[1:])


def test_searches_go_on_while_a_snapshot_is_taken_and_writes_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    view = HybridIndex(8)
    view.apply((), [_stored(rid, rng) for rid in range(1, 30)], generation=1)
    view.apply([3], [_stored(40, rng)], generation=2)  # an overlay for the snapshot to fold in
    serialising, release = threading.Event(), threading.Event()
    serialise = FaissIndex.serialize

    def slow_serialise(index: FaissIndex) -> np.ndarray:
        serialising.set()
        assert release.wait(10)
        return serialise(index)

    monkeypatch.setattr(FaissIndex, "serialize", slow_serialise)
    taken: list[SnapshotData] = []
    snapshot = threading.Thread(target=lambda: taken.append(view.snapshot()))
    snapshot.start()
    assert serialising.wait(10)
    found: list[str] = []
    question = rng.standard_normal(8).astype(np.float32)
    search = threading.Thread(
        target=lambda: found.extend(
            c.passage.id for c in view.search(parse_query("gauge river", question), 5).candidates
        )
    )
    search.start()
    search.join(10)
    assert not search.is_alive() and len(found) == 5  # answered mid-snapshot
    writing = threading.Event()

    def write_one() -> None:
        writing.set()
        view.apply([4], [_stored(41, rng)], generation=3)

    write = threading.Thread(target=write_one)
    write.start()
    assert writing.wait(10)  # the write has begun...
    write.join(0.3)
    assert write.is_alive()  # ...and waits for the snapshot: it must hold one generation
    release.set()
    snapshot.join(10)
    write.join(10)
    [data] = taken
    assert data.generation == 2
    write_snapshot(tmp_path, data, "catalogue")
    snapshot_read = read_snapshot(tmp_path, "catalogue", 10)
    assert snapshot_read is not None
    restored = HybridIndex.restore(8, snapshot_read)
    assert restored.rids() == set(range(1, 30)) - {3} | {40}
    assert view.rids() == set(range(1, 30)) - {3, 4} | {40, 41}
