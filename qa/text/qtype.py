"""What kind of answer a question asks for, read off its wording in several languages."""

from __future__ import annotations

import re
import unicodedata

from qa.text.normalize import normalize

# Questions that want a number, a date or a year: their answer clause should hold a digit.
_NUMERIC = re.compile(
    r"(^|\s)(متي|كم|اي عام|اي سنه|في اي عام|في اي سنه|عام كم|سنه كم|اي تاريخ|ما تاريخ|"
    r"when|how many|how much|how old|what year|which year|what date|"
    r"quand|combien|quelle annee|en quelle annee|wann|wie viele|wie viel|welchem jahr|"
    r"cuando|cuantos|cuanto)(\s|$|\?|؟)"
)
_DIGIT = re.compile(r"\d")
# Whole words only (an optional و before): as bare substrings "اب" (Aug.) matched
# كتاب and الإرهاب, and "مارس" matched ممارسة.
_MONTHS = re.compile(
    r"(?<!\w)و?(يناير|فبراير|مارس|ابريل|مايو|يونيو|يوليو|اغسطس|سبتمبر|اكتوبر|نوفمبر|ديسمبر|"
    r"كانون|شباط|اذار|نيسان|ايار|حزيران|تموز|اب|ايلول|تشرين)(?!\w)"
)
_INVERTED_MARKS = str.maketrans("¿¡", "  ")


def wants_number(question: str) -> bool:
    """True when the question asks when, how many, how much or which year."""
    folded = unicodedata.normalize("NFKD", normalize(question).translate(_INVERTED_MARKS))
    unaccented = "".join(c for c in folded if not unicodedata.combining(c))  # année, cuándo
    return bool(_NUMERIC.search(unaccented.replace("؟", " ? ")))


def has_number(text: str) -> bool:
    """True when a text holds a digit or a month name."""
    folded = normalize(text)
    return bool(_DIGIT.search(folded) or _MONTHS.search(folded))
