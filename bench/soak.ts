/**
 * `npm run bench:soak` (after `npm run build`): steady load on the built service for SOAK_MINUTES
 * (10), sampling its memory every SOAK_INTERVAL seconds (30) from its own /metrics, to show whether
 * memory stays flat once the caches are full. Bounded: the load stops by itself after SOAK_MINUTES.
 *
 * The service runs as a child process in the pure processor mode, with a detection state capped
 * at SOAK_STATE_MAX_KEYS (50,000) access keys, while the records come from far more keys
 * (SOAK_KEYS, 200,000, of which about 120,000 appear in the default pool): the LRU fills within
 * the first minute and then evicts for the rest of the run, as it would in a large organisation.
 * The GeoIP cache (GEOIP_CACHE_SIZE, 100,000) fills the same way. Load: `POST /enrich`, NDJSON
 * bodies of SOAK_BATCH (100) records, SOAK_CONNECTIONS (4) connections in a closed loop (each
 * sends its next request when the previous one is answered), or SOAK_RATE requests/s in all if
 * set. The bodies (SOAK_RECORDS, 400,000 records) are made beforehand and sent in turn; when the
 * run outlasts them the rotation starts over: evicted keys then come back as new keys, and the
 * keys still held see their events again (the history keeps an event once).
 *
 * With OPENSEARCH_URL, the service also gets OpenSearch (indices and templates of this run,
 * deleted afterwards) and a `/_bulk` load runs alongside: SOAK_BULK_CONNECTIONS (2), bodies of
 * SOAK_BULK_BATCH (500) `index` actions.
 *
 * Each sample: RSS, V8 heap used as found and committed ("heap tot"), external memory (Buffers:
 * mostly the GeoIP database), then the live heap: the service is started with --expose-gc and a
 * one-line hook (`--import data:...`, no change to the service) that runs a full GC on SIGUSR2;
 * the soak sends the signal, waits a second and reads the heap used outside the young generation.
 * Heap used as found swings by a hundred MiB and more between V8's own major collections, so it
 * says little; what survives a full GC is where a leak shows. Then state keys, evictions, records
 * in, and records/s, mean latency and service CPU since the previous sample. The forced GC costs
 * a pause of some tens of milliseconds every SOAK_INTERVAL, which shows in the latency maximum.
 *
 * The verdict fits a least-squares line to the live heap, to RSS outside the V8 heap (RSS less
 * the committed heap: Buffers, code, native memory) and to RSS over the samples after
 * SOAK_WARMUP_MINUTES (3: the LRU and the GeoIP cache fill in the first minute or two, and V8
 * sizes its heap for the allocation rate), and compares the means of the first and second
 * halves. "FLAT" means |slope| < SOAK_FLAT_MB_PER_MIN (1 MiB per minute, see docs/performance.md
 * for why); a larger slope within twice its standard error is "FLAT within noise". A benchmark
 * report, not a test: the verdict never fails the run; non-2xx answers or connection errors do
 * (exit 1), as they void it.
 */
import { Client } from '@opensearch-project/opensearch';
import autocannon from 'autocannon';
import {
  Rotation,
  RunIndices,
  bulkBodies,
  enrichBodies,
  fmt,
  loadAverage,
  machineLine,
  metric,
  scrape,
  startService,
  type RunningService,
} from './load.js';
import { envInt, envNumber } from './env.js';

const MIB = 2 ** 20;

interface Sample {
  readonly atS: number;
  readonly rss: number;
  /** Heap used as found, before the forced GC. */
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  /** Heap used outside the young generation just after a full GC: the live heap. */
  readonly heapLive: number;
  readonly stateKeys: number;
  readonly evictions: number;
  readonly recordsIn: number;
  readonly requestCount: number;
  readonly requestSeconds: number;
  readonly cpuSeconds: number;
}

interface Point {
  readonly t: number;
  readonly y: number;
}

/** Makes the child run `gc()` on SIGUSR2; the service's own code is untouched. */
const GC_HOOK_ARGS = ['--expose-gc', '--import', 'data:text/javascript,process.on("SIGUSR2",()=>globalThis.gc())'];

