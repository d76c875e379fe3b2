"""Bounded load test on loopback: N clients mixing asks and document additions for T seconds.

    python bench/load.py [--duration 60] [--clients 16] [--add-share 0.2] [--url URL --pid PID]

Without --url it indexes seeds/ into a temporary folder, starts `qa serve` on a free loopback
port, loads it, reads the server's peak resident memory (VmHWM) and stops it. It prints
throughput, p50/p99 latency per operation, errors (goal: zero) and peak memory. Loopback only:
any other host is refused. Numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "ماذا أكد عمران خان؟",
    "مع من تحدث بوتين هاتفيا؟",
    "What did Imran Khan emphasize?",
    "What did Putin and Khan discuss?",
    "De quoi Poutine et Khan ont-ils parlé ?",
    "Worüber sprachen Putin und Khan?",
    "What is the boiling point of liquid nitrogen?",
]
WORDS = "budget meeting report river harvest council vaccine railway museum festival".split()


@dataclass
class Results:
    """Latencies (seconds) by operation, and errors by kind; shared by the client threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"ask": [], "add": []})
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def client_loop(url: str, index: int, deadline: float, add_share: float, out: Results) -> None:
    """One client: ask or add until the deadline, one request at a time."""
    rng = random.Random(index)
    count = 0
    with httpx.Client(base_url=url, timeout=120) as http:
        while time.monotonic() < deadline:
            if rng.random() < add_share:
                op = "add"
                count += 1
                text = ". ".join(
                    " ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(rng.randint(2, 8))
                )
                doc = {"id": f"load-{index}-{count}", "title": "load", "text": text + "."}
                request = ("POST", "/v1/documents", {"documents": [doc]})
            else:
                op = "ask"
                request = ("POST", "/v1/ask", {"question": rng.choice(QUESTIONS), "top_k": 5})
            started = time.perf_counter()
            try:
                response = http.request(request[0], request[1], json=request[2])
                ok = response.status_code < 400
                kind = f"{op} HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, kind = False, f"{op} {type(exc).__name__}"
            elapsed = time.perf_counter() - started
            with out.lock:
                out.latencies[op].append(elapsed)
                if not ok:
                    out.errors[kind] += 1


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set (VmHWM), in MiB, where /proc has it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Index the seeds into workdir and serve them on a free loopback port."""
    env = {**os.environ, "QA_INDEX_DIR": str(workdir / "index"), "HF_HUB_OFFLINE": "1"}
    env["QA_LOG_LEVEL"] = "warning"
    cli = [sys.executable, "-m", "qa.cli"]
    subprocess.run([*cli, "index", "seeds"], cwd=ROOT, env=env, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"server did not become ready; see {workdir / 'server.log'}")


def run(url: str, duration: float, clients: int, add_share: float) -> Results:
    """Drive the clients for `duration` seconds."""
    out = Results()
    deadline = time.monotonic() + duration
    threads = [
        threading.Thread(target=client_loop, args=(url, i, deadline, add_share, out))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def report(out: Results, wall: float, clients: int, peak: float | None) -> dict[str, object]:
    """The numbers, as one JSON-able mapping."""
    every = out.latencies["ask"] + out.latencies["add"]
    summary: dict[str, object] = {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(every),
        "throughput_rps": round(len(every) / wall, 2),
        "errors": sum(out.errors.values()),
        "error_kinds": dict(out.errors),
        "peak_rss_mib": round(peak, 1) if peak is not None else None,
    }
    for op, values in [("all", every), *out.latencies.items()]:
        summary[op] = {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        }
    return summary


def main() -> None:
    """Parse arguments, run the load, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--add-share", type=float, default=0.2, help="share of additions")
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--pid", type=int, help="its process id, for peak memory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="qa-load-"))
    process = None
    url, pid = args.url, args.pid
    if url is None:
        url, process = start_server(workdir)
        pid = process.pid
    if urlparse(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench/load.py only loads a server on loopback")
    try:
        started = time.monotonic()
        out = run(url, args.duration, args.clients, args.add_share)
        wall = time.monotonic() - started
        peak = peak_rss_mib(pid) if pid else None
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)
    summary = report(out, wall, args.clients, peak)
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
