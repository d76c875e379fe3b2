"""Milvus mode at scale: replica memory and start-up at 1k vs 100k passages, and /v1/ask latency.

    python bench/milvus_scale.py [--sizes 1000 100000] [--asks 300] [--dir /tmp/qa-milvus-scale]
                                 [--uri http://milvus.internal:19530] [--token user:password]
    python bench/milvus_scale.py latency --uri URI --prefix PREFIX --documents 5000 --asks 30

Without --uri it starts milvus-lite's gRPC server (`milvus-lite server`) in its own process, so
that replicas hold only what a replica holds; with --uri it uses that Milvus (a standalone
server or a cluster) under a fresh collection prefix. For each size it fills the same synthetic
corpus into Milvus and into an embedded (FAISS + SQLite) index, then starts a replica process
three times (`replica` below: open the pipeline, ask 20 questions) and reports the median time
from spawning it to its answers, and its resident memory. At the largest size it serves each
store with uvicorn and times POST /v1/ask, one request at a time, on the same questions.

The corpus is synthetic and the embedder a deterministic fake (tests/store/hashed_embedder.py:
hashed token vectors, no model), so that 100k passages load in minutes on two cores: memory,
start-up and latency do not depend on what the text says. Quality is measured by `qa eval`
with the real model (README, "Scale out with Milvus").
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from qa.backends import open_pipeline  # noqa: E402
from qa.domain import Clause, Document, Passage  # noqa: E402
from qa.pipeline import PipelineOptions  # noqa: E402
from qa.store.base import NewPassage  # noqa: E402
from tests.store.hashed_embedder import HashedEmbedder  # noqa: E402

DIM = 384
VOCABULARY = 30_000
PER_DOCUMENT = 20
SENTENCES, WORDS = 3, 12  # per passage, per sentence: 3 clauses each
PROBE_QUESTIONS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}") from None
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def memory(pid: int | str = "self") -> dict[str, float]:
    """Resident and peak resident memory (MiB) of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def words() -> list[str]:
    return [f"w{i}" for i in range(VOCABULARY)]


class Corpus:
    """Synthetic documents: Zipf-distributed words, passage and clause vectors from the fake."""

    def __init__(self, embedder: HashedEmbedder) -> None:
        self.vocabulary = words()
        self.table = np.stack([embedder.token_vector(w) for w in self.vocabulary])

    def _vector(self, ids: np.ndarray) -> np.ndarray:
        v = self.table[ids].sum(axis=0)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def document(self, n: int) -> tuple[Document, list[NewPassage]]:
        rng = np.random.default_rng(n)
        ids = (rng.zipf(1.3, (PER_DOCUMENT, SENTENCES, WORDS)) - 1) % VOCABULARY
        paragraphs, new, start = [], [], 0
        for j in range(PER_DOCUMENT):
            sentences = [" ".join(self.vocabulary[i] for i in s) + "." for s in ids[j]]
            text = " ".join(sentences)
            spans, at = [], 0
            for s in sentences:
                spans.append(Clause(at, at + len(s)))
                at += len(s) + 1
            passage = Passage(
                f"d{n}-{j}", f"d{n}", "", text, start, start + len(text), {}, tuple(spans)
            )
            units = np.stack([self._vector(s) for s in ids[j]])
            new.append(NewPassage(passage, self._vector(ids[j].ravel()), units))
            paragraphs.append(text)
            start += len(text) + 2
        return Document(id=f"d{n}", text="\n\n".join(paragraphs)), new

    def questions(self, n: int, documents: int) -> list[str]:
        rng = np.random.default_rng(10**6)
        out = []
        for _ in range(n):
            ids = (rng.zipf(1.3, 40) - 1) % VOCABULARY
            doc, _ = self.document(int(rng.integers(documents)))
            picked = rng.choice(doc.text.replace(".", "").split(), 6, replace=False)
            out.append(" ".join(picked) + " " + self.vocabulary[int(ids[0])] + "?")
        return out


def options(args: argparse.Namespace, store: str, prefix: str) -> PipelineOptions:
    return PipelineOptions(
        index_dir=Path(args.dir) / "embedded",
        vector_store=store,
        milvus_uri=args.uri,
        milvus_token=args.token,
        milvus_collection=prefix,
    )


def fill(args: argparse.Namespace, prefix: str, have: int, want: int, corpus: Corpus) -> None:
    """Add documents have..want (in documents) to both stores."""
    embedder = HashedEmbedder(DIM)
    milvus = open_pipeline(options(args, "milvus", prefix), embedder=embedder)
    embedded = open_pipeline(options(args, "faiss", prefix), embedder=embedder)
    started = time.perf_counter()
    batch: list[tuple[Document, list[NewPassage]]] = []
    for n in range(have, want):
        batch.append(corpus.document(n))
        if len(batch) == 50 or n == want - 1:
            milvus.store.upsert_many(batch)  # type: ignore[union-attr]
            for document, new in batch:
                embedded.store.upsert(document, new)
            batch = []
            done = (n + 1) * PER_DOCUMENT
            rate = (done - have * PER_DOCUMENT) / (time.perf_counter() - started)
            print(f"  filled {done} passages ({rate:.0f}/s)", file=sys.stderr, flush=True)
    embedded.refresh(force=True)
    flush = getattr(milvus.store._client, "flush", None)  # type: ignore[union-attr]
    if flush is not None:  # seal what was written, as Milvus does by itself after a while
        for name in ("passages", "clauses", "heads", "terms"):
            flush(f"{prefix}_{name}")
    milvus.close()
    embedded.close()  # leaves a snapshot: the embedded store's normal start


