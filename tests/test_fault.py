"""SIGKILL the real server at random points of an ingestion; nothing acknowledged is lost.

Each round starts `qa serve`, streams document additions (some replacing earlier ids) and
deletions from a client thread, and SIGKILLs the server after a random delay. After the last
round a fresh server must hold every acknowledged document exactly once, in its acknowledged
version, searchable; a document whose call was cut off is either wholly there or absent.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import LiveServer

pytestmark = pytest.mark.integration

ROUNDS = 4


def _text(doc_id: str, version: int) -> str:
    return (
        f"Record {doc_id} version {version} describes the harbour crane.\n\n"
        f"The crane {doc_id} lifted cargo number {version} at dawn."
    )


class Client:
    """Streams writes and remembers what the server acknowledged."""

    def __init__(self, url: str, rng: random.Random, state: dict[str, int | None]) -> None:
        self.url, self.rng, self.state = url, rng, state
        self.in_flight: dict[str, int | None] = {}  # sent, never acknowledged
        self.stop = threading.Event()
        self.acks = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                try:
                    self._one(http)
                except httpx.HTTPError:
                    return  # the server died under us

    def _one(self, http: httpx.Client) -> None:
        known = [k for k, v in self.state.items() if v is not None]
        if known and self.rng.random() < 0.15:
            doc_id = self.rng.choice(known)
            self.in_flight[doc_id] = None
            response = http.delete(f"/v1/documents/{doc_id}")
            assert response.status_code == 204, response.text
            self.state[doc_id] = None
        else:
            reuse = known and self.rng.random() < 0.25
            doc_id = self.rng.choice(known) if reuse else f"doc{len(self.state)}"
            version = (self.state.get(doc_id) or 0) + 1
            self.in_flight[doc_id] = version
            body = {"documents": [{"id": doc_id, "text": _text(doc_id, version)}]}
            response = http.post("/v1/documents", json=body)
            assert response.status_code == 201, response.text
            self.state[doc_id] = version
        del self.in_flight[doc_id]
        self.acks += 1


def _check(url: str, state: dict[str, int | None], pending: dict[str, int | None]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        listed = http.get("/v1/documents", params={"limit": 1000}).json()["documents"]
        ids = [d["id"] for d in listed]
        assert len(ids) == len(set(ids)), "a document is listed twice"
        for doc_id in sorted(set(state) | set(pending)):
            version = state.get(doc_id)
            # a call cut off mid-way leaves the old or the new version, wholly
            allowed = {version, pending[doc_id]} if doc_id in pending else {version}
            response = http.get(f"/v1/documents/{doc_id}")
            if response.status_code == 404:
                assert None in allowed, f"acknowledged {doc_id} v{version} is missing"
                found: int | None = None
            else:
                text = response.json()["text"]
                found = next(v for v in allowed if v is not None and text == _text(doc_id, v))
            hits = http.post(
                "/v1/search",
                json={
                    "query": f"harbour crane {doc_id}",
                    "top_k": 50,
                    "filters": {"document_id": doc_id},
                },
            ).json()["results"]
            texts = sorted(h["text"] for h in hits)
            expected = [] if found is None else sorted(_text(doc_id, found).split("\n\n"))
            assert texts == expected, f"{doc_id}: search sees {texts}, expected {expected}"


def test_sigkill_during_ingestion_loses_nothing_acknowledged(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    rng = random.Random(20240601)
    state: dict[str, int | None] = {}
    pending: dict[str, int | None] = {}
    rounds = []
    for round_no in range(ROUNDS):
        server = LiveServer(index_dir)
        server.wait_alive()
        if round_no:
            _check(server.url, state, pending)  # the restart already holds everything acked
        pending = {}
        client = Client(server.url, rng, state)
        thread = threading.Thread(target=client.run)
        thread.start()
        time.sleep(rng.uniform(1.0, 4.0))
        if round_no == 1:
            client.stop.set()
            thread.join()
            server.stop()  # one graceful stop: later rounds start from its snapshot
        else:
            server.kill()
            thread.join()
        pending = dict(client.in_flight)
        rounds.append((client.acks, len(pending)))
    server = LiveServer(index_dir)
    server.wait_alive()
    try:
        _check(server.url, state, pending)
    finally:
        server.kill()
    print(f"fault rounds (acknowledged writes, cut-off writes): {rounds}")
    assert sum(acks for acks, _ in rounds) > ROUNDS  # the rounds did write something
