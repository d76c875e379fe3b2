"""Quality of clause-vector variants: where late chunking loses, and what wins it back.

Embeds the ARCD paragraphs once with the torch engine (keeping every token state), then builds
one index per variant of the clause vectors from those states and asks every question of
eval/arcd-train.json (Arabic) and eval/arcd-train-xl.json (English/French/German):

    python bench/clause_variants.py [--variants separate late ...] [--reader off|on]
        [--clause-weights 0.5] [--out bench/results/clause_variants.json]

Variants: `separate` (each clause embedded as a text of its own), `late` (mean of the clause's
token states, qa/embed/late.py), `splitN` (the top N layers run again with each clause
attending to itself, QA_CLAUSE_VECTORS=split is N=4), `prefix` (late, with the passage's `<s>`,
"passage: " and `</s>` states in the mean, the tokens a clause embedded apart is pooled over),
`mixA` / `subB` (late plus / minus A x the passage vector), `early` (clauses embedded apart,
the passage vector their length-weighted mean: one pass over the clauses only).
`--constants FILE` answers with the clause ranker and abstainer bench/calibrate.py wrote.
Prints MRR@10 as `qa eval` reports it (the answering passage first), the ranking alone (search
MRR), answer and context accuracy, per file and variant. Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

import numpy as np

from qa import pipeline as pipeline_module
from qa.answer.abstain import Abstainer, Logistic
from qa.answer.extractive import ClauseModel
from qa.backends import open_pipeline
from qa.choices import ReaderMode
from qa.config import Settings
from qa.embed.base import Vectors, l2_normalise
from qa.embed.e5_st import PASSAGE_PREFIX, WINDOW, BundledE5Embedder, split_windows
from qa.embed.late import Span, pool_spans, shifted_offsets, token_span
from qa.evaluate import evaluate, is_gold, load_eval_file
from qa.pipeline import PipelineOptions
from qa.retrieve import hybrid

ROOT = Path(__file__).resolve().parent.parent
FILES = (ROOT / "eval" / "arcd-train.json", ROOT / "eval" / "arcd-train-xl.json")


class Encoded:
    """One passage's pass: its window states, token offsets, vector and prefix length."""

    def __init__(
        self, states: list[Vectors], offsets: list[Span], vector: Vectors, shift: list[int]
    ) -> None:
        self.states, self.offsets, self.vector, self.shift = states, offsets, vector, shift


Pool = Callable[[Encoded, list[Span], int], Vectors]


def late(e: Encoded, spans: list[Span], dim: int) -> Vectors:
    """Today's late chunking: the mean of the clause's token states."""
    return pool_spans(e.states, spans, WINDOW, dim)


def prefix(e: Encoded, spans: list[Span], dim: int, n_prefix: int) -> Vectors:
    """The clause's token states with the passage's <s>, prefix tokens and </s> in the mean."""
    first = e.states[0]
    extra = np.concatenate([first[: 1 + n_prefix], e.states[-1][-1:]]).astype(np.float64)
    out = np.zeros((len(spans), dim))
    for row, (a, b) in enumerate(spans):
        raw = np.zeros(dim)
        for w in range(a // WINDOW, (b - 1) // WINDOW + 1):
            lo = max(a, w * WINDOW) - w * WINDOW + 1
            hi = min(b, (w + 1) * WINDOW) - w * WINDOW + 1
            raw += e.states[w][lo:hi].sum(axis=0, dtype=np.float64)
        out[row] = (raw + extra.sum(axis=0)) / (b - a + len(extra))
    return l2_normalise(out.astype(np.float32))


def mixed(alpha: float) -> Pool:
    """Late plus alpha times the passage vector (negative alpha: minus), normalised."""

    def pool(e: Encoded, spans: list[Span], dim: int) -> Vectors:
        return l2_normalise(late(e, spans, dim) + np.float32(alpha) * e.vector[None, :])

    return pool


class VariantEmbedder:
    """The bundled e5 whose span vectors come from one chosen variant (states cached)."""

    def __init__(self, base: BundledE5Embedder) -> None:
        self.base = base
        self.variant = "late"
        self._encoded: dict[str, Encoded] = {}
        self._texts: dict[str, Vectors] = {}
        self._queries: dict[str, Vectors] = {}
        self.n_prefix = len(base.content_ids([PASSAGE_PREFIX.strip()])[0])

    model_id = property(lambda self: self.base.model_id)
    dim = property(lambda self: self.base.dim)
    max_tokens = property(lambda self: self.base.max_tokens)

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in texts if t not in self._queries]
        if missing:
            self._queries.update(zip(missing, self.base.embed_queries(missing), strict=True))
        return np.stack([self._queries[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._texts))
        if missing:
            self._texts.update(zip(missing, self.base.embed_passages(missing), strict=True))
        return np.stack([self._texts[t] for t in texts])

    def _encode(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._encoded]
        if not missing:
            return
        b = self.base
        inputs = [PASSAGE_PREFIX + t for t in missing]
        encoded = b._encode(inputs)
        windows = split_windows([ids for ids, _ in encoded])
        _, states = b._window_states(windows, keep_states=True)
        own: list[list[Vectors]] = [[] for _ in missing]
        for window, matrix in zip(windows, states, strict=True):
            own[window.text].append(matrix)
        vectors = self.base.embed_passages(missing)
        for i, text in enumerate(missing):
            shift = shifted_offsets(inputs[i], b._table)
            self._encoded[text] = Encoded(own[i], encoded[i][1], vectors[i], shift)

    def embed_passages_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], clause_layers: int = 0
    ) -> tuple[Vectors, list[Vectors]]:
        """The vectors of this embedder's variant (`clause_layers` is the variant's to set)."""
        del clause_layers
        split = re.fullmatch(r"split(\d+)", self.variant)
        if split:
            return self.base.embed_passages_with_spans(texts, spans, int(split.group(1)))
        if self.variant in ("separate", "early"):
            rows = [
                self.embed_passages([t[a:b] for a, b in s])
                for t, s in zip(texts, spans, strict=True)
            ]
            if self.variant == "separate":
                return self.embed_passages(texts), rows
            lengths = [np.array([b - a for a, b in s], dtype=np.float32) for s in spans]
            mean = [(n[:, None] * r).sum(axis=0) for n, r in zip(lengths, rows, strict=True)]
            return l2_normalise(np.stack(mean)), rows
        self._encode(texts)
        pooled: list[Vectors] = []
        base = len(PASSAGE_PREFIX)
        for text, own in zip(texts, spans, strict=True):
            e = self._encoded[text]
            tokens = [token_span(e.offsets, e.shift[base + a], e.shift[base + b]) for a, b in own]
            pooled.append(self.pool(e, tokens))
        return np.stack([self._encoded[t].vector for t in texts]), pooled

    def pool(self, e: Encoded, spans: list[Span]) -> Vectors:
        if self.variant == "late":
            return late(e, spans, self.dim)
        if self.variant == "prefix":
            return prefix(e, spans, self.dim, self.n_prefix)
        found = re.fullmatch(r"(mix|sub)([0-9.]+)", self.variant)
        if found is None:
            raise ValueError(f"unknown variant {self.variant!r}")
        alpha = float(found.group(2)) * (1 if found.group(1) == "mix" else -1)
        return mixed(alpha)(e, spans, self.dim)


