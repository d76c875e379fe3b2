"""Reader training data: fetch pinned public QA sets and convert them to one JSONL format.

Each row: id, lang (of the context), question_lang, article, context, question,
answers [{text, start}], source, licence, split ("train" or "heldout"). Files come from pinned
GitHub commits (raw URLs) or from a local mirror (`git --git-dir=MIRROR/owner+name/repo show`),
and the project's own eval/ files. See qa/reader/DATA.md for what comes from where.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOQAL = ("fbsx503/SOQAL", "a6edbb9317e7a52822cef257b28ec737bcb70ef7")
TYDI = ("sagorbrur/tydiqa-language-specific", "55c6649475e0765f717a6d32a173c6664096a8ce")
XQUAD = ("google-deepmind/xquad", "7d30520c717524000f0d9d2f9c10a069acd9d285")
# XQuAD's other question languages, paired with the Arabic context by question id.
XQUAD_LANGS = ("en", "de", "es", "ru", "tr", "vi", "zh", "hi", "el", "ro", "th")
# Every 4th XQuAD article (12 of 48) is held out, for all question languages.
XQUAD_HELDOUT_EVERY = 4
# Every 3rd ARCD article (26 of 77: 234 Arabic and 83 cross-lingual questions) is held out; the
# rest trains the reader on the style of the sets the system is judged on (long Wikipedia
# paragraphs, answers of 1-15 words).
ARCD_HELDOUT_EVERY = 3


@dataclass(frozen=True)
class Source:
    """One SQuAD-format file: where it lives and what it is."""

    name: str
    repo: tuple[str, str] | None  # (owner/name, commit); None = this project's eval/ folder
    path: str
    licence: str
    lang: str
    question_lang: str
    split: str  # "train" / "heldout"; see heldout_every
    heldout_every: int | None = None  # split by article instead: every Nth held out, rest train


SOURCES = (
    Source(
        "tydiqa-goldp-ar-dev",
        SOQAL,
        "data/tydiqa-goldp-dev-arabic.json",
        "Apache-2.0",
        "ar",
        "ar",
        "train",
    ),
    Source(
        "tydiqa-goldp-en-train",
        TYDI,
        "language_data/english/english_tydiqa_train.json",
        "Apache-2.0",
        "en",
        "en",
        "train",
    ),
    Source(
        "tydiqa-goldp-en-dev",
        TYDI,
        "language_data/english/english_tydiqa_dev.json",
        "Apache-2.0",
        "en",
        "en",
        "train",
    ),
    Source(
        "mlqa-ar-ar-dev",
        SOQAL,
        "data/MLQA-dev-context-ar-question-ar.json",
        "CC-BY-SA-3.0",
        "ar",
        "ar",
        "heldout",
    ),
    # ARCD is what `qa eval` judges the whole system on: its held-out articles are the ones to
    # report on (the two files list the same 77 articles in the same order).
    Source(
        "arcd-train",
        None,
        "eval/arcd-train.json",
        "MIT",
        "ar",
        "ar",
        "train",
        ARCD_HELDOUT_EVERY,
    ),
    Source(
        "arcd-train-xl",
        None,
        "eval/arcd-train-xl.json",
        "MIT",
        "ar",
        "xx",
        "train",
        ARCD_HELDOUT_EVERY,
    ),
)


def raw_url(repo: tuple[str, str], path: str) -> str:
    """The pinned raw.githubusercontent.com address of a file."""
    return f"https://raw.githubusercontent.com/{repo[0]}/{repo[1]}/{path}"


def read_source(repo: tuple[str, str] | None, path: str, mirror: Path | None, root: Path) -> Any:
    """The parsed JSON of a file: project file, mirror git dir, or pinned URL, in that order."""
    if repo is None:
        return json.loads((root / path).read_text(encoding="utf-8"))
    if mirror is not None:
        git_dir = mirror / repo[0].replace("/", "+") / "repo"
        shown = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{repo[1]}:{path}"],
            check=True,
            capture_output=True,
        )
        return json.loads(shown.stdout)
    with urllib.request.urlopen(raw_url(repo, path), timeout=60) as response:
        return json.loads(response.read())


def squad_rows(data: Any) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    """(article index, title, context, qa) for every question of a SQuAD-format file."""
    for index, article in enumerate(data["data"]):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield index, article.get("title", ""), paragraph["context"], qa


def split_of(source: Source, article_index: int) -> str:
    """The split of an article of a source: fixed, or every Nth article held out."""
    if source.heldout_every is None:
        return source.split
    return "heldout" if article_index % source.heldout_every == 0 else "train"


def xquad_split(article_index: int) -> str:
    """The split of an XQuAD article, for every question language."""
    return "heldout" if article_index % XQUAD_HELDOUT_EVERY == 0 else "train"


def _answers(context: str, qa: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers whose text sits at its start offset (others are dropped), deduplicated."""
    out: list[dict[str, Any]] = []
    for answer in qa.get("answers", []):
        text, start = answer["text"], int(answer["answer_start"])
        if text and context[start : start + len(text)] == text:
            item = {"text": text, "start": start}
            if item not in out:
                out.append(item)
    return out


def convert(source: Source, data: Any) -> list[dict[str, Any]]:
    """Rows of one SQuAD-format source in the common format (questions without a span dropped)."""
    rows = []
    for index, title, context, qa in squad_rows(data):
        answers = _answers(context, qa)
        if not answers:
            continue
        rows.append(
            {
                "id": f"{source.name}:{qa['id']}",
                "lang": source.lang,
                "question_lang": qa.get("lang", source.question_lang),
                "article": title,
                "context": context,
                "question": qa["question"].strip(),
                "answers": answers,
                "source": source.name,
                "licence": source.licence,
                "split": split_of(source, index),
            }
        )
    return rows


