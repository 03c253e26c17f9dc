import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type Dirent } from 'node:fs';
import { readFile, readdir, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
import { loadConfig, parseDurationMs, type Config, type OpenSearchConfig } from './config.js';
import { ConfigError, ServiceError, UpstreamError, errorMessage } from './errors.js';
import { decodeText, isGzip } from './input.js';
import { createLogger, silentLogger } from './log.js';
import { OpenSearchAlertSink } from './opensearch-alerts.js';
import { createOpenSearchClient, type Client } from './opensearch-client.js';
import { type BulkResponseItem, itemResult, upstreamError } from './opensearch-errors.js';
import { OpenSearchStateStore } from './opensearch-state.js';
import { openGeoIp } from './service.js';
import { setup, setupOptions } from './setup.js';
import type { GeoIpDatabase } from '../processors/geoip-database.js';
import { createPipeline, isItemError, type Pipeline } from '../processors/pipeline.js';
import { MemoryStateStore, type KeyState, type PrincipalBaseline, type StateStats, type StateStore } from '../processors/state.js';
import { getPath, isPlainObject, type Doc } from '../processors/types.js';

/**
 * `impossible-travel backfill PATH...`: CloudTrail log files as AWS delivers them to S3, through
 * the same pipeline as live traffic, in event-time order across files.
 *
 * Order with bounded memory: CloudTrail writes a file about every 5 minutes per region, unsorted
 * inside, and an event can land in a file delivered well after its time. Files are read in
 * delivery order; their records wait in a min-heap on event time, and everything older than the
 * newest delivery time read minus a reorder window (default 30 min) leaves in order, in batches.
 * An event later than the window still gets judged correctly (detection compares each event with
 * its chronological neighbours, whatever the arrival order); it is only out of order in the output.
 *
 * Each batch is written as `_bulk` is: detection state committed, then alerts stored, then the
 * documents, with `_id` = eventID so a second run overwrites instead of duplicating. A checkpoint
 * lists the files all of whose documents are stored; a run skips them, so an interrupted or
 * failed backfill resumes where it stopped. On a stop request (SIGINT), reading stops and every
 * record read is still stored, out of the window's order if need be: then no file is left half
 * done, and a resumed dry run prints no record twice. Detection continues across the break through
 * the state index (a dry run keeps its state in memory, so it forgets the keys' earlier places).
 */

export const DEFAULT_INDEX = 'cloudtrail-backfill';
/** One per index, so that backfills into two indices from one folder keep apart. */
export const defaultCheckpoint = (index: string): string => `.impossible-travel-backfill-${index}.json`;
export const DEFAULT_REORDER_WINDOW_MS = 30 * 60_000;
export const DEFAULT_BATCH_SIZE = 1000;
const MAX_BATCH_SIZE = 10_000;
/** A file must inflate to a string V8 can hold (~512 MiB). CloudTrail's are far smaller. */
const MAX_FILE_BYTES = 500 * 1024 * 1024;
/** Folders of files that are not CloudTrail event logs (integrity digests, Insights events). */
const NOT_EVENT_LOG_DIRS = new Set(['CloudTrail-Digest', 'CloudTrail-Insight']);
const LOG_FILE_NAME = /\.json(\.gz)?$/i;
/** `<account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<unique>.json.gz`: the delivery time (UTC). */
const DELIVERY_TIME = /_CloudTrail_[^_]+_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_[^/\\]*$/;
/** `.../YYYY/MM/DD/...` */
const DAY_FOLDERS = /[/\\](\d{4})[/\\](\d{2})[/\\](\d{2})[/\\]/g;
const PROGRESS_LINE_INTERVAL_MS = 10_000;
/** At most this many lines of one kind of per-record problem; then a count. */
const MAX_REPORTS = 20;

/** Bad command line: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Stops the backfill; what was stored stays stored and checkpointed. */
export class BackfillFailure extends Error {
  override readonly name = 'BackfillFailure';
}

/** A file that is not a readable CloudTrail log file; reported, counted, skipped. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError';
}

// ---------------------------------------------------------------------------------------------
// Finding the files

export interface LogFile {
  /** Absolute, symlinks resolved: the key in the checkpoint. */
  readonly path: string;
  readonly sizeBytes: number;
  /** From the standard file name; undefined when the name is not CloudTrail's. */
  readonly deliveredMs: number | undefined;
  /** Delivery time, else the day of the YYYY/MM/DD folders, else +Infinity (sorted by name at the end). */
  readonly sortMs: number;
}

export interface Discovery {
  /** In processing order. */
  readonly files: LogFile[];
  /** Files that are not CloudTrail event logs: digests, Insights, other names, hidden files. */
  readonly ignored: number;
  /** Folders or entries that could not be read; reported, not fatal. */
  readonly problems: string[];
}

const utcMs = (y: string, mo: string, d: string, h = '0', mi = '0'): number | undefined => {
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi));
  const back = new Date(ms);
  // Rejects 2024/13/40 and friends, which Date.UTC would roll over.
  return back.getUTCMonth() === Number(mo) - 1 && back.getUTCDate() === Number(d) && Number(h) < 24 && Number(mi) < 60 ? ms : undefined;
};

/** The delivery time in a standard CloudTrail file name, in ms; undefined for other names. */
export function deliveryTimeMs(path: string): number | undefined {
  const m = DELIVERY_TIME.exec(basename(path));
  return m ? utcMs(m[1]!, m[2]!, m[3]!, m[4]!, m[5]!) : undefined;
}

/** The day of the innermost YYYY/MM/DD folders in the path, in ms; undefined when there are none. */
export function folderDayMs(path: string): number | undefined {
  let day: number | undefined;
  for (const m of path.matchAll(DAY_FOLDERS)) day = utcMs(m[1]!, m[2]!, m[3]!) ?? day;
  return day;
}

