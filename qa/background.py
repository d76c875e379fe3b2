"""A fixed background of unrelated passages: puts each question's cosines on its own scale."""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import numpy as np

from qa.embed.base import Embedder, Vectors
from qa.store.layout import BACKGROUND_PREFIX

_CACHE: dict[str, Vectors] = {}


def background_texts() -> list[str]:
    """Short everyday passages in Arabic, English, French and German, on no corpus's topic."""
    text = resources.files("qa.data").joinpath("background.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def background_vectors(embedder: Embedder, cache: Path | None = None) -> Vectors:
    """Passage embeddings of the background, from memory, the cache file, or the model.

    The cache file (kept beside the index) spares start-up a model run; its name carries a
    hash of the model id and texts, so a stale one is never read.
    """
    texts = background_texts()
    key = hashlib.sha1("\n".join([embedder.model_id, *texts]).encode()).hexdigest()[:16]
    if key in _CACHE:
        return _CACHE[key]
    path = cache / f"{BACKGROUND_PREFIX}{key}.npy" if cache else None
    vectors: Vectors | None = None
    if path is not None and path.exists():
        try:
            loaded = np.load(path)
            if loaded.shape == (len(texts), embedder.dim):
                vectors = loaded.astype(np.float32)
        except (OSError, ValueError):
            vectors = None
    if vectors is None:
        vectors = embedder.embed_passages(texts)
        if path is not None:
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
    _CACHE[key] = vectors
    return vectors
