"""Questions computed at once are bounded by query_concurrency (plumbing: a fake embedder)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from qa.backends import open_pipeline
from qa.domain import Document
from qa.pipeline import PipelineOptions
from tests.store.hashed_embedder import HashedEmbedder


class CountingEmbedder(HashedEmbedder):
    """The hashed fake, recording how many questions it embeds at the same moment."""

    def __init__(self) -> None:
        super().__init__(64)
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)  # long enough for the other threads to arrive
        with self.lock:
            self.now -= 1
        return super().embed_queries(texts)


@pytest.mark.parametrize("slots", [1, 3])
def test_questions_at_once_never_exceed_the_slots(tmp_path: Path, slots: int) -> None:
    embedder = CountingEmbedder()
    options = PipelineOptions(index_dir=tmp_path / "index", reader="off", query_concurrency=slots)
    pipeline = open_pipeline(options, embedder=embedder)
    try:
        pipeline.add_documents(
            [
                Document("nile", "The Nile is the longest river in Africa. It flows north."),
                Document(
                    "rhine", "The Rhine flows through Switzerland, Germany and the Netherlands."
                ),
            ]
        )

        def question(i: int) -> int:
            if i % 2:
                return len(pipeline.search("Which river flows north?", top_k=2))
            return len(pipeline.ask("Which river flows north?", top_k=2).hits)

        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(question, range(16)))
    finally:
        pipeline.close()
    assert all(n >= 1 for n in found)
    assert embedder.most <= slots
    if slots > 1:
        assert embedder.most > 1  # the bound is not a lock in disguise
