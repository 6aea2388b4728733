# The README's two commands are `make run` and `make test`; on a fresh clone they are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= workbench.db
PORT ?= 8501

.PHONY: run stop test lint docs bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,spark,docs]'
	touch $@

run: $(VENV)/.installed
	@if [ "$$($(BIN)/workbench --db $(DB) logs --json | tr -d '[:space:]')" = "[]" ]; then \
		$(BIN)/workbench --db $(DB) demo; \
	fi
	@echo "Workbench on http://localhost:$(PORT) (Ctrl-C, or make stop PORT=$(PORT), stops it)"
	@echo $$$$ > .workbench-$(PORT).pid; exec $(BIN)/workbench --db $(DB) serve --port $(PORT)

# Stop the app `make run` started on $(PORT), from another terminal or after `make run &`.
stop:
	@if [ -f .workbench-$(PORT).pid ] && kill $$(cat .workbench-$(PORT).pid) 2>/dev/null; then \
		echo "stopped the app on port $(PORT)"; \
	else \
		echo "no app of make run on port $(PORT)"; \
	fi
	@rm -f .workbench-$(PORT).pid

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The reference pages in docs/, built strictly: a broken link or anchor fails the build.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet --strict

test: lint docs
	$(BIN)/pytest

# Each benchmark's output is kept in benchmarks/out/NAME.txt, headed by its command, the
# commit and the time; benchmarks/README.md is then written from those outputs.
BENCHMARKS := import_csv import_xes memory projections activities timetravel pages cli query browser scale spark mining rules predictions backends
bench: $(VENV)/.installed-dev
	mkdir -p benchmarks/out
	for name in $(BENCHMARKS); do \
		{ echo "$$ python benchmarks/$$name.py   # commit $$(git rev-parse --short HEAD 2>/dev/null), $$(date -u +%Y-%m-%dT%H:%MZ)"; \
		  $(BIN)/python benchmarks/$$name.py; } > benchmarks/out/$$name.txt 2>&1 || exit 1; \
		cat benchmarks/out/$$name.txt; \
	done
	$(BIN)/python benchmarks/readme.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
