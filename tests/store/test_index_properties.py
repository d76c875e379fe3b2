"""Add/replace/delete sequences against a model of the expected document set (hypothesis).

A writer pipeline and a second pipeline on the same index folder (its own SQLite connection,
as another process has) must both agree with the model after every step, and so must a fresh
load from SQLite alone and a load from the snapshot written at close.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.backends import open_pipeline
from qa.domain import Document
from qa.embed import Embedder
from qa.errors import NotFoundError
from qa.pipeline import Pipeline, PipelineOptions
from qa.store.layout import SNAPSHOT_FOLDER as FOLDER

KEYS = ["alpha", "bravo", "carbon", "delta"]
WORDS = ["lighthouse", "volcano", "orchard", "glacier", "harbour", "meadow"]


def _text(key: str, version: int) -> str:
    word = WORDS[version % len(WORDS)]
    return (
        f"The {key} {word} report.\n\nIt covers the {word} near {key} in detail, version {version}."
    )


ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(KEYS), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


def _view(pipeline: Pipeline) -> dict[str, set[str]]:
    """Document id -> passage texts, as search (dense, clause and lexical) sees them."""
    seen: dict[str, set[str]] = {}
    for key in KEYS:
        hits = pipeline.search(f"{key} report", top_k=50, filters={"document_id": key})
        if hits:
            seen[key] = {h.passage.text for h in hits}
    return seen


def _check(pipeline: Pipeline, model: dict[str, int], removed_texts: set[str]) -> None:
    assert [d.id for d in pipeline.list_documents()] == sorted(model)
    expected = {k: _text(k, v) for k, v in model.items()}
    for key, text in expected.items():
        assert pipeline.get_document(key)[1] == text
    view = _view(pipeline) if model else {}
    assert set(view) == set(expected)
    for key, texts in view.items():
        assert all(t in expected[key] for t in texts), "a passage of an old version came back"
        assert "".join(sorted(texts, key=expected[key].index)).replace("\n", "") in expected[
            key
        ].replace("\n", "")
    if model:  # no deleted or replaced passage is found by free search either
        for word in WORDS:
            for hit in pipeline.search(f"{word} report", top_k=50):
                assert hit.passage.text not in removed_texts - _all_passages(pipeline, expected)
    documents, passages = pipeline.store.count()
    assert documents == len(model)
    assert len(pipeline._index) == passages


def _all_passages(pipeline: Pipeline, expected: dict[str, str]) -> set[str]:
    return {p for text in expected.values() for p in text.split("\n\n")}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=ops)
def test_any_sequence_matches_the_model(
    embedder: Embedder, sequence: list[tuple[str, str, int]]
) -> None:
    root = Path(tempfile.mkdtemp(prefix="qa-prop-"))
    try:
        writer = open_pipeline(PipelineOptions(index_dir=root), embedder=embedder)
        reader = open_pipeline(PipelineOptions(index_dir=root), embedder=embedder)
        model: dict[str, int] = {}
        removed: set[str] = set()
        for op, key, version in sequence:
            if op == "put":
                [result] = writer.add_documents([Document(id=key, text=_text(key, version))])
                assert result.replaced == (key in model)
                if key in model:
                    removed.update(_text(key, model[key]).split("\n\n"))
                model[key] = version
            elif key in model:
                writer.delete_document(key)
                removed.update(_text(key, model.pop(key)).split("\n\n"))
            else:
                try:
                    writer.delete_document(key)
                    raise AssertionError("deleting an absent document succeeded")
                except NotFoundError:
                    pass
            _check(writer, model, removed)
            reader.refresh()
            _check(reader, model, removed)
        reader.close()
        writer.close()  # leaves a snapshot behind
        assert any((root / FOLDER).glob("snap-*"))
        from_snapshot = open_pipeline(PipelineOptions(index_dir=root), embedder=embedder)
        _check(from_snapshot, model, removed)
        from_snapshot.close()
        shutil.rmtree(root / FOLDER, ignore_errors=True)
        from_sqlite = open_pipeline(PipelineOptions(index_dir=root), embedder=embedder)
        _check(from_sqlite, model, removed)
        from_sqlite.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
