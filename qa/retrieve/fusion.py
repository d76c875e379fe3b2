"""Pure scoring functions for hybrid retrieval: signal weights and fused scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


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


def standardise(values: Floats) -> Floats:
    """Scores as z-scores over the candidate set (all zero when they do not vary)."""
    spread = float(values.std())
    if spread <= 1e-9:
        return np.zeros(len(values))
    scaled: Floats = (values - values.mean()) / spread
    return scaled


def fuse(signals: Mapping[str, Floats], weights: Mapping[str, float]) -> Floats:
    """Weighted sum of standardised signals, squashed to (0, 1).

    Standardising keeps each signal's margins (reciprocal-rank fusion throws them away, and
    lost 1-3 points of MRR here), while putting cosines and BM25 on one scale.
    """
    total = sum(weights.get(name, 0.0) for name in signals)
    if total <= 0:
        raise ValueError("at least one signal needs a positive weight")
    fused = np.zeros(len(next(iter(signals.values()))), dtype=np.float64)
    for name, values in signals.items():
        weight = weights.get(name, 0.0)
        if weight > 0:
            fused += weight * standardise(np.asarray(values, dtype=np.float64))
    return 1.0 / (1.0 + np.exp(-fused / total * 2.0))
