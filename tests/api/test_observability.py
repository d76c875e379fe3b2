"""/metrics in Prometheus format, JSON access logs, request ids echoed in a header."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api.logs import JsonFormatter
from qa.api.main import create_app
from qa.api.shared_metrics import MULTIPROC_VARIABLE, shared_metrics_dir
from qa.config import Settings
from qa.pipeline import Pipeline


@pytest.fixture
def client(seed_pipeline: Pipeline) -> Iterator[TestClient]:
    settings = Settings(index_dir=seed_pipeline.options.index_dir)
    with TestClient(create_app(settings, pipeline=seed_pipeline)) as test_client:
        yield test_client


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟"})
    client.post("/v1/ask", json={"question": "   "})
    client.get("/v1/documents/nope")
    client.get("/no/such/path")
    samples = _samples(client)

    def count(route: str, status: str, method: str = "POST") -> float:
        labels = frozenset({"method": method, "route": route, "status": status}.items())
        return samples.get(("qa_http_requests_total", labels), 0.0)

    assert count("/v1/ask", "200") == 1 and count("/v1/ask", "422") == 1
    assert count("/v1/documents/{document_id}", "404", "GET") == 1  # the template, not the id
    assert count("unmatched", "404", "GET") == 1
    bucket = frozenset(
        {"method": "POST", "route": "/v1/ask", "status": "200", "le": "+Inf"}.items()
    )
    assert samples[("qa_http_request_duration_seconds_bucket", bucket)] == 1


def test_metrics_report_index_size_and_stage_times(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": "ماذا أكد عمران خان؟"})
    client.post("/v1/search", json={"query": "بوتين"})
    samples = _samples(client)
    assert samples[("qa_index_documents", frozenset())] == 1
    assert samples[("qa_index_passages", frozenset())] == 6
    for operation, stage in [("ask", "embed"), ("ask", "search"), ("ask", "answer")]:
        labels = frozenset({"operation": operation, "stage": stage}.items())
        assert samples[("qa_stage_duration_seconds_count", labels)] == 1
    search = frozenset({"operation": "search", "stage": "embed"}.items())
    assert samples[("qa_stage_duration_seconds_count", search)] == 1
    client.post("/v1/documents", json={"documents": [{"id": "m", "text": "More text."}]})
    assert _samples(client)[("qa_index_documents", frozenset())] == 2


def test_request_id_is_generated_or_echoed(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32 and generated != client.get("/healthz").headers["x-request-id"]
    given = client.get("/v1/documents/nope", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"  # errors carry it too
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_access_log_is_json_with_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="qa.access"):
        client.post("/v1/ask", json={"question": "بوتين"}, headers={"X-Request-ID": "req-42"})
    record = next(r for r in caplog.records if r.name == "qa.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42"
    assert line["route"] == "/v1/ask" and line["status"] == 200 and line["method"] == "POST"
    assert line["level"] == "info" and line["duration_ms"] >= 0


def test_serve_with_workers_gets_a_shared_metrics_folder_it_cleans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (MULTIPROC_VARIABLE, "QA_METRICS_DIR"):
        monkeypatch.setenv(name, "")  # recorded: what shared_metrics_dir sets is undone after
        monkeypatch.delenv(name)
    with shared_metrics_dir(1, None) as none:
        assert none is None and MULTIPROC_VARIABLE not in os.environ
    with shared_metrics_dir(2, None) as made:
        assert made is not None and made.is_dir()
        assert os.environ[MULTIPROC_VARIABLE] == str(made)  # what the workers will read
        assert Settings().metrics_dir == made
        (made / "counter_123.db").write_bytes(b"")
    assert not made.exists() and MULTIPROC_VARIABLE not in os.environ
    with shared_metrics_dir(1, tmp_path) as configured:
        assert configured == tmp_path and os.environ[MULTIPROC_VARIABLE] == str(tmp_path)
    assert tmp_path.is_dir()  # the operator's folder stays


@pytest.mark.parametrize("variable", ["QA_METRICS_DIR", MULTIPROC_VARIABLE])
def test_the_metrics_folder_is_read_from_either_variable(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, str(tmp_path))
    assert Settings().metrics_dir == tmp_path
