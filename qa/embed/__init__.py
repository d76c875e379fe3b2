"""Embedders behind one Protocol; `make_embedder` (qa.embed.factory) picks a backend by name."""

from qa.embed.base import Embedder
from qa.embed.factory import make_embedder

__all__ = ["Embedder", "make_embedder"]
