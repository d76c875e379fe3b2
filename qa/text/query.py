"""A question parsed once into a Query: its terms, script and answer type, with its vector."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qa.domain import Query
from qa.text.normalize import script_of, tokens
from qa.text.qtype import wants_number


def parse_query(text: str, vector: npt.NDArray[np.float32]) -> Query:
    """The Query every stage reads; `vector` is the question's embedding."""
    return Query(
        text=text,
        tokens=tuple(tokens(text)),
        script=script_of(text),
        wants_number=wants_number(text),
        vector=vector,
    )