export function compareLogFiles(a: LogFile, b: LogFile): number {
  if (a.sortMs !== b.sortMs) return a.sortMs < b.sortMs ? -1 : 1;
  const an = basename(a.path);
  const bn = basename(b.path);
  if (an !== bn) return an < bn ? -1 : 1;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * Every CloudTrail log file under the paths (a file, or a folder searched recursively), sorted by
 * delivery time. A path that does not exist is a UsageError. `exclude` holds absolute paths that
 * are ours (the checkpoint) and never input.
 */
export async function discoverFiles(paths: readonly string[], exclude: ReadonlySet<string> = new Set()): Promise<Discovery> {
  const files = new Map<string, LogFile>();
  const visitedDirs = new Set<string>();
  const problems: string[] = [];
  let ignored = 0;

  const consider = async (path: string, sizeBytes: number, notEventLogs: boolean): Promise<void> => {
    const name = basename(path);
    const abs = resolve(path);
    if (exclude.has(abs) || [...exclude].some((e) => abs.startsWith(`${e}.tmp-`))) return;
    if (notEventLogs || name.startsWith('.') || !LOG_FILE_NAME.test(name) || /_CloudTrail-(Digest|Insight)_/.test(name)) {
      ignored++;
      return;
    }
    const real = await realpath(path);
    if (files.has(real)) return;
    const deliveredMs = deliveryTimeMs(real) ?? deliveryTimeMs(path);
    const sortMs = deliveredMs ?? folderDayMs(real) ?? folderDayMs(path) ?? Number.POSITIVE_INFINITY;
    files.set(real, { path: real, sizeBytes, deliveredMs, sortMs });
  };

  const walk = async (dir: string, notEventLogs: boolean): Promise<void> => {
    let real: string;
    let entries: Dirent[];
    try {
      real = await realpath(dir);
      if (visitedDirs.has(real)) return; // a symlink loop, or a folder named twice
      visitedDirs.add(real);
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      problems.push(`cannot read folder ${dir}: ${errorMessage(err)}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.name.startsWith('.') && !entry.isFile()) continue; // .git, .cache: not ours to read
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let sizeBytes = 0;
      if (entry.isSymbolicLink() || isFile) {
        try {
          const s = await stat(path);
          isDir = s.isDirectory();
          isFile = s.isFile();
          sizeBytes = s.size;
        } catch (err) {
          problems.push(`cannot read ${path}: ${errorMessage(err)}`);
          continue;
        }
      }
      if (isDir) await walk(path, notEventLogs || NOT_EVENT_LOG_DIRS.has(entry.name));
      else if (isFile) await consider(path, sizeBytes, notEventLogs);
      else ignored++;
    }
  };

  for (const p of paths) {
    let s;
    try {
      s = await stat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(code === 'ENOENT' ? `${p}: no such file or folder` : `${p}: ${errorMessage(err)}`);
    }
    if (s.isDirectory()) await walk(p, false);
    else if (s.isFile()) {
      const before = ignored;
      await consider(p, s.size, false);
      if (ignored > before) problems.push(`${p} is not a CloudTrail log file (*.json or *.json.gz); ignored`);
    } else throw new UsageError(`${p} is neither a file nor a folder`);
  }
  return { files: [...files.values()].sort(compareLogFiles), ignored, problems };
}

// ---------------------------------------------------------------------------------------------
// Reading a file

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    return `an object with keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
  }
  return `a ${typeof value}`;
}

/**
 * The `Records` of one CloudTrail log file, gzip or not (told by the magic bytes, as input.ts
 * does for request bodies). Anything but `{"Records": [...]}` is a CorruptFileError: a stray JSON
 * file must be reported, not turned into a document (input.ts's readRecords would accept any
 * object as one record, which is right for a request body and wrong for a folder of files).
 */
export async function readLogFile(path: string, maxBytes = MAX_FILE_BYTES): Promise<unknown[]> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new CorruptFileError(`cannot be read: ${errorMessage(err)}`);
  }
  if (raw.length === 0) throw new CorruptFileError('is empty');
  let decoded = raw;
  if (isGzip(raw)) {
    try {
      decoded = gunzipSync(raw, { maxOutputLength: maxBytes });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test(e.message)) {
        throw new CorruptFileError(`inflates to more than ${Math.round(maxBytes / 1024 / 1024)} MiB`);
      }
      throw new CorruptFileError(`is not valid gzip: ${e.message}`);
    }
  } else if (raw.length > maxBytes) {
    throw new CorruptFileError(`is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB`);
  }
  const text = decodeText(decoded);
  if (text === undefined) throw new CorruptFileError(isGzip(raw) ? 'inflates to something that is not UTF-8 text' : 'is not UTF-8 text (nor gzip)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorruptFileError(`is not JSON: ${errorMessage(err)}`);
  }
  if (!isPlainObject(value) || !Array.isArray(value.Records)) {
    throw new CorruptFileError(`is not a CloudTrail log file: expected {"Records": [...]}, found ${describeValue(value)}`);
  }
  return value.Records;
}

/** Event time in ms for ordering; -Infinity (first out) when the record has none. */
export function eventTimeMs(record: Doc): number {
  const t = typeof record.eventTime === 'string' ? record.eventTime : record['@timestamp'];
  const ms = typeof t === 'string' ? Date.parse(t) : Number.NaN;
  return Number.isFinite(ms) ? ms : Number.NEGATIVE_INFINITY;
}

/** The document id: CloudTrail's eventID, else a hash of the record, so a rerun never duplicates. */
export function documentId(record: Doc): string {
  if (typeof record.eventID === 'string' && record.eventID.length > 0) return record.eventID;
  return createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 40);
}

// ---------------------------------------------------------------------------------------------
// Event-time order

interface Queued {
  readonly atMs: number;
  /** Arrival order: ties keep it, so the output is deterministic. */
  readonly seq: number;
  readonly record: Doc;
  /** Index of the file in the run's list. */
  readonly file: number;
  /** Index of the record in its file's Records. */
  readonly position: number;
}

/** A binary min-heap on (event time, arrival). */
export class EventQueue<T extends { readonly atMs: number; readonly seq: number }> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  private less(a: T, b: T): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  push(item: T): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < h.length && this.less(h[l]!, h[min]!)) min = l;
        if (r < h.length && this.less(h[r]!, h[min]!)) min = r;
        if (min === i) break;
        [h[i], h[min]] = [h[min]!, h[i]!];
        i = min;
      }
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint

interface CheckpointFile {
  version: 1;
  tool: 'impossible-travel backfill';
  /** Where the documents went; a checkpoint of one target never skips files for another. */
  target: string;
  updated: string;
  /** Absolute path of each file whose documents are all stored -> its number of records. */
  done: Record<string, number>;
}

export class Checkpoint {
  private saved = 0;
  private lastSaveMs = 0;

  private constructor(
    readonly path: string,
    private readonly data: CheckpointFile,
    private readonly minIntervalMs: number,
  ) {}

