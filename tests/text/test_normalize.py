import pytest

from qa.text.normalize import fold_whitespace, light_stem, normalize, script_of, tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أكّدَ", "اكد"),  # hamza-alef, shadda and fatha
        ("إسلام آمن ٱلله", "اسلام امن الله"),  # alef variants
        ("مصطفى", "مصطفي"),  # alef maqsura
        ("مدرسة", "مدرسه"),  # teh marbuta
        ("كـــبير", "كبير"),  # tatweel
        ("عام ١٩٤٧", "عام 1947"),  # Arabic-Indic digits
        ("Imran KHAN", "imran khan"),  # Latin casefold
        ("Straße", "strasse"),  # German casefold
        ("ﻻ", "لا"),  # presentation form (NFKC)
        ("Putin قال", "putin قال"),  # mixed scripts
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("token", "stem"),
    [
        ("والمجالات", "مجال"),
        ("بالهند", "هند"),
        ("الباكستانية", "باكستان"),
        ("كتب", "كتب"),  # too short to strip
        ("running", "running"),  # non-Arabic tokens are left alone
    ],
)
def test_light_stem(token: str, stem: str) -> None:
    assert light_stem(normalize(token)) == stem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ماذا أكد عمران خان في المؤتمر؟", ["اكد", "عمر", "خان", "موتمر"]),
        ("What did Imran Khan emphasize?", ["imran", "khan", "emphasize"]),
        ("Qui a parlé avec Poutine ?", ["parlé", "poutine"]),
        ("", []),
    ],
)
def test_tokens_drop_stopwords_and_stem(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("مرحبا بالعالم", "arabic"),
        ("hello world", "latin"),
        ("1234 !!", "other"),
        ("Putin بوتين بوتين", "arabic"),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_fold_whitespace() -> None:
    assert fold_whitespace("  a \n\t b  ") == "a b"
