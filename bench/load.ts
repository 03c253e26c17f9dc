/**
 * `npm run bench:load` (after `npm run build`): HTTP load on the built service, with autocannon.
 *
 * The service runs as a child process (`node dist/server/main.js`), as in production, and the load
 * comes from autocannon in this process, over keep-alive connections to 127.0.0.1. Scenarios:
 *  - enrich: `POST /enrich` in the pure processor mode (no OPENSEARCH_URL given to the service):
 *    NDJSON bodies of LOAD_ENRICH_BATCH (100) CloudTrail records, LOAD_ENRICH_CONNECTIONS (8)
 *    connections;
 *  - bulk: `POST /_bulk` with OpenSearch: bodies of LOAD_BULK_BATCH (500) `index` actions,
 *    `_id` = eventID, into a CloudTrail index of this run, LOAD_BULK_CONNECTIONS (4) connections.
 *    The service gets alerts and state indices, and templates, named for this run (never the
 *    shared ones, which other runs on the same node rely on); all are deleted afterwards.
 * The bodies are made beforehand from bench/records.ts (realistic CloudTrail: thousands of keys,
 * skewed activity, travellers, impossible journeys) and sent in turn, each connection taking the
 * next body of one shared rotation, so that every request carries records not seen before and
 * the detection state grows as it would. If a run outlasts the pool, the rotation starts over and
 * the notes under the table say so (`passes` > 1).
 *
 * Each scenario: LOAD_WARMUP seconds (10) of the same load, then LOAD_DURATION seconds (30)
 * measured. Printed: requests/s, records/s, latency p50/p90/p99/max in ms (autocannon's
 * histogram, 1 ms resolution), non-2xx answers, connection errors; then per scenario what the
 * service counted, its time per stage, where the CPU went (service, autocannon, OpenSearch, the
 * rest of the machine: a shared machine shows there) and records per CPU-second. Any
 * non-2xx answer, connection error or `_bulk` item failure makes the run exit 1 after printing:
 * figures measured against failures mean nothing. Timing is never asserted.
 *
 *   LOAD_SCENARIOS (enrich,bulk)  LOAD_DURATION (30)  LOAD_WARMUP (10)
 *   LOAD_ENRICH_CONNECTIONS (8)  LOAD_ENRICH_BATCH (100)  LOAD_ENRICH_RECORDS (1000000: pool size)
 *   LOAD_BULK_CONNECTIONS (4)  LOAD_BULK_BATCH (500)  LOAD_BULK_RECORDS (300000: pool size)
 *   LOAD_KEYS (20000)  LOAD_PORT (18490)  OPENSEARCH_URL (http://127.0.0.1:9200)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@opensearch-project/opensearch';
import autocannon from 'autocannon';
import { SETTING_NAMES, packageRoot } from '../server/config.js';
import { setup } from '../server/setup.js';
import { SERVICE_NODE_ARGS } from '../server/runtime.js';
import { envInt } from './env.js';
import { batches, streamRecords, toNdjson } from './records.js';

// ---------------------------------------------------------------------------------------------
// Shared with bench/soak.ts

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** `dist/server/main.js` must exist, and should not be older than the sources it was built from. */
export function checkBuild(root: string): void {
  const main = join(root, 'dist/server/main.js');
  if (!existsSync(main)) throw new Error('dist/server/main.js is missing: run `npm run build` first');
  const built = statSync(main).mtimeMs;
  let newest = 0;
  let newestFile = '';
  for (const dir of ['server', 'server/routes', 'processors']) {
    for (const f of readdirSync(join(root, dir))) {
      if (!f.endsWith('.ts')) continue;
      const m = statSync(join(root, dir, f)).mtimeMs;
      if (m > newest) [newest, newestFile] = [m, `${dir}/${f}`];
    }
  }
  if (newest > built) console.warn(`warning: ${newestFile} is newer than dist/: the service measured may be stale (npm run build)`);
}

export interface RunningService {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The indices and templates of one benchmark run against OpenSearch, named after the run. The
 * templates are this run's only, above the shared ones' priorities (200-220) so that they win for
 * this run's indices; the service does not install its own (SETUP_ON_START=false), which would
 * repoint the shared templates at this run's indices under other users of the node.
 */
export class RunIndices {
  readonly index: string;
  readonly alertsIndex: string;
  readonly stateIndex: string;
  private readonly templatePrefix: string;

  constructor(
    private readonly client: Client,
    kind: string,
    run: string,
  ) {
    this.index = `cloudtrail-${kind}-${run}`;
    this.alertsIndex = `it-${kind}-${run}-alerts`;
    this.stateIndex = `it-${kind}-${run}-state`;
    this.templatePrefix = `it-${kind}-${run}`;
  }