  /** Reads the checkpoint (a fresh one when absent or `restart`); UsageError when it is not ours. */
  static async open(path: string, target: string, restart: boolean, minIntervalMs: number): Promise<Checkpoint> {
    const fresh = (): Checkpoint =>
      new Checkpoint(path, { version: 1, tool: 'impossible-travel backfill', target, updated: new Date().toISOString(), done: {} }, minIntervalMs);
    if (restart) return fresh();
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fresh();
      throw new UsageError(`cannot read the checkpoint ${path}: ${errorMessage(err)}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`the checkpoint ${path} is not JSON (${errorMessage(err)}); delete it or pass --restart`);
    }
    if (!isPlainObject(data) || data.tool !== 'impossible-travel backfill' || data.version !== 1 || !isPlainObject(data.done)) {
      throw new UsageError(`${path} is not a backfill checkpoint; pass another --checkpoint, or --restart to overwrite it`);
    }
    if (data.target !== target) {
      throw new UsageError(
        `the checkpoint ${path} belongs to a backfill into ${String(data.target)}, not ${target}; ` +
          'pass another --checkpoint, or --restart to start over',
      );
    }
    const cp = new Checkpoint(path, data as unknown as CheckpointFile, minIntervalMs);
    cp.saved = Object.keys(cp.data.done).length;
    return cp;
  }

  has(path: string): boolean {
    return Object.hasOwn(this.data.done, path);
  }

  get size(): number {
    return Object.keys(this.data.done).length;
  }

  add(path: string, records: number): void {
    this.data.done[path] = records;
  }

  /**
   * Atomically replaces the file (write a temporary file, rename over). Unless forced, at most
   * once per interval: the list can hold 100,000 paths, and a lost second of progress costs only
   * a rewrite of documents with the same ids.
   */
  async save(force: boolean): Promise<void> {
    const count = this.size;
    if (count === this.saved && !force) return;
    const now = Date.now();
    if (!force && now - this.lastSaveMs < this.minIntervalMs) return;
    this.data.updated = new Date(now).toISOString();
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, JSON.stringify(this.data) + '\n');
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new BackfillFailure(`cannot write the checkpoint ${this.path}: ${errorMessage(err)}`);
    }
    this.saved = count;
    this.lastSaveMs = now;
  }
}

// ---------------------------------------------------------------------------------------------
// Retries against OpenSearch

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, firstDelayMs: 500, maxDelayMs: 8000 };

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    if (signal?.aborted) return done();
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      done();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

const delayMs = (policy: RetryPolicy, attempt: number): number => Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (attempt - 1));

/**
 * Runs `fn`, trying again after 429/503-like failures (UpstreamError) with exponential backoff.
 * Once stopping (signal aborted), no more waiting: one try, then give up.
 */
async function withRetry<T>(what: string, policy: RetryPolicy, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      if (attempt >= policy.attempts || signal?.aborted) {
        throw new BackfillFailure(`${errorMessage(err)} (gave up ${what} after ${attempt} ${attempt === 1 ? 'try' : 'tries'})`);
      }
      await sleep(delayMs(policy, attempt), signal);
    }
  }
}

/** The state store with retries on prepare/commit (their failures leave memory intact, so a retry is safe). */
class RetryingStateStore implements StateStore {
  constructor(
    private readonly inner: StateStore,
    private readonly retry: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  ) {}
  get loadsState(): boolean {
    return this.inner.loadsState !== false;
  }
  prepare(keys: ReadonlySet<string>, principals: ReadonlySet<string>): Promise<void> {
    return this.retry('reading detection state', () => this.inner.prepare(keys, principals));
  }
  commit(): Promise<void> {
    return this.retry('writing detection state', () => this.inner.commit());
  }
  getKey(accessKeyId: string): KeyState | undefined {
    return this.inner.getKey(accessKeyId);
  }
  peekKey(accessKeyId: string): KeyState | undefined {
    return this.inner.peekKey(accessKeyId);
  }
  setKey(accessKeyId: string, state: KeyState): void {
    this.inner.setKey(accessKeyId, state);
  }
  getPrincipal(principal: string): PrincipalBaseline | undefined {
    return this.inner.getPrincipal(principal);
  }
  setPrincipal(principal: string, baseline: PrincipalBaseline): void {
    this.inner.setPrincipal(principal, baseline);
  }
  stats(): StateStats {
    return this.inner.stats();
  }
}

// ---------------------------------------------------------------------------------------------
// Where documents and alerts go

interface Output {
  /** Where the documents went, for the summary: `stored in cloudtrail-backfill`, `printed on stdout`. */
  readonly description: string;
  writeAlerts(alerts: readonly Doc[]): Promise<void>;
  /** Stores the documents; returns the reason for each one refused for good, by position. */
  writeDocs(docs: readonly { id: string; doc: Doc }[]): Promise<Map<number, string>>;
  alertCounts(): { new: number; alreadyStored: number } | undefined;
  close(): Promise<void>;
}

/**
 * Writes text and waits until the stream has taken it, so a file is marked done only once its
 * documents are out; fails once the stream has failed (EPIPE when `| head` has seen enough).
 */
class LineWriter {
  private failure: Error | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly name: string,
  ) {
    // Kept for good: a late EPIPE on stdout must not crash the process after the run.
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  async write(text: string): Promise<void> {
    if (text.length === 0) return;
    this.check();
    await new Promise<void>((done) => {
      this.stream.write(text, (err?: Error | null) => {
        if (err) this.failure ??= err;
        done();
      });
    });
    this.check();
  }

  private check(): void {
    if (this.failure) {
      const code = (this.failure as NodeJS.ErrnoException).code;
      throw new BackfillFailure(code === 'EPIPE' ? `${this.name} was closed` : `cannot write to ${this.name}: ${this.failure.message}`);
    }
  }
}

class DryRunOutput implements Output {
  readonly description = 'printed on stdout';
  constructor(private readonly out: LineWriter) {}
  async writeAlerts(): Promise<void> {}
  async writeDocs(docs: readonly { id: string; doc: Doc }[]): Promise<Map<number, string>> {
    let text = '';
    for (const { doc } of docs) text += JSON.stringify(doc) + '\n';
    await this.out.write(text);
    return new Map();
  }
  alertCounts(): undefined {
    return undefined;
  }
  async close(): Promise<void> {}
}

class OpenSearchOutput implements Output {
  readonly description: string;

  constructor(
    private readonly client: Client,
    private readonly index: string,
    private readonly alertSink: OpenSearchAlertSink,
    private readonly policy: RetryPolicy,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.description = `stored in ${index}`;
  }

  writeAlerts(alerts: readonly Doc[]): Promise<void> {
    if (alerts.length === 0) return Promise.resolve();
    return withRetry('storing alerts', this.policy, this.signal, () => this.alertSink.write(alerts));
  }

  alertCounts(): { new: number; alreadyStored: number } {
    return { new: this.alertSink.written, alreadyStored: this.alertSink.duplicates };
  }

  /** `index` actions with the document ids; items answering 429/5xx are sent again, alone. */
  async writeDocs(docs: readonly { id: string; doc: Doc }[]): Promise<Map<number, string>> {
    const refused = new Map<number, string>();
    let pending = docs.map((_, i) => i);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const lines: string[] = [];
      for (const i of pending) lines.push(JSON.stringify({ index: { _index: this.index, _id: docs[i]!.id } }), JSON.stringify(docs[i]!.doc));
      let retry: number[] = [];
      let lastReason = '';
      try {
        const response = await this.client.transport.request({
          method: 'POST',
          path: '/_bulk',
          // The documents are enriched already: skip a default pipeline that might call back into the service.
          querystring: { pipeline: '_none' },
          body: lines.join('\n') + '\n',
        });
        const items = (response.body as { items?: BulkResponseItem[] }).items;
        if (!Array.isArray(items) || items.length !== pending.length) {
          throw new BackfillFailure(`OpenSearch answered ${items?.length ?? 0} items for ${pending.length} documents sent to ${this.index}`);
        }
        for (const [k, i] of pending.entries()) {
          const result = itemResult(items[k]);
          const status = result?.status ?? 503;
          if (status < 300) continue;
          const reason = `${status} ${result?.error?.type ?? 'no answer'}: ${result?.error?.reason ?? 'no reason given'}`;
          if (status === 429 || status >= 500) {
            retry.push(i);
            lastReason = reason;
          } else refused.set(i, reason);
        }
      } catch (err) {
        if (err instanceof BackfillFailure) throw err;
        const meta = (err as { meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string } } } }).meta;
        const status = meta?.statusCode;
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          const e = meta?.body?.error;
          throw new BackfillFailure(`OpenSearch refused the documents for ${this.index}: ${status} ${e?.type ?? ''} ${e?.reason ?? errorMessage(err)}`.replace(/ +/g, ' '));
        }
        retry = pending;
        lastReason = upstreamError(err, `indexing documents into ${this.index}`).message;
      }
      if (retry.length === 0) break;
      if (attempt >= this.policy.attempts || this.signal?.aborted) {
        throw new BackfillFailure(
          `OpenSearch did not store ${retry.length} documents in ${this.index} after ${attempt} ${attempt === 1 ? 'try' : 'tries'}: ${lastReason}`,
        );
      }
      await sleep(delayMs(this.policy, attempt), this.signal);
      pending = retry;
    }
    return refused;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr

interface ProgressState {
  filesDone: number;
  bytesDone: number;
  records: number;
}

const formatCount = (n: number): string => n.toLocaleString('en-US');

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A bar on a terminal (cli-progress; its ETA runs on bytes, which tracks work better than files
 * of uneven size), a line every 10 s elsewhere (a log file or CI wants no escape codes), or
 * nothing. Messages go through `note` so they print above the bar instead of through it.
 */
class Progress {
  private multibar: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private startedMs = Date.now();
  private state: ProgressState = { filesDone: 0, bytesDone: 0, records: 0 };

  constructor(
    private readonly mode: 'bar' | 'lines' | 'off',
    private readonly stream: NodeJS.WritableStream,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
  ) {}

  start(): void {
    this.startedMs = Date.now();
    if (this.totalFiles === 0) return;
    if (this.mode === 'bar') {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: this.stream,
          format: 'backfill {bar} {percentage}% | {files}/{filesTotal} files | {records} records | {rate} records/s | ETA {eta_formatted}',
          clearOnComplete: true,
          hideCursor: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multibar.create(Math.max(1, this.totalBytes), 0, this.payload());
    } else if (this.mode === 'lines') {
      this.timer = setInterval(() => this.stream.write(this.line() + '\n'), PROGRESS_LINE_INTERVAL_MS);
      this.timer.unref();
    }
  }

  private rate(): number {
    const seconds = (Date.now() - this.startedMs) / 1000;
    return seconds > 0 ? Math.round(this.state.records / seconds) : 0;
  }

  private payload(): Record<string, string> {
    return { files: String(this.state.filesDone), filesTotal: String(this.totalFiles), records: formatCount(this.state.records), rate: formatCount(this.rate()) };
  }

  private line(): string {
    const s = this.state;
    const elapsed = Date.now() - this.startedMs;
    const pct = this.totalBytes > 0 ? Math.floor((100 * s.bytesDone) / this.totalBytes) : 0;
    const left = s.bytesDone > 0 ? `, about ${formatDuration((elapsed * (this.totalBytes - s.bytesDone)) / s.bytesDone)} left` : '';
    return `backfill: ${s.filesDone}/${this.totalFiles} files (${pct}%), ${formatCount(s.records)} records, ${formatCount(this.rate())} records/s${left}`;
  }

  update(state: ProgressState): void {
    this.state = { ...state };
    this.bar?.update(Math.min(state.bytesDone, Math.max(1, this.totalBytes)), this.payload());
  }

  note(text: string): void {
    if (this.multibar) this.multibar.log(text + '\n');
    else this.stream.write(text + '\n');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.multibar) {
      this.multibar.update(); // prints what `note` queued
      this.multibar.stop();
      this.multibar = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

export interface BackfillOptions {
  readonly paths: readonly string[];
  /** As loaded for `serve`: GeoIP, thresholds, OpenSearch connection and index names. */
  readonly config: Config;
  /** No OpenSearch: documents as NDJSON on `stdout`, state in memory. */
  readonly dryRun: boolean;
  /** Index for the documents (default `cloudtrail-backfill`). */
  readonly index?: string;
  /** Where to remember finished files; undefined: no checkpoint. */
  readonly checkpointPath?: string | undefined;
  /** Ignore an existing checkpoint (it is overwritten). */
  readonly restart?: boolean;
  readonly reorderWindowMs?: number;
  readonly batchSize?: number;
  /** Documents in a dry run. Default process.stdout. */
  readonly stdout?: NodeJS.WritableStream;
  /** Reports, progress, summary. Default process.stderr. */
  readonly stderr?: NodeJS.WritableStream;
  /** Every alert as one JSON line, in either mode. */
  readonly alertsOut?: NodeJS.WritableStream | undefined;
  /** auto: a bar when stderr is a terminal, else a line every 10 s. */
  readonly progress?: 'auto' | 'bar' | 'lines' | 'off';
  /** Aborting stops reading; what was read is stored and checkpointed, then the run returns. */
  readonly signal?: AbortSignal;
  /** Stop after this many files were read (tests; as if interrupted). */
  readonly stopAfterFiles?: number;
  readonly retry?: RetryPolicy;
  /** Least time between two checkpoint writes, except the last (default 1000 ms). */
  readonly checkpointIntervalMs?: number;
  readonly log?: Logger;
  /** Open already (tests); else opened from config and closed at the end. */
  readonly geoip?: GeoIpDatabase;
  /** Dry run only: the state store (default a fresh MemoryStateStore). */
  readonly store?: StateStore;
}

export interface BackfillSummary {
  /** completed: every file was read; interrupted: stopped on request; failed: see `failure`. */
  readonly outcome: 'completed' | 'interrupted' | 'failed';
  readonly failure: string | undefined;
  readonly target: string;
  readonly checkpoint: string | undefined;
  readonly files: {
    /** CloudTrail log files found under the paths. */
    readonly found: number;
    /** Skipped: done in an earlier run, by the checkpoint. */
    readonly alreadyDone: number;
    /** Read whole and parsed (corrupt ones not included). */
    readonly read: number;
    readonly corrupt: number;
    /** Not CloudTrail event logs: digests, Insights, other file names, hidden files. */
    readonly ignored: number;
    /** Read, and every document stored: in the checkpoint now. */
    readonly done: number;
    /** Never reached, because the run stopped. */
    readonly notReached: number;
  };
  readonly records: {
    /** Entries of `Records` in the files read. */
    readonly read: number;
    /** Through the pipeline. */
    readonly processed: number;
    /** Not a JSON object, or a processor could not handle it: reported, not stored. */
    readonly bad: number;
    /** Indexed in OpenSearch, or printed in a dry run. */
    readonly stored: number;
    /** Refused by OpenSearch for good (e.g. a mapping conflict): reported; their files are not checkpointed. */
    readonly rejected: number;
    /** With a GeoIP location. */
    readonly located: number;
  };
  readonly accessKeys: number;
  readonly alerts: { readonly raised: number; readonly new: number | undefined; readonly alreadyStored: number | undefined };
  /** Most records held for reordering at once: the memory the reorder window costs. */
  readonly peakBufferedRecords: number;
  readonly durationMs: number;
  /** Records through the pipeline per second of work (opening GeoIP and OpenSearch not counted). */
  readonly recordsPerSecond: number;
}

interface FileProgress {
  readonly file: LogFile;
  /** Records read but not yet stored. */
  outstanding: number;
  records: number;
  read: boolean;
  /** A document of the file was refused: it must be tried again, so the file is not checkpointed. */
  refused: boolean;
  done: boolean;
}

/** What the checkpoint is valid for: documents written elsewhere say nothing about this target. */
export function backfillTarget(dryRun: boolean, index: string, os: OpenSearchConfig | undefined): string {
  if (dryRun || !os) return 'dry-run';
  const url = new URL(os.url);
  url.username = '';
  url.password = '';
  return `${url.origin}${url.pathname.replace(/\/$/, '')} index ${index} alerts ${os.alertsIndex} state ${os.stateIndex}`;
}

function globMatches(pattern: string, name: string): boolean {
  return pattern.split(',').some((p) => new RegExp(`^${p.trim().split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name));
}

function shortAlert(alert: Doc): string {
  const t = getPath(alert, ['impossible_travel', 'triggering_locations']) as Record<string, unknown> | undefined;
  const place = (l: unknown): string =>
    [getPath(l, ['city']), getPath(l, ['country'])].filter((v) => typeof v === 'string' && v.length > 0).join(', ') || 'unknown place';
  const key = getPath(alert, ['userIdentity', 'accessKeyId']);
  if (!t) return `alert ${String(getPath(alert, ['event', 'id']))}: ${String(alert.message ?? '')}`;
  return (
    `alert: access key ${String(key)} in ${place(t.first_location)} then ${place(t.second_location)} ` +
    `${String(t.travel_time_human_readable ?? '')} later, ${formatCount(Math.round(Number(t.travel_distance)))} km (${String(alert['@timestamp'])})`
  );
}

/**
 * Runs a backfill; returns (and prints on stderr) its summary. Problems found before any work
 * (bad paths, a checkpoint of another target, configuration) throw UsageError / ConfigError /
 * ServiceError; once running, a failure ends the run with outcome `failed` and the checkpoint
 * holding what was stored.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const startedMs = Date.now();
  const config = options.config;
  const stderr = options.stderr ?? process.stderr;
  const index = options.index ?? DEFAULT_INDEX;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const windowMs = options.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS;
  const policy = options.retry ?? DEFAULT_RETRY;
  const signal = options.signal;
  const log = options.log ?? silentLogger();
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}`);
  if (!(windowMs >= 0)) throw new UsageError('--reorder-window must not be negative');
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(index)) throw new UsageError(`--index "${index}" is not a valid index name (lowercase letters, digits, . _ -)`);
  if (options.paths.length === 0) throw new UsageError('name at least one file or folder to read');
  // A mistyped path is named before anything else (discovery, which may walk for a while, names it too).
  for (const p of options.paths) {
    await stat(p).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(err.code === 'ENOENT' ? `${p}: no such file or folder` : `${p}: ${errorMessage(err)}`);
    });
  }
  const os = config.opensearch;
  if (!options.dryRun && !os) throw new ConfigError('OPENSEARCH_URL', 'the backfill writes into OpenSearch: set OPENSEARCH_URL, or use --dry-run');

  const target = backfillTarget(options.dryRun, index, os);
  const checkpointPath = options.checkpointPath === undefined ? undefined : resolve(options.checkpointPath);
  const checkpoint = checkpointPath === undefined ? undefined : await Checkpoint.open(checkpointPath, target, options.restart ?? false, options.checkpointIntervalMs ?? 1000);
  const discovery = await discoverFiles(options.paths, new Set(checkpointPath ? [checkpointPath] : []));

  const progressMode = options.progress ?? 'auto';
  const isTty = (stderr as { isTTY?: boolean }).isTTY === true;
  const todo = discovery.files.filter((f) => !checkpoint?.has(f.path));
  const alreadyDone = discovery.files.length - todo.length;
  const progress = new Progress(
    progressMode === 'auto' ? (isTty ? 'bar' : 'lines') : progressMode,
    stderr,
    todo.length,
    todo.reduce((n, f) => n + f.sizeBytes, 0),
  );
  const note = (text: string): void => progress.note(`impossible-travel backfill: ${text}`);

  for (const problem of discovery.problems) stderr.write(`impossible-travel backfill: ${problem}\n`);
  if (discovery.files.length === 0) stderr.write('impossible-travel backfill: no CloudTrail log files (*.json, *.json.gz) found\n');
  if (alreadyDone > 0) {
    stderr.write(`impossible-travel backfill: resuming: ${alreadyDone} of ${discovery.files.length} files already done (checkpoint ${checkpointPath})\n`);
  }
  if (!options.dryRun && os && !globMatches(os.cloudtrailIndexPattern, index)) {
    stderr.write(
      `impossible-travel backfill: warning: index ${index} does not match CLOUDTRAIL_INDEX_PATTERN (${os.cloudtrailIndexPattern}), ` +
        'so the CloudTrail index template (geo_point mapping) does not apply to it\n',
    );
  }

  // The parts, as the service builds them.
  const ownGeoip = options.geoip === undefined;
  const geoip = options.geoip ?? openGeoIp(config, log);
  const stdoutWriter = options.dryRun ? new LineWriter(options.stdout ?? process.stdout, 'standard output') : undefined;
  const alertsWriter = options.alertsOut ? new LineWriter(options.alertsOut, 'the alerts output') : undefined;
  const retry = <T>(what: string, fn: () => Promise<T>): Promise<T> => withRetry(what, policy, signal, fn);
  let output: Output;
  let baseStore: StateStore;
  try {
    if (options.dryRun || !os) {
      output = new DryRunOutput(stdoutWriter!);
      baseStore = options.store ?? new MemoryStateStore(config.state);
    } else {
      const client = createOpenSearchClient(os);
      output = new OpenSearchOutput(client, index, new OpenSearchAlertSink(client, os.alertsIndex), policy, signal);
      baseStore = new OpenSearchStateStore({
        ...config.state,
        client,
        index: os.stateIndex,
        limits: { maxLocations: config.detection.historyMaxLocations, maxAgeMs: config.detection.historyMaxAgeMs },
        writeGranularityMs: os.stateWriteGranularityMs,
        log,
      });
      if (os.setupOnStart) {
        try {
          await setup(client, setupOptions(os));
        } catch (err) {
          await client.close();
          throw new ServiceError(
            'upstream_unavailable',
            `cannot prepare OpenSearch at ${new URL(os.url).origin}: ${errorMessage(err)} (SETUP_ON_START=false skips installing templates and indices)`,
          );
        }
      }
    }
  } catch (err) {
    if (ownGeoip) geoip.close();
    throw err;
  }
  const pipeline: Pipeline = createPipeline({ detection: config.detection, geoip, store: new RetryingStateStore(baseStore, retry), log });

  // Counters.
  const fileStates: FileProgress[] = todo.map((file) => ({ file, outstanding: 0, records: 0, read: false, refused: false, done: false }));
  const accessKeys = new Set<string>();
  let filesAttempted = 0;
  let filesRead = 0;
  let filesCorrupt = 0;
  let filesDone = 0;
  let bytesDone = 0;
  let recordsRead = 0;
  let processed = 0;
  let bad = 0;
  let stored = 0;
  let rejected = 0;
  let located = 0;
  let alertsRaised = 0;
  let peakBuffered = 0;
  let seq = 0;
  const reports = { rejected: 0, failed: 0 };

  const queue = new EventQueue<Queued>();
  /** Popped in order, waiting for a full batch. */
  const ready: Queued[] = [];

