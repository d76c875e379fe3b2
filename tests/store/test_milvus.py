"""Milvus mode's own behaviour: BM25 as sparse vectors, filters, and replicas on a Milvus server.

The server tests start milvus-lite's gRPC server (`milvus-lite server`) so that replicas in
other processes share it, as they share a Milvus cluster; they use the hashed fake embedder
(plumbing, not quality).
"""

from __future__ import annotations

import math
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.backends import open_pipeline
from qa.errors import IndexNotReadyError
from qa.pipeline import Pipeline, PipelineOptions
from qa.retrieve import lexical
from qa.retrieve.lexical import LexicalIndex
from qa.store import milvus_lexical
from qa.store.milvus_catalog import MilvusCatalog, filter_expression
from qa.store.milvus_lexical import (
    frequency_changes,
    passage_weights,
    query_weights,
    term_dimension,
)
from qa.text.normalize import tokens
from tests.store.hashed_embedder import HashedEmbedder

ROOT = Path(__file__).resolve().parents[2]
REPLICA = Path(__file__).with_name("milvus_replica.py")

CORPORA = {
    "arabic": [
        "ذهب الطالب إلى المكتبة لقراءة الكتب القديمة",
        "المكتبة الوطنية تحفظ المخطوطات والكتب النادرة",
        "يلعب الأطفال كرة القدم في الحديقة",
        "الكتاب المدرسي الجديد في المكتبة",
    ],
    "english": [
        "The kiwi is a flightless bird native to New Zealand",
        "Birds of New Zealand include the kiwi and the kea",
        "Mount Etna is an active volcano on Sicily",
        "The volcano erupted and the birds flew away",
    ],
    "mixed": [
        "Python برمجة لغة سهلة التعلم",
        "تعلم البرمجة with Python and Rust",
        "Rust لغة سريعة وآمنة",
        "الشاي الأخضر drink",
    ],
}
QUERIES = {
    "arabic": ["كتب المكتبة", "الأطفال يلعبون", "المكتبة المكتبة النادرة"],
    "english": ["kiwi bird", "volcano Sicily birds", "New Zealand kiwi kiwi"],
    "mixed": ["Python البرمجة", "لغة Rust", "green tea الشاي"],
}


@pytest.mark.parametrize("corpus", CORPORA)
def test_sparse_bm25_scores_equal_the_embedded_bm25(corpus: str) -> None:
    texts = CORPORA[corpus]
    index = LexicalIndex()
    for rid, text in enumerate(texts):
        index.add(rid, tokens(text))
    mean = sum(len(tokens(t)) for t in texts) / len(texts)
    stored = [passage_weights(tokens(t), mean) for t in texts]
    df = index.document_frequency
    for query in QUERIES[corpus]:
        q = query_weights(tokens(query), {t: df.get(t, 0) for t in tokens(query)}, len(texts))
        expected = index.scores(tokens(query))
        assert expected, query
        for rid, weights in enumerate(stored):
            got = sum(w * weights.get(dim, 0.0) for dim, w in q.items())
            assert got == pytest.approx(expected.get(rid, 0.0), abs=1e-9), (query, rid)


def test_bm25_parameters_are_the_embedded_stores() -> None:
    assert (milvus_lexical.K1, milvus_lexical.B) == (lexical.K1, lexical.B)


@pytest.mark.parametrize(
    ("term", "dimension"),
    [("كتاب", 3720035580), ("kiwi", 772110313)],
)
def test_term_dimensions_never_change(term: str, dimension: int) -> None:
    # stored sparse vectors depend on these: a new hash would need every index rebuilt
    assert term_dimension(term) == dimension


def test_terms_only_the_corpus_lacks_get_no_query_weight() -> None:
    weights = query_weights(["kiwi", "kiwi", "moa"], {"kiwi": 2, "moa": 0}, 10)
    assert list(weights) == [term_dimension("kiwi")]
    assert weights[term_dimension("kiwi")] == pytest.approx(2 * math.log(1 + 8.5 / 2.5))


def test_frequency_changes_count_passages_not_occurrences() -> None:
    a, b, c = (term_dimension(t) for t in ("a", "b", "c"))
    added = [{a: 0.5, b: 0.2}, {a: 0.7}]
    removed = [{a: 0.1, c: 0.3}]
    assert frequency_changes(added, removed) == {a: 1, b: 1, c: -1}


@pytest.mark.parametrize(
    ("filters", "expression"),
    [
        (None, ""),
        ({"document_id": "kiwi"}, 'document_id == "kiwi"'),
        ({"topic": "طيور"}, 'metadata["topic"] == "طيور"'),
        (
            {"document_id": 'a"b', "year": 1999, "open": True},
            'document_id == "a\\"b" and metadata["year"] == 1999 and metadata["open"] == true',
        ),
    ],
)
def test_filters_become_milvus_expressions(filters: dict[str, Any] | None, expression: str) -> None:
    assert filter_expression(filters) == expression


# --------------------------------------------------------------------- a Milvus server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """milvus-lite's gRPC server in its own process, as replicas see a Milvus cluster."""
    pytest.importorskip("milvus_lite", reason="milvus-lite is part of the test extra")
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus-server")
    log = (data / "server.log").open("wb")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data / "db")),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(
                    f"milvus-lite server did not start: {(data / 'server.log').read_text()}"
                )
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(30)
    log.close()


_prefixes = iter(range(10**6))


def _replica(uri: str, prefix: str) -> Pipeline:
    options = PipelineOptions(
        index_dir=Path("unused-index"),
        vector_store="milvus",
        milvus_uri=uri,
        milvus_collection=prefix,
    )
    return open_pipeline(options, embedder=HashedEmbedder(64))


