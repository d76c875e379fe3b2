"""Calibrate abstention with the span reader; write qa/data/reader_calibration.json.

    python bench/calibrate_reader.py [--index-dir DIR] [--out FILE] [--every K] [--threads N]

Every seed question and every ARCD and ARCD-XL question of the articles the reader never
trained on (`--held-out`, written by `qa reader data`) is asked against two half-indexes
(documents split by a hash of their id, as bench/calibrate.py does), so each is asked once
where its document is present and once where it is absent; so is every English question of
XQuAD's training articles (`--bilingual`), over those articles in English and Arabic (halves
of whole articles, each with its translation). The reader reads each once; then
1. the ranking priors (ReaderCalibration.passage_weight and clause_weight) are the grid
   values with the best mean of token F1 and context accuracy of the in-corpus answers;
2. per calibration group (question in another script than the passages; same script, Latin
   question; same script, other questions) a logistic regression on the reader evidence
   (margin, score, retrieval logit) separates in-corpus from out-of-corpus;
3. its cut is the one answering most in-corpus questions while abstaining on at least
   --abstain-same / --abstain-cross of the out-of-corpus ones, on held-out halves.
Run it again whenever the reader's weights change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibrate import fit_logistic, split_halves
from features import ARCD, ARCD_XL, Asked, ask_all, half, open_bilingual, open_index

from qa.answer.abstain import Abstainer, Logistic, gather_evidence
from qa.answer.extractive import ClauseChoice, ClauseModel, choose_clause, is_cross_script
from qa.answer.reader_abstain import (
    CALIBRATION_FILE,
    READER_EVIDENCE,
    CalibrationGroup,
    ReaderCalibration,
    calibration_group,
    reader_evidence,
    write_calibration,
)
from qa.answer.readers import load_span_scorer
from qa.answer.reading import ReadingShape, SpanCandidateLike, SpanChoice, SpanScorer, read_span
from qa.config import Settings
from qa.evaluate import load_eval_file, span_scores

WEIGHTS = tuple((p, c) for p in (0.0, 1.0, 4.0) for c in (0.0, 0.3, 1.0, 3.0, 10.0))
CUTS = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass
class CachedScorer:
    """The span model, read once per (question, windows): the passage-weight grid re-ranks."""

    model: SpanScorer
    seen: dict[tuple[str, tuple[str, ...]], Sequence[SpanCandidateLike]] = field(
        default_factory=dict
    )

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> Sequence[SpanCandidateLike]:
        key = (question, tuple(texts))
        if key not in self.seen:
            self.seen[key] = self.model.read(question, texts, top_n, max_answer_tokens)
        return self.seen[key]


@dataclass(frozen=True)
class Read:
    """One question asked against one half: what retrieval and the reader said."""

    asked: Asked
    cross: bool
    choice: ClauseChoice
    retrieval_probability: float


def prepare(asked: list[Asked], model: ClauseModel) -> list[Read]:
    """Clause choice and retrieval probability of every question that retrieved something."""
    abstainer = Abstainer()
    out = []
    for a in asked:
        if not a.retrieval.candidates:
            continue
        choice = choose_clause(a.query, a.retrieval, a.idf, model)
        if choice is None:
            continue
        cross = is_cross_script(a.query, a.retrieval)
        evidence = gather_evidence(choice, a.retrieval, a.background)
        out.append(Read(a, cross, choice, abstainer.probability(evidence, cross)))
    return out


def spans(
    reads: list[Read], scorer: SpanScorer, shape: ReadingShape, weights: tuple[float, float]
) -> list[SpanChoice | None]:
    """The reader's choice for every read, with these (passage, clause) prior weights."""
    return [
        read_span(
            r.asked.question.question,
            r.asked.retrieval,
            r.choice,
            scorer,
            shape.for_script(r.cross),
            *weights,
        )
        for r in reads
    ]


