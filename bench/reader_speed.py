"""Reading time per question: setups of the span reader compared alternately in one process.

    python bench/reader_speed.py [--questions N] [--threads 2] [--torch]

Every ARCD question (the first N) is retrieved and its clauses ranked once; then each setup
reads it, the setups taking turns question by question, so a busy machine slows them alike.
Setups: "onnx-sleep" (ONNX Runtime int8, idle threads sleep at once: today's default),
"onnx-spin" (the same session with idle threads spinning a moment first), and with --torch
"torch-seq" (torch dynamic int8). Each reads the lead window first and the others only when
unsure. Prints per setup the median, p90 and p99 of read_span's time in ms and windows read
per question, and each median as a ratio to "onnx-sleep".
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
from qa.embed.export import bundled_model_path, export_sha256, word_table
from qa.evaluate import load_eval_file
from qa.pipeline import PipelineOptions
from qa.reader.infer import TrainedReader, load_tokenizer
from qa.reader.manifest import WEIGHTS_DIR, read_manifest
from qa.reader.onnx import THREADS, OnnxSpanLogits, export_path, open_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("bench/results/answer-index/arcd"))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--torch", action="store_true", help="also torch dynamic int8")
    args = parser.parse_args()
    cache = Settings().model_cache_dir
    assert cache is not None
    # Loading it once makes the export the sessions below open.
    assert load_span_scorer("on", cache, args.threads, "int8", "onnx") is not None
    readers = {name: _onnx_reader(cache, args.threads, spin) for name, spin in SPINS.items()}
    if args.torch:
        torch_int8 = load_span_scorer("on", cache, args.threads, "int8", "torch")
        assert torch_int8 is not None
        readers["torch-seq"] = torch_int8
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
        name: (reader, ReadingShape()) for name, reader in readers.items()
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
    old = float(np.median(times["onnx-sleep"]))
    report = {
        name: {
            "median_ms": round(float(np.median(t)), 1),
            "p90_ms": round(float(np.percentile(t, 90)), 1),
            "p99_ms": round(float(np.percentile(t, 99)), 1),
            "windows_per_q": round(windows[name] / max(1, len(prepared)), 2),
            "median_vs_sleep": round(float(np.median(t)) / old, 2),
        }
        for name, t in times.items()
    }
    print(json.dumps({"questions": len(prepared), **report}, indent=2))


SPINS = {"onnx-sleep": False, "onnx-spin": True}


def _onnx_reader(cache: Path, threads: int, spin: bool) -> TrainedReader:
    """The shipped reader on ONNX Runtime int8 (already exported), idle threads spinning or not."""
    model_dir = bundled_model_path(cache)
    target = export_path(model_dir.parent, WEIGHTS_DIR, export_sha256(model_dir))
    logits = OnnxSpanLogits(open_session(target, threads, spin), word_table(model_dir))
    return TrainedReader(logits, load_tokenizer(model_dir), read_manifest(WEIGHTS_DIR).spec)


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
