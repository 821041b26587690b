# The whole interface of the project. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run test unit lint bench chaos clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

run: install  ## start everything (migrations, embedded Redis, web, worker) on http://$(HOST):$(PORT)
	$(BIN)/adjudicator run --host $(HOST) --port $(PORT)

test: install  ## run the whole suite (unit, integration, e2e with a real worker)
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install  ## run only the fast unit tests
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: install  ## ruff, mypy, and a reason after every noqa and type: ignore
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@if grep -rnE --include='*.py' '# (noqa|type: ignore)[^#]*$$' adjudicator tasks schemas tests bench; then \
		echo 'Give each noqa / type: ignore above its reason: "# type: ignore[code]  # why"'; \
		exit 1; \
	fi

bench: install  ## benchmark end-to-end claims against a bare-Flask baseline, batch re-adjudication, the D.0 codec, payment cycles
	$(BIN)/python -m bench.claims; claims=$$?; $(BIN)/python -m bench.readjudication; readjudication=$$?; \
		$(BIN)/python -m bench.ncpdp_codec; codec=$$?; $(BIN)/python -m bench.payments && \
		[ $$codec -eq 0 ] && [ $$claims -eq 0 ] && exit $$readjudication

chaos: install  ## the service under load while its parts are killed (CHAOS_ARGS=--short: CI's run)
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .hypothesis
