import { Agent, request } from 'node:http';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync as zlibGzipSync, type ZlibOptions } from 'node:zlib';
import { CITY, cloudTrailRecord } from '../support/service-harness.js';

/**
 * A seeded generator of hostile request bodies for `/enrich` and `/_bulk`: broken JSON and NDJSON,
 * deep nesting, huge strings and numbers, invalid UTF-8, BOMs and NULs, wrong Content-Type and
 * Content-Encoding, gzip bombs, CloudTrail records with fields of the wrong type, prototype keys,
 * and for `_bulk` malformed action lines, unknown ops, missing sources, update/delete and
 * `{Records: [...]}` sources, with `filter_path` garbage in the query string; mixed with valid
 * bodies so that the GeoIP and detection-state paths run too.
 *
 * Every case is a pure function of (seed, case number): a failure names both, and
 * `FUZZ_SEED=<seed>` (plus `fuzzCase`/`bulkFuzzCase` with the number) rebuilds the exact request.
 * Besides the request, a case carries what the generator knows about it (`expect`), so that a
 * test can check more than "no 5xx" without re-implementing the service.
 */

export const DEFAULT_SEED = 0x1f2e3d4c;

// The limits both fuzz runs (/enrich in pure mode, /_bulk against OpenSearch) give the service.
export const MAX_BODY_BYTES = 1024 * 1024;
export const STATE_MAX_KEYS = 64;
export const GEOIP_CACHE_SIZE = 1000;
export const CASES = 10_000;
export const IN_FLIGHT = 16;
/**
 * What a run may leave behind on the heap. Retained by design: at most 64 key histories of 16
 * sightings (well under 1 MB), 1,000 GeoIP cache entries (under 1 MB), metrics with a fixed label
 * set, and the code the run compiled. Retained by mistake: per-request data, and 10,000 requests
 * carrying from 2 KB to 6 MB each, so keeping even one large body per hundred requests exceeds it.
 */
export const HEAP_GROWTH_BOUND_BYTES = 48 * 1024 * 1024;

/** The service settings for those limits. */
export const FUZZ_SERVICE_ENV: Readonly<Record<string, string>> = {
  MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  STATE_MAX_KEYS: String(STATE_MAX_KEYS),
  GEOIP_CACHE_SIZE: String(GEOIP_CACHE_SIZE),
};

