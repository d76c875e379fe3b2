"""Abstention with a span reader: its span-vs-no-answer margin joined with retrieval's evidence.

The fitted constants live in one file, qa/data/reader_calibration.json, written by
bench/calibrate_reader.py (in-corpus vs out-of-corpus questions, as for the clause abstainer),
so new reader weights get a new calibration by running one script.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qa.answer.abstain import Logistic
from qa.answer.reading import SpanChoice
from qa.errors import ConfigError

READER_EVIDENCE = ("margin", "score", "retrieval_logit")
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "reader_calibration.json"


def logit(probability: float) -> float:
    """log(p / (1 - p)), clipped so that 0 and 1 stay finite."""
    p = min(1.0 - 1e-6, max(1e-6, probability))
    return math.log(p / (1.0 - p))


def reader_evidence(choice: SpanChoice, retrieval_probability: float) -> list[float]:
    """The abstainer's inputs in READER_EVIDENCE order."""
    return [choice.margin, choice.score, logit(retrieval_probability)]


CalibrationGroup = Literal["same_script", "latin_same_script", "cross_script"]


def calibration_group(question_script: str, cross_script: bool) -> CalibrationGroup:
    """Which fitted model judges a question.

    Cross-script questions have their own, as in abstain.Abstainer. Same-script ones are split
    by the question's script: out-of-corpus English questions over English passages are far
    easier to tell apart than Arabic ones. One model fitted on both (held-out halves, XQuAD's
    English training articles with ARCD and the seeds) abstained on 88% of the English ones
    but only 55% of the Arabic ones at its cut, against 82% for the Arabic-only model.
    """
    if cross_script:
        return "cross_script"
    return "latin_same_script" if question_script == "latin" else "same_script"


@dataclass(frozen=True)
class ReaderCalibration:
    """Logistic models over the reader evidence, their answer cuts, and the ranking priors.

    One model and cut per calibration_group; without a Latin-script model (a calibration
    written before it existed), same_script judges Latin-script questions too.
    """

    same_script: Logistic
    cross_script: Logistic
    threshold: float
    cross_threshold: float
    passage_weight: float = 0.0
    clause_weight: float = 0.0
    source: str = ""
    latin_same_script: Logistic | None = None
    latin_threshold: float | None = None

    def _judge(self, group: CalibrationGroup) -> tuple[Logistic, float]:
        if group == "cross_script":
            return self.cross_script, self.cross_threshold
        if group == "latin_same_script" and self.latin_same_script is not None:
            assert self.latin_threshold is not None  # both or neither (parse_calibration)
            return self.latin_same_script, self.latin_threshold
        return self.same_script, self.threshold

    def cut(self, group: CalibrationGroup) -> float:
        """The probability below which the answer is withheld."""
        return self._judge(group)[1]

    def probability(self, evidence: list[float], group: CalibrationGroup) -> float:
        """Probability that the span answers from the indexed text."""
        return self._judge(group)[0](evidence)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form read by load_calibration."""
        latin: dict[str, Any] = {}
        if self.latin_same_script is not None:
            latin = {
                "latin_same_script": _model_dict(self.latin_same_script),
                "latin_threshold": self.latin_threshold,
            }
        return {
            "evidence": list(READER_EVIDENCE),
            "same_script": _model_dict(self.same_script),
            "cross_script": _model_dict(self.cross_script),
            **latin,
            "threshold": self.threshold,
            "cross_threshold": self.cross_threshold,
            "passage_weight": self.passage_weight,
            "clause_weight": self.clause_weight,
            "source": self.source,
        }


def _model_dict(model: Logistic) -> dict[str, Any]:
    return {"bias": model.bias, "weights": list(model.weights)}


def _model(data: Any) -> Logistic:
    weights = tuple(float(w) for w in data["weights"])
    if len(weights) != len(READER_EVIDENCE):
        raise ValueError(f"{len(READER_EVIDENCE)} weights expected, got {len(weights)}")
    return Logistic(float(data["bias"]), weights)


def parse_calibration(data: Any) -> ReaderCalibration:
    """A calibration from its JSON form; ValueError (KeyError, TypeError) when malformed."""
    if list(data["evidence"]) != list(READER_EVIDENCE):
        raise ValueError(f"evidence must be {list(READER_EVIDENCE)}, got {data['evidence']}")
    if ("latin_same_script" in data) != ("latin_threshold" in data):
        raise ValueError("latin_same_script and latin_threshold come together")
    latin = "latin_same_script" in data
    return ReaderCalibration(
        same_script=_model(data["same_script"]),
        cross_script=_model(data["cross_script"]),
        threshold=float(data["threshold"]),
        cross_threshold=float(data["cross_threshold"]),
        passage_weight=float(data.get("passage_weight", 0.0)),
        clause_weight=float(data.get("clause_weight", 0.0)),
        source=str(data.get("source", "")),
        latin_same_script=_model(data["latin_same_script"]) if latin else None,
        latin_threshold=float(data["latin_threshold"]) if latin else None,
    )


def load_calibration(path: Path = CALIBRATION_FILE) -> ReaderCalibration:
    """The reader calibration shipped with qa (or another file written by the script)."""
    try:
        return parse_calibration(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"reader calibration {path}: unreadable ({exc})") from exc


def write_calibration(calibration: ReaderCalibration, path: Path = CALIBRATION_FILE) -> None:
    """Write a calibration where load_calibration reads it."""
    path.write_text(json.dumps(calibration.as_dict(), indent=2) + "\n", encoding="utf-8")
