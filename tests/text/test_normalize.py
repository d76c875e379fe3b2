"""Normalisation, light stemming, tokens and script detection (Arabic, English, mixed)."""

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
        ("الحب", "الحب"),  # the article would leave two letters: kept
        ("ومصر", "مصر"),  # و leaves exactly three letters: stripped
        ("كتابها", "كتاب"),  # suffix leaves four letters
        ("سنه", "سنه"),  # a suffix that would leave two letters stays
        ("الطلاب", "طلاب"),
        ("المجموعات", "مجموع"),
        ("القنبلتان", "قنبلت"),  # the feminine dual "تان" loses its "ان"
        ("السنتان", "سنت"),
    ],
)
def test_light_stem(token: str, stem: str) -> None:
    assert light_stem(normalize(token)) == stem


@pytest.mark.parametrize(
    ("name", "common_word"),
    [
        ("عمران", "عمر"),  # Imran, not Omar
        ("سليمان", "سليم"),  # Suleiman, not Salim
        ("لبنان", "لبن"),  # Lebanon, not milk
        ("مروان", "مرو"),
        ("عثمان", "عثم"),
        ("ايران", "اير"),
        ("باكستان", "باكست"),
        ("اليابان", "ياب"),
        ("رمضان", "رمض"),
        ("افغانستان", "افغانست"),
        ("كازاخستان", "كازاخست"),
    ],
)
def test_names_ending_in_an_stay_whole(name: str, common_word: str) -> None:
    """A name is not cut to another word: "ان" ends these words, it is not a dual."""
    stem = light_stem(normalize(name))
    assert stem != common_word
    assert stem == normalize(name).removeprefix("ال")


@pytest.mark.parametrize(
    ("adjective", "name"),
    [
        ("الباكستانية", "باكستان"),
        ("الإيراني", "إيران"),
        ("اللبنانية", "لبنان"),
        ("اليابانية", "اليابان"),
        ("وعمران", "عمران"),
    ],
)
def test_a_name_meets_its_adjective_and_prefixed_forms(adjective: str, name: str) -> None:
    assert light_stem(normalize(adjective)) == light_stem(normalize(name))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ماذا أكد عمران خان في المؤتمر؟", ["اكد", "عمران", "خان", "موتمر"]),
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
        ("ab سم", "arabic"),  # a tie goes to Arabic
        ("Putin بوتين", "arabic"),  # five letters each
        ("Putin بوتي", "latin"),
        ("Ça été", "latin"),  # accented Latin letters count as Latin
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_fold_whitespace() -> None:
    assert fold_whitespace("  a \n\t b  ") == "a b"
