"""Answer quality and reading cost with the span reader, per eval set, in one process.

    python bench/reader_answers.py [--sets seeds,arcd,xl,arcd-held,xl-held] [--every K] [--dump F]

Builds (once) a seed index and an ARCD index under --index-root, asks every question with the
reader on (as `qa eval` does, top_k 10) and prints token F1, EM, context accuracy, the share
answered, the longest answer, and what the reader read: forward passes, windows and tokens
per question, and the forward time per question. Per-question rows (answer, context, gold)
go to --dump for reading the failures. `arcd-held` and `xl-held` ask only the questions of the
ARCD articles the reader never trained on (`qa reader data` writes their ids) over the whole ARCD
index. `bilingual` asks English questions over XQuAD's held-out articles in English and Arabic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.answer.readers import load_span_scorer
from qa.answer.reading import ReadingShape, SpanCandidateLike, SpanScorer
from qa.config import Settings
from qa.domain import AskResult
from qa.evaluate import EvalQuestion, evaluate, load_eval_file
from qa.pipeline import Pipeline, PipelineOptions, documents_from_paths

# name: (eval file, index, file whose question ids are kept: the reader's held-out articles
# as `qa reader data` writes them; the index still holds every article).
HELD = Path("data/reader")
SETS: dict[str, tuple[Path, str, Path | None]] = {
    "seeds": (Path("eval/seed_questions.jsonl"), "seeds", None),
    "arcd": (Path("eval/arcd-train.json"), "arcd", None),
    # ARCD-XL's paragraphs are ARCD's under other document ids: an index of its own, as `qa eval`
    # builds one per file (sharing ARCD's held every paragraph twice, and a reader's top three
    # windows then covered two paragraphs).
    "xl": (Path("eval/arcd-train-xl.json"), "arcd-xl", None),
    "arcd-held": (Path("eval/arcd-train.json"), "arcd", HELD / "arcd-train-heldout.json"),
    "xl-held": (Path("eval/arcd-train-xl.json"), "arcd-xl", HELD / "arcd-train-xl-heldout.json"),
    # XQuAD's held-out articles in English and Arabic, English questions (`qa reader data`)
    "bilingual": (HELD / "xquad-bilingual-heldout.json", "bilingual", None),
}


@dataclass
class CountingScorer:
    """The span model with a tally of its calls, windows, tokens and seconds."""

    model: SpanScorer
    calls: int = 0
    texts: int = 0
    tokens: int = 0
    seconds: float = 0.0
    per_call: list[float] = field(default_factory=list)

    cache: dict[tuple[str, str, int, int], list[SpanCandidateLike]] | None = None

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> Sequence[SpanCandidateLike]:
        windows = getattr(self.model, "windows", None)
        if windows is not None:
            self.tokens += sum(len(w.input_ids) for w in windows(question, texts))
        self.calls += 1
        self.texts += len(texts)
        if self.cache is not None:
            return self._cached(question, texts, top_n, max_answer_tokens)
        started = time.perf_counter()
        out = self.model.read(question, texts, top_n, max_answer_tokens)
        spent = time.perf_counter() - started
        self.seconds += spent
        self.per_call.append(spent)
        return out

    def _cached(
        self, question: str, texts: Sequence[str], top_n: int, max_answer_tokens: int
    ) -> Sequence[SpanCandidateLike]:
        """Each text read alone once (int8 batch partners move scores only slightly)."""
        assert self.cache is not None
        out: list[SpanCandidateLike] = []
        for index, text in enumerate(texts):
            key = (question, text, top_n, max_answer_tokens)
            if key not in self.cache:
                self.cache[key] = list(self.model.read(question, [text], top_n, max_answer_tokens))
            out += [replace(c, text_index=index) for c in self.cache[key]]  # type: ignore
        return sorted(out, key=lambda c: -c.score)[:top_n]


def open_set(
    name: str, root: Path, scorer: SpanScorer, settings: Settings
) -> tuple[Pipeline, list[EvalQuestion]]:
    """The pipeline over this set's index (built when missing) and its questions."""
    file, index, keep = SETS[name]
    options = PipelineOptions(
        index_dir=root / index,
        model_cache_dir=settings.model_cache_dir,
        reader="on",
    )
    from qa.backends import open_pipeline

    pipeline = open_pipeline(options, span_scorer=scorer)
    corpus = documents_from_paths([Path("seeds")]) if file.suffix == ".jsonl" else []
    eval_set = load_eval_file(file, corpus)
    known = {d.id for d in pipeline.list_documents()}
    missing = [d for d in eval_set.documents + corpus if d.id not in known]
    if missing:
        pipeline.add_documents(missing)
    questions = eval_set.questions
    if keep is not None:
        kept = {q.id for q in load_eval_file(keep, []).questions}
        questions = [q for q in questions if q.id in kept]
    return pipeline, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="seeds,arcd,xl")
    parser.add_argument("--index-root", type=Path, default=Path("bench/results/answer-index"))
    parser.add_argument("--every", type=int, default=1, help="only every K-th question")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dump", type=Path, default=None)
    parser.add_argument(
        "--variants",
        default="",
        help="JSON list of ReadingShape overrides to compare (texts read once each, cached)",
    )
    args = parser.parse_args()
    settings = Settings()
    model = load_span_scorer(
        "on",
        settings.model_cache_dir,
        args.threads,
        settings.reader_precision,
        settings.reader_engine,
    )
    assert model is not None
    rows: dict[str, object] = {}
    dump: dict[str, object] = {}
    variants: list[dict[str, object]] = json.loads(args.variants) if args.variants else [{}]
    cache: dict[tuple[str, str, int, int], list[SpanCandidateLike]] | None = (
        {} if args.variants else None
    )
    for set_name in args.sets.split(","):
        for number, overrides in enumerate(variants):
            name = f"{set_name}/{number}" if args.variants else set_name
            scorer = CountingScorer(model, cache=cache)
            pipeline, questions = open_set(set_name, args.index_root, scorer, settings)
            pipeline._reading = ReadingShape(**overrides)  # type: ignore[arg-type]
            questions = [q for i, q in enumerate(questions) if i % args.every == 0]
            tokens: list[int] = []

            def ask(
                q: str, p: Pipeline = pipeline, s: CountingScorer = scorer, t: list[int] = tokens
            ) -> AskResult:
                before = s.tokens
                result = p.ask(q, top_k=10)
                t.append(s.tokens - before)
                return result

            report = evaluate(ask, questions)
            asked = max(1, len(questions))
            answerable = [r for r in report.results if r.answerable]
            answered = sum(1 for r in answerable if r.answer is not None)
            per_call = sorted(scorer.per_call) or [0.0]
            rows[name] = {
                "questions": len(questions),
                "f1": report.token_f1,
                "em": report.exact_match,
                "context": report.context_accuracy,
                "answered": round(answered / max(1, len(answerable)), 3),
                "unanswerable_abstained": [
                    r.id for r in report.results if not r.answerable and r.answer is None
                ],
                "max_words": report.max_answer_words,
                "reads_per_q": round(scorer.calls / asked, 2),
                "texts_per_q": round(scorer.texts / asked, 2),
                "tokens_per_q": round(scorer.tokens / asked, 1),
                "tokens_p50": sorted(tokens)[len(tokens) // 2] if tokens else 0,
                "read_ms_per_q": round(1000 * scorer.seconds / asked, 1),
                "read_ms_p50": round(1000 * per_call[len(per_call) // 2], 1),
            }
            dump[name] = [
                {
                    "id": r.id,
                    "answer": r.answer,
                    "context": r.context,
                    "context_correct": r.context_correct,
                    "f1": r.f1,
                    "gold_rank": r.gold_rank,
                    "gold": q.answers,
                    "question": q.question,
                }
                for r, q in zip(report.results, questions, strict=True)
            ]
            print(name, json.dumps(rows[name], ensure_ascii=False), file=sys.stderr, flush=True)
    print(json.dumps(rows, indent=2, ensure_ascii=False))
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        args.dump.write_text(json.dumps(dump, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
