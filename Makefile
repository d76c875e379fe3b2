# One entry point for people and CI. `make run` serves the seeds; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
INDEX_DIR ?= index
export HF_HUB_OFFLINE ?= 1

.PHONY: setup run index serve test check lint types unit bench clean reader-data train-reader

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# torch is pinned to the CPU build on this machine's disk: an unpinned torch pulls CUDA (GBs).
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# Re-index when a seed file changed since the last build (or the index is missing).
$(INDEX_DIR)/.seeds-indexed: $(wildcard seeds/*) | setup
	QA_INDEX_DIR=$(INDEX_DIR) $(BIN)/qa index seeds
	touch $@

index: $(INDEX_DIR)/.seeds-indexed

serve: setup
	QA_INDEX_DIR=$(INDEX_DIR) $(BIN)/qa serve --host $(HOST) --port $(PORT)

run: index serve

lint: setup
	$(BIN)/ruff check qa tests bench
	$(BIN)/ruff format --check qa tests bench

types: setup
	$(BIN)/mypy qa

unit: setup
	$(BIN)/python -m pytest

check: lint types unit

test: check

# Benchmarks are not tests: they print a table and write bench/results/*.json (txtai beside us).
$(VENV)/.bench-installed: pyproject.toml | setup
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The span reader (qa/reader): data from pinned public sets, then a time-budgeted CPU training
# run that writes qa/reader/weights/ (adapter, manifest, metrics). READER_ARGS e.g. --resume.
READER_DATA ?= data/reader
reader-data: setup
	$(BIN)/qa reader data --out $(READER_DATA) $(READER_DATA_ARGS)

train-reader: setup
	@test -f $(READER_DATA)/train.jsonl || $(MAKE) reader-data
	$(BIN)/qa reader train --data $(READER_DATA) $(READER_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
