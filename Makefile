# The README's two commands are `make run` and `make test`; on a fresh clone they are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= workbench.db
PORT ?= 8501

.PHONY: run test lint bench serve clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

run: $(VENV)/.installed
	@if [ "$$($(BIN)/workbench --db $(DB) logs --json | tr -d '[:space:]')" = "[]" ]; then \
		$(BIN)/workbench --db $(DB) demo; \
	fi
	$(BIN)/workbench --db $(DB) serve --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/import_csv.py
	$(BIN)/python benchmarks/import_xes.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/projections.py
	$(BIN)/python benchmarks/timetravel.py
	$(BIN)/python benchmarks/pages.py
	$(BIN)/python benchmarks/spark.py
	$(BIN)/python benchmarks/mining.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
