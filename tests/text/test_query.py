"""A question is parsed once into a Query: terms, script and answer type."""

from __future__ import annotations

import numpy as np
import pytest

from qa.text.normalize import tokens
from qa.text.query import parse_query


@pytest.mark.parametrize(
    ("text", "script", "wants_number"),
    [
        ("What did Imran Khan emphasize?", "latin", False),
        ("ماذا أكد عمران خان؟", "arabic", False),
        ("متى تأسست باكستان؟", "arabic", True),
        ("How many people live in Lahore?", "latin", True),
        ("Combien de personnes vivent à Lahore ?", "latin", True),
        ("Wann wurde Pakistan gegründet?", "latin", True),
        ("1947?", "other", False),
        ("Qu'a souligné Imran Khan à propos de باكستان", "latin", False),
    ],
)
def test_parse_query(text: str, script: str, wants_number: bool) -> None:
    vector = np.arange(4, dtype=np.float32)
    query = parse_query(text, vector)
    assert query.text == text
    assert query.tokens == tuple(tokens(text))
    assert query.script == script
    assert query.wants_number is wants_number
    assert query.vector is vector
