"""Abstention: a calibrated probability that the chosen span really answers the question."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.answer.extractive import ClauseChoice
from qa.retrieve.hybrid import Retrieval

EVIDENCE = ("background_margin", "clause_cos", "dense", "overlap", "lexical_weight", "rank_margin")


@dataclass(frozen=True)
class Evidence:
    """Features of one answer attempt; the abstainer's inputs.

    `background_margin` is the answer clause's cosine minus the question's mean cosine with a
    fixed background of unrelated passages: raw cosines sit higher for same-language pairs than
    for cross-lingual ones, and the background puts every question on its own scale.
    """

    background_margin: float
    clause_cos: float
    dense: float
    overlap: float
    lexical_weight: float
    rank_margin: float

    def as_row(self) -> list[float]:
        """The features in EVIDENCE order."""
        return [getattr(self, name) for name in EVIDENCE]


@dataclass(frozen=True)
class Abstainer:
    """Logistic model over the evidence, fitted by bench/calibrate.py on in/out-of-corpus data."""

    bias: float = -53.045
    weights: tuple[float, ...] = (2.445, 24.926, 37.102, 2.094, -0.624, 0.324)
    threshold: float = 0.35

    def probability(self, evidence: Evidence) -> float:
        """Probability that the answer is supported by the indexed text."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, evidence.as_row(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def gather_evidence(choice: ClauseChoice, retrieval: Retrieval, background: float) -> Evidence:
    """Evidence for an answer from its clause, the best passage and the query's background."""
    return Evidence(
        background_margin=choice.clause_cos - background,
        clause_cos=choice.clause_cos,
        dense=retrieval.candidates[0].dense,
        overlap=choice.overlap,
        lexical_weight=retrieval.lexical_weight,
        rank_margin=choice.margin,
    )