async function takeSample(service: RunningService, startedMs: number): Promise<Sample> {
  const found = await scrape(service.url);
  const atS = (Date.now() - startedMs) / 1000;
  service.child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 1000));
  const m = await scrape(service.url);
  let requestCount = 0;
  let requestSeconds = 0;
  for (const [key, value] of m) {
    if (!key.startsWith('impossible_travel_http_request_duration_seconds_') || !/route="\/(enrich|_bulk)"/.test(key)) continue;
    if (key.startsWith('impossible_travel_http_request_duration_seconds_count')) requestCount += value;
    else if (key.startsWith('impossible_travel_http_request_duration_seconds_sum')) requestSeconds += value;
  }
  const young = metric(m, 'nodejs_heap_space_size_used_bytes{space="new"}') + metric(m, 'nodejs_heap_space_size_used_bytes{space="new_large_object"}');
  return {
    atS,
    rss: metric(found, 'process_resident_memory_bytes') / MIB,
    heapUsed: metric(found, 'nodejs_heap_size_used_bytes') / MIB,
    heapTotal: metric(found, 'nodejs_heap_size_total_bytes') / MIB,
    external: metric(found, 'nodejs_external_memory_bytes') / MIB,
    heapLive: (metric(m, 'nodejs_heap_size_used_bytes') - young) / MIB,
    stateKeys: metric(m, 'impossible_travel_state_keys'),
    evictions: metric(m, 'impossible_travel_state_evictions_total'),
    recordsIn: metric(m, 'impossible_travel_records_in_total'),
    requestCount,
    requestSeconds,
    cpuSeconds: metric(m, 'process_cpu_seconds_total'),
  };
}

const COLUMNS = ['t min', 'RSS MiB', 'heap MiB', 'heap tot', 'ext MiB', 'live MiB', 'state keys', 'evictions', 'records in', 'records/s', 'mean ms', 'cpu %', 'load avg'];
const WIDTHS = [5, 7, 8, 8, 7, 8, 10, 10, 11, 9, 7, 5, 14];
const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(WIDTHS[i]!)).join(' ');

function sampleLine(s: Sample, prev: Sample | undefined): string {
  const dt = prev ? s.atS - prev.atS : 0;
  const rate = prev && dt > 0 ? (s.recordsIn - prev.recordsIn) / dt : 0;
  const requests = prev ? s.requestCount - prev.requestCount : 0;
  const meanMs = requests > 0 ? (1000 * (s.requestSeconds - prev!.requestSeconds)) / requests : 0;
  const cpu = prev && dt > 0 ? (100 * (s.cpuSeconds - prev.cpuSeconds)) / dt : 0;
  return line([
    fmt(s.atS / 60, 1),
    fmt(s.rss, 1),
    fmt(s.heapUsed, 1),
    fmt(s.heapTotal, 1),
    fmt(s.external, 1),
    fmt(s.heapLive, 1),
    fmt(s.stateKeys),
    fmt(s.evictions),
    fmt(s.recordsIn),
    prev ? fmt(rate) : '-',
    prev ? fmt(meanMs, 1) : '-',
    prev ? fmt(cpu) : '-',
    loadAverage(),
  ]);
}

/** Least-squares slope (per minute) of y over t (seconds), with its standard error. */
export function slope(points: readonly Point[]): { perMin: number; se: number } {
  const n = points.length;
  if (n < 3) return { perMin: Number.NaN, se: Number.NaN };
  const tMean = points.reduce((a, p) => a + p.t, 0) / n;
  const yMean = points.reduce((a, p) => a + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.t - tMean) ** 2;
    sxy += (p.t - tMean) * (p.y - yMean);
  }
  const b = sxy / sxx;
  let sse = 0;
  for (const p of points) sse += (p.y - (yMean + b * (p.t - tMean))) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  return { perMin: b * 60, se: se * 60 };
}

function verdict(what: string, points: readonly Point[], thresholdMbPerMin: number, recordsPerMin: number): string {
  const { perMin, se } = slope(points);
  const half = Math.floor(points.length / 2);
  const mean = (ps: readonly Point[]): number => ps.reduce((a, p) => a + p.y, 0) / Math.max(1, ps.length);
  const first = mean(points.slice(0, half));
  const second = mean(points.slice(points.length - half));
  const bytesPerRecord = recordsPerMin > 0 ? (perMin * MIB) / recordsPerMin : Number.NaN;
  let word: string;
  if (!Number.isFinite(perMin)) word = 'UNKNOWN (fewer than 3 points)';
  else if (Math.abs(perMin) < thresholdMbPerMin) word = 'FLAT';
  else if (Math.abs(perMin) <= 2 * se) word = 'FLAT within noise';
  else word = perMin > 0 ? 'GROWING' : 'SHRINKING';
  const sign = (x: number, d = 2): string => `${x >= 0 ? '+' : ''}${fmt(x, d)}`;
  return (
    `${what}: ${word}: slope ${sign(perMin)} ± ${fmt(se, 2)} MiB/min over ${points.length} points (${sign(bytesPerRecord, 2)} bytes per record; ` +
    `threshold ${fmt(thresholdMbPerMin, 1)} MiB/min); mean of first half ${fmt(first, 1)} MiB, second half ${fmt(second, 1)} MiB (${sign(second - first, 1)} MiB)`
  );
}

