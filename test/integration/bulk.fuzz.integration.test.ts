import assert from 'node:assert/strict';
import type { Client } from '@opensearch-project/opensearch';
import { renderTemplates, setup, type SetupOptions } from '../../server/setup.js';
import {
  CITY, bulkBody, cloudTrailRecord, openSearchClient, openSearchUrl, startService, uniqueName, type RunningService,
} from '../support/service-harness.js';
import {
  CASES, FUZZ_SERVICE_ENV, FailureLog, HEAP_GROWTH_BOUND_BYTES, Histogram, IN_FLIGHT, MAX_BODY_BYTES, STATE_MAX_KEYS,
  bulkFuzzCase, closeConnections, commonProblems, drive, errorOf, familyOf, fuzzSeed, heapUsedAfterGc, send,
  type Answer, type BulkFuzzOptions, type FuzzCase,
} from '../fuzz/bodies.js';

/**
 * POST /_bulk against a real OpenSearch node with 10,000 generated hostile bodies
 * (test/fuzz/bodies.ts). With OpenSearch reachable and healthy, any 5xx is the service's bug.
 * Every 200 answer carries one item per action, in order, and `errors` says whether any item
 * failed; a malformed action line or a missing source fails the request (400), as in OpenSearch;
 * past MAX_BODY_BYTES the answer is 413. Memory stays bounded and the service answers correctly
 * at the end. The run writes only to its own indices and templates, and deletes them after.
 * FUZZ_SEED=<n> replays another run; a failure names the seed and case number.
 */

const osUrl = openSearchUrl();


