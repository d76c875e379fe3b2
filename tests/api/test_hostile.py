"""Hostile input against a live server: each gets a 4xx and the index stays as it was; then a
bounded schemathesis fuzz of the whole OpenAPI schema must see zero 5xx responses."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, live_server

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(seed_index_dir, tmp_path_factory.mktemp("hostile")) as running:
        yield running


def _zip_bomb() -> bytes:
    """A .docx-shaped zip of about 0.3 MB that unpacks to 300 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(block)
    return buffer.getvalue()


def _nested(depth: int) -> bytes:
    return b'{"question": ' + b"[" * depth + b"]" * depth + b"}"


def _upload(name: str, data: bytes) -> dict[str, Any]:
    return {"files": {"file": (name, data, "application/octet-stream")}}


HOSTILE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("invalid utf-8 question", "post", "/v1/ask", {"content": b'{"question": "\xff\xfe"}'}),
    (
        "invalid utf-8 document",
        "post",
        "/v1/documents",
        {"content": b'{"documents": [{"text": "ok \xc3\x28"}]}'},
    ),
    ("empty question", "post", "/v1/ask", {"json": {"question": ""}}),
    ("whitespace question", "post", "/v1/ask", {"json": {"question": " \n\t\u3000\u200b "}}),
    (
        "whitespace chat message",
        "post",
        "/v1/chat/completions",
        {"json": {"model": "qa", "messages": [{"role": "user", "content": "\t \n"}]}},
    ),
    ("1 MB question", "post", "/v1/ask", {"json": {"question": "ء" * 1_000_000}}),
    (
        "1 MB chat message",
        "post",
        "/v1/chat/completions",
        {"json": {"model": "qa", "messages": [{"role": "user", "content": "a" * 1_000_000}]}},
    ),
    ("deeply nested question", "post", "/v1/ask", {"content": _nested(100_000)}),
    (
        "deeply nested document",
        "post",
        "/v1/documents",
        {
            "content": b'{"documents": [{"text": "x", "metadata": '
            + b'{"a":' * 50_000
            + b"1"
            + b"}" * 50_000
            + b"}]}"
        },
    ),
    ("binary .txt", "post", "/v1/documents", _upload("photo.txt", bytes(range(256)) * 64)),
    (
        "binary .txt without NUL",
        "post",
        "/v1/documents",
        _upload("noise.txt", bytes(range(128, 256)) * 64),
    ),
    ("zip bomb .docx", "post", "/v1/documents", _upload("bomb.docx", _zip_bomb())),
    ("not a zip .docx", "post", "/v1/documents", _upload("fake.docx", b"PK\x03\x04broken")),
    (
        "unparseable PDF",
        "post",
        "/v1/documents",
        _upload("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nstream\n\x00\x9f garbage"),
    ),
    ("JSON that is not an object", "post", "/v1/documents", {"content": b'"documents"'}),
    (
        "offset past 64-bit integers",  # a schemathesis finding: was a 500
        "get",
        "/v1/documents",
        {"params": {"limit": 200, "offset": 18446744073709551617}},
    ),
    ("negative limit", "get", "/v1/documents", {"params": {"limit": -1}}),
    ("document id of 600 characters", "get", "/v1/documents/" + "d" * 600, {}),
    ("delete id of 600 characters", "delete", "/v1/documents/" + "d" * 600, {}),
    ("empty multipart", "post", "/v1/documents", {"files": {"other": ("a.txt", b"x")}}),
]


def _state(client: httpx.Client) -> Any:
    return client.get("/v1/documents").json(), client.get("/readyz").json()["passages"]


@pytest.mark.parametrize(("name", "method", "path", "kwargs"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_gets_4xx_and_changes_nothing(
    server: LiveServer, name: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    headers = JSON if "content" in kwargs else {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        before = _state(client)
        response = client.request(method.upper(), path, headers=headers, **kwargs)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert response.json()["error"]["message"], name
        assert _state(client) == before, name


def _statuses(log: Path) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # h11 and start-up lines that are not ours
        if isinstance(entry, dict) and entry.get("logger") == "qa.access":
            statuses[int(entry["status"])] += 1
    return statuses


def test_schemathesis_fuzz_finds_no_server_errors(server: LiveServer, tmp_path: Path) -> None:
    """Bounded: 20 examples per operation and phase (about 700 requests, ~1-2 min on 2 cores).

    The schema must also say what is enforced: schemathesis warns when most bodies it builds
    from the schema are refused."""
    before = _statuses(server.log)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "20",
            "--workers",
            "1",
            "--request-timeout",
            "120",
            "--seed",
            "20261130",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = re.findall(r"Test cases:\s*\n\s*(.+)", run.stdout)
    statuses = _statuses(server.log) - before
    print(f"schemathesis: {summary}; server statuses: {dict(sorted(statuses.items()))}")
    assert run.returncode == 0, run.stdout[-5000:]
    assert "Schema validation mismatch" not in run.stdout, run.stdout[-3000:]
    assert re.search(r"Stateful .*\n\s*\n\s*Scenarios:\s*[1-9]", run.stdout), run.stdout[-3000:]
    assert sum(statuses.values()) > 300  # the fuzz really ran
    assert not [s for s in statuses if s >= 500], statuses
