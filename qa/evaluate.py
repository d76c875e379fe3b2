"""Evaluation of SQuAD JSON or seed-question JSONL: retrieval, answers and abstention."""

from __future__ import annotations

import json
import re
import statistics
import string
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.domain import AskResult, Document
from qa.errors import InvalidInputError
from qa.ingest.loaders import doc_id_for
from qa.text.normalize import fold_whitespace

_JUDGE_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u0640]")
_JUDGE_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})
# SQuAD's answer normalisation, made multilingual as MLQA's script does it: every Unicode
# punctuation mark goes (Arabic ، ؛ ؟ too), English articles go, and the Arabic article
# ال is taken off the front of words (MLQA removes it everywhere, which also splits words).
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ARABIC_ARTICLE = re.compile(r"(^|\s)ال(?=\w)")


@dataclass(frozen=True)
class EvalQuestion:
    """One question with what counts as right: gold passage text and answer strings."""

    id: str
    question: str
    gold_texts: tuple[str, ...]
    answers: tuple[str, ...]
    answerable: bool
    lang: str = ""


@dataclass
class EvalSet:
    """Questions, and the documents they are about (indexed before asking, when given)."""

    questions: list[EvalQuestion]
    documents: list[Document] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionResult:
    """How one question went."""

    id: str
    lang: str
    answerable: bool
    gold_rank: int | None
    answer: str | None
    answer_score: float | None
    confidence: float | None
    correct: bool
    latency_ms: float
    context: str | None = None
    f1: float | None = None  # token F1 of the answer against the best gold answer
    exact: bool | None = None
    context_correct: bool | None = None  # a gold answer inside the answer's context


@dataclass(frozen=True)
class Report:
    """Aggregate scores of an evaluation run."""

    questions: int
    answerable: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    answer_accuracy: float
    abstention_accuracy: float | None
    mean_answer_words: float
    max_answer_words: int
    token_f1: float | None  # 0..1, over answerable questions with gold answers
    exact_match: float | None
    context_accuracy: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    results: list[QuestionResult]

    def summary(self) -> dict[str, Any]:
        """The scores without the per-question rows."""
        data = asdict(self)
        data.pop("results")
        return data


def judge_fold(text: str) -> str:
    """The judge's normalisation: diacritics and tatweel gone, alef/yeh/teh marbuta unified."""
    return fold_whitespace(_JUDGE_DIACRITICS.sub("", text).translate(_JUDGE_LETTERS))


def is_gold(source_text: str, gold_texts: Iterable[str]) -> bool:
    """A source is the gold passage when one text contains the other after whitespace folding."""
    source = fold_whitespace(source_text)
    return any(g and (g in source or source in g) for g in (fold_whitespace(t) for t in gold_texts))


def normalize_answer(text: str) -> str:
    """SQuAD normalisation plus Arabic folding: case, punctuation, articles, diacritics, alef."""
    text = judge_fold(text).lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = _ARABIC_ARTICLE.sub(r"\1", _ENGLISH_ARTICLES.sub(" ", text))
    return " ".join(text.split())


