"""The pipeline with a span model: wiring, reading mode choice, abstention, offsets.

A hand-made fake span model (it proposes a fixed string wherever a window holds it) stands in
for the trained reader: these tests check plumbing, not reading quality.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from qa.answer.abstain import Logistic
from qa.answer.reader_abstain import ReaderCalibration, write_calibration
from qa.answer.readers import load_span_scorer
from qa.api.convert import ask_response
from qa.backends import open_pipeline
from qa.embed import Embedder
from qa.embed.base import Vectors
from qa.errors import ConfigError, ReaderWeightsMismatchError
from qa.generate.compose import extractive_answer
from qa.pipeline import Pipeline, PipelineOptions
from tests.answer.test_reading import FakeReader

QUESTION = "ماذا أكد عمران خان؟"
GOLD = "الدعم الواسع"
NITROGEN = "What is the boiling point of liquid nitrogen?"


@pytest.fixture
def index_copy(seed_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "seed-copy-reader"
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.fixture
def calibration(tmp_path: Path) -> Path:
    """Answer when the span beats the no-answer score (margin > 0), whatever retrieval says."""
    path = tmp_path / "reader-calibration.json"
    margin = Logistic(0.0, (1.0, 0.0, 0.0))
    write_calibration(ReaderCalibration(margin, margin, 0.5, 0.5), path)
    return path


def _pipeline(
    index: Path, embedder: Embedder, reader: FakeReader | None, calibration: Path
) -> Pipeline:
    options = PipelineOptions(index_dir=index, reader_calibration=calibration)
    return open_pipeline(options, embedder=embedder, span_scorer=reader)


@pytest.fixture
def reading(
    index_copy: Path, embedder: Embedder, calibration: Path
) -> Iterator[tuple[Pipeline, FakeReader]]:
    reader = FakeReader([(GOLD, 6.0), ("باكستان", 2.0)], null_score=1.0)
    pipeline = _pipeline(index_copy, embedder, reader, calibration)
    yield pipeline, reader
    pipeline.close()


def test_the_span_is_the_answer_with_its_context_and_exact_offsets(
    reading: tuple[Pipeline, FakeReader],
) -> None:
    pipeline, reader = reading
    result = pipeline.ask(QUESTION, top_k=3)
    answer = result.answer
    assert answer is not None and answer.text == GOLD
    assert len(reader.calls) == 1 and 1 <= len(reader.calls[0]) <= 3  # one batched call
    source = next(h.passage for h in result.hits if h.passage.id == answer.passage_id)
    assert result.hits[0].passage.id == answer.passage_id  # the answering passage leads
    assert source.text[answer.start : answer.end] == answer.text
    context = answer.context
    assert context is not None and source.text[context.start : context.end] == context.text
    assert context.start <= answer.start and answer.end <= context.end
    assert len(context.text.split()) <= 40 and context.text != source.text
    assert answer.score == result.confidence and answer.score > 0.99  # sigmoid(6 - 1)

    body = ask_response(result).model_dump()
    assert body["answer"]["context"] == {
        "text": context.text,
        "start": context.start,
        "end": context.end,
    }
    chat = extractive_answer(result).text
    assert f"**{GOLD}**" in chat and chat.endswith("[1]")
    assert chat.replace("**", "").removesuffix(" [1]") == context.text


def test_the_reader_abstains_when_no_answer_scores_higher(
    index_copy: Path,
    embedder: Embedder,
    calibration: Path,
) -> None:
    reader = FakeReader([(GOLD, 1.0)], null_score=3.0)
    pipeline = _pipeline(index_copy, embedder, reader, calibration)
    result = pipeline.ask(QUESTION)
    assert result.answer is None and result.hits
    assert result.confidence is not None and result.confidence < 0.5
    assert extractive_answer(result).answered is False
    pipeline.close()


@pytest.mark.parametrize("null_score", [0.0, 3.0], ids=["answered", "abstained"])
def test_the_answering_passage_leads_the_sources_and_an_abstention_keeps_their_order(
    index_copy: Path, embedder: Embedder, calibration: Path, null_score: float
) -> None:
    """The reader proposes only words of the second-ranked passage: answered, that passage
    leads the sources; abstained, they keep retrieval's order."""
    probe = _pipeline(index_copy, embedder, FakeReader([]), calibration)
    ranked = probe.search(QUESTION, top_k=3)
    probe.close()
    top_words = set(ranked[0].passage.text.split())
    words = [w for w in ranked[1].passage.text.split() if w not in top_words and len(w) > 3]
    pipeline = _pipeline(
        index_copy, embedder, FakeReader([(words[0], 1.0)], null_score), calibration
    )
    result = pipeline.ask(QUESTION, top_k=3)
    pipeline.close()
    order = [h.passage.id for h in result.hits]
    if null_score < 1.0:
        assert result.answer is not None and result.answer.passage_id == ranked[1].passage.id
        assert order[0] == ranked[1].passage.id
    else:
        assert result.answer is None
        assert order == [h.passage.id for h in ranked]
        assert [h.rank for h in result.hits] == [1, 2, 3]


