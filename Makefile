# Every entry point of the diary platform. `make run` and `make test` work on a fresh machine:
# they install what is missing (Python packages into .venv, PostgreSQL from Debian's packages,
# Kafka's jars through Maven) before they start anything.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := libs/kernel libs/devinfra schemas services/gradebook services/identity services/applications services/gateway services/notifications services/card-payments
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: help install run stop infra-up infra-down infra-status test test-unit lint schemas bench clean

help:
	@echo "make run     - the whole platform with demo data (Ctrl-C or make stop to stop)"
	@echo "make test    - contracts, lint and every test against real Kafka and PostgreSQL"
	@echo "make bench   - throughput and latency figures against raw baselines (bench/results/); ARGS=--quick for a short run"
	@echo "make lint    - ruff and mypy"
	@echo "make schemas - regenerate JSON Schema and AsyncAPI from the event classes"
	@echo "make infra-up / infra-down / infra-status - only Kafka and PostgreSQL"

$(STAMP): constraints.txt requirements-dev.txt $(PYPROJECTS)
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet -c constraints.txt --no-deps $(addprefix -e ,$(PACKAGES))
	touch $@

install: $(STAMP)

run: install
	$(PY) -m diary_devinfra.platform run

stop: install
	$(PY) -m diary_devinfra.platform stop

infra-up: install
	$(PY) -m diary_devinfra up --databases gradebook,identity,applications,gateway,notifications

infra-down: install
	$(PY) -m diary_devinfra down

infra-status: install
	$(PY) -m diary_devinfra status

schemas: install
	$(PY) -m diary_events.generate

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/kernel/src libs/devinfra/src schemas/src services/gradebook/src services/identity/src services/applications/src services/gateway/src services/notifications/src services/card-payments/src

test-unit: install
	$(PY) -m pytest -q -m "not infra" libs/kernel/tests/unit services/gradebook/tests/unit services/identity/tests/unit services/applications/tests/unit services/gateway/tests/unit services/notifications/tests/unit services/card-payments/tests/unit schemas/tests

test: install
	$(PY) -m diary_events.generate --check
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest

bench: install
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
