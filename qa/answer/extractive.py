"""Extractive answering: the best clause of the top passages, copied verbatim with offsets.

Clauses are ranked by a linear model over evidence that generalises across languages: the
clause's and its passage's cosine with the question, IDF-weighted term overlap (worth little
when question and text share no script), whether a number is asked for and present. The
weights are fitted listwise by bench/calibrate.py on held-out questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.domain import Answer, Context, Passage, Query
from qa.retrieve.hybrid import Retrieval
from qa.text.normalize import script_of, tokens
from qa.text.qtype import has_number

FEATURES = (
    "clause_cos",  # cosine(question, clause)
    "clause_rel",  # clause cosine minus the best clause cosine of its passage
    "overlap",  # IDF-weighted share of question terms in the clause x lexical weight
    "overlap_prev",  # the same for the clause before (answers often follow the cue)
    "passage",  # fused passage score relative to the best passage
    "number",  # question asks when/how many and the clause holds a number or month
    "novelty",  # share of clause terms that are not question terms x lexical weight
    "dense",  # cosine(question, passage)
    "cos_prev",  # cosine of the clause before
)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClauseModel:
    """Weights of the clause ranker and how far an answer may grow with its neighbours.

    Questions in another script than the passages (an English question over Arabic text) get
    their own weights: term overlap says nothing there, and cosines sit on another scale.
    """

    same_script: tuple[float, ...] = (
        22.579,
        -3.839,
        4.654,
        1.681,
        24.419,
        2.714,
        2.2,
        37.856,
        -3.333,
    )
    cross_script: tuple[float, ...] = (
        43.549,
        11.816,
        -3.142,
        -3.928,
        25.8,
        1.316,
        6.393,
        40.604,
        -2.423,
    )
    passages: int = 4
    max_words: int = 37

    def __post_init__(self) -> None:
        for weights in (self.same_script, self.cross_script):
            if len(weights) != len(FEATURES):
                raise ValueError(f"ClauseModel needs {len(FEATURES)} weights, got {len(weights)}")

    def weights(self, cross_script: bool) -> tuple[float, ...]:
        """The weights for a question in the passages' script, or in another one."""
        return self.cross_script if cross_script else self.same_script


def is_cross_script(query: Query, retrieval: Retrieval) -> bool:
    """True when the question is written in another script than the best passage."""
    if not retrieval.candidates:
        return False
    return query.script != script_of(retrieval.candidates[0].passage.text)


@dataclass(frozen=True)
class ClauseChoice:
    """The chosen answer span and the evidence behind it (the abstainer reads the evidence).

    `slots` and `scores` keep the ranker's score of every clause of the top passages, so that
    a span reader can read the best clauses of each passage without ranking them again.
    """

    answer: Answer
    clause_cos: float
    overlap: float
    margin: float
    slots: tuple[tuple[int, int], ...] = ()
    scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class ClauseTable:
    """Every candidate clause of the top passages with its feature row."""

    slots: list[tuple[int, int]]  # (candidate index, clause index)
    features: Floats


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


def clause_table(
    query: Query, retrieval: Retrieval, idf: Mapping[str, float], passages: int
) -> ClauseTable:
    """Feature rows for every clause of the top passages."""
    numeric = query.wants_number
    query_terms = set(query.tokens)
    lexical = retrieval.lexical_weight
    slots: list[tuple[int, int]] = []
    rows: list[list[float]] = []
    top = retrieval.candidates[:passages]
    lead = top[0].score if top and top[0].score > 0 else 1.0
    for ci, candidate in enumerate(top):
        passage = candidate.passage
        cos = candidate.clause_scores
        clause_tokens = [tokens(passage.text[u.start : u.end]) for u in passage.clauses]
        overlaps = [term_overlap(query.tokens, t, idf) * lexical for t in clause_tokens]
        best = float(cos.max()) if len(cos) else 0.0
        for j, clause in enumerate(passage.clauses):
            terms = clause_tokens[j]
            novel = 1.0 - sum(1 for t in terms if t in query_terms) / max(1, len(terms))
            text = passage.text[clause.start : clause.end]
            slots.append((ci, j))
            rows.append(
                [
                    float(cos[j]),
                    float(cos[j]) - best,
                    overlaps[j],
                    overlaps[j - 1] if j > 0 else 0.0,
                    candidate.score / lead,
                    1.0 if numeric and has_number(text) else 0.0,
                    novel * lexical,
                    candidate.dense,
                    float(cos[j - 1]) if j > 0 else float(cos[j]),
                ]
            )
    features = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return ClauseTable(slots, features)


def grow(passage: Passage, j: int, scores: Sequence[float], max_words: int) -> tuple[int, int]:
    """Extend clause j with its best-scoring neighbours while the span fits in max_words."""
    clauses = passage.clauses
    first, last = j, j
    while True:
        options: list[tuple[float, int, int]] = []
        if first > 0:
            options.append((scores[first - 1], first - 1, last))
        if last + 1 < len(clauses):
            options.append((scores[last + 1], first, last + 1))
        fitting = [
            o
            for o in options
            if len(passage.text[clauses[o[1]].start : clauses[o[2]].end].split()) <= max_words
        ]
        if not fitting:
            return first, last
        _, first, last = max(fitting)


def choose_clause(
    query: Query, retrieval: Retrieval, idf: Mapping[str, float], model: ClauseModel
) -> ClauseChoice | None:
    """The best answer span of the top passages, or None when there is no clause at all."""
    table = clause_table(query, retrieval, idf, model.passages)
    if not table.slots:
        return None
    weights = model.weights(is_cross_script(query, retrieval))
    scores = table.features @ np.asarray(weights, dtype=np.float64)
    k = int(np.argmax(scores))
    ci, j = table.slots[k]
    candidate = retrieval.candidates[ci]
    passage = candidate.passage
    own = [float(scores[i]) for i, (c, _) in enumerate(table.slots) if c == ci]
    first, last = grow(passage, j, own, model.max_words)
    start, end = passage.clauses[first].start, passage.clauses[last].end
    ordered = np.sort(scores)[::-1]
    margin = float(ordered[0] - ordered[1]) if len(ordered) > 1 else 0.0
    context = Context(passage.text[start:end], start, end)
    answer = Answer(passage.text[start:end], passage.id, start, end, float(scores[k]), context)
    return ClauseChoice(
        answer,
        float(table.features[k, 0]),
        float(table.features[k, 2]),
        margin,
        tuple(table.slots),
        tuple(float(v) for v in scores),
    )
