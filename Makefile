# The two commands: `make run` (embedded default) and `make test` (real PostgreSQL, RabbitMQ, Redis).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11: python3.11 if there is one, else python3 (checked below).
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# `make test` talks to the real services; override any of these from the environment.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/shop
TEST_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
TEST_CACHE_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=

TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	CACHE_URL=$(TEST_CACHE_URL) DEBUG=true LOG_LEVEL=WARNING

.PHONY: help venv install install-dev run migrate demo worker beat web test lint format \
	bench-bus bench-relay bench-auth bench-catalog bench-payments bench-checkout bench-split clean

help:
	@echo "make run    - set up (venv, install, migrate, demo data) and serve API + admin on :$(PORT)"
	@echo "make test   - lint, import contracts, migration check and the test suite on the real services"
	@echo "make worker / beat / web - the real topology's processes (set DATABASE_URL, CELERY_BROKER_URL, CACHE_URL)"
	@echo "make bench-bus / bench-relay / bench-auth / bench-catalog / bench-payments / bench-checkout / bench-split - benchmarks (print figures and ratios)"
	@echo "make stub-provider - a fake provider on :$${STUB_PORT:-9100} to steer outbound failures by hand"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
		|| { echo "Python 3.11 is required: '$(PYTHON)' is missing or another version (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $(VENV)/.installed $@

venv: $(PY)
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/  (API under /api/v1/, docs at /api/docs/, admin at /admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# gunicorn's widest request line (8190 bytes), so an over-long query reaches the API and gets its 400
# problem+json; beyond that (and for over-large headers) gunicorn answers a plain-text 400/431 itself.
web: install
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-2} --access-logfile - \
		--limit-request-line 8190

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-2}

beat: install
	$(VENV)/bin/celery -A config beat --loglevel=INFO --schedule=$${BEAT_SCHEDULE_FILE:-/tmp/shop-celerybeat-schedule}

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The context map and event catalogue in README.md are generated from the code; this refreshes them.
.PHONY: docs
docs: install
	$(PY) manage.py contexts --write-readme
	$(PY) manage.py events --write-readme

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Model changes without a migration fail the migration check (it needs no database, so SQLite in memory).
test: install-dev lint
	DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

bench-bus: install-dev
	$(TEST_ENV) LOG_LEVEL=WARNING $(PY) bench/bench_bus.py

bench-relay: install-dev
	$(TEST_ENV) $(PY) bench/bench_relay.py

bench-auth: install-dev
	$(TEST_ENV) $(PY) bench/bench_auth.py

bench-catalog: install-dev
	$(TEST_ENV) $(PY) bench/bench_catalog.py

bench-payments: install-dev
	$(TEST_ENV) $(PY) bench/bench_payments.py

bench-checkout: install-dev
	$(TEST_ENV) $(PY) bench/bench_checkout.py

bench-split: install-dev
	$(TEST_ENV) $(PY) bench/bench_split.py

# A fake provider on loopback for trying outbound failure paths by hand (integration/resilience/stub.py).
.PHONY: stub-provider
stub-provider: install
	$(PY) -m integration.resilience.stub --host $(HOST) --port $${STUB_PORT:-9100}

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache
