/**
 * `npm run bench`: what the detection costs, in process, against the cheapest thing a service
 * handling CloudTrail could do.
 *
 * Throughput. 200,000 synthetic records (bench/records.ts: thousands of keys, repeated and
 * distinct addresses, service names, private addresses, a few impossible journeys) are cut into
 * request bodies of 1,000 records, as NDJSON (or S3 log files with BENCH_FORMAT=s3). Each body
 * then goes through
 *  - the bare pass: bytes to text (with the service's own decoders, `bodyLines` for NDJSON and
 *    `decodeText` for a whole JSON body), `JSON.parse` of every
 *    record, `JSON.stringify` of the result;
 *  - the pipeline: what POST /enrich does with it, minus HTTP: `readRecords` (server/input.ts),
 *    `pipeline.run` with the real GeoIP database and a MemoryStateStore, and the answer's text
 *    `{docs, alerts}` as the route writes it (`answerJson`: each record's own line with the
 *    added fields spliced in, server/doc-json.ts).
 * After a warm-up, each round runs both over all bodies, alternating every 20 bodies (so that
 * other processes on the machine weigh on both alike), with a fresh GeoIP cache and a fresh
 * state, as a newly started service would see them. The figure is the pipeline's throughput over
 * the bare pass's, median of the rounds; the target is at least 0.70.
 *
 * Memory. 1,000,000 records, each by an access key of its own and from an address the database
 * locates, go through a fresh pipeline; the heap (and off-heap buffers) grow by what the state
 * keeps. The GeoIP cache is filled to its capacity beforehand, so that its growth is not counted
 * as state. The target is at most 300 MB. STATE_MAX_KEYS defaults to 1,000,000: all keys must
 * stay, with no eviction.
 *
 * Figures are printed, never asserted: timing does not belong in tests. Counts can be changed:
 * BENCH_RECORDS, BENCH_KEYS, BENCH_BATCH, BENCH_ROUNDS, BENCH_SEED, BENCH_FORMAT (ndjson | s3),
 * BENCH_MEMORY_KEYS (0 skips the memory part). Run with --expose-gc (the npm script does).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { GeoIpDatabase } from '../processors/geoip-database.js';
import { createPipeline, type Pipeline } from '../processors/pipeline.js';
import { MemoryStateStore } from '../processors/state.js';
import { loadConfig, packageRoot, type Config } from '../server/config.js';
import type { SourceText } from '../server/doc-json.js';
import { bodyLines, decodeText, readRecords } from '../server/input.js';
import { silentLogger, type Logger } from '../server/log.js';
import { answerJson } from '../server/routes/enrich.js';
import { envInt, median } from './env.js';
import { AWS_REGIONS, METROS, batches, distinctKeyRecords, streamRecords, toNdjson, toS3LogFile, type Incident } from './records.js';

const THROUGHPUT_TARGET = 0.7;
const MEMORY_TARGET_MB = 300;
const CHUNK_BODIES = 20;

const RECORDS = envInt('BENCH_RECORDS', 200_000);
const KEYS = envInt('BENCH_KEYS', 5_000);
const BATCH = Math.max(1, envInt('BENCH_BATCH', 1_000));
const ROUNDS = Math.max(1, envInt('BENCH_ROUNDS', 5));
const SEED = envInt('BENCH_SEED', 1);
const MEMORY_KEYS = envInt('BENCH_MEMORY_KEYS', 1_000_000);
const FORMAT = (process.env.BENCH_FORMAT ?? 'ndjson').toLowerCase();
if (FORMAT !== 'ndjson' && FORMAT !== 's3') throw new Error(`BENCH_FORMAT must be ndjson or s3, not "${FORMAT}"`);
const CONTENT_TYPE = FORMAT === 'ndjson' ? 'application/x-ndjson' : 'application/json';

const gc: () => void = typeof globalThis.gc === 'function' ? (globalThis.gc as () => void) : () => {};

// ---------------------------------------------------------------------------------------------
// Printing

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits = 2): string => n.toFixed(digits);
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const pad = (s: string, n: number): string => s.padStart(n);

function line(label: string, value: string): void {
  console.log(`${label.padEnd(12)}${value}`);
}

// ---------------------------------------------------------------------------------------------
// The two passes over one body

/** The floor: text, `JSON.parse` of each record, `JSON.stringify` of the lot. Returns output length. */
function barePass(body: Buffer): number {
  // The service's own bytes-to-text steps (ASCII fast paths), so that only the JSON work differs.
  let records: unknown[];
  if (FORMAT === 'ndjson') {
    records = [];
    for (const line of bodyLines(body)!) if (line.length > 0) records.push(JSON.parse(line));
  } else {
    records = (JSON.parse(decodeText(body)!) as { Records: unknown[] }).Records;
  }
  return JSON.stringify(records).length;
}

