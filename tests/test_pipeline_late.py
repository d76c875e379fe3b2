"""Indexing with clause vectors from the passage's pass (QA_CLAUSE_VECTORS=late, split or
mapped) and with clauses embedded apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.backends import open_pipeline
from qa.choices import ClauseVectors
from qa.config import load_settings
from qa.domain import Document
from qa.embed import Embedder
from qa.embed.base import SpanEmbedder, Vectors
from qa.pipeline import CLAUSE_LAYERS, PipelineOptions
from qa.text.chunk import ChunkingConfig, with_title

TITLE = "A long heading that the passage is embedded with, so clause offsets move right"
TEXT = (
    "The Rhine rises in the Swiss Alps. "
    "Cairo is the largest city in Africa. "
    "The volcano Krakatoa erupted in 1883. "
    "Bees make honey from the nectar of flowers."
)


class _Recording:
    """The real embedder, keeping every passage it embeds and how (alone or with spans)."""

    def __init__(self, embedder: Embedder, spans: SpanEmbedder) -> None:
        self.embedder, self.spans = embedder, spans
        self.alone: list[str] = []
        self.with_spans: list[str] = []
        self.clause_layers: list[int] = []  # of each call with spans
        self.fitted: list[bool] = []

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def max_tokens(self) -> int:
        return self.embedder.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.embedder.count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embedder.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.alone += texts
        return self.embedder.embed_passages(texts)

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        clause_layers: int = 0,
        *,
        fitted: bool = False,
    ) -> tuple[Vectors, list[Vectors]]:
        self.with_spans += texts
        self.clause_layers.append(clause_layers)
        self.fitted.append(fitted)
        return self.spans.embed_passages_with_spans(texts, spans, clause_layers, fitted=fitted)


@pytest.fixture
def recording(embedder: Embedder) -> _Recording:
    if not isinstance(embedder, SpanEmbedder):
        pytest.skip("the torch indexing engine (sentence-transformers) is not installed")
    return _Recording(embedder, embedder)


@pytest.mark.parametrize("mode", ["late", "split", "mapped", "separate"])
def test_each_clause_vector_is_its_clause(
    tmp_path: Path, recording: _Recording, mode: ClauseVectors
) -> None:
    """Stored clause vectors line up with their clauses, past the title the passage is
    embedded with: each is nearest to its own clause embedded alone."""
    options = PipelineOptions(index_dir=tmp_path / mode, clause_vectors=mode)
    pipeline = open_pipeline(options, embedder=recording)
    recording.alone.clear()
    pipeline.add_documents([Document(id="facts", text=TEXT, title=TITLE)])
    [stored] = pipeline.store.passages_of("facts")
    clauses = [stored.passage.text[c.start : c.end] for c in stored.passage.clauses]
    assert len(clauses) == 4
    alone = recording.embedder.embed_passages(clauses)
    assert np.argmax(stored.clause_vectors @ alone.T, axis=1).tolist() == [0, 1, 2, 3]
    if mode != "separate":
        assert recording.alone == [] and recording.with_spans == [with_title(stored.passage)]
        assert recording.clause_layers == [CLAUSE_LAYERS[mode]]
        assert recording.fitted == [mode == "mapped"]
    else:
        assert recording.with_spans == [] and len(recording.alone) == 5
    answer = pipeline.ask("When did Krakatoa erupt?").answer
    assert answer is not None and "1883" in answer.text
    pipeline.close()


def test_mapped_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_CLAUSE_VECTORS", raising=False)
    assert load_settings().clause_vectors == "mapped"
    assert PipelineOptions(index_dir=Path("i")).clause_vectors == "mapped"


def test_late_indexing_embeds_each_passage_once(tmp_path: Path, recording: _Recording) -> None:
    chunking = ChunkingConfig(max_tokens=60)
    options = PipelineOptions(index_dir=tmp_path / "d", chunking=chunking, clause_vectors="late")
    pipeline = open_pipeline(options, embedder=recording)
    recording.alone.clear()
    body = " ".join(f"Report {i} says the river {i} floods in spring." for i in range(30))
    pipeline.add_documents([Document(id="rivers", text=body)])
    passages = [s.passage for s in pipeline.store.passages_of("rivers")]
    assert len(passages) > 2 and passages[1].start < passages[0].end  # windows overlap
    assert recording.alone == []
    assert recording.with_spans == [with_title(p) for p in passages]
    hit = pipeline.ask("Which report says river 17 floods?").answer
    assert hit is not None and "17" in hit.text
    pipeline.close()


def test_re_adding_reuses_the_vectors_of_unchanged_passages(
    tmp_path: Path, recording: _Recording
) -> None:
    options = PipelineOptions(index_dir=tmp_path / "r", clause_vectors="late")
    pipeline = open_pipeline(options, embedder=recording)
    text = "The Nile floods in summer.\n\nThe Rhine starts in the Alps.\n\nThe Danube ends at sea."
    pipeline.add_documents([Document(id="rivers", text=text, title="Rivers")])
    before = {s.passage.text: s.clause_vectors for s in pipeline.store.passages_of("rivers")}
    recording.with_spans.clear()
    pipeline.add_documents([Document(id="rivers", text=text, title="Rivers")])
    assert recording.with_spans == []
    edited = text.replace("at sea", "in the Black Sea")
    pipeline.add_documents([Document(id="rivers", text=edited, title="Rivers")])
    assert recording.with_spans == ["Rivers\nThe Danube ends in the Black Sea."]
    after = {s.passage.text: s.clause_vectors for s in pipeline.store.passages_of("rivers")}
    assert np.array_equal(after["The Nile floods in summer."], before["The Nile floods in summer."])
    assert "Black Sea" in pipeline.search("Where does the Danube end?", top_k=1)[0].passage.text
    pipeline.close()


def test_pooled_clauses_do_not_split_the_embedding_call(
    tmp_path: Path, recording: _Recording
) -> None:
    """A group is cut by the texts it embeds: with clauses pooled from their passages, 40
    short documents of 8 clauses each (360 texts apart, 40 passages) go in one call."""
    documents = [
        Document(id=f"d{i}", text=" ".join(f"Fact {j} of item {i} is true." for j in range(8)))
        for i in range(40)
    ]
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path / "g"), embedder=recording)
    recording.alone.clear()
    pipeline.add_documents(documents)
    assert len(recording.with_spans) == 40 and len(recording.clause_layers) == 1
    assert recording.alone == []
    pipeline.close()