def test_nothing_proposed_is_an_abstention(
    index_copy: Path, embedder: Embedder, calibration: Path
) -> None:
    pipeline = _pipeline(index_copy, embedder, FakeReader([]), calibration)
    assert pipeline.ask(NITROGEN).answer is None
    pipeline.close()


def test_reader_off_keeps_the_clause_answers(
    index_copy: Path, seed_pipeline: Pipeline, embedder: Embedder
) -> None:
    off = open_pipeline(PipelineOptions(index_dir=index_copy, reader="off"), embedder=embedder)
    assert off.span_scorer() is None
    for question in (QUESTION, "What did Imran Khan emphasize?", NITROGEN):
        clause, default = off.ask(question), seed_pipeline.ask(question)
        assert clause.answer == default.answer  # no model cache folder: auto is off too
        if clause.answer is not None:
            context = clause.answer.context
            assert context is not None and context.text == clause.answer.text
            assert extractive_answer(clause).text.startswith(clause.answer.text + " [")
    off.close()


def test_auto_without_the_reader_package_is_off_and_on_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "qa.reader.infer", None)  # import fails
    assert load_span_scorer("auto", tmp_path) is None
    assert load_span_scorer("off", tmp_path) is None
    with pytest.raises(ConfigError, match="QA_READER=on"):
        load_span_scorer("on", tmp_path)
    with pytest.raises(ConfigError, match="unknown reader mode"):
        load_span_scorer("sometimes", tmp_path)


def test_auto_without_a_model_cache_folder_is_off() -> None:
    assert load_span_scorer("auto", None) is None


def test_unknown_precision_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="precision"):
        load_span_scorer("auto", None, precision="fp16")


@pytest.mark.parametrize(
    ("error", "auto_result"),
    [
        (ConfigError("no readable reader manifest"), None),
        (FileNotFoundError("adapter.safetensors"), None),
        (ReaderWeightsMismatchError("trained on another base"), ReaderWeightsMismatchError),
    ],
)
def test_reader_load_failures_by_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, auto_result: object
) -> None:
    import types

    import qa.embed.export

    def failing(model_dir: Path, threads: int | None = None, int8: bool = False) -> None:
        raise error

    monkeypatch.setitem(
        sys.modules, "qa.reader.infer", types.SimpleNamespace(load_trained_reader=failing)
    )
    monkeypatch.setattr(qa.embed.export, "bundled_model_path", lambda cache: cache)
    if auto_result is None:
        assert load_span_scorer("auto", tmp_path) is None  # no weights: clause answers
    else:
        with pytest.raises(ReaderWeightsMismatchError):
            load_span_scorer("auto", tmp_path)
    with pytest.raises(ConfigError):
        load_span_scorer("on", tmp_path)


class CountingQueries:
    """The session's embedder, counting the questions it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.questions = inner, 0
        self.model_id, self.dim, self.max_tokens = inner.model_id, inner.dim, inner.max_tokens
        self.embed_passages, self.count_tokens = inner.embed_passages, inner.count_tokens

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.questions += len(texts)
        return self.inner.embed_queries(texts)


def test_warm_up_loads_the_reader_and_the_question_encoder(
    index_copy: Path, embedder: Embedder, calibration: Path
) -> None:
    counting = CountingQueries(embedder)
    options = PipelineOptions(index_dir=index_copy, reader_calibration=calibration)
    pipeline = open_pipeline(options, embedder=counting)  # type: ignore[arg-type]
    assert not pipeline._span_scorer_loaded
    before = counting.questions
    pipeline.warm_up()
    assert pipeline._span_scorer_loaded
    assert counting.questions == before + 1
    pipeline.close()
