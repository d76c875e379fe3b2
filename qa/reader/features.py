"""Reader features: (question, text window) token sequences with a map back to the text.

Pure functions shared by training and inference, so both see the same windows. A window is
`<s> question </s> </s> text-piece </s>` (XLM-R pair layout, as the exported tokenizer writes
it); position 0 (`<s>`) is the no-answer target, so `start[0] + end[0]` is the window's null
score.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

NO_OFFSET = (-1, -1)
MASKED = -1e4  # the logit of a position outside a window's text and no-answer slot


@dataclass(frozen=True)
class Encoded:
    """A text's tokens (no special tokens) with code-point offsets into that text."""

    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Specials:
    """Ids of the tokens that frame a window."""

    cls: int = 0
    sep: int = 2
    pad: int = 1


@dataclass(frozen=True)
class WindowSpec:
    """How texts are cut: total length, tokens shared by neighbours, question budget."""

    max_len: int = 256
    overlap: int = 64
    max_question_tokens: int = 64

    def __post_init__(self) -> None:
        if self.max_len < self.max_question_tokens + 4 + 16:
            raise ValueError("max_len leaves fewer than 16 tokens for the text")
        if not 0 <= self.overlap < self.max_len // 2:
            raise ValueError("overlap must be in [0, max_len/2)")


@dataclass(frozen=True)
class Window:
    """One model input: token ids, and per position the text offsets (NO_OFFSET outside it)."""

    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    text_index: int
    context_start: int  # first position holding a text token

    @property
    def context_end(self) -> int:
        """One past the last position holding a text token."""
        return len(self.input_ids) - 1


class TokenizerLike(Protocol):
    """The part of `tokenizers.Tokenizer` the features use."""

    def encode(self, sequence: str, add_special_tokens: bool = ...) -> EncodingLike: ...


class EncodingLike(Protocol):
    """The part of `tokenizers.Encoding` the features use."""

    @property
    def ids(self) -> list[int]: ...

    @property
    def offsets(self) -> list[tuple[int, int]]: ...


def encode(tokenizer: TokenizerLike, text: str) -> Encoded:
    """Tokenise a whole text once (windows are cut from it, so offsets stay exact)."""
    enc = tokenizer.encode(text, add_special_tokens=False)
    return Encoded(tuple(enc.ids), tuple((int(a), int(b)) for a, b in enc.offsets))


def window_ranges(n_tokens: int, room: int, overlap: int) -> list[tuple[int, int]]:
    """Token ranges [a, b) of at most `room` tokens covering n_tokens, neighbours share overlap."""
    if n_tokens <= 0:
        return [(0, 0)]
    step = max(1, room - overlap)
    ranges, start = [], 0
    while True:
        end = min(n_tokens, start + room)
        ranges.append((start, end))
        if end == n_tokens:
            return ranges
        start += step


def build_windows(
    question_ids: Sequence[int],
    text: Encoded,
    text_index: int,
    spec: WindowSpec,
    specials: Specials = Specials(),
) -> list[Window]:
    """Cut a text into windows that each carry the (truncated) question first."""
    q = tuple(question_ids[: spec.max_question_tokens])
    head = (specials.cls, *q, specials.sep, specials.sep)
    head_offsets = (NO_OFFSET,) * len(head)
    room = spec.max_len - len(head) - 1
    windows = []
    for a, b in window_ranges(len(text.ids), room, spec.overlap):
        windows.append(
            Window(
                input_ids=(*head, *text.ids[a:b], specials.sep),
                offsets=(*head_offsets, *text.offsets[a:b], NO_OFFSET),
                text_index=text_index,
                context_start=len(head),
            )
        )
    return windows


def answer_positions(window: Window, start: int, end: int) -> tuple[int, int]:
    """Token positions of the answer chars [start, end) in window, or (0, 0) if not all inside."""
    first = last = -1
    for pos in range(window.context_start, window.context_end):
        a, b = window.offsets[pos]
        if b <= start or a >= end:
            continue
        if first < 0:
            first = pos
        last = pos
    if first < 0:
        return (0, 0)
    inside = window.offsets[first][0] <= start and window.offsets[last][1] >= end
    return (first, last) if inside else (0, 0)


def span_chars(window: Window, start_pos: int, end_pos: int) -> tuple[int, int]:
    """Code-point range in the text of token positions start_pos..end_pos (inclusive)."""
    return window.offsets[start_pos][0], window.offsets[end_pos][1]


_PAIRS = {"(": ")", "[": "]", "«": "»", "“": "”"}
_CLOSERS = {closer: opener for opener, closer in _PAIRS.items()}
_KEEP = frozenset("%٪‰°")


def _is_trim(ch: str) -> bool:
    """Whitespace, punctuation or control that does not belong at either end of an answer."""
    return ch not in _KEEP and (ch.isspace() or unicodedata.category(ch)[0] in "PZC")


def _is_word(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch) in {"Mn", "Mc"}


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow [start, end) to word boundaries: a span cut inside "لينينغراد" takes the whole word."""
    if start >= end:
        return start, end
    while start > 0 and _is_word(text[start - 1]) and _is_word(text[start]):
        start -= 1
    while end < len(text) and _is_word(text[end]) and _is_word(text[end - 1]):
        end += 1
    return start, end


def answer_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A model span as shown: trimmed of punctuation, grown to whole words and open brackets'
    closers (English XQuAD held out: the reader's "f(n" for "f(n)", "DTIME(f(n" for
    "DTIME(f(n))")."""
    start, end = whole_words(text, *strip_span(text, start, end))
    return start, close_brackets(text, start, end)


def close_brackets(text: str, start: int, end: int) -> int:
    """The end of [start, end) moved past the closers that directly follow it and match a
    bracket the span opens and does not close."""
    while end < len(text) and text[end] in _CLOSERS:
        opener = _CLOSERS[text[end]]
        if text.count(opener, start, end) <= text.count(text[end], start, end):
            break
        end += 1
    return end


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past surrounding whitespace and punctuation.

    A bracket stays when its partner is inside the span: "(1947)" keeps both, "(1947" loses one.
    """
    while start < end and _is_trim(text[start]):
        closer = _PAIRS.get(text[start])
        if closer is not None and closer in text[start + 1 : end]:
            break
        start += 1
    while end > start and _is_trim(text[end - 1]):
        opener = _CLOSERS.get(text[end - 1])
        if opener is not None and opener in text[start : end - 1]:
            break
        end -= 1
    return start, end
