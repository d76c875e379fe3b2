"""`qa serve --workers 2`: a scrape, whichever worker answers it, counts all workers' requests."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server_process import LiveServer

pytestmark = pytest.mark.integration

PROBE = "/readyz"  # what wait_alive polls: its requests are left out of the sums below


def _requests_total(text: str) -> float:
    """qa_http_requests_total over every label but the start-up probe's route."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "qa_http_requests_total" and sample.labels["route"] != PROBE
    )


def _shared_dir(server: LiveServer) -> Path:
    found = re.search(r"add up in (\S+)", server.log_path.read_text())
    assert found, "qa serve did not say where the workers' metrics add up"
    return Path(found.group(1))


def _workers_that_counted(folder: Path) -> set[str]:
    return {f.stem.split("_")[-1] for f in folder.glob("counter_*.db")}


def test_request_counts_add_up_across_two_workers(seed_index_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index_dir, index)
    server = LiveServer(index, workers=2)
    try:
        server.wait_alive(timeout=240, route=PROBE)
        folder = _shared_dir(server)
        made = 0
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("post", "/v1/search", {"json": {"query": "بوتين", "top_k": 2}}),
            ("get", "/v1/documents", {}),
            ("get", "/healthz", {}),
            ("get", "/v1/documents/no-such-id", {}),  # a 404 counts too
        ]
        deadline = time.monotonic() + 120
        # a fresh connection per request: the kernel hands them to either worker
        while made < 40 or len(_workers_that_counted(folder)) < 2:
            assert time.monotonic() < deadline, "the second worker never answered"
            method, path, kwargs = calls[made % len(calls)]
            httpx.request(method, f"{server.url}{path}", timeout=60, **kwargs)
            made += 1
        assert len(_workers_that_counted(folder)) == 2
        for scrape in range(6):
            time.sleep(0.1)  # the previous scrape is counted once its response is sent
            text = httpx.get(f"{server.url}/metrics", timeout=30).text
            assert _requests_total(text) == made + scrape  # + the scrapes before this one
    finally:
        # each worker writes a snapshot as it stops: minutes on a loaded 2-core machine
        server.stop(timeout=240)
    assert server.proc.returncode == 0, "qa serve was killed before it could clean up"
    assert not folder.exists()  # qa serve removes the folder it made
