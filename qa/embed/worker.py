"""Passages embedded in a child process that exits when idle; queries stay in this process.

The batch engine (torch, the exported model, its tokenizer) takes about 1.2 GB once loaded,
and a process that drops it keeps most of that: torch and transformers stay imported and the
heap stays fragmented (580 MB at rest with the reader off, measured, vs 100 MB for a process
that never loaded it). A child process gives all of it back when it exits. Starting it costs
a few seconds on the first indexing call after an idle spell, which loading in-process cost too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from qa.embed.base import Embedder, SpanEmbedder, Vectors
from qa.errors import QAError
from qa.memory import release_freed_memory

STOP_WAIT_S = 10.0  # a child that does not exit after its stop message is terminated


def _serve(make: Callable[[], Embedder], conn: Connection) -> None:
    """The child: build the embedder, then answer each (texts, spans) call until told to stop.

    `spans` None asks for passage vectors; a list asks for late-chunked span vectors as well
    (`SpanEmbedder`), so `QA_CLAUSE_VECTORS=late` works in the child too.
    """
    embedder = make()
    release_freed_memory()  # the model loads lazily; this trims what importing left
    while True:
        try:
            call = conn.recv()
        except EOFError:  # the parent is gone
            return
        if call is None:
            return
        texts, spans, clause_layers, fitted = call
        try:
            if spans is None:
                conn.send(("ok", embedder.embed_passages(texts)))
            elif isinstance(embedder, SpanEmbedder):
                found = embedder.embed_passages_with_spans(
                    texts, spans, clause_layers, fitted=fitted
                )
                conn.send(("ok", found))
            else:
                raise TypeError(f"{type(embedder).__name__} cannot pool span vectors")
        except QAError as error:  # the service's own errors keep their type (and HTTP code)
            conn.send(("raise", error))
        except Exception as error:  # sent back, raised in the parent
            conn.send(("error", f"{type(error).__name__}: {error}"))


class PassageWorker:
    """An Embedder whose passages run in a child process started on demand, stopped when idle.

    `make` builds the passage embedder in the child (it must pickle: a class or a partial);
    `queries` answers everything else here (questions, token counts), in the same vector
    space. The child exits `idle_s` seconds after its last call.
    """

    def __init__(self, make: Callable[[], Embedder], queries: Embedder, idle_s: float) -> None:
        if idle_s <= 0:
            raise ValueError("idle_s must be positive")
        self._make, self._queries, self.idle_s = make, queries, idle_s
        self._lock = threading.Lock()  # one call at a time: the child uses every core
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._last_call = 0.0
        self._timer: threading.Timer | None = None
        self.starts = 0  # how many times a child was started (for tests and metrics)

    @property
    def model_id(self) -> str:
        return self._queries.model_id

    @property
    def dim(self) -> int:
        return self._queries.dim

    @property
    def max_tokens(self) -> int:
        return self._queries.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._queries.count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._queries.embed_queries(texts)

    @property
    def running(self) -> bool:
        """Whether the child (and so the batch engine) is loaded now."""
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors: Vectors = self._call(list(texts), None, 0, False)
        return vectors

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        clause_layers: int = 0,
        *,
        fitted: bool = False,
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors and late-chunked span vectors, from the child's one pass."""
        found: tuple[Vectors, list[Vectors]] = self._call(
            list(texts), [list(s) for s in spans], clause_layers, fitted
        )
        return found

    def _call(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]] | None,
        clause_layers: int,
        fitted: bool,
    ) -> Any:
        with self._lock:
            try:
                conn = self._start()
                conn.send((texts, spans, clause_layers, fitted))
                kind, value = conn.recv()
            except (EOFError, OSError) as error:  # the child died (killed, out of memory)
                self._stop()
                raise RuntimeError(f"the passage embedding process failed: {error!r}") from error
            finally:
                self._last_call = time.monotonic()
                self._arm_timer(self.idle_s)
        if kind == "raise":
            raise value
        if kind == "error":
            raise RuntimeError(f"passage embedding failed: {value}")
        return value

    def close(self) -> None:
        """Stop the child now (it is started again by the next call)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._stop()

    def _start(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        # spawn, not fork: a fork of a threaded server (OpenMP, uvicorn's pool) can deadlock
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(self._make, child), name="qa-embed", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self.starts += 1
        return parent

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
        if process is not None:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.terminate()
                process.join(STOP_WAIT_S)
        if conn is not None:
            conn.close()

    def _arm_timer(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(delay, self._stop_if_idle)
        self._timer.daemon = True  # never holds the interpreter open at exit
        self._timer.start()

    def _stop_if_idle(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # a call is running; it arms a new timer when it ends
        try:
            left = self._last_call + self.idle_s - time.monotonic()
            if left > 0:
                self._arm_timer(left)
            else:
                self._stop()
                release_freed_memory()  # what indexing left in this process's heap
        finally:
            self._lock.release()
