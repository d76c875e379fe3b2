"""Right-to-left text as PDFs hold it: lines in visual order, letters in presentation forms.

A PDF draws glyphs left to right, so a text layer read in drawing order has Arabic words
backwards, and its glyphs often map to the contextual forms of Unicode's compatibility blocks
(ﻋﻤﺮان for عمران), which look right but do not search, copy or compare like the letters.
"""

from __future__ import annotations

import unicodedata

_PRESENTATION_FORMS = ((0xFB00, 0xFDFF), (0xFE70, 0xFEFF))
_ZERO_WIDTH_NO_BREAK = "\ufeff"
_STRONG_RTL = frozenset({"R", "AL"})
_NUMBER = frozenset({"EN", "AN"})
_MIRROR = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")


def _is_presentation_form(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _PRESENTATION_FORMS)


def fold_presentation_forms(text: str) -> str:
    """Presentation forms (U+FB00–U+FDFF, U+FE70–U+FEFF) as the standard letters (NFKC).

    Arabic contextual forms and ligatures become letters (ﻻ becomes لا), and so do the Latin
    ligatures of the same blocks (ﬁ becomes fi). Only those blocks are folded: the rest of the
    text keeps its exact characters. An isolated
    vowel mark (U+FE70 ً) folds to the mark alone rather than NFKC's space + mark, and the
    zero-width no-break space (U+FEFF) is dropped.
    """
    if not any(_is_presentation_form(c) for c in text):
        return text
    out: list[str] = []
    for char in text:
        if char == _ZERO_WIDTH_NO_BREAK:
            continue
        if not _is_presentation_form(char):
            out.append(char)
            continue
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded.lstrip(" ") or folded)
    return "".join(out)


def _kind(char: str) -> str:
    """'R' (right-to-left letter), 'L' (left-to-right letter), 'N' (number) or ' ' (neutral)."""
    bidi = unicodedata.bidirectional(char)
    if bidi in _STRONG_RTL:
        return "R"
    if bidi == "L":
        return "L"
    if bidi in _NUMBER:
        return "N"
    return " "


def is_rtl(text: str) -> bool:
    """Whether a text has more right-to-left letters than left-to-right ones."""
    kinds = [_kind(c) for c in text]
    return kinds.count("R") > kinds.count("L")


def _nearest(values: list[str], wanted: str) -> tuple[list[str], list[str]]:
    """For each position, the nearest value in `wanted` before it and after it ("" if none)."""
    before: list[str] = []
    last = ""
    for value in values:
        before.append(last)
        if value in wanted:
            last = value
    after: list[str] = []
    last = ""
    for value in reversed(values):
        after.append(last)
        if value in wanted:
            last = value
    return before, after[::-1]


def _levels(kinds: list[str], rtl: bool) -> list[int]:
    """Embedding levels of the characters of a line, as the Unicode bidi algorithm gives them.

    Letters take their direction's level; numbers sit one level above the right-to-left text
    around them (a number inside Arabic stays left to right); neutrals between two runs of the
    same direction join them, others take the line's base level.
    """
    base = 1 if rtl else 0
    letter_before, letter_after = _nearest(kinds, "RL")
    levels: list[int] = []
    for kind, left, right in zip(kinds, letter_before, letter_after, strict=True):
        if kind == "N":
            in_rtl = rtl or ("R" in (left, right) and "L" not in (left, right))
            levels.append(2 if in_rtl else base)
        elif kind in "RL":
            levels.append({"R": 1, "L": 2 if rtl else 0}[kind])
        else:
            levels.append(-1)
    marks = [str(level) if level >= 0 else " " for level in levels]
    level_before, level_after = _nearest(marks, "0123")
    for i, level in enumerate(levels):
        if level < 0:
            before = int(level_before[i] or base)
            after = int(level_after[i] or base)
            levels[i] = max(base, min(before, after))
    return levels


def visual_to_logical(line: str, rtl: bool) -> str:
    """One line from drawing (left-to-right visual) order to reading order.

    `rtl` is the direction of the paragraph the line belongs to. Runs are reversed level by
    level, highest first (rule L2 of the bidi algorithm, which undoes itself on such text),
    and brackets in right-to-left runs are mirrored back, as PDF renderers mirror their glyphs.
    """
    if not any(_kind(c) == "R" for c in line):
        return line
    chars = list(line)
    levels = _levels([_kind(c) for c in chars], rtl)
    for level in range(max(levels), 0, -1):
        i = 0
        while i < len(chars):
            if levels[i] < level:
                i += 1
                continue
            j = i
            while j < len(chars) and levels[j] >= level:
                j += 1
            chars[i:j] = chars[i:j][::-1]
            levels[i:j] = levels[i:j][::-1]
            i = j
    odd = [c.translate(_MIRROR) if lv % 2 else c for c, lv in zip(chars, levels, strict=True)]
    return "".join(odd)
