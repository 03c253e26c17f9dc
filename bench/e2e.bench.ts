/**
 * `npm run bench:e2e` (needs a node: `make opensearch`, or OPENSEARCH_URL): the same CloudTrail
 * documents indexed twice in one run, with the same sender (batch size, concurrency):
 *   A. raw, through the service's `_bulk` (parse, GeoIP, detection, state, alerts, forward);
 *   B. already enriched, straight to OpenSearch's `_bulk`.
 * Prints both rates and A/B. Target: at least 0.8. A benchmark, not a test: it never fails on a miss.
 *
 * OpenSearch, the service and the sender share the machine, and its other jobs come and go, so the
 * comparison is made in rounds: each round sends new records (another seed, a later week) both
 * ways, into new indices, alternating which way goes first; the figure is the median ratio. Each
 * way starts once OpenSearch is quiet again (bench/load.ts `openSearchQuiet`): the merges a run
 * of 100,000 documents leaves behind otherwise fall on the next way, whichever it is. The
 * service runs as in production (`node` with SERVICE_NODE_ARGS, default settings).
 *
 *   BENCH_E2E_RECORDS (100000)  BENCH_E2E_BATCH (1000)  BENCH_E2E_CONCURRENCY (2)  BENCH_E2E_ROUNDS (5)
 *   BENCH_E2E_WARMUP (60000 other records each way before the rounds)
 *
 * It also prints the CPU time per document in each round: the service's (user and system, from its
 * /metrics, and of that time its garbage-collection pauses), OpenSearch's in each way (from the
 * node's own process stats) and the sender's, and how busy the machine was: where the two cores
 * went. BENCH_E2E_PROFILE_DIR makes the service write a
 * CPU profile there; BENCH_E2E_NODE_ARGS adds node flags to the service's (V8 experiments).
 *
 * BENCH_E2E_FLOOR=pass|parse measures the machine instead of the service: bench/floor-proxy.ts
 * takes the service's place (forwarding the bytes unread, or each line through JSON.parse and
 * JSON.stringify), and both ways send the same enriched documents, so OpenSearch does the same
 * work in each. The ratio it prints is a ceiling for any service in that hop doing at least that
 * work, on this machine at that time: the machine's phases move it too, so compare runs made one
 * after the other.
 */
import { cpus } from 'node:os';
import { Client } from '@opensearch-project/opensearch';
import { SETTING_NAMES, loadConfig } from '../server/config.js';
import { silentLogger } from '../server/log.js';
import { buildService } from '../server/service.js';
import { setup } from '../server/setup.js';
import { batches, generateRecords } from './records.js';
import { bulkBodies, send } from './bulk-sender.js';
import { envInt, median } from './env.js';
import { machineCpu, metric, openSearchCpuMs, openSearchQuiet, scrape, startService } from './load.js';

const openSearchUrl = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const count = envInt('BENCH_E2E_RECORDS', 100_000, 1);
const batchSize = envInt('BENCH_E2E_BATCH', 1000, 1);
const concurrency = envInt('BENCH_E2E_CONCURRENCY', 2, 1);
const port = envInt('BENCH_E2E_PORT', 18_480);
const rounds = envInt('BENCH_E2E_ROUNDS', 5, 1);
const warmup = envInt('BENCH_E2E_WARMUP', 60_000, 0);
const WARMUP_PART = 20_000;
const WEEK_MS = 7 * 86_400_000;
/** Where the service writes a V8 CPU profile when it stops (for chrome://inspect or any .cpuprofile reader). */
const profileDir = process.env.BENCH_E2E_PROFILE_DIR;
/** Extra node flags for the service, space-separated (e.g. "--single-threaded-gc"). */
const extraNodeArgs = (process.env.BENCH_E2E_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0);
const run = `${Date.now().toString(36)}`;
const FLOOR_WORK = { pass: 'forwards the bytes unread', parse: 'reads every line with JSON.parse and writes it back with JSON.stringify' };
const floorSetting = process.env.BENCH_E2E_FLOOR || undefined; // set but empty: off
if (floorSetting !== undefined && !Object.hasOwn(FLOOR_WORK, floorSetting)) throw new Error(`BENCH_E2E_FLOOR must be pass or parse, not "${floorSetting}"`);
const floor = floorSetting as keyof typeof FLOOR_WORK | undefined;


