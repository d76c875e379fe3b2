"""Readers and writers against a live two-worker server: no 5xx, no stale or torn reads.

Writes go to whichever worker uvicorn picks, reads likewise, so every read that follows an
acknowledged write in another process must see it. Each search for one document must return
exactly the passages of one version that was current at some moment of the request.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.server_process import LiveServer

pytestmark = pytest.mark.integration

DURATION = 15.0
DOCS = ["w0", "w1", "w2", "w3"]


def _text(doc_id: str, version: int) -> str:
    return (
        f"Ledger {doc_id} entry {version} notes the mill output.\n\n"
        f"The mill {doc_id} ground {version} sacks of barley."
    )


@dataclass
class Write:
    doc_id: str
    version: int | None  # None: a delete
    sent: float
    acked: float = float("inf")


@dataclass
class Log:
    writes: list[Write] = field(default_factory=list)
    reads: list[tuple[str, float, float, list[str]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(url: str, log: Log, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    version = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            doc_id = rng.choice(DOCS)
            version += 1
            delete = rng.random() < 0.3
            write = Write(doc_id, None if delete else seed * 100_000 + version, time.monotonic())
            with log.lock:
                log.writes.append(write)
            if delete:
                response = http.delete(f"/v1/documents/{doc_id}")
                ok = response.status_code in (204, 404)
            else:
                assert write.version is not None
                body = {"documents": [{"id": doc_id, "text": _text(doc_id, write.version)}]}
                response = http.post("/v1/documents", json=body)
                ok = response.status_code == 201
            if not ok:
                log.failures.append(f"write {response.status_code}: {response.text}")
            write.acked = time.monotonic()


def _reader(url: str, log: Log, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            doc_id = rng.choice(DOCS)
            sent = time.monotonic()
            if rng.random() < 0.2:
                response = http.post("/v1/ask", json={"question": f"What did mill {doc_id} grind?"})
                if response.status_code >= 500:
                    log.failures.append(f"ask {response.status_code}: {response.text}")
                continue
            response = http.post(
                "/v1/search",
                json={"query": f"mill {doc_id}", "top_k": 20, "filters": {"document_id": doc_id}},
            )
            if response.status_code != 200:
                log.failures.append(f"search {response.status_code}: {response.text}")
                continue
            texts = sorted(r["text"] for r in response.json()["results"])
            log.reads.append((doc_id, sent, time.monotonic(), texts))


def _allowed(writes: list[Write], doc_id: str, sent: float, received: float) -> set[int | None]:
    """Versions that were committed-and-current at some moment between sent and received."""
    mine = [w for w in writes if w.doc_id == doc_id]
    done = [w for w in mine if w.acked < sent]
    # an acknowledged write is certainly superseded when another one started after its ack and
    # was acknowledged before the read; among the rest, commit order is unknown to the client
    current = {
        w.version for w in done if not any(v.sent > w.acked and v.acked < sent for v in done)
    }
    if not done:
        current = {None}
    # writes that overlap the read may or may not be visible
    overlapping = {w.version for w in mine if w.sent < received and w.acked >= sent}
    return current | overlapping


def test_reads_stay_consistent_while_two_workers_write(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "index", workers=2)
    try:
        server.wait_alive()
        anchor = {"id": "anchor", "text": "The granary stores grain for the winter."}
        response = httpx.post(
            f"{server.url}/v1/documents", json={"documents": [anchor]}, timeout=60
        )
        assert response.status_code == 201  # never empty: a 503 'not ready' cannot occur
        log = Log()
        stop = threading.Event()
        threads = [
            threading.Thread(target=_writer, args=(server.url, log, stop, s)) for s in (1, 2)
        ]
        threads += [
            threading.Thread(target=_reader, args=(server.url, log, stop, s)) for s in (3, 4)
        ]
        for t in threads:
            t.start()
        time.sleep(DURATION)
        stop.set()
        for t in threads:
            t.join()
    finally:
        server.kill()
    assert not log.failures, log.failures[:5]
    assert log.writes and log.reads
    stale = []
    for doc_id, sent, received, texts in log.reads:
        allowed = _allowed(log.writes, doc_id, sent, received)
        shapes = {v: sorted(_text(doc_id, v).split("\n\n")) if v else [] for v in allowed}
        if texts not in shapes.values():
            stale.append((doc_id, texts, sorted(map(str, allowed))))
    print(f"concurrency: {len(log.writes)} writes, {len(log.reads)} checked reads")
    assert not stale, stale[:3]
