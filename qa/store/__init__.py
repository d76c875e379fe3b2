"""Persistence: passage catalogue (SQLite), vector indexes (FAISS), and the index manifest."""
