"""Speed of the real service: indexing vs the bare embedder, start-up, /v1/ask latency, memory.

The server runs as its own process (`qa serve`), exactly as deployed; clients talk HTTP to it.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import Corpus, passage_texts
from qa.backends import open_pipeline
from qa.embed.base import Embedder
from qa.pipeline import PipelineOptions


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def indexing(corpus: Corpus, embedder: Embedder, index_dir: Path) -> dict[str, Any]:
    """Passages/s of Pipeline.add_documents vs embedder.embed_passages on the same passages."""
    texts = passage_texts(corpus.documents, embedder)
    embedder.embed_passages(texts[:8])  # warm the engine
    started = time.perf_counter()
    embedder.embed_passages(texts)
    bare = time.perf_counter() - started
    pipeline = open_pipeline(PipelineOptions(index_dir=index_dir), embedder=embedder)
    started = time.perf_counter()
    pipeline.add_documents(corpus.documents)
    ours = time.perf_counter() - started
    _, stored = pipeline.store.count()
    pipeline.close()
    assert stored == len(texts), (stored, len(texts))
    return {
        "passages": len(texts),
        "bare_embedder_passages_per_s": len(texts) / bare,
        "pipeline_passages_per_s": len(texts) / ours,
        "ratio_pipeline_to_bare": bare / ours,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ask_all(url: str, questions: list[str]) -> list[float]:
    latencies = []
    with httpx.Client(timeout=60) as client:
        for q in questions:
            started = time.perf_counter()
            response = client.post(f"{url}/v1/ask", json={"question": q})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def _clients(url: str, questions: list[str], n: int) -> dict[str, float]:
    shares = [questions[i::n] for i in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        latencies = [x for part in pool.map(lambda s: _ask_all(url, s), shares) for x in part]
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "throughput_rps": len(ms) / wall,
    }


def serve_and_ask(
    index_dir: Path,
    questions: list[str],
    embedder: str,
    reader: str = "off",
    eight_clients: bool = True,
) -> dict[str, Any]:
    """Start `qa serve` on a built index; time start-up, then 1 (and 8) clients on /v1/ask.

    `reader` is QA_READER for the server: "off" answers with clauses, "on" with the span
    reader (the server refuses to start when the reader cannot load).
    """
    port = _free_port()
    env = dict(
        os.environ,
        QA_INDEX_DIR=str(index_dir),
        QA_EMBEDDER=embedder,
        QA_LOG_LEVEL="warning",
        QA_READER=reader,
    )
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            startup = _wait_ready(url, process, started)
            _ask_all(url, questions[:10])  # warm
            cpu = _cpu_seconds(process.pid)
            one = _clients(url, questions, 1)
            # CPU time per request: what one answer costs, whatever else the machine runs
            # (wall-clock latencies on a shared machine include waiting for a core)
            one["cpu_ms_per_request"] = (_cpu_seconds(process.pid) - cpu) * 1000 / len(questions)
            eight = _clients(url, questions, 8) if eight_clients else None
            peak = _peak_rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    result: dict[str, Any] = {
        "reader": reader,
        "startup_s": startup,
        "peak_rss_mib": peak,
        "one_client": one,
    }
    if eight is not None:
        result["eight_clients"] = eight
        result["throughput_ratio_8_to_1"] = eight["throughput_rps"] / one["throughput_rps"]
    return result


def _wait_ready(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    while time.perf_counter() - started < 300:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("qa serve did not become ready in 300 s")
