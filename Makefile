# TrocheLog. Quickstart: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format migrate messages clean audit-verify security-report

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
	# X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS (app/config.py; env or .env).
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --proxy-headers --no-access-log \
		--forwarded-allow-ips "$$($(BIN)/python -c 'from app.config import settings; print(settings.forwarded_allow_ips)')"

# pytest-xdist: one worker per core, at most four; each worker has its own database (a SQLite
# file, or a PostgreSQL schema) and its own live server (tests/conftest.py). TEST_WORKERS=0 runs
# in one process (for pdb, or -x).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

# Measured, never asserted: every benchmark on SQLite, then on PostgreSQL (BENCH_POSTGRES,
# default the local server; BENCH_DATABASES=sqlite for SQLite only), each recording its figures
# in docs/benchmarks.md (bench/__main__.py). One script: .venv/bin/python -m bench.load
# The security figures (access matrix, fuzzing, hostile inputs, log canaries, crash safety …),
# measured by the tests with SECURITY_FULL=1 and recorded in docs/security.md; on PostgreSQL too
# when TEST_DATABASE_URL=postgresql+psycopg://… is set.
security-report: $(STAMP)
	$(BIN)/python -m bench.security_report

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/python -m app.cli migrate

# Check the audit trail's hash chain; exits 1 and names the first broken entry.
audit-verify: $(STAMP)
	$(BIN)/python -m app.cli audit-verify

# Extract every user-facing string into the translation template.
messages: $(STAMP)
	mkdir -p app/locale
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 -k N_ -o app/locale/messages.pot app

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
