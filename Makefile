# Two commands do all set-up on a fresh machine:
#   make demo   — installs guichet in .venv and runs the product on the embedded defaults
#   make test   — installs the test tools and services it needs, then lint, types and tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo serve test lint typecheck pytest services bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/guichet demo

serve: $(STAMP)
	$(BIN)/guichet serve

services:
	bash infra/local/ensure-services.sh

lint: $(DEVSTAMP)
	$(BIN)/ruff check src functions workers tests benchmarks
	$(BIN)/ruff format --check src functions workers tests benchmarks

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

pytest: $(DEVSTAMP) services
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/retrieval_quality.py
	$(BIN)/python benchmarks/ingestion_throughput.py
	$(BIN)/python benchmarks/retrieval_latency.py
	$(BIN)/python benchmarks/corpus_at_scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
