import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Client } from '@opensearch-project/opensearch';
import { setup } from '../../server/setup.js';
import { CITY, cloudTrailRecord, openSearchClient, openSearchUrl, startService, uniqueName, type RunningService } from '../support/service-harness.js';

/**
 * OpenSearch stops in the middle of a stream and comes back. The service must answer
 * retryable statuses meanwhile and acknowledge nothing it did not store; a client that retries
 * what was not acknowledged (as every shipper does) ends with every document exactly once and
 * every alert exactly once. Stops and starts the real node, so it runs only when the test
 * command started that node itself (IT_NODE_CONTROL=1), never against somebody else's.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Item = Record<string, { status: number; error?: { type: string } }>;

/** Sends records to `_bulk` until every one is acknowledged, resending only what was not. */
async function sendUntilStored(url: string, index: string, records: readonly Record<string, unknown>[], log: number[]): Promise<void> {
  let pending = records;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 200) throw new Error('gave up: OpenSearch did not come back');
    const body = pending.map((r) => `{"index":{"_index":"${index}"}}\n${JSON.stringify(r)}\n`).join('');
    let res: Response;
    try {
      res = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    } catch {
      await sleep(500);
      continue;
    }
    log.push(res.status);
    if (res.status === 429 || res.status === 503) {
      const json = (await res.json()) as { error?: { type?: string }; items?: unknown };
      assert.equal(json.items, undefined, 'a retryable answer acknowledges no item');
      await sleep(1000);
      continue;
    }
    assert.equal(res.status, 200, `unexpected status ${res.status}`);
    const json = (await res.json()) as { items: Item[] };
    assert.equal(json.items.length, pending.length);
    const retry: Record<string, unknown>[] = [];
    json.items.forEach((item, i) => {
      const result = Object.values(item)[0]!;
      if (result.status === 429 || result.status >= 500) retry.push(pending[i]!);
      else assert.ok(result.status < 300, `item refused for good: ${JSON.stringify(result)}`);
    });
    pending = retry;
    if (retry.length > 0) await sleep(500);
  }
}

describe('OpenSearch stopped in the middle of a stream', function () {
  this.timeout(600_000);
  let client: Client;
  let service: RunningService | undefined;
  const ctIndex = uniqueName('cloudtrail-faults');
  const alertsIndex = uniqueName('impossible-travel-alerts-faults');
  const stateIndex = uniqueName('impossible-travel-state-faults');

  before(async function () {
    const url = openSearchUrl();
    if (!url || process.env.IT_NODE_CONTROL !== '1') {
      console.log('    (skipped: stops and restarts the node, so it runs only on the node `make test` started itself: IT_NODE_CONTROL=1)');
      this.skip();
    }
    client = openSearchClient(url!);
    await setup(client, { alertsIndex, stateIndex, replicas: 0 });
    service = await startService({ OPENSEARCH_URL: url!, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex, OPENSEARCH_REQUEST_TIMEOUT: '5s' });
  });

  after(async () => {
    await service?.stop();
    if (!client) return;
    await client.indices.delete({ index: `${ctIndex},${alertsIndex},${stateIndex}`, ignore_unavailable: true } as never).catch(() => {});
    await client.close();
  });

  it('ends with every document once and every alert once after the client retries', async () => {
    // 30 batches of 100 from 40 keys working in Paris; keys 0..4 also call from Tokyo 30 minutes
    // after a Paris call: five impossible journeys, some before the outage and some after.
    const t0 = Date.UTC(2024, 10, 5, 8);
    const batches: Record<string, unknown>[][] = [];
    const travellers = new Map<number, number>([[0, 3], [1, 8], [2, 14], [3, 21], [4, 27]]);
    for (let b = 0; b < 30; b++) {
      const batch: Record<string, unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        const key = `AKIAFAULTS${String(i % 40).padStart(6, '0')}${ctIndex.slice(-6)}`;
        const at = new Date(t0 + (b * 100 + i) * 1000).toISOString();
        batch.push(cloudTrailRecord({ key, ip: CITY.paris.ip, at, id: `${ctIndex}-${b}-${i}` }));
      }
      for (const [k, when] of travellers) {
        if (when !== b) continue;
        const key = `AKIAFAULTS${String(k).padStart(6, '0')}${ctIndex.slice(-6)}`;
        const at = new Date(t0 + (b * 100 + 99) * 1000 + 30 * 60_000).toISOString();
        batch.push(cloudTrailRecord({ key, ip: CITY.tokyo.ip, at, id: `${ctIndex}-tokyo-${k}` }));
      }
      batches.push(batch);
    }
    const total = batches.reduce((n, b) => n + b.length, 0);

    const statuses: number[] = [];
    let restarted: Promise<unknown> | undefined;
    for (const [b, batch] of batches.entries()) {
      if (b === 10) {
        await run('scripts/opensearch.sh', ['stop'], { cwd: root });
        // Back after a while, as an operator or a supervisor would bring it back.
        restarted = sleep(3000).then(() => run('scripts/opensearch.sh', ['start'], { cwd: root }));
      }
      await sendUntilStored(service!.url, ctIndex, batch, statuses);
    }
    await restarted;

    assert.ok(statuses.some((s) => s === 503), `the outage was seen as 503 answers (statuses: ${[...new Set(statuses)].join(', ')})`);
    await client.indices.refresh({ index: `${ctIndex},${alertsIndex}` });
    const count = ((await client.count({ index: ctIndex })).body as { count: number }).count;
    assert.equal(count, total, 'every document stored, none twice');

    const search = await client.search({
      index: alertsIndex,
      body: { size: 100, query: { prefix: { 'userIdentity.accessKeyId': 'AKIAFAULTS' } } },
    });
    const alerts = (search.body as { hits: { hits: { _id: string; _source: { userIdentity: { accessKeyId: string } } }[] } }).hits.hits;
    assert.deepEqual(
      alerts.map((a) => a._source.userIdentity.accessKeyId).sort(),
      [...travellers.keys()].map((k) => `AKIAFAULTS${String(k).padStart(6, '0')}${ctIndex.slice(-6)}`).sort(),
      'one alert per impossible journey, none lost, none twice',
    );
  });
});