async function main(): Promise<void> {
  const minutes = envNumber('SOAK_MINUTES', 10, 0.1);
  const intervalS = envInt('SOAK_INTERVAL', 30, 1);
  const warmupMinutes = envNumber('SOAK_WARMUP_MINUTES', 3, 0);
  const thresholdMbPerMin = envNumber('SOAK_FLAT_MB_PER_MIN', 1, 0);
  const connections = envInt('SOAK_CONNECTIONS', 4, 1);
  const rate = envInt('SOAK_RATE', 0);
  const batch = envInt('SOAK_BATCH', 100, 1);
  const count = envInt('SOAK_RECORDS', 400_000, batch);
  const keys = envInt('SOAK_KEYS', 200_000, 1);
  const maxKeys = envInt('SOAK_STATE_MAX_KEYS', 50_000, 1);
  const port = envInt('SOAK_PORT', 18_491, 1);
  const openSearchUrl = process.env.OPENSEARCH_URL;
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const seconds = Math.round(minutes * 60);

  let client: Client | undefined;
  let openSearchVersion: string | undefined;
  if (openSearchUrl) {
    client = new Client({ node: openSearchUrl });
    openSearchVersion = ((await client.info()).body as { version: { number: string } }).version.number;
  }
  console.log(machineLine(openSearchVersion ? `${openSearchVersion} at ${openSearchUrl}` : undefined));
  console.log(
    `soak: ${fmt(minutes, 1)} min of POST /enrich (${batch} records per body, ${connections} connections${rate > 0 ? `, ${rate} requests/s` : ', closed loop'})` +
      `${openSearchUrl ? ' and POST /_bulk' : ', pure mode'}; STATE_MAX_KEYS=${fmt(maxKeys)}; sample every ${intervalS} s; run ${run}`,
  );

  let t = Date.now();
  const bodies = enrichBodies(count, keys, 3, batch);
  console.log(`made ${fmt(bodies.length)} bodies (${fmt(count)} records from up to ${fmt(keys)} keys) in ${fmt((Date.now() - t) / 1000, 1)} s`);

  const settings: Record<string, string> = { STATE_MAX_KEYS: String(maxKeys) };
  let bulk: { bodies: Buffer[]; connections: number; batch: number } | undefined;
  const indices = client ? new RunIndices(client, 'soak', run) : undefined;
  if (indices && openSearchUrl) {
    // Templates of this run only (see RunIndices): the shared ones are left alone.
    await indices.create();
    Object.assign(settings, indices.serviceSettings(openSearchUrl));
    const bulkBatch = envInt('SOAK_BULK_BATCH', 500, 1);
    t = Date.now();
    const bb = bulkBodies(envInt('SOAK_BULK_RECORDS', 200_000, bulkBatch), keys, 4, bulkBatch, indices.index);
    console.log(`made ${fmt(bb.length)} _bulk bodies of ${bulkBatch} in ${fmt((Date.now() - t) / 1000, 1)} s`);
    bulk = { bodies: bb, connections: envInt('SOAK_BULK_CONNECTIONS', 2, 1), batch: bulkBatch };
  }

  const service = await startService(port, settings, GC_HOOK_ARGS);
  const onSignal = (): void => {
    console.error('soak: interrupted; stopping the service');
    process.exit(130); // the exit hook of startService kills the child
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const samples: Sample[] = [];
  let keepSampling = true;
  let enrichResult: autocannon.Result;
  let bulkResult: autocannon.Result | undefined;
  const rotation = new Rotation(bodies);
  const bulkRotation = bulk ? new Rotation(bulk.bodies, true) : undefined;
  try {
    const startedMs = Date.now();
    const first = await takeSample(service, startedMs);
    samples.push(first);
    console.log('');
    console.log(line(COLUMNS));
    console.log(sampleLine(first, undefined) + '   (idle, before load)');

    // One sample every SOAK_INTERVAL seconds of load, the last as the load ends.
    const sampling = (async (): Promise<void> => {
      for (let k = 1; k * intervalS <= seconds && keepSampling; k++) {
        const wait = startedMs + k * intervalS * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!keepSampling) break;
        try {
          const s = await takeSample(service, startedMs);
          console.log(sampleLine(s, samples.at(-1)));
          samples.push(s);
        } catch (err) {
          console.log(`sample failed: ${(err as Error).message}`);
        }
      }
    })();

    const enrichRun = autocannon({
      url: `${service.url}/enrich`,
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      connections,
      duration: seconds,
      timeout: 120,
      ...(rate > 0 ? { overallRate: rate } : {}),
      requests: rotation.requests(),
    });
    const bulkRun =
      bulk && bulkRotation
        ? autocannon({
            url: `${service.url}/_bulk`,
            method: 'POST',
            headers: { 'content-type': 'application/x-ndjson' },
            connections: bulk.connections,
            duration: seconds,
            timeout: 120,
            requests: bulkRotation.requests(),
          })
        : undefined;
    [enrichResult, bulkResult] = await Promise.all([enrichRun, bulkRun]);
    // The sample due as the load ends may still be on its way: a few seconds at most.
    const grace = setTimeout(() => (keepSampling = false), 5000);
    await sampling;
    clearTimeout(grace);
  } finally {
    keepSampling = false;
    await service.stop();
    if (client) {
      await indices?.remove().catch(() => undefined);
      await client.close();
    }
  }

  const loaded = samples.slice(1);
  const last = samples.at(-1)!;
  const totalRecords = last.recordsIn - samples[0]!.recordsIn;
  const spanMin = (last.atS - samples[0]!.atS) / 60;
  const recordsPerMin = totalRecords / Math.max(spanMin, 1e-9);
  const full = loaded.find((s) => s.stateKeys >= maxKeys);
  console.log('');
  const summarise = (name: string, r: autocannon.Result, b: number, rot: Rotation): void =>
    console.log(
      `${name}: ${fmt(r['2xx'])} requests ok in ${fmt(r.duration, 0)} s = ${fmt(r['2xx'] / r.duration, 1)} req/s, ${fmt((b * r['2xx']) / r.duration)} records/s; ` +
        `latency ms p50 ${r.latency.p50}, p90 ${r.latency.p90}, p99 ${r.latency.p99}, max ${r.latency.max}; non-2xx ${r.non2xx}, errors ${r.errors}; pool passes ${fmt(rot.passes, 2)}`,
    );
  summarise('POST /enrich', enrichResult, batch, rotation);
  if (bulkResult && bulk && bulkRotation) summarise('POST /_bulk ', bulkResult, bulk.batch, bulkRotation);
  console.log(
    `records in: ${fmt(totalRecords)} (${fmt(recordsPerMin / 60)}/s); state: ${fmt(last.stateKeys)} keys, ${fmt(last.evictions)} evictions; ` +
      (full ? `LRU full (${fmt(maxKeys)} keys) from t=${fmt(full.atS / 60, 1)} min` : `LRU never full (${fmt(maxKeys)} keys): eviction not exercised`),
  );
  const after = loaded.filter((s) => s.atS >= warmupMinutes * 60);
  const atS = (pick: (s: Sample) => number): Point[] => after.map((s) => ({ t: s.atS, y: pick(s) }));
  console.log(`verdict over the ${after.length} samples from t=${fmt(warmupMinutes, 1)} min to t=${fmt(last.atS / 60, 1)} min (least-squares slope; means of the two halves):`);
  console.log(`VERDICT ${verdict('live heap', atS((s) => s.heapLive), thresholdMbPerMin, recordsPerMin)}`);
  console.log(`VERDICT ${verdict('RSS outside the V8 heap', atS((s) => s.rss - s.heapTotal), thresholdMbPerMin, recordsPerMin)}`);
  console.log(`VERDICT ${verdict('RSS', atS((s) => s.rss), thresholdMbPerMin, recordsPerMin)}`);
  const committed = slope(atS((s) => s.heapTotal));
  console.log(
    `(V8's committed heap moved ${committed.perMin >= 0 ? '+' : ''}${fmt(committed.perMin, 2)} MiB/min: V8 sizes it to the allocation rate, which follows the CPU the service gets; ` +
      `RSS is that plus the memory outside the heap)`,
  );
  console.log(`for reference, the same fit to heap used as found (V8's own GC sawtooth): ${verdict('heap used', atS((s) => s.heapUsed), thresholdMbPerMin, recordsPerMin)}`);

  const failed = [
    ['POST /enrich', enrichResult, rotation] as const,
    ...(bulkResult && bulkRotation ? [['POST /_bulk', bulkResult, bulkRotation] as const] : []),
  ].filter(([, r, rot]) => r.non2xx > 0 || r.errors > 0 || rot.bulkItemFailures > 0);
  for (const [name, r, rot] of failed) {
    console.error(`FAILED ${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${rot.bulkItemFailures} _bulk answers with item errors: the soak is void`);
    for (const f of rot.failures) console.error(`  ${f}`);
  }
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench:soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