def quality(reads: list[Read], chosen: list[SpanChoice | None]) -> float:
    """Mean of token F1 and context accuracy over in-corpus answerable questions (no abstention).

    Both count: the span is what programs use, the context what people read.
    """
    scores = []
    for r, span in zip(reads, chosen, strict=True):
        if r.asked.in_corpus and r.asked.question.answerable:
            text = span.answer.text if span else None
            context = span.answer.context if span else None
            f1, _, held = span_scores(r.asked.question, text, context.text if context else None)
            if f1 is not None:
                scores.append((f1 + float(bool(held))) / 2)
    return float(np.mean(scores)) if scores else 0.0


def trade_off(probabilities: np.ndarray, y: np.ndarray, cut: float) -> dict[str, float]:
    """Shares of negatives abstained on and positives answered at a cut."""
    abstained = float(np.mean(probabilities[y == 0] < cut)) if (y == 0).any() else 1.0
    answered = float(np.mean(probabilities[y == 1] >= cut)) if (y == 1).any() else 0.0
    return {"negatives_abstained": abstained, "positives_answered": answered}


def fit_group(
    x: np.ndarray, y: np.ndarray, min_abstained: float, scripts: np.ndarray
) -> tuple[Logistic, float, dict[str, object]]:
    """Logistic model, chosen cut and the held-out trade-off table of one script group.

    `scripts` (the question's script, per row) splits the trade-off at the cut, so that a group
    pooling Arabic and English questions shows what each gets.
    """
    probabilities = np.zeros(len(y))
    for train, test in (split_halves(len(y)), split_halves(len(y))[::-1]):
        b, w = fit_logistic(x[train], y[train])
        probabilities[test] = 1 / (1 + np.exp(-(x[test] @ w + b)))
    table = {}
    best_cut, best_answered = CUTS[-1], -1.0
    for cut in CUTS:
        table[str(cut)] = at = trade_off(probabilities, y, cut)
        if at["negatives_abstained"] >= min_abstained and at["positives_answered"] > best_answered:
            best_cut, best_answered = cut, at["positives_answered"]
    bias, w = fit_logistic(x, y)
    model = Logistic(round(bias, 4), tuple(round(float(v), 4) for v in w))
    report = {
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "cut": best_cut,
        "held_out_at_cut": table[str(best_cut)],
        "held_out_at_cut_by_question_script": {
            script: {
                "rows": int((scripts == script).sum()),
                **trade_off(probabilities[scripts == script], y[scripts == script], best_cut),
            }
            for script in sorted(set(scripts.tolist()))
        },
        "held_out_by_cut": table,
    }
    return model, best_cut, report