/** FUZZ_SEED (decimal or 0x hex) when set, else the fixed default: runs are reproducible unless asked otherwise. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.FUZZ_SEED?.trim();
  if (!text) return DEFAULT_SEED;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`FUZZ_SEED must be a non-negative integer, not "${text}"`);
  return seed >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Randomness: sfc32 seeded through splitmix32 from (seed, case number), so that every case has its
// own independent stream and case N is the same whatever was generated before it.

/** Level 1: bombs of several megabytes compress in milliseconds, and the ratio still exceeds 100:1. */
const gzipSync = (data: string | Buffer, options: ZlibOptions = {}): Buffer => zlibGzipSync(data, { level: 1, ...options });

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    const mix = splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2f)) >>> 0);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.next() * total;
    for (const [w, v] of table) {
      x -= w;
      if (x < 0) return v;
    }
    return table[table.length - 1]![1];
  }

  /** Long strings repeat a random 256-character chunk: random enough, and cheap at 100 KB. */
  string(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
    let out = '';
    for (let i = 0; i < Math.min(length, 256); i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return length <= 256 ? out : out.repeat(Math.ceil(length / 256)).slice(0, length);
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The case and what the generator knows about it.

export interface Expectation {
  /**
   * The body, once a well-formed Content-Encoding (and a gzip body sent without one) is undone,
   * is larger than MAX_BODY_BYTES by a clear margin: the answer must be 413 naming MAX_BODY_BYTES.
   */
  readonly tooLarge: boolean;
  /**
   * A CloudWatch Logs `awslogs.data` member whose gzip inflates past MAX_BODY_BYTES: the body is
   * small, the data it stands for is not, so it must be refused (413, or a per-record error),
   * never inflated and answered.
   */
  readonly awslogsBomb: boolean;
  /** /enrich: the number of records the body holds, when the generator knows it (else undefined). */
  readonly records: number | undefined;
  /** /_bulk: false when `filter_path` may remove `errors` or `items` from the answer. */
  readonly itemsVisible: boolean;
}

export interface FuzzCase {
  readonly seed: number;
  /** The case number: with the seed, all it takes to rebuild the request. */
  readonly id: number;
  /** What was generated, e.g. `records.wrong-types+gzip+ct:text/plain`; the failure report groups by it. */
  readonly kind: string;
  /** `/enrich`, `/_bulk` or `/<index>/_bulk`, with the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /**
   * For `/_bulk`: the body text the service should read (after a well-formed Content-Encoding is
   * undone); undefined when the encoding is broken and the body cannot be read at all.
   */
  readonly bulkText: string | undefined;
  readonly expect: Expectation;
}

export interface FuzzOptions {
  readonly maxBodyBytes: number;
  /** Prefix of the access key ids the records use: unique per run on a shared node. */
  readonly keyPrefix: string;
  /** How many distinct access keys: more than STATE_MAX_KEYS, so that the state store evicts. */
  readonly keyCount: number;
}

export interface BulkFuzzOptions extends FuzzOptions {
  /** The one index documents go to (unique per run): the fuzzer must not create others. */
  readonly index: string;
}

export function describeCase(c: FuzzCase): string {
  const head = c.body.subarray(0, 160).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `case #${c.id} (FUZZ_SEED=${c.seed}) ${c.kind}: POST ${c.path} ${JSON.stringify(c.headers)} ${c.body.length} bytes: ${head}${c.body.length > 160 ? '…' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// CloudTrail records, valid and not.

const T0 = Date.UTC(2024, 0, 1);
const CITY_IPS = Object.values(CITY).map((c) => c.ip);

/** Addresses that are not where a key was used, or not addresses at all. */
const OTHER_SOURCES: readonly unknown[] = [
  '8.8.8.8', '10.0.0.7', '192.168.1.1', '127.0.0.1', 'AWS Internal', 'ec2.amazonaws.com', '2001:db8::1', '::1',
  '::ffff:81.2.69.142', '0:0:0:0:0:ffff:5102:458e', '::ffff:999.1.1.1', '081.2.69.142', '81.002.69.142', '81.2.69.142 ',
  ' 81.2.69.142', '81.2.69.142%eth0', '[::1]', '81.2.69', '81.2.69.142.5', '1.128.0.9/11', '', 'ffff::ffff::1',
  '\u0000', '81.2.69.142\u0000', 12345, 81.2, true, null, ['81.2.69.142'], { ip: '81.2.69.142' },
];

function accessKey(r: Rng, o: FuzzOptions): string {
  return `${o.keyPrefix}${r.int(0, o.keyCount - 1).toString().padStart(4, '0')}`;
}

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

function someTime(r: Rng): number {
  return T0 + r.int(0, 365 * 24 * 60) * 60_000;
}

function validRecord(r: Rng, o: FuzzOptions, at = someTime(r), key = accessKey(r, o), ip?: string): Record<string, unknown> {
  const sourceIp = ip ?? (r.chance(0.8) ? r.pick(CITY_IPS) : r.pick(OTHER_SOURCES.filter((s) => typeof s === 'string') as string[]));
  const rec = cloudTrailRecord({ key, ip: sourceIp, at: isoAt(at), id: `ev-${r.string(12)}`, user: r.pick(['alice', 'bob', 'carol']) });
  if (r.chance(0.2)) {
    rec.userIdentity = {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:session',
      arn: `arn:aws:sts::111122223333:assumed-role/Admin/${r.pick(['alice', 'bob'])}@example.com`,
      accountId: '111122223333',
      accessKeyId: key.replace(/^AKIA/, 'ASIA'),
      sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/Admin' } },
    };
  }
  return rec;
}

/** A key seen in one city and, 20–90 minutes later, half a world away: an impossible journey. */
function travelPair(r: Rng, o: FuzzOptions): Record<string, unknown>[] {
  const key = accessKey(r, o);
  const at = someTime(r);
  const [from, to] = r.pick([
    [CITY.london.ip, CITY.tokyo.ip],
    [CITY.paris.ip, CITY.sydney.ip],
    [CITY.tokyo.ip, CITY.london.ip],
  ] as const);
  const pair = [validRecord(r, o, at, key, from), validRecord(r, o, at + r.int(20, 90) * 60_000, key, to)];
  return r.chance(0.3) ? pair.reverse() : pair;
}

function hugeDigits(r: Rng, length: number): string {
  return String(r.int(1, 9)) + r.string(length - 1, '0123456789');
}

/** Values of the wrong type, size or shape for a field that should hold a short string. */
function wrongValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => r.int(-1e9, 1e9),
    () => r.next() * 1e300,
    () => -0,
    () => true,
    () => null,
    () => [],
    () => ['AKIA', 1, null],
    () => ({}),
    () => ({ nested: { deeper: 'x' } }),
    () => '',
    () => ' ',
    () => r.string(r.int(513, 4096)),
    () => r.string(r.int(33_000, 40_000)),
    () => '\u0000\u0001\u001f',
    () => '\ud800',
    () => '💥'.repeat(r.int(1, 300)),
    () => '__proto__',
    () => 'constructor',
    () => 'toString',
    () => 'hasOwnProperty',
  ])();
}

const BAD_TIMES: readonly unknown[] = [
  'garbage', '', '2024-02-30T25:61:61Z', '2024-13-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00.000Z', '+020000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z', '2024-05-01', 'May 1, 2024 10:00', '1714557600000', 'Infinity', 'NaN', '2024-05-01T10:00:00+99:99',
  1714557600000, 1e400, -1, {}, { $date: '2024-05-01T10:00:00Z' }, [], ['2024-05-01T10:00:00Z'], true, null,
];

/** One CloudTrail record with 1–3 fields of the wrong type; mostly keeping a city IP, so detection runs on it. */
function wrongTypeRecord(r: Rng, o: FuzzOptions, base = validRecord(r, o)): Record<string, unknown> {
  const rec = base;
  const identity = (typeof rec.userIdentity === 'object' && rec.userIdentity !== null ? rec.userIdentity : {}) as Record<string, unknown>;
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    r.pick<() => void>([
      () => (rec.userIdentity = r.pick<unknown>(['IAMUser', 42, null, [], [identity], 'AKIAIOSFODNN7EXAMPLE', true])),
      () => (identity.accessKeyId = wrongValue(r)),
      () => (identity.accessKeyId = r.string(r.int(513, 2048), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')),
      () => (identity.type = r.pick<unknown>([{ a: 1 }, ['IAMUser'], 7, 'AWSService', 'Root', 'FederatedUser', ''])),
      () => (identity.arn = wrongValue(r)),
      () => (identity.accountId = wrongValue(r)),
      () => (identity.principalId = wrongValue(r)),
      () => (identity.userName = wrongValue(r)),
      () => (rec.eventTime = r.pick(BAD_TIMES)),
      () => (rec['@timestamp'] = r.pick(BAD_TIMES)),
      () => (rec.sourceIPAddress = r.pick(OTHER_SOURCES)),
      () => (rec.sourceIPAddress = r.string(r.int(1000, 100_000), '0123456789.:abcdef')),
      () => (rec.eventID = wrongValue(r)),
      () => (rec.awsRegion = wrongValue(r)),
      () => (rec.recipientAccountId = wrongValue(r)),
      () => (rec.source = r.pick<unknown>(['string', 5, [], null, { ip: 7, geo: 'x' }, { address: {} }])),
      () => (rec.impossible_travel = r.pick<unknown>(['x', { alert_id: 5 }, []])),
      () => (rec.readOnly = r.pick<unknown>(['yes', 2, {}])),
      () => (rec.requestParameters = { bucketName: wrongValue(r), list: Array.from({ length: r.int(0, 50) }, () => wrongValue(r)) }),
      () => (rec.eventVersion = wrongValue(r)),
    ])();
  }
  if (rec.userIdentity === undefined || rec.userIdentity === identity) rec.userIdentity = identity;
  return rec;
}

/**
 * Inserts raw members at the start of each JSON object of the text: a JavaScript object literal
 * cannot hold an own `__proto__` member, JSON.parse makes one.
 */
function withPrototypeKeys(r: Rng, json: string): string {
  const member = r.pick([
    '"__proto__":{"polluted":"yes","eventTime":"2024-05-01T10:00:00Z"},',
    '"constructor":{"prototype":{"polluted":"yes"}},',
    '"__proto__":null,',
    '"__proto__":[1,2],',
    '"hasOwnProperty":"x","toString":1,"valueOf":{},',
    '"__proto__":{"userIdentity":{"accessKeyId":"AKIAPROTO"}},',
  ]);
  return json.replace(/\{(?=")/g, () => (r.chance(0.5) ? `{${member}` : '{'));
}

// ---------------------------------------------------------------------------------------------
// Bodies for /enrich: a shape of records (with the number of records it holds), then text damage,
// byte damage, an encoding and a content type.

interface Shape {
  readonly kind: string;
  readonly text: string;
  /** The bytes, when built once and shared (bombs): `text` is then unused. */
  readonly bytes?: Buffer;
  readonly ndjson: boolean;
  readonly records: number | undefined;
}

function cwlDataMessage(records: readonly unknown[], r: Rng, messageFor?: (rec: unknown, i: number) => unknown): Record<string, unknown> {
  return {
    messageType: 'DATA_MESSAGE',
    owner: '111122223333',
    logGroup: 'aws-cloudtrail-logs',
    logStream: '111122223333_CloudTrail_eu-west-1',
    subscriptionFilters: ['to-impossible-travel'],
    logEvents: records.map((rec, i) => ({ id: r.string(20, '0123456789'), timestamp: T0, message: messageFor ? messageFor(rec, i) : JSON.stringify(rec) })),
  };
}

function eventBridge(detail: unknown): Record<string, unknown> {
  return { version: '0', id: 'eb-1', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: '111122223333', detail };
}

function someRecords(r: Rng, o: FuzzOptions, wrongTypes: boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const n = r.int(1, 12);
  while (out.length < n) {
    if (r.chance(0.3)) out.push(...travelPair(r, o));
    else out.push(validRecord(r, o));
  }
  return wrongTypes ? out.map((rec) => (r.chance(0.7) ? wrongTypeRecord(r, o, rec) : rec)) : out;
}

/** Valid CloudTrail in every envelope /enrich reads, with or without wrong-typed fields inside. */
function recordsShape(r: Rng, o: FuzzOptions, wrongTypes: boolean): Shape {
  const kind = wrongTypes ? 'records.wrong-types' : 'records.valid';
  const recs = someRecords(r, o, wrongTypes);
  const envelope = r.weighted<string>([[3, 'one'], [3, 'array'], [3, 's3'], [1, 'eventbridge'], [1, 'cwl'], [1, 'awslogs'], [3, 'ndjson'], [1, 'control']]);
  switch (envelope) {
    case 'one':
      return { kind: `${kind}.one`, text: JSON.stringify(recs[0]), ndjson: false, records: 1 };
    case 'array':
      return { kind: `${kind}.array`, text: JSON.stringify(recs), ndjson: false, records: recs.length };
    case 's3':
      return { kind: `${kind}.s3-file`, text: JSON.stringify({ Records: recs }), ndjson: false, records: recs.length };
    case 'eventbridge':
      return { kind: `${kind}.eventbridge`, text: JSON.stringify(recs.map(eventBridge)), ndjson: false, records: recs.length };
    case 'cwl':
      return { kind: `${kind}.cwl`, text: JSON.stringify(cwlDataMessage(recs, r)), ndjson: false, records: recs.length };
    case 'awslogs': {
      const data = gzipSync(JSON.stringify(cwlDataMessage(recs, r))).toString('base64');
      return { kind: `${kind}.awslogs`, text: JSON.stringify({ awslogs: { data } }), ndjson: false, records: recs.length };
    }
    case 'control':
      return { kind: `${kind}.cwl-control`, text: JSON.stringify({ ...cwlDataMessage(recs, r), messageType: 'CONTROL_MESSAGE' }), ndjson: false, records: 0 };
    default: {
      const lines = recs.map((rec) => JSON.stringify(rec));
      return { kind: `${kind}.ndjson`, text: lines.join(r.pick(['\n', '\r\n', '\n\n'])) + r.pick(['', '\n']), ndjson: true, records: recs.length };
    }
  }
}

/** Envelopes with members of the wrong type: the count is what the envelope rules make of them. */
function envelopeShape(r: Rng, o: FuzzOptions): Shape {
  const rec = validRecord(r, o);
  const recs = someRecords(r, o, false);
  return r.pick<() => Shape>([
    () => ({ kind: 'envelope.records-not-array', text: JSON.stringify({ Records: r.pick<unknown>([rec, 'x', 5, null, { 0: rec }]) }), ndjson: false, records: 1 }),
    () => ({ kind: 'envelope.records-of-non-objects', text: JSON.stringify({ Records: [1, 'x', null, [rec], true, rec] }), ndjson: false, records: 6 }),
    () => {
      const messages: unknown[] = [5, { a: 1 }, null, ['x'], 'not json {', JSON.stringify(rec), JSON.stringify([rec]), '"just a string"'];
      return {
        kind: 'envelope.cwl-non-string-messages',
        text: JSON.stringify(cwlDataMessage(messages, r, (m) => m)),
        ndjson: false,
        records: messages.length,
      };
    },
    () => ({ kind: 'envelope.cwl-events-not-objects', text: JSON.stringify({ messageType: 'DATA_MESSAGE', logEvents: [1, 'x', null, []] }), ndjson: false, records: 4 }),
    () => ({ kind: 'envelope.cwl-message-type-wrong', text: JSON.stringify({ messageType: 7, logEvents: [{ message: JSON.stringify(rec) }] }), ndjson: false, records: 1 }),
    () => ({ kind: 'envelope.eventbridge-detail-string', text: JSON.stringify({ ...eventBridge(JSON.stringify(rec)) }), ndjson: false, records: 1 }),
    () => ({ kind: 'envelope.eventbridge-detail-type-number', text: JSON.stringify({ ...eventBridge(rec), 'detail-type': 5 }), ndjson: false, records: 1 }),
    () => ({ kind: 'envelope.eventbridge-detail-array', text: JSON.stringify(eventBridge([rec])), ndjson: false, records: 1 }),
    () => {
      const data = r.pick<unknown>([
        'not base64 !!!',
        Buffer.from('not gzip').toString('base64'),
        gzipSync('not json {').toString('base64'),
        gzipSync(JSON.stringify(cwlDataMessage(recs, r))).toString('base64').slice(0, 40),
        5,
        { data: 'x' },
        '',
      ]);
      // Unreadable data is one unreadable record; data that is not a string leaves an ordinary object.
      return { kind: 'envelope.awslogs-bad-data', text: JSON.stringify({ awslogs: { data } }), ndjson: false, records: 1 };
    },
    () => {
      // awslogs inside awslogs: how far the reader unwraps is its business; only the status is checked.
      const inner = JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(cwlDataMessage(recs, r))).toString('base64') } });
      return { kind: 'envelope.awslogs-nested', text: JSON.stringify({ awslogs: { data: gzipSync(inner).toString('base64') } }), ndjson: false, records: undefined };
    },
    () => ({ kind: 'envelope.nested-arrays', text: JSON.stringify([[rec], [[rec]], rec]), ndjson: false, records: undefined }),
    () => ({ kind: 'envelope.scalars', text: r.pick(['1', '"x"', 'null', 'true', '[]', '{}', '[null]', '-0', '[1e400]']), ndjson: false, records: undefined }),
  ])();
}

/** JSON and NDJSON that do not parse, mixed with lines that do. */
function brokenShape(r: Rng, o: FuzzOptions): Shape {
  const base = recordsShape(r, o, r.chance(0.3));
  const text = base.text;
  const broken = r.pick<(t: string) => string>([
    (t) => t.slice(0, r.int(0, Math.max(0, t.length - 1))),
    (t) => {
      const at = r.int(0, t.length);
      return t.slice(0, at) + r.pick(['{', '}', '[', ']', '"', ',', ':', '\\', "'", 'undefined', 'NaN', '/*', '\u0000', '\t']) + t.slice(at);
    },
    (t) => {
      const at = r.int(0, Math.max(0, t.length - 1));
      return t.slice(0, at) + t.slice(at + r.int(1, 20));
    },
    (t) => t.replace(/"/g, () => (r.chance(0.05) ? "'" : '"')),
    (t) => t + r.pick([',', '}', ']', ' garbage', '{"a":1}', '\n{', '\u0000']),
    (t) => t.replace(/:/g, () => (r.chance(0.05) ? '=' : ':')),
    (t) => r.pick(['{', '[', '"', '{"Records":[', '{"a":', 'nul', 'tru', '[1,', '{"Records":[{"eventTime":"2024-05-01T10:00:00Z"']) + t.slice(0, r.int(0, 30)),
  ]);
  if (base.ndjson) {
    // Good lines with bad ones between them: each bad line is one unreadable record.
    const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
    const out: string[] = [];
    for (const line of lines) {
      out.push(line);
      if (r.chance(0.4)) out.push(broken(line) || '{');
    }
    return { kind: 'ndjson.mixed-broken-lines', text: out.join('\n'), ndjson: true, records: undefined };
  }
  return { kind: 'json.broken', text: broken(text), ndjson: false, records: undefined };
}

function deepText(r: Rng, depth: number): { kind: string; text: string } {
  return r.pick<() => { kind: string; text: string }>([
    () => ({ kind: 'array', text: '['.repeat(depth) + ']'.repeat(depth) }),
    () => ({ kind: 'object', text: '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) }),
    () => ({ kind: 'mixed', text: '{"a":['.repeat(depth >> 1) + 'null' + ']}'.repeat(depth >> 1) }),
    () => ({ kind: 'unclosed', text: '['.repeat(depth) }),
  ])();
}

/** 100 to 100,000 levels of nesting, at the top and inside a record's field. */
function deepShape(r: Rng, o: FuzzOptions): Shape {
  const depth = r.pick([100, 1000, 3000, 6000, 10_000, 50_000, 100_000]);
  const deep = deepText(r, depth);
  const where = r.pick(['top', 'field', 'ndjson']);
  if (where === 'top') return { kind: `deep.top-${deep.kind}`, text: deep.text, ndjson: false, records: undefined };
  if (where === 'ndjson') {
    const good = JSON.stringify(validRecord(r, o));
    return { kind: `deep.ndjson-${deep.kind}`, text: `${good}\n${deep.text}\n${good}\n`, ndjson: true, records: undefined };
  }
  const rec = JSON.stringify(validRecord(r, o));
  return { kind: `deep.field-${deep.kind}`, text: rec.replace(/"requestParameters":null/, `"requestParameters":${deep.text}`), ndjson: false, records: undefined };
}

/** Numbers JSON allows but doubles do not hold, and number text JSON does not allow. */
function numbersShape(r: Rng, o: FuzzOptions): Shape {
  const rec = JSON.stringify(validRecord(r, o));
  const valid = ['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '-0.0e-0', '9007199254740993', hugeDigits(r, r.int(400, 200_000))];
  const invalid = ['NaN', 'Infinity', '-Infinity', '0x10', '01', '+1', '.5', '1.', '1e', '--1'];
  const number = r.chance(0.75) ? r.pick(valid) : r.pick(invalid);
  const field = r.pick(['"eventTime":"[^"]*"', '"sourceIPAddress":"[^"]*"', '"accessKeyId":"[^"]*"', '"eventID":"[^"]*"', '"readOnly":true', '"requestParameters":null']);
  const text = rec.replace(new RegExp(field), (m) => `${m.slice(0, m.indexOf(':') + 1)}${number}`);
  return { kind: valid.includes(number) ? 'numbers.huge' : 'numbers.invalid-text', text, ndjson: false, records: valid.includes(number) ? 1 : undefined };
}

/** Strings from 200 KB to 5 MB: most over a 1 MiB limit, some just under it. */
function hugeShape(r: Rng, o: FuzzOptions): Shape {
  const size = r.chance(0.3) ? r.int(200_000, 900_000) : r.int(1_100_000, 5_000_000);
  const rec = validRecord(r, o);
  const filler = r.pick(['a', '0', '\\u0000', 'é', '💥', '\\"']);
  const where = r.pick(['sourceIPAddress', 'accessKeyId', 'eventName', 'userAgent']);
  const count = Math.ceil(size / Buffer.byteLength(filler));
  const text = JSON.stringify(rec).replace(new RegExp(`"${where}":"[^"]*"`), () => `"${where}":"${filler.repeat(count)}"`);
  return { kind: `huge.string-${where}`, text, ndjson: false, records: 1 };
}

/** Many tiny records in one body: the answer is larger than the body; how much larger is bounded. */
function manyShape(r: Rng, o: FuzzOptions): Shape {
  const n = r.int(1000, 20_000);
  const item = r.pick(['1', '{}', '[]', 'null', '"x"', JSON.stringify({ eventTime: '2024-05-01T10:00:00Z', sourceIPAddress: CITY.paris.ip, userIdentity: { accessKeyId: accessKey(r, o) } })]);
  if (r.chance(0.5)) return { kind: 'many.array', text: `[${Array(n).fill(item).join(',')}]`, ndjson: false, records: n };
  // What an array on an NDJSON line stands for (one bad record, or a list of them) is the reader's choice.
  return { kind: 'many.ndjson', text: Array(n).fill(item).join('\n'), ndjson: true, records: item === '[]' ? undefined : n };
}

/** A CloudWatch Logs payload whose `awslogs.data` inflates past the limit while the body stays small. */
function awslogsBombShape(r: Rng, o: FuzzOptions, maxBodyBytes: number): Shape {
  const times = r.int(2, 6);
  const bytes = shared(`awslogs-bomb:${times}:${maxBodyBytes}`, () => {
    const rec = validRecord(r, o);
    rec.userAgent = 'a'.repeat(times * maxBodyBytes);
    const data = gzipSync(JSON.stringify(cwlDataMessage([rec], r))).toString('base64');
    return JSON.stringify({ awslogs: { data } });
  });
  return { kind: 'bomb.awslogs', text: '', bytes, ndjson: false, records: 1 };
}

function emptyShape(r: Rng): Shape {
  const text = r.pick(['', ' ', '\n', '\r\n\r\n', '\t \n ', '\u00a0', '\u2028']);
  return { kind: 'empty', text, ndjson: r.chance(0.5), records: undefined };
}

// ---------------------------------------------------------------------------------------------
// Bytes, encodings and headers: shared by both targets.

/**
 * Bombs are megabytes to build and compress: each size is built once per process and shared by
 * every case that draws it (a bomb's content does not matter, its size does).
 */
const sharedBodies = new Map<string, Buffer>();
/** For each shared body, its compressed forms by encoding. */
const compressed = new WeakMap<Buffer, Map<string, Buffer>>();

function shared(key: string, build: () => string): Buffer {
  let body = sharedBodies.get(key);
  if (!body) {
    body = Buffer.from(build(), 'utf8');
    sharedBodies.set(key, body);
    compressed.set(body, new Map());
  }
  return body;
}

function compressOnce(plain: Buffer, how: string, compress: (b: Buffer) => Buffer): Buffer {
  const byHow = compressed.get(plain);
  if (!byHow) return compress(plain);
  let out = byHow.get(how);
  if (!out) byHow.set(how, (out = compress(plain)));
  return out;
}

/** Byte sequences UTF-8 forbids: lone continuation, overlong, surrogate, truncated, out of range. */
const INVALID_UTF8: readonly number[][] = [
  [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xc3, 0x28], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf0, 0x9f, 0x98], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xff, 0xfe],
];

