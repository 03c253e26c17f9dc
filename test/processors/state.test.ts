import assert from 'node:assert/strict';
import { LruMap, MemoryStateStore, type KeyState } from '../../processors/state.js';
import type { Sighting } from '../../processors/travel.js';
import { Rng } from '../fuzz/bodies.js';

const geo = (placeKey: string): Sighting['geo'] => ({
  cityName: placeKey,
  countryName: undefined,
  countryIsoCode: undefined,
  regionName: undefined,
  location: { lat: 0, lon: 0 },
  accuracyRadiusKm: 0,
  placeKey,
});
const sighting = (atMs: number, place = 'London'): Sighting => ({ atMs, ip: '198.51.100.1', eventId: `e${atMs}`, geo: geo(place) });

describe('state', () => {
  describe('LruMap', () => {
    it('drops the least recently used entry past its size, and says which', () => {
      const evicted: string[] = [];
      const m = new LruMap<string, number>(2, (k) => evicted.push(k));
      m.set('a', 1);
      m.set('b', 2);
      m.set('c', 3);
      assert.deepEqual(evicted, ['a']);
      assert.equal(m.size, 2);
      assert.equal(m.get('a'), undefined);
    });

    it('counts a read as a use, a peek not', () => {
      const m = new LruMap<string, number>(2);
      m.set('a', 1);
      m.set('b', 2);
      assert.equal(m.get('a'), 1); // b is now the oldest
      m.set('c', 3);
      assert.deepEqual([m.has('a'), m.has('b'), m.has('c')], [true, false, true]);
      assert.equal(m.peek('a'), 1); // a stays the oldest
      m.set('d', 4);
      assert.deepEqual([m.has('a'), m.has('c'), m.has('d')], [false, true, true]);
    });

    it('replaces a value in place without evicting anything', () => {
      const evicted: string[] = [];
      const m = new LruMap<string, number>(2, (k) => evicted.push(k));
      m.set('a', 1);
      m.set('b', 2);
      m.set('a', 10);
      assert.deepEqual(evicted, []);
      assert.equal(m.get('a'), 10);
      m.set('c', 3);
      assert.deepEqual(evicted, ['b'], 'rewriting a made it recently used');
    });

    it('evicts and answers as a plain list in use order would, over 50,000 random operations', () => {
      const rng = new Rng(20261126, 2);
      // 24 of 64 keys: slots freed by delete are reused, and the link arrays grow past their first 16.
      for (const [max, keyCount] of [[1, 8], [2, 8], [5, 8], [24, 64]] as const) {
        const evicted: string[] = [];
        const m = new LruMap<string, number>(max, (k) => evicted.push(k));
        // The model: keys from least to most recently used, and their values.
        const order: string[] = [];
        const values = new Map<string, number>();
        const modelEvicted: string[] = [];
        const use = (k: string): void => {
          order.splice(order.indexOf(k), 1);
          order.push(k);
        };
        for (let i = 0; i < 50_000 / 3; i++) {
          const key = `k${rng.int(0, keyCount - 1)}`;
          const op = rng.int(0, 4);
          if (op === 0 || op === 1) {
            assert.equal(m.get(key), values.get(key));
            if (values.has(key)) use(key);
          } else if (op === 2) {
            assert.equal(m.peek(key), values.get(key));
          } else if (op === 3) {
            m.set(key, i);
            if (values.has(key)) use(key);
            else {
              if (order.length >= max) {
                const oldest = order.shift()!;
                values.delete(oldest);
                modelEvicted.push(oldest);
              }
              order.push(key);
            }
            values.set(key, i);
          } else {
            assert.equal(m.delete(key), values.delete(key));
            if (order.includes(key)) order.splice(order.indexOf(key), 1);
          }
          assert.equal(evicted[evicted.length - 1], modelEvicted[modelEvicted.length - 1]);
          assert.equal(m.size, order.length);
        }
        assert.deepEqual(evicted, modelEvicted);
      }
    });

    it('is whole when onEvict runs: the callback may set a key of its own', () => {
      const evicted: string[] = [];
      let reentered = false;
      const m = new LruMap<string, number>(16, (key) => {
        evicted.push(key);
        if (!reentered) {
          reentered = true;
          m.set('extra', -1); // the map is full: this evicts the next oldest
        }
      });
      for (let i = 0; i < 16; i++) m.set(`k${i}`, i); // 16: the link arrays at their full length
      m.set('k16', 16);
      assert.deepEqual(evicted, ['k0', 'k1']);
      assert.equal(m.size, 16);
      assert.equal(m.peek('k16'), 16);
      assert.equal(m.peek('extra'), -1);
      // The recency order is k2 ... k16, extra: sixteen new keys push them out in that order.
      for (let i = 0; i < 16; i++) m.set(`n${i}`, i);
      assert.deepEqual(evicted.slice(2), [...Array.from({ length: 15 }, (_, i) => `k${i + 2}`), 'extra']);
      assert.equal(m.size, 16);
    });

    it('refuses a size below one', () => {
      assert.throws(() => new LruMap(0), /at least 1/);
      assert.throws(() => new LruMap(1.5), /at least 1/);
    });
  });

  describe('MemoryStateStore', () => {
    it('gives back a one-sighting state that was kept compact, and the same state after it grows', () => {
      const store = new MemoryStateStore({ maxKeys: 10, maxPrincipals: 10 });
      const first = sighting(1000);
      store.setKey('AKIA1', { history: [first], alerted: undefined });
      const state = store.getKey('AKIA1')!;
      assert.deepEqual(state, { history: [first], alerted: undefined });
      assert.equal(state.history[0], first, 'the sighting itself, not a copy');

      state.history.push(sighting(2000, 'Paris'));
      store.setKey('AKIA1', state);
      assert.equal(store.getKey('AKIA1'), state, 'a state of two sightings is held as it is');
    });

    it('keeps a one-sighting state with suppression entries whole', () => {
      const store = new MemoryStateStore({ maxKeys: 10, maxPrincipals: 10 });
      const state: KeyState = { history: [sighting(1000)], alerted: { 'a\u0000b': { atMs: 1000, alertId: 'x' } } };
      store.setKey('AKIA1', state);
      assert.equal(store.getKey('AKIA1'), state);
    });

    it('keeps every state object as it is when compaction is off', () => {
      const store = new MemoryStateStore({ maxKeys: 10, maxPrincipals: 10, compactSingleSightings: false });
      const state: KeyState = { history: [sighting(1000)], alerted: undefined };
      store.setKey('AKIA1', state);
      assert.equal(store.getKey('AKIA1'), state);
    });

    it('counts evictions past STATE_MAX_KEYS', () => {
      const store = new MemoryStateStore({ maxKeys: 2, maxPrincipals: 10 });
      for (const k of ['A', 'B', 'C', 'D']) store.setKey(k, { history: [sighting(1000)], alerted: undefined });
      assert.deepEqual(store.stats(), { keys: 2, principals: 0, keyEvictions: 2 });
      assert.equal(store.getKey('A'), undefined);
      assert.ok(store.getKey('D'));
    });
  });
});
