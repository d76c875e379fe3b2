"""The benchmark corpus: the seed article plus ARCD-train's articles, and questions about them.

Everything is read from the repository's own files (eval/, seeds/): ARCD's Arabic questions,
and ARCD-xl's English translations of ARCD questions over the same Arabic paragraphs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from qa.domain import Document, Passage
from qa.embed.base import Embedder
from qa.evaluate import EvalQuestion, load_eval_file
from qa.pipeline import documents_from_paths
from qa.text.chunk import ChunkingConfig, chunk_document, with_title

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ARCD = ROOT / "eval" / "arcd-train.json"
ARCD_XL = ROOT / "eval" / "arcd-train-xl.json"


@dataclass(frozen=True)
class Corpus:
    """Documents to index and answerable questions to ask over them."""

    documents: list[Document]
    questions: list[EvalQuestion]


def load_corpus(questions: int | None = None, seed: int = 7) -> Corpus:
    """Seed + ARCD-train documents; all ARCD questions, or a fixed random sample of them."""
    arcd = load_eval_file(ARCD)
    return Corpus(
        documents_from_paths([SEEDS]) + arcd.documents, _sample(arcd.questions, questions, seed)
    )


def _sample(questions: list[EvalQuestion], n: int | None, seed: int) -> list[EvalQuestion]:
    """All answerable questions, or a fixed random sample of n of them."""
    asked = [q for q in questions if q.answerable]
    if n is not None and n < len(asked):
        asked = random.Random(seed).sample(asked, n)
    return asked


def english_questions(questions: int | None = None, seed: int = 7) -> list[EvalQuestion]:
    """ARCD-xl's English questions (gold: ARCD's Arabic paragraphs, in the same corpus)."""
    xl = load_eval_file(ARCD_XL).questions
    return _sample([q for q in xl if q.lang == "en"], questions, seed)


def passages(documents: list[Document], embedder: Embedder) -> list[Passage]:
    """The documents cut into passages exactly as the pipeline cuts them for this embedder."""
    config = ChunkingConfig()
    return [
        p
        for d in documents
        for p in chunk_document(d, embedder.count_tokens, config, embedder.max_tokens)
    ]


def passage_texts(documents: list[Document], embedder: Embedder) -> list[str]:
    """Exactly the passage strings the pipeline embeds (title + text of each chunk)."""
    return [with_title(p) for p in passages(documents, embedder)]
