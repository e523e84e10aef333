# The two set-up commands: `make run` and `make test`. Each creates .venv and
# installs what it needs the first time; nothing else has to be installed.
# `make test-unit` is the fast loop: tests/unit alone, no server started.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-client bench lint format clean

# Checkov and pycep-parser pin many packages of their own: they live in a
# second virtualenv that the infrastructure tests call as subprocesses.
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
# schemathesis and openapi-python-client, likewise, for the contract tests.
CONTRACT_VENV := .venv-contract
CONTRACT_STAMP := $(CONTRACT_VENV)/.installed

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(INFRA_STAMP): requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r requirements-infra.txt
	touch $(INFRA_STAMP)

$(CONTRACT_STAMP): requirements-contract.txt
	$(PYTHON) -m venv $(CONTRACT_VENV)
	$(CONTRACT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CONTRACT_VENV)/bin/python -m pip install --quiet -r requirements-contract.txt
	touch $(CONTRACT_STAMP)

# The benchmark's peer (fastapi-users) needs SQLAlchemy < 2.1: its own venv too.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	touch $(BENCH_STAMP)

# The TypeScript client (clients/typescript): its devDependencies from the npm
# registry, its type-check and `node --test` units. Without node and npm, say so.
CLIENT := clients/typescript
CLIENT_STAMP := $(CLIENT)/node_modules/.package-lock.json
HAVE_NODE := $(shell command -v node >/dev/null && command -v npm >/dev/null && echo yes)

$(CLIENT_STAMP): $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund
	touch $(CLIENT_STAMP)

ifeq ($(HAVE_NODE),yes)
test-client: $(CLIENT_STAMP)
	cd $(CLIENT) && npm test
else
test-client:
	@echo "skipped: node not found (the TypeScript client's tests in $(CLIENT) need node and npm)"
endif

# `make run V=1` (or LOG_LEVEL=DEBUG) shows the full log: pgserver, alembic, every request.
run: $(STAMP)
	$(PY) -m devtools.run $(if $(V),--verbose)

# Everything: tests/unit and tests/integration (PostgreSQL, Redis, the contract and infrastructure checks).
test: $(STAMP) $(INFRA_STAMP) $(CONTRACT_STAMP)
	$(MAKE) --no-print-directory test-client
	$(PY) -m pytest

# tests/unit only: no PostgreSQL, Redis or subprocess; seconds.
test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP) $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf .data .emails .pytest_cache .mypy_cache .ruff_cache
