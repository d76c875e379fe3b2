"""The pure-Python unigram tokenizer: normalisation, Viterbi search, offsets, and (with the
exported model) the same ids and offsets as `tokenizers` on text the reader reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.embed.pieces import PieceTokenizer, graphemes, normalize, words

MAPPING = {"\t": " ", "\r": " ", "\n": " ", "\u200f": " ", "\u00a0": " ", "ﻻ": "لا", "\x01": ""}


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("ab", ["a", "b"]),
        ("مَدْ", ["مَ", "دْ"]),  # a letter with its vowel mark is one cluster
        ("e\u0301x", ["e\u0301", "x"]),
        ("\r\nx", ["\r\n", "x"]),
        ("a\u200db", ["a\u200db"]),
        ("", []),
    ],
)
def test_graphemes(text: str, clusters: list[str]) -> None:
    assert [text[a:b] for a, b in graphemes(text)] == clusters


@pytest.mark.parametrize(
    ("text", "normalized", "starts", "ends"),
    [
        ("a b", "a▁b", (0, 1, 2), (1, 2, 3)),
        ("a \t b", "a▁b", (0, 3, 4), (1, 4, 5)),  # a run of spaces: the last one stays
        ("ﻻ x", "لا▁x", (0, 0, 1, 2), (1, 1, 2, 3)),  # one character becomes two
        ("a\x01b", "ab", (0, 2), (1, 3)),  # a dropped character leaves no trace
        ("\r\nb", "▁b", (0, 2), (1, 3)),  # "\r\n" is one cluster: mapped as its first character
        ("ﻻُx", "لاx", (0, 1, 2), (1, 2, 3)),  # two for two: one to one, as tokenizers aligns
        # nothing mapped: the shortcut, which must agree with the rows above
        ("ab", "ab", (0, 1), (1, 2)),
        (" a  b ", "▁a▁b▁", (0, 1, 3, 4, 5), (1, 2, 4, 5, 6)),
        ("مَد x", "مَد▁x", (0, 1, 2, 3, 4), (1, 2, 3, 4, 5)),
        ("", "", (), ()),
    ],
)
def test_normalize_keeps_each_character_s_source(
    text: str, normalized: str, starts: tuple[int, ...], ends: tuple[int, ...]
) -> None:
    norm = normalize(text, MAPPING)
    assert (norm.text, norm.starts, norm.ends) == (normalized, starts, ends)


@pytest.mark.parametrize("text", ["a  b", " مَد́ x ", "x"])
def test_unmapped_text_normalises_as_if_mapped_one_to_one(text: str) -> None:
    """The shortcut for text with nothing to map gives what the general path gives when each
    character maps to itself alone."""
    shortcut = normalize(text, MAPPING, offset=7)
    general = normalize(text, {ch: ch for ch in text}, offset=7, per_grapheme=False)
    assert shortcut == general


def test_words_start_at_each_space_mark() -> None:
    text = "▁ab▁c▁"
    assert [text[a:b] for a, b in words(text)] == ["▁ab", "▁c", "▁"]
    other = "ab▁c"
    assert [other[a:b] for a, b in words(other)] == ["ab", "▁c"]


def tiny() -> PieceTokenizer:
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "▁ab", "ab", "▁a", "c", "▁abc"]
    scores = [0.0, 0.0, 0.0, 0.0, -3.0, -2.0, -2.0, -1.0, -4.0, -2.5, -6.0, -20.0]
    return PieceTokenizer(pieces, scores, 3, MAPPING, [("<s>", 0), ("</s>", 2)])


@pytest.mark.parametrize(
    ("text", "ids", "offsets"),
    [
        ("ab", [7], [(0, 2)]),  # "▁ab" (-1) beats "▁a"+"b" (-4.5) and "▁abc" is not a prefix
        ("ab ab", [7, 7], [(0, 2), (2, 5)]),  # the space belongs to the next word
        ("abc", [7, 10], [(0, 2), (2, 3)]),  # -7 beats "▁abc" at -20
        ("a  b", [9, 4, 6], [(0, 1), (2, 3), (3, 4)]),
        ("xy a", [4, 3, 9], [(0, 1), (0, 2), (2, 4)]),  # unknown characters fuse into one <unk>
        ("a<s>b", [9, 0, 6], [(0, 1), (1, 4), (4, 5)]),  # no "▁" after a special token
        ("", [], []),
    ],
)
def test_encode_finds_the_best_segmentation(
    text: str, ids: list[int], offsets: list[tuple[int, int]]
) -> None:
    encoded = tiny().encode(text)
    assert (encoded.ids, encoded.offsets) == (ids, offsets)


def test_special_tokens_are_never_added() -> None:
    with pytest.raises(ValueError, match="no special tokens"):
        tiny().encode("a", add_special_tokens=True)


TEXTS = [
    "المَغْرِب أو (رسمياً: المَمْلَكَةُ المَغْرِبِيَّة)  (بالأمازيغية: ⵍⵎⵖⵔⵉⴱ)",
    "رجب طيب أردوغان (بالتركية: Recep Tayyip Erdoğan)\u200f (ولد في 26 فبراير 1954)، هو رئيس",
    "What did Imran Khan emphasize?  Qu'a dit le président ? Was sagte Putin am 23. Dezember?",
    "line\r\nbreak\ttab ـــ tatweel ﻻ ligature ﷺ Ⅻ ① ﬁ 日本語 emoji 👍🏽 👨‍👩‍👧 \u200bzero",
    "  leading spaces and trailing  ",
    "<s> special </s> inside<unk>",
    "é́ combining e\u0301 and 1,234.5 km² (٢٠٢٤م) «quoted»",
]


@pytest.mark.slow  # exports the bundled model
@pytest.mark.parametrize("text", TEXTS)
def test_the_same_ids_and_offsets_as_tokenizers(exported_dir: Path, text: str) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    reference = tokenizers.Tokenizer.from_file(str(exported_dir / "tokenizer.json"))
    want = reference.encode(text, add_special_tokens=False)
    got = PieceTokenizer.from_folder(exported_dir).encode(text)
    assert got.ids == want.ids
    assert got.offsets == [tuple(o) for o in want.offsets]
