"""Time opening a large index: from the snapshot (normal start) and from SQLite (no snapshot).

Fills a catalogue with N synthetic passages (4 clauses each, random unit vectors: load time
does not depend on their distribution), closes it (which writes a snapshot), then times
LiveIndex loads. The model load and background embedding of `qa serve` come on top.

    python bench/startup.py --passages 100000 --dir /tmp/qa-startup
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from qa.domain import Document, Passage, Sentence
from qa.retrieve.live import LiveIndex
from qa.store.catalog import Catalog, NewPassage
from qa.store.snapshot import FOLDER

DIM = 384


def fill(catalog: Catalog, passages: int, per_doc: int = 10) -> None:
    rng = np.random.default_rng(0)
    for d in range(passages // per_doc):
        text = " ".join(f"word{rng.integers(50_000)}" for _ in range(60))
        doc = Document(id=f"d{d}", text=text)
        new = []
        for j in range(per_doc):
            vecs = rng.standard_normal((5, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            units = tuple(Sentence(i * 100, i * 100 + 90) for i in range(4))
            p = Passage(f"p{d}_{j}", doc.id, text, "", 0, len(text), {}, units)
            new.append(NewPassage(p, vecs[0], vecs[1:]))
        catalog.upsert(doc, new)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qa-startup"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    catalog = Catalog(args.dir / "catalog.sqlite3", DIM)
    started = time.perf_counter()
    fill(catalog, args.passages)
    print(f"filled {args.passages} passages in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    live = LiveIndex(args.dir, catalog, DIM)
    print(f"load from SQLite (no snapshot): {time.perf_counter() - started:.2f}s")
    started = time.perf_counter()
    live.close()
    print(f"snapshot written: {time.perf_counter() - started:.2f}s")
    for _ in range(2):
        started = time.perf_counter()
        live = LiveIndex(args.dir, catalog, DIM)
        print(
            f"load from snapshot: {time.perf_counter() - started:.2f}s ({len(live.view)} passages)"
        )
    print("snapshot kinds:", live.view.specs)
    shutil.rmtree(args.dir / FOLDER)


if __name__ == "__main__":
    main()
