# The two commands of the README:
#   make demo   a local OpenSearch, the service, sample CloudTrail in, alerts out
#   make test   every test, unit and integration (starts and stops its own OpenSearch)
# Each installs what it needs first (npm ci, GeoIP database, OpenSearch from Maven Central).

SHELL := /bin/bash
export OPENSEARCH_PORT ?= 9200
OPENSEARCH_URL ?= http://127.0.0.1:$(OPENSEARCH_PORT)

.PHONY: all build geoip geoip-update opensearch opensearch-stop setup test test-unit demo bench bench-e2e start clean

all: build

# npm ci only when package-lock.json changed since the last install.
node_modules/.installed: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	npm run build

geoip: node_modules/.installed
	scripts/geoip.sh

geoip-update: node_modules/.installed
	scripts/geoip.sh update

opensearch:
	scripts/opensearch.sh start

opensearch-stop:
	scripts/opensearch.sh stop

# Index templates and indices (add DASHBOARDS_URL=... to import the saved objects too).
setup: build
	OPENSEARCH_URL=$(OPENSEARCH_URL) node dist/server/cli.js setup

test:
	scripts/test.sh

test-unit:
	TEST_SKIP_INTEGRATION=1 scripts/test.sh

start: build geoip
	npm start

demo: build geoip
	scripts/demo.sh

bench: build geoip
	npm run bench

bench-e2e: build geoip
	scripts/opensearch.sh start
	npm run bench:e2e

clean:
	rm -rf dist .test-results
