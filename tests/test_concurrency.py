"""Readers and writers against a live two-worker server: no 5xx, no stale or torn reads.

Writes go to whichever worker uvicorn picks, reads likewise, so every read that follows an
acknowledged write in another process must see it. Each search for one document must return
exactly the passages of one version that was current at some moment of the request.

The run lasts until every thread has done its share of work (WRITES_EACH, READS_EACH), not a
fixed time: a busy machine makes it longer, never weaker. Threads never assert; they record
failures, and a thread that dies records that too, for the main thread to fail on.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.server_process import LiveServer

pytestmark = pytest.mark.integration

DOCS = ["w0", "w1", "w2", "w3"]
WRITES_EACH = 12  # acknowledged writes per writer thread (two threads)
READS_EACH = 30  # checked searches per reader thread (two threads)
DEADLINE = 300.0  # seconds the threads may take to get there


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
    progress: threading.Condition = field(default_factory=threading.Condition)
    done: dict[str, int] = field(default_factory=dict)  # work done by each thread
    finished: set[str] = field(default_factory=set)  # threads whose loop ended as designed

    def count(self, name: str) -> None:
        """One more unit of work by a thread; wakes the main thread."""
        with self.progress:
            self.done[name] = self.done.get(name, 0) + 1
            self.progress.notify_all()

    def fail(self, message: str) -> None:
        """Record a failure; the main thread stops the run and reports it."""
        with self.progress:
            self.failures.append(message)
            self.progress.notify_all()


def _guarded(name: str, log: Log, loop: Callable[[], None]) -> Callable[[], None]:
    """A thread body that records its own death instead of dying silently."""

    def body() -> None:
        try:
            loop()
            log.finished.add(name)
        except BaseException as exc:
            log.fail(f"{name} died: {exc!r}")

    return body


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
            if write.version is None:
                response = http.delete(f"/v1/documents/{doc_id}")
                ok = response.status_code in (204, 404)
            else:
                body = {"documents": [{"id": doc_id, "text": _text(doc_id, write.version)}]}
                response = http.post("/v1/documents", json=body)
                ok = response.status_code == 201
            if not ok:
                log.fail(f"write {response.status_code}: {response.text}")
                return
            write.acked = time.monotonic()
            log.count(f"writer-{seed}")


def _reader(url: str, log: Log, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            doc_id = rng.choice(DOCS)
            sent = time.monotonic()
            if rng.random() < 0.2:
                response = http.post("/v1/ask", json={"question": f"What did mill {doc_id} grind?"})
                if response.status_code != 200:
                    log.fail(f"ask {response.status_code}: {response.text}")
                    return
                continue
            response = http.post(
                "/v1/search",
                json={"query": f"mill {doc_id}", "top_k": 20, "filters": {"document_id": doc_id}},
            )
            if response.status_code != 200:
                log.fail(f"search {response.status_code}: {response.text}")
                return
            texts = sorted(r["text"] for r in response.json()["results"])
            with log.lock:
                log.reads.append((doc_id, sent, time.monotonic(), texts))
            log.count(f"reader-{seed}")


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
        server.wait_alive(timeout=300)  # two workers load the model at once: slow when busy
        anchor = {"id": "anchor", "text": "The granary stores grain for the winter."}
        response = httpx.post(
            f"{server.url}/v1/documents", json={"documents": [anchor]}, timeout=60
        )
        assert response.status_code == 201  # never empty: a 503 'not ready' cannot occur
        log = Log()
        stop = threading.Event()
        quotas = {"writer-1": WRITES_EACH, "writer-2": WRITES_EACH}
        quotas |= {"reader-3": READS_EACH, "reader-4": READS_EACH}
        threads = [
            threading.Thread(
                target=_guarded(name, log, partial(work, server.url, log, stop, int(name[-1]))),
                name=name,
            )
            for name, work in [(n, _writer if n.startswith("w") else _reader) for n in quotas]
        ]
        for t in threads:
            t.start()

        def settled() -> bool:
            met = all(log.done.get(name, 0) >= n for name, n in quotas.items())
            return met or bool(log.failures) or not all(t.is_alive() for t in threads)

        with log.progress:
            log.progress.wait_for(settled, timeout=DEADLINE)
        stop.set()
        for t in threads:
            t.join(60)
    finally:
        server.kill()
    assert not log.failures, log.failures[:5]
    assert not [t.name for t in threads if t.is_alive()], "a thread hangs"
    assert log.finished == set(quotas), f"threads that did not finish: {set(quotas) - log.finished}"
    short = {name: log.done.get(name, 0) for name, n in quotas.items() if log.done.get(name, 0) < n}
    assert not short, f"too little work in {DEADLINE:.0f} s: {short} (quotas {quotas})"
    stale = []
    for doc_id, sent, received, texts in log.reads:
        allowed = _allowed(log.writes, doc_id, sent, received)
        shapes = {v: sorted(_text(doc_id, v).split("\n\n")) if v else [] for v in allowed}
        if texts not in shapes.values():
            stale.append((doc_id, texts, sorted(map(str, allowed))))
    print(f"concurrency: {len(log.writes)} writes, {len(log.reads)} checked reads")
    assert not stale, stale[:3]
