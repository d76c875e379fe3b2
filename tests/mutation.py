"""A rerunnable mutation check: named faults planted in a copy, each must fail the fast tests.

Covers qa/text, qa/retrieve/fusion.py and qa/answer (the clause ranker, abstention, question
types) with the faults a reviewer found surviving, and more of the same kind. Each mutant edits
one spot (its text must occur exactly once, so a mutant that no longer applies is reported, not
skipped). Run with `make mutation`; it takes a few minutes, so `make test` does not run it.

    python tests/mutation.py            # every mutant
    python tests/mutation.py grow-cap   # the mutants whose name contains "grow-cap"
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Unit tests only: no model, no subprocess, a few seconds a run.
FAST_TESTS = (
    "tests/text",
    "tests/retrieve/test_fusion.py",
    "tests/answer/test_extractive.py",
    "tests/answer/test_abstain.py",
    "tests/text/test_qtype.py",
    "tests/test_evaluate.py",
)


@dataclass(frozen=True)
class Mutant:
    """One planted fault: replace `old` by `new` in `path`."""

    name: str
    path: str
    old: str
    new: str


SPLIT = "qa/text/split.py"
NORM = "qa/text/normalize.py"
CHUNK = "qa/text/chunk.py"
FUSION = "qa/retrieve/fusion.py"
EXTRACT = "qa/answer/extractive.py"
ABSTAIN = "qa/answer/abstain.py"
QTYPE = "qa/text/qtype.py"

MUTANTS = (
    # qa/text/split.py
    Mutant("heading-max-13", SPLIT, "HEADING_MAX_WORDS = 14", "HEADING_MAX_WORDS = 13"),
    Mutant("heading-max-15", SPLIT, "HEADING_MAX_WORDS = 14", "HEADING_MAX_WORDS = 15"),
    Mutant(
        "heading-cap-strict",
        SPLIT,
        "len(words) <= HEADING_MAX_WORDS",
        "len(words) < HEADING_MAX_WORDS",
    ),
    Mutant("heading-colon-ok", SPLIT, "'.!?؟؛:…,،\"”»'", "'.!?؟؛…,،\"”»'"),
    Mutant(
        "heading-needs-no-body",
        SPLIT,
        "if is_heading(piece) and followed:",
        "if is_heading(piece):",
    ),
    Mutant(
        "paragraphs-by-line",
        SPLIT,
        "_BLANK_LINE if _BLANK_LINE.search(text) else _LINE_BREAK",
        "_LINE_BREAK",
    ),
    Mutant("sentence-no-arabic-qmark", SPLIT, r"[.!?؟؛…]+", r"[.!?؛…]+"),
    Mutant("arabic-comma-no-break", SPLIT, r"[،,;:]\s+", r"[,;:]\s+"),
    Mutant("clause-min-3", SPLIT, "CLAUSE_MIN_WORDS = 4", "CLAUSE_MIN_WORDS = 3"),
    Mutant("clause-min-5", SPLIT, "CLAUSE_MIN_WORDS = 4", "CLAUSE_MIN_WORDS = 5"),
    Mutant(
        "clause-min-inclusive",
        SPLIT,
        "_word_count(text[last.start : last.end]) < CLAUSE_MIN_WORDS",
        "_word_count(text[last.start : last.end]) <= CLAUSE_MIN_WORDS",
    ),
    Mutant(
        "final-merge-off",
        SPLIT,
        "if len(merged) > 1 and _word_count(text[merged[-1].start : merged[-1].end]) < CLAUSE",
        "if False and _word_count(text[merged[-1].start : merged[-1].end]) < CLAUSE",
    ),
    Mutant(
        "final-merge-inclusive",
        SPLIT,
        "_word_count(text[merged[-1].start : merged[-1].end]) < CLAUSE_MIN_WORDS",
        "_word_count(text[merged[-1].start : merged[-1].end]) <= CLAUSE_MIN_WORDS",
    ),
    Mutant(
        "merge-while-fits-strict", SPLIT, "if joined <= max_words or", "if joined < max_words or"
    ),
    Mutant(
        "even-chunks-count",
        SPLIT,
        "count = -(-len(words) // max_words)",
        "count = 1 + len(words) // max_words",
    ),
    Mutant("opener-reach-0", SPLIT, "OPENER_REACH = 6", "OPENER_REACH = 0"),
    Mutant(
        "window-fit-strict",
        SPLIT,
        "total + sizes[j] <= max_tokens",
        "total + sizes[j] < max_tokens",
    ),
    Mutant("window-no-overlap", SPLIT, "i = max(i + 1, j - overlap)", "i = j"),
    # qa/text/normalize.py
    Mutant("script-tie-latin", NORM, "arabic >= latin", "arabic > latin"),
    Mutant(
        "stem-prefix-min-2", NORM, "len(token) - len(prefix) >= 3", "len(token) - len(prefix) >= 2"
    ),
    Mutant(
        "stem-prefix-min-4", NORM, "len(token) - len(prefix) >= 3", "len(token) - len(prefix) >= 4"
    ),
    Mutant(
        "stem-suffix-min-2", NORM, "len(token) - len(suffix) >= 3", "len(token) - len(suffix) >= 2"
    ),
    Mutant(
        "stem-suffix-min-4", NORM, "len(token) - len(suffix) >= 3", "len(token) - len(suffix) >= 4"
    ),
    Mutant(
        "stem-cuts-names",
        NORM,
        'if suffix == "ان" and (not token.endswith(_DUAL) or token.endswith(_STAN)):',
        "if False:",
    ),
    Mutant("stem-cuts-stan", NORM, " or token.endswith(_STAN))", ")"),
    Mutant("teh-marbuta-kept", NORM, '"ة": "ه",', ""),
    Mutant("digits-kept", NORM, "chr(0x0660 + d): str(d)", "chr(0x0660 + d): chr(0x0660 + d)"),
    Mutant("stopwords-kept", NORM, "if drop_stopwords and (", "if False and ("),
    # qa/text/chunk.py
    Mutant("title-cost-fixed-sign", CHUNK, '"")) - fixed if title', '"")) + fixed if title'),
    Mutant("title-cost-added", CHUNK, "window - title_cost", "window + title_cost"),
    Mutant("min-window-63", CHUNK, "MIN_WINDOW_TOKENS = 64", "MIN_WINDOW_TOKENS = 63"),
    Mutant("min-window-65", CHUNK, "MIN_WINDOW_TOKENS = 64", "MIN_WINDOW_TOKENS = 65"),
    Mutant("title-words-23", CHUNK, "TITLE_CONTEXT_WORDS = 24", "TITLE_CONTEXT_WORDS = 23"),
    # qa/retrieve/fusion.py
    Mutant("lexical-weight-any-term", FUSION, "document_frequency.get(t, 0) > 0", "True"),
    Mutant("standardise-no-centre", FUSION, "(values - values.mean()) / spread", "values / spread"),
    Mutant("standardise-no-guard", FUSION, "if spread <= 1e-9:", "if spread < 0:"),
    Mutant("fuse-unweighted", FUSION, "fused += weight * standardise", "fused += standardise"),
    Mutant("fuse-zero-weight-used", FUSION, "if weight > 0:", "if weight >= 0:"),
    Mutant("fuse-accepts-no-weight", FUSION, "if total <= 0:", "if total < 0:"),
    # qa/answer/extractive.py
    Mutant("passage-feature-inverted", EXTRACT, "candidate.score / lead", "lead / candidate.score"),
    Mutant(
        "overlap-prev-own",
        EXTRACT,
        "overlaps[j - 1] if j > 0 else 0.0",
        "overlaps[j] if j > 0 else 0.0",
    ),
    Mutant(
        "cos-prev-own",
        EXTRACT,
        "float(cos[j - 1]) if j > 0 else float(cos[j])",
        "float(cos[j]) if j > 0 else float(cos[j])",
    ),
    Mutant("clause-rel-sign", EXTRACT, "float(cos[j]) - best", "best - float(cos[j])"),
    Mutant("novelty-unweighted", EXTRACT, "novel * lexical", "novel"),
    Mutant(
        "number-ignores-question", EXTRACT, "1.0 if numeric and has_number", "1.0 if has_number"
    ),
    Mutant(
        "all-passages-read",
        EXTRACT,
        "top = retrieval.candidates[:passages]",
        "top = retrieval.candidates",
    ),
    Mutant("idf-ignored", EXTRACT, "found = sum(idf.get(t, 1.0)", "found = sum(1.0"),
    Mutant(
        "cross-weights-unused",
        EXTRACT,
        "return self.cross_script if cross_script else self.same_script",
        "return self.same_script",
    ),
    Mutant("grow-cap-off-by-one", EXTRACT, ".split()) <= max_words", ".split()) < max_words"),
    Mutant(
        "grow-prefers-worse",
        EXTRACT,
        "_, first, last = max(fitting)",
        "_, first, last = min(fitting)",
    ),
    Mutant("margin-is-top-score", EXTRACT, "float(ordered[0] - ordered[1])", "float(ordered[0])"),
    # qa/answer/abstain.py
    Mutant("same-threshold-0", ABSTAIN, "threshold: float = 0.25", "threshold: float = 0.0"),
    Mutant(
        "thresholds-swapped",
        ABSTAIN,
        "threshold: float = 0.25\n    cross_threshold: float = 0.4",
        "threshold: float = 0.4\n    cross_threshold: float = 0.25",
    ),
    Mutant(
        "cut-swapped",
        ABSTAIN,
        "return self.cross_threshold if cross_script else self.threshold",
        "return self.threshold if cross_script else self.cross_threshold",
    ),
    Mutant(
        "probability-model-swapped",
        ABSTAIN,
        "model = self.cross_script if cross_script else self.same_script",
        "model = self.same_script if cross_script else self.cross_script",
    ),
    Mutant(
        "background-sign",
        ABSTAIN,
        "choice.clause_cos - background",
        "choice.clause_cos + background",
    ),
    Mutant(
        "dense-of-any-passage",
        ABSTAIN,
        "retrieval.candidates[0].dense",
        "max(c.dense for c in retrieval.candidates)",
    ),
    Mutant("logistic-unclamped", ABSTAIN, "-max(-50.0, min(50.0, z))", "-z"),
    # qa/answer/qtype.py
    Mutant("month-substrings", QTYPE, r'r"(?<!\w)و?(يناير', r'r"(يناير'),
    Mutant("accents-kept", QTYPE, "if not unicodedata.combining(c)", "if True"),
    Mutant(
        "inverted-marks-kept",
        QTYPE,
        "normalize(question).translate(_INVERTED_MARKS)",
        "normalize(question)",
    ),
    Mutant("digits-not-numbers", QTYPE, "_DIGIT.search(folded) or ", ""),
)


def _copy_tree(target: Path) -> None:
    for name in ("qa", "tests", "seeds", "eval"):
        shutil.copytree(
            ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy2(ROOT / "pyproject.toml", target / "pyproject.toml")


def _run_tests(tree: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *FAST_TESTS]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=600)
    return done.returncode


def main(selected: list[str]) -> int:
    """Run the chosen mutants; exit 1 when one survives or no longer applies."""
    mutants = [m for m in MUTANTS if not selected or any(s in m.name for s in selected)]
    with tempfile.TemporaryDirectory(prefix="qa-mutation-") as folder:
        tree = Path(folder)
        _copy_tree(tree)
        if _run_tests(tree) != 0:
            print("the fast tests fail without any mutant: fix them first")
            return 2
        killed: list[str] = []
        survived: list[str] = []
        stale: list[str] = []
        for mutant in mutants:
            path = tree / mutant.path
            original = path.read_text(encoding="utf-8")
            if original.count(mutant.old) != 1:
                stale.append(mutant.name)
                print(f"{'STALE':9} {mutant.name} ({mutant.path}: text not found exactly once)")
                continue
            path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
            started = time.perf_counter()
            try:
                code = _run_tests(tree)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = "killed" if code != 0 else "SURVIVED"
            (killed if code != 0 else survived).append(mutant.name)
            print(f"{verdict:9} {mutant.name} ({time.perf_counter() - started:.1f} s)")
    applied = len(killed) + len(survived)
    score = len(killed) / applied if applied else 0.0
    print(f"\nmutation score: {len(killed)}/{applied} killed ({score:.0%})", end="")
    print(f"; stale: {', '.join(stale)}" if stale else "")
    if survived:
        print(f"survivors: {', '.join(survived)}")
    return 0 if not survived and not stale else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
