"""Fit the clause ranker and the abstainer on seed + ARCD questions; print the constants.

    python bench/calibrate.py [--index-dir DIR]

The clause ranker is fitted listwise (softmax over the clauses of each question's top passages,
label: the clause contains the gold answer) on answerable questions. The abstainer is a
logistic regression on in-corpus vs out-of-corpus questions: every question is asked against
two half-indexes (documents split by a hash of their id), so each one is asked once where its
document is present and once where it is absent. Both are cross-validated by halves of the
questions, and the held-out numbers are printed beside the fitted constants, which belong in
qa/answer/extractive.py (ClauseModel) and qa/answer/abstain.py (Abstainer).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from features import Asked, ask_all, half, open_index

from qa.answer.abstain import EVIDENCE, gather_evidence
from qa.answer.extractive import FEATURES, ClauseModel, choose_clause, clause_table
from qa.evaluate import answer_correct


def clause_data(asked: list[Asked], passages: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per answerable question whose gold answer is among the clauses."""
    out = []
    for a in asked:
        if not a.question.answerable or not a.retrieval.candidates:
            continue
        table = clause_table(a.question.question, a.retrieval, a.idf, passages)
        labels = []
        for ci, j in table.slots:
            p = a.retrieval.candidates[ci].passage
            unit = p.sentences[j]
            labels.append(1.0 if answer_correct(a.question, p.text[unit.start : unit.end]) else 0.0)
        out.append((table.features, np.array(labels)))
    return out


def fit_listwise(data: list[tuple[np.ndarray, np.ndarray]], l2: float = 1e-3) -> np.ndarray:
    """Softmax-over-clauses logistic fit; returns weights for raw (unscaled) features."""
    usable = [(x, y) for x, y in data if y.max() > 0]
    stacked = np.concatenate([x for x, _ in usable])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-9
    w = np.zeros(stacked.shape[1])
    for _ in range(500):
        grad = np.zeros_like(w)
        for x, y in usable:
            z = (x - mu) / sd
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += z.T @ (p - y / y.sum())
        w -= 0.5 * (grad / len(usable) + l2 * w)
    return w / sd


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[float, np.ndarray]:
    """Plain logistic regression; returns (bias, weights) for raw features."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(3000):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) / len(y) + l2 * w)
        b -= 0.5 * float(np.mean(p - y))
    raw = w / sd
    return b - float(raw @ mu), raw


def evidence_rows(
    asked: list[Asked], model: ClauseModel
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Abstainer features, labels (in corpus) and question languages."""
    rows, labels, langs = [], [], []
    for a in asked:
        if not a.retrieval.candidates:
            continue
        choice = choose_clause(a.question.question, a.retrieval, a.idf, model)
        if choice is None:
            continue
        rows.append(gather_evidence(choice, a.retrieval, a.background).as_row())
        labels.append(1.0 if a.in_corpus and a.question.answerable else 0.0)
        langs.append(a.question.lang)
    return np.array(rows), np.array(labels), langs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("bench/results/calibration-index"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/calibration.json"))
    args = parser.parse_args()
    pipeline, questions, owner = open_index(args.index_dir)
    docs = {d.id for d in pipeline.list_documents()}
    part_a = {d for d in docs if half(d) == 0}
    full = ask_all(pipeline, questions, owner, None)
    halves = ask_all(pipeline, questions, owner, part_a) + ask_all(
        pipeline, questions, owner, docs - part_a
    )
    base = ClauseModel()
    data = clause_data(full, base.passages)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    folds = [order[: len(order) // 2], order[len(order) // 2 :]]
    held_out = []
    for k in (0, 1):
        w = fit_listwise([data[i] for i in folds[k]])
        model = ClauseModel(weights=tuple(float(v) for v in w), passages=base.passages)
        test_ids = {full_answerable_ids(full)[i] for i in folds[1 - k]}
        sub = [a for a in full if a.question.id in test_ids]
        held_out.append(answer_accuracy(sub, model))
    weights = fit_listwise(data)
    model = ClauseModel(weights=tuple(round(float(v), 3) for v in weights), passages=base.passages)
    x, y, langs = evidence_rows(halves, model)
    qfold = np.array([hash(i) % 2 for i in range(len(y))])
    abst = []
    for k in (0, 1):
        b, w = fit_logistic(x[qfold == k], y[qfold == k])
        p = 1 / (1 + np.exp(-(x[qfold != k] @ w + b)))
        yy = y[qfold != k]
        abst.append(
            {
                "negatives_abstained": float(np.mean(p[yy == 0] < 0.5)),
                "positives_answered": float(np.mean(p[yy == 1] >= 0.5)),
            }
        )
    bias, w = fit_logistic(x, y)
    p_all = 1 / (1 + np.exp(-(x @ w + bias)))
    latin = np.array([lang in ("en", "fr", "de") for lang in langs])
    thresholds = {}
    for t in (0.2, 0.3, 0.35, 0.4, 0.5):
        thresholds[t] = {
            group: {
                "negatives_abstained": round(float(np.mean(p_all[(y == 0) & m] < t)), 3),
                "positives_answered": round(float(np.mean(p_all[(y == 1) & m] >= t)), 3),
            }
            for group, m in (("arabic", ~latin), ("cross-lingual", latin))
        }
    by_lang = {
        group: answer_accuracy(
            [a for a in full if (a.question.lang in ("en", "fr", "de")) == is_latin], model
        )
        for group, is_latin in (("arabic", False), ("cross-lingual", True))
    }
    result = {
        "clause_features": FEATURES,
        "clause_weights": model.weights,
        "answer_accuracy_held_out": held_out,
        "answer_accuracy_full": answer_accuracy(full, model),
        "evidence": EVIDENCE,
        "abstainer_bias": round(bias, 3),
        "abstainer_weights": [round(float(v), 3) for v in w],
        "abstention_held_out": abst,
        "answer_accuracy_by_language": by_lang,
        "abstention_by_threshold": thresholds,
        "examples": {"positives": int(y.sum()), "negatives": int(len(y) - y.sum())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def full_answerable_ids(full: list[Asked]) -> list[str]:
    """Ids of the questions clause_data keeps, in its order."""
    return [a.question.id for a in full if a.question.answerable and a.retrieval.candidates]


def answer_accuracy(asked: list[Asked], model: ClauseModel) -> float:
    """Share of answerable questions whose chosen span holds the gold answer."""
    hits = []
    for a in asked:
        if not a.question.answerable:
            continue
        choice = choose_clause(a.question.question, a.retrieval, a.idf, model)
        hits.append(answer_correct(a.question, choice.answer.text if choice else None))
    return float(np.mean(hits)) if hits else 0.0


if __name__ == "__main__":
    main()
