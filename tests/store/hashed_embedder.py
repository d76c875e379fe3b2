"""A deterministic fake embedder for plumbing tests and scale benchmarks (not for quality).

Each normalised token gets a fixed random vector (seeded by a hash of the token); a text's
vector is the normalised sum of its tokens' vectors, so texts sharing words are close. It loads
no model and embeds thousands of texts a second, in any process, with the same results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.text.normalize import tokens


class HashedEmbedder:
    """Bag of hashed token vectors: the Embedder protocol without a model."""

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def model_id(self) -> str:
        return f"test/hashed-bag-of-words-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def token_vector(self, token: str) -> np.ndarray:
        """The fixed random vector of one normalised token (not normalised itself)."""
        vector = self._vectors.get(token)
        if vector is None:
            seed = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
            vector = np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)
            self._vectors[token] = vector
        return vector

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), np.float32)
        for row, text in enumerate(texts):
            for token in tokens(text):
                out[row] += self.token_vector(token)
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm > 0 else self.token_vector("\x00empty")
        unit: np.ndarray = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return unit

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)
