# Every target creates the virtualenv in .venv on first use; PYTHON picks the interpreter.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Run the example post-live export DAG against the embedded fake Voilà server.
demo: venv
	$(BIN)/python scripts/demo.py

## Lint, type-check and run the whole test suite.
test: lint
	$(BIN)/python -m pytest -ra

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Run the benchmarks and rewrite docs/benchmarks.md with their figures.
bench: venv
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
