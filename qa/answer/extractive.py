"""Extractive answering: the best clause of the top passages, copied verbatim with offsets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qa.answer.qtype import has_number, wants_number
from qa.domain import Answer
from qa.retrieve.hybrid import Candidate, Retrieval
from qa.text.normalize import tokens


@dataclass(frozen=True)
class AnswerWeights:
    """How clause evidence is combined; fitted on held-out questions (see bench/calibrate.py)."""

    passages: int = 3
    overlap: float = 0.12
    passage_score: float = 0.08
    number: float = 0.03


@dataclass(frozen=True)
class ClauseChoice:
    """The chosen clause and the evidence behind it (the abstainer reads the evidence)."""

    answer: Answer
    clause_cos: float
    overlap: float


def term_overlap(
    query_tokens: Sequence[str], clause_tokens: Sequence[str], idf: Mapping[str, float]
) -> float:
    """IDF-weighted share of the question's terms found in the clause (0..1)."""
    terms = set(query_tokens)
    if not terms:
        return 0.0
    present = set(clause_tokens)
    total = sum(idf.get(t, 1.0) for t in terms)
    found = sum(idf.get(t, 1.0) for t in terms if t in present)
    return found / total if total else 0.0


def idf_table(document_frequency: Mapping[str, int], passages: int) -> dict[str, float]:
    """Smoothed inverse document frequencies for the given terms."""
    return {
        term: math.log(1.0 + (passages - df + 0.5) / (df + 0.5))
        for term, df in document_frequency.items()
    }


def choose_clause(
    question: str,
    retrieval: Retrieval,
    idf: Mapping[str, float],
    weights: AnswerWeights = AnswerWeights(),
) -> ClauseChoice | None:
    """Score every clause of the top passages and return the best one."""
    numeric = wants_number(question)
    best: tuple[float, ClauseChoice] | None = None
    top: list[Candidate] = retrieval.candidates[: weights.passages]
    if not top:
        return None
    lead = top[0].score or 1.0
    for candidate in top:
        passage = candidate.passage
        for j, unit in enumerate(passage.sentences):
            cos = float(candidate.clause_scores[j])
            text = passage.text[unit.start : unit.end]
            overlap = term_overlap(retrieval.query_tokens, tokens(text), idf)
            score = (
                cos
                + weights.overlap * overlap * retrieval.lexical_weight
                + weights.passage_score * candidate.score / lead
                + (weights.number if numeric and has_number(text) else 0.0)
            )
            if best is None or score > best[0]:
                answer = Answer(text, passage.id, unit.start, unit.end, score)
                best = (score, ClauseChoice(answer, cos, overlap))
    return None if best is None else best[1]
