"""Split documents into paragraphs, sentences, clauses and windows, keeping exact offsets."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.text.normalize import normalize

# A sentence ends at . ? ! ؟ ؛ (or a line break) followed by space or the end of the text.
# A period between digits (3.5) or after a single Latin letter (U.S.) does not end one.
_SENTENCE_END = re.compile(r"(?<!\b[A-Za-z])[.!?؟؛…]+[\"'”»)\]]*(?=\s|$)|\n+")
_CLAUSE_BREAK = re.compile(r"[،,;:]\s+|\s[–—-]\s")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE_BREAK = re.compile(r"\n")
_WORD = re.compile(r"\S+")

HEADING_MAX_WORDS = 14
CLAUSE_MAX_WORDS = 30
CLAUSE_MIN_WORDS = 4


@dataclass(frozen=True)
class Span:
    """A [start, end) slice of some text, in code points."""

    start: int
    end: int


@dataclass(frozen=True)
class Block:
    """A paragraph of a document, with the heading it sits under (empty when none)."""

    start: int
    end: int
    heading: str


def _trimmed(text: str, start: int, end: int) -> Span | None:
    """Shrink [start, end) to exclude surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None


def _pieces(text: str, separator: re.Pattern[str], keep_separator: bool) -> list[Span]:
    """Trimmed, non-empty spans between separator matches (each match ends a piece)."""
    spans: list[Span] = []
    start = 0
    for match in separator.finditer(text):
        span = _trimmed(text, start, match.end() if keep_separator else match.start())
        if span:
            spans.append(span)
        start = match.end()
    span = _trimmed(text, start, len(text))
    if span:
        spans.append(span)
    return spans


def paragraphs(text: str) -> list[Span]:
    """Paragraph spans: split on blank lines, or on line breaks when the text has no blank line."""
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else _LINE_BREAK
    return _pieces(text, separator, keep_separator=False)


def is_heading(line: str) -> bool:
    """A short line without sentence-final punctuation, such as a title or a Markdown header."""
    stripped = line.strip()
    if not stripped or "\n" in stripped:
        return False
    if stripped.startswith("#"):
        return True
    words = stripped.split()
    return len(words) <= HEADING_MAX_WORDS and stripped[-1] not in '.!?؟؛:…,،"”»'


def blocks(text: str) -> list[Block]:
    """Paragraphs with headings folded in: a heading titles the paragraphs under it."""
    spans = paragraphs(text)
    out: list[Block] = []
    heading = ""
    for i, span in enumerate(spans):
        piece = text[span.start : span.end]
        followed = i + 1 < len(spans) and not is_heading(
            text[spans[i + 1].start : spans[i + 1].end]
        )
        if is_heading(piece) and followed:
            heading = piece.lstrip("#").strip()
            continue
        out.append(Block(span.start, span.end, heading))
    return out


def sentences(text: str) -> list[Span]:
    """Sentence spans of a text; the end punctuation stays with its sentence."""
    return _pieces(text, _SENTENCE_END, keep_separator=True)


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def clauses(text: str, max_words: int = CLAUSE_MAX_WORDS) -> list[Span]:
    """Answer-sized units: sentences, with long ones cut at commas into pieces of few words."""
    out: list[Span] = []
    for sentence in sentences(text):
        piece = text[sentence.start : sentence.end]
        if _word_count(piece) <= max_words:
            out.append(sentence)
            continue
        out.extend(_cut_sentence(text, sentence, max_words))
    return out


def _cut_sentence(text: str, sentence: Span, max_words: int) -> list[Span]:
    """Cut a long sentence at clause breaks (or, failing those, by words) into short pieces.

    Pieces are merged back while they fit in max_words, and none is left under CLAUSE_MIN_WORDS.
    """
    piece = text[sentence.start : sentence.end]
    cuts = [0] + [m.end() for m in _CLAUSE_BREAK.finditer(piece)] + [len(piece)]
    parts: list[Span] = []
    for a, b in itertools.pairwise(cuts):
        span = _trimmed(text, sentence.start + a, sentence.start + b)
        if span:
            parts.extend(_even_word_chunks(text, span, max_words))
    merged: list[Span] = []
    for part in parts:
        if merged:
            last = merged[-1]
            joined = _word_count(text[last.start : part.end])
            if joined <= max_words or _word_count(text[last.start : last.end]) < CLAUSE_MIN_WORDS:
                merged[-1] = Span(last.start, part.end)
                continue
        merged.append(part)
    if len(merged) > 1 and _word_count(text[merged[-1].start : merged[-1].end]) < CLAUSE_MIN_WORDS:
        merged[-2:] = [Span(merged[-2].start, merged[-1].end)]
    return merged


