# nnrun: `make demo` trains the XOR example and predicts; `make test` runs the whole suite.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test install lint catalog clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's dependencies change. The mlflow extra is optional for users; installed here
# so that `make test` tests MLflow tracking.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,mlflow,jax]'  # mlflow, jax: its tests run in make test (+380 MB, ~30 s)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nnrun train configs/xor.yaml
	$(BIN)/nnrun predict "$$(ls -td runs/xor runs/xor-* 2>/dev/null | head -n 1)" --input data/xor.csv --keep '*'

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check nnrun tests tools

# Regenerate nnrun/config/keras_catalog.json after upgrading Keras.
catalog: $(STAMP)
	$(BIN)/python tools/gen_catalog.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Benchmarks against the plain Keras scripts nnrun replaces: writes bench/results.json and docs/benchmarks.md.
# About 45 min on 2 busy cores for sections 1-7, plus about 35-40 min (estimated) for "streaming" and "backends";
# `make bench BENCH_ARGS=--quick` for a smoke run (see bench/run.py).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Mutation testing: each mutant in tools/mutants.py breaks one promise in a copy of the repo; its tests must fail.
# Writes docs/mutants.md (the kill table). About 30 min on 2 busy cores; not part of `make test`.
.PHONY: mutants
mutants: $(STAMP)
	$(BIN)/python tools/mutants.py $(MUTANTS_ARGS)

# Only the "backends" section of make bench (nnrun on JAX vs TensorFlow vs the plain scripts): an alias.
.PHONY: bench-jax
bench-jax: $(STAMP)
	$(BIN)/python bench/run.py --only backends $(BENCH_ARGS)
