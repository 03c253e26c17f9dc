/**
 * `npm run bench:ml` (needs a node WITH the ML Commons plugin, e.g.
 * `OPENSEARCH_PLUGINS="org.opensearch.plugin:opensearch-job-scheduler org.opensearch.plugin:opensearch-ml-plugin" scripts/opensearch.sh start`,
 * and OPENSEARCH_URL if not http://127.0.0.1:9200): the same raw CloudTrail documents indexed two
 * ways, with the same sender (batch size, concurrency), each path with its own service process,
 * state index and alerts index so that neither finds the other's history:
 *   A. through the service's `_bulk` (the service enriches, then forwards one `_bulk`);
 *   B. straight to OpenSearch's `_bulk?pipeline=<ml pipeline>` (the `ml_inference` processor calls
 *      the service's /ml/enrich once per document).
 * Prints both rates, B/A, and how many of B's documents really were enriched (the pipeline's
 * processor runs with ignore_failure, so a failed call leaves a document unenriched, not refused).
 * A benchmark, not a test: it never fails on a slow result.
 *
 *   BENCH_ML_RECORDS (20000)  BENCH_ML_BATCH (500)  BENCH_ML_CONCURRENCY (2)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { Client } from '@opensearch-project/opensearch';
import { packageRoot } from '../server/config.js';
import { hasMlPlugin, mlSetup, type MlSetupReport } from '../server/ml-setup.js';
import { setup } from '../server/setup.js';
import { generateRecords } from './records.js';
import { SERVICE_NODE_ARGS } from '../server/runtime.js';
import { bulkBodies, send } from './bulk-sender.js';
import { envInt } from './env.js';

const openSearchUrl = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const count = envInt('BENCH_ML_RECORDS', 20_000, 1);
const batchSize = envInt('BENCH_ML_BATCH', 500, 1);
const concurrency = envInt('BENCH_ML_CONCURRENCY', 2, 1);
const run = Date.now().toString(36);


/** A port nothing listens on now (another service on a fixed port would answer our health check). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function startService(p: number, alertsIndex: string, stateIndex: string): Promise<{ url: string; child: ChildProcess }> {
  const url = `http://127.0.0.1:${p}`;
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, '--import', 'tsx', 'server/main.ts'], {
    cwd: packageRoot(),
    env: { ...process.env, PORT: String(p), OPENSEARCH_URL: openSearchUrl, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex, LOG_LEVEL: 'warn', OPENSEARCH_REPLICAS: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`the service on port ${p} exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok && child.exitCode === null) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error(`the service on port ${p} did not become healthy`);
}

async function main(): Promise<void> {
  const client = new Client({ node: openSearchUrl });
  const info = (await client.info()).body as { version: { number: string } };
  if (!(await hasMlPlugin(client))) throw new Error(`the node at ${openSearchUrl} has no opensearch-ml plugin (GET _cat/plugins); see the header of bench/ml.bench.ts`);
  const idx = {
    bulk: `cloudtrail-bench-mlbulk-${run}`,
    ingest: `cloudtrail-bench-mlingest-${run}`,
    alertsA: `impossible-travel-alerts-bench-mla-${run}`,
    alertsB: `impossible-travel-alerts-bench-mlb-${run}`,
    stateA: `impossible-travel-state-bench-mla-${run}`,
    stateB: `impossible-travel-state-bench-mlb-${run}`,
  };
  await setup(client, { alertsIndex: idx.alertsA, stateIndex: idx.stateA, replicas: 0 });
  await setup(client, { alertsIndex: idx.alertsB, stateIndex: idx.stateB, replicas: 0 });
  const names = { connector: `bench-${run}`, modelGroup: `bench-${run}`, model: `bench-${run}`, pipeline: `bench-${run}` };

  console.log(`generating ${count.toLocaleString('en-US')} CloudTrail records ...`);
  const records = generateRecords({ count, keys: 5000, seed: 11 });
  const warm = generateRecords({ count: Math.min(2000, count), keys: 500, seed: 99, startMs: Date.UTC(2026, 4, 1) });

  const children: ChildProcess[] = [];
  let ml: MlSetupReport | undefined;
  try {
    const a = await startService(await freePort(), idx.alertsA, idx.stateA);
    children.push(a.child);
    const b = await startService(await freePort(), idx.alertsB, idx.stateB);
    children.push(b.child);
    ml = await mlSetup(client, { serviceUrl: b.url, names, trustedEndpointRegex: '^http://127\\.0\\.0\\.1:.*$' });
    for (const i of [idx.bulk, idx.ingest]) await client.indices.create({ index: i, body: { settings: { number_of_replicas: 0 } } });

    console.log(`warming up with ${warm.length.toLocaleString('en-US')} other records each way ...`);
    await send(`${a.url}/_bulk`, bulkBodies(warm, `${idx.bulk}-warmup`, batchSize), concurrency);
    await send(`${openSearchUrl}/_bulk?pipeline=${names.pipeline}`, bulkBodies(warm, `${idx.ingest}-warmup`, batchSize), concurrency);

    console.log(`sending ${Math.ceil(count / batchSize)} batches of ${batchSize} with ${concurrency} in flight, each way ...`);
    const viaBulk = await send(`${a.url}/_bulk`, bulkBodies(records, idx.bulk, batchSize), concurrency);
    const viaIngest = await send(`${openSearchUrl}/_bulk?pipeline=${names.pipeline}`, bulkBodies(records, idx.ingest, batchSize), concurrency);

    await client.indices.refresh({ index: Object.values(idx).join(',') });
    const countOf = async (index: string, query?: Record<string, unknown>): Promise<number> =>
      ((await client.count({ index, body: query ? { query } : undefined } as never)).body as { count: number }).count;
    const enriched = { exists: { field: 'source.address' } };
    const withAddress = { exists: { field: 'sourceIPAddress' } };
    const stats = await client.transport.request({ method: 'GET', path: `/_nodes/stats/ingest` });
    let failed = 0;
    for (const node of Object.values((stats.body as { nodes: Record<string, { ingest: { pipelines: Record<string, { processors: Record<string, { stats: { failed: number } }>[] }> } }> }).nodes)) {
      const p = node.ingest.pipelines[names.pipeline];
      if (p) failed += Object.values(p.processors[0]!)[0]!.stats.failed;
    }

    console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GB, node ${process.version}, OpenSearch ${info.version.number}, ${new Date().toISOString().slice(0, 10)}`);
    console.log(`A. service _bulk          : ${Math.round(viaBulk.rate).toLocaleString('en-US')} docs/s (${viaBulk.seconds.toFixed(1)} s; ${(await countOf(idx.bulk)).toLocaleString('en-US')} stored, ${(await countOf(idx.bulk, enriched)).toLocaleString('en-US')} enriched of ${(await countOf(idx.bulk, withAddress)).toLocaleString('en-US')} with an address; ${await countOf(idx.alertsA)} alerts)`);
    console.log(`B. ingest pipeline (ML)   : ${Math.round(viaIngest.rate).toLocaleString('en-US')} docs/s (${viaIngest.seconds.toFixed(1)} s; ${(await countOf(idx.ingest)).toLocaleString('en-US')} stored, ${(await countOf(idx.ingest, enriched)).toLocaleString('en-US')} enriched of ${(await countOf(idx.ingest, withAddress)).toLocaleString('en-US')} with an address; ${await countOf(idx.alertsB)} alerts; processor failures ${failed})`);
    console.log(`B/A ${(viaIngest.rate / viaBulk.rate).toFixed(2)}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    const quiet = async (method: string, path: string): Promise<void> => {
      await client.transport.request({ method, path }).catch(() => undefined);
    };
    await quiet('DELETE', `/_ingest/pipeline/${names.pipeline}`);
    if (ml) {
      await quiet('POST', `/_plugins/_ml/models/${ml.model.id}/_undeploy`);
      await quiet('DELETE', `/_plugins/_ml/models/${ml.model.id}`);
      await quiet('DELETE', `/_plugins/_ml/model_groups/${ml.modelGroup.id}`);
      await quiet('DELETE', `/_plugins/_ml/connectors/${ml.connector.id}`);
    }
    await client.indices.delete({ index: `${idx.bulk}*,${idx.ingest}*,${idx.alertsA},${idx.alertsB},${idx.stateA},${idx.stateB}`, ignore_unavailable: true } as never);
    await client.close();
  }
}

main().catch((err) => {
  console.error(`bench:ml: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