const OPS = ['index', 'create', 'update', 'delete'];
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The actions of a bulk body as OpenSearch's bulk API documents them, worked out here from the
 * body the test sent (not by the service's parser): each non-blank line is an action line
 * `{"<op>": {...}}`; index, create and update take the next line as their source; a line that is
 * not such an action, or an action without a source, makes the whole body malformed. Lines are
 * read trimmed, byte-order mark included, as the service is lenient there.
 */
function readActions(text: string): { ops: string[]; wellFormed: boolean } {
  const lines = text.split('\n');
  const ops: string[] = [];
  for (let n = 0; n < lines.length; n++) {
    if (lines[n]!.trim() === '') continue;
    let action: unknown;
    try {
      action = JSON.parse(lines[n]!.trim());
    } catch {
      return { ops, wellFormed: false };
    }
    const keys = isObject(action) ? Object.keys(action) : [];
    if (keys.length !== 1 || !OPS.includes(keys[0]!) || !isObject((action as Record<string, unknown>)[keys[0]!])) return { ops, wellFormed: false };
    ops.push(keys[0]!);
    if (keys[0] === 'delete') continue;
    n++;
    if (n >= lines.length || lines[n]!.trim() === '') return { ops, wellFormed: false };
  }
  return { ops, wellFormed: true };
}

interface BulkItem {
  status: number;
  error?: { type?: string; reason?: string };
}

function itemsOf(json: unknown): BulkItem[] | undefined {
  if (!isObject(json) || !Array.isArray(json.items)) return undefined;
  return json.items.map((it) => (isObject(it) ? (Object.values(it)[0] as BulkItem) : (it as BulkItem)));
}

/** The checks only /_bulk answers must pass, on top of commonProblems. */
function bulkProblems(c: FuzzCase, a: Answer, itemStatuses: Histogram): string[] {
  const problems = commonProblems(c, a);
  if (a.status !== 200) return problems;
  if (c.bulkText === undefined) return [...problems, 'a 200 answer to a body whose Content-Encoding cannot be undone'];
  const expected = readActions(c.bulkText);
  if (!expected.wellFormed) return [...problems, 'a 200 answer to a body with a malformed action line or an action without its source'];
  if (!c.expect.itemsVisible) return problems;
  const json = a.json as { errors?: unknown; items?: unknown[] };
  const items = itemsOf(json) ?? (expected.ops.length === 0 && /filter_path/.test(c.path) ? [] : undefined);
  if (!items) return [...problems, 'a 200 answer without items[]'];
  if (items.length !== expected.ops.length) return [...problems, `${items.length} items for ${expected.ops.length} actions`];
  if ((json.items ?? []).some((it, i) => !isObject(it) || Object.keys(it)[0] !== expected.ops[i])) problems.push('items not in the order, or not with the ops, of the actions');
  if (items.some((it) => !isObject(it) || typeof it.status !== 'number')) return [...problems, 'an item without a numeric status'];
  for (const it of items) itemStatuses.add(it.status < 300 ? String(it.status) : `${it.status} ${it.error?.type ?? ''}`.trim());
  // As OpenSearch sets it: true when an item failed, i.e. carries an error (a delete of a missing
  // document is a 404 without one, and is not a failure).
  const failed = items.some((it) => it.error !== undefined);
  if (json.errors !== failed) problems.push(`errors is ${String(json.errors)} while ${failed ? 'an' : 'no'} item carries an error`);
  if (items.some((it) => it.status >= 300 && it.status !== 404 && it.error === undefined)) problems.push('an item failed without an error');
  if (items.some((it) => it.status >= 500)) problems.push('an item answered 5xx');
  return problems;
}

async function postBulk(url: string, body: string | Buffer, query = ''): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/_bulk${query}`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json, ms: performance.now() - started };
}

describe('fuzz: POST /_bulk with 10,000 hostile bodies against a real OpenSearch node', function () {
  this.timeout(300_000);
  const seed = fuzzSeed();
  const ctIndex = uniqueName('cloudtrail-fuzz-it');
  const alertsIndex = uniqueName('impossible-travel-alerts-fuzz-it');
  const stateIndex = uniqueName('impossible-travel-state-fuzz-it');
  // Templates of our own for exactly these indices, so that nothing shared on the node changes.
  const setupOpts: SetupOptions = {
    templatePrefix: uniqueName('it-fuzz'),
    cloudtrailIndexPattern: ctIndex,
    alertsIndex,
    stateIndex,
    replicas: 0,
    priority: 7300,
  };
  const env = {
    OPENSEARCH_URL: osUrl ?? '',
    ALERTS_INDEX: alertsIndex,
    STATE_INDEX: stateIndex,
    CLOUDTRAIL_INDEX_PATTERN: ctIndex,
    ...FUZZ_SERVICE_ENV,
  };
  const options: BulkFuzzOptions = {
    maxBodyBytes: MAX_BODY_BYTES,
    keyPrefix: `AKIAFUZZBULK${seed.toString(16).toUpperCase()}`,
    keyCount: 4 * STATE_MAX_KEYS,
    index: ctIndex,
  };
  let client: Client | undefined;
  const services: RunningService[] = [];

  async function service(): Promise<RunningService> {
    const s = await startService(env);
    services.push(s);
    return s;
  }

  before(async function () {
    if (!osUrl) {
      console.log('    (skipped: OPENSEARCH_URL is not set; `make test` starts a node and sets it)');
      this.skip();
    }
    client = openSearchClient(osUrl!);
    await setup(client, setupOpts);
  });

  after(async () => {
    closeConnections();
    while (services.length > 0) await services.pop()!.stop();
    if (!client) return;
    // Also indices named after ours with characters in front: the service reads a _bulk body with
    // Buffer#toString, so invalid UTF-8 inside an `_index` value reaches OpenSearch as U+FFFD and
    // creates `\uFFFD<ctIndex>` rather than failing the action.
    const res = await client.cat.indices({ index: `*${ctIndex}*`, format: 'json', h: 'index' } as never);
    const altered = (res.body as { index: string }[]).map((i) => i.index);
    await client.indices.delete({ index: [...new Set([ctIndex, alertsIndex, stateIndex, ...altered])].join(','), ignore_unavailable: true } as never);
    for (const t of renderTemplates(setupOpts)) await client.indices.deleteIndexTemplate({ name: t.name }, { ignore: [404] });
    await client.close();
  });

  describe('the run', () => {
    let s: RunningService;

    before(async () => {
      s = await service();
    });

    it('answers every body below 500, one item per action when 200, 413 past MAX_BODY_BYTES, with bounded memory', async () => {
      const url = s.url;
      await drive(200, IN_FLIGHT, async (id) => void (await send(url, bulkFuzzCase(seed ^ 0x5a5a5a5a, id, options))));
      const heapBefore = await heapUsedAfterGc();

      const failures = new FailureLog();
      const statuses = new Histogram();
      const itemStatuses = new Histogram();
      const families = new Histogram();
      let tooLarge = 0;
      let gzipTooLarge = 0;
      let slowestMs = 0;
      const started = performance.now();
      await drive(CASES, IN_FLIGHT, async (id) => {
        const c = bulkFuzzCase(seed, id, options);
        const a = await send(url, c);
        statuses.add(a.status === 200 ? '200' : `${a.status} ${errorOf(a.json)?.type ?? '?'}`);
        families.add(familyOf(c.kind));
        slowestMs = Math.max(slowestMs, a.ms);
        if (c.expect.tooLarge) {
          tooLarge++;
          if (c.body.length < MAX_BODY_BYTES) gzipTooLarge++;
        }
        for (const problem of bulkProblems(c, a, itemStatuses)) failures.add(c, a, problem);
      });
      const seconds = (performance.now() - started) / 1000;
      const heapGrowth = (await heapUsedAfterGc()) - heapBefore;
      const stats = s.service.store.stats();

      console.log(
        `      /_bulk fuzz: ${CASES} bodies (FUZZ_SEED=${seed}) in ${seconds.toFixed(1)} s, slowest ${Math.round(slowestMs)} ms; ` +
          `heap ${heapGrowth >= 0 ? '+' : ''}${(heapGrowth / 2 ** 20).toFixed(1)} MB; state keys ${stats.keys}/${STATE_MAX_KEYS} (${stats.keyEvictions} evicted)\n` +
          `      statuses { ${statuses} }\n      item statuses { ${itemStatuses} }\n      families { ${families} }\n` +
          `      ${tooLarge} over MAX_BODY_BYTES, ${gzipTooLarge} of them only once inflated`,
      );

      assert.equal(failures.total, 0, `${failures.total} of ${CASES} answers were wrong (FUZZ_SEED=${seed}):\n${failures.report()}`);
      assert.ok(statuses.get('200') > CASES / 3, 'at least a third of the bodies were answered 200');
      assert.ok(itemStatuses.get('201') > CASES / 3, 'documents were stored');
      assert.ok(gzipTooLarge >= 10, `${gzipTooLarge} compressed bodies inflated past the limit`);
      assert.ok(stats.keys <= STATE_MAX_KEYS, `state holds ${stats.keys} keys, more than STATE_MAX_KEYS=${STATE_MAX_KEYS}`);
      assert.ok(
        heapGrowth < HEAP_GROWTH_BOUND_BYTES,
        `the heap grew by ${(heapGrowth / 2 ** 20).toFixed(1)} MB over ${CASES} requests (bound ${HEAP_GROWTH_BOUND_BYTES / 2 ** 20} MB)`,
      );
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined, '__proto__ members in bodies never reach Object.prototype');
    });

    it('still answers /healthz and a normal _bulk correctly after the run', async () => {
      const health = await fetch(`${s.url}/healthz`);
      assert.equal(health.status, 200);
      const key = uniqueName('AKIAFUZZAFTER');
      const records = [
        cloudTrailRecord({ key, ip: CITY.london.ip, at: '2030-01-01T10:00:00Z', id: uniqueName('after') }),
        cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2030-01-01T10:40:00Z', id: uniqueName('after') }),
      ];
      const { status, json } = await postBulk(s.url, bulkBody(ctIndex, records));
      assert.equal(status, 200, JSON.stringify(json).slice(0, 500));
      assert.equal(json.errors, false, JSON.stringify(json).slice(0, 500));
      assert.deepEqual(itemsOf(json)!.map((i) => i.status), [201, 201]);
      await client!.indices.refresh({ index: alertsIndex });
      const count = await client!.count({ index: alertsIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
      assert.equal((count.body as { count: number }).count, 1, 'the London→Tokyo alert is stored');
    });
  });

  describe('regressions the fuzzer found', () => {
    const deep = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    const action = JSON.stringify({ index: { _index: ctIndex } });
    const record = (key: string, ip: string, at: string): Record<string, unknown> => cloudTrailRecord({ key, ip, at, id: uniqueName('reg') });

    function assertRefusedCleanly(res: { status: number; json: Record<string, unknown> }): void {
      assert.ok(res.status < 500, `status ${res.status}: ${JSON.stringify(res.json).slice(0, 400)}`);
      if (res.status !== 200) assert.ok(errorOf(res.json), `a JSON error with type and reason: ${JSON.stringify(res.json).slice(0, 400)}`);
    }

    // Family `deep`: JSON.stringify overflows the stack from about 5,000 levels, where JSON.parse does not.
    it('answers a source nested 10,000 levels deep with a per-item error, not 500', async () => {
      const s = await service();
      const res = await postBulk(s.url, `${action}\n${deep(10_000)}\n`);
      assertRefusedCleanly(res);
      if (res.status === 200) assert.equal(itemsOf(res.json)![0]!.status, 400);
    });

    it('answers an action line nested 10,000 levels deep with 400, not 500', async () => {
      const s = await service();
      const res = await postBulk(s.url, `{"index":{"_index":"${ctIndex}","x":${deep(10_000)}}}\n${JSON.stringify(record('AKIAREGDEEP', CITY.paris.ip, '2024-05-01T10:00:00Z'))}\n`);
      assertRefusedCleanly(res);
    });

    // Found by review, not by the run (which keeps runs of `*` short to bound its own time):
    // filter-path.ts turns each `*` of a name into `.*` of a RegExp, and backtracking over n of them
    // grows as n^6 on six-letter keys (`errors`): 64 stars hold the event loop for seconds, 200 for hours.
    it('applies a filter_path of 64 `*` in milliseconds, not by blocking the event loop for seconds', async () => {
      const s = await service();
      const body = bulkBody(ctIndex, [record(uniqueName('AKIAREGGLOB'), CITY.paris.ip, '2024-05-01T10:00:00Z')]);
      await postBulk(s.url, body); // warm: the index exists, the first request's costs are paid
      const res = await postBulk(s.url, body, `?filter_path=${'*'.repeat(64)}z`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      assert.ok(res.ms < 1000, `the answer took ${Math.round(res.ms)} ms`);
    });

    // The state document's id is `key:<accessKeyId>`, and OpenSearch refuses ids over 512 bytes:
    // the state write fails, the batch answers 503, and the key stays dirty, so every later batch
    // that commits state fails the same way (until the key leaves the LRU).
    it('answers a located record whose accessKeyId is 600 characters without a 5xx, and does not fail the next batch', async () => {
      const s = await service();
      const longKey = `AKIA${'X'.repeat(596)}`;
      const first = await postBulk(s.url, bulkBody(ctIndex, [record(longKey, CITY.london.ip, '2024-05-01T10:00:00Z')]));
      const next = await postBulk(s.url, bulkBody(ctIndex, [record(uniqueName('AKIAREGNEXT'), CITY.london.ip, '2024-05-01T10:00:00Z')]));
      const answers = `first ${first.status} ${JSON.stringify(first.json).slice(0, 300)}\nnext ${next.status} ${JSON.stringify(next.json).slice(0, 300)}`;
      assert.ok(first.status < 500, answers);
      assert.equal(next.status, 200, answers);
      assert.equal(next.json.errors, false, answers);
    });

    // buildAlert copies userIdentity.type/arn/accountId/principalId and awsRegion into the alert as
    // they are; the alerts index maps them as keyword, OpenSearch refuses the alert, and the whole
    // _bulk answers 503: a shipper retries the same batch for ever.
    const poisons: [string, (r: Record<string, unknown>) => void][] = [
      ['userIdentity.type is an object', (r) => ((r.userIdentity as Record<string, unknown>).type = { a: 1 })],
      ['userIdentity.accountId is an object', (r) => ((r.userIdentity as Record<string, unknown>).accountId = { id: 1 })],
      ['awsRegion is an object', (r) => (r.awsRegion = { name: 'eu-west-1' })],
      ['userIdentity.arn is 40,000 characters', (r) => ((r.userIdentity as Record<string, unknown>).arn = `arn:aws:iam::111122223333:user/${'x'.repeat(40_000)}`)],
    ];
    for (const [what, poison] of poisons) {
      it(`stores the batch of an impossible journey whose ${what} (no 5xx)`, async () => {
        const s = await service();
        const key = uniqueName('AKIAREGALERT');
        const london = record(key, CITY.london.ip, '2024-05-01T10:00:00Z');
        const tokyo = record(key, CITY.tokyo.ip, '2024-05-01T10:40:00Z');
        poison(tokyo);
        const res = await postBulk(s.url, bulkBody(ctIndex, [london, tokyo]));
        assert.equal(res.status, 200, `${res.status}: ${JSON.stringify(res.json).slice(0, 400)}`);
        assert.equal(itemsOf(res.json)![0]!.status, 201, 'the London document is stored');
      });
    }
  });
});
