# Lightbox: every developer entry point. Needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAGE  ?= dev
STAMP  := $(VENV)/.installed

.PHONY: install lock lint dev seed test bench package deploy routes clean

# Every install comes from requirements.lock (all transitive versions, with hashes): the dev venv, CI and the
# Lambda artifacts (infrastructure/package.py passes it to pip as constraints) hold the same versions.
$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

## Re-resolve requirements.lock after editing requirements*.txt (or to take upstream releases): commit both
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements-dev.txt --universal --python-version 3.11 --generate-hashes \
		--quiet -o requirements.lock

## Lint, format check and types (CI runs this before the tests)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## Run the whole system locally (moto, localstripe, HTTP API :8000, WebSocket :8001, S3 -> SQS -> processor)
dev: $(STAMP)
	$(PY) -m infrastructure.local.devstack

## Demo users of every role (and content) in the running local stack; credentials are printed
seed: $(STAMP)
	$(PY) -m infrastructure.local.devstack --seed-only

## The whole test suite (what CI runs)
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

## Benchmarks: printed figures, never asserted (cold start, processor, fan-out, package sizes)
bench: $(STAMP) package
	$(PIP) install -q pyvips-binary pyvips
	$(PY) bench/bench_coldstart.py
	$(PY) bench/bench_processor.py
	$(PY) bench/bench_preview.py
	$(PY) bench/bench_locked_listing.py
	$(PY) bench/bench_fanout.py
	$(PY) bench/bench_deletion.py
	$(PY) bench/bench_sales_summary.py
	$(PY) bench/bench_orders.py
	$(PY) bench/bench_archive.py
	$(PY) bench/bench_video.py
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
