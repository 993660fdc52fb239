# Two commands for a new machine: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest pytest-no-fastpaths docs docs-serve bench bench-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[demo,postgres,mysql]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/uvicorn demo.app:app --host 127.0.0.1 --port 8000

lint: $(STAMP_DEV)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV)
	$(BIN)/pytest

# The tests of the per-request reads once more with the fast paths off (src/fastapi_userkit/
# _fast_paths.py): the public-API fallback must give the same results on every database. The
# main run measures coverage; this one does not (`make test` runs it after pytest).
FASTPATH_TESTS := tests/db tests/compat tests/strategies/test_storage.py tests/router/test_auth.py tests/sessions/test_store.py
pytest-no-fastpaths: $(STAMP_DEV)
	USERKIT_FAST_PATHS=0 $(BIN)/pytest $(FASTPATH_TESTS) -q --no-cov

test: lint typecheck pytest pytest-no-fastpaths docs

# The documentation site (mkdocs.yml, docs/): --strict turns broken links and references into errors.
DOCS_ENV := NO_MKDOCS_2_WARNING=1
docs: $(STAMP_DEV)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict

docs-serve: $(STAMP_DEV)
	$(DOCS_ENV) $(BIN)/mkdocs serve --strict

# Side-by-side benchmark against FastAPI Users (bench/README.md); e.g. `make bench BENCH_ARGS=--quick`.
bench: $(STAMP_DEV)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The full run, exiting 1 when a gate target of issue 23 is missed (bench/README.md, "Targets").
bench-check: $(STAMP_DEV)
	$(BIN)/python -m bench --check $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov dist build site
