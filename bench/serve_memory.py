"""Resident memory of `qa serve` before, while and after it indexes a corpus over HTTP.

    python bench/serve_memory.py [--reader auto|off] [--idle-s 60] [--settle-s 75] [--docs N]

Starts `qa serve` on an empty temporary index, POSTs ARCD-train's articles (and the seed) to
/v1/documents a few at a time while a thread samples the resident memory of the server and
its child processes every 0.1 s, asks a few questions, then waits `--settle-s` seconds (past
the batch engine's idle time, QA_INDEXING_IDLE_S) and measures again. RSS of a process and
its children is summed: pages they share count twice, so the number errs high.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import load_corpus  # noqa: E402

QUESTIONS = ["ما هي عاصمة مصر؟", "What did Imran Khan emphasize?", "متى تأسست الجامعة؟"]


def tree_mib(pid: int, key: str = "Rss") -> float:
    """Rss (or Pss) of a process and all its descendants, in MiB (0 for one that is gone).

    Summed Rss counts the pages parent and child share (libraries) twice; Pss splits them.
    """
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith(f"{key}:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def tree_rss_mib(pid: int) -> float:
    """Summed Rss of the process tree, in MiB."""
    return tree_mib(pid, "Rss")


class Sampler:
    """Samples tree_rss_mib(pid) every `every` seconds in a thread; keeps the maximum."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every, self.peak, self.peak_pss = pid, every, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mib(self.pid))
            self.peak_pss = max(self.peak_pss, tree_mib(self.pid, "Pss"))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"qa serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("qa serve did not start in 1200 s")


def measure(
    reader: str, idle_s: float | None, settle_s: float, docs: int | None
) -> dict[str, object]:
    """RSS at start, peak while indexing, right after, and after `settle_s` seconds idle."""
    corpus = load_corpus(questions=0)
    documents = corpus.documents[:docs] if docs else corpus.documents
    with tempfile.TemporaryDirectory(prefix="qa-mem-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        env.update(QA_INDEX_DIR=str(Path(tmp) / "index"), QA_READER=reader)
        env.update(QA_LOG_LEVEL="warning", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
        env["QA_REQUEST_TIMEOUT_S"] = "3600"  # a busy machine must not cut an indexing call
        if "QA_MODEL_CACHE_DIR" in os.environ:
            env["QA_MODEL_CACHE_DIR"] = os.environ["QA_MODEL_CACHE_DIR"]
        if idle_s is not None:
            env["QA_INDEXING_IDLE_S"] = str(idle_s)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
        with (Path(tmp) / "server.log").open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_up(url, process)
                time.sleep(1.0)
                result: dict[str, object] = {"reader": reader, "documents": len(documents)}
                result["start_mib"] = tree_rss_mib(process.pid)
                started = time.perf_counter()
                with Sampler(process.pid) as sampler, httpx.Client(timeout=600) as client:
                    for first in range(0, len(documents), 10):
                        body = {
                            "documents": [
                                {"id": d.id, "title": d.title, "text": d.text}
                                for d in documents[first : first + 10]
                            ]
                        }
                        client.post(f"{url}/v1/documents", json=body).raise_for_status()
                    for question in QUESTIONS:
                        client.post(f"{url}/v1/ask", json={"question": question})
                result["index_s"] = round(time.perf_counter() - started, 1)
                result["peak_indexing_mib"] = sampler.peak
                result["peak_indexing_pss_mib"] = sampler.peak_pss
                result["after_indexing_mib"] = tree_rss_mib(process.pid)
                time.sleep(settle_s)
                with httpx.Client(timeout=60) as client:
                    for question in QUESTIONS:
                        client.post(f"{url}/v1/ask", json={"question": question})
                result[f"at_rest_{settle_s:.0f}s_mib"] = tree_rss_mib(process.pid)
                result[f"at_rest_{settle_s:.0f}s_pss_mib"] = tree_mib(process.pid, "Pss")
            finally:
                process.terminate()
                process.wait(30)
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    """Parse arguments, measure, print one JSON line per reader mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", choices=["auto", "on", "off"], action="append")
    parser.add_argument("--idle-s", type=float, help="QA_INDEXING_IDLE_S for the server")
    parser.add_argument("--settle-s", type=float, default=75.0)
    parser.add_argument("--docs", type=int, help="index only the first N documents")
    args = parser.parse_args()
    for reader in args.reader or ["auto", "off"]:
        print(json.dumps(measure(reader, args.idle_s, args.settle_s, args.docs)), flush=True)


if __name__ == "__main__":
    main()
