"""SIGKILL the real server at random points of an ingestion; nothing acknowledged is lost.

Each round starts `qa serve`, streams document additions (some replacing earlier ids) and
deletions from a client thread, and SIGKILLs the server once the client has had a few writes
acknowledged, after a further random delay. After the last round a fresh server must hold every
acknowledged document exactly once, in its acknowledged version, searchable; a document whose
call was cut off is either wholly there or absent.

The client thread never asserts: it records every unexpected status (a 5xx above all) and its
own death, and the main thread fails the test on any of them. test_an_injected_500_fails_it
shows that a single 500 on one write is enough to fail a run.
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
ACKS_BEFORE_KILL = 3  # writes each round must have had acknowledged before its server dies
ROUND_TIMEOUT = 300.0  # seconds a round may take to reach them (a busy machine is slow)


def _text(doc_id: str, version: int) -> str:
    return (
        f"Record {doc_id} version {version} describes the harbour crane.\n\n"
        f"The crane {doc_id} lifted cargo number {version} at dawn."
    )


class Inject500(httpx.HTTPTransport):
    """Passes requests to the server, but answers the n-th document write with a 500.

    The write reaches the server (it may well be committed), as when a server fails after
    doing the work: the client must report it, not treat the document as merely cut off.
    """

    def __init__(self, nth_write: int) -> None:
        super().__init__()
        self.nth_write = nth_write
        self.writes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path == "/v1/documents":
            self.writes += 1
            if self.writes == self.nth_write:
                response.read()
                response.close()
                return httpx.Response(500, json={"error": {"code": "injected"}}, request=request)
        return response


class Client:
    """Streams writes, remembers what the server acknowledged and every error it saw."""

    def __init__(
        self,
        url: str,
        rng: random.Random,
        state: dict[str, int | None],
        transport: httpx.HTTPTransport | None = None,
    ) -> None:
        self.url, self.rng, self.state, self.transport = url, rng, state, transport
        self.in_flight: dict[str, int | None] = {}  # sent, never acknowledged
        self.stop = threading.Event()
        self.enough = threading.Event()  # ACKS_BEFORE_KILL writes acknowledged
        self.acks = 0
        self.errors: list[str] = []
        self.finished = False  # the loop ended as designed (stop, or the server died)

    def run(self) -> None:
        try:
            # generous: the first write exports the model, slow on a busy machine
            with httpx.Client(base_url=self.url, timeout=120, transport=self.transport) as http:
                while not self.stop.is_set() and not self.errors:
                    try:
                        self._one(http)
                    except httpx.TimeoutException as exc:
                        self.errors.append(f"a call hung: {exc!r}")
                    except httpx.TransportError:
                        break  # the server died under us: the call stays in flight
            self.finished = True
        except BaseException as exc:  # recorded for the main thread, which asserts
            self.errors.append(f"client thread died: {exc!r}")
        finally:
            self.enough.set()  # never leave the main thread waiting

    def _expect(self, response: httpx.Response, status: int, what: str) -> bool:
        if response.status_code == status:
            return True
        self.errors.append(f"{what}: {response.status_code} {response.text[:200]}")
        return False

    def _one(self, http: httpx.Client) -> None:
        known = [k for k, v in self.state.items() if v is not None]
        if known and self.rng.random() < 0.15:
            doc_id = self.rng.choice(known)
            self.in_flight[doc_id] = None
            if not self._expect(http.delete(f"/v1/documents/{doc_id}"), 204, f"delete {doc_id}"):
                return
            self.state[doc_id] = None
        else:
            reuse = known and self.rng.random() < 0.25
            doc_id = self.rng.choice(known) if reuse else f"doc{len(self.state)}"
            version = (self.state.get(doc_id) or 0) + 1
            self.in_flight[doc_id] = version
            body = {"documents": [{"id": doc_id, "text": _text(doc_id, version)}]}
            if not self._expect(http.post("/v1/documents", json=body), 201, f"add {doc_id}"):
                return
            self.state[doc_id] = version
        del self.in_flight[doc_id]
        self.acks += 1
        if self.acks >= ACKS_BEFORE_KILL:
            self.enough.set()


def _check(url: str, state: dict[str, int | None], pending: dict[str, int | None]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        response = http.get("/v1/documents", params={"limit": 1000})
        assert response.status_code == 200, response.text
        ids = [d["id"] for d in response.json()["documents"]]
        assert len(ids) == len(set(ids)), "a document is listed twice"
        assert {k for k, v in state.items() if v is not None} <= set(ids)
        for doc_id in sorted(set(state) | set(pending)):
            version = state.get(doc_id)
            # a call cut off mid-way leaves the old or the new version, wholly
            allowed = {version, pending[doc_id]} if doc_id in pending else {version}
            response = http.get(f"/v1/documents/{doc_id}")
            assert response.status_code in (200, 404), response.text
            if response.status_code == 404:
                assert None in allowed, f"acknowledged {doc_id} v{version} is missing"
                found: int | None = None
            else:
                text = response.json()["text"]
                found = next(v for v in allowed if v is not None and text == _text(doc_id, v))
            response = http.post(
                "/v1/search",
                json={
                    "query": f"harbour crane {doc_id}",
                    "top_k": 50,
                    "filters": {"document_id": doc_id},
                },
            )
            assert response.status_code == 200, response.text
            texts = sorted(h["text"] for h in response.json()["results"])
            expected = [] if found is None else sorted(_text(doc_id, found).split("\n\n"))
            assert texts == expected, f"{doc_id}: search sees {texts}, expected {expected}"


def run_rounds(index_dir: Path, rounds: int, inject_500_at: int | None = None) -> list[int]:
    """Kill (or once stop) a server under a writing client `rounds` times; check the result.

    Returns the acknowledged writes of each round. `inject_500_at` turns the n-th write of the
    first round into a 500, to show that the run then fails.
    """
    rng = random.Random(20240601)
    delays = random.Random(7)
    state: dict[str, int | None] = {}
    pending: dict[str, int | None] = {}
    acks: list[int] = []
    for round_no in range(rounds):
        server = LiveServer(index_dir)
        try:
            server.wait_alive()
            if round_no:
                _check(server.url, state, pending)  # the restart already holds everything acked
            transport = Inject500(inject_500_at) if inject_500_at and not round_no else None
            client = Client(server.url, rng, state, transport)
            thread = threading.Thread(target=client.run, name=f"fault-client-{round_no}")
            thread.start()
            assert client.enough.wait(ROUND_TIMEOUT), "the client never got enough writes acked"
            assert not client.errors, client.errors
            time.sleep(delays.uniform(0.0, 1.5))  # the kill lands at a random point of a write
            if round_no == 1:
                client.stop.set()
                thread.join(ROUND_TIMEOUT)
                server.stop()  # one graceful stop: later rounds start from its snapshot
            else:
                server.kill()
                thread.join(ROUND_TIMEOUT)
        finally:
            server.kill()
        assert not thread.is_alive(), "the client thread hangs"
        assert not client.errors, client.errors
        assert client.finished, "the client thread ended without finishing its loop"
        assert client.acks >= ACKS_BEFORE_KILL
        pending = dict(client.in_flight)
        assert len(pending) <= 1  # one call at a time: at most one is cut off
        acks.append(client.acks)
    server = LiveServer(index_dir)
    try:
        server.wait_alive()
        _check(server.url, state, pending)
    finally:
        server.kill()
    return acks


def test_sigkill_during_ingestion_loses_nothing_acknowledged(tmp_path: Path) -> None:
    acks = run_rounds(tmp_path / "index", ROUNDS)
    print(f"fault rounds, acknowledged writes: {acks}")
    assert len(acks) == ROUNDS and min(acks) >= ACKS_BEFORE_KILL


def test_an_injected_500_fails_it(tmp_path: Path) -> None:
    """A single write answered with 500 (after the server did the work) fails the run."""
    with pytest.raises(AssertionError, match=r"add doc\d+: 500"):
        run_rounds(tmp_path / "index", rounds=1, inject_500_at=2)
