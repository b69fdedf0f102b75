# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

TOOLS := $(VENV)/.build-tools
CHROMIUM := /usr/bin/chromium
# Info-ZIP's zip, to test archives as users make them
ZIP := /usr/bin/zip

# the JupyterLab extension: TypeScript in labextension/, built into the Python package
LABEXT := jupyter_pyrunner/labextension/static/style.js
LAB_SOURCES := $(shell find labextension/src labextension/style -type f) \
	labextension/package.json labextension/yarn.lock labextension/tsconfig.json \
	labextension/schema/plugin.json
# jlpm and `jupyter labextension build` come from JupyterLab in the venv
LAB_ENV := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: demo test stress lint bench clean labextension docs binder-check

# the venv and what building the package needs (JupyterLab brings jlpm, the extension builder)
$(TOOLS):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet hatchling "hatch-jupyter-builder>=0.9" editables "jupyterlab>=4,<5" \
		"setuptools>=70.1" wheel
	touch $(TOOLS)

$(LABEXT): $(TOOLS) $(LAB_SOURCES)
	cd labextension && $(LAB_ENV) jlpm install --immutable
	cd labextension && $(LAB_ENV) jlpm build:prod

labextension: $(LABEXT)

# the extension is built first, so the editable install below finds it and builds nothing
$(STAMP): pyproject.toml $(TOOLS) | $(LABEXT)
	$(LAB_ENV) $(BIN)/python -m pip install --quiet --no-build-isolation -e ".[dev]"
	$(LAB_ENV) jupyter labextension develop --overwrite .
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

$(ZIP):
	apt-get update -qq && apt-get install -y -qq zip

## test: lint, type-check and run the whole test suite (Python, TypeScript units, browser)
test: $(STAMP) $(LABEXT) $(CHROMIUM) $(ZIP) lint
	cd labextension && $(LAB_ENV) jlpm test
	$(BIN)/python -m pytest

## stress: the long reliability tests (fuzzing at length, load, repeated faults); see
## docs/reliability.md. `make test` runs the fast part of tests/reliability only.
stress: $(STAMP) $(ZIP)
	$(BIN)/python -m pytest -m stress tests/reliability

## binder-check: repo2docker reads binder/ from a clean clone of the last commit; its install
## steps are replayed in a fresh environment, where the demo notebooks run and Lab opens in Chromium
binder-check: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -m binder tests/binder

## docs: the documentation site, in docs/_build/html (warnings and broken references are errors)
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs docs/_build/html

lint: $(STAMP) $(LABEXT)
	$(BIN)/ruff check jupyter_pyrunner tests benchmarks examples binder docs/conf.py docs/_ext
	$(BIN)/ruff format --check jupyter_pyrunner tests benchmarks examples binder docs/conf.py docs/_ext
	$(BIN)/mypy
	cd labextension && $(LAB_ENV) jlpm lint

## bench: run every benchmark (figures go to docs/benchmarks.md by hand)
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache jupyter_pyrunner/labextension \
		labextension/node_modules labextension/lib labextension/tsconfig.tsbuildinfo
