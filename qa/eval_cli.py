"""`qa eval`: index the file's documents if needed, ask, print a table, JSON or a plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qa.evaluate import Report, evaluate, load_eval_file
from qa.pipeline import Pipeline, documents_from_paths


def run_eval(
    file: Path,
    docs: list[Path] | None,
    index_docs: bool,
    limit: int | None,
    top_k: int,
    plot: Path | None,
    pipeline: Pipeline,
    json_out: bool,
) -> None:
    """Run an evaluation and report it."""
    from tqdm import tqdm

    corpus = documents_from_paths(docs or [Path("seeds")]) if file.suffix == ".jsonl" else []
    eval_set = load_eval_file(file, corpus)
    if index_docs:
        known = {d.id for d in pipeline.list_documents()}
        missing = [d for d in eval_set.documents + corpus if d.id not in known]
        if missing:
            with tqdm(total=len(missing), desc="indexing", unit="doc", file=sys.stderr) as bar:
                pipeline.add_documents(missing, progress=bar.update)
    questions = eval_set.questions[:limit] if limit else eval_set.questions
    with tqdm(
        total=len(questions), desc="asking", unit="q", file=sys.stderr, disable=json_out
    ) as bar:
        report = evaluate(lambda q: pipeline.ask(q, top_k=top_k), questions, bar.update)
    if plot:
        write_plot(report, plot, pipeline.abstain_threshold)
    if json_out:
        print(json.dumps(report.summary(), ensure_ascii=False, indent=2))
        return
    print_report(report)
    if plot:
        Console().print(f"Plot written to {plot}")


def print_report(report: Report) -> None:
    """A readable table of the scores."""
    table = Table(title=f"{report.questions} questions ({report.answerable} answerable)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("Recall@1", report.recall_at_1),
        ("Recall@5", report.recall_at_5),
        ("Recall@10", report.recall_at_10),
        ("MRR@10", report.mrr_at_10),
        ("answer accuracy", report.answer_accuracy),
        ("token F1 of answer.text", report.token_f1),
        ("exact match of answer.text", report.exact_match),
        ("context accuracy", report.context_accuracy),
        ("abstention accuracy", report.abstention_accuracy),
        ("mean answer words", report.mean_answer_words),
        ("max answer words", report.max_answer_words),
        ("latency p50 (ms)", report.latency_p50_ms),
        ("latency p95 (ms)", report.latency_p95_ms),
    ]
    for name, value in rows:
        table.add_row(name, "n/a" if value is None else f"{value:.3f}")
    Console().print(table)


def write_plot(report: Report, path: Path, threshold: float | None = None) -> None:
    """Recall@k curve and the answer-score distributions, for choosing the abstention cut."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    answerable = [r for r in report.results if r.answerable]
    ks = list(range(1, 11))
    recall = [
        sum(1 for r in answerable if r.gold_rank and r.gold_rank <= k) / max(1, len(answerable))
        for k in ks
    ]
    left.plot(ks, recall, marker="o")
    left.set(xlabel="k", ylabel="Recall@k", title="Retrieval", ylim=(0, 1.02))
    left.grid(alpha=0.3)
    groups = {
        "answerable, answered right": [r for r in answerable if r.correct],
        "answerable, wrong or abstained": [r for r in answerable if not r.correct],
        "unanswerable": [r for r in report.results if not r.answerable],
    }
    data = [[r.confidence for r in rs if r.confidence is not None] for rs in groups.values()]
    labels = [f"{name} ({len(rs)})" for name, rs in groups.items()]
    kept = [(d, label) for d, label in zip(data, labels, strict=True) if d]
    if kept:
        right.hist([d for d, _ in kept], bins=20, range=(0, 1), label=[lb for _, lb in kept])
    if threshold is not None:
        right.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:g}")
    abstained = sum(1 for r in report.results if r.answer is None)
    right.set(
        xlabel="answer probability (confidence)",
        ylabel="questions",
        title=f"Choosing the abstention threshold ({abstained} abstained)",
    )
    right.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
