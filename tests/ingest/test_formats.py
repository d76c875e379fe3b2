"""The same content in every format gets the same passages and answers (real bundled model).

The fixtures (tests/ingest/fixtures, written by make_fixtures.py) hold the seed article as
.txt, .md, .html, .docx and a PDF printed by Chromium, and a report with a table and a list
as .md, .html, .docx and a Chromium PDF. Each file is indexed alone, and asked the same
questions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.backends import open_pipeline
from qa.domain import AskResult
from qa.embed import Embedder
from qa.evaluate import EvalQuestion, load_eval_file
from qa.ingest import load_path
from qa.pipeline import Pipeline, PipelineOptions
from tests.conftest import EVAL

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_FORMATS = ("txt", "md", "html", "docx", "pdf")
REPORT_FORMATS = ("md", "html", "docx", "pdf")
SEED_QUESTIONS = load_eval_file(EVAL / "seed_questions.jsonl", []).questions

# Questions the report answers from its table (numbers) and its list, each with the words the
# answer must come from.
REPORT_QUESTIONS = [
    ("How much nuclear power does Pakistan produce?", "2490"),
    ("كم ميغاواط تنتج طاقة الرياح؟", "1335"),
    ("What is the output of natural gas in megawatts?", "11500"),
    ("ما إنتاج الطاقة الكهرومائية بالميغاواط؟", "9915"),
    ("ما التوصية بشأن شبكات نقل الكهرباء؟", "تحديث شبكات نقل الكهرباء"),
]


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[dict[str, tuple[Pipeline, int]]]:
    """One index per fixture file: its pipeline and how many passages the file made."""
    out: dict[str, tuple[Pipeline, int]] = {}
    names = [f"seed.{s}" for s in SEED_FORMATS] + [f"report.{s}" for s in REPORT_FORMATS]
    for name in names:
        pipeline = open_pipeline(
            PipelineOptions(index_dir=tmp_path_factory.mktemp(name)), embedder=embedder
        )
        [added] = pipeline.add_documents(load_path(FIXTURES / name))
        out[name] = (pipeline, added.passages)
    yield out
    for pipeline, _ in out.values():
        pipeline.close()


def answer_line(result: AskResult) -> str:
    """The line of the source passage that holds the answer (a table row, a list item)."""
    assert result.answer is not None
    answer = result.answer
    passage = next(h.passage for h in result.hits if h.passage.id == answer.passage_id)
    start = passage.text.rfind("\n", 0, answer.start) + 1
    end = passage.text.find("\n", answer.end)
    return passage.text[start : end if end >= 0 else len(passage.text)]


def check_offsets(pipeline: Pipeline, result: AskResult) -> None:
    """The answer is copied from its passage, and the passage from the stored document."""
    assert result.answer is not None
    answer = result.answer
    passage = next(h.passage for h in result.hits if h.passage.id == answer.passage_id)
    assert passage.text[answer.start : answer.end] == answer.text
    stored = pipeline.get_document(passage.document_id)[1]
    assert stored[passage.start : passage.end] == passage.text


def test_the_seed_article_makes_as_many_passages_in_every_format(
    indexed: dict[str, tuple[Pipeline, int]],
) -> None:
    counts = {s: indexed[f"seed.{s}"][1] for s in SEED_FORMATS}
    assert counts["txt"] == 6
    assert all(abs(n - counts["txt"]) <= 1 for n in counts.values()), counts


@pytest.mark.parametrize("question", SEED_QUESTIONS, ids=lambda q: q.id)
def test_seed_questions_get_the_same_answer_from_every_format(
    indexed: dict[str, tuple[Pipeline, int]], question: EvalQuestion
) -> None:
    answers: dict[str, str | None] = {}
    for suffix in SEED_FORMATS:
        pipeline, _ = indexed[f"seed.{suffix}"]
        result = pipeline.ask(question.question)
        answers[suffix] = result.answer.text if result.answer else None
        if result.answer is not None:
            check_offsets(pipeline, result)
    assert len(set(answers.values())) == 1, answers
    if not question.answerable:
        assert answers["txt"] is None


@pytest.mark.parametrize(("question", "gold"), REPORT_QUESTIONS)
@pytest.mark.parametrize("suffix", REPORT_FORMATS)
def test_the_report_table_and_list_are_answered(
    indexed: dict[str, tuple[Pipeline, int]], suffix: str, question: str, gold: str
) -> None:
    pipeline, _ = indexed[f"report.{suffix}"]
    result = pipeline.ask(question)
    assert result.answer is not None, question
    check_offsets(pipeline, result)
    assert result.hits[0].passage.id == result.answer.passage_id
    assert gold in result.answer.text or gold in answer_line(result), answer_line(result)
    context = result.answer.context
    if context is not None and context.text != result.answer.text:  # a span reader answered
        assert "\n" not in result.answer.text  # a span inside one row or list item
        assert gold in result.answer.text or gold in context.text


def test_pdf_passages_say_their_page(indexed: dict[str, tuple[Pipeline, int]]) -> None:
    pipeline, _ = indexed["seed.pdf"]
    hits = pipeline.search("عمران خان", top_k=20)
    pages = {h.passage.metadata.get("page") for h in hits}
    assert pages == {1, 2}  # the A5 print runs over two pages
    spanning = [h.passage for h in hits if "last_page" in h.passage.metadata]
    assert [(p.metadata["page"], p.metadata["last_page"]) for p in spanning] == [(1, 2)]