interface ByteDamage {
  readonly kind: string;
  readonly bytes: Buffer;
  /** The damage leaves the text valid UTF-8 and valid JSON (e.g. a UTF-8 BOM, which the decoder drops). */
  readonly harmless: boolean;
}

function damageBytes(r: Rng, text: string): ByteDamage {
  const bytes = Buffer.from(text, 'utf8');
  const at = (): number => {
    // Inside a string value when there is one, so that only the encoding is wrong.
    const quotes: number[] = [];
    for (let i = 0; i < bytes.length && quotes.length < 64; i++) if (bytes[i] === 0x22) quotes.push(i + 1);
    return quotes.length > 0 ? r.pick(quotes) : r.int(0, bytes.length);
  };
  const splice = (pos: number, insert: readonly number[]): Buffer => Buffer.concat([bytes.subarray(0, pos), Buffer.from(insert), bytes.subarray(pos)]);
  return r.pick<() => ByteDamage>([
    () => ({ kind: 'invalid-utf8', bytes: splice(at(), r.pick(INVALID_UTF8)), harmless: false }),
    () => ({ kind: 'utf8-bom', bytes: splice(0, [0xef, 0xbb, 0xbf]), harmless: true }),
    () => ({ kind: 'utf16-bom', bytes: splice(0, [0xff, 0xfe]), harmless: false }),
    () => ({ kind: 'utf16le', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), harmless: false }),
    () => ({ kind: 'nul-bytes', bytes: splice(at(), [0, 0, 0]), harmless: false }),
    () => ({ kind: 'latin1', bytes: Buffer.from(text.replace(/"eventName":"/, '"eventName":"café '), 'latin1'), harmless: false }),
    () => ({ kind: 'random-bytes', bytes: r.bytes(r.int(1, 4096)), harmless: false }),
  ])();
}

interface Encoded {
  readonly kind: string;
  readonly body: Buffer;
  readonly contentEncoding: string | undefined;
  /** The bytes the service reads once the encoding is undone; undefined when the encoding is broken. */
  readonly decoded: Buffer | undefined;
}

function encode(r: Rng, plain: Buffer, forceValid = false): Encoded {
  const choice = forceValid
    ? r.pick(['gzip', 'gzip-no-header', 'deflate', 'br'])
    : r.weighted<string>([
        [72, 'none'], [8, 'gzip'], [3, 'gzip-no-header'], [3, 'deflate'], [3, 'br'], [1, 'identity'], [1, 'GZip'],
        [2, 'gzip-not-gzip'], [2, 'gzip-truncated'], [1, 'gzip-no-header-truncated'], [1, 'deflate-raw'], [1, 'double-gzip'],
        [1, 'identity, gzip'], [1, 'gzip, identity'], [1, 'unknown'], [1, 'x-gzip'], [1, 'compress'], [1, 'zstd'], [1, 'padded'],
      ]);
  switch (choice) {
    case 'none':
      return { kind: '', body: plain, contentEncoding: undefined, decoded: plain };
    case 'identity':
      return { kind: '+ce:identity', body: plain, contentEncoding: 'identity', decoded: plain };
    case 'gzip':
    case 'GZip':
      return { kind: `+ce:${choice}`, body: compressOnce(plain, 'gzip', gzipSync), contentEncoding: choice, decoded: plain };
    case 'gzip-no-header':
      return { kind: '+gzip-magic', body: compressOnce(plain, 'gzip', gzipSync), contentEncoding: undefined, decoded: plain };
    case 'deflate':
      return { kind: '+ce:deflate', body: compressOnce(plain, 'deflate', (b) => deflateSync(b, { level: 1 })), contentEncoding: 'deflate', decoded: plain };
    case 'br':
      // Quality 4: the default (11) takes seconds on a few megabytes.
      const br = (b: Buffer): Buffer => brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } });
      return { kind: '+ce:br', body: compressOnce(plain, 'br', br), contentEncoding: 'br', decoded: plain };
    case 'padded':
      // Whitespace around a header value is not part of it (RFC 9110 5.5): this is gzip.
      return { kind: '+ce:" gzip "', body: gzipSync(plain), contentEncoding: ' gzip ', decoded: plain };
    case 'double-gzip':
      return { kind: '+ce:gzip(gzip)', body: gzipSync(gzipSync(plain)), contentEncoding: 'gzip', decoded: plain };
    case 'gzip-not-gzip':
      return { kind: '+ce:gzip-not-gzip', body: plain, contentEncoding: 'gzip', decoded: undefined };
    case 'gzip-truncated': {
      const z = gzipSync(plain);
      return { kind: '+ce:gzip-truncated', body: z.subarray(0, r.int(0, Math.max(0, z.length - 9))), contentEncoding: 'gzip', decoded: undefined };
    }
    case 'gzip-no-header-truncated': {
      const z = gzipSync(plain);
      return { kind: '+gzip-magic-truncated', body: z.subarray(0, r.int(2, Math.max(2, z.length - 9))), contentEncoding: undefined, decoded: undefined };
    }
    case 'deflate-raw':
      return { kind: '+ce:deflate-but-gzip', body: gzipSync(plain).subarray(0, r.chance(0.5) ? undefined : 12), contentEncoding: 'deflate', decoded: undefined };
    default:
      // Encodings the service does not read, announced on a body that may or may not be compressed.
      return { kind: `+ce:${choice}`, body: r.chance(0.5) ? gzipSync(plain) : plain, contentEncoding: choice, decoded: undefined };
  }
}

