/**
 * `npm run bench:e2e` (needs a node: `make opensearch`, or OPENSEARCH_URL): the same CloudTrail
 * documents indexed twice in one run, with the same sender (batch size, concurrency):
 *   A. raw, through the service's `_bulk` (parse, GeoIP, detection, state, alerts, forward);
 *   B. already enriched, straight to OpenSearch's `_bulk`.
 * Prints both rates and A/B. Target: at least 0.8. A benchmark, not a test: it never fails on a miss.
 *
 *   BENCH_E2E_RECORDS (100000)  BENCH_E2E_BATCH (1000)  BENCH_E2E_CONCURRENCY (2)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { Client } from '@opensearch-project/opensearch';
import { loadConfig, packageRoot } from '../server/config.js';
import { silentLogger } from '../server/log.js';
import { buildService } from '../server/service.js';
import { setup } from '../server/setup.js';
import { batches, generateRecords } from './records.js';
import { bulkBodies, send } from './bulk-sender.js';

const openSearchUrl = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const count = Number(process.env.BENCH_E2E_RECORDS ?? 100_000);
const batchSize = Number(process.env.BENCH_E2E_BATCH ?? 1000);
const concurrency = Number(process.env.BENCH_E2E_CONCURRENCY ?? 2);
const port = Number(process.env.BENCH_E2E_PORT ?? 18_480);
const run = `${Date.now().toString(36)}`;


/** The service's own per-stage timings, from its /metrics. */
async function stageTimes(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const parts: string[] = [];
  for (const m of text.matchAll(/^impossible_travel_stage_duration_seconds_sum\{stage="([^"]+)"\} ([0-9.e+-]+)$/gm)) {
    parts.push(`${m[1]} ${Number(m[2]).toFixed(2)}`);
  }
  return parts.join(', ');
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the service did not become healthy');
}

async function main(): Promise<void> {
  const client = new Client({ node: openSearchUrl });
  const info = (await client.info()).body as { version: { number: string } };
  const viaService = `cloudtrail-bench-service-${run}`;
  const direct = `cloudtrail-bench-direct-${run}`;
  const alertsIndex = `impossible-travel-alerts-bench-${run}`;
  const stateIndex = `impossible-travel-state-bench-${run}`;
  await setup(client, { alertsIndex, stateIndex, replicas: 0 });

  console.log(`generating ${count.toLocaleString('en-US')} CloudTrail records ...`);
  const records = generateRecords({ count, keys: 5000, seed: 11 });

  // B's documents: the same records, enriched in-process beforehand (memory state, real GeoIP).
  const enrichService = buildService(loadConfig({ LOG_LEVEL: 'silent' }), silentLogger(), {});
  const enriched: Record<string, unknown>[] = [];
  for (const batch of batches(records.map((r) => structuredClone(r)), 5000)) {
    const { docs } = await enrichService.pipeline.run(batch);
    for (const d of docs) enriched.push(d as Record<string, unknown>);
  }
  await enrichService.close();

  const serviceUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: packageRoot(),
    env: { ...process.env, PORT: String(port), OPENSEARCH_URL: openSearchUrl, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex, LOG_LEVEL: 'warn', OPENSEARCH_REPLICAS: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitHealthy(serviceUrl, child);
    const rawBodies = bulkBodies(records, viaService, batchSize);
    const enrichedBodies = bulkBodies(enriched, direct, batchSize);
    await client.indices.create({ index: viaService, body: { settings: { number_of_replicas: 0 } } });
    await client.indices.create({ index: direct, body: { settings: { number_of_replicas: 0 } } });

    // Warm both paths (JIT, OpenSearch's caches and merges) on other records and indices first, so
    // that neither measured run pays for starting cold.
    const warmRecords = generateRecords({ count: Math.min(20_000, count), keys: 5000, seed: 99, startMs: Date.UTC(2026, 4, 1) });
    console.log(`warming up with ${warmRecords.length.toLocaleString('en-US')} other records each way ...`);
    await send(`${serviceUrl}/_bulk`, bulkBodies(warmRecords, `${viaService}-warmup`, batchSize), concurrency);
    await send(`${openSearchUrl}/_bulk`, bulkBodies(warmRecords, `${direct}-warmup`, batchSize), concurrency);

    await client.indices.refresh({ index: alertsIndex });
    const warmupAlerts = ((await client.count({ index: alertsIndex })).body as { count: number }).count;
    console.log(`sending ${rawBodies.length} batches of ${batchSize} with ${concurrency} in flight, each way ...`);
    const serviceRate = (await send(`${serviceUrl}/_bulk`, rawBodies, concurrency)).rate;
    const stages = await stageTimes(serviceUrl);
    const directRate = (await send(`${openSearchUrl}/_bulk`, enrichedBodies, concurrency)).rate;
    await client.indices.refresh({ index: `${viaService},${direct},${alertsIndex}` });
    const countOf = async (index: string): Promise<number> => ((await client.count({ index })).body as { count: number }).count;
    const ratio = serviceRate / directRate;
    console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}, OpenSearch ${info.version.number}, ${new Date().toISOString().slice(0, 10)}`);
    console.log(`through the service  : ${Math.round(serviceRate).toLocaleString('en-US')} docs/s (${(await countOf(viaService)).toLocaleString('en-US')} stored, ${(await countOf(alertsIndex)) - warmupAlerts} alerts)`);
    console.log(`straight to OpenSearch: ${Math.round(directRate).toLocaleString('en-US')} docs/s (${(await countOf(direct)).toLocaleString('en-US')} stored)`);
    console.log(`ratio ${ratio.toFixed(2)} (target >= 0.80): ${ratio >= 0.8 ? 'met' : 'NOT met'}`);
    console.log(`where the service's time went (seconds, summed over requests): ${stages}`);
  } finally {
    child.kill('SIGTERM');
    await client.indices.delete({ index: `${viaService}*,${direct}*,${alertsIndex},${stateIndex}`, ignore_unavailable: true } as never);
    await client.close();
  }
}

main().catch((err) => {
  console.error(`bench:e2e: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