def trained_ids(held_out: Path) -> set[str]:
    """Ids of the ARCD questions the reader trained on (its scores on them are overconfident)."""
    trained: set[str] = set()
    for file in (ARCD, ARCD_XL):
        kept = held_out / f"{file.stem}-heldout.json"
        if not kept.exists():
            raise SystemExit(f"{kept} is missing: run `qa reader data` first")
        every = {q.id for q in load_eval_file(file, []).questions}
        trained |= every - {q.id for q in load_eval_file(kept, []).questions}
    return trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("bench/results/calibration-index"))
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument(
        "--report", type=Path, default=Path("bench/results/reader-calibration.json")
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--every", type=int, default=1, help="only every K-th question")
    parser.add_argument(
        "--held-out",
        type=Path,
        default=Path("data/reader"),
        help="`qa reader data` output: ARCD questions the reader trained on are left out",
    )
    parser.add_argument(
        "--bilingual",
        type=Path,
        default=Path("data/reader/xquad-bilingual-train.json"),
        help="`qa reader data`'s XQuAD training articles in English and Arabic: English "
        "questions over English passages (skipped when the file is missing)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the reader")
    parser.add_argument("--precision", default=Settings().reader_precision)
    parser.add_argument("--engine", default=Settings().reader_engine, help="auto, torch or onnx")
    parser.add_argument("--abstain-same", type=float, default=0.8)
    # 0.6: the cut that answered 76% of ARCD-XL's questions (0.7) was far from the issue's "far
    # more often than 75%"; at 0.6 held-out halves answer 91% of in-corpus ones.
    parser.add_argument("--abstain-cross", type=float, default=0.6)
    args = parser.parse_args()
    started = time.perf_counter()
    settings = Settings()
    args.threads = args.threads or settings.reader_threads
    model = load_span_scorer(
        "on", settings.model_cache_dir, args.threads, args.precision, args.engine
    )
    assert model is not None
    scorer = CachedScorer(model)
    pipeline, questions, owner = open_index(args.index_dir)
    questions = questions[: args.limit] if args.limit else questions
    questions = [q for i, q in enumerate(questions) if i % args.every == 0 or not q.answerable]
    trained = trained_ids(args.held_out)
    questions = [q for q in questions if q.id not in trained]
    docs = {d.id for d in pipeline.list_documents()}
    part_a = {d for d in docs if half(d) == 0}
    asked = ask_all(pipeline, questions, owner, part_a)
    asked += ask_all(pipeline, questions, owner, docs - part_a)
    sources = "seed + ARCD + ARCD-XL"
    if args.bilingual.exists():
        bilingual, english, english_owner, english_a = open_bilingual(
            args.index_dir.with_name(f"{args.index_dir.name}-bilingual"), args.bilingual
        )
        english = [q for i, q in enumerate(english) if i % args.every == 0]
        english_docs = {d.id for d in bilingual.list_documents()}
        asked += ask_all(bilingual, english, english_owner, english_a)
        asked += ask_all(bilingual, english, english_owner, english_docs - english_a)
        sources += " + XQuAD training articles in English and Arabic"
    reads = prepare(asked, ClauseModel())
    shape = ReadingShape()
    print(f"reading {len(reads)} question-halves …", file=sys.stderr)
    by_weight = {w: spans(reads, scorer, shape, w) for w in WEIGHTS}
    by_quality = {str(w): round(quality(reads, chosen), 4) for w, chosen in by_weight.items()}
    weight = max(WEIGHTS, key=lambda w: by_quality[str(w)])  # first best: smallest priors
    chosen = by_weight[weight]
    min_abstained: dict[CalibrationGroup, float] = {
        "same_script": args.abstain_same,
        "latin_same_script": args.abstain_same,
        "cross_script": args.abstain_cross,
    }
    models: dict[CalibrationGroup, tuple[Logistic, float]] = {}
    report: dict[str, object] = {
        "f1_and_context_by_prior_weights": by_quality,
        "prior_weights": weight,
    }
    for group, share in min_abstained.items():
        rows, labels, scripts = [], [], []
        for r, span in zip(reads, chosen, strict=True):
            if calibration_group(r.asked.query.script, r.cross) != group:
                continue
            if span is None:  # no span at all: always an abstention, nothing to fit
                continue
            rows.append(reader_evidence(span, r.retrieval_probability))
            labels.append(1.0 if r.asked.in_corpus and r.asked.question.answerable else 0.0)
            scripts.append(r.asked.query.script)
        if len(set(labels)) < 2:  # nothing to separate
            report[group] = {"skipped": f"{len(labels)} rows of one class"}
            continue
        fitted, cut, group_report = fit_group(
            np.array(rows), np.array(labels), share, np.array(scripts)
        )
        models[group] = (fitted, cut)
        report[group] = group_report
    # A group with nothing to separate answers when the span wins, except Latin-script
    # same-script questions, which then fall back to the same-script model.
    default = (Logistic(0.0, (1.0, 0.0, 0.0)), 0.5)
    latin = models.get("latin_same_script")
    calibration = ReaderCalibration(
        same_script=models.get("same_script", default)[0],
        cross_script=models.get("cross_script", default)[0],
        threshold=models.get("same_script", default)[1],
        cross_threshold=models.get("cross_script", default)[1],
        passage_weight=weight[0],
        clause_weight=weight[1],
        source=f"bench/calibrate_reader.py, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{len(reads)} question-halves of {sources}; evidence {READER_EVIDENCE}",
        latin_same_script=latin[0] if latin else None,
        latin_threshold=latin[1] if latin else None,
    )
    write_calibration(calibration, args.out)
    report["calibration"] = calibration.as_dict()
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written: {args.out} and {args.report}", file=sys.stderr)


if __name__ == "__main__":
    main()
