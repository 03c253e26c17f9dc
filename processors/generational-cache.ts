/**
 * A bounded cache for the per-record hot path, where a read must cost one hash lookup. Entries live
 * in two generations, each a Map: a read that hits the young generation is a single `Map.get`; a
 * hit in the old generation moves the entry to the young one; when the young generation is full it
 * becomes the old one and the previous old generation is dropped whole. An entry read at least once
 * per generation stays; one that is not falls out within two generations. That approximates LRU
 * (the scheme of quick-lru), holds at most `capacity` entries (rounded up to even), and unlike
 * lru-cache's `get`, which takes an options object per call, costs no allocation on a hit.
 */
export class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generationSize: number;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`a cache needs a capacity of at least 1, not ${capacity}`);
    this.generationSize = Math.ceil(capacity / 2);
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const old = this.old.get(key);
    if (old !== undefined) {
      this.old.delete(key);
      this.addYoung(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    this.addYoung(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  private addYoung(key: K, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