def _is_punctuation(ch: str) -> bool:
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalize_answer (SQuAD's F1)."""
    return bag_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def bag_f1(predicted: Sequence[str], wanted: Sequence[str]) -> float:
    """SQuAD's F1 of two token bags (1.0 when both are empty)."""
    if not predicted or not wanted:
        return float(list(predicted) == list(wanted))
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> bool:
    """Equal after normalize_answer."""
    return normalize_answer(prediction) == normalize_answer(gold)


def span_scores(
    question: EvalQuestion, answer: str | None, context: str | None
) -> tuple[float | None, bool | None, bool | None]:
    """(token F1, exact match, context holds a gold answer), best over the gold answers.

    None for questions without gold answers or that cannot be answered; an abstention on an
    answerable question scores 0.
    """
    if not question.answerable or not question.answers:
        return None, None, None
    if answer is None:
        return 0.0, False, False
    f1 = max(token_f1(answer, gold) for gold in question.answers)
    exact = any(exact_match(answer, gold) for gold in question.answers)
    around = judge_fold(context if context is not None else answer)
    return f1, exact, any(judge_fold(gold) in around for gold in question.answers)


def answer_correct(question: EvalQuestion, answer: str | None) -> bool:
    """Right when it contains every gold string (answerable) or is None (unanswerable)."""
    if not question.answerable:
        return answer is None
    if answer is None:
        return False
    folded = judge_fold(answer)
    if not question.answers:
        return True
    return any(judge_fold(a) in folded for a in question.answers)


def load_eval_file(path: Path, corpus: list[Document] | None = None) -> EvalSet:
    """Read SQuAD JSON (with its paragraphs as documents) or seed-question JSONL."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc})") from exc
    if path.suffix.lower() == ".jsonl":
        return _load_jsonl(raw, path, corpus or [])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InvalidInputError(f'{path}: expected SQuAD format: {{"data": [...]}}')
    return _load_squad(data, path)


def _load_squad(data: dict[str, Any], path: Path) -> EvalSet:
    questions: list[EvalQuestion] = []
    documents: list[Document] = []
    prefix = doc_id_for(path.name)
    for n, article in enumerate(data["data"]):
        contexts = [p["context"].strip() for p in article.get("paragraphs", [])]
        title = str(article.get("title", "")).strip()
        documents.append(
            Document(
                id=f"{prefix}-{n:04d}",
                text="\n\n".join(contexts),
                title=title,
                metadata={"source": path.name, "title": title},
            )
        )
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                answers = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                impossible = bool(qa.get("is_impossible")) or not answers
                questions.append(
                    EvalQuestion(
                        id=str(qa.get("id", len(questions))),
                        question=str(qa["question"]).strip(" -\n\t"),
                        gold_texts=(paragraph["context"].strip(),),
                        answers=answers,
                        answerable=not impossible,
                        lang=str(qa.get("lang", "")),
                    )
                )
    return EvalSet(questions, documents)


def _load_jsonl(raw: str, path: Path, corpus: list[Document]) -> EvalSet:
    lines = [line for d in corpus for line in d.text.splitlines() if line.strip()]
    questions: list[EvalQuestion] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            paragraph = item.get("paragraph")
            gold = (lines[paragraph].strip(),) if paragraph is not None and lines else ()
            questions.append(
                EvalQuestion(
                    id=str(item.get("id", number)),
                    question=str(item["question"]),
                    gold_texts=gold,
                    answers=tuple(item.get("answer_contains", [])),
                    answerable=bool(item.get("answerable", True)),
                    lang=str(item.get("lang", "")),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
            raise InvalidInputError(f"{path}:{number}: not a seed question ({exc})") from exc
    return EvalSet(questions, [])


def evaluate(
    ask: Callable[[str], AskResult],
    questions: list[EvalQuestion],
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Ask every question and score retrieval, answers and abstention."""
    results: list[QuestionResult] = []
    for q in questions:
        started = time.perf_counter()
        result = ask(q.question)
        latency = (time.perf_counter() - started) * 1000
        rank = next(
            (h.rank for h in result.hits if q.gold_texts and is_gold(h.passage.text, q.gold_texts)),
            None,
        )
        answer = result.answer.text if result.answer else None
        context = None
        if result.answer is not None:
            context = result.answer.context.text if result.answer.context else answer
        f1, exact, context_correct = span_scores(q, answer, context)
        results.append(
            QuestionResult(
                id=q.id,
                lang=q.lang,
                answerable=q.answerable,
                gold_rank=rank,
                answer=answer,
                answer_score=result.answer.score if result.answer else None,
                confidence=result.confidence,
                correct=answer_correct(q, answer),
                latency_ms=latency,
                context=context,
                f1=f1,
                exact=exact,
                context_correct=context_correct,
            )
        )
        if progress:
            progress(1)
    return summarise(results)


def summarise(results: list[QuestionResult]) -> Report:
    """Aggregate per-question results into a report."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranked = [r for r in answerable if True]

    def recall(k: int) -> float:
        return _mean([1.0 if r.gold_rank and r.gold_rank <= k else 0.0 for r in ranked])

    answered = [r.answer for r in results if r.answer]
    gold = [r for r in answerable if r.f1 is not None]
    latencies = sorted(r.latency_ms for r in results) or [0.0]
    return Report(
        questions=len(results),
        answerable=len(answerable),
        recall_at_1=recall(1),
        recall_at_5=recall(5),
        recall_at_10=recall(10),
        mrr_at_10=_mean(
            [1.0 / r.gold_rank if r.gold_rank and r.gold_rank <= 10 else 0.0 for r in ranked]
        ),
        answer_accuracy=_mean([1.0 if r.correct else 0.0 for r in answerable]),
        abstention_accuracy=(
            _mean([1.0 if r.correct else 0.0 for r in unanswerable]) if unanswerable else None
        ),
        mean_answer_words=_mean([float(len(a.split())) for a in answered]),
        max_answer_words=max((len(a.split()) for a in answered), default=0),
        token_f1=_mean([r.f1 or 0.0 for r in gold]) if gold else None,
        exact_match=_mean([1.0 if r.exact else 0.0 for r in gold]) if gold else None,
        context_accuracy=_mean([1.0 if r.context_correct else 0.0 for r in gold]) if gold else None,
        latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        results=results,
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
