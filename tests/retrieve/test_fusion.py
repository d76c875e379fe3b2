import numpy as np
import pytest

from qa.retrieve.fusion import fuse, lexical_weight, rank_scores
from qa.text.normalize import tokens

CORPUS_DF = {t: 1 for t in tokens("عمران خان شدد على الدعم الواسع في المجتمع الباكستاني Putin")}


@pytest.mark.parametrize(
    ("question", "weight"),
    [
        ("What did Imran Khan emphasize?", 0.0),  # English question, Arabic corpus
        ("ماذا أكد عمران خان؟", 2 / 3),  # Arabic question: most terms known
        ("الدعم الواسع في المجتمع", 1.0),
        ("What did Putin say?", 0.5),  # a shared proper noun
        ("???", 0.0),
    ],
)
def test_lexical_weight_follows_term_coverage(question: str, weight: float) -> None:
    assert lexical_weight(tokens(question), CORPUS_DF) == pytest.approx(weight)


def test_rank_scores_reward_higher_values() -> None:
    scores = rank_scores(np.array([0.1, 0.9, 0.5]))
    assert scores[1] > scores[2] > scores[0]


def test_fuse_is_one_for_a_unanimous_winner_and_ignores_zero_weights() -> None:
    signals = {"a": np.array([3.0, 1.0]), "b": np.array([0.9, 0.2]), "c": np.array([0.0, 9.0])}
    fused = fuse(signals, {"a": 1.0, "b": 1.0, "c": 0.0})
    assert fused[0] == pytest.approx(1.0)
    assert fused[1] < fused[0]


def test_fuse_needs_a_weight() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        fuse({"a": np.array([1.0])}, {"a": 0.0})
