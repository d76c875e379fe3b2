# One entry point for people and CI. `make run` serves the seeds; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
INDEX_DIR ?= index
export HF_HUB_OFFLINE ?= 1

# torch is pinned to the CPU build on this machine's disk: an unpinned torch pulls CUDA (GBs).
TORCH := torch==2.13.0
# What `make run` installs besides [project] dependencies: the default engines. The test tools
# (the `test` extra: browsers, fuzzers, Milvus Lite, linters) come only with `make test`.
RUN_EXTRAS := st

.PHONY: setup setup-test run index serve test test-all check lint types unit mutation chromium bench bench-bars clean reader-data train-reader train-reader-arcd

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[$(RUN_EXTRAS)]"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[test]"
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.test-installed

# Re-index when a seed file changed since the last build (or the index is missing).
$(INDEX_DIR)/.seeds-indexed: $(wildcard seeds/*) | setup
	QA_INDEX_DIR=$(INDEX_DIR) $(BIN)/qa index seeds
	touch $@

index: $(INDEX_DIR)/.seeds-indexed

serve: setup
	QA_INDEX_DIR=$(INDEX_DIR) $(BIN)/qa serve --host $(HOST) --port $(PORT)

run: index serve

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used):
# installed here when missing and apt-get can run, else one line saying why and a failure.
chromium:
	@if [ "$${QA_SKIP_BROWSER:-}" = 1 ] || command -v chromium >/dev/null \
	  || command -v chromium-browser >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "make test: the browser tests need Chromium; no apt-get here to install it: install it, or set QA_SKIP_BROWSER=1" >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update && apt-get install -y --no-install-recommends chromium \
	  || { echo "make test: apt-get could not install chromium (see above)" >&2; exit 1; }; \
	elif sudo -n true 2>/dev/null; then \
	  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium \
	  || { echo "make test: apt-get could not install chromium (see above)" >&2; exit 1; }; \
	else \
	  echo "make test: the browser tests need Chromium; installing it needs root: sudo apt-get install chromium, or set QA_SKIP_BROWSER=1" >&2; exit 1; \
	fi

lint: setup-test
	$(BIN)/ruff check qa tests bench
	$(BIN)/ruff format --check qa tests bench

types: setup-test
	$(BIN)/mypy qa tests

# Fast tests only: no real model, no subprocess or server (seconds).
unit: setup-test
	$(BIN)/python -m pytest -m "not integration and not slow"

# Every test: the real model, servers, browsers, subprocesses (minutes).
test-all: setup-test
	$(BIN)/python -m pytest

check: lint types test-all

test: chromium check

# Planted faults in qa/text, qa/retrieve/fusion.py and qa/answer must fail the unit tests
# (a few minutes; not part of `make test`).
mutation: setup-test
	$(BIN)/python tests/mutation.py

# Benchmarks are not tests: they print a table and write bench/results/*.json (txtai beside us).
$(VENV)/.bench-installed: pyproject.toml | setup
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Issue 15's bars in one table: qa vs txtai on the bundled multilingual-e5-small (alternating
# rounds), and `qa serve` indexing through its API with the reader off and on (memory, 1 vs 8).
bench-bars: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py --only txtai-e5,memory --rounds 3 $(BENCH_ARGS)

# The span reader (qa/reader): data from pinned public sets, then a time-budgeted CPU training
# run that writes qa/reader/weights/ (adapter, manifest, metrics). READER_ARGS e.g. --resume.
READER_DATA ?= data/reader
reader-data: setup
	$(BIN)/qa reader data --out $(READER_DATA) $(READER_DATA_ARGS)

train-reader: setup
	@test -f $(READER_DATA)/train.jsonl || $(MAKE) reader-data
	$(BIN)/qa reader train --data $(READER_DATA) $(READER_ARGS)

# The shipped weights' second run (qa/reader/DATA.md): from the first run's weights, READER_INIT
# (by default taken from git at 3a4302a, the last commit that shipped them), on ARCD's training
# articles with some of the first mix replayed.
READER_INIT ?= runs/reader-first
ARCD_MIX = {"arcd-train:ar": null, "arcd-train-xl:en": null, "arcd-train-xl:fr": null, \
  "arcd-train-xl:de": null, "tydiqa-goldp-ar-dev:ar": 300, "xquad:ar": 250, "xquad:en": 250, \
  "xquad:other": 250, "tydiqa-goldp-en-train:en": 100}
train-reader-arcd: setup
	@test -f $(READER_DATA)/train.jsonl || $(MAKE) reader-data
	@test -f $(READER_INIT)/adapter.safetensors || { mkdir -p $(READER_INIT) && \
	  for f in adapter.safetensors manifest.json metrics.json; do \
	    git show 3a4302a:qa/reader/weights/$$f > $(READER_INIT)/$$f || exit 1; done; }
	$(BIN)/qa reader train --data $(READER_DATA) --init-from $(READER_INIT) --budget-minutes 40 \
	  --epochs 20 --lr 3e-4 --workers 2 --eval-limit 240 --mix '$(ARCD_MIX)' $(READER_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
