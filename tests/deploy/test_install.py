"""The package installed the way users install it, each install line in a fresh venv.

No test extras and no source tree on the path: a fresh virtual environment gets the bare
`pip install .` or the Dockerfile's install line, then indexes seeds/, serves, answers the seed
question over HTTP, and runs `qa ask` in Arabic in a pseudo-terminal (where the right-to-left
display code runs; pipes skip it). One venv per install line per session: pip installs take
minutes (pip's own cache is used). Where no container engine runs, the Dockerfile's install line
here stands in for building the image (tests/deploy/test_docker.py builds it where one does).
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEEDS
from tests.server_process import free_port

pytestmark = pytest.mark.integration

TORCH = "torch==2.13.0"  # the CPU build on this machine's package mirror
QUESTION = "ماذا أكد عمران خان؟"
EXPECTED = "الدعم الواسع"
PIP_TIMEOUT = 3600  # seconds for one `pip install` on a busy 2-core machine
# Copied to build from: what the Dockerfile's build context holds, without local state.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "index", "out", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
ARABIC = re.compile("[\u0600-\u06ff]")
ARABIC_SHAPED = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")  # presentation forms: reshaped


def dockerfile_requirement() -> str:
    """The requirement the Dockerfile installs the package with, e.g. `.[st,milvus]`."""
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r'\bpip install "(\.\[[^\]]*\])"', text)
    assert match, "the Dockerfile's install line changed shape: update this test"
    return match.group(1)


def dockerfile_installs_torch_first() -> bool:
    """Whether the Dockerfile installs torch==2.13.0 before the package (it should: CPU build)."""
    text = (ROOT / "Dockerfile").read_text()
    return text.find(f'pip install "{TORCH}"') < text.find('pip install ".[')


# name -> (what is installed first, the package requirement)
INSTALL_LINES: dict[str, tuple[list[str], str]] = {
    # `pip install .` alone: no torch, no extras; the bundled model runs on its C engine.
    "bare": ([], "."),
    # The Dockerfile's line. It takes torch's CPU wheel from PyTorch's index; here the same
    # pinned CPU build comes from the local mirror that pip is configured with.
    "dockerfile": ([TORCH], dockerfile_requirement()),
}


@dataclass(frozen=True)
class Installed:
    """A fresh venv holding the package, and a place to work in."""

    name: str
    bin: Path
    work: Path

    def env(self) -> dict[str, str]:
        """The user's environment: no PYTHONPATH (the source tree) and no stray QA_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") and k != "PYTHONPATH"}
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            QA_INDEX_DIR=str(self.work / "index"),
            QA_MODEL_CACHE_DIR=str(self.work / "model-cache"),
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
        )
        return env


def _pip(python: Path, *args: str, cwd: Path) -> None:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


@pytest.fixture(scope="module", params=sorted(INSTALL_LINES))
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Installed:
    name: str = request.param
    first, requirement = INSTALL_LINES[name]
    base = tmp_path_factory.mktemp(f"install-{name}")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    if first:
        _pip(python, *first, cwd=source)
    _pip(python, requirement, cwd=source)
    work = base / "work"
    work.mkdir()
    return Installed(name, venv / "bin", work)


def test_the_dockerfile_installs_cpu_torch_before_the_package() -> None:
    assert dockerfile_installs_torch_first()


def test_the_install_has_no_test_tools(installed: Installed) -> None:
    listed = subprocess.run(
        [str(installed.bin / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for tool in ("pytest", "playwright", "schemathesis", "hypothesis", "mypy", "ruff"):
        assert f"\n{tool}==" not in f"\n{listed}", f"{installed.name} install pulled {tool}"


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[str]:
    """The installed `qa` has indexed seeds/ and serves it; yields the base URL."""
    env = installed.env()
    indexed = subprocess.run(
        ["qa", "index", str(SEEDS), "--json"],
        cwd=installed.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert indexed.returncode == 0, indexed.stderr[-3000:]
    port = free_port()
    log = (installed.work / "serve.log").open("wb")
    server = subprocess.Popen(
        ["qa", "serve", "--port", str(port)],
        cwd=installed.work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, (installed.work / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server never became ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


def test_the_installed_server_answers_the_seed_question(served: str) -> None:
    response = httpx.post(f"{served}/v1/ask", json={"question": QUESTION}, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    answer = body["answer"]
    assert answer is not None and EXPECTED in answer["text"]
    source = next(s for s in body["sources"] if s["id"] == answer["source_id"])
    assert source["text"][answer["start"] : answer["end"]] == answer["text"]
    docs = httpx.get(f"{served}/docs", timeout=60)
    assert docs.status_code == 200 and "cdn.jsdelivr.net" not in docs.text


def run_in_terminal(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdin, stdout and stderr; its status and output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal closed because the command exited
                break
            if not chunk:
                break
            output.extend(chunk)
        else:
            process.kill()
        return process.wait(timeout=60), output.decode("utf-8", errors="replace")
    finally:
        os.close(controller)


def test_qa_ask_in_a_terminal_prints_arabic(installed: Installed, served: str) -> None:
    # `served` built the index this reads (SQLite allows the second reader beside the server).
    env = {**installed.env(), "TERM": "xterm-256color", "COLUMNS": "120", "LANG": "C.UTF-8"}
    status, output = run_in_terminal(["qa", "ask", QUESTION], installed.work, env, timeout=600)
    assert status == 0, output[-3000:]
    assert ARABIC_SHAPED.search(output) or ARABIC.search(output), output[-3000:]
    assert ARABIC_SHAPED.search(output), "the terminal output was not shaped for display"
    assert "Traceback" not in output