  const markDoneIfComplete = (fp: FileProgress): void => {
    if (fp.done || !fp.read || fp.outstanding > 0 || fp.refused) return;
    fp.done = true;
    filesDone++;
    checkpoint?.add(fp.file.path, fp.records);
  };

  const flush = async (batch: Queued[]): Promise<void> => {
    if (batch.length === 0) return;
    const ids = batch.map((q) => documentId(q.record));
    const { docs, alerts } = await pipeline.run(
      batch.map((q) => q.record),
      log,
    );
    processed += batch.length;
    // State is committed (inside run); alerts next, documents last: nothing is marked done unstored.
    if (alerts.length > 0) {
      await output.writeAlerts(alerts);
      alertsRaised += alerts.length;
      for (const alert of alerts) note(shortAlert(alert));
      await alertsWriter?.write(alerts.map((a) => JSON.stringify(a) + '\n').join(''));
    }
    const toStore: { id: string; doc: Doc }[] = [];
    const owner: number[] = [];
    for (const [i, doc] of docs.entries()) {
      const q = batch[i]!;
      if (isItemError(doc)) {
        bad++;
        if (reports.failed++ < MAX_REPORTS) note(`${fileStates[q.file]!.file.path}: record ${q.position} not processed: ${doc.error.reason}`);
        continue;
      }
      toStore.push({ id: ids[i]!, doc });
      owner.push(i);
      const key = getPath(doc, ['userIdentity', 'accessKeyId']);
      if (typeof key === 'string' && key.length > 0) accessKeys.add(key);
      if (getPath(doc, ['source', 'geo', 'location']) !== undefined) located++;
    }
    const refused = await output.writeDocs(toStore);
    stored += toStore.length - refused.size;
    rejected += refused.size;
    for (const [k, reason] of refused) {
      const q = batch[owner[k]!]!;
      const fp = fileStates[q.file]!;
      fp.refused = true;
      if (reports.rejected++ < MAX_REPORTS) note(`OpenSearch refused the document of event ${toStore[k]!.id} (${fp.file.path}, record ${q.position}): ${reason}`);
    }
    for (const q of batch) {
      const fp = fileStates[q.file]!;
      fp.outstanding--;
      markDoneIfComplete(fp);
    }
    await checkpoint?.save(false);
    progress.update({ filesDone: filesRead + filesCorrupt, bytesDone, records: processed });
  };

