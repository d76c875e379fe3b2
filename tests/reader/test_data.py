"""Reader data: the split by article, the leak guard and the held-out eval files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.reader.data import (
    SOURCES,
    Source,
    bilingual,
    convert,
    drop_overlap,
    heldout_articles,
    prepare,
    split_of,
)

FIXED = Source("fixed", None, "x.json", "MIT", "ar", "ar", "heldout")
EVERY_3 = Source("by-article", None, "x.json", "MIT", "ar", "ar", "train", 3)


def squad(titles: list[str]) -> dict[str, Any]:
    """A SQuAD-format file: one paragraph and one answerable question per article."""
    return {
        "version": "1",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": f"نص المقالة {title} هنا",
                        "qas": [
                            {
                                "id": f"q{i}",
                                "question": f"سؤال {title}؟",
                                "answers": [{"text": title, "answer_start": 11}],
                            }
                        ],
                    }
                ],
            }
            for i, title in enumerate(titles)
        ],
    }


@pytest.mark.parametrize(
    ("source", "index", "split"),
    [
        (FIXED, 0, "heldout"),
        (FIXED, 5, "heldout"),
        (EVERY_3, 0, "heldout"),
        (EVERY_3, 1, "train"),
        (EVERY_3, 2, "train"),
        (EVERY_3, 3, "heldout"),
        (EVERY_3, 76, "train"),
    ],
)
def test_split_of(source: Source, index: int, split: str) -> None:
    assert split_of(source, index) == split


def test_convert_splits_by_article_and_heldout_file_holds_the_same_articles() -> None:
    data = squad(["أ", "ب", "ت", "ث", "ج"])
    rows = convert(EVERY_3, data)
    held = {r["article"] for r in rows if r["split"] == "heldout"}
    assert held == {"أ", "ث"}
    assert {a["title"] for a in heldout_articles(EVERY_3, data)["data"]} == held
    assert all(r["answers"][0]["text"] == r["article"] for r in rows)


def test_drop_overlap_removes_training_rows_of_a_heldout_article() -> None:
    rows = convert(EVERY_3, squad(["أ", "ب"])) + convert(
        Source("other", None, "y.json", "MIT", "ar", "ar", "train"), squad(["أ", "ج"])
    )
    kept, dropped = drop_overlap(rows)
    assert dropped == 1
    assert sorted((r["source"], r["article"], r["split"]) for r in kept) == [
        ("by-article", "أ", "heldout"),
        ("by-article", "ب", "train"),
        ("other", "ج", "train"),
    ]


def test_arcd_files_list_the_same_articles_in_the_same_order() -> None:
    # The cross-lingual file's held-out questions must belong to the held-out Arabic articles.
    root = Path(__file__).resolve().parents[2]
    arcd = [s for s in SOURCES if s.heldout_every is not None]
    assert {s.name for s in arcd} == {"arcd-train", "arcd-train-xl"}
    titles = [
        [a["title"] for a in json.loads((root / s.path).read_text(encoding="utf-8"))["data"]]
        for s in arcd
    ]
    assert titles[0] == titles[1]


def test_prepare_writes_heldout_eval_files_of_the_project_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"eval/a.json": squad(["أ", "ب", "ت", "ث"]), "remote.json": squad(["ج"])}
    sources = (
        Source("local", None, "eval/a.json", "MIT", "ar", "ar", "train", 3),
        Source("remote", ("o/n", "0" * 40), "remote.json", "MIT", "ar", "ar", "train"),
    )
    monkeypatch.setattr("qa.reader.data.SOURCES", sources)
    monkeypatch.setattr("qa.reader.data.XQUAD_LANGS", ())
    monkeypatch.setattr(
        "qa.reader.data.read_source",
        lambda repo, path, mirror, root: files.get(path, {"data": []}),
    )
    summary = prepare(None, tmp_path, tmp_path / "out")
    assert summary["counts"] == {
        "local heldout ar->ar": 2,
        "local train ar->ar": 2,
        "remote train ar->ar": 1,
    }
    cut = json.loads((tmp_path / "out" / "local-heldout.json").read_text(encoding="utf-8"))
    assert [a["title"] for a in cut["data"]] == ["أ", "ث"]
    assert not (tmp_path / "out" / "remote-heldout.json").exists()


def test_bilingual_pairs_english_and_arabic_articles_with_english_questions() -> None:
    english = squad(["a0", "a1", "a2", "a3", "a4"])
    arabic = squad(["ع0", "ع1", "ع2", "ع3", "ع4"])
    data = bilingual({"en": english, "ar": arabic}, "heldout")
    assert data["version"] == "xquad-bilingual-heldout"
    assert [a["title"] for a in data["data"]] == ["a0", "ع0", "a4", "ع4"]
    questions = [
        (a["title"], q["question"]) for a in data["data"] for p in a["paragraphs"] for q in p["qas"]
    ]
    assert questions == [("a0", "سؤال a0؟"), ("a4", "سؤال a4؟")]
    assert (
        data["data"][1]["paragraphs"][0]["context"] == arabic["data"][0]["paragraphs"][0]["context"]
    )
    train = bilingual({"en": english, "ar": arabic}, "train")
    assert [a["title"] for a in train["data"]] == ["a1", "ع1", "a2", "ع2", "a3", "ع3"]
