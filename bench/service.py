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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import Corpus, passage_texts
from bench.serve_memory import Sampler, tree_rss_mib
from qa.backends import open_pipeline
from qa.embed.base import Embedder
from qa.pipeline import PipelineOptions

# An empty index embeds the background texts at start-up (torch engine loaded): 225 s were
# measured at nice 15 on 2 cores busy with training (load average 8.6); seconds when quiet.
READY_TIMEOUT_S = 900


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


def _status_mib(pid: int, field: str) -> float:
    """A memory line of /proc/PID/status (VmHWM: peak resident, VmRSS: resident now), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM")


def _rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmRSS")


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


@contextmanager
def running_server(
    index_dir: Path, embedder: str, reader: str, ready: str = "/readyz", **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """`qa serve` on a free loopback port over index_dir: (url, process, start-up seconds).

    `reader` is QA_READER for the server: "off" answers with clauses, "on" with the span
    reader (the server refuses to start when the reader cannot load: RuntimeError here).
    Start-up ends when `ready` answers 200 (/readyz needs a non-empty index; /healthz not).
    """
    port = _free_port()
    environment = dict(
        os.environ,
        QA_INDEX_DIR=str(index_dir),
        QA_EMBEDDER=embedder,
        QA_LOG_LEVEL="warning",
        QA_READER=reader,
        **env,
    )
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                startup = _wait_ready(url, process, started, ready)
            except RuntimeError as exc:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace").strip().splitlines()[-1:]
                raise RuntimeError(f"{exc}: {' '.join(tail)}"[:300]) from exc
            yield url, process, startup
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:  # still starting up: SIGTERM waits for it
                process.kill()
                process.wait()


def serve_and_ask(
    index_dir: Path,
    questions: list[str],
    embedder: str,
    reader: str = "off",
    eight_clients: bool = True,
) -> dict[str, Any]:
    """Start `qa serve` on a built index; time start-up, then 1 (and 8) clients on /v1/ask."""
    with running_server(index_dir, embedder, reader) as (url, process, startup):
        _ask_all(url, questions[:10])  # warm
        cpu = _cpu_seconds(process.pid)
        one = _clients(url, questions, 1)
        # CPU time per request: what one answer costs, whatever else the machine runs
        # (wall-clock latencies on a shared machine include waiting for a core)
        one["cpu_ms_per_request"] = (_cpu_seconds(process.pid) - cpu) * 1000 / len(questions)
        eight = _clients(url, questions, 8) if eight_clients else None
        peak = _peak_rss_mib(process.pid)
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


def _post_documents(url: str, corpus: Corpus, batch: int) -> int:
    """Add the corpus through POST /v1/documents, `batch` documents a request: passages stored."""
    stored = 0
    with httpx.Client(timeout=3600) as client:
        for i in range(0, len(corpus.documents), batch):
            body = {
                "documents": [
                    {"id": d.id, "title": d.title, "text": d.text}
                    for d in corpus.documents[i : i + batch]
                ]
            }
            response = client.post(f"{url}/v1/documents", json=body)
            response.raise_for_status()
            stored += sum(d["passages"] for d in response.json()["documents"])
    return stored


def _settle(pid: int, seconds: float, step: float = 2.0) -> list[tuple[float, float]]:
    """Resident memory (MiB) every `step` seconds of an idle server, for `seconds`."""
    trace, started = [], time.perf_counter()
    while True:
        trace.append((round(time.perf_counter() - started, 1), tree_rss_mib(pid)))
        if time.perf_counter() - started >= seconds:
            return trace
        time.sleep(step)


def index_through_server(
    corpus: Corpus,
    questions: list[str],
    embedder: str,
    reader: str,
    settle_s: float = 60.0,
    batch: int = 10,
) -> dict[str, Any]:
    """Memory and speed of a serving process that indexes: `qa serve` on an empty index.

    Resident memory (MiB; the server and its indexing child summed) when it answers /healthz
    (empty index), its peak while the corpus is added through the API, right after, and at rest:
    after 10 questions (every model a question needs is loaded) and `settle_s` idle seconds.
    Then throughput of 1 and 8 clients asking.
    """
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(
            Path(tmp) / "index", embedder, reader, ready="/healthz", QA_REQUEST_TIMEOUT_S="3600"
        ) as (
            url,
            process,
            startup,
        ),
    ):
        pid = process.pid
        ready = tree_rss_mib(pid)
        started = time.perf_counter()
        with Sampler(pid) as sampler:
            stored = _post_documents(url, corpus, batch)
        index_s = time.perf_counter() - started
        # the server and the indexing child together, sampled every 0.1 s (VmHWM is per process)
        peak_indexing, after_indexing = sampler.peak, tree_rss_mib(pid)
        _ask_all(url, questions[:10])
        trace = _settle(pid, settle_s)
        one = _clients(url, questions, 1)
        eight = _clients(url, questions, 8)
        after_asking, peak = tree_rss_mib(pid), _peak_rss_mib(pid)
    return {
        "reader": reader,
        "startup_s": startup,
        "passages": stored,
        "index_passages_per_s": stored / index_s,
        "rss_ready_mib": ready,
        "rss_peak_indexing_mib": peak_indexing,
        "rss_after_indexing_mib": after_indexing,
        "rss_at_rest_mib": trace[-1][1],
        "rest_trace_s_mib": trace,
        "rss_after_asking_mib": after_asking,
        "rss_peak_mib": peak,
        "one_client": one,
        "eight_clients": eight,
        "throughput_ratio_8_to_1": eight["throughput_rps"] / one["throughput_rps"],
    }


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], started: float, ready: str = "/readyz"
) -> float:
    # One client for every poll: httpx.get builds a client (an SSL context) a call, which took
    # about half a core here at this rate, from the server starting up beside it.
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"qa serve exited with {process.returncode}")
            try:
                if client.get(f"{url}{ready}").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"qa serve did not become ready in {READY_TIMEOUT_S} s")