  /** Moves every queued record older than `cutoffMs` to `ready`, flushing full batches. */
  const release = async (cutoffMs: number): Promise<void> => {
    while (queue.size > 0 && queue.peek()!.atMs < cutoffMs) {
      ready.push(queue.pop()!);
      if (ready.length >= batchSize) await flush(ready.splice(0, batchSize));
    }
  };

  let watermarkMs = Number.NEGATIVE_INFINITY;
  let stopReason: string | undefined;
  let failure: string | undefined;
  const stopRequested = (): boolean => signal?.aborted === true || (options.stopAfterFiles !== undefined && filesAttempted >= options.stopAfterFiles);

  progress.start();
  const workStartedMs = Date.now();
  try {
    try {
      for (const [fileIndex, fp] of fileStates.entries()) {
        if (stopRequested()) {
          stopReason = signal?.aborted ? String(signal.reason ?? 'a stop request') : `the limit of ${options.stopAfterFiles} files`;
          note(`stopping (${stopReason}): storing the ${formatCount(queue.size + ready.length)} records read so far`);
          break;
        }
        filesAttempted++;
        let records: unknown[];
        try {
          records = await readLogFile(fp.file.path);
        } catch (err) {
          if (!(err instanceof CorruptFileError)) throw err;
          filesCorrupt++;
          bytesDone += fp.file.sizeBytes;
          note(`skipped corrupt file ${fp.file.path}: it ${err.message}`);
          progress.update({ filesDone: filesRead + filesCorrupt, bytesDone, records: processed });
          continue;
        }
        filesRead++;
        bytesDone += fp.file.sizeBytes;
        recordsRead += records.length;
        let newestMs = fp.file.deliveredMs ?? Number.NEGATIVE_INFINITY;
        const notObjects: number[] = [];
        for (const [position, record] of records.entries()) {
          if (!isPlainObject(record)) {
            notObjects.push(position);
            continue;
          }
          const atMs = eventTimeMs(record);
          if (atMs > newestMs) newestMs = atMs;
          queue.push({ atMs, seq: seq++, record, file: fileIndex, position });
          fp.outstanding++;
          fp.records++;
        }
        if (notObjects.length > 0) {
          bad += notObjects.length;
          const which = notObjects.slice(0, 5).join(', ') + (notObjects.length > 5 ? ', ...' : '');
          note(`${fp.file.path}: ${notObjects.length} ${notObjects.length === 1 ? 'record is' : 'records are'} not a JSON object (Records[${which}]); skipped`);
        }
        fp.read = true;
        markDoneIfComplete(fp);
        peakBuffered = Math.max(peakBuffered, queue.size + ready.length);
        // Delivery time bounds the events in a file; the newest event stands in for a non-standard name.
        if (newestMs > watermarkMs) watermarkMs = newestMs;
        await release(watermarkMs - windowMs);
        progress.update({ filesDone: filesRead + filesCorrupt, bytesDone, records: processed });
      }
      // The end, or a stop: what was read is stored in full, so every file read is done.
      await release(Number.POSITIVE_INFINITY);
      while (ready.length > 0) await flush(ready.splice(0, batchSize));
    } catch (err) {
      failure = errorMessage(err);
      if (!(err instanceof BackfillFailure || err instanceof ServiceError)) stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    }
    if (checkpoint) {
      try {
        await checkpoint.save(true);
      } catch (err) {
        failure ??= errorMessage(err);
      }
    }
  } finally {
    progress.stop();
    await output.close().catch(() => undefined);
    if (ownGeoip) geoip.close();
  }

