# Lightbox: every developer entry point. Needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAGE  ?= dev
STAMP  := $(VENV)/.installed

.PHONY: install dev seed test test-fast bench package deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

## Run the whole system locally (moto, localstripe, HTTP API :8000, WebSocket :8001, S3 -> SQS -> processor)
dev: $(STAMP)
	$(PY) -m infrastructure.local.devstack

## Demo users of every role (and content) in the running local stack; credentials are printed
seed: $(STAMP)
	$(PY) -m infrastructure.local.devstack --seed-only

## The whole test suite (what CI runs)
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

## Benchmarks: printed figures, never asserted
bench: $(STAMP)
	$(PIP) install -q pyvips-binary pyvips
	$(PY) bench/bench_coldstart.py
	$(PY) bench/bench_processor.py

clean:
	rm -rf build .pytest_cache