  async create(): Promise<void> {
    const { index, alertsIndex, stateIndex, templatePrefix } = this;
    await setup(this.client, { cloudtrailIndexPattern: `${index}*`, alertsIndex, stateIndex, templatePrefix, priority: 5000, replicas: 0 });
    await this.client.indices.create({ index });
  }

  /** The service settings that point it at these indices. */
  serviceSettings(openSearchUrl: string): Record<string, string> {
    return {
      OPENSEARCH_URL: openSearchUrl,
      ALERTS_INDEX: this.alertsIndex,
      STATE_INDEX: this.stateIndex,
      CLOUDTRAIL_INDEX_PATTERN: `${this.index}*`,
      OPENSEARCH_REPLICAS: '0',
      SETUP_ON_START: 'false',
    };
  }

  /** Deletes the indices, then the templates (those even when the first delete fails). */
  async remove(): Promise<void> {
    try {
      await this.client.indices.delete({ index: `${this.index},${this.alertsIndex}*,${this.stateIndex}`, ignore_unavailable: true } as never);
    } finally {
      for (const kind of ['cloudtrail', 'alerts', 'state']) {
        await this.client.indices.deleteIndexTemplate({ name: `${this.templatePrefix}-${kind}` }).catch(() => undefined);
      }
    }
  }
}

const SERVICE_SCRIPT = 'dist/server/main.js';

/**
 * Starts `node dist/server/main.js` (or another `script` serving `/healthz`, such as
 * bench/floor-proxy.ts) with only the settings given: every setting the service reads is removed
 * from the inherited environment first, so that an exported OPENSEARCH_URL, API_KEYS or
 * CONFIG_FILE cannot change what is measured.
 */
export async function startService(port: number, settings: Record<string, string>, nodeArgs: readonly string[] = [], script = SERVICE_SCRIPT): Promise<RunningService> {
  const root = packageRoot();
  if (script === SERVICE_SCRIPT) checkBuild(root);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...SETTING_NAMES, 'CONFIG_FILE']) delete env[name];
  Object.assign(env, { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' }, settings);
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...nodeArgs, script], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const kill = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(kill, 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode} before becoming healthy`);
      if (i >= 240) throw new Error(`the service did not answer ${url}/healthz within 60 s`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, stop };
}

/** The service's /metrics as `name{labels}` -> value. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export const metric = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

/** The CPU time OpenSearch's node has used (the node the client talks to), in milliseconds, and when it was read (epoch ms). */
async function openSearchCpu(client: Client): Promise<{ cpuMs: number; at: number }> {
  const stats = (await client.nodes.stats({ node_id: '_local', metric: ['process'] })).body as {
    nodes: Record<string, { process: { timestamp?: number; cpu: { total_in_millis: number } } }>;
  };
  const process = Object.values(stats.nodes)[0]?.process;
  return { cpuMs: process?.cpu.total_in_millis ?? 0, at: process?.timestamp ?? Number.POSITIVE_INFINITY };
}

/**
 * The CPU time OpenSearch's node has used so far, in milliseconds, as read at `since` (epoch ms) or
 * later. The node reads its process figures at most once a second (`monitor.process.refresh_interval`)
 * and answers the cached ones in between, so a reading taken right after a run can leave out the
 * run's last second; this one waits for a fresh one (at most 3 s, for a node whose clock differs).
 */
export async function openSearchCpuMs(client: Client, since = Date.now()): Promise<number> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const reading = await openSearchCpu(client);
    if (reading.at >= since || Date.now() >= deadline) return reading.cpuMs;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until OpenSearch has finished the work a run left behind (refreshes, segment merges, the
 * service's last state writes): until the node spends less than `busyMs` of CPU in each of two
 * consecutive `windowMs` windows, or `maxMs` has passed. Returns the seconds waited. A run that
 * starts while the previous one's merges still run pays for them, whichever way that run was.
 */
export async function openSearchQuiet(client: Client, { busyMs = 50, windowMs = 1000, maxMs = 60_000 } = {}): Promise<number> {
  const started = Date.now();
  let quietWindows = 0;
  let before = await openSearchCpuMs(client);
  while (quietWindows < 2 && Date.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = await openSearchCpuMs(client); // a fresh reading: a cached one would look quiet
    quietWindows = now - before < busyMs ? quietWindows + 1 : 0;
    before = now;
  }
  return (Date.now() - started) / 1000;
}

/** Busy and total CPU time of the whole machine (all processes), in seconds, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const hz = 100; // USER_HZ on Linux
    return { busy: (total - idle) / hz, total: total / hz };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

export function machineLine(openSearchVersion?: string): string {
  const cpus = os.cpus();
  const parts = [
    `machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'} x${cpus.length}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB`,
    `${os.type()} ${os.release()}`,
    `node ${process.version}`,
  ];
  if (openSearchVersion) parts.push(`OpenSearch ${openSearchVersion}`);
  parts.push(`code ${codeVersion()}`);
  parts.push(new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
  return parts.join(', ');
}

