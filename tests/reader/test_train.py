"""The training run's pure parts: the epoch's mix, the schedule, what a continued run records,
and the CLI's refusal of a bad mix before any work starts."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from qa.reader.train import _continued, lr_factor, mix_key, sample_rows


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
