"""Lines of a laid-out page joined back into paragraphs, and the lines that are page furniture."""

from __future__ import annotations

import re

_HYPHENS = ("-", "\u2010")
_SOFT_HYPHEN = "\u00ad"
_SENTENCE_FINAL = ".!?؟…:؛\"'”»)"
# A page number alone on a line: "3", "- 3 -", "Page 3", "3 / 12", "p. 3", "صفحة ٣ من ١٢".
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—|]*(?:(?:page|p\.|pp\.|seite|صفحة|الصفحة)\s*)?[\d\u0660-\u0669]+"
    r"(?:\s*(?:/|of|من|von)\s*[\d\u0660-\u0669]+)?[\s\-–—|]*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"[\d\u0660-\u0669]+")


def join_lines(lines: list[str]) -> tuple[str, list[int]]:
    """Lines of one paragraph as one text, and where each line starts in it.

    A line break becomes a space, except after a soft hyphen or a hyphen that follows a
    letter: "inter-\\nnational" is one word (a hyphen before a lower-case Latin letter only
    broke the word), "Russian-\\nIndian" and "الهندية-\\nالروسية" keep their hyphen.
    """
    text = ""
    starts: list[int] = []
    broken = False  # the previous line ended with a soft hyphen
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if text and not broken:
            if _hyphenated(text, line):
                text = text[:-1]
            elif not (text.endswith(_HYPHENS) and text[-2:-1].isalpha()):
                text += " "
        broken = line.endswith(_SOFT_HYPHEN)
        starts.append(len(text))
        text += line.replace(_SOFT_HYPHEN, "")
    return text, starts


def _hyphenated(text: str, line: str) -> bool:
    """Whether text ends with a word broken by a hyphen that the next line finishes."""
    return len(text) >= 2 and text.endswith(_HYPHENS) and text[-2].isalpha() and line[0].islower()


def ends_sentence(line: str) -> bool:
    """Whether a line ends with sentence-final punctuation (a paragraph may end there)."""
    stripped = line.rstrip()
    return bool(stripped) and stripped[-1] in _SENTENCE_FINAL


def is_page_number(line: str) -> bool:
    """Whether a line is only a page number ("3", "- 3 -", "Page 3 of 9", "صفحة 3")."""
    return bool(_PAGE_NUMBER.match(line))


def furniture_key(line: str) -> str:
    """A line with its numbers blanked, so running headers that count pages compare equal."""
    return _DIGITS.sub("#", " ".join(line.split())).casefold()
