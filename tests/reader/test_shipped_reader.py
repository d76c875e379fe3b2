"""The shipped reader weights on the exported bundled model: spans from real passages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from qa.reader.infer import TrainedReader
from qa.reader.manifest import WEIGHTS_DIR

pytestmark = pytest.mark.skipif(
    not (WEIGHTS_DIR / "manifest.json").exists(), reason="no shipped weights"
)

ARABIC = (
    "برج إيفل برج حديدي في باريس. اكتمل بناء البرج عام 1889 بمناسبة المعرض العالمي، "
    "ويبلغ ارتفاعه 330 مترا."
)
ENGLISH = "The Nile is the longest river in Africa. It flows north into the Mediterranean Sea."


@pytest.fixture(scope="module")
def reader(exported_dir: Path) -> TrainedReader:
    from qa.reader.infer import load_trained_reader

    return load_trained_reader(exported_dir, threads=1)


def test_reads_the_year_from_an_arabic_passage(reader: TrainedReader) -> None:
    spans = reader.read("متى اكتمل بناء برج إيفل؟", [ENGLISH, ARABIC])
    assert spans, "a span is expected"
    best = spans[0]
    assert best.text_index == 1
    assert "1889" in ARABIC[best.start : best.end]
    assert len(ARABIC[best.start : best.end].split()) <= 8
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_english_question_over_arabic_text(reader: TrainedReader) -> None:
    spans = reader.read("How tall is the Eiffel Tower?", [ARABIC])
    assert "330" in ARABIC[spans[0].start : spans[0].end]


def test_offsets_are_exact_and_trimmed(reader: TrainedReader) -> None:
    for span in reader.read("متى اكتمل بناء برج إيفل؟", [ARABIC, ENGLISH], top_n=10):
        text = [ARABIC, ENGLISH][span.text_index][span.start : span.end]
        assert text == text.strip(" .،,")
        assert text


def test_no_texts_no_spans(reader: TrainedReader) -> None:
    assert reader.read("any question", []) == []
