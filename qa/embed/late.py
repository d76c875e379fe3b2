"""Late chunking: a clause's vector pooled from the token states of its passage's forward pass.

Indexing used to embed every clause again on its own, which cost as much model time as the
passages themselves. Here a clause's vector is the mean of the token states its characters
cover in the one pass over the whole passage, L2-normalised: no second pass, and each clause
reads in the context of its passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from qa.embed.base import Vectors, l2_normalise

Span = tuple[int, int]


def shifted_offsets(text: str, table: dict[int, str]) -> list[int]:
    """Where each character of `text` starts in `text.translate(table)` (one more at the end).

    The tokenizer reads the translated text and reports offsets into it; a clause's offsets
    are into the original. The map can drop a character or replace it by several.
    """
    return [0, *accumulate(len(table.get(ord(ch), ch)) for ch in text)]


def token_span(offsets: Sequence[Span], start: int, end: int) -> Span:
    """The tokens [first, last + 1) whose characters overlap the characters [start, end).

    A token that starts with the space before a word ("▁word") belongs to the clause of that
    word; a token of whitespace alone between two clauses belongs to neither. A span no token
    overlaps (empty, or only spaces) takes the nearest token before it, so it is never empty.
    """
    inside = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    if inside:
        return inside[0], inside[-1] + 1
    before = sum(1 for a, _ in offsets if a < max(start, 1))
    first = min(max(before - 1, 0), max(len(offsets) - 1, 0))
    return first, first + 1


def pool_spans(
    states: Sequence[npt.NDArray[np.floating]], spans: Sequence[Span], window: int, dim: int
) -> Vectors:
    """L2-normalised mean of the token states of each span of content tokens.

    `states[w]` holds window w's states: row 0 is its `<s>`, rows 1.. its content tokens
    w * window, w * window + 1, ..., then its `</s>`. A span may cross from one window into
    the next (a passage longer than the model's input).
    """
    out = np.zeros((len(spans), dim), dtype=np.float64)
    for row, (first, last) in enumerate(spans):
        if last <= first:
            raise ValueError(f"empty token span ({first}, {last})")
        for w in range(first // window, (last - 1) // window + 1):
            a = max(first, w * window) - w * window + 1
            b = min(last, (w + 1) * window) - w * window + 1
            if w >= len(states) or b > states[w].shape[0] - 1:
                raise ValueError(f"token span ({first}, {last}) is past the end of the text")
            out[row] += states[w][a:b].sum(axis=0, dtype=np.float64)
        out[row] /= last - first
    return l2_normalise(out.astype(np.float32))
