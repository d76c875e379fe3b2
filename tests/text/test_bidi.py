import pytest

from qa.text.bidi import fold_presentation_forms, is_rtl, visual_to_logical


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ﻋﻤﺮان ﺧﺎن", "عمران خان"),  # contextual forms, as pypdf returned them
        ("ﻻ", "لا"),  # the lam-alef ligature is two letters
        ("ﻓﻀﻼً", "فضلاً"),  # a mark that is already standard stays
        ("ﺎﹰ", "اً"),  # an isolated vowel mark folds without NFKC's space
        ("\ufeffﺑﻴﺎن", "بيان"),  # the zero-width no-break space goes
        ("ﬁle and ﬂow", "file and flow"),  # Latin ligatures of the same block
        ("عمران خان", "عمران خان"),  # standard letters are left alone
        ("Imran Khan ①½", "Imran Khan ①½"),  # NFKC is not applied outside the blocks
        ("2490 ميغاواط ﻧﻮوي", "2490 ميغاواط نووي"),
    ],
)
def test_fold_presentation_forms(text: str, expected: str) -> None:
    assert fold_presentation_forms(text) == expected


@pytest.mark.parametrize(
    ("visual", "rtl", "logical"),
    [
        ("ناﺮﻤﻋ", True, "ﻋﻤﺮان"),
        ("ﺮﺒﻤﺴﻳد 23 مﻮﻳ", True, "ﻳﻮم 23 دﻳﺴﻤﺒﺮ"),  # a number inside Arabic stays in order
        ("ﺮﺒﻤﺴﻳد 2014 مﻮﻳ", True, "ﻳﻮم 2014 دﻳﺴﻤﺒﺮ"),
        ("Imran Khan ناﺮﻤﻋ", True, "ﻋﻤﺮان Imran Khan"),  # an English phrase inside Arabic
        ("Pakistan :ﺪﻠﺒﻟا", True, "ﺒﻟﺪ: Pakistan"[::1].replace("ﺒﻟﺪ", "اﻟﺒﻠﺪ")),
        ("(ﻂﻳاوﺎﻐﻴﻣ) 2490", True, "2490 (ﻣﻴﻐﺎواﻳﻂ)"),  # brackets drawn mirrored
        ("The ناﺮﻤﻋ visit", False, "The ﻋﻤﺮان visit"),  # an Arabic word in English
        ("on ﺮﺒﻤﺴﻳد 23 مﻮﻳ here", False, "on ﻳﻮم 23 دﻳﺴﻤﺒﺮ here"),
        ("Plain English line.", False, "Plain English line."),
        ("Plain English line.", True, "Plain English line."),  # nothing to reorder
        ("", True, ""),
    ],
)
def test_visual_to_logical(visual: str, rtl: bool, logical: str) -> None:
    assert visual_to_logical(visual, rtl) == logical


@pytest.mark.parametrize(
    ("text", "expected"),
    [("عمران خان", True), ("Imran Khan", False), ("عمران Khan Imran", False), ("2490", False)],
)
def test_is_rtl(text: str, expected: bool) -> None:
    assert is_rtl(text) is expected