def replica(args: argparse.Namespace) -> None:
    """A replica: open the pipeline, answer questions, report time and memory (child)."""
    started = time.perf_counter()
    pipeline = open_pipeline(options(args, args.store, args.prefix), embedder=HashedEmbedder(DIM))
    opened = time.perf_counter() - started
    for question in json.loads(args.questions):
        pipeline.ask(question)
    total = time.perf_counter() - started
    print(json.dumps({"open_s": opened, "ready_s": total, **memory()}), flush=True)
    pipeline.close()


def measure_replica(
    args: argparse.Namespace, store: str, prefix: str, q: list[str]
) -> dict[str, Any]:
    """Median over three starts of a replica process."""
    runs = []
    for _ in range(3):
        spawned = time.perf_counter()
        out = subprocess.run(
            [
                *(sys.executable, __file__, "replica", "--store", store, "--prefix", prefix),
                *("--dir", args.dir, "--questions", json.dumps(q)),
                *(["--uri", args.uri] if args.uri else []),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["spawn_to_answers_s"] = time.perf_counter() - spawned
        runs.append(row)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def serve(args: argparse.Namespace) -> None:
    """Serve one store over HTTP (child)."""
    import uvicorn

    from qa.api.main import create_app
    from qa.config import Settings

    pipeline = open_pipeline(options(args, args.store, args.prefix), embedder=HashedEmbedder(DIM))
    uvicorn.run(create_app(Settings(), pipeline), port=args.port, log_level="warning")


def ask_latency(args: argparse.Namespace, store: str, prefix: str, q: list[str]) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    proc = subprocess.Popen(
        [
            *(sys.executable, __file__, "serve", "--store", store, "--prefix", prefix),
            *("--dir", args.dir, "--port", str(port)),
            *(["--uri", args.uri] if args.uri else []),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_port(port, proc)
        times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for n, question in enumerate(q):
                began = time.perf_counter()
                r = client.post("/v1/ask", json={"question": question, "top_k": 5})
                r.raise_for_status()
                if n >= 10:  # the first few warm caches up
                    times.append((time.perf_counter() - began) * 1000)
        mem = memory(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    return {
        "asks": len(times),
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "server_rss_mib": mem["VmRSS"],
    }


def start_server(args: argparse.Namespace) -> subprocess.Popen[Any] | None:
    if args.uri:
        return None
    port = free_port()
    data = Path(args.dir) / "milvus-lite"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(Path(args.dir) / "milvus-lite.log").open("wb"),
    )
    wait_port(port, proc, 120)
    args.uri = f"http://127.0.0.1:{port}"
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mode", nargs="?", default="bench", choices=["bench", "latency", "replica", "serve"]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--asks", type=int, default=300)
    parser.add_argument("--dir", default="/tmp/qa-milvus-scale")
    parser.add_argument("--uri")
    parser.add_argument("--token")
    parser.add_argument("--store", default="milvus")
    parser.add_argument("--prefix", default="scale")
    parser.add_argument("--questions", default="[]")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--documents", type=int, default=5000, help="latency: documents filled")
    args = parser.parse_args()
    if args.mode == "replica":
        return replica(args)
    if args.mode == "serve":
        return serve(args)
    if args.mode == "latency":  # only the ask latency, over a corpus an earlier run filled
        q = Corpus(HashedEmbedder(DIM)).questions(args.asks + 10, args.documents)
        report = {s: ask_latency(args, s, args.prefix, q) for s in ("milvus", "faiss")}
        print(json.dumps(report, indent=2))
        return None
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    server = start_server(args)
    prefix = f"scale{int(time.time())}"
    corpus = Corpus(HashedEmbedder(DIM))
    report: dict[str, Any] = {
        "corpus": "synthetic (Zipf words), fake hashed embedder, 384 dimensions, "
        f"{PER_DOCUMENT} passages a document, {SENTENCES} clauses a passage",
        "milvus": "milvus-lite server (separate process)" if server else args.uri,
        "sizes": {},
    }
    try:
        have = 0
        for size in sorted(args.sizes):
            want = size // PER_DOCUMENT
            fill(args, prefix, have, want, corpus)
            have = want
            probe = corpus.questions(PROBE_QUESTIONS, want)
            report["sizes"][size] = {
                store: measure_replica(args, store, prefix, probe) for store in ("milvus", "faiss")
            }
            print(json.dumps({size: report["sizes"][size]}), file=sys.stderr, flush=True)
        q = corpus.questions(args.asks + 10, have)
        report["ask"] = {
            store: ask_latency(args, store, prefix, q) for store in ("milvus", "faiss")
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(60)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