class ReplicaProcess:
    """tests/store/milvus_replica.py in its own process."""

    def __init__(self, uri: str, prefix: str, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(REPLICA), uri, prefix, mode],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for(self, line: str, seconds: float = 120) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.proc.stdout.readline()
            if got.strip() == line:
                return
            if not got and self.proc.poll() is not None:
                break
        self.proc.kill()
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        pytest.fail(f"the replica never printed {line!r}: {stderr[-3000:]}")

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup, no atexit
        self.proc.wait(30)


def _assert_whole(replica: Pipeline) -> int:
    """The document is one of its versions, whole, and only once; which one."""
    info, text = replica.get_document("ledger")
    [which] = [n for n in (0, 1) if f"Version {n} paragraph 0 " in text]
    assert text.count("Version") == 40 and f"Version {1 - which}" not in text
    assert info.title == f"Ledger v{which}"
    stored = replica.store.passages_of("ledger")
    assert len(stored) == info.passages > 0
    assert all(f"Version {which} " in s.passage.text for s in stored)
    hits = replica.search("harbour ships paragraph Version", top_k=50)
    ledger = [h.passage for h in hits if h.passage.document_id == "ledger"]
    assert ledger and all(f"Version {which} " in p.text for p in ledger)
    assert len({p.id for p in ledger}) == len(ledger)  # no passage twice
    return which


def _rows_of(replica: Pipeline, document_id: str) -> int:
    store = replica.store
    assert isinstance(store, MilvusCatalog)
    client = store._client
    rows = client.query(
        store.passages_name,
        filter=f'document_id == "{document_id}"',
        output_fields=["count(*)"],
    )
    return int(rows[0]["count(*)"])


@pytest.mark.integration
def test_a_replica_in_another_process_sees_writes_at_once(milvus_server: str) -> None:
    prefix = f"seen{next(_prefixes)}_{int(time.time())}"
    writer = ReplicaProcess(milvus_server, prefix, "idle")
    try:
        writer.wait_for("ready")
        reader = _replica(milvus_server, prefix)
        assert _assert_whole(reader) == 0  # written by the other process, nothing reloaded
        reader.delete_document("ledger")
        assert reader.stats()["documents"] == 0
        with pytest.raises(IndexNotReadyError):  # as the embedded store says when empty
            reader.search("harbour ships", top_k=5)
        reader.close()
    finally:
        writer.kill()


@pytest.mark.integration
@pytest.mark.parametrize(("mode", "expected"), [("before-flip", 0), ("after-flip", 1)])
def test_a_replica_killed_inside_a_replace_leaves_one_whole_version(
    milvus_server: str, mode: str, expected: int
) -> None:
    prefix = f"kill{next(_prefixes)}_{int(time.time())}"
    writer = ReplicaProcess(milvus_server, prefix, mode)
    writer.wait_for("paused")
    writer.kill()
    replica = _replica(milvus_server, prefix)
    assert _rows_of(replica, "ledger") > replica.get_document("ledger")[0].passages  # leftovers
    assert _assert_whole(replica) == expected
    from tests.store.milvus_replica import version

    replica.add_documents([version(1 - expected)])  # the next write sweeps the leftovers
    assert _assert_whole(replica) == 1 - expected
    assert _rows_of(replica, "ledger") == replica.get_document("ledger")[0].passages
    replica.close()


@pytest.mark.integration
def test_a_replica_killed_at_random_moments_never_leaves_half_a_document(
    milvus_server: str,
) -> None:
    prefix = f"random{next(_prefixes)}_{int(time.time())}"
    delays = random.Random(13).sample([x / 10 for x in range(2, 30)], 3)
    for delay in delays:
        writer = ReplicaProcess(milvus_server, prefix, "loop")
        writer.wait_for("ready")
        time.sleep(delay)
        writer.kill()
        replica = _replica(milvus_server, prefix)
        _assert_whole(replica)
        replica.close()


# --------------------------------------------------------------------- same answers as embedded
def test_milvus_ranks_and_answers_as_the_embedded_store(
    tmp_path: Path, embedder: Any
) -> None:  # the real model: this judges retrieval, not plumbing
    pytest.importorskip("milvus_lite", reason="milvus-lite is part of the test extra")
    from qa.evaluate import load_eval_file
    from qa.pipeline import documents_from_paths
    from tests.store.test_backends import KIWI, VOLCANO

    documents = [*documents_from_paths([ROOT / "seeds"]), KIWI, VOLCANO]
    questions = [
        q.question
        for q in load_eval_file(ROOT / "eval" / "seed_questions.jsonl", documents[:1]).questions
    ]
    stores = {}
    for store in ("faiss", "milvus"):
        options = PipelineOptions(
            index_dir=tmp_path / store,
            vector_store=store,
            milvus_uri=str(tmp_path / "milvus.db"),
            milvus_collection="same",
        )
        stores[store] = open_pipeline(options, embedder=embedder)
        stores[store].add_documents(documents)
    for question in [*questions, "Which bird cannot fly?", "Where is Mount Etna?"]:
        embedded, milvus = (stores[s].ask(question, top_k=5) for s in ("faiss", "milvus"))
        assert [h.passage.id for h in milvus.hits] == [h.passage.id for h in embedded.hits]
        for a, b in zip(milvus.hits, embedded.hits, strict=True):
            assert a.score == pytest.approx(b.score, abs=0.02), question
        assert (milvus.answer and milvus.answer.text) == (embedded.answer and embedded.answer.text)
    for pipeline in stores.values():
        pipeline.close()
