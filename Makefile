# Lightbox: every developer entry point. Needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAGE  ?= dev
STAMP  := $(VENV)/.installed

.PHONY: install dev seed test bench package deploy routes clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q 'pip>=24,<26.3'  # chalice packages with pip and supports pip<26.3
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
	$(PY) -m pytest -q -p no:cacheprovider -n 2

## Benchmarks: printed figures, never asserted (cold start, processor, fan-out, package sizes)
bench: $(STAMP) package
	$(PIP) install -q pyvips-binary pyvips
	$(PY) bench/bench_coldstart.py
	$(PY) bench/bench_processor.py
	$(PY) bench/bench_fanout.py
	$(PY) -m infrastructure.sizes build/$(STAGE)

## Deployment artifacts for STAGE (dev|prod): build/$(STAGE)/template.json, platform.json, deployment.zip, layers/*.zip
package: $(STAMP)
	$(PY) -m infrastructure.package --stage $(STAGE) --out build/$(STAGE)

## Deploy STAGE to AWS (needs AWS credentials; CI never runs this). ARGS="--parameter AlarmEmail=ops@example.com"
deploy: $(STAMP)
	$(PY) -m infrastructure.deploy --stage $(STAGE) $(ARGS)

## Regenerate chalicelib/api/manifest.py after adding or changing a route (a test fails while it is stale)
routes: $(STAMP)
	$(PY) -m chalicelib.api.routing

clean:
	rm -rf build .pytest_cache
