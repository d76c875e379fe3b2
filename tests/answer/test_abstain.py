"""Abstention: the calibrated probability, its two cuts, and the evidence it reads."""

from __future__ import annotations

import math

import pytest

from qa.answer.abstain import EVIDENCE, Abstainer, Evidence, Logistic, gather_evidence
from qa.answer.extractive import ClauseChoice
from qa.domain import Answer
from tests.answer.retrievals import candidate, passage, retrieval

EVIDENCE_ROW = Evidence(
    background_margin=0.1,
    clause_cos=0.2,
    dense=0.3,
    overlap=0.4,
    lexical_weight=0.5,
    rank_margin=0.6,
)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_evidence_row_follows_the_declared_order() -> None:
    assert EVIDENCE_ROW.as_row() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert [getattr(EVIDENCE_ROW, name) for name in EVIDENCE] == EVIDENCE_ROW.as_row()


@pytest.mark.parametrize(
    ("bias", "weights", "row", "probability"),
    [
        (0.0, (0.0, 0.0), [5.0, -3.0], 0.5),
        (_logit(0.25), (0.0,), [7.0], 0.25),
        (0.0, (1.0, -2.0), [3.0, 1.0], 1 / (1 + math.exp(-1.0))),  # z = 3 - 2
        (-1.0, (2.0,), [0.5], 0.5),  # z = -1 + 1
        (0.0, (1.0,), [1e6], 1 / (1 + math.exp(-50.0))),  # z clamped: no overflow
        (0.0, (1.0,), [-1e6], 1 / (1 + math.exp(50.0))),
    ],
)
def test_logistic(
    bias: float, weights: tuple[float, ...], row: list[float], probability: float
) -> None:
    assert Logistic(bias, weights)(row) == pytest.approx(probability)


def test_logistic_refuses_a_row_of_another_length() -> None:
    with pytest.raises(ValueError):
        Logistic(0.0, (1.0, 2.0))([1.0])


def test_calibrated_cuts() -> None:
    """Same-script 0.25 and cross-script 0.4, as chosen on held-out questions (see abstain.py)."""
    abstainer = Abstainer()
    assert abstainer.cut(cross_script=False) == 0.25
    assert abstainer.cut(cross_script=True) == 0.4


def test_each_script_relation_has_its_own_model() -> None:
    zeros = (0.0,) * len(EVIDENCE)
    abstainer = Abstainer(
        same_script=Logistic(_logit(0.3), zeros), cross_script=Logistic(_logit(0.7), zeros)
    )
    assert abstainer.probability(EVIDENCE_ROW, cross_script=False) == pytest.approx(0.3)
    assert abstainer.probability(EVIDENCE_ROW, cross_script=True) == pytest.approx(0.7)


def test_default_models_rise_with_the_evidence() -> None:
    """Stronger evidence (higher cosines and margins) never lowers the probability."""
    weak = Evidence(0.0, 0.75, 0.75, 0.0, 1.0, 0.0)
    strong = Evidence(0.1, 0.85, 0.85, 0.5, 1.0, 0.5)
    abstainer = Abstainer()
    for cross in (False, True):
        assert abstainer.probability(weak, cross) < abstainer.probability(strong, cross)


def test_gather_evidence_from_the_choice_and_the_best_passage() -> None:
    p = passage("p1", ["The river flooded in 1998.", "Crops were lost."])
    q = passage("p2", ["Rivers are long."])
    ranked = [candidate(p, 0.8, 0.7, [0.6, 0.4]), candidate(q, 0.4, 0.9, [0.3])]
    r = retrieval("When did the river flood?", ranked, 0.5)
    choice = ClauseChoice(Answer("Crops were lost.", "p1", 27, 43, 1.0), 0.4, 0.25, 0.125)
    evidence = gather_evidence(choice, r, background=0.15)
    # margin over the background; the best passage's cosine (0.7, not the higher 0.9)
    assert evidence.as_row() == pytest.approx([0.4 - 0.15, 0.4, 0.7, 0.25, 0.5, 0.125])
