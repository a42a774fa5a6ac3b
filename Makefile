# TrocheLog. Quickstart: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format migrate messages clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "TrocheLog needs Python 3.11 or newer (set PYTHON=python3.11)"; exit 1)
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app.cli bootstrap
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --proxy-headers --no-access-log

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Measured, never asserted: prints the figures and records them in docs/benchmarks.md.
# BENCH_DATABASE_URL=postgresql+psycopg://… measures on PostgreSQL.
bench: $(STAMP)
	$(BIN)/python -m bench.push_fanout
	$(BIN)/python -m bench.exports

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/python -m app.cli migrate

# Extract every user-facing string into the translation template.
messages: $(STAMP)
	mkdir -p app/locale
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -o app/locale/messages.pot app

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
