#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: dependencies, type-check, unit tests, then
# integration tests against a real OpenSearch node that this script starts (and stops again, if it
# started it). Prints one totals line at the end: "N passed, M failed, K skipped".
#
#   scripts/test.sh            everything
#   TEST_SKIP_INTEGRATION=1    unit tests only (no OpenSearch)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
results="$root/.test-results"
rm -rf "$results" && mkdir -p "$results"

export OPENSEARCH_PORT="${OPENSEARCH_TEST_PORT:-${OPENSEARCH_PORT:-9200}}"
# --- ML Commons: the node this script starts loads it, so test/integration/ml.integration.test.ts runs
# (documents indexed straight into OpenSearch, enriched through the ingest pipeline). Costs a ~375 MB
# download once (cached; 250 s from an empty cache to a healthy node here, 2026-11-26) and a start of
# ~45 s; OPENSEARCH_PLUGINS= (empty) leaves it out, and the ML test then skips, saying why.
export OPENSEARCH_PLUGINS="${OPENSEARCH_PLUGINS-org.opensearch.plugin:opensearch-job-scheduler org.opensearch.plugin:opensearch-ml-plugin}"
# --- end ML Commons
os_url="http://127.0.0.1:${OPENSEARCH_PORT}"
started_node=0

finish() {
  local rc=$?
  if (( started_node )); then scripts/opensearch.sh stop || true; fi
  local passed=0 failed=0 skipped=0
  if [[ -s "$results/totals.txt" ]]; then
    while read -r p f s; do passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s)); done < "$results/totals.txt"
  fi
  if (( rc != 0 && failed == 0 )); then failed=1; fi   # a step failed outside mocha (install, type-check, node)
  echo "$passed passed, $failed failed, $skipped skipped" > "$results/summary.txt"
  echo
  cat "$results/summary.txt"
  exit $(( rc != 0 || failed != 0 ))
}
trap finish EXIT

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
make --no-print-directory node_modules/.installed || exit 1

step "type-check (tsc, strict)"
npx tsc -p tsconfig.test.json || { echo "type-check failed"; exit 1; }

step "unit tests"
unit_rc=0
npx mocha --reporter ./test/support/ci-reporter.cjs || unit_rc=$?

integ_rc=0
if [[ -z "${TEST_SKIP_INTEGRATION:-}" ]]; then
  step "OpenSearch node for the integration tests"
  if ! scripts/opensearch.sh status >/dev/null 2>&1; then
    scripts/opensearch.sh start || { echo "could not start OpenSearch"; exit 1; }
    started_node=1
  else
    echo "using the node already running at $os_url"
  fi
  # rsyslog's omelasticsearch, for test/integration/shippers.integration.test.ts: installed from Debian
  # in CI only (a throwaway machine); elsewhere the test skips and says how to install it.
  case "${CI:-}" in true | TRUE | True | 1) in_ci=1 ;; *) in_ci=0 ;; esac
  if (( in_ci )) && ! dpkg -s rsyslog-elasticsearch >/dev/null 2>&1; then
    step "rsyslog and rsyslog-elasticsearch from Debian (CI only)"
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      echo "not root, or no apt-get: cannot install them; the shipper test will skip"
    else
      # No daemon started by the package (policy-rc.d 101): nothing here needs the system's rsyslog.
      policy_created=0
      if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
      fi
      if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-elasticsearch >/dev/null; }; then
        echo "could not install them: the shipper test will skip"
      fi
      if (( policy_created )); then rm -f /usr/sbin/policy-rc.d; fi
    fi
  fi
  step "integration tests (real OpenSearch at $os_url)"
  # The fault test stops and restarts the node: allowed only on a node this script started.
  IT_NODE_CONTROL="$started_node" OPENSEARCH_URL="$os_url" npx mocha --config test/integration/.mocharc.json --reporter ./test/support/ci-reporter.cjs || integ_rc=$?
fi

exit $(( unit_rc != 0 || integ_rc != 0 ))