/** The commit measured, and whether the service's sources differed from it when this ran. */
export function codeVersion(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'server', 'processors').length > 0;
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in server/ or processors/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** NDJSON bodies of `batch` records each (a last, shorter slice is dropped: every request is alike). */
export function enrichBodies(count: number, keys: number, seed: number, batch: number): Buffer[] {
  const bodies: Buffer[] = [];
  for (const b of batches(streamRecords({ count, keys, seed }), batch)) if (b.length === batch) bodies.push(toNdjson(b));
  return bodies;
}

/** `_bulk` bodies of `batch` `index` actions into `index`, `_id` = the record's eventID. */
export function bulkBodies(count: number, keys: number, seed: number, batch: number, index: string): Buffer[] {
  const bodies: Buffer[] = [];
  for (const b of batches(streamRecords({ count, keys, seed }), batch)) {
    if (b.length !== batch) continue;
    let text = '';
    for (const r of b) text += `{"index":{"_index":"${index}","_id":"${String(r.eventID)}"}}\n${JSON.stringify(r)}\n`;
    bodies.push(Buffer.from(text, 'utf8'));
  }
  return bodies;
}

/** Bodies handed out in turn to every connection, a failure log, and `_bulk` item checks. */
export class Rotation {
  sent = 0;
  /** Answers >= 300, warm-up included (autocannon's own count covers one run only). */
  non2xx = 0;
  bulkItemFailures = 0;
  readonly failures: string[] = [];

  constructor(
    readonly bodies: readonly Buffer[],
    private readonly checkBulkItems = false,
  ) {
    if (bodies.length === 0) throw new Error('no request bodies');
  }

  /** autocannon's `requests`: one request whose body is the next of the rotation. */
  requests(): autocannon.Request[] {
    return [
      {
        setupRequest: (req) => {
          req.body = this.bodies[this.sent++ % this.bodies.length]!;
          return req;
        },
        onResponse: (status, body) => {
          if (status >= 300) {
            this.non2xx++;
            if (this.failures.length < 5) this.failures.push(`${status} ${body.slice(0, 300)}`);
          } else if (this.checkBulkItems && body.slice(0, 64).includes('"errors":true')) {
            this.bulkItemFailures++;
            if (this.failures.length < 5) this.failures.push(`200 with item errors: ${body.slice(0, 600)}`);
          }
        },
      },
    ];
  }

  get passes(): number {
    return this.sent / this.bodies.length;
  }
}

// ---------------------------------------------------------------------------------------------
// The load test

interface ScenarioResult {
  readonly name: string;
  readonly result: autocannon.Result;
  readonly batch: number;
  readonly rotation: Rotation;
  readonly notes: string[];
  readonly warmupErrors: number;
}

const STAGES = ['parse', 'enrich', 'state_prepare', 'detect', 'state_commit', 'alerts_write', 'forward'];

