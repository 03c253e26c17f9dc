import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { CITY, cloudTrailRecord, startService, type RunningService } from '../support/service-harness.js';
import {
  CASES, FUZZ_SERVICE_ENV, FailureLog, HEAP_GROWTH_BOUND_BYTES, Histogram, IN_FLIGHT, MAX_BODY_BYTES, STATE_MAX_KEYS,
  closeConnections, commonProblems, drive, errorOf, familyOf, fuzzCase, fuzzSeed, heapUsedAfterGc, send,
  type Answer, type FuzzCase, type FuzzOptions,
} from './bodies.js';

/**
 * POST /enrich in pure mode (no OpenSearch), the real service on a real socket, against 10,000
 * generated hostile bodies (test/fuzz/bodies.ts): no 5xx, no crash or hang, every refusal a JSON
 * error with a reason, 413 naming MAX_BODY_BYTES past the limit (gzip bombs included), memory
 * bounded by the caches' sizes, and a service that still answers correctly at the end.
 * FUZZ_SEED=<n> replays another run; a failure names the seed and case number.
 */

interface EnrichAnswer {
  docs: Record<string, unknown>[];
  alerts: Record<string, unknown>[];
}

const isErrorItem = (d: unknown): boolean => errorOf(d) !== undefined && Object.keys(d as object).length === 1;

/** The checks only /enrich answers must pass, on top of commonProblems. */
function enrichProblems(c: FuzzCase, a: Answer): string[] {
  const problems = commonProblems(c, a);
  if (a.status === 200) {
    const json = a.json as Partial<EnrichAnswer> | undefined;
    if (!json || !Array.isArray(json.docs) || !Array.isArray(json.alerts)) return [...problems, 'a 200 answer without docs[] and alerts[]'];
    if (c.expect.records !== undefined && json.docs.length !== c.expect.records) {
      problems.push(`${json.docs.length} docs for a body of ${c.expect.records} records`);
    }
    if (json.docs.some((d) => d === null || typeof d !== 'object' || Array.isArray(d))) problems.push('a doc that is not an object');
    if (c.expect.awslogsBomb && !json.docs.every(isErrorItem)) problems.push('awslogs data inflated past MAX_BODY_BYTES was read, not refused');
  } else if (c.expect.awslogsBomb && a.status !== 413) {
    problems.push(`awslogs data inflating past MAX_BODY_BYTES answered ${a.status}, neither 413 nor a per-record error`);
  }
  return problems;
}

