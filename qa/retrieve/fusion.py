"""Pure scoring functions for hybrid retrieval: signal weights and fused scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

RRF_K = 60.0


def lexical_weight(query_tokens: Sequence[str], document_frequency: Mapping[str, int]) -> float:
    """How much BM25 can be trusted for this query: the share of its terms the corpus contains.

    An English question over Arabic text shares no terms with it, so BM25 gets weight 0 there
    instead of dragging good dense results down with noise.
    """
    terms = set(query_tokens)
    if not terms:
        return 0.0
    known = sum(1 for t in terms if document_frequency.get(t, 0) > 0)
    return known / len(terms)


def rank_scores(values: Floats) -> Floats:
    """Reciprocal-rank contributions 1/(k + rank) for each value (higher value = better rank)."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    return 1.0 / (RRF_K + ranks)


def fuse(signals: Mapping[str, Floats], weights: Mapping[str, float]) -> Floats:
    """Weighted reciprocal-rank fusion, scaled so a candidate first in every signal scores 1."""
    total = sum(weights.get(name, 0.0) for name in signals)
    if total <= 0:
        raise ValueError("at least one signal needs a positive weight")
    fused = np.zeros(len(next(iter(signals.values()))), dtype=np.float64)
    for name, values in signals.items():
        weight = weights.get(name, 0.0)
        if weight > 0:
            fused += weight * rank_scores(values)
    return fused * (RRF_K + 1.0) / total
