"""The reader's abstention calibration: one JSON file, parsed strictly, cut on both sides."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from qa.answer.abstain import Logistic
from qa.answer.reader_abstain import (
    CALIBRATION_FILE,
    READER_EVIDENCE,
    CalibrationGroup,
    ReaderCalibration,
    calibration_group,
    load_calibration,
    logit,
    reader_evidence,
    write_calibration,
)
from qa.answer.reading import SpanChoice
from qa.domain import Answer
from qa.errors import ConfigError

MARGIN_ONLY = ReaderCalibration(
    same_script=Logistic(0.0, (1.0, 0.0, 0.0)),
    cross_script=Logistic(-2.0, (1.0, 0.0, 0.0)),
    threshold=0.5,
    cross_threshold=0.5,
)
WITH_LATIN = replace(
    MARGIN_ONLY, latin_same_script=Logistic(2.0, (1.0, 0.0, 0.0)), latin_threshold=0.3
)


def _choice(score: float, null: float) -> SpanChoice:
    return SpanChoice(Answer("x", "p", 0, 1, score), score, null, 0)


def test_the_shipped_calibration_loads() -> None:
    calibration = load_calibration()
    assert 0.0 < calibration.threshold < 1.0 and 0.0 < calibration.cross_threshold < 1.0
    assert json.loads(CALIBRATION_FILE.read_text())["evidence"] == list(READER_EVIDENCE)


@pytest.mark.parametrize(
    ("calibration", "score", "null", "group", "answered"),
    [
        (MARGIN_ONLY, 6.0, 1.0, "same_script", True),  # margin 5: p 0.99
        (MARGIN_ONLY, 1.0, 6.0, "same_script", False),  # margin -5: p 0.007
        (MARGIN_ONLY, 1.5, 1.0, "same_script", True),  # margin 0.5: p 0.62, just above the cut
        (MARGIN_ONLY, 1.0, 1.5, "same_script", False),  # margin -0.5: p 0.38, just below
        (MARGIN_ONLY, 2.5, 1.0, "cross_script", False),  # bias -2 makes margin 1.5 too little
        (MARGIN_ONLY, 4.5, 1.0, "cross_script", True),  # margin 3.5 - 2 = 1.5: p 0.82
        # no Latin model: the same-script one judges
        (MARGIN_ONLY, 1.0, 2.0, "latin_same_script", False),
        # a Latin model has its own bias and cut
        (WITH_LATIN, 1.0, 2.0, "latin_same_script", True),  # margin -1 + bias 2: p 0.73 >= 0.3
        (WITH_LATIN, 1.0, 4.0, "latin_same_script", False),  # margin -3 + 2: p 0.27 < 0.3
        (WITH_LATIN, 1.0, 2.0, "same_script", False),  # Arabic questions keep their own model
    ],
)
def test_abstention_on_both_sides_of_the_cut(
    calibration: ReaderCalibration,
    score: float,
    null: float,
    group: CalibrationGroup,
    answered: bool,
) -> None:
    evidence = reader_evidence(_choice(score, null), retrieval_probability=0.5)
    probability = calibration.probability(evidence, group)
    assert (probability >= calibration.cut(group)) is answered


@pytest.mark.parametrize(
    ("script", "cross", "group"),
    [
        ("arabic", False, "same_script"),
        ("other", False, "same_script"),
        ("latin", False, "latin_same_script"),
        ("latin", True, "cross_script"),
        ("arabic", True, "cross_script"),
    ],
)
def test_calibration_group(script: str, cross: bool, group: str) -> None:
    assert calibration_group(script, cross) == group


def test_evidence_order_and_logit() -> None:
    assert reader_evidence(_choice(3.0, 1.0), 0.5) == [2.0, 3.0, 0.0]
    assert logit(0.9) == pytest.approx(math.log(9))
    assert math.isfinite(logit(0.0)) and math.isfinite(logit(1.0))


@pytest.mark.parametrize("calibration", [MARGIN_ONLY, WITH_LATIN])
def test_write_then_load_round_trips(tmp_path: Path, calibration: ReaderCalibration) -> None:
    path = tmp_path / "calibration.json"
    write_calibration(calibration, path)
    assert load_calibration(path) == calibration


@pytest.mark.parametrize(
    "change",
    [
        {"evidence": ["margin"]},
        {"same_script": {"bias": 0, "weights": [1, 2]}},
        {"threshold": "high"},
        {"cross_script": None},
        {"latin_same_script": {"bias": 0, "weights": [1, 0, 0]}},  # without its threshold
        {"latin_threshold": 0.3},  # without its model
    ],
)
def test_a_malformed_calibration_is_a_configuration_error(
    tmp_path: Path, change: dict[str, object]
) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({**MARGIN_ONLY.as_dict(), **change}))
    with pytest.raises(ConfigError, match="reader calibration"):
        load_calibration(path)


def test_a_missing_calibration_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unreadable"):
        load_calibration(tmp_path / "absent.json")
