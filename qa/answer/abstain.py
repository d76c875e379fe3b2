"""Abstention: a calibrated probability that the chosen clause really answers the question."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.answer.extractive import ClauseChoice
from qa.retrieve.hybrid import Retrieval


@dataclass(frozen=True)
class Evidence:
    """Features of one answer attempt; the abstainer's inputs."""

    clause_cos: float
    dense: float
    margin: float
    lexical: float


@dataclass(frozen=True)
class Abstainer:
    """Logistic model over the evidence, fitted by bench/calibrate.py on in/out-of-corpus data.

    `margin` is the answer's clause cosine minus the question's mean cosine with a fixed
    background of unrelated passages: raw cosines sit higher for same-language pairs than for
    cross-lingual ones, and the background puts every question on its own scale.
    """

    bias: float = -9.0
    w_clause: float = 0.0
    w_dense: float = 0.0
    w_margin: float = 60.0
    w_lexical: float = 4.0
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        """Probability that the answer is supported."""
        z = (
            self.bias
            + self.w_clause * evidence.clause_cos
            + self.w_dense * evidence.dense
            + self.w_margin * evidence.margin
            + self.w_lexical * evidence.lexical
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def accepts(self, evidence: Evidence) -> bool:
        """True when the answer should be given rather than withheld."""
        return self.probability(evidence) >= self.threshold


def gather_evidence(choice: ClauseChoice, retrieval: Retrieval, background: float) -> Evidence:
    """Evidence for an answer: its clause cosine, the best passage cosine and term overlap."""
    best = retrieval.candidates[0]
    return Evidence(
        clause_cos=choice.clause_cos,
        dense=best.dense,
        margin=choice.clause_cos - background,
        lexical=choice.overlap * retrieval.lexical_weight,
    )
