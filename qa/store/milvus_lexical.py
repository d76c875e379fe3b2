"""BM25 as sparse vectors, so that Milvus ranks our own tokens by inner product.

Each passage is stored as a sparse vector over hashed terms whose values are BM25's saturated
term frequencies, tf / (tf + k1 * (1 - b + b * length / mean length)); a query is a sparse
vector of idf * repeats. Their inner product is exactly the embedded store's BM25 score
(qa/retrieve/lexical.py: Lucene's formula, k1 1.5, b 0.75) except that the mean length is the
corpus's when the passage was written, not when it is searched.

Why not Milvus's BM25 Function over a whitespace-analysed text field: milvus-lite (the tests'
engine) has no whitespace tokenizer and scores BM25 with per-segment statistics (a TODO in its
source), so its scores would differ from the embedded store's by segment; and the answer layer
needs each query term's document frequency anyway, which the engine does not expose.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Sparse = dict[int, float]
DIMENSIONS = (1 << 32) - 1  # Milvus sparse indices are uint32 below 2**32 - 1
# the embedded store's BM25 parameters (qa/retrieve/lexical.py; a test holds them equal: the store
# layer does not import the retrieval layer)
K1, B = 1.5, 0.75


def term_dimension(term: str) -> int:
    """A term's sparse dimension: the same in every process (not Python's salted hash).

    32 bits: among 500,000 distinct terms about 30 pairs share a dimension.
    """
    digest = hashlib.blake2b(term.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return int.from_bytes(digest, "little") % DIMENSIONS


def passage_weights(tokens: Sequence[str], mean_length: float) -> Sparse:
    """A passage's sparse vector: BM25's saturated frequency of each of its terms."""
    if not tokens:
        return {}
    norm = K1 * (1.0 - B + B * len(tokens) / max(mean_length, 1e-9))
    weights: Sparse = {}
    for term, tf in Counter(tokens).items():
        dim = term_dimension(term)
        weights[dim] = weights.get(dim, 0.0) + tf / (tf + norm)
    return weights


def idf(df: int, passages: int) -> float:
    """BM25's smoothed inverse document frequency (the embedded store's idf_table)."""
    return math.log(1.0 + (passages - df + 0.5) / (df + 0.5))


def query_weights(tokens: Sequence[str], df: Mapping[str, int], passages: int) -> Sparse:
    """A query's sparse vector: idf times repeats of each term some passage holds."""
    weights: Sparse = {}
    for term, repeats in Counter(tokens).items():
        if df.get(term, 0) > 0:
            dim = term_dimension(term)
            weights[dim] = weights.get(dim, 0.0) + repeats * idf(df[term], passages)
    return weights


def frequency_changes(added: Iterable[Sparse], removed: Iterable[Sparse]) -> dict[int, int]:
    """How many more (or fewer) passages hold each dimension after a write."""
    change: Counter[int] = Counter()
    for vector in added:
        change.update(vector.keys())
    for vector in removed:
        change.subtract(vector.keys())
    return {dim: n for dim, n in change.items() if n}
