# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED_ARGS ?=
# The port of `make run` (make run PORT=8100); e-mail links follow it unless .env sets
# PORTAL_BASE_URL.
PORT ?= 8000

# Where `make test` finds its services (the defaults of a developer machine and of CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/privacyportal
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
# Test processes: three on two cores keep both busy while tests wait on PostgreSQL and Chromium
# (measured: 4 min 36 s against 5 min 51 s with two).
TEST_WORKERS ?= 3
TEST_ENV := DJANGO_ENV_FILE=none DJANGO_SECRET_KEY=test-only-not-secret DJANGO_DEBUG=false \
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	TEST_REDIS_URL=$(TEST_BROKER_URL) DJANGO_SECURE_COOKIES=false \
	DJANGO_SECURE_SSL_REDIRECT=false EMAIL_URL=consolemail:// DATABASE_CONN_MAX_AGE=0 \
	FIELD_ENCRYPTION_KEYS=u-b8A7wpS1LgPN2znKoRGQxCSm3XO24Q7qHFF-IWr0U= \
	BLIND_INDEX_KEY=test-only-blind-index-key-not-a-secret \
	DELETION_CERTIFICATE_KEYS=yrVgsX0RdHPAoTei1d0-yXGoXmfhIJgfM1xwpOd2Ye4 \
	SMS_BACKEND=accounts.sms.LocmemSmsBackend

.PHONY: run test bench lint format migrate seed services clean env-file

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# A local .env for `make run`: debug on, random secrets, SQLite and the embedded broker.
# An older .env without encryption keys gets them appended.
KEYGEN = $(BIN)/python scripts/keygen.py fernet
TOKEN = $(PYTHON) scripts/keygen.py token
SIGNKEYGEN = $(BIN)/python scripts/keygen.py ed25519
env-file: $(VENV)/.installed
	@test -f .env || { echo "Creating .env for local use (see .env.example for every setting)"; \
	  printf 'DJANGO_DEBUG=true\nDJANGO_SECRET_KEY="%s"\n' "$$($(TOKEN))" > .env; }
	@grep -q '^FIELD_ENCRYPTION_KEYS=' .env || printf 'FIELD_ENCRYPTION_KEYS=%s\n' "$$($(KEYGEN))" >> .env
	@grep -q '^BLIND_INDEX_KEY=' .env || printf 'BLIND_INDEX_KEY=%s\n' "$$($(TOKEN))" >> .env
	@grep -q '^DELETION_CERTIFICATE_KEYS=' .env || printf 'DELETION_CERTIFICATE_KEYS=%s\n' "$$($(SIGNKEYGEN))" >> .env

migrate: $(VENV)/.installed env-file
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py encrypt_attachments

seed: migrate
	$(BIN)/python manage.py seed_demo $(SEED_ARGS)

run: seed
	@echo "Starting on http://127.0.0.1:$(PORT)/ (Ctrl-C stops web, worker and beat)"
	PORTAL_PORT=$(PORT) $(BIN)/honcho start -f Procfile

services:
	@scripts/ensure-services.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.installed-dev services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(TEST_ENV) $(BIN)/python manage.py bench --scale smoke --json var/bench-smoke.json

# The portal against its floors (docs/benchmarks.md), on a database of its own beside the test
# database (<name>_bench, dropped afterwards): make bench SCALE=smoke|medium|large. Writes
# var/bench-<scale>.json and, for medium and large, the scale's table in docs/benchmarks.md;
# fails when a ratio is over its budget at those scales. BENCH_ARGS="--keep" keeps the data,
# "--reuse" uses it.
SCALE ?= medium
BENCH_ARGS ?=
bench: $(VENV)/.installed-dev services
	@mkdir -p var
	$(TEST_ENV) $(BIN)/python manage.py bench --scale $(SCALE) --json var/bench-$(SCALE).json \
	  --markdown docs/benchmarks.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
