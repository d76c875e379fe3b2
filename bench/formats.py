"""Passages and answers per file format for the format fixtures (issue 19's bars).

Indexes each fixture of tests/ingest/fixtures alone with the bundled model, then prints how
many passages it made and what each seed and report question gets. Run from the repository
root: `python -m bench.formats`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from qa.backends import open_pipeline
from qa.evaluate import answer_correct, load_eval_file
from qa.ingest import load_path
from qa.pipeline import PipelineOptions

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "ingest" / "fixtures"
SEED_FORMATS = ("txt", "md", "html", "docx", "pdf")
REPORT_FORMATS = ("md", "html", "docx", "pdf")
REPORT_QUESTIONS = [
    ("How much nuclear power does Pakistan produce?", "2490"),
    ("كم ميغاواط تنتج طاقة الرياح؟", "1335"),
    ("What is the output of natural gas in megawatts?", "11500"),
    ("ما إنتاج الطاقة الكهرومائية بالميغاواط؟", "9915"),
    ("ما التوصية بشأن شبكات نقل الكهرباء؟", "تحديث شبكات نقل الكهرباء"),
]


def main() -> None:
    questions = load_eval_file(ROOT / "eval" / "seed_questions.jsonl", []).questions
    with tempfile.TemporaryDirectory() as folder:
        for stem, formats in (("seed", SEED_FORMATS), ("report", REPORT_FORMATS)):
            for suffix in formats:
                name = f"{stem}.{suffix}"
                pipeline = open_pipeline(PipelineOptions(index_dir=Path(folder) / name))
                [added] = pipeline.add_documents(load_path(FIXTURES / name))
                print(f"\n{name}: {added.passages} passages")
                if stem == "seed":
                    right = 0
                    for q in questions:
                        result = pipeline.ask(q.question)
                        text = result.answer.text if result.answer else None
                        right += answer_correct(q, text) if q.answerable else text is None
                        print(f"  {q.id}: {text!r}")
                    print(f"  right: {right}/{len(questions)}")
                else:
                    found = 0
                    for question, gold in REPORT_QUESTIONS:
                        result = pipeline.ask(question)
                        answer = result.answer
                        passage = next(
                            (
                                h.passage
                                for h in result.hits
                                if answer and h.passage.id == answer.passage_id
                            ),
                            None,
                        )
                        line = ""
                        if answer and passage:
                            start = passage.text.rfind("\n", 0, answer.start) + 1
                            end = passage.text.find("\n", answer.end)
                            line = passage.text[start : end if end >= 0 else None]
                        found += bool(answer) and (gold in answer.text or gold in line)
                        print(f"  {question} -> {answer.text if answer else None!r}")
                    print(f"  answered: {found}/{len(REPORT_QUESTIONS)}")
                pipeline.close()


if __name__ == "__main__":
    main()
