"""Answering: pick the clause that answers, with exact offsets, or abstain."""
