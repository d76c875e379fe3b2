"""Embedders behind one Protocol; `make_embedder` picks a backend by name."""

from qa.embed.base import Embedder, make_embedder

__all__ = ["Embedder", "make_embedder"]
