"""The training run's pure parts: the epoch's mix, the schedule, what a continued run records,
and the CLI's refusal of a bad mix before any work starts."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from qa.reader.features import build_windows
from qa.reader.train import (
    Featurizer,
    TrainOptions,
    _continued,
    lr_factor,
    mix_key,
    sample_rows,
    sibling_table,
    siblings_of,
)


def _row(source: str, lang: str, i: int) -> dict[str, Any]:
    return {"source": source, "question_lang": lang, "id": f"{source}-{lang}-{i}"}


ROWS = (
    [_row("xquad", "ar", i) for i in range(10)]
    + [_row("xquad", "de", i) for i in range(6)]
    + [_row("xquad", "zh", i) for i in range(6)]
    + [_row("tydi", "en", i) for i in range(8)]
)


@pytest.mark.parametrize(
    ("row", "key"),
    [
        (_row("xquad", "ar", 0), "xquad:ar"),
        (_row("xquad", "en", 0), "xquad:en"),
        (_row("xquad", "de", 0), "xquad:other"),
        (_row("tydi", "de", 0), "tydi:de"),  # only XQuAD's minor languages are pooled
    ],
)
def test_mix_groups_are_source_and_question_language(row: dict[str, Any], key: str) -> None:
    assert mix_key(row) == key


def test_an_epoch_takes_all_or_a_seeded_sample_of_each_named_group() -> None:
    mix: dict[str, int | None] = {"xquad:ar": None, "xquad:other": 4, "tydi:en": 100}
    chosen = sample_rows(ROWS, mix, random.Random(3))
    counts = Counter(mix_key(r) for r in chosen)
    assert counts == {"xquad:ar": 10, "xquad:other": 4, "tydi:en": 8}  # unnamed groups: none
    again = sample_rows(ROWS, mix, random.Random(3))
    assert [r["id"] for r in again] == [r["id"] for r in chosen]
    assert len({r["id"] for r in chosen}) == len(chosen)


@pytest.mark.parametrize(
    ("fraction", "factor"),
    [(0.0, 0.05), (0.02, 0.5), (0.04, 1.0), (0.52, 0.5), (1.0, 0.0), (1.2, 0.0)],
)
def test_the_schedule_warms_up_then_decays_over_the_budget(fraction: float, factor: float) -> None:
    assert lr_factor(fraction, 0.04) == pytest.approx(factor)


def test_a_continued_run_records_the_training_it_continued(tmp_path: Path) -> None:
    assert _continued(None) == {}
    earlier = {"training": {"steps": 1061, "epochs_done": 3.0}}
    (tmp_path / "manifest.json").write_text(json.dumps(earlier), encoding="utf-8")
    assert _continued(tmp_path) == {"continued_from": {"steps": 1061, "epochs_done": 3.0}}


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("{not json", "--mix is not JSON"),
        ('{"xquad:ar": -1}', "--mix maps group names"),
        ('{"xquad:ar": true}', "--mix maps group names"),
        ('["xquad:ar"]', "--mix maps group names"),
    ],
)
def test_a_bad_mix_is_one_line_and_a_non_zero_exit(tmp_path: Path, mix: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qa", "reader", "train", "--data", str(tmp_path), "--mix", mix],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().startswith(f"error: {message}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing was written


def test_missing_data_is_one_line_naming_the_command_that_makes_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qa", "reader", "train", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"error: {tmp_path / 'train.jsonl'} is missing: run `qa reader data` first"
    )
    assert not list(tmp_path.iterdir())  # nothing was written


def _para(source: str, article: str, context: str, answer: str) -> dict[str, Any]:
    start = context.find(answer)
    return {
        "source": source,
        "article": article,
        "context": context,
        "question": "where is the river",
        "answers": [{"text": answer, "start": start}],
    }


PARAS = [
    _para("xquad", "Nile", "the river flows north to the sea", "north"),
    _para("xquad", "Nile", "the river flows north to the sea", "the sea"),  # same paragraph
    _para("xquad", "Nile", "its delta is wide and green", "wide"),
    _para("xquad", "Nile", "boats sail north in summer", "summer"),
    _para("tydi", "Nile", "a paragraph of another source", "another"),
    _para("xquad", "Rhine", "the rhine is in europe", "europe"),
]


def test_siblings_are_the_other_paragraphs_of_the_article_in_one_source() -> None:
    table = sibling_table(PARAS)
    assert table[("xquad", "Nile")] == [
        "the river flows north to the sea",
        "its delta is wide and green",
        "boats sail north in summer",
    ]
    # own paragraph left out, and so is a sibling that holds the answer's text ("north")
    assert siblings_of(PARAS[0], table) == ["its delta is wide and green"]
    assert siblings_of(PARAS[2], table) == [
        "the river flows north to the sea",
        "boats sail north in summer",
    ]
    assert siblings_of(PARAS[5], table) == []  # the only paragraph of its article


class _Words:
    """A tokenizer of whitespace words, each a stable id (offsets are the words' characters)."""

    def encode(self, sequence: str, add_special_tokens: bool = False) -> Any:
        ids, offsets, at = [], [], 0
        for word in sequence.split():
            start = sequence.index(word, at)
            ids.append(10 + sum(map(ord, word)))
            offsets.append((start, start + len(word)))
            at = start + len(word)
        return type("Encoding", (), {"ids": ids, "offsets": offsets})()


def test_a_sibling_negative_is_the_window_nearest_the_question(tmp_path: Path) -> None:
    options = TrainOptions(
        data_dir=tmp_path,
        model_dir=tmp_path,
        run_dir=tmp_path,
        weights_dir=tmp_path,
        max_len=90,
        overlap=4,
        neg_same=0.0,
        neg_other=0.0,
        neg_sibling=1.0,
    )
    featurizer = Featurizer(_Words(), options.spec)
    row = _para("xquad", "Nile", "the river flows north to the sea", "north")
    far = "cats sleep all day long " * 20  # 100 words: two windows of at most 83
    near = far + "where the river is wide"
    out = featurizer.examples(row, row, options, random.Random(0), [near])
    assert len(out) == 2
    positive, negative = out
    assert positive.start > 0 and (negative.start, negative.end) == (0, 0)
    asked = set(featurizer.encoded(row["question"]).ids)
    windows = build_windows(
        featurizer.encoded(row["question"]).ids, featurizer.encoded(near), 0, options.spec
    )
    assert len(windows) == 2 and negative.window == windows[1]
    text = windows[1].input_ids[windows[1].context_start :]
    assert len(asked & set(text)) == 4  # "where the river is"; the first window has none
    # without siblings, or at probability 0, only the answer's window
    assert len(featurizer.examples(row, row, options, random.Random(0), [])) == 1
    quiet = replace(options, neg_sibling=0.0)
    assert len(featurizer.examples(row, row, quiet, random.Random(0), [near])) == 1
