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
from typing import Any

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


@dataclass(frozen=True)
class ReaderCalibration:
    """Logistic models over the reader evidence, their answer cuts, and the passage prior.

    Same-script and cross-script questions get separate models, as in abstain.Abstainer.
    """

    same_script: Logistic
    cross_script: Logistic
    threshold: float
    cross_threshold: float
    passage_weight: float = 0.0
    source: str = ""

    def cut(self, cross_script: bool) -> float:
        """The probability below which the answer is withheld."""
        return self.cross_threshold if cross_script else self.threshold

    def probability(self, evidence: list[float], cross_script: bool) -> float:
        """Probability that the span answers from the indexed text."""
        model = self.cross_script if cross_script else self.same_script
        return model(evidence)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form read by load_calibration."""
        return {
            "evidence": list(READER_EVIDENCE),
            "same_script": _model_dict(self.same_script),
            "cross_script": _model_dict(self.cross_script),
            "threshold": self.threshold,
            "cross_threshold": self.cross_threshold,
            "passage_weight": self.passage_weight,
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
    return ReaderCalibration(
        same_script=_model(data["same_script"]),
        cross_script=_model(data["cross_script"]),
        threshold=float(data["threshold"]),
        cross_threshold=float(data["cross_threshold"]),
        passage_weight=float(data.get("passage_weight", 0.0)),
        source=str(data.get("source", "")),
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
