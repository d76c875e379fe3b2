"""SQuAD exact match and token F1, with Arabic normalisation of both sides.

Normalisation: `qa.text.normalize.normalize` (NFKC, casefold, Arabic diacritics and tatweel
removed, أ إ آ ٱ → ا, ى → ي, ة → ه, Arabic-Indic digits → ASCII), then punctuation removed,
English articles (a, an, the) dropped, whitespace folded. The Arabic article ال is kept (SQuAD
and MLQA's Arabic scripts keep it; dropping it would inflate EM).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from qa.evaluate import bag_f1
from qa.text.normalize import normalize

_ARTICLES = frozenset({"a", "an", "the"})


def answer_tokens(text: str) -> list[str]:
    """Tokens of an answer after SQuAD + Arabic normalisation."""
    folded = normalize(text)
    no_punct = "".join(
        " " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in folded
    )
    return [t for t in no_punct.split() if t not in _ARTICLES]


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when both normalise to the same tokens."""
    return float(answer_tokens(prediction) == answer_tokens(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall (bags of normalised tokens)."""
    return bag_f1(answer_tokens(prediction), answer_tokens(gold))


def best_scores(prediction: str, golds: Iterable[str]) -> tuple[float, float]:
    """(EM, F1) against the best-matching gold answer."""
    golds = list(golds)
    if not golds:
        raise ValueError("no gold answers")
    return (
        max(exact_match(prediction, g) for g in golds),
        max(token_f1(prediction, g) for g in golds),
    )