def convert_xquad(by_lang: dict[str, Any]) -> list[dict[str, Any]]:
    """XQuAD: Arabic contexts with Arabic questions and each other language's question (same id)."""
    questions: dict[str, dict[str, str]] = {}
    for lang, data in by_lang.items():
        for _, _, _, qa in squad_rows(data):
            questions.setdefault(qa["id"], {})[lang] = qa["question"].strip()
    rows = []
    for index, article in enumerate(by_lang["ar"]["data"]):
        split = xquad_split(index)
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = _answers(paragraph["context"], qa)
                if not answers:
                    continue
                for lang, question in sorted(questions[qa["id"]].items()):
                    rows.append(
                        {
                            "id": f"xquad:{qa['id']}:{lang}",
                            "lang": "ar",
                            "question_lang": lang,
                            "article": article["title"],
                            "context": paragraph["context"],
                            "question": question,
                            "answers": answers,
                            "source": "xquad",
                            "licence": "CC-BY-SA-4.0",
                            "split": split,
                        }
                    )
    return rows


def bilingual(by_lang: dict[str, Any], split: str) -> dict[str, Any]:
    """XQuAD's articles of one split in English and in Arabic, the English questions on the English.

    A corpus holding the same articles in both languages: held out, for `qa eval` to judge
    English questions answered from English passages while the Arabic translations compete;
    the training articles, for bench/calibrate_reader.py to fit abstention on English passages
    (the reader trained on these questions over the Arabic paragraphs, never the English ones).
    Each English article is followed by its Arabic twin.
    """
    articles: list[dict[str, Any]] = []
    pairs = zip(by_lang["en"]["data"], by_lang["ar"]["data"], strict=True)
    for index, (english, arabic) in enumerate(pairs):
        if xquad_split(index) != split:
            continue
        articles.append(english)
        articles.append(
            {
                "title": arabic["title"],
                "paragraphs": [{"context": p["context"], "qas": []} for p in arabic["paragraphs"]],
            }
        )
    return {"version": f"xquad-bilingual-{split}", "data": articles}


def _context_key(context: str) -> str:
    return hashlib.sha1(" ".join(context.split()).encode("utf-8")).hexdigest()


def drop_overlap(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Training rows whose article or context also appears held out are dropped (leak guard)."""
    held_articles = {r["article"].strip().lower() for r in rows if r["split"] == "heldout"}
    held_contexts = {_context_key(r["context"]) for r in rows if r["split"] == "heldout"}
    held_articles.discard("")
    kept, dropped = [], 0
    for row in rows:
        leak = row["split"] == "train" and (
            row["article"].strip().lower() in held_articles
            or _context_key(row["context"]) in held_contexts
        )
        if leak:
            dropped += 1
        else:
            kept.append(row)
    return kept, dropped


def read_all(mirror: Path | None, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every source's file by source name, and XQuAD's files by language, each read once."""
    files = {s.name: read_source(s.repo, s.path, mirror, root) for s in SOURCES}
    langs = dict.fromkeys(("ar", "en", *XQUAD_LANGS))  # Arabic contexts, English for bilingual
    xquad = {lang: read_source(XQUAD, f"xquad.{lang}.json", mirror, root) for lang in langs}
    return files, xquad


def build_dataset(
    files: dict[str, Any], xquad: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All rows of all sources, with leaks removed, and a summary (counts per source and split)."""
    rows: list[dict[str, Any]] = []
    for source in SOURCES:
        rows += convert(source, files[source.name])
    rows += convert_xquad(xquad)
    rows, dropped = drop_overlap(rows)
    counts = Counter(f"{r['source']} {r['split']} {r['question_lang']}->{r['lang']}" for r in rows)
    summary = {
        "rows": len(rows),
        "dropped_overlap": dropped,
        "counts": dict(sorted(counts.items())),
    }
    return rows, summary


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    """One JSON object per line, UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows written by write_jsonl."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def heldout_articles(source: Source, data: Any) -> dict[str, Any]:
    """A source's SQuAD-format file cut to the articles split_of holds out."""
    articles = [a for i, a in enumerate(data["data"]) if split_of(source, i) == "heldout"]
    return {**data, "data": articles}


def prepare(mirror: Path | None, root: Path, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Write train.jsonl and heldout.jsonl (shuffled, seeded) and summary.json into out_dir.

    The project's own eval files that training partly reads are also written cut to their
    held-out articles (`<source>-heldout.json`), for `qa eval` to judge the system on, and
    XQuAD's two parts as English and Arabic corpora with English questions
    (`xquad-bilingual-{train,heldout}.json`).
    """
    files, xquad = read_all(mirror, root)
    rows, summary = build_dataset(files, xquad)
    rng = random.Random(seed)
    for split in ("train", "heldout"):
        part = [r for r in rows if r["split"] == split]
        rng.shuffle(part)
        write_jsonl(part, out_dir / f"{split}.jsonl")
    for split in ("train", "heldout"):
        (out_dir / f"xquad-bilingual-{split}.json").write_text(
            json.dumps(bilingual(xquad, split), ensure_ascii=False), encoding="utf-8"
        )
    for source in SOURCES:
        if source.repo is None and source.heldout_every is not None:
            cut = heldout_articles(source, files[source.name])
            (out_dir / f"{source.name}-heldout.json").write_text(
                json.dumps(cut, ensure_ascii=False), encoding="utf-8"
            )
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary
