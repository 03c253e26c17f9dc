import assert from 'node:assert/strict';
import type { Client } from '@opensearch-project/opensearch';
import type { KeyState } from '../../processors/state.js';
import type { Sighting } from '../../processors/travel.js';
import { silentLogger } from '../../server/log.js';
import { OpenSearchStateStore, type OpenSearchStateOptions } from '../../server/opensearch-state.js';

/**
 * The OpenSearch state store's bookkeeping, against an in-memory stand-in for the two calls it makes
 * (`mget`, `bulk`), so that failures, conflicts and slowness can be staged. The real node is used by
 * the integration tests (test/integration/bulk.integration.test.ts).
 */

type Mode = 'ok' | 'conflict' | 'fail';

class FakeIndex {
  readonly docs = new Map<string, { _source: Record<string, unknown>; _seq_no: number; _primary_term: number }>();
  mode: Mode = 'ok';
  /** Milliseconds each bulk call takes. */
  delayMs = 0;
  bulkCalls = 0;
  /** The ids each mget asked for. */
  readonly reads: string[][] = [];
  /** The shard's sequence number: as in OpenSearch, one count over every write to the (one-shard) index. */
  private seqNo = -1;

  /** The state index's number of shards, as its settings say. */
  shards = 1;

  /** The queries `_search` was called with. */
  readonly searches: Record<string, unknown>[] = [];

  readonly client = {
    // The retention sweep's search: kind "key" and updated_at before a time.
    search: async ({ body }: { body: { query: Record<string, unknown>; size: number } }) => {
      this.searches.push(body.query);
      const filter = (body.query as { bool: { filter: [{ term: { kind: string } }, { range: { updated_at: { lt: string } } }] } }).bool.filter;
      const hits = [...this.docs]
        .filter(([, doc]) => doc._source.kind === filter[0].term.kind && String(doc._source.updated_at) < filter[1].range.updated_at.lt)
        .slice(0, body.size)
        .map(([id, doc]) => ({ _id: id, _seq_no: doc._seq_no, _primary_term: doc._primary_term }));
      return { body: { hits: { hits } } };
    },
    indices: {
      getSettings: async ({ index }: { index: string }) => ({ body: { [index]: { settings: { index: { number_of_shards: String(this.shards) } } } } }),
    },
    mget: async ({ body }: { body: { ids: string[] } }) => {
      this.reads.push(body.ids);
      // As OpenSearch answers for a missing index: an error per document, not a 404.
      if (this.missing) return { body: { docs: body.ids.map((id) => ({ _id: id, error: { type: 'index_not_found_exception', reason: 'no such index [state]' } })) } };
      return { body: { docs: body.ids.map((id) => (this.docs.has(id) ? { _id: id, found: true, ...this.docs.get(id)! } : { _id: id, found: false })) } };
    },
    bulk: async ({ body }: { body: Record<string, Record<string, unknown>>[] }) => {
      this.bulkCalls++;
      this.missing = false; // a write creates the index (from the template), as OpenSearch does by default
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.mode === 'fail') throw Object.assign(new Error('connect ECONNREFUSED'), { meta: { statusCode: 503 } });
      const items = [];
      for (let i = 0; i < body.length; i += 2) {
        const op = Object.keys(body[i]!)[0]!;
        const id = body[i]![op]!._id as string;
        const meta = body[i]![op]!;
        const existing = this.docs.get(id);
        if (op === 'delete') {
          const gone = existing === undefined || (meta.if_seq_no !== undefined && existing._seq_no !== meta.if_seq_no);
          if (!gone) this.docs.delete(id);
          if (!gone) ++this.seqNo;
          items.push({ delete: { status: gone ? (existing ? 409 : 404) : 200 } });
          i--; // a delete has no source line
          continue;
        }
        // OpenSearch's optimistic concurrency: `create` of a document that exists, or `index` with
        // if_seq_no of one that is gone or was written since, is a version conflict.
        const stale = (op === 'create' && existing !== undefined) || (meta.if_seq_no !== undefined && existing?._seq_no !== meta.if_seq_no);
        if (this.mode === 'conflict' || stale) {
          items.push({ [op]: { status: 409, error: { type: 'version_conflict_engine_exception' } } });
          continue;
        }
        const seq = ++this.seqNo;
        this.docs.set(id, { _source: body[i + 1] as Record<string, unknown>, _seq_no: seq, _primary_term: 1 });
        items.push({ [op]: { status: 201, _seq_no: seq, _primary_term: 1 } });
      }
      return { body: { items } };
    },
  };

  /** Another instance writes a key's state. */
  writeAsAnotherInstance(name: string, times: number[]): void {
    const history = times.map((t) => ({ t, ip: '203.0.113.9', e: `other${t}`, g: { c: 'Tokyo', la: 35.7, lo: 139.7, a: 0, p: 'Tokyo' } }));
    this.docs.set(`key:${name}`, { _source: { kind: 'key', key: name, state: { history } }, _seq_no: ++this.seqNo, _primary_term: 1 });
  }

  /** Whether the index is gone (deleted, or never set up). */
  missing = false;

  /** Someone deletes the whole index. */
  dropIndex(): void {
    this.docs.clear();
    this.missing = true;
  }

  /** Someone deletes a key's document (by hand, or a retention job). */
  deleteKey(name: string): void {
    this.docs.delete(`key:${name}`);
    ++this.seqNo;
  }

  /** Event times stored for a key. */
  times(name: string): number[] {
    const doc = this.docs.get(`key:${name}`);
    return ((doc?._source.state as { history: { t: number }[] } | undefined)?.history ?? []).map((s) => s.t);
  }
}

const sighting = (atMs: number, place: string): Sighting => ({
  atMs,
  ip: '198.51.100.7',
  eventId: `e${atMs}`,
  geo: { cityName: place, countryName: undefined, countryIsoCode: undefined, regionName: undefined, location: { lat: 0, lon: 0 }, accuracyRadiusKm: 0, placeKey: place },
});
const state = (...sightings: Sighting[]): KeyState => ({ history: sightings, alerted: undefined });

function storeOn(fake: FakeIndex, options: Partial<OpenSearchStateOptions> = {}): OpenSearchStateStore {
  return new OpenSearchStateStore({
    client: fake.client as unknown as Client,
    index: 'state',
    limits: { maxLocations: 16, maxAgeMs: 86_400_000 },
    writeGranularityMs: 1000,
    log: silentLogger(),
    maxKeys: 100,
    maxPrincipals: 100,
    syncIntervalMs: 3_600_000, // no tick during a test unless asked for
    ...options,
  });
}

const flushBehind = (store: OpenSearchStateStore): Promise<void> => (store as unknown as { flushBehind(): Promise<void> }).flushBehind();

describe('OpenSearch state store', () => {
  it('writes behind: commit does not write, the interval and close do', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake);
    store.setKey('A', state(sighting(1000, 'London')));
    await store.commit();
    assert.equal(fake.bulkCalls, 0, 'commit does not wait for a write');
    assert.equal(store.pendingWrites, 1);
    await flushBehind(store);
    assert.deepEqual(fake.times('A'), [1000]);
    store.setKey('A', state(sighting(1000, 'London'), sighting(120_000, 'Paris')));
    await store.close();
    assert.deepEqual(fake.times('A'), [1000, 120_000]);
    assert.equal(store.pendingWrites, 0);
  });

  it('writes before answering with STATE_SYNC_INTERVAL=0', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { syncIntervalMs: 0 });
    store.setKey('A', state(sighting(1000, 'London')));
    await store.commit();
    assert.deepEqual(fake.times('A'), [1000]);
    await store.close();
  });

  it('writes a key the LRU dropped before its write', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { maxKeys: 2 });
    for (const [i, k] of ['A', 'B', 'C'].entries()) store.setKey(k, state(sighting(1000 * (i + 1), k)));
    assert.equal(store.stats().keys, 2);
    await store.close();
    assert.deepEqual([fake.times('A'), fake.times('B'), fake.times('C')], [[1000], [2000], [3000]]);
  });

  it('writes a key the LRU dropped while its write was failing, at the next interval', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { maxKeys: 2 });
    store.setKey('A', state(sighting(1000, 'A')));
    fake.mode = 'fail';
    fake.delayMs = 20;
    const failing = flushBehind(store);
    while (fake.bulkCalls === 0) await new Promise((resolve) => setImmediate(resolve)); // A's write is in flight ...
    store.setKey('B', state(sighting(2000, 'B')));
    store.setKey('C', state(sighting(3000, 'C'))); // ... when the LRU drops A
    await failing;
    assert.equal(store.writeFailures, 1);
    fake.mode = 'ok';
    await flushBehind(store);
    assert.deepEqual(fake.times('A'), [1000]);
    await store.close();
  });

  it('keeps keys whose writes kept conflicting, and writes them later', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { maxConflictRetries: 1 });
    store.setKey('A', state(sighting(1000, 'A')));
    fake.mode = 'conflict';
    await flushBehind(store);
    assert.equal(store.writeFailures, 1);
    assert.equal(store.pendingWrites, 1, 'still to be written');
    fake.mode = 'ok';
    await store.close();
    assert.deepEqual(fake.times('A'), [1000]);
  });

  it('writes a key again whose document was deleted under it, and a principal too', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake);
    store.setKey('A', state(sighting(1000, 'A')));
    store.setPrincipal('arn:aws:iam::123456789012:user/a', { firstSeenMs: 1000, places: ['A'] });
    await flushBehind(store);
    assert.deepEqual(fake.times('A'), [1000]);
    fake.deleteKey('A');
    fake.docs.delete('principal:arn:aws:iam::123456789012:user/a');
    const held = store.getKey('A')!;
    held.history.push(sighting(2000, 'B'));
    store.setKey('A', held);
    store.setPrincipal('arn:aws:iam::123456789012:user/a', { firstSeenMs: 1000, places: ['A', 'B'] });
    await flushBehind(store);
    assert.equal(store.writeFailures, 0, 'no write failed: the conflict was settled by writing the document anew');
    assert.deepEqual(fake.times('A'), [1000, 2000]);
    assert.deepEqual((fake.docs.get('principal:arn:aws:iam::123456789012:user/a')?._source.state as { places: string[] }).places, ['A', 'B']);
    assert.equal(store.pendingWrites, 0);
    await store.close();
  });

  it('takes a state index that is gone (deleted, or never set up) for no state yet, and writes it anew', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake);
    store.setKey('A', state(sighting(1000, 'A')));
    await flushBehind(store);
    fake.dropIndex();
    await store.prepare(new Set(['A', 'B']), new Set(['arn:aws:iam::123456789012:user/b']));
    const held = store.getKey('A')!;
    held.history.push(sighting(2000, 'B'));
    store.setKey('A', held);
    await flushBehind(store);
    assert.equal(store.writeFailures, 0);
    assert.deepEqual(fake.times('A'), [1000, 2000]);
    await store.close();
  });

  describe('retention', () => {
    it('deletes the documents of keys not written for STATE_RETENTION, never baselines; a key memory holds is written again', async () => {
      let clock = Date.parse('2026-11-01T00:00:00Z');
      const fake = new FakeIndex();
      const store = storeOn(fake, { now: () => clock, retentionMs: 7 * 86_400_000 });
      store.setKey('OLD', state(sighting(1000, 'A')));
      store.setPrincipal('arn:aws:iam::123456789012:user/old', { firstSeenMs: 1000, places: ['A'] });
      await flushBehind(store);
      // Written with the wall clock as updated_at: age the documents eight days.
      for (const doc of fake.docs.values()) doc._source.updated_at = '2026-10-24T00:00:00.000Z';
      store.setKey('NEW', state(sighting(5000, 'B')));
      await flushBehind(store);
      assert.equal(await store.sweepExpired(), 1);
      assert.deepEqual([...fake.docs.keys()].sort(), ['key:NEW', 'principal:arn:aws:iam::123456789012:user/old']);
      assert.equal(store.expired, 1);
      assert.deepEqual(fake.searches[0], { bool: { filter: [{ term: { kind: 'key' } }, { range: { updated_at: { lt: '2026-10-25T00:00:00.000Z' } } }] } });
      // OLD is still in memory: at its next change it is written back whole.
      clock += 1000;
      const held = store.getKey('OLD')!;
      held.history.push(sighting(9000, 'C'));
      store.setKey('OLD', held);
      await flushBehind(store);
      assert.deepEqual(fake.times('OLD'), [1000, 9000]);
      assert.equal(store.writeFailures, 0);
      await store.close();
    });

    it('deletes nothing with STATE_RETENTION=0', async () => {
      const fake = new FakeIndex();
      const store = storeOn(fake, { retentionMs: 0 });
      assert.equal(await store.sweepExpired(), 0);
      assert.equal(fake.searches.length, 0);
      await store.close();
    });
  });

  it('does not queue interval writes behind a slow one', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake);
    fake.delayMs = 50;
    store.setKey('A', state(sighting(1000, 'A')));
    const first = flushBehind(store);
    for (let i = 0; i < 10; i++) {
      store.setKey(`K${i}`, state(sighting(2000 + i, 'B')));
      await flushBehind(store); // ticks while the first write runs: skipped
    }
    await first;
    assert.equal(fake.bulkCalls, 1);
    await store.close(); // one more write, for what the skipped ticks left
    assert.equal(fake.bulkCalls, 2);
    assert.equal(store.pendingWrites, 0);
  });

  it('writes the change a key got while its write was in flight, though the LRU dropped it meanwhile', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { maxKeys: 1 });
    const a = state(sighting(1000, 'London'));
    store.setKey('A', a);
    fake.delayMs = 20;
    const flight = flushBehind(store);
    await new Promise((resolve) => setTimeout(resolve, 5));
    a.history.push(sighting(120_000, 'Paris')); // the detection changes the state in place
    store.setKey('A', a);
    store.setKey('B', state(sighting(2000, 'Rome'))); // A leaves memory, parked
    await flight;
    fake.delayMs = 0;
    await flushBehind(store);
    assert.deepEqual(fake.times('A'), [1000, 120_000]);
  });

  it('writes a principal baseline the LRU dropped before its write', async () => {
    const fake = new FakeIndex();
    const store = storeOn(fake, { maxPrincipals: 1 });
    store.setPrincipal('arn:aws:iam::1:user/a', { firstSeenMs: 1000, places: ['London'] });
    store.setPrincipal('arn:aws:iam::1:user/b', { firstSeenMs: 2000, places: ['Paris'] });
    await store.close();
    assert.ok(fake.docs.has('principal:arn:aws:iam::1:user/a'));
    assert.ok(fake.docs.has('principal:arn:aws:iam::1:user/b'));
  });
  describe('a key seen again only where it was', () => {
    const WAIT = 60_000;
    let clock = 0;
    /** Key A written as London at 1000 and 120,000 (a run at one place: its ends are kept). */
    async function written(options: Partial<OpenSearchStateOptions> = {}): Promise<{ fake: FakeIndex; store: OpenSearchStateStore; a: KeyState }> {
      clock = 0;
      const fake = new FakeIndex();
      const store = storeOn(fake, { syncIntervalMs: 5000, samePlaceSyncIntervalMs: WAIT, now: () => clock, ...options });
      const a = state(sighting(1000, 'London'), sighting(120_000, 'London'));
      store.setKey('A', a);
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 120_000]);
      return { fake, store, a };
    }
    /** The detection's way: the same state object, its run's end moved to a later sighting. */
    const moveRunEnd = (store: OpenSearchStateStore, a: KeyState, atMs: number): void => {
      a.history[a.history.length - 1] = sighting(atMs, 'London');
      store.setKey('A', a);
    };

    it('is written once STATE_SAME_PLACE_SYNC_INTERVAL has passed, not at the next interval', async () => {
      const { fake, store, a } = await written();
      moveRunEnd(store, a, 240_000);
      assert.equal(store.pendingWrites, 1);
      clock = WAIT - 1000;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 120_000], 'still waiting');
      moveRunEnd(store, a, 300_000); // another such change does not restart the wait
      clock = WAIT;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 300_000]);
      assert.equal(store.pendingWrites, 0);
    });

    it('waits also when its second sighting at its one place is added', async () => {
      clock = 0;
      const fake = new FakeIndex();
      const store = storeOn(fake, { syncIntervalMs: 5000, samePlaceSyncIntervalMs: WAIT, now: () => clock });
      const a = state(sighting(1000, 'London'));
      store.setKey('A', a);
      await flushBehind(store);
      a.history.push(sighting(120_000, 'London'));
      store.setKey('A', a);
      clock = 1000;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000], 'waiting');
      clock = WAIT;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 120_000]);
    });

    it('is written at the next interval once it has a new place, or a new suppression entry', async () => {
      const { fake, store, a } = await written();
      moveRunEnd(store, a, 240_000);
      a.history.push(sighting(300_000, 'Paris'));
      store.setKey('A', a);
      clock = 1000;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 240_000, 300_000]);
      a.history[2] = sighting(360_000, 'Paris');
      a.alerted = { 'London\u0000Paris': { atMs: 360_000, alertId: 'x' } };
      store.setKey('A', a);
      clock = 2000;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 240_000, 360_000]);
    });

    it('is written at the next interval once it leaves memory, and at close', async () => {
      const { fake, store, a } = await written({ maxKeys: 1 });
      moveRunEnd(store, a, 240_000);
      store.setKey('B', state(sighting(250_000, 'Rome'))); // A leaves the LRU
      clock = 1000;
      await flushBehind(store);
      assert.deepEqual([fake.times('A'), fake.times('B')], [[1000, 240_000], [250_000]]);

      const second = await written();
      moveRunEnd(second.store, second.a, 240_000);
      await second.store.close();
      assert.deepEqual(second.fake.times('A'), [1000, 240_000], 'close writes what waits');
    });

    it('is written at the next interval when an alert replaces an expired suppression entry', async () => {
      const { fake, store, a } = await written();
      a.alerted = { 'London\u0000Tokyo': { atMs: 100_000, alertId: 'old' } };
      store.setKey('A', a);
      clock = 1000;
      await flushBehind(store);
      moveRunEnd(store, a, 240_000); // the late event that closed a new journey to Tokyo...
      a.alerted = { 'London\u0000Tokyo': { atMs: 240_000, alertId: 'new' } }; // ...replaced the entry
      store.setKey('A', a);
      clock = 2000;
      await flushBehind(store);
      const stored = fake.docs.get('key:A')!._source.state as { alerted: Record<string, { alertId: string }> };
      assert.equal(stored.alerted['London\u0000Tokyo']!.alertId, 'new');
    });

    it('is due once, not twice, after a failed write during which it changed again', async () => {
      const { fake, store, a } = await written();
      moveRunEnd(store, a, 240_000);
      clock = WAIT;
      fake.mode = 'fail';
      fake.delayMs = 20;
      const flight = flushBehind(store);
      await new Promise((resolve) => setTimeout(resolve, 5));
      moveRunEnd(store, a, 300_000); // while the write is in flight
      await flight;
      assert.equal(store.pendingWrites, 1, 'one key, due at the next interval');
      fake.mode = 'ok';
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 300_000]);
      assert.equal(store.pendingWrites, 0);
    });

    it("keeps a lone writer's trust: with only waiting keys, one is written per interval", async () => {
      const { fake, store, a } = await written();
      clock = 1000;
      store.setKey('B', state(sighting(1000, 'Paris')));
      await flushBehind(store); // two writes in a row: nobody else writes the index
      assert.equal(store.soleWriter, true);
      moveRunEnd(store, a, 240_000);
      clock = 6000;
      await flushBehind(store);
      assert.deepEqual(fake.times('A'), [1000, 240_000], 'written early, to confirm the run');
      clock = 11_000;
      assert.equal(store.soleWriter, true);
    });

    it('waits for nothing with STATE_SAME_PLACE_SYNC_INTERVAL=0, or when state is written before each answer', async () => {
      const off = await written({ samePlaceSyncIntervalMs: 0 });
      moveRunEnd(off.store, off.a, 240_000);
      clock = 1000;
      await flushBehind(off.store);
      assert.deepEqual(off.fake.times('A'), [1000, 240_000]);

      const before = await written({ syncIntervalMs: 0 });
      moveRunEnd(before.store, before.a, 240_000);
      await before.store.commit();
      assert.deepEqual(before.fake.times('A'), [1000, 240_000]);
    });
  });

  describe('a lone writer', () => {
    const INTERVAL = 60_000;
    let clock = 0;
    const at = (ms: number): void => {
      clock = ms;
    };
    const lone = (fake: FakeIndex): OpenSearchStateStore => storeOn(fake, { syncIntervalMs: INTERVAL, now: () => clock });

    /** Key A read and written, then key B written: two writes in a row, whatever happens between them. */
    async function twoWrites(store: OpenSearchStateStore, between: () => void = () => {}): Promise<void> {
      at(0);
      await store.prepare(new Set(['A']), new Set());
      store.setKey('A', state(sighting(1000, 'London')));
      at(1000);
      await flushBehind(store);
      between();
      at(2000);
      store.setKey('B', state(sighting(2000, 'Paris')));
      await flushBehind(store);
    }

    it('does not read again what it holds while its own writes show no other writer', async () => {
      const fake = new FakeIndex();
      const store = lone(fake);
      await twoWrites(store);
      assert.equal(store.soleWriter, true);
      // A's interval is over (read at 0), but the write at 2000 showed nobody else had written.
      at(INTERVAL + 1500);
      await store.prepare(new Set(['A']), new Set());
      assert.deepEqual(fake.reads, [['key:A']], 'A was read once, when memory lacked it');
      // Without a write since, memory is trusted for an interval and a second, no longer.
      at(2000 + INTERVAL + 1001 + INTERVAL);
      assert.equal(store.soleWriter, false);
      await store.prepare(new Set(['A']), new Set());
      assert.deepEqual(fake.reads, [['key:A'], ['key:A']]);
    });

    it('reads again at the interval once its writes show another writer, and gets its sightings', async () => {
      const fake = new FakeIndex();
      const store = lone(fake);
      await twoWrites(store, () => fake.writeAsAnotherInstance('A', [1500]));
      assert.equal(store.soleWriter, false);
      at(INTERVAL + 1500);
      await store.prepare(new Set(['A']), new Set());
      assert.deepEqual(fake.reads, [['key:A'], ['key:A']], 'A is read again, as before there was a lone-writer check');
      assert.deepEqual(store.peekKey('A')!.history.map((s) => s.atMs), [1000, 1500]);
    });

    it('trusts nothing on a state index of several shards, whose sequence numbers are counted per shard', async () => {
      const fake = new FakeIndex();
      fake.shards = 2;
      const store = lone(fake);
      await twoWrites(store);
      assert.equal(store.soleWriter, false);
      at(INTERVAL + 1500);
      await store.prepare(new Set(['A']), new Set());
      assert.deepEqual(fake.reads, [['key:A'], ['key:A']]);
    });

    it('trusts nothing after a version conflict until two writes in a row follow on', async () => {
      const fake = new FakeIndex();
      const store = lone(fake);
      await twoWrites(store);
      fake.mode = 'conflict';
      at(3000);
      store.setKey('B', state(sighting(2000, 'Paris'), sighting(3000, 'Rome')));
      assert.equal(store.soleWriter, true);
      await flushBehind(store);
      assert.equal(store.writeFailures, 1, 'the write kept conflicting');
      assert.equal(store.soleWriter, false);
      fake.mode = 'ok';
      at(4000);
      await flushBehind(store);
      assert.equal(store.soleWriter, false, 'one clean write starts a new epoch; it takes a second to confirm it');
      at(5000);
      store.setKey('C', state(sighting(5000, 'Oslo')));
      await flushBehind(store);
      assert.equal(store.soleWriter, true);
    });
  });
});