async function postEnrich(url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/enrich`, { method: 'POST', headers, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('fuzz: POST /enrich with 10,000 hostile bodies (pure mode)', function () {
  this.timeout(180_000);
  const seed = fuzzSeed();
  const options: FuzzOptions = { maxBodyBytes: MAX_BODY_BYTES, keyPrefix: `AKIAFUZZ${seed.toString(16).toUpperCase()}`, keyCount: 4 * STATE_MAX_KEYS };
  let s: RunningService | undefined;

  before(async () => {
    s = await startService(FUZZ_SERVICE_ENV);
  });
  after(async () => {
    closeConnections();
    await s?.stop();
  });

  it('answers every body below 500, refusals as JSON errors, 413 past MAX_BODY_BYTES, with bounded memory', async () => {
    const url = s!.url;
    assert.equal(s!.config.opensearch, undefined, 'pure mode: no OpenSearch configured');
    // Warm up (JIT, lazy modules, connection pool) before the baseline, so that it counts what the run leaves.
    await drive(200, IN_FLIGHT, async (id) => void (await send(url, fuzzCase(seed ^ 0x5a5a5a5a, id, options))));
    const heapBefore = await heapUsedAfterGc();

    const failures = new FailureLog();
    const statuses = new Histogram();
    const families = new Histogram();
    let tooLarge = 0;
    let gzipTooLarge = 0;
    let slowestMs = 0;
    const started = performance.now();
    await drive(CASES, IN_FLIGHT, async (id) => {
      const c = fuzzCase(seed, id, options);
      const a = await send(url, c);
      const error = errorOf(a.json);
      statuses.add(a.status === 200 ? '200' : `${a.status} ${error?.type ?? '?'}`);
      families.add(familyOf(c.kind));
      slowestMs = Math.max(slowestMs, a.ms);
      if (c.expect.tooLarge) {
        tooLarge++;
        if (c.body.length < MAX_BODY_BYTES) gzipTooLarge++;
      }
      for (const problem of enrichProblems(c, a)) failures.add(c, a, problem);
    });
    const seconds = (performance.now() - started) / 1000;
    const heapGrowth = (await heapUsedAfterGc()) - heapBefore;
    const stats = s!.service.store.stats();

    console.log(
      `      /enrich fuzz: ${CASES} bodies (FUZZ_SEED=${seed}) in ${seconds.toFixed(1)} s, slowest ${Math.round(slowestMs)} ms; ` +
        `heap ${heapGrowth >= 0 ? '+' : ''}${(heapGrowth / 2 ** 20).toFixed(1)} MB; state keys ${stats.keys}/${STATE_MAX_KEYS} (${stats.keyEvictions} evicted)\n` +
        `      statuses { ${statuses} }\n      families { ${families} }\n      ${tooLarge} over MAX_BODY_BYTES, ${gzipTooLarge} of them only once inflated`,
    );

    assert.equal(failures.total, 0, `${failures.total} of ${CASES} answers were wrong (FUZZ_SEED=${seed}):\n${failures.report()}`);
    // The run must have exercised what it claims to, or a passing run proves nothing.
    assert.ok(statuses.get('200') > CASES / 4, 'at least a quarter of the bodies were read');
    assert.ok(gzipTooLarge >= 10, `${gzipTooLarge} compressed bodies inflated past the limit`);
    assert.ok(stats.keyEvictions > 0, 'the state store evicted keys: more keys were seen than it holds');
    assert.ok(stats.keys <= STATE_MAX_KEYS, `state holds ${stats.keys} keys, more than STATE_MAX_KEYS=${STATE_MAX_KEYS}`);
    assert.ok(
      heapGrowth < HEAP_GROWTH_BOUND_BYTES,
      `the heap grew by ${(heapGrowth / 2 ** 20).toFixed(1)} MB over ${CASES} requests (bound ${HEAP_GROWTH_BOUND_BYTES / 2 ** 20} MB)`,
    );
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined, '__proto__ members in bodies never reach Object.prototype');
  });

  it('still answers /healthz and a normal /enrich correctly after the run', async () => {
    const url = s!.url;
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');

    const key = `AKIAFUZZAFTER${seed}`;
    const london = cloudTrailRecord({ key, ip: CITY.london.ip, at: '2030-01-01T10:00:00Z', id: 'after-1' });
    const tokyo = cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2030-01-01T10:40:00Z', id: 'after-2' });
    const { status, json } = await postEnrich(url, JSON.stringify({ Records: [london, tokyo] }));
    assert.equal(status, 200, JSON.stringify(json));
    const docs = json.docs as { eventID: string; source: { geo: { city_name: string } } }[];
    assert.deepEqual(docs.map((d) => [d.eventID, d.source.geo.city_name]), [['after-1', 'London'], ['after-2', 'Tokyo']]);
    const alerts = json.alerts as { userIdentity: { accessKeyId: string } }[];
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.userIdentity.accessKeyId, key);
  });
});

describe('fuzz: /enrich size limits and regressions the fuzzer found', function () {
  this.timeout(60_000);
  let s: RunningService | undefined;

  before(async () => {
    s = await startService(FUZZ_SERVICE_ENV);
  });
  after(async () => {
    await s?.stop();
  });

  function assertTooLarge(res: { status: number; json: Record<string, unknown> }): void {
    assert.equal(res.status, 413, JSON.stringify(res.json).slice(0, 300));
    const error = errorOf(res.json);
    assert.equal(error?.type, 'body_too_large');
    assert.match(error?.reason ?? '', /MAX_BODY_BYTES/);
  }

  const bigArray = (): string => {
    const rec = JSON.stringify(cloudTrailRecord({ key: 'AKIABIG', ip: CITY.paris.ip, at: '2024-05-01T10:00:00Z', id: 'big' }));
    return `[${Array(Math.ceil((3 * MAX_BODY_BYTES) / rec.length)).fill(rec).join(',')}]`;
  };

  it('answers 413 naming MAX_BODY_BYTES for a body over the limit', async () => {
    assertTooLarge(await postEnrich(s!.url, bigArray()));
  });

  it('answers 413 naming MAX_BODY_BYTES for a gzip body (Content-Encoding: gzip) that inflates past the limit', async () => {
    const body = gzipSync(bigArray());
    assert.ok(body.length < MAX_BODY_BYTES / 10);
    assertTooLarge(await postEnrich(s!.url, body, { 'content-type': 'application/json', 'content-encoding': 'gzip' }));
  });

  it('answers 413 naming MAX_BODY_BYTES for a gzip body sent without Content-Encoding that inflates past the limit', async () => {
    assertTooLarge(await postEnrich(s!.url, gzipSync(bigArray())));
  });

  // Regression (found by the fuzzer, family `deep`): JSON.parse reads any depth, but JSON.stringify
  // overflows the stack from about 5,000 levels, so answering with the document threw RangeError
  // in res.json and the error handler made it a 500.
  it('answers a record nested 10,000 levels deep below 500, with a JSON error or a per-record error', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const record = JSON.stringify(cloudTrailRecord({ key: 'AKIADEEP', ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: 'deep' }));
    for (const body of [deep, record.replace('"requestParameters":null', `"requestParameters":${deep}`)]) {
      const { status, json } = await postEnrich(s!.url, body);
      assert.ok(status < 500, `status ${status}: ${JSON.stringify(json).slice(0, 300)}`);
      if (status === 200) assert.ok((json.docs as unknown[]).every(isErrorItem), 'the too-deep record is a per-record error');
      else assert.ok(errorOf(json), 'a JSON error with type and reason');
    }
  });

  // Regression (found by the fuzzer, family `bomb.awslogs`): input.ts inflates `awslogs.data` up to
  // a fixed 64 MiB whatever MAX_BODY_BYTES says, so a 10 KB body became a 4 MB document and answer.
  it('refuses an awslogs payload whose data inflates past MAX_BODY_BYTES instead of inflating it', async () => {
    const record = cloudTrailRecord({ key: 'AKIABOMB', ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: 'bomb' });
    record.userAgent = 'a'.repeat(4 * MAX_BODY_BYTES);
    const cwl = { messageType: 'DATA_MESSAGE', logGroup: 'g', logStream: 's', logEvents: [{ id: '1', timestamp: 0, message: JSON.stringify(record) }] };
    const body = JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(cwl)).toString('base64') } });
    assert.ok(body.length < MAX_BODY_BYTES / 10);
    const res = await fetch(`${s!.url}/enrich`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    assert.ok(text.length < MAX_BODY_BYTES, `the answer is ${text.length} bytes: the data was inflated and answered (status ${res.status})`);
    const json = JSON.parse(text) as Record<string, unknown>;
    if (res.status === 413) assert.match(errorOf(json)?.reason ?? '', /MAX_BODY_BYTES/);
    else {
      assert.equal(res.status, 200, text.slice(0, 300));
      assert.ok((json.docs as unknown[]).every(isErrorItem), 'the oversized payload is a per-record error');
    }
  });
});