interface Service {
  readonly geoip: GeoIpDatabase;
  readonly store: MemoryStateStore;
  readonly pipeline: Pipeline;
  readonly log: Logger;
}

function openGeoIp(config: Config): GeoIpDatabase {
  return new GeoIpDatabase({ paths: config.geoip.cityDbPaths, reloadIntervalMs: 0, cacheSize: config.geoip.cacheSize });
}

function freshService(config: Config, geoip: GeoIpDatabase = openGeoIp(config)): Service {
  const log = silentLogger();
  const store = new MemoryStateStore(config.state);
  const pipeline = createPipeline({ detection: config.detection, geoip, store, log });
  return { geoip, store, pipeline, log };
}

interface PassOutput {
  bytes: number;
  alerts: Record<string, unknown>[];
}

/** What POST /enrich does with a body, minus HTTP (and, if `serialise` is false, the answer). */
async function pipelinePass(service: Service, body: Buffer, maxBytes: number, out: PassOutput, serialise = true): Promise<void> {
  const texts: (SourceText | undefined)[] = [];
  const records = readRecords(body, { contentType: CONTENT_TYPE, contentEncoding: undefined, maxBytes }, texts);
  const result = await service.pipeline.run(records, service.log.child({ route: 'enrich' }));
  // The answer POST /enrich sends (without OpenSearch): the same function writes it.
  if (serialise) out.bytes += answerJson({ docs: result.docs, alerts: result.alerts }, texts).length;
  for (const alert of result.alerts) out.alerts.push(alert);
}

/** Every record must have gone through: a pipeline that failed records would look fast. Checked outside the timing. */
function checkNoRecordFailed(service: Service): void {
  const failed = service.pipeline.counters.recordErrors;
  if (failed > 0) throw new Error(`${failed} records failed in the pipeline pass; the figures would mean nothing`);
}

// ---------------------------------------------------------------------------------------------
// Throughput

interface Round {
  baselineMs: number;
  pipelineMs: number;
  baselineCpuMs: number;
  pipelineCpuMs: number;
  alerts: Record<string, unknown>[];
  counters: Pipeline['counters'];
  outputBytes: number;
  baselineBytes: number;
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function runRound(config: Config, bodies: readonly Buffer[], pipelineFirst: boolean): Promise<Round> {
  const service = freshService(config);
  const out: PassOutput = { bytes: 0, alerts: [] };
  const round: Round = { baselineMs: 0, pipelineMs: 0, baselineCpuMs: 0, pipelineCpuMs: 0, alerts: out.alerts, counters: service.pipeline.counters, outputBytes: 0, baselineBytes: 0 };
  for (let c = 0; c < bodies.length; c += CHUNK_BODIES) {
    const chunk = bodies.slice(c, c + CHUNK_BODIES);
    for (const which of pipelineFirst ? ['pipeline', 'baseline'] : ['baseline', 'pipeline']) {
      gc();
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      if (which === 'baseline') {
        for (const body of chunk) round.baselineBytes += barePass(body);
        round.baselineMs += performance.now() - t0;
        round.baselineCpuMs += cpuMs(cpu);
      } else {
        for (const body of chunk) await pipelinePass(service, body, config.maxBodyBytes, out);
        round.pipelineMs += performance.now() - t0;
        round.pipelineCpuMs += cpuMs(cpu);
        checkNoRecordFailed(service);
      }
    }
  }
  round.outputBytes = out.bytes;
  service.geoip.close();
  return round;
}

async function throughput(config: Config): Promise<void> {
  // Build the bodies, never holding all the records at once.
  const incidents: Incident[] = [];
  const bodies: Buffer[] = [];
  const keys = new Set<string>();
  const sources = new Set<string>();
  let inputBytes = 0;
  const tGen = performance.now();
  for (const batch of batches(streamRecords({ count: RECORDS, keys: KEYS, seed: SEED, onIncident: (i) => incidents.push(i) }), BATCH)) {
    for (const r of batch) {
      const id = (r.userIdentity as { accessKeyId?: unknown } | undefined)?.accessKeyId;
      if (typeof id === 'string') keys.add(id);
      sources.add(String(r.sourceIPAddress));
    }
    const body = FORMAT === 'ndjson' ? toNdjson(batch) : toS3LogFile(batch);
    inputBytes += body.length;
    bodies.push(body);
  }
  const genMs = performance.now() - tGen;
  line('data', `${int(RECORDS)} records (seed ${SEED}): ${int(keys.size)} access keys, ${int(sources.size)} distinct sourceIPAddress values, ${incidents.length} impossible journeys planted`);
  line('', `${bodies.length} bodies of ${int(BATCH)} records as ${FORMAT === 'ndjson' ? 'NDJSON' : 'S3 log files {"Records": [...]}'}, ${mb(inputBytes)} MB (${int(inputBytes / RECORDS)} bytes/record), made in ${fixed(genMs / 1000, 1)} s`);

  // Warm-up: let the JIT see both passes before anything is timed.
  const warm = bodies.slice(0, Math.min(bodies.length, 2 * CHUNK_BODIES));
  const tWarm = performance.now();
  await runRound(config, warm, false);
  line('warm-up', `${int(warm.length * BATCH)} records through both, ${fixed((performance.now() - tWarm) / 1000, 1)} s`);
  console.log();

  console.log(`throughput: ${ROUNDS} rounds; in each, bare pass and pipeline alternate every ${CHUNK_BODIES} bodies, with a fresh GeoIP cache and state`);
  console.log(`${'round'.padEnd(7)}${pad('bare pass rec/s', 17)}${pad('pipeline rec/s', 16)}${pad('ratio', 8)}${pad('cpu ratio', 11)}`);
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = await runRound(config, bodies, r % 2 === 1);
    rounds.push(round);
    const ratio = round.baselineMs / round.pipelineMs;
    console.log(
      `${String(r + 1).padEnd(7)}${pad(int(RECORDS / (round.baselineMs / 1000)), 17)}${pad(int(RECORDS / (round.pipelineMs / 1000)), 16)}` +
        `${pad(fixed(ratio), 8)}${pad(fixed(round.baselineCpuMs / round.pipelineCpuMs), 11)}`,
    );
  }
  const ratios = rounds.map((r) => r.baselineMs / r.pipelineMs);
  const medBaseline = median(rounds.map((r) => RECORDS / (r.baselineMs / 1000)));
  const medPipeline = median(rounds.map((r) => RECORDS / (r.pipelineMs / 1000)));
  const ratio = median(ratios);
  const cpuRatio = median(rounds.map((r) => r.baselineCpuMs / r.pipelineCpuMs));
  console.log(`${'median'.padEnd(7)}${pad(int(medBaseline), 17)}${pad(int(medPipeline), 16)}${pad(fixed(ratio), 8)}${pad(fixed(cpuRatio), 11)}`);
  console.log(`(ratio: pipeline throughput / bare-pass throughput, wall clock; cpu ratio: the same from process CPU time. Spread of ratios ${fixed(Math.min(...ratios))}-${fixed(Math.max(...ratios))}.)`);