  if (reports.rejected > MAX_REPORTS) stderr.write(`impossible-travel backfill: ... and ${reports.rejected - MAX_REPORTS} more documents refused\n`);
  if (reports.failed > MAX_REPORTS) stderr.write(`impossible-travel backfill: ... and ${reports.failed - MAX_REPORTS} more records not processed\n`);
  const durationMs = Date.now() - startedMs;
  // The rate of the work itself: opening a 100 MB GeoIP database is not reading records.
  const workMs = Date.now() - workStartedMs;
  const counts = output.alertCounts();
  const summary: BackfillSummary = {
    outcome: failure !== undefined ? 'failed' : stopReason !== undefined ? 'interrupted' : 'completed',
    failure,
    target,
    checkpoint: checkpointPath,
    files: {
      found: discovery.files.length,
      alreadyDone,
      read: filesRead,
      corrupt: filesCorrupt,
      ignored: discovery.ignored,
      done: filesDone,
      notReached: todo.length - filesAttempted,
    },
    records: { read: recordsRead, processed, bad, stored, rejected, located },
    accessKeys: accessKeys.size,
    alerts: { raised: alertsRaised, new: counts?.new, alreadyStored: counts?.alreadyStored },
    peakBufferedRecords: peakBuffered,
    durationMs,
    recordsPerSecond: workMs > 0 ? Math.round((processed * 1000) / workMs) : processed,
  };
  stderr.write(formatSummary(summary, output.description, stopReason));
  return summary;
}

