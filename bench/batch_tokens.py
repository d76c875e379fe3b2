"""Indexing speed and peak memory of the bundled model's batch size in tokens.

    python bench/batch_tokens.py [--tokens 1024 2048 4096] [--rounds 2] [--limit 231]

Each (setting, round) indexes ARCD's paragraphs into a fresh index in a fresh process (so its
peak RSS is its own), the settings alternating; prints passages/s and peak RSS of each run and
the medians. The bundled model on torch, in the process (no indexing child). Never a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def one_run(tokens: int, limit: int) -> dict[str, float]:
    """Index `limit` ARCD paragraphs with batches of at most `tokens` tokens; speed and peak."""
    from clause_vectors import arcd_documents

    from qa.backends import open_pipeline
    from qa.config import Settings
    from qa.embed.e5_st import BundledE5Embedder
    from qa.pipeline import PipelineOptions

    embedder = BundledE5Embedder(Settings().model_cache_dir, batch_tokens=tokens)
    docs = arcd_documents(limit)
    with tempfile.TemporaryDirectory(prefix="qa-bench-batch-") as folder:
        pipeline = open_pipeline(PipelineOptions(index_dir=Path(folder)), embedder=embedder)
        pipeline.add_documents(docs[:3])  # load the model, embed the background: uncounted
        started = time.perf_counter()
        results = pipeline.add_documents(docs[3:])
        elapsed = time.perf_counter() - started
        pipeline.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "passages_per_s": sum(r.passages for r in results) / elapsed,
        "peak_mib": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=231)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.child, args.limit)))
        return
    runs: dict[int, list[dict[str, float]]] = {t: [] for t in args.tokens}
    for round_ in range(args.rounds):
        for tokens in args.tokens if round_ % 2 == 0 else args.tokens[::-1]:
            command = [sys.executable, __file__, "--child", str(tokens), "--limit", str(args.limit)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            runs[tokens].append(row)
            print(
                f"round {round_ + 1} {tokens:>5} tokens: {row['passages_per_s']:.2f} passages/s, "
                f"peak {row['peak_mib']:.0f} MiB",
                flush=True,
            )
    for tokens, rows in runs.items():
        speed = statistics.median(r["passages_per_s"] for r in rows)
        peak = statistics.median(r["peak_mib"] for r in rows)
        print(f"{tokens:>5} tokens: median {speed:.2f} passages/s, peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
