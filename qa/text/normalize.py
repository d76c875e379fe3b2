"""Arabic-aware normalisation and tokenisation for lexical matching (never for display)."""

from __future__ import annotations

import re
import unicodedata

NORMALIZER_VERSION = "ar-1"

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_LETTER_MAP = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        "ک": "ك",
        "ی": "ي",
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
    }
)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_ARABIC_CHAR = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_LATIN_CHAR = re.compile("[A-Za-z\u00c0-\u024f]")

# Light stemming in the style of Larkey's light10: strip one common prefix and one suffix,
# keeping at least three letters, so that "والمجالات" and "مجال" meet.
_PREFIXES = ("وال", "فال", "بال", "كال", "لل", "ال", "و")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
# A final "ان" is the dual ending only after the feminine ت ("قنبلتان"), and "ستان" is the
# "-stan" of place names: elsewhere "ان" is mostly part of a name or of the word itself. Of
# the 30 most frequent words light10 cut at "ان" in the ARCD contexts and the seed article,
# 20 were names (عمران → عمر "Omar", سليمان → سليم, لبنان → لبن "milk", ايران, باكستان,
# اليابان), 8 nouns whose ن is their own (انسان, سرطان, سلطان, عنوان) and 2 a broken plural
# (بلدان); none was a dual. Cutting also split a name from its adjective: "ايراني" → "ايران"
# but "ايران" → "اير". Words ending in "تان" there: 24 "-stan" names, 5 duals.
_DUAL = "تان"
_STAN = "ستان"

_ARABIC_STOPWORDS_RAW = (
    "في من الى إلى على عن مع ما ماذا متى كم كيف هل هو هي هم أن ان إن لم لن قد "
    "كان كانت التي الذي الذين اللذين ذلك تلك هذا هذه هؤلاء أي او أو ثم بين عند "
    "منذ حتى كل بعض غير بعد قبل لماذا اين أين أي ما الذى لا نعم و ف ب ل ك"
)
ENGLISH_STOPWORDS = frozenset(
    (
        "a an the of in on at to for from by with and or but is are was were be been being "
        "do does did what which who whom whose when where why how that this these those it its "
        "as into about than then there their they he she his her him i you we our your not no "
        "has have had will would can could should may might le la les de des du un une et est "
        "en que qui quoi quel quelle quels quelles au aux il elle ils ce cet cette pour par sur "
        "dans avec der die das und ist ein eine was wer wann wie warum den dem des mit von zu im"
    ).split()
)


def normalize(text: str) -> str:
    """Fold text for matching: NFKC, casefold, no Arabic diacritics or tatweel, letters unified."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    return text.translate(_LETTER_MAP)


ARABIC_STOPWORDS = frozenset(normalize(word) for word in _ARABIC_STOPWORDS_RAW.split())


def light_stem(token: str) -> str:
    """Strip one Arabic prefix and one suffix when at least three letters remain.

    A final "ان" goes only as the feminine dual "تان": names such as عمران and باكستان
    stay whole.
    """
    if not _ARABIC_CHAR.search(token):
        return token
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            token = token[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if suffix == "ان" and (not token.endswith(_DUAL) or token.endswith(_STAN)):
            continue
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)]
            break
    return token


def tokens(text: str, *, stem: bool = True, drop_stopwords: bool = True) -> list[str]:
    """Normalised (and by default light-stemmed, stopword-free) word tokens of a text."""
    out: list[str] = []
    for raw in _TOKEN.findall(normalize(text)):
        if drop_stopwords and (raw in ARABIC_STOPWORDS or raw in ENGLISH_STOPWORDS):
            continue
        out.append(light_stem(raw) if stem else raw)
    return out


def script_of(text: str) -> str:
    """'arabic', 'latin' or 'other': the dominant script of the letters in a text."""
    arabic = len(_ARABIC_CHAR.findall(text))
    latin = len(_LATIN_CHAR.findall(text))
    if arabic == latin == 0:
        return "other"
    return "arabic" if arabic >= latin else "latin"


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends."""
    return " ".join(text.split())
