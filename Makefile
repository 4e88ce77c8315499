# Tessera developer tasks; `make` lists them. Everything runs from .venv, which is built
# from requirements.lock (hash-checked), and the local PostgreSQL/Redis come from wheels in
# it (scripts/devservices/), so a fresh machine needs only python3 and make.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
TOOLS := .tessera/tools
UV_VERSION := 0.13.9
PYTEST_ARGS ?=
LOCK_ARGS ?=
BENCH_ARGS ?=
LINT_PATHS := $(wildcard app tests benchmarks scripts migrations)
DEVSERVICES := $(BIN)/python -m scripts.devservices

.PHONY: help venv lock lint run test bench clean-data

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

venv: $(STAMP) ## create .venv from requirements.lock (again only when it or pyproject.toml change)

# A changed lock gets a brand-new venv (no stale packages); a changed pyproject.toml only
# re-installs the project. The project is installed without build isolation, using the
# setuptools pinned in the lock, so nothing unpinned is downloaded.
$(STAMP): requirements.lock pyproject.toml
	@if [ ! -x $(BIN)/python ] || [ requirements.lock -nt $(STAMP) ]; then \
		echo "creating $(VENV) from requirements.lock"; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

lock: ## re-pin requirements.lock from pyproject.toml (+dev) with uv; LOCK_ARGS=--upgrade for newest
	@[ -x $(TOOLS)/bin/uv ] || { $(PYTHON) -m venv $(TOOLS) && \
		$(TOOLS)/bin/pip install -q uv==$(UV_VERSION); }
	$(TOOLS)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command "make lock" --quiet $(LOCK_ARGS) -o requirements.lock

lint: venv ## ruff check, ruff format --check, mypy app
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(if $(wildcard app),$(BIN)/mypy app)

run: venv ## PostgreSQL + Redis (data in .tessera/), migrate, ensure admin, uvicorn on PORT (8000) + arq
	$(DEVSERVICES) run

test: venv lint ## lint, then pytest (PYTEST_ARGS=...) against throwaway PostgreSQL + Redis
	$(DEVSERVICES) exec -- $(BIN)/pytest $(PYTEST_ARGS)

bench: venv ## run every benchmarks/bench_*.py (BENCH_ARGS=--quick) on throwaway servers; fails if any did
	$(DEVSERVICES) exec -- bash -c 'failed=(); for f in benchmarks/bench_*.py; do \
		[ -e "$$f" ] || continue; echo "== $$f"; \
		$(BIN)/python "$$f" $(BENCH_ARGS) || failed+=("$$f"); echo; done; \
		if (( $${#failed[@]} )); then echo "make bench: failed: $${failed[*]}"; exit 1; fi; \
		echo "make bench: no benchmark failed"'

clean-data: ## stop servers left running from .tessera/ and delete it (all local data!)
	$(PYTHON) -m scripts.devservices clean