async function runScenario(options: {
  name: string;
  service: RunningService;
  path: string;
  connections: number;
  batch: number;
  bodies: Buffer[];
  warmupSeconds: number;
  seconds: number;
  checkBulkItems: boolean;
  openSearchCpuMs?: () => Promise<number>;
}): Promise<ScenarioResult> {
  const { name, service, connections, seconds } = options;
  let warmupErrors = 0;
  const rotation = new Rotation(options.bodies, options.checkBulkItems);
  const cannon = (duration: number): Promise<autocannon.Result> =>
    autocannon({
      url: `${service.url}${options.path}`,
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      connections,
      duration,
      timeout: 120,
      requests: rotation.requests(),
    });

  if (options.warmupSeconds > 0) {
    console.log(`${name}: warming up for ${options.warmupSeconds} s ...`);
    const warm = await cannon(options.warmupSeconds);
    if (warm.non2xx > 0 || warm.errors > 0) console.log(`${name}: warm-up had ${warm.non2xx} non-2xx answers and ${warm.errors} errors (the run will fail)`);
    warmupErrors += warm.errors;
  }
  const before = await scrape(service.url);
  const cpu0 = machineCpu();
  const own0 = process.cpuUsage();
  const os0 = options.openSearchCpuMs ? await options.openSearchCpuMs() : 0;
  const load0 = loadAverage();
  console.log(`${name}: measuring for ${seconds} s with ${connections} connections (load average ${load0}) ...`);
  const result = await cannon(seconds);
  const cpu1 = machineCpu();
  const own1 = process.cpuUsage(own0);
  const os1 = options.openSearchCpuMs ? await options.openSearchCpuMs() : 0;
  const after = await scrape(service.url);

  const d = (key: string): number => metric(after, key) - metric(before, key);
  const wall = result.duration;
  const serviceCpu = d('process_cpu_seconds_total');
  const benchCpu = (own1.user + own1.system) / 1e6;
  const openSearchCpu = (os1 - os0) / 1000;
  const machineBusy = cpu1.busy - cpu0.busy;
  const others = machineBusy - serviceCpu - benchCpu - (options.openSearchCpuMs ? openSearchCpu : 0);
  const cores = os.cpus().length;
  const pct = (s: number): string => `${fmt((100 * s) / wall)}%`;
  const stages = STAGES.map((s) => [s, d(`impossible_travel_stage_duration_seconds_sum{stage="${s}"}`)] as const)
    .filter(([, v]) => v > 0)
    .map(([s, v]) => `${s} ${fmt(v, 1)}`);
  const records = result['2xx'] * options.batch;
  const perCpu = (label: string, cpuSeconds: number): string => `${fmt(records / cpuSeconds)} records per ${label} CPU-second`;
  const notes = [
    `requests ${fmt(result['2xx'])} ok of ${fmt(result.requests.sent)} sent in ${fmt(wall, 1)} s; ` +
      `body ${fmt(options.bodies[0]!.length / 1024)} KiB; pool ${fmt(options.bodies.length)} bodies, passes ${fmt(rotation.passes, 2)} (incl. warm-up)`,
    `service counted: ${fmt(d('impossible_travel_records_in_total'))} records in, ${fmt(d('impossible_travel_records_located_total'))} located, ` +
      `${fmt(d('impossible_travel_alerts_total'))} alerts; state ${fmt(metric(after, 'impossible_travel_state_keys'))} keys, ` +
      `RSS ${fmt(metric(after, 'process_resident_memory_bytes') / 2 ** 20)} MiB, heap used ${fmt(metric(after, 'nodejs_heap_size_used_bytes') / 2 ** 20)} MiB`,
    `service stage time, s summed over requests: ${stages.join(', ')}`,
    `CPU over the run (100% = one core, ${cores} cores): service ${pct(serviceCpu)}, autocannon ${pct(benchCpu)}` +
      (options.openSearchCpuMs ? `, OpenSearch ${pct(openSearchCpu)}` : '') +
      `, everything else ${pct(Math.max(0, others))}, machine ${pct(machineBusy)} of ${cores * 100}%; load average before ${load0}, after ${loadAverage()}`,
    `cost: ${perCpu('service', serviceCpu)}` + (options.openSearchCpuMs ? `, ${perCpu('service + OpenSearch', serviceCpu + openSearchCpu)}` : ''),
  ];
  if (options.checkBulkItems) notes.push(`_bulk answers with item errors: ${rotation.bulkItemFailures}`);
  return { name, result, batch: options.batch, rotation, notes, warmupErrors };
}

