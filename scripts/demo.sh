#!/usr/bin/env bash
# `make demo`: a local OpenSearch (from Maven Central), index templates, the service with the
# embedded DB-IP GeoIP database, the bundled CloudTrail sample sent through the service's _bulk
# endpoint, and the alerts read back from the alerts index as a table. OpenSearch keeps running
# afterwards so you can look around (`make opensearch-stop` stops it); the service is stopped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
os_port="${OPENSEARCH_PORT:-9200}"
os_url="http://127.0.0.1:${os_port}"
port="${DEMO_PORT:-8080}"
service_url="http://127.0.0.1:${port}"
log="${TMPDIR:-/tmp}/impossible-travel-demo.log"

scripts/opensearch.sh start

echo "demo: installing index templates and indices"
OPENSEARCH_URL="$os_url" OPENSEARCH_REPLICAS=0 node dist/server/cli.js setup

echo "demo: starting the service on $service_url (log: $log)"
OPENSEARCH_URL="$os_url" OPENSEARCH_REPLICAS=0 PORT="$port" LOG_LEVEL="${LOG_LEVEL:-warn}" node --max-semi-space-size=32 dist/server/main.js > "$log" 2>&1 &  # as npm start (server/runtime.ts)
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null; wait "$service_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS "$service_url/healthz" > /dev/null 2>&1 && break
  if ! kill -0 "$service_pid" 2>/dev/null; then echo "demo: the service did not start:"; cat "$log"; exit 1; fi
  sleep 0.5
done
curl -fsS "$service_url/healthz" > /dev/null || { echo "demo: the service did not answer /healthz"; cat "$log"; exit 1; }

npx tsx scripts/demo/run.ts "$service_url" "$os_url"

cat <<EOM

OpenSearch is still running at $os_url. Try:
  curl -s '$os_url/impossible-travel-alerts/_search?pretty&size=1'
  curl -s '$os_url/cloudtrail-demo/_search?pretty&size=1&q=impossible_travel.alert_id:*'
Stop it with: make opensearch-stop
EOM
