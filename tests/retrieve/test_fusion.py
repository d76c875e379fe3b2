import numpy as np
import pytest

from qa.retrieve.fusion import fuse, lexical_weight, standardise
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


def test_standardise() -> None:
    z = standardise(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert list(standardise(np.array([5.0, 5.0]))) == [0.0, 0.0]


def test_fuse_orders_by_weighted_evidence_and_ignores_zero_weights() -> None:
    signals = {
        "a": np.array([3.0, 1.0, 2.0]),
        "b": np.array([0.9, 0.2, 0.5]),
        "c": np.array([0.0, 9.0, 0.0]),
    }
    fused = fuse(signals, {"a": 1.0, "b": 1.0, "c": 0.0})
    assert list(np.argsort(-fused)) == [0, 2, 1]
    assert all(0.0 < f < 1.0 for f in fused)
    assert fuse(signals, {"a": 1.0, "b": 1.0, "c": 5.0})[1] > fused[1]


def test_fuse_by_hand() -> None:
    """Weights 3 and 1 on opposite z-scores leave z itself: sigmoid(2 * (3z - z) / 4)."""
    z = np.array([-1.0, 0.0, 1.0]) * np.sqrt(1.5)
    fused = fuse(
        {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([3.0, 2.0, 1.0])}, {"a": 3.0, "b": 1.0}
    )
    assert fused == pytest.approx(1 / (1 + np.exp(-z)))


def test_a_signal_of_zero_weight_is_not_read() -> None:
    fused = fuse({"a": np.array([1.0, 2.0]), "b": np.array([np.nan, 1.0])}, {"a": 1.0})
    assert not np.isnan(fused).any()
    assert fused[1] > fused[0]


def test_fuse_needs_a_weight() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        fuse({"a": np.array([1.0])}, {"a": 0.0})
