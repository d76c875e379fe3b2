"""The reader alone on held-out questions (gold passage given): EM and F1 per language pair."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

from qa.reader.infer import TrainedReader
from qa.reader.metrics import best_scores

# The pairs reported, and the held-out sources they come from.
REPORT_GROUPS: dict[str, tuple[str, ...]] = {
    "mlqa ar->ar": ("mlqa-ar-ar-dev:ar",),
    "xquad ar->ar": ("xquad:ar",),
    "xquad en->ar": ("xquad:en",),
    "arcd ar->ar": ("arcd-train:ar",),
    "arcd-xl en->ar": ("arcd-train-xl:en",),
    "arcd-xl fr,de->ar": ("arcd-train-xl:fr", "arcd-train-xl:de"),
}


def group_of(row: dict[str, Any]) -> str | None:
    """The report group a held-out row belongs to (None: not reported)."""
    key = f"{row['source']}:{row['question_lang']}"
    for name, keys in REPORT_GROUPS.items():
        if key in keys:
            return name
    return None


def evaluate_reader(
    reader: TrainedReader, rows: Iterable[dict[str, Any]], limit: int | None = None
) -> dict[str, Any]:
    """EM/F1 (0-100) per group, plus how often the null score beat the best span."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        name = group_of(row)
        if name is not None and (limit is None or len(grouped[name]) < limit):
            grouped[name].append(row)
    results: dict[str, Any] = {}
    todo = sum(len(v) for v in grouped.values())
    with tqdm(total=todo, desc="held-out", unit="q") as bar:
        for name in REPORT_GROUPS:
            em = f1 = null_wins = 0.0
            for row in grouped.get(name, []):
                spans = reader.read(row["question"], [row["context"]], top_n=1)
                prediction = ""
                if spans:
                    best = spans[0]
                    prediction = row["context"][best.start : best.end]
                    null_wins += best.null_score > best.score
                e, f = best_scores(prediction, [a["text"] for a in row["answers"]])
                em, f1 = em + e, f1 + f
                bar.update()
            n = len(grouped.get(name, []))
            if n:
                results[name] = {
                    "n": n,
                    "em": round(100 * em / n, 1),
                    "f1": round(100 * f1 / n, 1),
                    "null_preferred": round(null_wins / n, 3),
                }
    return results
