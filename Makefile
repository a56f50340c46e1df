# serverless-kb: `make run` sets up, ingests and serves; `make test` sets up and tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run ingest stats test lint bench chaos eval clean

install: $(STAMP)

# torch first: the local CPU wheel satisfies sentence-transformers, so pip never pulls CUDA builds.
# Then the embedding model is exported to ONNX once (verified), so no command imports torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ingest.onnx
	touch $(STAMP)

ingest: install
	$(BIN)/kb ingest

stats: install
	$(BIN)/kb stats

run: install
	$(BIN)/kb ingest
	$(BIN)/kb serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m evals.bench

# The chaos suite (also part of `make test`), then load figures against the kb/ index.
chaos: ingest
	$(BIN)/python -m pytest tests/chaos
	$(BIN)/python -m evals.bench --load-only

eval: install
	$(BIN)/kb ingest
	$(BIN)/kb eval

clean:
	rm -rf .kb-index tests/artifacts
