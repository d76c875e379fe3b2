"""A `qa serve` subprocess over a private copy of an index, as a context manager for tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.server_process import LiveServer as ServerProcess
from tests.server_process import free_port

__all__ = ["LiveServer", "free_port", "live_server"]


@dataclass
class LiveServer:
    """A running server: its base URL, process and captured log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    index_dir: Path


@contextmanager
def live_server(seed_index: Path, workdir: Path) -> Iterator[LiveServer]:
    """Serve a private copy of seed_index until the block ends; fails if /readyz never passes."""
    index_dir = workdir / "index"
    shutil.copytree(seed_index, index_dir)
    server = ServerProcess(index_dir, log_level="info")
    try:
        server.wait_alive(timeout=180, route="/readyz")
        yield LiveServer(server.url, server.proc, server.log_path, index_dir)
    finally:
        server.stop()
