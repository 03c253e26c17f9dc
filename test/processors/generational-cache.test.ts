import assert from 'node:assert/strict';
import { GenerationalCache } from '../../processors/generational-cache.js';

describe('processors/generational-cache', () => {
  it('gives back what was set, and replaces a value set again', () => {
    const cache = new GenerationalCache<string, number>(4);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    assert.equal(cache.get('a'), 3);
    assert.equal(cache.get('b'), 2);
    assert.equal(cache.get('c'), undefined);
    assert.equal(cache.size, 2);
  });

  it('never holds more than its capacity, however many keys pass through', () => {
    const cache = new GenerationalCache<number, number>(10);
    for (let i = 0; i < 1_000; i++) {
      cache.set(i, i);
      assert.ok(cache.size <= 10, `${cache.size} entries after ${i + 1} sets`);
    }
    assert.equal(cache.get(999), 999, 'the newest entry stays');
    assert.equal(cache.get(0), undefined, 'the oldest went long ago');
  });

  it('keeps an entry that is read in every generation, and drops one that is not', () => {
    const cache = new GenerationalCache<string, string>(4); // generations of 2
    cache.set('hot', 'h');
    cache.set('cold', 'c');
    for (let i = 0; i < 20; i++) {
      cache.set(`filler${i}`, 'f');
      assert.equal(cache.get('hot'), 'h', `the entry read after every insertion is still there after ${i + 1}`);
    }
    assert.equal(cache.get('cold'), undefined);
  });

  it('moves an entry found in the old generation back into the young one', () => {
    const cache = new GenerationalCache<string, number>(4);
    cache.set('a', 1);
    cache.set('b', 2); // young full: a, b
    cache.set('c', 3); // a, b now old; young: c
    assert.equal(cache.get('a'), 1); // young: c, a
    cache.set('d', 4); // young full again: old becomes c, a; b is dropped
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('c'), 3);
  });

  it('empties on clear, and refuses a capacity below 1', () => {
    const cache = new GenerationalCache<string, number>(2);
    cache.set('a', 1);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.get('a'), undefined);
    assert.throws(() => new GenerationalCache(0), /capacity of at least 1/);
  });
});
