import pytest

from qa.text.lines import ends_sentence, furniture_key, is_page_number, join_lines


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        (["The call was", "held on Monday."], "The call was held on Monday."),
        (["an inter-", "national call"], "an international call"),  # a hyphenated word
        (["Russian-", "Indian alliance"], "Russian-Indian alliance"),  # a hyphen that stays
        (["وضرورة إستغلال", "الفرص المستقبلية"], "وضرورة إستغلال الفرص المستقبلية"),
        (["الصداقة الهندية-", "الروسية"], "الصداقة الهندية-الروسية"),  # Arabic keeps its hyphen
        (["co\u00ad", "operation"], "cooperation"),  # a soft hyphen at the break
        (["bro\u00adken word", ""], "broken word"),  # and inside a line
        (["  spaced  ", "", " out "], "spaced out"),
        (["1947", "- 23"], "1947 - 23"),
        (["in 1947-", "1950"], "in 1947- 1950"),  # only a hyphen after a letter joins
        ([], ""),
    ],
)
def test_join_lines(lines: list[str], text: str) -> None:
    joined, starts = join_lines(lines)
    assert joined == text
    kept = [line.strip().replace("\u00ad", "") for line in lines if line.strip()]
    for start, line in zip(starts, kept, strict=True):
        assert joined[start:].startswith(line.rstrip("-\u2010"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("3", True),
        ("- 3 -", True),
        ("Page 3 of 12", True),
        ("1/2", True),
        ("صفحة ٣", True),
        ("٣ من ١٢", True),
        ("p. 14", True),
        ("3 ديسمبر", False),
        ("Chapter 3", False),
        ("2490 ميغاواط", False),
    ],
)
def test_is_page_number(line: str, expected: bool) -> None:
    assert is_page_number(line) is expected


def test_furniture_key_ignores_page_numbers_and_spacing() -> None:
    assert furniture_key("Annual  Report — page 3") == furniture_key("Annual Report — page 12")
    assert furniture_key("تقرير الطاقة ٣") == furniture_key("تقرير الطاقة ٤")
    assert furniture_key("Annual Report") != furniture_key("Quarterly Report")


@pytest.mark.parametrize(
    ("line", "expected"),
    [("Done.", True), ("تم؟", True), ("الكورونا”.", True), ("the line goes", False), ("", False)],
)
def test_ends_sentence(line: str, expected: bool) -> None:
    assert ends_sentence(line) is expected
