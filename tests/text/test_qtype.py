"""Which questions ask for a number, and which clauses hold one (Arabic, English, French…)."""

from __future__ import annotations

import pytest

from qa.text.qtype import has_number, wants_number


@pytest.mark.parametrize(
    ("question", "numeric"),
    [
        ("متى ولد جبران خليل جبران؟", True),
        ("كم عدد سكان مصر؟", True),
        ("منذ أي عام تنظر باكستان إلى علاقتها مع روسيا؟", True),
        ("في أيّ سنة تأسست الدولة؟", True),  # diacritics and hamza folded
        ("ما تاريخ المؤتمر؟", True),
        ("ماذا أكد عمران خان؟", False),
        ("ما هو الكم؟", False),  # كم only as a question word
        ("When was Putin's annual press conference held?", True),
        ("How many people live in Egypt?", True),
        ("In what year did it start?", True),
        ("What year did it start?", True),
        ("What did Imran Khan emphasize?", False),
        ("Whenever he calls, who answers?", False),  # 'when' inside a word
        ("Quand est-il né ?", True),
        ("En quelle année est-il né ?", True),  # accents folded
        ("Combien d'habitants ?", True),
        ("Qui a parlé avec Imran Khan ?", False),
        ("In welchem Jahr wurde er geboren?", True),
        ("Wie viele Einwohner hat Kairo?", True),
        ("¿Cuándo nació?", True),  # inverted mark and accent
        ("¿Cuántos años tenía?", True),
        ("¿Quién habló con Putin?", False),
    ],
)
def test_wants_number(question: str, numeric: bool) -> None:
    assert wants_number(question) is numeric


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("منذ عام 1947 من منظور علاقتها بالهند", True),
        ("منذ عام ١٩٤٧", True),  # Arabic-Indic digits
        ("المؤتمر الصحفي السنوي يوم 23 ديسمبر", True),
        ("ولد في مارس", True),
        ("وفي أيار اجتمعوا", True),  # Levantine month names
        ("في آب الماضي", True),
        ("ومارس الماضي", True),  # with و before it
        ("كتاب عن الإرهاب", False),  # "اب" (August) inside words is no month
        ("ممارسة الرياضة", False),  # nor "مارس" inside ممارسة
        ("الانتخابات البرلمانية", False),
        ("شدد على الدعم الواسع", False),
        ("The crane lifted cargo at dawn.", False),
        ("Born in 1950.", True),
    ],
)
def test_has_number(text: str, number: bool) -> None:
    assert has_number(text) is number
