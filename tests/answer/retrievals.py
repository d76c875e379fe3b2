"""Hand-made retrievals for the answer layer: passages cut into given clauses, given scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.domain import Clause, Passage, Query
from qa.retrieve.hybrid import Candidate, Retrieval
from qa.text.query import parse_query


def passage(pid: str, clauses: Sequence[str]) -> Passage:
    """A passage whose clause units are exactly the given strings, joined by spaces."""
    units: list[Clause] = []
    text = ""
    for clause in clauses:
        if text:
            text += " "
        units.append(Clause(len(text), len(text) + len(clause)))
        text += clause
    return Passage(pid, f"doc-{pid}", text, "", 0, len(text), {}, tuple(units))


def candidate(p: Passage, score: float, dense: float, clause_cos: Sequence[float]) -> Candidate:
    """A retrieved passage with a fused score, a passage cosine and one cosine per clause."""
    cos = np.asarray(clause_cos, dtype=np.float32)
    return Candidate(p, score, dense, float(cos.max()) if len(cos) else 0.0, 0.0, cos)


def query(question: str) -> Query:
    """The question as the pipeline reads it (its vector is not used by the answer layer)."""
    return parse_query(question, np.zeros(4, dtype=np.float32))


def retrieval(question: str, candidates: list[Candidate], lexical_weight: float) -> Retrieval:
    """What the index would return for the question."""
    return Retrieval(candidates, lexical_weight)