# Words that usually open a new clause: a long sentence without commas is cut before one of
# them when one lies near the even cut point, rather than in the middle of a phrase.
CLAUSE_OPENERS = frozenset(
    normalize(word)
    for word in (
        "بشأن حيث الذي التي الذين اللاتي والتي والذي والذين وهو وهي وهم لكن ولكن بينما إذ "
        "كما عندما ثم لأن بسبب رغم بعد قبل منذ "
        "which who whom whose that because while although though but where when after before "
        "since qui que dont où mais car lorsque quand parce pendant après avant "
        "weil dass aber während obwohl nachdem bevor wobei"
    ).split()
)
OPENER_REACH = 6


def _even_word_chunks(text: str, span: Span, max_words: int) -> list[Span]:
    """Split a span into the fewest runs of near-equal length, each <= max_words words.

    Each cut moves to the nearest clause-opening word within reach, when there is one.
    """
    words = [
        Span(span.start + m.start(), span.start + m.end())
        for m in _WORD.finditer(text[span.start : span.end])
    ]
    if len(words) <= max_words:
        return [span]
    count = -(-len(words) // max_words)
    size = -(-len(words) // count)
    cuts = [0]
    for ideal in range(size, len(words), size):
        cut = _nearest_opener(text, words, ideal, cuts[-1], max_words)
        cuts.append(cut)
    cuts.append(len(words))
    return [Span(words[a].start, words[b - 1].end) for a, b in itertools.pairwise(cuts) if b > a]


def _nearest_opener(text: str, words: list[Span], ideal: int, previous: int, max_words: int) -> int:
    """The word index to cut before: the opener nearest to `ideal`, else `ideal` itself."""
    for distance in range(OPENER_REACH + 1):
        for cut in (ideal - distance, ideal + distance):
            if not previous < cut < len(words) or cut - previous > max_words:
                continue
            word = text[words[cut].start : words[cut].end].strip("“”\"'«»()،,")
            if normalize(word) in CLAUSE_OPENERS:
                return cut
    return ideal


def windows(
    text: str, count_tokens: Callable[[str], int], max_tokens: int, overlap: int = 1
) -> list[Span]:
    """Cover a text with windows of whole sentences under max_tokens, overlapping by sentences.

    A single sentence longer than max_tokens is cut by words. Each unit is tokenised once and
    a window grows by adding up their counts (tokenisers split at spaces, so counts add up);
    the finished window is counted whole, and gives back units in the rare case it overflows.
    """
    if count_tokens(text) <= max_tokens:
        span = _trimmed(text, 0, len(text))
        return [span] if span else []
    fixed = count_tokens("")  # what every count includes: special tokens, a model's prefix
    counted = [
        piece
        for sentence in sentences(text)
        for piece in _cut_by_words(text, sentence, count_tokens, max_tokens)
    ]
    units = [unit for unit, _ in counted]
    sizes = [n - fixed for _, n in counted]
    out: list[Span] = []
    i = 0
    while i < len(units):
        j, total = i + 1, fixed + sizes[i]
        while j < len(units) and total + sizes[j] <= max_tokens:
            total += sizes[j]
            j += 1
        while j > i + 1 and count_tokens(text[units[i].start : units[j - 1].end]) > max_tokens:
            j -= 1
        out.append(Span(units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        i = max(i + 1, j - overlap)
    return out


def _cut_by_words(
    text: str, span: Span, count_tokens: Callable[[str], int], max_tokens: int
) -> list[tuple[Span, int]]:
    """A span as the longest runs of words that each fit max_tokens (itself if it fits).

    Each run's end is found by doubling its length until it overflows, then halving the gap,
    so a run costs a few counts of at most twice max_tokens (counts only grow with words).
    """
    n = count_tokens(text[span.start : span.end])
    if n <= max_tokens:
        return [(span, n)]
    words = [
        Span(span.start + m.start(), span.start + m.end())
        for m in _WORD.finditer(text[span.start : span.end])
    ]

    def count(first: int, end: int) -> int:
        return count_tokens(text[words[first].start : words[end - 1].end])

    def longest_run(first: int) -> tuple[int, int]:
        """(end, count) of the longest run from `first` that fits; one word at least."""
        # `fits` ends a run that fits (or one word), `over` one that overflows or runs past
        # the end: double the run until it overflows, then halve the gap between them.
        fits, fits_n, over = first + 1, count(first, first + 1), first + 2
        while over <= len(words) and (n := count(first, over)) <= max_tokens:
            fits, fits_n, over = over, n, first + 2 * (over - first)
        over = min(over, len(words) + 1)
        while over - fits > 1:
            mid = (fits + over) // 2
            n = count(first, mid)
            fits, fits_n, over = (mid, n, over) if n <= max_tokens else (fits, fits_n, mid)
        return fits, fits_n

    out: list[tuple[Span, int]] = []
    first = 0
    while first < len(words):
        end, n = longest_run(first)
        out.append((Span(words[first].start, words[end - 1].end), n))
        first = end
    return out
