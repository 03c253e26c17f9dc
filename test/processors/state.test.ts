import assert from 'node:assert/strict';
import { LruMap, MemoryStateStore, type KeyState } from '../../processors/state.js';
import type { Sighting } from '../../processors/travel.js';

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