  const last = rounds[rounds.length - 1]!;
  const c = last.counters;
  line('per round', `${int(c.located)} records located and judged (${fixed((100 * c.located) / RECORDS, 1)}%), ${int(c.geoipMisses)} addresses the database does not place, ${c.recordErrors} record errors`);
  line('', `output ${mb(last.outputBytes)} MB against ${mb(last.baselineBytes)} MB for the bare pass (+${int((last.outputBytes - last.baselineBytes) / RECORDS)} bytes/record)`);
  const planted = new Set(incidents.map((i) => i.accessKeyId));
  const alertKeys = last.alerts.map((a) => String((a.userIdentity as { accessKeyId?: unknown }).accessKeyId));
  const detected = incidents.filter((i) => alertKeys.includes(i.accessKeyId)).length;
  const elsewhere = alertKeys.filter((k) => !planted.has(k)).length;
  line('alerts', `${last.alerts.length} raised per round; ${detected} of ${incidents.length} planted journeys detected; ${elsewhere} alerts on other keys`);
  console.log();
  const met = ratio >= THROUGHPUT_TARGET;
  // Three decimals: at two, a ratio of 0.695 printed as 0.70 beside "NOT met".
  console.log(`ratio ${fixed(ratio, 3)} (target >= ${fixed(THROUGHPUT_TARGET)}): ${met ? 'met' : 'NOT met'}`);
  console.log(`  bare pass ${int(medBaseline)} records/s, pipeline ${int(medPipeline)} records/s (medians)`);
}

// ---------------------------------------------------------------------------------------------
// Memory

interface Mem {
  heapUsed: number;
  external: number;
}

function settle(): Mem {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external };
}

/** Looks up every address the memory records can come from, so the GeoIP cache is at capacity. */
function fillGeoIpCache(geoip: GeoIpDatabase, capacity: number): number {
  let n = 0;
  const networks = [...METROS.flatMap((m) => m.v4), ...AWS_REGIONS.flatMap((r) => r.v4)];
  for (let host = 1; host <= 254 && n < capacity + 10_000; host++) {
    for (const net of networks) {
      geoip.lookup(`${net}.${host}`);
      n++;
    }
  }
  return n;
}