const STAGE_SUM = 'impossible_travel_stage_duration_seconds_sum{stage="';

/** The service's per-stage seconds (summed over requests) between two scrapes of its /metrics. */
function stageSeconds(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .filter(([key]) => key.startsWith(STAGE_SUM))
    .map(([key, total]) => `${key.slice(STAGE_SUM.length, -2)} ${(total - metric(before, key)).toFixed(2)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const client = new Client({ node: openSearchUrl });
  const info = (await client.info()).body as { version: { number: string } };
  const viaService = `cloudtrail-bench-service-${run}`;
  const direct = `cloudtrail-bench-direct-${run}`;
  const alertsIndex = `impossible-travel-alerts-bench-${run}`;
  const stateIndex = `impossible-travel-state-bench-${run}`;
  await setup(client, { alertsIndex, stateIndex, replicas: 0 });

  // B's documents: the records enriched in-process beforehand (memory state, real GeoIP).
  const enrichService = buildService(loadConfig({ LOG_LEVEL: 'silent' }), silentLogger(), {});
  const enrich = async (records: Record<string, unknown>[]): Promise<Record<string, unknown>[]> => {
    const enriched: Record<string, unknown>[] = [];
    for (const batch of batches(records.map((r) => structuredClone(r)), 5000)) {
      const { docs } = await enrichService.pipeline.run(batch);
      for (const d of docs) enriched.push(d as Record<string, unknown>);
    }
    return enriched;
  };

  // Settings exported in the shell still reach the service (an experiment with STATE_SYNC_INTERVAL,
  // say), but not its port, log level or indices: those are the bench's, whatever the shell says.
  const exported = Object.fromEntries([...SETTING_NAMES, 'CONFIG_FILE'].flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
  const nodeArgs = [...extraNodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const service = floor
    ? await startService(port, { PORT: String(port), OPENSEARCH_URL: openSearchUrl, FLOOR_MODE: floor }, ['--import', 'tsx', ...nodeArgs], 'bench/floor-proxy.ts')
    : await startService(
        port,
        { ...exported, PORT: String(port), OPENSEARCH_URL: openSearchUrl, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex, LOG_LEVEL: 'warn', OPENSEARCH_REPLICAS: '0' },
        nodeArgs,
      );
  if (floor) console.log(`floor: in the service's place a proxy that ${FLOOR_WORK[floor]}; both ways send the same enriched documents`);
  const serviceUrl = service.url;
  try {
    /**
     * One way of a part or round: once OpenSearch is quiet (the other way's merges would otherwise
     * weigh on this one), the bodies sent, and what the service, OpenSearch, the sender and the
     * machine spent meanwhile.
     */
    const runWay = async (url: string, bodies: Buffer[]) => {
      const waited = await openSearchQuiet(client);
      const [before, openSearchBefore] = await Promise.all([scrape(serviceUrl), openSearchCpuMs(client)]);
      const machineBefore = machineCpu();
      const senderBefore = process.cpuUsage();
      const { rate } = await send(url, bodies, concurrency);
      const sender = process.cpuUsage(senderBefore);
      const machineAfter = machineCpu();
      const [after, openSearchAfter] = await Promise.all([scrape(serviceUrl), openSearchCpuMs(client)]);
      return {
        rate,
        waited,
        /** CPU seconds between the two scrapes of the service's /metrics. */
        service: (key: string): number => metric(after, key) - metric(before, key),
        /** The service's garbage-collection pauses (all kinds), from prom-client's nodejs_gc_duration_seconds. */
        serviceGcSeconds: [...after.keys()].filter((key) => key.startsWith('nodejs_gc_duration_seconds_sum{')).reduce((sum, key) => sum + metric(after, key) - metric(before, key), 0),
        openSearchSeconds: (openSearchAfter - openSearchBefore) / 1000,
        senderSeconds: (sender.user + sender.system) / 1e6,
        machineBusy: (machineAfter.busy - machineBefore.busy) / Math.max(1e-9, machineAfter.total - machineBefore.total),
      };
    };

    // Warm both paths (JIT, OpenSearch's caches and merges) on other records and indices first, so
    // that neither measured run pays for starting cold. A node started minutes before spent 250-320
    // µs of CPU per document in its first 20,000 against 100-130 later, so the ways alternate in
    // parts of 20,000 records, and what OpenSearch spent per document in each part is printed.
    console.log(`warming up with ${warmup.toLocaleString('en-US')} other records each way, in parts of ${WARMUP_PART.toLocaleString('en-US')} ...`);
    const warmParts: string[] = [];
    for (let done = 0, part = 0; done < warmup; part++) {
      const n = Math.min(WARMUP_PART, warmup - done);
      const warmRecords = generateRecords({ count: n, keys: 5000, seed: 99 + part, startMs: Date.UTC(2026, 4, 1) + part * WEEK_MS });
      const warmBodies = {
        service: bulkBodies(floor ? await enrich(warmRecords) : warmRecords, `${viaService}-warmup`, batchSize),
        direct: bulkBodies(await enrich(warmRecords), `${direct}-warmup`, batchSize),
      };
      for (const way of ['service', 'direct'] as const) {
        const { openSearchSeconds } = await runWay(`${way === 'service' ? serviceUrl : openSearchUrl}/_bulk`, warmBodies[way]);
        warmParts.push(`${way} ${Math.round((openSearchSeconds * 1e6) / n)}`);
      }
      done += n;
    }
    if (warmParts.length > 0) console.log(`  OpenSearch CPU per document (µs) in each part: ${warmParts.join(', ')}`);
    const metricsBefore = await scrape(serviceUrl);
    const countOf = async (index: string): Promise<number> => ((await client.count({ index })).body as { count: number }).count;

    console.log(`${rounds} rounds of ${count.toLocaleString('en-US')} new records each way, ${batchSize} per _bulk, ${concurrency} in flight:`);
    console.log(`${'round'.padEnd(7)}${'first'.padEnd(10)}${'service docs/s'.padStart(16)}${'direct docs/s'.padStart(15)}${'ratio'.padStart(8)}   stored (service, direct), alerts`);
    const ratios: number[] = [];
    const cpuNotes: string[] = [];
    const quietWaits: number[] = [];
    const serviceRates: number[] = [];
    const directRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const records = generateRecords({ count, keys: 5000, seed: 11 + r, startMs: Date.UTC(2026, 0, 5) + r * WEEK_MS });
      const enriched = await enrich(records);
      const viaServiceRound = `${viaService}-r${r}`;
      const directRound = `${direct}-r${r}`;
      await client.indices.create({ index: viaServiceRound, body: { settings: { number_of_replicas: 0 } } });
      await client.indices.create({ index: directRound, body: { settings: { number_of_replicas: 0 } } });
      const rawBodies = bulkBodies(floor ? enriched : records, viaServiceRound, batchSize);
      const enrichedBodies = bulkBodies(enriched, directRound, batchSize);
      await client.indices.refresh({ index: alertsIndex });
      const alertsBefore = await countOf(alertsIndex);
      const serviceFirst = r % 2 === 0;
      let serviceRate = 0;
      let directRate = 0;
      const notes: string[] = [];
      const perDoc = (seconds: number): string => `${Math.round((seconds * 1e6) / count)}`;
      for (const way of serviceFirst ? ['service', 'direct'] : ['direct', 'service']) {
        const result = await runWay(way === 'service' ? `${serviceUrl}/_bulk` : `${openSearchUrl}/_bulk`, way === 'service' ? rawBodies : enrichedBodies);
        quietWaits.push(result.waited);
        const busy = `sender ${perDoc(result.senderSeconds)}, machine busy ${Math.round(100 * result.machineBusy)} %`;
        if (way === 'service') {
          serviceRate = result.rate;
          const used = (key: string): string => perDoc(result.service(key));
          notes.push(`${floor ? 'proxy' : 'service'} ${used('process_cpu_user_seconds_total')} user + ${used('process_cpu_system_seconds_total')} system (GC pauses ${perDoc(result.serviceGcSeconds)}), OpenSearch ${perDoc(result.openSearchSeconds)} behind it, ${busy}`);
        } else {
          directRate = result.rate;
          notes.push(`OpenSearch ${perDoc(result.openSearchSeconds)} direct, ${busy}`);
        }
      }
      cpuNotes.push(`round ${r + 1}: ${notes.join('; ')}`);
      await client.indices.refresh({ index: `${viaServiceRound},${directRound},${alertsIndex}` });
      const ratio = serviceRate / directRate;
      ratios.push(ratio);
      serviceRates.push(serviceRate);
      directRates.push(directRate);
      const stored = `${(await countOf(viaServiceRound)).toLocaleString('en-US')}, ${(await countOf(directRound)).toLocaleString('en-US')}`;
      console.log(
        `${String(r + 1).padEnd(7)}${(serviceFirst ? 'service' : 'direct').padEnd(10)}${Math.round(serviceRate).toLocaleString('en-US').padStart(16)}` +
          `${Math.round(directRate).toLocaleString('en-US').padStart(15)}${ratio.toFixed(2).padStart(8)}   ${stored}, ${(await countOf(alertsIndex)) - alertsBefore}`,
      );
    }
    const metricsAfter = await scrape(serviceUrl);
    const ratio = median(ratios);
    console.log(`${'median'.padEnd(17)}${Math.round(median(serviceRates)).toLocaleString('en-US').padStart(16)}${Math.round(median(directRates)).toLocaleString('en-US').padStart(15)}${ratio.toFixed(2).padStart(8)}`);
    console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}, OpenSearch ${info.version.number}, ${new Date().toISOString().slice(0, 10)}${extraNodeArgs.length > 0 ? `; service node flags added: ${extraNodeArgs.join(' ')}` : ''}`);
    if (floor) console.log(`ratio ${ratio.toFixed(2)} (median of ${rounds}): what a service in this hop that only ${FLOOR_WORK[floor]} reached, on this machine, in this run`);
    else console.log(`ratio ${ratio.toFixed(2)} (median of ${rounds}; target >= 0.80): ${ratio >= 0.8 ? 'met' : 'NOT met'}`);
    console.log('CPU per document (microseconds), in the order the ways ran:');
    for (const note of cpuNotes) console.log(`  ${note}`);
    console.log(`before each way, OpenSearch was given time to go quiet: median ${median(quietWaits).toFixed(1)} s, longest ${Math.max(...quietWaits).toFixed(1)} s`);
    if (floor) return;
    const perDocument = (key: string): string => ((metric(metricsAfter, key) - metric(metricsBefore, key)) / (rounds * count)).toFixed(2);
    console.log(
      `state documents per document sent through the service: ${perDocument('impossible_travel_state_documents_read_total')} read, ` +
        `${perDocument('impossible_travel_state_documents_written_total')} written (the direct way has none)`,
    );
    console.log(`where the service's time went in the rounds (seconds, summed over requests): ${stageSeconds(metricsBefore, metricsAfter)}`);
  } finally {
    // The service writes the state still waiting when it stops: its indices go only after that.
    await service.stop();
    await enrichService.close();
    await client.indices.delete({ index: `${viaService}*,${direct}*,${alertsIndex},${stateIndex}`, ignore_unavailable: true } as never);
    await client.close();
  }
}

main().catch((err) => {
  console.error(`bench:e2e: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
