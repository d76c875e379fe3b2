# One entry point for people and CI. `make run` serves the seeds; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
INDEX_DIR ?= index
export HF_HUB_OFFLINE ?= 1

.PHONY: setup run index serve test test-all check lint types unit mutation bench clean

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
	$(BIN)/mypy qa tests

# Fast tests only: no real model, no subprocess or server (seconds).
unit: setup
	$(BIN)/python -m pytest -m "not integration and not slow"

# Every test: the real model, servers, browsers, subprocesses (minutes).
test-all: setup
	$(BIN)/python -m pytest

check: lint types test-all

test: check

# Planted faults in qa/text, qa/retrieve/fusion.py and qa/answer must fail the unit tests
# (a few minutes; not part of `make test`).
mutation: setup
	$(BIN)/python tests/mutation.py

# Benchmarks are not tests: they print a table and write bench/results/*.json (txtai beside us).
$(VENV)/.bench-installed: pyproject.toml | setup
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
