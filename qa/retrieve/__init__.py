"""Retrieval: dense passage and clause vectors, BM25 on normalised tokens, and their fusion."""
