"""Questions through ONNX Runtime: same vectors as torch, exported once, torch as the fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embed.factory import bundled_minilm_path
from qa.embed.onnx_query import model_digest, pool, pooling_mode
from qa.embed.sentence_transformers import SentenceTransformerEmbedder
from qa.errors import ConfigError

pytestmark = pytest.mark.slow  # loads or exports a real transformer model

QUESTIONS = [
    "What did Imran Khan emphasize?",
    "ماذا أكد عمران خان؟",
    "Qui a parlé au téléphone avec Imran Khan ?",
    "a",
    " ".join(["long question about rivers and floods"] * 60),  # over the 256-token limit
]


def _module(name: str, config: dict[str, Any] | None = None) -> Any:
    return type(name, (), {"get_config_dict": lambda self: config or {}})()


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        ([("Transformer", None), ("Pooling", {"pooling_mode": "mean"})], "mean"),
        ([("Transformer", None), ("Pooling", {"pooling_mode": "cls"}), ("Normalize", None)], "cls"),
        ([("Transformer", None), ("Pooling", {"pooling_mode_mean_tokens": True})], "mean"),
        ([("Transformer", None), ("Pooling", {"pooling_mode": "max"})], None),
        ([("Transformer", None), ("Pooling", {"pooling_mode": "lasttoken"})], None),
        ([("Transformer", None), ("Pooling", {"pooling_mode": "mean"}), ("Dense", None)], None),
        (
            [("Transformer", None), ("Pooling", {"pooling_mode": "mean", "include_prompt": False})],
            None,
        ),
    ],
)
def test_pooling_mode(chain: list[tuple[str, Any]], expected: str | None) -> None:
    assert pooling_mode([_module(name, config) for name, config in chain]) == expected


def test_pool_masks_padding_and_normalises() -> None:
    states = np.array([[[1.0, 0.0], [0.0, 3.0], [9.0, 9.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(pool(states, mask, "mean"), [[1 / np.sqrt(10), 3 / np.sqrt(10)]])
    np.testing.assert_allclose(pool(states, mask, "cls"), [[1.0, 0.0]])


def test_model_digest_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"a": 1}')
    first = model_digest(tmp_path)
    assert model_digest(tmp_path) == first
    (tmp_path / "config.json").write_text('{"a": 2}')
    assert model_digest(tmp_path) != first


@pytest.fixture(scope="module")
def minilm_path() -> str:
    path = bundled_minilm_path()
    assert path is not None
    return path


def test_onnx_questions_equal_torch_and_export_once(minilm_path: str, tmp_path: Path) -> None:
    torch_only = SentenceTransformerEmbedder(minilm_path, query_engine="torch")
    onnx = SentenceTransformerEmbedder(minilm_path, cache_dir=tmp_path)
    assert (torch_only.query_engine, onnx.query_engine) == ("torch", "onnx")
    for question in QUESTIONS:
        np.testing.assert_allclose(
            onnx.embed_queries([question]), torch_only.embed_queries([question]), atol=1e-5
        )
    np.testing.assert_allclose(  # a padded batch of several
        onnx.embed_queries(QUESTIONS), torch_only.embed_queries(QUESTIONS), atol=1e-5
    )
    [exported] = list(tmp_path.glob("onnx-*/model.onnx"))
    stamp = exported.stat().st_mtime_ns
    again = SentenceTransformerEmbedder(minilm_path, cache_dir=tmp_path)
    assert again.query_engine == "onnx"
    assert exported.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(tmp_path.glob("onnx-*/.model.onnx.*"))  # no temporaries left


def test_export_failure_falls_back_to_torch(minilm_path: str, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    embedder = SentenceTransformerEmbedder(minilm_path, cache_dir=blocked)
    assert embedder.query_engine == "torch"
    assert embedder.embed_queries(QUESTIONS[:1]).shape == (1, 384)


def test_unknown_query_engine_is_a_config_error(minilm_path: str) -> None:
    with pytest.raises(ConfigError, match="query engine"):
        SentenceTransformerEmbedder(minilm_path, query_engine="tensorrt")
