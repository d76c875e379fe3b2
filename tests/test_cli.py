"""The `qa` command as a user runs it (a real subprocess: exit codes and one-line errors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVAL, ROOT, SEEDS

pytestmark = pytest.mark.integration


def qa(
    *args: str, index: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(index), "COLUMNS": "200", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "index"
    out = qa("index", str(SEEDS), "--json", index=path)
    assert json.loads(out.stdout)["passages"] == 6
    return path


def test_ask_json(index: Path) -> None:
    body = json.loads(qa("ask", "ماذا أكد عمران خان؟", "--json", index=index).stdout)
    answer = body["answer"]
    source = next(s for s in body["sources"] if s["id"] == answer["source_id"])
    assert source["text"][answer["start"] : answer["end"]] == answer["text"]


def test_ask_readable(index: Path) -> None:
    out = qa("ask", "What is the boiling point of liquid nitrogen?", index=index).stdout
    assert "No answer found" in out
    assert "Sources" in out


def test_search_json(index: Path) -> None:
    body = json.loads(qa("search", "الكرملين", "-k", "2", "--json", index=index).stdout)
    assert [r["rank"] for r in body["results"]] == [1, 2]


def test_list(index: Path) -> None:
    docs = json.loads(qa("list", "--json", index=index).stdout)
    assert [d["id"] for d in docs] == ["000_cc7b3c5100db086b"]


def test_eval_seed_questions(index: Path, tmp_path: Path) -> None:
    plot = tmp_path / "eval.png"
    out = qa("eval", str(EVAL / "seed_questions.jsonl"), "--json", "--plot", str(plot), index=index)
    report = json.loads(out.stdout)
    assert (report["questions"], report["answerable"]) == (11, 10)
    # 6 passages: a random order would put the gold passage first 1 time in 6
    assert report["recall_at_1"] >= 0.7
    assert report["recall_at_1"] <= report["mrr_at_10"] <= report["recall_at_5"]
    assert report["abstention_accuracy"] == 1.0  # the nitrogen question is withheld
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ask", "   "), 2, "empty"),
        (("index", "/no/such/path"), 2, "no such file"),
        (("delete", "missing-doc"), 3, "no document"),
        (("eval", "/no/such.json"), 2, "cannot read"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code(
    index: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = qa(*args, index=index, check=False)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_an_index_built_with_another_model_exits_4(index: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-model-index"
    shutil.copytree(index, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["embedder"] = "other/model"
    (other / "manifest.json").write_text(json.dumps(manifest))
    result = qa("ask", "ماذا أكد عمران خان؟", index=other, check=False)
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "other/model" in lines[0]


def test_a_bad_setting_exits_6(index: Path) -> None:
    result = qa("list", index=index, check=False, env={"QA_INDEXING_ENGINE": "bogus"})
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "QA_INDEXING_ENGINE" in lines[0]


def test_a_setting_of_the_wrong_type_exits_6(index: Path) -> None:
    result = qa("list", index=index, check=False, env={"QA_EMBED_PRECISION": "bogus"})
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "QA_EMBED_PRECISION" in lines[0].upper()


def test_empty_index_says_so(tmp_path: Path) -> None:
    result = qa("ask", "anything?", index=tmp_path / "empty", check=False)
    assert result.returncode == 5
    assert "index is empty" in result.stderr


def test_help_explains_options() -> None:
    out = qa("eval", "--help", index=Path("unused")).stdout
    for option in ("--plot", "--json", "--limit", "--index-docs"):
        assert option in out


def test_model_export(tmp_path: Path) -> None:
    out = qa("model", "export", "--cache-dir", str(tmp_path), index=tmp_path / "unused").stdout
    folder = Path(out.split("Exported to", 1)[1].strip())
    try:
        assert folder.is_relative_to(tmp_path)
        assert (folder / "export-manifest.json").exists()
        assert (folder / "model.safetensors").stat().st_size > 100_000_000
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # 250 MB: not left for pytest to keep


def test_ask_json_has_the_context_around_the_span(index: Path) -> None:
    body = json.loads(
        qa("ask", "ماذا أكد عمران خان؟", "--json", "--reader", "off", index=index).stdout
    )
    answer, context = body["answer"], body["answer"]["context"]
    source = next(s for s in body["sources"] if s["id"] == answer["source_id"])
    assert source["text"][context["start"] : context["end"]] == context["text"]
    assert context["start"] <= answer["start"] and answer["end"] <= context["end"]
    assert context["text"] == answer["text"]  # reader off: the clause is both


def test_context_is_printed_with_the_span_marked() -> None:
    from qa.cli import _marked
    from qa.domain import Answer, Context

    context = Context("وجاء ذلك في 23 ديسمبر الماضي", 10, 38)
    start = 10 + context.text.index("23 ديسمبر")
    answer = Answer("23 ديسمبر", "p", start, start + 9, 0.9, context)
    marked = _marked(answer, show=False)
    assert marked.plain == context.text
    [span] = marked.spans
    assert marked.plain[span.start : span.end] == "23 ديسمبر" and "bold" in str(span.style)
    assert _marked(answer, show=True).spans == []  # reordered for the terminal: no mark
