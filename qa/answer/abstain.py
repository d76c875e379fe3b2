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
class Logistic:
    """A fitted logistic regression over the evidence row."""

    bias: float
    weights: tuple[float, ...]

    def __call__(self, row: list[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, row, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class Abstainer:
    """Logistic models over the evidence, fitted by bench/calibrate.py on in/out-of-corpus data.

    Same-script and cross-script questions get separate models: the evidence means different
    things when question and passages share no words.
    """

    same_script: Logistic = Logistic(-55.356, (2.164, 26.423, 37.904, 2.471, -0.328, 0.305))
    cross_script: Logistic = Logistic(-26.881, (26.315, -0.145, 30.759, 6.246, 1.467, 0.827))
    # Answer-probability cuts, chosen on held-out questions (bench/calibrate.py prints the
    # trade-off): same-script 0.25 abstains on ~80% of out-of-corpus questions and answers
    # ~95% of answerable ones; cross-script evidence is weaker, so it needs a higher cut
    # (0.4: ~71% abstained, ~83% answered).
    threshold: float = 0.25
    cross_threshold: float = 0.4

    def cut(self, cross_script: bool) -> float:
        """The probability below which an answer is withheld."""
        return self.cross_threshold if cross_script else self.threshold

    def probability(self, evidence: Evidence, cross_script: bool) -> float:
        """Probability that the answer is supported by the indexed text."""
        model = self.cross_script if cross_script else self.same_script
        return model(evidence.as_row())


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