/** Content types, and whether the service should read the body as NDJSON under it. */
const CONTENT_TYPES: readonly (readonly [string | undefined, boolean])[] = [
  ['text/plain', false],
  ['application/xml', false],
  ['multipart/form-data; boundary=----x', false],
  ['application/x-www-form-urlencoded', false],
  ['application/octet-stream', false],
  [undefined, false],
  ['application/json; charset=latin1', false],
  ['application/json; charset=utf-16', false],
  ['application/x-ndjson; charset=utf-16', true],
  ['application/jsonl', true],
  ['application/json-seq', true],
  ['APPLICATION/X-NDJSON', true],
  ['application/', false],
  [';;;', false],
  ['*/*', false],
];

function contentType(r: Rng, ndjson: boolean): { kind: string; value: string | undefined; ndjson: boolean } {
  if (r.chance(0.85)) return { kind: '', value: ndjson ? r.pick(['application/x-ndjson', 'application/ndjson']) : 'application/json', ndjson };
  const [value, isNd] = r.pick(CONTENT_TYPES);
  return { kind: `+ct:${value ?? 'none'}`, value, ndjson: isNd };
}

/** The size that trips the limit, with room for framing: a case is "too large" only by a clear margin. */
function overLimit(bytes: number, maxBodyBytes: number): boolean {
  return bytes > maxBodyBytes * 1.05;
}

