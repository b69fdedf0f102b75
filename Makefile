# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# bytecode for our own sources: with PYTHONDONTWRITEBYTECODE set, nothing else writes it
	$(BIN)/python -m compileall -q jupyter_pyrunner
	touch $(STAMP)

## demo: set up .venv and run the numpy + matplotlib example through the CLI
demo: $(STAMP)
	$(BIN)/pyrunner run examples/plot-sine
	@echo
	$(BIN)/pyrunner outputs last

# the browser tests drive Debian's Chromium (never a downloaded browser)
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

## test: lint, type-check and run the whole test suite
test: $(STAMP) $(CHROMIUM) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check jupyter_pyrunner tests benchmarks examples
	$(BIN)/ruff format --check jupyter_pyrunner tests benchmarks examples
	$(BIN)/mypy

## bench: run every benchmark (figures go to docs/benchmarks.md by hand)
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
