"""A fixed background of unrelated passages: puts each question's cosines on its own scale."""

from __future__ import annotations

from importlib import resources

from qa.embed.base import Embedder, Vectors

_CACHE: dict[str, Vectors] = {}


def background_texts() -> list[str]:
    """Short everyday passages in Arabic, English, French and German, on no corpus's topic."""
    text = resources.files("qa.data").joinpath("background.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def background_vectors(embedder: Embedder) -> Vectors:
    """Passage embeddings of the background (computed once per model and process)."""
    key = embedder.model_id
    if key not in _CACHE:
        _CACHE[key] = embedder.embed_passages(background_texts())
    return _CACHE[key]
