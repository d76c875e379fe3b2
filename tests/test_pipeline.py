"""The pipeline end to end with the real bundled model (quality and plumbing)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from qa.backends import open_pipeline
from qa.domain import Document
from qa.embed import Embedder
from qa.embed.base import Vectors
from qa.errors import IndexMismatchError, InvalidInputError, NotFoundError
from qa.pipeline import Pipeline, PipelineOptions
from qa.text.chunk import ChunkingConfig, with_title


def test_answer_offsets_point_into_the_returned_source(seed_pipeline: Pipeline) -> None:
    result = seed_pipeline.ask("ماذا أكد عمران خان؟", top_k=3)
    assert result.answer is not None
    source = next(h.passage for h in result.hits if h.passage.id == result.answer.passage_id)
    assert source.text[result.answer.start : result.answer.end] == result.answer.text
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert 0.0 <= result.answer.score <= 1.0


def test_add_replace_delete_and_persistence(seed_pipeline: Pipeline, embedder: Embedder) -> None:
    doc = Document(
        id="kiwi", text="The kiwi is a flightless bird native to New Zealand.", title="Kiwi"
    )
    [added] = seed_pipeline.add_documents([doc])
    assert added.passages == 1 and not added.replaced
    assert seed_pipeline.search("flightless bird", top_k=1)[0].passage.document_id == "kiwi"

    replacement = Document(id="kiwi", text="Kiwifruit is an edible berry grown in Italy and Chile.")
    [again] = seed_pipeline.add_documents([replacement])
    assert again.replaced
    kiwi_hits = [
        h for h in seed_pipeline.search("kiwi", top_k=20) if h.passage.document_id == "kiwi"
    ]
    assert [h.passage.text for h in kiwi_hits] == [replacement.text]  # replaced, not duplicated

    reopened = open_pipeline(
        PipelineOptions(index_dir=seed_pipeline.options.index_dir), embedder=embedder
    )
    assert reopened.get_document("kiwi")[1] == replacement.text
    reopened.close()

    seed_pipeline.delete_document("kiwi")
    assert all(
        h.passage.document_id != "kiwi" for h in seed_pipeline.search("kiwifruit berry", top_k=50)
    )
    with pytest.raises(NotFoundError):
        seed_pipeline.get_document("kiwi")
    with pytest.raises(NotFoundError):
        seed_pipeline.delete_document("kiwi")


def test_filters_narrow_the_search(seed_pipeline: Pipeline) -> None:
    seed_pipeline.add_documents(
        [
            Document(
                id="fr",
                text="Le président russe a parlé avec le Premier ministre.",
                metadata={"lang": "fr"},
            )
        ]
    )
    hits = seed_pipeline.search("Putin phone call", top_k=5, filters={"lang": "fr"})
    assert [h.passage.document_id for h in hits] == ["fr"]
    hits = seed_pipeline.search("Putin phone call", top_k=5, filters={"document_id": "fr"})
    assert [h.passage.document_id for h in hits] == ["fr"]


@pytest.mark.parametrize(
    ("question", "top_k", "match"),
    [
        ("   ", 5, "empty"),
        ("x" * 5000, 5, "longer than"),
        ("ok?", 0, "top_k"),
        ("ok?", 51, "top_k"),
    ],
)
def test_bad_questions_are_refused(
    seed_pipeline: Pipeline, question: str, top_k: int, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        seed_pipeline.ask(question, top_k=top_k)


def test_an_index_built_with_another_model_is_refused(
    seed_index_dir: Path, embedder: Embedder
) -> None:
    manifest = json.loads((seed_index_dir / "manifest.json").read_text())
    assert manifest["embedder"] == "intfloat/multilingual-e5-small"
    assert manifest["dimension"] == 384

    class OtherModel:
        model_id = "other/model"
        dim = 384
        max_tokens = 512

        def embed_queries(self, texts: Sequence[str]) -> Vectors:
            return embedder.embed_queries(texts)

        embed_passages = embed_queries

        def count_tokens(self, text: str) -> int:
            return len(text.split())

    with pytest.raises(IndexMismatchError, match="other/model"):
        open_pipeline(PipelineOptions(index_dir=seed_index_dir), embedder=OtherModel())


def test_bulk_add_commits_documents_before_a_bad_one(tmp_path: Path, embedder: Embedder) -> None:
    """Documents are embedded in groups but committed one by one, in order."""
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path / "bulk"), embedder=embedder)
    good = [
        Document(id=f"d{i}", text=f"Report {i}. The river {name} floods every spring.")
        for i, name in enumerate(["Nile", "Rhine", "Danube"])
    ]
    progress: list[int] = []
    with pytest.raises(InvalidInputError, match="no text"):
        pipeline.add_documents([*good, Document(id="empty", text="   "), good[0]], progress.append)
    assert [d.id for d in pipeline.list_documents()] == ["d0", "d1", "d2"]
    assert progress == [1, 1, 1]
    hit = pipeline.search("Which river is the Rhine?", top_k=1)[0]
    assert hit.passage.document_id == "d1"
    pipeline.close()


class _Recording:
    """The real embedder, keeping every text it is asked to embed as a passage."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.texts += texts
        return self.inner.embed_passages(texts)


def test_a_sentence_in_two_passages_is_embedded_once(tmp_path: Path, embedder: Embedder) -> None:
    recording = _Recording(embedder)
    options = PipelineOptions(index_dir=tmp_path / "d", chunking=ChunkingConfig(max_tokens=60))
    pipeline = open_pipeline(options, embedder=recording)
    recording.texts.clear()  # only what indexing embeds
    body = " ".join(f"Report {i} says the river {i} floods in spring." for i in range(30))
    pipeline.add_documents([Document(id="rivers", text=body)])
    passages = sorted(
        (h.passage for h in pipeline.search("river floods", top_k=50)), key=lambda p: p.start
    )
    clauses = [p.text[s.start : s.end] for p in passages for s in p.clauses]
    assert len(passages) > 2 and passages[1].start < passages[0].end  # windows overlap
    assert len(clauses) > len(set(clauses))  # so some clauses belong to two passages
    assert sorted(recording.texts) == sorted({*clauses, *(with_title(p) for p in passages)})
    hit = pipeline.ask("Which report says river 17 floods?").answer
    assert hit is not None and "17" in hit.text
    pipeline.close()


def test_re_adding_a_document_embeds_only_what_changed(tmp_path: Path, embedder: Embedder) -> None:
    recording = _Recording(embedder)
    pipeline = open_pipeline(PipelineOptions(index_dir=tmp_path / "r"), embedder=recording)
    text = "The Nile floods in summer.\n\nThe Rhine starts in the Alps.\n\nThe Danube ends at sea."
    rivers = Document(id="rivers", text=text, title="Rivers")
    pipeline.add_documents([rivers])
    recording.texts.clear()
    [again] = pipeline.add_documents([rivers])
    assert again.replaced and again.passages == 3 and recording.texts == []
    edited = Document(id="rivers", text=text.replace("at sea", "in the Black Sea"), title="Rivers")
    pipeline.add_documents([edited])
    assert len(recording.texts) == 2  # the changed passage (with its title) and its one clause
    assert all("Black Sea" in t for t in recording.texts)
    assert "Rhine" in pipeline.search("Where does the Rhine start?", top_k=1)[0].passage.text
    assert "Black Sea" in pipeline.search("Where does the Danube end?", top_k=1)[0].passage.text
    pipeline.close()
