"""Reading time per question: setups of the span reader compared alternately in one process.

    python bench/reader_speed.py [--questions N] [--threads 1]

Every ARCD question (the first N) is retrieved and its clauses ranked once; then each setup
reads it, the setups taking turns question by question, so a busy machine slows them alike.
Setups: "old" (torch dynamic int8, the top two windows in one batched pass), "torch-seq"
(torch int8, the lead window first and the second only when unsure), "onnx-seq" (the same on
ONNX Runtime int8: today's default). Prints per setup the median, p90 and p99 of read_span's
time in ms and windows read per question, and each median as a ratio to "old".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from features import ARCD, ask_all

from qa.answer.extractive import ClauseModel, choose_clause
from qa.answer.reader_abstain import load_calibration
from qa.answer.readers import load_span_scorer
from qa.answer.reading import ReadingShape, SpanCandidateLike, SpanScorer, read_span
from qa.backends import open_pipeline
from qa.config import Settings
from qa.evaluate import load_eval_file
from qa.pipeline import PipelineOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("bench/results/answer-index/arcd"))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    cache = settings.model_cache_dir
    torch_int8 = load_span_scorer("on", cache, args.threads, "int8", "torch")
    onnx_int8 = load_span_scorer("on", cache, args.threads, "int8", "onnx")
    assert torch_int8 is not None and onnx_int8 is not None
    pipeline = open_pipeline(PipelineOptions(index_dir=args.index_dir, reader="off"))
    arcd = load_eval_file(ARCD)
    known = {d.id for d in pipeline.list_documents()}
    missing = [d for d in arcd.documents if d.id not in known]
    if missing:
        pipeline.add_documents(missing)
    questions = arcd.questions[: args.questions]
    asked = ask_all(pipeline, questions, {}, None)
    model = ClauseModel()
    prepared = []
    for a in asked:
        choice = choose_clause(a.query, a.retrieval, a.idf, model)
        if choice is not None:
            prepared.append((a.question.question, a.retrieval, choice))
    calibration = load_calibration()
    priors = (calibration.passage_weight, calibration.clause_weight)
    setups: dict[str, tuple[SpanScorer, ReadingShape]] = {
        "old": (torch_int8, ReadingShape(confident_margin=None)),
        "torch-seq": (torch_int8, ReadingShape()),
        "onnx-seq": (onnx_int8, ReadingShape()),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    windows: dict[str, int] = dict.fromkeys(setups, 0)
    for question, retrieval, choice in prepared[:3]:  # warm-up
        for scorer, shape in setups.values():
            read_span(question, retrieval, choice, scorer, shape, *priors)
    for question, retrieval, choice in prepared:
        for name, (scorer, shape) in setups.items():
            counted = _Counting(scorer)
            started = time.perf_counter()
            read_span(question, retrieval, choice, counted, shape, *priors)
            times[name].append(1000 * (time.perf_counter() - started))
            windows[name] += counted.texts
    old = float(np.median(times["old"]))
    report = {
        name: {
            "median_ms": round(float(np.median(t)), 1),
            "p90_ms": round(float(np.percentile(t, 90)), 1),
            "p99_ms": round(float(np.percentile(t, 99)), 1),
            "windows_per_q": round(windows[name] / max(1, len(prepared)), 2),
            "median_vs_old": round(float(np.median(t)) / old, 2),
        }
        for name, t in times.items()
    }
    print(json.dumps({"questions": len(prepared), **report}, indent=2))


class _Counting:
    """A span scorer that counts the texts it is asked to read."""

    def __init__(self, scorer: SpanScorer) -> None:
        self.scorer = scorer
        self.texts = 0

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> Sequence[SpanCandidateLike]:
        self.texts += len(texts)
        return self.scorer.read(question, texts, top_n, max_answer_tokens)


if __name__ == "__main__":
    main()