function printTable(rows: readonly ScenarioResult[]): void {
  const header = ['scenario', 'req/s', 'records/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors'];
  const lines = rows.map((r) => {
    const ok = r.result['2xx'];
    const rps = ok / r.result.duration;
    const l = r.result.latency;
    return [r.name, fmt(rps, 1), fmt(rps * r.batch), fmt(l.p50), fmt(l.p90), fmt(l.p99), fmt(l.max), fmt(r.result.non2xx), fmt(r.result.errors)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(row(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(row(l));
}

async function main(): Promise<void> {
  const onSignal = (): void => {
    console.error('bench:load: interrupted');
    process.exit(130); // the exit hook of startService kills the service
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const scenarios = (process.env.LOAD_SCENARIOS ?? 'enrich,bulk').split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (s !== 'enrich' && s !== 'bulk') throw new Error(`LOAD_SCENARIOS: unknown scenario "${s}" (enrich, bulk)`);
  const seconds = envInt('LOAD_DURATION', 30, 1);
  const warmupSeconds = envInt('LOAD_WARMUP', 10);
  const keys = envInt('LOAD_KEYS', 20_000, 1);
  const port = envInt('LOAD_PORT', 18_490, 1);
  const openSearchUrl = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const results: ScenarioResult[] = [];

  let client: Client | undefined;
  let openSearchVersion: string | undefined;
  if (scenarios.includes('bulk')) {
    client = new Client({ node: openSearchUrl });
    try {
      openSearchVersion = ((await client.info()).body as { version: { number: string } }).version.number;
    } catch (err) {
      throw new Error(`the bulk scenario needs OpenSearch at ${openSearchUrl} (set OPENSEARCH_URL, or LOAD_SCENARIOS=enrich): ${(err as Error).message}`);
    }
  }
  console.log(machineLine(openSearchVersion ? `${openSearchVersion} at ${openSearchUrl}` : undefined));
  console.log(`load average at start: ${loadAverage()}; run ${run}; ${seconds} s measured after ${warmupSeconds} s warm-up per scenario`);

  try {
    if (scenarios.includes('enrich')) {
      const batch = envInt('LOAD_ENRICH_BATCH', 100, 1);
      const connections = envInt('LOAD_ENRICH_CONNECTIONS', 8, 1);
      const count = envInt('LOAD_ENRICH_RECORDS', 1_000_000, batch);
      let t = Date.now();
      const bodies = enrichBodies(count, keys, 1, batch);
      console.log(`enrich: ${fmt(bodies.length)} NDJSON bodies of ${batch} records (${fmt(count)} records, ${fmt(keys)} keys) made in ${fmt((Date.now() - t) / 1000, 1)} s`);
      t = Date.now();
      const service = await startService(port, {});
      console.log(`enrich: service (pure mode) up in ${fmt((Date.now() - t) / 1000, 1)} s`);
      try {
        results.push(await runScenario({ name: `POST /enrich x${batch} c${connections}`, service, path: '/enrich', connections, batch, bodies, warmupSeconds, seconds, checkBulkItems: false }));
      } finally {
        await service.stop();
      }
    }

    if (scenarios.includes('bulk') && client) {
      const batch = envInt('LOAD_BULK_BATCH', 500, 1);
      const connections = envInt('LOAD_BULK_CONNECTIONS', 4, 1);
      const count = envInt('LOAD_BULK_RECORDS', 300_000, batch);
      const indices = new RunIndices(client, 'load', run);
      const { index, alertsIndex } = indices;
      try {
        await indices.create();
        let t = Date.now();
        const bodies = bulkBodies(count, keys, 2, batch, index);
        console.log(`bulk: ${fmt(bodies.length)} _bulk bodies of ${batch} index actions (${fmt(count)} records, ${fmt(keys)} keys) made in ${fmt((Date.now() - t) / 1000, 1)} s`);
        t = Date.now();
        const service = await startService(port, indices.serviceSettings(openSearchUrl));
        console.log(`bulk: service (OpenSearch mode) up in ${fmt((Date.now() - t) / 1000, 1)} s`);
        const c = client;
        try {
          results.push(
            await runScenario({
              name: `POST /_bulk x${batch} c${connections}`, service, path: '/_bulk', connections, batch, bodies, warmupSeconds, seconds, checkBulkItems: true,
              openSearchCpuMs: () => openSearchCpuMs(c),
            }),
          );
        } finally {
          await service.stop();
        }
        await client.indices.refresh({ index: `${index},${alertsIndex}` });
        const countOf = async (i: string): Promise<number> => ((await client!.count({ index: i })).body as { count: number }).count;
        results.at(-1)?.notes.push(`stored: ${fmt(await countOf(index))} CloudTrail documents, ${fmt(await countOf(alertsIndex))} alerts (warm-up included)`);
      } finally {
        await indices.remove();
      }
    }
  } finally {
    await client?.close();
  }

  console.log('');
  printTable(results);
  for (const r of results) {
    console.log(`\n${r.name}:`);
    for (const n of r.notes) console.log(`  ${n}`);
  }
  const failed = results.filter((r) => r.result.non2xx > 0 || r.result.errors > 0 || r.rotation.non2xx > 0 || r.rotation.bulkItemFailures > 0 || r.warmupErrors > 0);
  if (failed.length > 0) {
    for (const r of failed) {
      console.error(
        `\nFAILED ${r.name}: ${r.result.non2xx} non-2xx, ${r.result.errors} errors (${r.result.timeouts} timeouts) measured; ` +
          `${r.rotation.non2xx} non-2xx and ${r.rotation.bulkItemFailures} _bulk answers with item errors in all, warm-up included; ${r.warmupErrors} warm-up errors`,
      );
      for (const f of r.rotation.failures) console.error(`  ${f}`);
    }
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`bench:load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
