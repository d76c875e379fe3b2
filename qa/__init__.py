"""Multilingual retrieval-augmented question answering with verbatim, offset-exact answers."""

__version__ = "0.1.0"
