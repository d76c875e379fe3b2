"""Start `qa serve` as a real subprocess on a free loopback port, for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running server: its base URL, process and captured log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    index_dir: Path


@contextmanager
def live_server(
    seed_index: Path, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Serve a private copy of seed_index until the block ends; fails if /readyz never passes."""
    index_dir = workdir / "index"
    shutil.copytree(seed_index, index_dir)
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    clean["QA_MODEL_CACHE_DIR"] = os.environ.get("QA_MODEL_CACHE_DIR", str(workdir / "models"))
    full_env = {**clean, "QA_INDEX_DIR": str(index_dir), **(env or {})}
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield LiveServer(url, process, log, index_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready in time:\n{log.read_text(errors='replace')}")