async function memory(config: Config): Promise<void> {
  console.log(`memory: ${int(MEMORY_KEYS)} distinct access keys, one located record each, through a fresh pipeline in bodies of ${int(BATCH)}`);
  const geoip = openGeoIp(config);
  const filled = fillGeoIpCache(geoip, config.geoip.cacheSize);
  line('geoip cache', `filled beforehand with ${int(filled)} lookups (capacity GEOIP_CACHE_SIZE ${int(config.geoip.cacheSize)}), so the figure below is the state's`);
  const before = settle();
  let service: Service | undefined = freshService(config, geoip);
  const out: PassOutput = { bytes: 0, alerts: [] };
  const t0 = performance.now();
  for (const batch of batches(distinctKeyRecords({ count: MEMORY_KEYS, seed: SEED + 6 }), BATCH)) {
    const body = FORMAT === 'ndjson' ? toNdjson(batch) : toS3LogFile(batch);
    await pipelinePass(service, body, config.maxBodyBytes, out, false);
    out.alerts.length = 0;
  }
  const feedMs = performance.now() - t0;
  checkNoRecordFailed(service);
  const after = settle();
  const stats = service.store.stats();
  const located = service.pipeline.counters.located;
  const heap = after.heapUsed - before.heapUsed;
  const external = after.external - before.external;
  const total = heap + external;
  line('fed', `${int(MEMORY_KEYS)} records in ${fixed(feedMs / 1000, 1)} s (${int(MEMORY_KEYS / (feedMs / 1000))} records/s, generation and parsing included; answers not serialised), ${int(located)} located`);
  line('state', `stats() ${JSON.stringify(stats)}; STATE_MAX_KEYS ${int(config.state.maxKeys)}`);
  if (stats.keys !== MEMORY_KEYS || stats.keyEvictions !== 0) {
    console.log(`  WARNING: expected ${int(MEMORY_KEYS)} keys and no evictions; the figure below is not the state of ${int(MEMORY_KEYS)} keys`);
  }
  line('growth', `heap used +${mb(heap)} MB, off-heap (external) +${mb(external)} MB: ${mb(total)} MB, ${int(total / Math.max(1, stats.keys))} bytes per key`);
  // What only the state holds: released once nothing refers to it any more.
  service = undefined;
  const released = settle();
  const freed = after.heapUsed + after.external - (released.heapUsed + released.external);
  line('released', `${mb(freed)} MB freed when the state is dropped (${int(freed / Math.max(1, stats.keys))} bytes per key)`);
  geoip.close();
  console.log();
  const met = total / 1024 / 1024 <= MEMORY_TARGET_MB && stats.keys === MEMORY_KEYS && stats.keyEvictions === 0;
  console.log(`memory ${mb(total)} MB for ${int(stats.keys)} keys (target <= ${MEMORY_TARGET_MB} MB for ${int(MEMORY_KEYS)}): ${met ? 'met' : 'NOT met'}`);
}

// ---------------------------------------------------------------------------------------------

function geoipVersion(root: string): string {
  try {
    return readFileSync(join(root, 'data/geoip/VERSION'), 'utf8').trim();
  } catch {
    return 'version unknown';
  }
}

async function main(): Promise<void> {
  const config = loadConfig({});
  const started = performance.now();
  const cpus = os.cpus();
  const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log('impossible-travel: pipeline benchmark (npm run bench)');
  line('date', new Date().toISOString());
  line('machine', `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${fixed(os.totalmem() / 1024 ** 3, 1)} GiB RAM, ${os.platform()} ${os.release()} ${os.arch()}`);
  line('node', `${process.version} (V8 ${process.versions.v8})${typeof globalThis.gc === 'function' ? '' : '; WARNING: run with --expose-gc, figures are rougher without it'}`);
  line('load', `${load()} (1, 5, 15 min) at start: other processes share the CPU, and the figures with it`);
  const probe = openGeoIp(config);
  line('geoip', `${probe.description.map((d) => `${d.type} IPv${d.ipVersion} built ${d.buildEpoch.slice(0, 10)}`).join(', ')} (${geoipVersion(packageRoot())})`);
  probe.close();
  line('settings', `STATE_MAX_KEYS ${int(config.state.maxKeys)}, GEOIP_CACHE_SIZE ${int(config.geoip.cacheSize)}, MIN_DISTANCE_KM ${config.detection.minDistanceKm}, MAX_SPEED_KMH ${config.detection.maxSpeedKmh}`);
  console.log();

  if (RECORDS > 0) await throughput(config);
  if (MEMORY_KEYS > 0) {
    console.log();
    await memory(config);
  }
  console.log();
  line('load', `${load()} at the end; total run ${fixed((performance.now() - started) / 1000, 0)} s`);
}

await main();
