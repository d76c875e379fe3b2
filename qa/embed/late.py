"""Late chunking: a clause's vector pooled from the token states of its passage's forward pass.

Indexing used to embed every clause again on its own, which cost as much model time as the
passages themselves. Here a clause's vector is the mean of the token states its characters
cover in the one pass over the whole passage, L2-normalised: no second pass, and each clause
reads in the context of its passage.

Split passes (`clause_labels`, `clause_attention`): the passage's pass runs its top layers
twice from the same lower-layer states, once as usual (the passage vector) and once with each
clause's tokens attending only to themselves and to the tokens outside every clause (`<s>`,
"passage: ", `</s>`), which is nearer to what a clause embedded on its own reads.
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


OUTSIDE = -1  # the label of a token in no clause (specials, prefix, spaces between clauses)


def clause_labels(
    n_content: int, spans: Sequence[Span], window: int
) -> list[npt.NDArray[np.int64]]:
    """Per window, the clause each position belongs to (`OUTSIDE` for none).

    Positions are those of the model input: `<s>`, the window's content tokens, `</s>`. A
    token two spans share belongs to the first.
    """
    labels = np.full(max(n_content, 1), OUTSIDE, dtype=np.int64)
    for k, (first, last) in enumerate(spans):
        free = labels[first:last] == OUTSIDE
        labels[first:last][free] = k
    out: list[npt.NDArray[np.int64]] = []
    for start in range(0, max(n_content, 1), window):
        own = labels[start : min(start + window, n_content)]
        out.append(np.concatenate([[OUTSIDE], own, [OUTSIDE]]).astype(np.int64))
    return out


def clause_attention(labels: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.bool_]:
    """Which keys each query position may attend to in the clause branch (padded to `width`).

    A clause's token sees its own clause and the tokens outside every clause; a token
    outside sees only those; padding is seen by none (its own rows see the outside tokens,
    so that no row is empty).
    """
    n = len(labels)
    padded = np.concatenate([labels, np.full(width - n, OUTSIDE, dtype=np.int64)])
    allowed: npt.NDArray[np.bool_] = (padded[:, None] == padded[None, :]) | (
        padded[None, :] == OUTSIDE
    )
    allowed[:, n:] = False
    return allowed
