"""Time opening a large index: the view from a snapshot, the first search, a real `qa serve`.

Fills a catalogue with N synthetic passages (4 clauses each, random unit vectors: load time
does not depend on their distribution), loads it from SQLite and closes it (which writes a
snapshot), then times:

  (a) LiveIndex loads from the snapshot (the normal start),
  (b) the first search after a load, BM25 included, the first write (which copies the mapped
      vector indexes into memory) and the search after it,
  (c) `qa serve` on the same folder, from spawning the process to GET /readyz answering 200
      (the first start, which also embeds the background passages once, is reported apart).

    python bench/startup.py --passages 100000 --dir /tmp/qa-startup [--reuse]

`--reuse` keeps a folder filled by an earlier run (filling and the SQLite load take minutes).
Timings on a shared machine are noisy: the median of several starts is reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from qa.domain import Clause, Document, Passage  # noqa: E402
from qa.retrieve.live import LiveIndex  # noqa: E402
from qa.store.base import NewPassage, StoredPassage  # noqa: E402
from qa.store.catalog import Catalog  # noqa: E402
from qa.text.query import parse_query  # noqa: E402

DIM = 384
CATALOG = "catalog.sqlite3"


def fill(catalog: Catalog, passages: int, per_doc: int = 10) -> None:
    """Synthetic documents of `per_doc` passages, 60 random words each."""
    rng = np.random.default_rng(0)
    for d in range(passages // per_doc):
        text = " ".join(f"word{rng.integers(50_000)}" for _ in range(60))
        doc = Document(id=f"d{d}", text=text)
        new = []
        for j in range(per_doc):
            vecs = rng.standard_normal((5, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            units = tuple(Clause(i * 100, i * 100 + 90) for i in range(4))
            p = Passage(f"p{d}_{j}", doc.id, text, "", 0, len(text), {}, units)
            new.append(NewPassage(p, vecs[0], vecs[1:]))
        catalog.upsert(doc, new)


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def view_timings(folder: Path, catalog: Catalog, loads: int) -> None:
    """(a) loads from the snapshot, (b) the first search and first write after one."""
    rng = np.random.default_rng(1)
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        live = LiveIndex(folder, catalog, DIM)
        times.append(time.perf_counter() - started)
    print(
        f"(a) load from snapshot: median {statistics.median(times):.2f}s of {loads} "
        f"({', '.join(f'{t:.2f}' for t in times)}) for {len(live.view)} passages"
    )
    query = "word123 word4567 word89"
    for label in ("first", "second"):
        started = time.perf_counter()
        found = live.view.search(parse_query(query, _unit(rng)), 10)
        print(
            f"(b) {label} search after load (dense + clauses + BM25): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms, {len(found.candidates)} hits"
        )
    text = "word1 word2 word3"
    vectors = np.stack([_unit(rng) for _ in range(5)])
    passage = Passage("bench-new", "bench", text, "", 0, len(text), {}, (Clause(0, 5),) * 4)
    rid = max(live.view.rids()) + 1
    for label, item in (("first", rid), ("second", rid + 1)):
        stored = StoredPassage(item, passage, vectors[0], vectors[1:])
        started = time.perf_counter()
        live.view.apply([item - 1], [stored])  # view only: the catalogue is not touched
        took = time.perf_counter() - started
        print(f"    {label} write after load (1 removed, 1 added): {took:.2f}s")
    started = time.perf_counter()
    found = live.view.search(parse_query(query, _unit(rng)), 10)
    took = (time.perf_counter() - started) * 1000
    print(f"(b) search after those writes (BM25 included): {took:.0f} ms")
    print("    snapshot kinds:", live.view.specs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_until_ready(folder: Path, timeout: float = 600.0) -> float:
    """Seconds from spawning `qa serve` on `folder` until /readyz answers 200."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QA_LOG_LEVEL="warning")
    env["PYTHONPATH"] = str(ROOT)
    if "QA_MODEL_CACHE_DIR" in os.environ:
        env["QA_MODEL_CACHE_DIR"] = os.environ["QA_MODEL_CACHE_DIR"]
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--index-dir", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=2) as client:
            while time.perf_counter() - started < timeout:
                if process.poll() is not None:
                    raise RuntimeError(f"qa serve exited with {process.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise RuntimeError(f"qa serve was not ready after {timeout:.0f}s")
    finally:
        process.terminate()
        process.wait(60)


def main() -> None:
    """Fill (unless reused), then print the timings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-startup"))
    parser.add_argument("--reuse", action="store_true", help="keep an already filled --dir")
    parser.add_argument("--loads", type=int, default=3, help="snapshot loads to time")
    parser.add_argument("--serves", type=int, default=3, help="`qa serve` starts to time")
    args = parser.parse_args()
    reuse = args.reuse and (args.dir / CATALOG).exists()
    if not reuse:
        shutil.rmtree(args.dir, ignore_errors=True)
    catalog = Catalog(args.dir / CATALOG, DIM)
    if not reuse:
        started = time.perf_counter()
        fill(catalog, args.passages)
        print(f"filled {args.passages} passages in {time.perf_counter() - started:.0f}s")
        started = time.perf_counter()
        live = LiveIndex(args.dir, catalog, DIM)
        print(f"load from SQLite (no snapshot): {time.perf_counter() - started:.2f}s")
    else:
        live = LiveIndex(args.dir, catalog, DIM)
    started = time.perf_counter()
    live.close()
    print(f"snapshot written at close: {time.perf_counter() - started:.2f}s")
    view_timings(args.dir, catalog, args.loads)
    catalog.close()
    first = serve_until_ready(args.dir)
    print(f"(c) qa serve, first start (writes the manifest, embeds the background): {first:.2f}s")
    times = [serve_until_ready(args.dir) for _ in range(args.serves)]
    print(
        f"(c) qa serve, spawn to /readyz 200: median {statistics.median(times):.2f}s of "
        f"{args.serves} ({', '.join(f'{t:.2f}' for t in times)})"
    )


if __name__ == "__main__":
    main()
