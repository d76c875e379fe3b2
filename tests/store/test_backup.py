"""`qa export` / `qa import`: consistent copies taken and restored while a pipeline is live."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.backends import open_pipeline
from qa.cli import app
from qa.domain import Document
from qa.embed import Embedder
from qa.pipeline import Pipeline, PipelineOptions


def _ids(pipeline: Pipeline) -> list[str]:
    return [d.id for d in pipeline.list_documents()]


def test_export_while_live_then_import_elsewhere(tmp_path: Path, embedder: Embedder) -> None:
    live = open_pipeline(PipelineOptions(index_dir=tmp_path / "live"), embedder=embedder)
    live.add_documents([Document(id="owl", text="The barn owl hunts at night over fields.")])
    runner = CliRunner()
    result = runner.invoke(
        app, ["export", str(tmp_path / "backup"), "--index-dir", str(tmp_path / "live")]
    )
    assert result.exit_code == 0, result.output
    live.add_documents([Document(id="fox", text="The red fox dens in the hedgerow.")])
    result = runner.invoke(
        app, ["import", str(tmp_path / "backup"), "--index-dir", str(tmp_path / "copy")]
    )
    assert result.exit_code == 0, result.output
    copy = open_pipeline(PipelineOptions(index_dir=tmp_path / "copy"), embedder=embedder)
    assert _ids(copy) == ["owl"]
    assert copy.search("owl hunting", top_k=1)[0].passage.document_id == "owl"
    copy.close()

    # restoring over the live index: the running pipeline picks up the restored state
    refused = runner.invoke(
        app, ["import", str(tmp_path / "backup"), "--index-dir", str(tmp_path / "live")]
    )
    assert refused.exit_code != 0
    result = runner.invoke(
        app,
        ["import", str(tmp_path / "backup"), "--index-dir", str(tmp_path / "live"), "--replace"],
    )
    assert result.exit_code == 0, result.output
    hits = live.search("red fox hedgerow", top_k=5)
    assert {h.passage.document_id for h in hits} == {"owl"}
    assert _ids(live) == ["owl"]
    live.close()


def test_export_of_a_missing_index_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "out"), "--index-dir", str(tmp_path / "none")]
    )
    assert result.exit_code != 0
    with pytest.raises(FileNotFoundError):
        next((tmp_path / "out").iterdir())
