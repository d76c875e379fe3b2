"""The same behaviour on both vector stores: embedded FAISS + SQLite, and Milvus (milvus-lite).

milvus-lite runs a real Milvus engine in-process from a local *.db file; one engine serves the
whole module and each test gets its own collection prefix.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.backends import open_pipeline
from qa.domain import Document
from qa.embed import Embedder
from qa.errors import IndexMismatchError, NotFoundError
from qa.pipeline import Pipeline, PipelineOptions
from qa.store.manifest import Manifest
from qa.store.milvus import MilvusIndex
from qa.store.vectors import FaissIndex
from qa.text.chunk import ChunkingConfig, chunk_document

BACKENDS = ["faiss", "milvus"]
_prefixes = itertools.count()

KIWI = Document(
    id="kiwi",
    title="Kiwi",
    text="The kiwi is a flightless bird native to New Zealand. It lays very large eggs.",
    metadata={"topic": "birds"},
)
VOLCANO = Document(
    id="volcano",
    title="Etna",
    text="Mount Etna is an active stratovolcano on the east coast of Sicily.\n\n"
    "Its eruptions have been recorded since 1500 BC.",
)


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One milvus-lite engine for the module (starting one takes seconds)."""
    pytest.importorskip("milvus_lite", reason="milvus-lite is part of the test extra")
    return str(tmp_path_factory.mktemp("milvus") / "milvus.db")


@pytest.fixture
def make_options(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], PipelineOptions]:
    """Options for one store shared by every pipeline the test opens (replicas, restarts)."""
    backend = request.param
    prefix = f"t{next(_prefixes)}_{int(time.time())}"
    uri = request.getfixturevalue("milvus_uri") if backend == "milvus" else None

    def make() -> PipelineOptions:
        return PipelineOptions(
            index_dir=tmp_path / "index",
            vector_store=backend,
            milvus_uri=uri,
            milvus_collection=prefix,
        )

    return make


