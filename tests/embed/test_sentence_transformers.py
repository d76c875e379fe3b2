"""The sentence-transformers backend, with the all-MiniLM-L6-v2 model a package ships (offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.backends import open_pipeline
from qa.domain import Document
from qa.embed import Embedder, make_embedder
from qa.embed.factory import bundled_minilm_path
from qa.errors import ConfigError, IndexMismatchError
from qa.pipeline import PipelineOptions

pytestmark = pytest.mark.slow  # loads or exports a real transformer model


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return make_embedder("all-MiniLM-L6-v2")


def test_bundled_minilm_is_found() -> None:
    path = bundled_minilm_path()
    assert path is not None and (Path(path) / "config.json").exists()


def test_embeddings_are_normalised_and_meaningful(minilm: Embedder) -> None:
    assert minilm.dim == 384
    vectors = minilm.embed_passages(["A cat sits on the mat.", "Stock markets fell sharply."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = minilm.embed_queries(["Where is the cat?"])[0]
    assert vectors[0] @ query > vectors[1] @ query
    assert minilm.count_tokens("hello world") >= 3


def test_pipeline_with_minilm_and_manifest_guard(
    minilm: Embedder, embedder: Embedder, tmp_path: Path
) -> None:
    index = tmp_path / "minilm-index"
    pipeline = open_pipeline(
        PipelineOptions(index_dir=index, embedder="all-MiniLM-L6-v2"), embedder=minilm
    )
    pipeline.add_documents(
        [
            Document(id="cats", text="Cats sleep for most of the day and hunt at night."),
            Document(id="rain", text="Heavy rain flooded the valley roads on Tuesday."),
        ]
    )
    assert pipeline.search("When do cats hunt?", top_k=1)[0].passage.document_id == "cats"
    assert pipeline.manifest.embedder == "sentence-transformers/all-MiniLM-L6-v2"
    pipeline.close()
    with pytest.raises(IndexMismatchError, match="QA_EMBEDDER"):
        open_pipeline(PipelineOptions(index_dir=index), embedder=embedder)


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot load"):
        make_embedder(str(Path("/nonexistent/model-dir")))


def test_a_pipeline_cuts_passages_to_the_model_window(minilm: Embedder, tmp_path: Path) -> None:
    """MiniLM reads 256 tokens: no passage (with its title) is longer, so none is truncated."""
    from qa.backends import open_pipeline
    from qa.domain import Document
    from qa.pipeline import PipelineOptions
    from qa.text.chunk import with_title

    body = " ".join(f"The river number {i} floods its valley every spring." for i in range(120))
    pipeline = open_pipeline(
        PipelineOptions(index_dir=tmp_path / "i", embedder="all-MiniLM-L6-v2"), embedder=minilm
    )
    pipeline.add_documents([Document(id="rivers", text=body, title="Rivers of the world")])
    passages = [h.passage for h in pipeline.search("river floods", top_k=50)]
    counts = [minilm.count_tokens(with_title(p)) for p in passages]
    assert len(passages) > 3 and max(counts) <= minilm.max_tokens == 256
    pipeline.close()