// ---------------------------------------------------------------------------------------------
// /enrich

/** The request for /enrich number `id` of the run seeded `seed`. */
export function fuzzCase(seed: number, id: number, o: FuzzOptions): FuzzCase {
  const r = new Rng(seed, id);
  const family = r.weighted<string>([
    [22, 'valid'], [24, 'wrong-types'], [8, 'envelope'], [14, 'broken'], [4, 'deep'], [4, 'numbers'], [4, 'proto'],
    [0.8, 'huge'], [1, 'many'], [0.6, 'awslogs-bomb'], [0.8, 'gzip-bomb'], [1, 'empty'], [6, 'bytes'],
  ]);
  let shape: Shape;
  let forceValidEncoding = false;
  switch (family) {
    case 'valid':
      shape = recordsShape(r, o, false);
      break;
    case 'wrong-types':
      shape = recordsShape(r, o, true);
      break;
    case 'envelope':
      shape = envelopeShape(r, o);
      break;
    case 'broken':
      shape = brokenShape(r, o);
      break;
    case 'deep':
      shape = deepShape(r, o);
      break;
    case 'numbers':
      shape = numbersShape(r, o);
      break;
    case 'proto': {
      const base = recordsShape(r, o, r.chance(0.3));
      shape = { ...base, kind: `proto.${base.kind}`, text: withPrototypeKeys(r, base.text) };
      break;
    }
    case 'huge':
      shape = hugeShape(r, o);
      break;
    case 'many':
      shape = manyShape(r, o);
      break;
    case 'awslogs-bomb':
      shape = awslogsBombShape(r, o, o.maxBodyBytes);
      break;
    case 'gzip-bomb': {
      // Small on the wire, past the limit once inflated: 2 to 6 times MAX_BODY_BYTES.
      const times = r.int(2, 6);
      const bytes = shared(`enrich-bomb:${times}:${o.maxBodyBytes}`, () => {
        const rec = JSON.stringify(validRecord(r, o));
        return `[${Array(Math.ceil((times * o.maxBodyBytes) / rec.length)).fill(rec).join(',')}]`;
      });
      shape = { kind: 'bomb.gzip', text: '', bytes, ndjson: false, records: undefined };
      forceValidEncoding = true;
      break;
    }
    case 'empty':
      shape = emptyShape(r);
      break;
    default:
      shape = recordsShape(r, o, r.chance(0.3));
      break;
  }

  let plain: Buffer;
  let kind = shape.kind;
  let records = shape.records;
  if (family === 'bytes') {
    const damage = damageBytes(r, shape.text);
    plain = damage.bytes;
    kind = `bytes.${damage.kind}`;
    if (!damage.harmless) records = undefined;
  } else {
    plain = shape.bytes ?? Buffer.from(shape.text, 'utf8');
  }

  const encoded = encode(r, plain, forceValidEncoding);
  const ct = contentType(r, shape.ndjson);
  if (ct.ndjson !== shape.ndjson) records = undefined;
  const decoded = encoded.decoded;
  const tooLarge = decoded !== undefined && overLimit(decoded.length, o.maxBodyBytes);
  const headers: Record<string, string> = {};
  if (ct.value !== undefined) headers['content-type'] = ct.value;
  if (encoded.contentEncoding !== undefined) headers['content-encoding'] = encoded.contentEncoding;
  return {
    seed,
    id,
    kind: kind + encoded.kind + ct.kind,
    path: '/enrich',
    headers,
    body: encoded.body,
    bulkText: undefined,
    expect: {
      tooLarge,
      awslogsBomb: family === 'awslogs-bomb' && encoded.decoded !== undefined && !tooLarge,
      records: decoded === undefined || tooLarge ? undefined : records,
      itemsVisible: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// /_bulk

/** A source line for index/create: mostly CloudTrail, sometimes not a document at all. */
function bulkSource(r: Rng, o: BulkFuzzOptions): string {
  return r.weighted<() => string>([
    [40, () => JSON.stringify(validRecord(r, o))],
    [30, () => JSON.stringify(wrongTypeRecord(r, o))],
    [8, () => JSON.stringify({ Records: someRecords(r, o, r.chance(0.3)) })],
    [2, () => JSON.stringify({ Records: [] })],
    [2, () => JSON.stringify({ Records: [1, null, validRecord(r, o)] })],
    [4, () => r.pick(['1', '"x"', 'null', '[]', '[{}]', 'true', '-0', '1e400'])],
    [6, () => {
      const t = JSON.stringify(validRecord(r, o));
      return t.slice(0, r.int(1, t.length - 1));
    }],
    [3, () => withPrototypeKeys(r, JSON.stringify(validRecord(r, o)))],
    [3, () => numbersShape(r, o).text],
    [2, () => '{}'],
  ])();
}

function bulkMeta(r: Rng, o: BulkFuzzOptions, pathHasIndex: boolean, needsId: boolean): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  // Documents go to the run's own index, or to names OpenSearch refuses (which it never creates).
  if (!pathHasIndex || r.chance(0.5)) {
    meta._index = r.weighted<string>([[92, o.index], [4, 'INVALID-UPPERCASE'], [4, '_invalid_leading_underscore']]);
  }
  if (needsId || r.chance(0.3)) meta._id = r.chance(0.95) ? `id-${r.string(10)}` : r.string(r.int(513, 800));
  if (r.chance(0.05)) meta.routing = r.string(5);
  return meta;
}

interface BulkBody {
  readonly kind: string;
  readonly text: string;
  /** The bytes, when built once and shared (bombs): `text` is then unused. */
  readonly bytes?: Buffer;
}

function bulkActions(r: Rng, o: BulkFuzzOptions, pathHasIndex: boolean): BulkBody {
  const lines: { text: string }[] = [];
  const kinds = new Set<string>();
  const n = r.int(1, 8);
  for (let i = 0; i < n; i++) {
    const op = r.weighted<string>([[55, 'index'], [20, 'create'], [10, 'update'], [10, 'delete'], [5, 'pair']]);
    if (op === 'pair') {
      for (const rec of travelPair(r, o).map((x) => (r.chance(0.3) ? wrongTypeRecord(r, o, x) : x))) {
        lines.push({ text: JSON.stringify({ index: bulkMeta(r, o, pathHasIndex, false) }) }, { text: JSON.stringify(rec) });
      }
      kinds.add('pair');
      continue;
    }
    kinds.add(op);
    const meta = bulkMeta(r, o, pathHasIndex, op === 'update' || op === 'delete');
    lines.push({ text: JSON.stringify({ [op]: meta }) });
    if (op === 'delete') continue;
    if (op === 'update') {
      lines.push({
        text: r.weighted<string>([
          [6, JSON.stringify({ doc: { note: r.string(8) }, doc_as_upsert: true })],
          [3, JSON.stringify({ doc: { note: r.string(8) } })],
          [1, r.pick(['{not json', '[]', '{"doc":5}', '{}'])],
        ]),
      });
      continue;
    }
    lines.push({ text: bulkSource(r, o) });
  }
  const eol = r.weighted<string>([[90, '\n'], [7, '\r\n'], [3, '\n\n']]);
  return { kind: [...kinds].sort().join('+'), text: lines.map((l) => l.text).join(eol) + (r.chance(0.9) ? eol : '') };
}

/** Damage that OpenSearch's rules make a whole-request 400: a malformed action line, a missing source. */
function malformBulk(r: Rng, text: string): { kind: string; text: string } {
  const lines = text.split('\n');
  const badAction = r.pick([
    '{not json', '[]', '"index"', '{}', '{"index":{},"create":{}}', '{"bogus":{}}', '{"index":5}', '{"index":"x"}',
    '{"index":[]}', '{"INDEX":{}}', '{"index":null}', '{"index":{}', '{"__proto__":{}}', 'null', '1',
  ]);
  return r.pick<() => { kind: string; text: string }>([
    () => {
      const at = r.int(0, lines.length);
      return { kind: 'malformed-action', text: [...lines.slice(0, at), badAction, ...lines.slice(at)].join('\n') };
    },
    () => ({ kind: 'missing-source', text: `${text.replace(/\n*$/, '\n')}{"index":{}}\n` }),
    () => ({ kind: 'missing-source-blank', text: `{"create":{}}\n\n${text}` }),
    () => ({ kind: 'source-only', text: lines.filter((_, i) => i % 2 === 1).join('\n') }),
    () => ({ kind: 'truncated', text: text.slice(0, r.int(0, text.length)) }),
  ])();
}

/** Query strings shippers send and garbage they should not: `filter_path` mostly. */
function bulkQuery(r: Rng): { query: string; itemsVisible: boolean } {
  if (r.chance(0.7)) return { query: '', itemsVisible: true };
  return r.pick<() => { query: string; itemsVisible: boolean }>([
    () => ({ query: '?filter_path=errors,items.*.error,items.*.status', itemsVisible: true }),
    () => ({ query: '?filter_path=took', itemsVisible: false }),
    () => ({ query: '?filter_path=-took', itemsVisible: true }),
    () => ({ query: '?filter_path=**', itemsVisible: true }),
    () => ({ query: '?filter_path=**.status', itemsVisible: false }),
    () => ({ query: '?filter_path=,,,', itemsVisible: true }),
    () => ({ query: '?filter_path=', itemsVisible: true }),
    () => ({ query: '?filter_path=items.*.*.*.*.x', itemsVisible: false }),
    () => ({ query: '?filter_path=-items.*.error.reason,-**._ids', itemsVisible: true }),
    () => ({ query: '?filter_path=errors&filter_path=items', itemsVisible: true }),
    () => ({ query: '?filter_path[]=errors&filter_path[x]=items', itemsVisible: false }),
    () => ({ query: `?filter_path=${encodeURIComponent(r.string(r.int(1, 200), 'ab.*-,[]{}()^$|?+\\'))}`, itemsVisible: false }),
    // A bounded number of `*` (each extra one multiplies the glob's backtracking): a long run is its own test.
    () => ({ query: `?filter_path=${'*'.repeat(r.int(2, 24))}${r.pick(['z', 's', '.status', ''])}`, itemsVisible: false }),
    () => ({ query: '?filter_path=%E0%A4%A&refresh=false', itemsVisible: false }),
    () => ({ query: '?refresh=false&pipeline=_none', itemsVisible: true }),
    () => ({ query: '?refresh=maybe', itemsVisible: true }),
    () => ({ query: '?routing=r1', itemsVisible: true }),
    () => ({ query: '?require_alias=true', itemsVisible: true }),
    () => ({ query: '?timeout=garbage', itemsVisible: true }),
    () => ({ query: '?pipeline=no-such-pipeline', itemsVisible: true }),
    () => ({ query: '?__proto__[x]=1&constructor[prototype][y]=2', itemsVisible: true }),
  ])();
}

/** The request for /_bulk number `id` of the run seeded `seed`. */
export function bulkFuzzCase(seed: number, id: number, o: BulkFuzzOptions): FuzzCase {
  const r = new Rng(seed, id);
  const pathHasIndex = r.chance(0.2);
  const path = pathHasIndex ? `/${o.index}/_bulk` : '/_bulk';
  const family = r.weighted<string>([
    [55, 'actions'], [10, 'malformed'], [4, 'deep'], [5, 'bytes'], [3, 'proto-actions'],
    [1.2, 'huge'], [0.8, 'gzip-bomb'], [1, 'empty'], [1, 'not-ndjson'],
  ]);
  let body: BulkBody;
  let forceValidEncoding = false;
  switch (family) {
    case 'malformed': {
      const m = malformBulk(r, bulkActions(r, o, pathHasIndex).text);
      body = { kind: `malformed.${m.kind}`, text: m.text };
      break;
    }
    case 'deep': {
      const deep = deepText(r, r.pick([100, 1000, 3000, 6000, 10_000, 50_000]));
      const meta = JSON.stringify({ index: { _index: o.index } });
      const rec = JSON.stringify(validRecord(r, o));
      body = r.pick<() => BulkBody>([
        () => ({ kind: `deep.source-${deep.kind}`, text: `${meta}\n${deep.text}\n` }),
        () => ({ kind: `deep.field-${deep.kind}`, text: `${meta}\n${rec.replace('"requestParameters":null', `"requestParameters":${deep.text}`)}\n` }),
        () => ({ kind: `deep.action-${deep.kind}`, text: `{"index":{"_index":"${o.index}","x":${deep.text}}}\n${rec}\n` }),
        () => ({ kind: `deep.update-${deep.kind}`, text: `{"update":{"_index":"${o.index}","_id":"u1"}}\n{"doc":${deep.text}}\n` }),
      ])();
      break;
    }
    case 'proto-actions': {
      const b = bulkActions(r, o, pathHasIndex);
      body = { kind: `proto.${b.kind}`, text: withPrototypeKeys(r, b.text) };
      break;
    }
    case 'huge': {
      const size = r.chance(0.3) ? r.int(200_000, 900_000) : r.int(1_100_000, 5_000_000);
      const rec = validRecord(r, o);
      rec.userAgent = 'u'.repeat(size);
      body = { kind: 'huge.source', text: `${JSON.stringify({ index: { _index: o.index } })}\n${JSON.stringify(rec)}\n` };
      break;
    }
    case 'gzip-bomb': {
      const times = r.int(2, 6);
      const bytes = shared(`bulk-bomb:${times}:${o.maxBodyBytes}:${o.index}`, () => {
        const one = `${JSON.stringify({ index: { _index: o.index } })}\n${JSON.stringify(validRecord(r, o))}\n`;
        return one.repeat(Math.ceil((times * o.maxBodyBytes) / one.length));
      });
      body = { kind: 'bomb.gzip', text: '', bytes };
      forceValidEncoding = true;
      break;
    }
    case 'empty':
      body = { kind: 'empty', text: r.pick(['', '\n', '\n\n\n', ' \r\n\t']) };
      break;
    case 'not-ndjson':
      body = { kind: 'not-ndjson', text: JSON.stringify(someRecords(r, o, false)) };
      break;
    default:
      body = bulkActions(r, o, pathHasIndex);
      body = { kind: `actions.${body.kind}`, text: body.text };
  }

  let plain: Buffer = body.bytes ?? Buffer.from(body.text, 'utf8');
  let kind = body.kind;
  if (family === 'bytes') {
    const damage = damageBytes(r, body.text);
    plain = damage.bytes;
    kind = `bytes.${damage.kind}`;
  }
  const encoded = encode(r, plain, forceValidEncoding);
  const ct = r.chance(0.85) ? { kind: '', value: 'application/x-ndjson' } : (([value]) => ({ kind: `+ct:${value ?? 'none'}`, value }))(r.pick(CONTENT_TYPES));
  const q = bulkQuery(r);
  const headers: Record<string, string> = {};
  if (ct.value !== undefined) headers['content-type'] = ct.value;
  if (encoded.contentEncoding !== undefined) headers['content-encoding'] = encoded.contentEncoding;
  const tooLarge = encoded.decoded !== undefined && overLimit(encoded.decoded.length, o.maxBodyBytes);
  return {
    seed,
    id,
    kind: kind + encoded.kind + ct.kind + (q.query ? '+query' : ''),
    path: path + q.query,
    headers,
    body: encoded.body,
    bulkText: encoded.decoded?.toString('utf8'),
    expect: { tooLarge, awslogsBomb: false, records: undefined, itemsVisible: q.itemsVisible },
  };
}

// ---------------------------------------------------------------------------------------------
// Driving the service: bounded concurrency, answers, the checks every target shares, memory.

export interface Answer {
  /** 0 when no HTTP answer came back at all (connection reset, timeout). */
  readonly status: number;
  readonly contentType: string;
  readonly bytes: number;
  /** The parsed JSON answer; undefined when it is not JSON. */
  readonly json: unknown;
  readonly ms: number;
  /** Why there was no answer. */
  readonly failure?: string;
}

/** Per request; an answer slower than this is a hang as far as the fuzzer is concerned. */
export const ANSWER_TIMEOUT_MS = 30_000;

const agents = new Map<string, Agent>();

/** Keep-alive connections, as many as requests in flight; `closeConnections` ends them. */
function agentFor(origin: string): Agent {
  let agent = agents.get(origin);
  if (!agent) agents.set(origin, (agent = new Agent({ keepAlive: true, maxSockets: 64 })));
  return agent;
}

export function closeConnections(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/**
 * POSTs the case's bytes exactly as generated (node:http rather than fetch: no body cloning, no
 * header normalisation, and a tenth of the client-side CPU over 10,000 requests).
 */
export function send(baseUrl: string, c: FuzzCase): Promise<Answer> {
  const started = performance.now();
  const url = new URL(c.path, baseUrl);
  return new Promise((resolve) => {
    const done = (answer: Omit<Answer, 'ms'>): void => resolve({ ...answer, ms: performance.now() - started });
    const req = request(
      url,
      { method: 'POST', headers: { ...c.headers, 'content-length': String(c.body.length) }, agent: agentFor(url.origin), timeout: ANSWER_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => done({ status: 0, contentType: '', bytes: 0, json: undefined, failure: `response: ${err.message}` }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), bytes: text.length, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on('error', (err) => done({ status: 0, contentType: '', bytes: 0, json: undefined, failure: err.message }));
    req.end(c.body);
  });
}

/** Runs `total` cases, `inFlight` at a time; a case is generated only when a slot frees, so huge ones never pile up. */
export async function drive(total: number, inFlight: number, run: (id: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await run(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `{"error": {"type": "...", "reason": "..."}}`: the type, or undefined when the answer does not have that shape. */
export function errorOf(json: unknown): { type: string; reason: string } | undefined {
  if (!isObject(json) || !isObject(json.error)) return undefined;
  const { type, reason } = json.error;
  return typeof type === 'string' && type.length > 0 && typeof reason === 'string' && reason.trim().length > 0 ? { type, reason } : undefined;
}

/** What every answer must satisfy, whatever the target: the problems found (empty when none). */
export function commonProblems(c: FuzzCase, a: Answer): string[] {
  if (a.status === 0) return [`no answer: ${a.failure}`];
  const problems: string[] = [];
  if (a.status >= 500) problems.push(`status ${a.status}`);
  if (a.ms > 15_000) problems.push(`answered after ${Math.round(a.ms)} ms`);
  if (a.status < 200 || a.status >= 300) {
    if (!/^application\/json/.test(a.contentType)) problems.push(`a ${a.status} answer is ${a.contentType || 'untyped'}, not JSON`);
    else if (!errorOf(a.json)) problems.push(`a ${a.status} answer without error.type and a non-empty error.reason`);
  }
  if (a.status === 413 && !/MAX_BODY_BYTES/.test(errorOf(a.json)?.reason ?? '')) problems.push('a 413 whose reason does not name MAX_BODY_BYTES');
  if (c.expect.tooLarge && a.status !== 413) problems.push(`over MAX_BODY_BYTES but answered ${a.status}, not 413`);
  return problems;
}

/** The family of a case kind, for the summary: `records.valid.s3-file+ce:gzip` → `records`. */
export function familyOf(kind: string): string {
  return kind.split(/[.+]/)[0]!;
}

/** Failures grouped by what went wrong and the family of the body, with the first case of each group kept. */
export class FailureLog {
  private readonly groups = new Map<string, { count: number; example: string }>();
  total = 0;

  add(c: FuzzCase, a: Answer, problem: string): void {
    this.total++;
    // A 5xx is grouped by its reason too (ids and numbers blanked): one cause, one group.
    const cause = a.status >= 500 ? ` (${(errorOf(a.json)?.reason ?? '').replace(/[0-9a-f]{16,}|\d+/g, '#').slice(0, 70)})` : '';
    const key = `${problem}${cause} [${familyOf(c.kind)}]`;
    const group = this.groups.get(key);
    if (group) {
      group.count++;
      return;
    }
    const error = errorOf(a.json);
    const answer = error ? `${a.status} ${error.type}: ${error.reason.slice(0, 300)}` : `${a.status} ${a.contentType} ${a.bytes} bytes`;
    this.groups.set(key, { count: 1, example: `${describeCase(c)}\n        → ${answer}` });
  }

  report(): string {
    return [...this.groups.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([key, g]) => `  ${g.count} × ${key}\n      e.g. ${g.example}`)
      .join('\n');
  }
}

export class Histogram {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  toString(): string {
    return [...this.counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${k}: ${n}`).join(', ');
  }
}

/**
 * `global.gc`, obtained at run time: mocha's configuration (which these tests do not own) does not
 * pass --expose-gc. The flag set late still installs `gc` in contexts created afterwards.
 */
export async function heapUsedAfterGc(): Promise<number> {
  const g = globalThis as { gc?: () => void };
  let gc = g.gc;
  if (!gc) {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}
