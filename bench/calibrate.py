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
from typing import get_args

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from features import Asked, ask_all, half, open_index

from qa.answer.abstain import EVIDENCE, Logistic, gather_evidence
from qa.answer.extractive import (
    FEATURES,
    ClauseModel,
    choose_clause,
    clause_table,
    is_cross_script,
)
from qa.choices import ClauseVectors
from qa.evaluate import answer_correct


def clause_data(asked: list[Asked], passages: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per answerable question whose gold answer is among the clauses."""
    out = []
    for a in asked:
        if not a.question.answerable or not a.retrieval.candidates:
            continue
        table = clause_table(a.query, a.retrieval, a.idf, passages)
        labels = []
        for ci, j in table.slots:
            p = a.retrieval.candidates[ci].passage
            clause = p.clauses[j]
            labels.append(
                1.0 if answer_correct(a.question, p.text[clause.start : clause.end]) else 0.0
            )
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


def evidence_rows(asked: list[Asked], model: ClauseModel) -> tuple[np.ndarray, np.ndarray]:
    """Abstainer features and labels (1 = the question's document is in the index)."""
    rows, labels = [], []
    for a in asked:
        if not a.retrieval.candidates:
            continue
        choice = choose_clause(a.query, a.retrieval, a.idf, model)
        if choice is None:
            continue
        rows.append(gather_evidence(choice, a.retrieval, a.background).as_row())
        labels.append(1.0 if a.in_corpus and a.question.answerable else 0.0)
    return np.array(rows), np.array(labels)


def split_halves(n: int) -> list[np.ndarray]:
    """Two random halves of range(n) (fixed seed)."""
    order = np.random.default_rng(0).permutation(n)
    return [order[: n // 2], order[n // 2 :]]


def fit_clause_model(asked: list[Asked], passages: int) -> tuple[tuple[float, ...], list[float]]:
    """Listwise clause weights for a group of questions, and their held-out accuracies."""
    answerable = [a for a in asked if a.question.answerable and a.retrieval.candidates]
    data = clause_data(answerable, passages)
    held_out = []
    for train, test in (split_halves(len(data)), split_halves(len(data))[::-1]):
        w = tuple(float(v) for v in fit_listwise([data[i] for i in train]))
        model = ClauseModel(same_script=w, cross_script=w, passages=passages)
        held_out.append(answer_accuracy([answerable[i] for i in test], model))
    weights = tuple(round(float(v), 3) for v in fit_listwise(data))
    return weights, held_out


def fit_abstainer(x: np.ndarray, y: np.ndarray) -> tuple[Logistic, dict[str, object]]:
    """A logistic abstainer for one group, with held-out rates at several thresholds."""
    probabilities = np.zeros(len(y))
    for train, test in (split_halves(len(y)), split_halves(len(y))[::-1]):
        b, w = fit_logistic(x[train], y[train])
        probabilities[test] = 1 / (1 + np.exp(-(x[test] @ w + b)))
    table = {
        str(t): {
            "negatives_abstained": round(float(np.mean(probabilities[y == 0] < t)), 3),
            "positives_answered": round(float(np.mean(probabilities[y == 1] >= t)), 3),
        }
        for t in (0.2, 0.3, 0.4, 0.5, 0.6)
    }
    bias, w = fit_logistic(x, y)
    model = Logistic(round(bias, 3), tuple(round(float(v), 3) for v in w))
    return model, {
        "held_out_by_threshold": table,
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("bench/results/calibration-index"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/calibration.json"))
    parser.add_argument(
        "--clause-vectors",
        choices=get_args(ClauseVectors),
        default="separate",
        help="how the index's clause vectors are made (when it is built)",
    )
    args = parser.parse_args()
    pipeline, questions, owner = open_index(args.index_dir, args.clause_vectors)
    docs = {d.id for d in pipeline.list_documents()}
    part_a = {d for d in docs if half(d) == 0}
    full = ask_all(pipeline, questions, owner, None)
    halves = ask_all(pipeline, questions, owner, part_a) + ask_all(
        pipeline, questions, owner, docs - part_a
    )
    base = ClauseModel()
    groups = {"same_script": False, "cross_script": True}
    clause_weights, report = {}, {}
    for name, cross in groups.items():
        members = [a for a in full if is_cross_script(a.query, a.retrieval) == cross]
        clause_weights[name], held_out = fit_clause_model(members, base.passages)
        report[name] = {"questions": len(members), "answer_accuracy_held_out": held_out}
    model = ClauseModel(
        same_script=clause_weights["same_script"],
        cross_script=clause_weights["cross_script"],
        passages=base.passages,
        max_words=base.max_words,
    )
    abstainers = {}
    for name, cross in groups.items():
        members = [a for a in halves if is_cross_script(a.query, a.retrieval) == cross]
        x, y = evidence_rows(members, model)
        abstainers[name], report[name]["abstention"] = fit_abstainer(x, y)
        report[name]["answer_accuracy_full"] = answer_accuracy(
            [a for a in full if is_cross_script(a.query, a.retrieval) == cross], model
        )
    result = {
        "clause_features": FEATURES,
        "evidence": EVIDENCE,
        "clause_model": {k: list(v) for k, v in clause_weights.items()},
        "abstainer": {
            k: {"bias": v.bias, "weights": list(v.weights)} for k, v in abstainers.items()
        },
        "report": report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def answer_accuracy(asked: list[Asked], model: ClauseModel) -> float:
    """Share of answerable questions whose chosen span holds the gold answer."""
    hits = []
    for a in asked:
        if not a.question.answerable:
            continue
        choice = choose_clause(a.query, a.retrieval, a.idf, model)
        hits.append(answer_correct(a.question, choice.answer.text if choice else None))
    return float(np.mean(hits)) if hits else 0.0


if __name__ == "__main__":
    main()