def measure(
    embedder: VariantEmbedder, reader: ReaderMode, weights: list[float]
) -> dict[str, object]:
    """Index ARCD with the embedder's variant and ask every question of each file."""
    out: dict[str, object] = {}
    sets = [load_eval_file(f) for f in FILES]
    with tempfile.TemporaryDirectory(prefix="qa-variants-") as folder:
        options = PipelineOptions(index_dir=Path(folder), clause_vectors="late", reader=reader)
        pipeline = open_pipeline(options, embedder=embedder)  # type: ignore[arg-type]
        pipeline.add_documents(sets[0].documents)
        for path, eval_set in zip(FILES, sets, strict=True):
            for w in weights:
                hybrid.WEIGHTS["clause"] = w
                report = evaluate(lambda q: pipeline.ask(q, top_k=10), eval_set.questions)
                ranks = []
                for q in eval_set.questions:
                    hits = pipeline.search(q.question, top_k=10)
                    rank = next((h.rank for h in hits if is_gold(h.passage.text, q.gold_texts)), 0)
                    ranks.append(1.0 / rank if rank else 0.0)
                out[f"{path.stem} w={w}"] = {
                    "mrr": report.mrr_at_10,
                    "search_mrr": float(np.mean(ranks)),
                    "answers": report.answer_accuracy,
                    "context": report.context_accuracy,
                }
        pipeline.close()
    hybrid.WEIGHTS["clause"] = 0.5
    return out


def main() -> None:
    """Measure each variant and print one row per (variant, file, clause weight)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["separate", "late"])
    parser.add_argument("--reader", choices=get_args(ReaderMode), default="off")
    parser.add_argument("--clause-weights", nargs="+", type=float, default=[0.5])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--constants", type=Path, help="bench/calibrate.py output to use")
    args = parser.parse_args()
    if args.constants:
        fitted = json.loads(args.constants.read_text(encoding="utf-8"))
        model = ClauseModel(**{k: tuple(v) for k, v in fitted["clause_model"].items()})
        abstainer = Abstainer(
            **{k: Logistic(v["bias"], tuple(v["weights"])) for k, v in fitted["abstainer"].items()}
        )
        pipeline_module.ClauseModel = lambda: model  # type: ignore[assignment,misc]
        pipeline_module.Abstainer = lambda: abstainer  # type: ignore[assignment,misc]
    cache = Settings().model_cache_dir  # QA_MODEL_CACHE_DIR, as the service reads it
    embedder = VariantEmbedder(BundledE5Embedder(cache))
    results: dict[str, object] = {}
    for variant in args.variants:
        embedder.variant = variant
        results[variant] = found = measure(embedder, args.reader, args.clause_weights)
        for key, row in found.items():
            cells = " ".join(f"{k} {v:.4f}" for k, v in row.items())  # type: ignore[union-attr]
            print(f"{variant:>9} {key:<22} {cells}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