@pytest.fixture
def pipeline(make_options: Callable[[], PipelineOptions], embedder: Embedder) -> Iterator[Pipeline]:
    p = open_pipeline(make_options(), embedder=embedder)
    yield p
    p.close()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """True once check() holds (replicas notice each other's writes within a poll interval)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


parametrised = pytest.mark.parametrize("make_options", BACKENDS, indirect=True)


@parametrised
def test_add_search_and_ask(pipeline: Pipeline) -> None:
    pipeline.add_documents([KIWI, VOLCANO])
    assert pipeline.stats()["documents"] == 2
    hits = pipeline.search("Which bird cannot fly?", top_k=2)
    assert hits[0].passage.document_id == "kiwi"
    result = pipeline.ask("Where is Mount Etna?")
    assert result.hits[0].passage.document_id == "volcano"
    assert result.answer is not None and "Sicily" in result.answer.text
    filtered = pipeline.search("bird", top_k=5, filters={"document_id": "volcano"})
    assert {h.passage.document_id for h in filtered} == {"volcano"}
    assert [d.id for d in pipeline.list_documents()] == ["kiwi", "volcano"]


@parametrised
def test_replace_leaves_no_old_passage(
    pipeline: Pipeline, make_options: Callable[[], PipelineOptions], embedder: Embedder
) -> None:
    pipeline.add_documents([KIWI, VOLCANO])
    replacement = Document(id="kiwi", text="Kiwifruit is an edible berry grown in Italy and Chile.")
    [result] = pipeline.add_documents([replacement])
    assert result.replaced
    for p in (pipeline, open_pipeline(make_options(), embedder=embedder)):
        texts = [h.passage.text for h in p.search("kiwi flightless bird eggs", top_k=10)]
        assert KIWI.text.split(".")[0] not in " ".join(texts)
        assert texts.count(replacement.text) == 1
        counts = {d.id: d.passages for d in p.list_documents()}
        assert counts["kiwi"] == 1 and p.stats()["passages"] == sum(counts.values())
        assert p.get_document("kiwi")[1] == replacement.text


@parametrised
def test_a_documents_stored_passages_come_back_with_their_vectors(pipeline: Pipeline) -> None:
    pipeline.add_documents([KIWI, VOLCANO])
    stored = pipeline.store.passages_of("volcano")
    assert [s.passage.text for s in stored] == [
        VOLCANO.text.split("\n\n")[0],
        VOLCANO.text.split("\n\n")[1],
    ]
    for s in stored:
        assert s.vector.shape == (pipeline.embedder.dim,)
        assert s.clause_vectors.shape == (len(s.passage.clauses), pipeline.embedder.dim)
        assert np.allclose(
            s.vector,
            pipeline.embedder.embed_passages([s.passage.title + "\n" + s.passage.text])[0],
            atol=0.02,
        )
    assert pipeline.store.passages_of("no-such-document") == []


@parametrised
def test_a_passage_is_fetched_by_the_id_search_returns(pipeline: Pipeline) -> None:
    pipeline.add_documents([KIWI, VOLCANO])
    [hit] = pipeline.search("When did Etna's eruptions start being recorded?", top_k=1)
    fetched = pipeline.get_passage(hit.passage.id)
    assert fetched == hit.passage and fetched.text == VOLCANO.text.split("\n\n")[1]
    with pytest.raises(NotFoundError, match="no passage"):
        pipeline.get_passage("p_000000000000_0000")
    pipeline.delete_document("volcano")
    with pytest.raises(NotFoundError):
        pipeline.get_passage(hit.passage.id)


@parametrised
def test_deleted_passages_never_come_back(
    pipeline: Pipeline, make_options: Callable[[], PipelineOptions], embedder: Embedder
) -> None:
    pipeline.add_documents([KIWI, VOLCANO])
    pipeline.delete_document("kiwi")
    with pytest.raises(NotFoundError):
        pipeline.delete_document("kiwi")
    reopened = open_pipeline(make_options(), embedder=embedder)
    for p in (pipeline, reopened):
        for query in ("flightless bird New Zealand", "large eggs", "kiwi"):
            assert all(h.passage.document_id != "kiwi" for h in p.search(query, top_k=10))
        with pytest.raises(NotFoundError):
            p.get_document("kiwi")
        assert p.stats()["documents"] == 1
    reopened.close()


@parametrised
def test_a_second_replica_sees_writes(
    pipeline: Pipeline, make_options: Callable[[], PipelineOptions], embedder: Embedder
) -> None:
    pipeline.add_documents([VOLCANO])
    replica = open_pipeline(make_options(), embedder=embedder)
    assert replica.search("Sicily volcano", top_k=1)[0].passage.document_id == "volcano"
    pipeline.add_documents([KIWI])

    def sees_kiwi() -> bool:
        return replica.search("flightless bird", top_k=1)[0].passage.document_id == "kiwi"

    assert eventually(sees_kiwi)
    pipeline.delete_document("volcano")
    assert eventually(lambda: replica.stats()["documents"] == 1)
    assert eventually(
        lambda: all(h.passage.document_id != "volcano" for h in replica.search("Etna", top_k=5))
    )
    replica.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_documents_round_trip(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from qa.store.base import NewPassage
    from qa.store.catalog import Catalog

    paragraph = "نص عربي طويل عن تاريخ المدينة والأسواق القديمة فيها. " * 40
    text = "\n\n".join(f"{n}: {paragraph}" for n in range(25))  # ~70k characters, 4+ parts
    if backend == "faiss":
        catalog: Any = Catalog(tmp_path / "c.sqlite3", 4)
    else:
        from qa.store.milvus_catalog import MilvusCatalog

        uri = request.getfixturevalue("milvus_uri")
        catalog = MilvusCatalog(uri, f"long{next(_prefixes)}_{int(time.time())}", 4)
    document = Document(id="long", text=text, title="T", metadata={"k": "v"})
    [passage] = chunk_document(
        Document(id="long", text=paragraph), lambda t: len(t.split()), ChunkingConfig(1000)
    )
    vectors = np.eye(4, dtype=np.float32)
    clause_vectors = np.tile(vectors[1], (len(passage.clauses), 1))
    removed, added = catalog.upsert(document, [NewPassage(passage, vectors[0], clause_vectors)])
    assert removed == [] and len(added) == 1
    info, stored = catalog.document("long")
    assert stored == text
    assert (info.chars, info.metadata, info.title, info.passages) == (len(text), {"k": "v"}, "T", 1)
    [back] = catalog.passages(added)
    assert back.passage == passage
    assert np.array_equal(back.vector, vectors[0])
    assert np.array_equal(back.clause_vectors, clause_vectors)
    shorter = Document(id="long", text="short now")
    removed, _ = catalog.upsert(shorter, [NewPassage(passage, vectors[2], clause_vectors)])
    assert removed == added
    assert catalog.document("long")[1] == "short now"
    assert catalog.count() == (1, 1)
    catalog.close()


# --------------------------------------------------------------------- the VectorIndex protocol
@pytest.fixture(params=BACKENDS)
def vector_index(request: pytest.FixtureRequest) -> FaissIndex | MilvusIndex:
    if request.param == "faiss":
        return FaissIndex(4)
    from qa.store.milvus import connect

    client = connect(request.getfixturevalue("milvus_uri"))
    return MilvusIndex(client, f"v{next(_prefixes)}_{int(time.time())}", 4)


def test_vector_index_add_search_replace_remove(vector_index: FaissIndex | MilvusIndex) -> None:
    eye = np.eye(4, dtype=np.float32)
    vector_index.add(np.array([10, 11, 12], np.int64), eye[:3])
    assert len(vector_index) == 3
    back = vector_index.reconstruct(np.array([12, 10], np.int64))  # read back for re-scoring
    np.testing.assert_allclose(back, eye[[2, 0]])
    scores, ids = vector_index.search(eye[1:2], 2)
    assert ids[0, 0] == 11 and scores[0, 0] == pytest.approx(1.0)
    vector_index.remove(np.array([11], np.int64))
    vector_index.add(np.array([13], np.int64), eye[1:2])  # the same vector under a new id
    _, ids = vector_index.search(eye[1:2], 3)
    assert ids[0, 0] == 13 and 11 not in ids[0]
    vector_index.remove(np.array([10, 12, 13, 999], np.int64))
    assert len(vector_index) == 0
    _, ids = vector_index.search(eye[:1], 3)
    assert not (ids >= 0).any()


def test_milvus_replica_keeps_nothing_on_disk(
    milvus_uri: str, tmp_path: Path, embedder: Embedder
) -> None:
    options = PipelineOptions(
        index_dir=tmp_path / "index",
        vector_store="milvus",
        milvus_uri=milvus_uri,
        milvus_collection=f"disk{next(_prefixes)}",
    )
    pipeline = open_pipeline(options, embedder=embedder)
    pipeline.add_documents([KIWI])
    assert pipeline.stats()["manifest"].vector_index["passages"]["kind"] == "milvus-flat"
    pipeline.close()
    assert not options.index_dir.exists()  # no SQLite, change log, snapshot or manifest


def test_milvus_refuses_an_index_built_with_another_model(milvus_uri: str) -> None:
    from qa.store.base import CLAUSE_SLOTS
    from qa.store.milvus_catalog import open_milvus

    assert CLAUSE_SLOTS == CLAUSE_SLOTS
    built = Manifest(embedder="model-a", dimension=4, normalizer="n1", chunking={})
    open_milvus(milvus_uri, "mismatch", built).close()
    other = Manifest(embedder="model-b", dimension=4, normalizer="n1", chunking={})
    with pytest.raises(IndexMismatchError):
        open_milvus(milvus_uri, "mismatch", other)


def test_settings_select_the_milvus_store(
    monkeypatch: pytest.MonkeyPatch, embedder: Embedder
) -> None:
    from pydantic import ValidationError

    from qa.config import Settings
    from qa.errors import ConfigError
    from qa.wiring import options_from_settings

    monkeypatch.setenv("QA_VECTOR_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", "/data/milvus.db")
    monkeypatch.setenv("QA_MILVUS_COLLECTION", "news")
    options = options_from_settings(Settings())
    assert (options.vector_store, options.milvus_uri, options.milvus_collection) == (
        "milvus",
        "/data/milvus.db",
        "news",
    )
    monkeypatch.setenv("QA_VECTOR_STORE", "elastic")
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ConfigError, match="QA_MILVUS_URI"):
        open_pipeline(
            PipelineOptions(index_dir=Path("unused"), vector_store="milvus"), embedder=embedder
        )