export function formatSummary(s: BackfillSummary, destination: string, stopReason?: string): string {
  const f = s.files;
  const r = s.records;
  const head =
    s.outcome === 'completed'
      ? `backfill completed in ${formatDuration(s.durationMs)}`
      : s.outcome === 'interrupted'
        ? `backfill stopped (${stopReason ?? 'interrupted'}) after ${formatDuration(s.durationMs)}; ${f.notReached} files not reached: run the same command again to resume`
        : `backfill FAILED after ${formatDuration(s.durationMs)}: ${s.failure}\n  what is stored stays stored${s.checkpoint ? ' and checkpointed' : ''}: run the same command again to resume`;
  const files = [`${f.read} read`, `${f.alreadyDone} already done (checkpoint)`, `${f.corrupt} corrupt`, `${f.ignored} ignored (not CloudTrail logs)`];
  if (f.notReached > 0) files.push(`${f.notReached} not reached`);
  const records = [`${formatCount(r.read)} read`, `${formatCount(r.stored)} ${destination}`, `${formatCount(r.bad)} bad`];
  if (r.rejected > 0) records.push(`${formatCount(r.rejected)} refused by OpenSearch (their files are not checkpointed)`);
  records.push(`${formatCount(s.recordsPerSecond)} records/s`);
  let alerts = formatCount(s.alerts.raised);
  if (s.alerts.new !== undefined) alerts += ` (${formatCount(s.alerts.new)} new, ${formatCount(s.alerts.alreadyStored ?? 0)} already stored)`;
  const lines = [
    `impossible-travel ${head}`,
    `  files        ${files.join(', ')}`,
    `  records      ${records.join(', ')}`,
    `  access keys  ${formatCount(s.accessKeys)}`,
    `  located      ${formatCount(r.located)} records (GeoIP)`,
    `  alerts       ${alerts}`,
  ];
  const doneFiles = f.alreadyDone + f.done;
  if (s.checkpoint) lines.push(`  checkpoint   ${s.checkpoint} (${formatCount(doneFiles)} ${doneFiles === 1 ? 'file' : 'files'} done)`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Command line

export const BACKFILL_USAGE = `Usage: impossible-travel backfill [options] PATH...

Reads CloudTrail log files as AWS delivers them to S3 (AWSLogs/<account>/CloudTrail/<region>/
YYYY/MM/DD/, *.json.gz and *.json) from each PATH, a file or a folder searched recursively, and
sends their records in event-time order through the same enrichment and impossible-travel
detection as the service: documents into OpenSearch (OPENSEARCH_URL), alerts into ALERTS_INDEX,
detection state into STATE_INDEX. Digest and Insights files and other files are counted and
ignored; a corrupt file is reported on stderr and skipped.

Options:
  --dry-run             no OpenSearch: print one enriched document per line (NDJSON) on stdout;
                        detection state is kept in memory only
  --index NAME          index for the documents (default ${DEFAULT_INDEX}); a document's _id is
                        its eventID, so running again overwrites and never duplicates
  --alerts-out FILE     also append every alert as one JSON line to FILE ("-": stdout)
  --checkpoint FILE     the files already done, skipped when run again (default
                        .impossible-travel-backfill-<index>.json in the current folder; with
                        --dry-run, none unless given)
  --restart             ignore the checkpoint and start over (it is rewritten)
  --reorder-window DUR  how much later than its time an event may be delivered and still be put
                        in order (default 30m; e.g. 2h, 90m)
  --batch-size N        records per pipeline batch and _bulk request (default ${DEFAULT_BATCH_SIZE})
  --no-progress         no progress bar (on a terminal) or progress line (every 10 s otherwise)
  -h, --help            this text

Progress, reports and the summary go to stderr. Ctrl-C (SIGINT) or SIGTERM stops reading, stores
what was read, writes the checkpoint and prints the summary; a second one quits at once. Run the
same command again to resume. Other settings (GEOIP_CITY_DB, MIN_DISTANCE_KM, ALERTS_INDEX, ...)
come from the environment, as for serve.

Exit codes: 0 done (corrupt files are reported, not failures), 1 failed or documents refused
(run again to resume), 2 bad usage, 78 bad configuration, 130/143 stopped by SIGINT/SIGTERM.
`;

export interface BackfillArgs {
  readonly help: boolean;
  readonly paths: string[];
  readonly dryRun: boolean;
  readonly index: string;
  readonly alertsOut: string | undefined;
  readonly checkpoint: string | undefined;
  readonly restart: boolean;
  readonly reorderWindowMs: number;
  readonly batchSize: number;
  readonly progress: boolean;
}

export function parseBackfillArgs(args: readonly string[]): BackfillArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        'dry-run': { type: 'boolean', default: false },
        index: { type: 'string' },
        'alerts-out': { type: 'string' },
        checkpoint: { type: 'string' },
        restart: { type: 'boolean', default: false },
        'reorder-window': { type: 'string' },
        'batch-size': { type: 'string' },
        'no-progress': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(errorMessage(err).replace(/\. To specify a positional argument.*$/s, ''));
  }
  const v = parsed.values;
  let reorderWindowMs = DEFAULT_REORDER_WINDOW_MS;
  if (v['reorder-window'] !== undefined) {
    try {
      reorderWindowMs = parseDurationMs(v['reorder-window']);
    } catch (err) {
      throw new UsageError(`--reorder-window: ${errorMessage(err)}`);
    }
  }
  let batchSize = DEFAULT_BATCH_SIZE;
  if (v['batch-size'] !== undefined) {
    batchSize = Number(v['batch-size']);
    if (!/^\d+$/.test(v['batch-size']) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE} (got "${v['batch-size']}")`);
    }
  }
  const dryRun = v['dry-run'] === true;
  const help = v.help === true;
  if (!help && parsed.positionals.length === 0) throw new UsageError('name at least one file or folder to read (PATH...)');
  return {
    help,
    paths: parsed.positionals,
    dryRun,
    index: v.index ?? DEFAULT_INDEX,
    alertsOut: v['alerts-out'],
    checkpoint: v.checkpoint ?? (dryRun ? undefined : defaultCheckpoint(v.index ?? DEFAULT_INDEX)),
    restart: v.restart === true,
    reorderWindowMs,
    batchSize,
    progress: v['no-progress'] !== true,
  };
}

const EXIT = { ok: 0, failed: 1, usage: 2, config: 78, sigint: 130, sigterm: 143 } as const;

/** `impossible-travel backfill ...`; resolves to the exit code. */
export async function backfillCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const say = (text: string): void => void process.stderr.write(`impossible-travel backfill: ${text}\n`);
  let cli: BackfillArgs;
  try {
    cli = parseBackfillArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    say(`${err.message}\nSee impossible-travel backfill --help`);
    return EXIT.usage;
  }
  if (cli.help) {
    process.stdout.write(BACKFILL_USAGE);
    return EXIT.ok;
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      say(`invalid configuration: ${err.message}`);
      return EXIT.config;
    }
    throw err;
  }
  // JSON logs are the service's; here they would mix with the reports, so only errors unless asked.
  const log = createLogger(env.LOG_LEVEL ? config.logLevel : 'error', process.stderr);

  const controller = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // Second time: quit now. Each stored batch was checkpointed already.
      process.stderr.write(`\nimpossible-travel backfill: ${sig} again: quitting without waiting\n`);
      process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
    }
    signalled = sig;
    controller.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let alertsOut: NodeJS.WritableStream | undefined;
  let alertsFile: ReturnType<typeof createWriteStream> | undefined;
  if (cli.alertsOut === '-') alertsOut = process.stdout;
  else if (cli.alertsOut !== undefined) {
    const file = createWriteStream(cli.alertsOut, { flags: 'a' });
    try {
      await once(file, 'open');
    } catch (err) {
      say(`--alerts-out: cannot open ${cli.alertsOut}: ${errorMessage(err)}`);
      return EXIT.usage;
    }
    alertsOut = alertsFile = file;
  }
  try {
    const summary = await runBackfill({
      paths: cli.paths,
      config,
      dryRun: cli.dryRun,
      index: cli.index,
      checkpointPath: cli.checkpoint,
      restart: cli.restart,
      reorderWindowMs: cli.reorderWindowMs,
      batchSize: cli.batchSize,
      alertsOut,
      progress: cli.progress ? 'auto' : 'off',
      signal: controller.signal,
      log,
    });
    if (summary.outcome === 'failed') return EXIT.failed;
    if (summary.outcome === 'interrupted') return signalled === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    return summary.records.rejected > 0 ? EXIT.failed : EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
      return EXIT.usage;
    }
    if (err instanceof ConfigError || (err instanceof ServiceError && err.code === 'geoip_unavailable')) {
      say(`invalid configuration: ${err.message}`);
      return EXIT.config;
    }
    if (err instanceof ServiceError) {
      say(err.message);
      return EXIT.failed;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (alertsFile) await new Promise<void>((done) => alertsFile!.end(() => done()));
  }
}
