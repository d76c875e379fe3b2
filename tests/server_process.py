"""A `qa serve` process group on a temp index that tests can SIGKILL or stop (fault tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """One `qa serve` process group on a temp index; killed with SIGKILL or stopped cleanly.

    `env` adds variables (QA_API_KEYS…) to the server's environment.
    """

    def __init__(
        self,
        index_dir: Path,
        workers: int = 1,
        port: int | None = None,
        log_level: str = "warning",
        env: dict[str, str] | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        given = env or {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QA_LOG_LEVEL=log_level)
        if "QA_MODEL_CACHE_DIR" in os.environ:
            env["QA_MODEL_CACHE_DIR"] = os.environ["QA_MODEL_CACHE_DIR"]
        env["PYTHONPATH"] = str(ROOT)
        env.update(given)
        self.log_path = index_dir.parent / f"server-{self.port}.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "qa.cli", "serve", "--port", str(self.port)),
                *("--index-dir", str(index_dir), "--workers", str(workers)),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches every worker
        )

    def wait_alive(self, timeout: float = 120.0, route: str = "/healthz") -> None:
        """Wait until the route answers 200 (/readyz: the index is loaded and can answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}{route}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server did not come up: {self.log_path.read_text(errors='replace')}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM: a graceful shutdown (the pipeline closes and writes a snapshot)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.close()
