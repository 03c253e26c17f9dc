import type { Sighting } from './travel.js';

/**
 * Detection state lives behind one interface so the detection never knows where it is kept: in
 * memory (this file), or read through from and written back to OpenSearch (server/opensearch-state.ts).
 * Reads and writes during a batch are synchronous against memory; `prepare` and `commit` bracket
 * a batch for stores that have I/O to do.
 */

export interface KeyState {
  /** Where and when the key was seen, ordered by event time (see travel.ts). */
  history: Sighting[];
  /** Suppression: unordered place pair -> the event time and id of the last alert for it. */
  alerted: Record<string, { atMs: number; alertId: string }> | undefined;
}

export interface PrincipalBaseline {
  /** Event time of the earliest event seen for the principal: the learning period starts here. */
  firstSeenMs: number;
  /** Places learned during the learning period. */
  places: string[];
}

export interface StateStats {
  readonly keys: number;
  readonly principals: number;
  readonly keyEvictions: number;
}

export interface StateStore {
  /** Loads what the store knows about these keys and principals before a batch runs. */
  prepare(accessKeyIds: ReadonlySet<string>, principals: ReadonlySet<string>): Promise<void>;
  /**
   * False when `prepare` has nothing to load (all the state is in memory): the pipeline then
   * neither gathers the batch's keys nor calls it. Taken as true when absent.
   */
  readonly loadsState?: boolean;
  getKey(accessKeyId: string): KeyState | undefined;
  /** The key's state without counting it as a use (a second look within one batch). */
  peekKey(accessKeyId: string): KeyState | undefined;
  setKey(accessKeyId: string, state: KeyState): void;
  getPrincipal(principal: string): PrincipalBaseline | undefined;
  setPrincipal(principal: string, baseline: PrincipalBaseline): void;
  /**
   * Makes the batch's changes durable (a no-op in memory); rejects if they could not be stored.
   * A store that writes behind (`writesBehind`) resolves at once and writes them soon after.
   */
  commit(): Promise<void>;
  /** True when `commit` does not wait for the write (see server/opensearch-state.ts). */
  readonly writesBehind?: boolean;
  /** Writes whatever is not yet stored and stops background work; the store is not used after. */
  close?(): Promise<void>;
  stats(): StateStats;
}

export interface MemoryStateOptions {
  readonly maxKeys: number;
  readonly maxPrincipals: number;
  /**
   * Keep a key seen at one place only as that sighting alone, without its state object and
   * history array (default true). Most keys in memory are such keys, and each costs a third less.
   * A store that tells states apart by object identity (the OpenSearch store) turns it off:
   * `getKey` makes a new state object for such a key on every call.
   */
  readonly compactSingleSightings?: boolean;
}

/** The end of a list, and "no slot". */
const NONE = -1;

/**
 * A map bounded to `max` entries that drops the least recently used one to make room. Each entry
 * has a numbered slot; the slots are linked from least to most recently used in two Int32Arrays,
 * so a read that makes an entry recently used moves two links, with no hash-table work. (A Map in
 * its own insertion order was the list before: a delete and a set per read, 0.3 µs, where these
 * links cost a few nanoseconds; measured at 5,000 keys.) Per entry: the Map's own entry, a key and
 * a value reference, and 8 bytes of links, where lru-cache (used for the GeoIP cache) preallocates
 * its arrays for `max` entries up front; these grow by doubling, up to `max`.
 */
export class LruMap<K, V> {
  /** Key to slot. */
  private readonly slots = new Map<K, number>();
  private readonly keys: (K | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  /** Towards the least recently used end, and towards the most recently used end. */
  private prev = new Int32Array(16);
  private next = new Int32Array(16);
  /** The least and the most recently used slots. */
  private oldest = NONE;
  private newest = NONE;
  /** Slots freed by `delete`, chained through `next`. */
  private free = NONE;
  /**
   * The key last looked up and its slot: the usual read-modify-write (`get` then `set` of one key)
   * finds the slot without hashing the key again. Forgotten when that key leaves.
   */
  private lastKey: K | undefined;
  private lastSlot = NONE;

  constructor(
    readonly max: number,
    private readonly onEvict: (key: K, value: V) => void = () => {},
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruMap max must be a whole number of at least 1, not ${max}`);
  }

  get size(): number {
    return this.slots.size;
  }

  has(key: K): boolean {
    return this.slots.has(key);
  }

  /** The value, without making it recently used. */
  peek(key: K): V | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.values[slot];
  }

  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.lastKey = key;
    this.lastSlot = slot;
    this.touch(slot);
    return this.values[slot];
  }

  set(key: K, value: V): void {
    let slot = this.lastSlot !== NONE && key === this.lastKey ? this.lastSlot : this.slots.get(key);
    if (slot !== undefined) {
      this.values[slot] = value;
      this.touch(slot);
      return;
    }
    let evicted: { key: K; value: V } | undefined;
    if (this.slots.size >= this.max) {
      // Full: the least recently used entry leaves, and its slot takes the new one.
      slot = this.oldest;
      evicted = { key: this.keys[slot] as K, value: this.values[slot] as V };
      this.unlink(slot);
      this.slots.delete(evicted.key);
    } else {
      slot = this.newSlot();
    }
    this.keys[slot] = key;
    this.values[slot] = value;
    this.slots.set(key, slot);
    this.lastKey = key;
    this.lastSlot = slot;
    this.append(slot);
    // Told once the map is whole again, so that the callback may use it.
    if (evicted) this.onEvict(evicted.key, evicted.value);
  }

  delete(key: K): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    if (slot === this.lastSlot) this.forgetLast();
    this.slots.delete(key);
    this.unlink(slot);
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.next[slot] = this.free;
    this.free = slot;
    return true;
  }

  clear(): void {
    this.slots.clear();
    this.keys.length = 0;
    this.values.length = 0;
    this.prev = new Int32Array(16);
    this.next = new Int32Array(16);
    this.oldest = this.newest = this.free = NONE;
    this.forgetLast();
  }

  private forgetLast(): void {
    this.lastKey = undefined;
    this.lastSlot = NONE;
  }

  /** Makes a slot the most recently used. */
  private touch(slot: number): void {
    if (slot === this.newest) return;
    this.unlink(slot);
    this.append(slot);
  }

  private unlink(slot: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    if (before === NONE) this.oldest = after;
    else this.next[before] = after;
    if (after === NONE) this.newest = before;
    else this.prev[after] = before;
  }

  private append(slot: number): void {
    this.prev[slot] = this.newest;
    this.next[slot] = NONE;
    if (this.newest === NONE) this.oldest = slot;
    else this.next[this.newest] = slot;
    this.newest = slot;
  }

  /** A free slot: one `delete` gave back, or a new one at the end (the link arrays doubled when full). */
  private newSlot(): number {
    if (this.free !== NONE) {
      const slot = this.free;
      this.free = this.next[slot]!;
      return slot;
    }
    const slot = this.keys.length;
    this.keys.push(undefined);
    this.values.push(undefined);
    if (slot >= this.prev.length) {
      const length = Math.min(this.prev.length * 2, Math.max(this.max, 16));
      const prev = new Int32Array(length);
      prev.set(this.prev);
      this.prev = prev;
      const next = new Int32Array(length);
      next.set(this.next);
      this.next = next;
    }
    return slot;
  }
}

/** What memory holds for a key: its state, or (compacted) the one sighting it has. */
type HeldKey = KeyState | Sighting;

const isKeyState = (held: HeldKey): held is KeyState => (held as KeyState).history !== undefined;

export class MemoryStateStore implements StateStore {
  private readonly keys: LruMap<string, HeldKey>;
  protected readonly principals: LruMap<string, PrincipalBaseline>;
  private readonly compact: boolean;
  private keyEvictions = 0;

  constructor(options: MemoryStateOptions) {
    this.keys = new LruMap(options.maxKeys, (key, held) => {
      this.keyEvictions++;
      // Only a store that keeps something of evicted keys pays for rebuilding their state.
      if (this.keyEvicted) this.keyEvicted(key, this.expand(held)!);
    });
    this.principals = new LruMap(options.maxPrincipals, (principal, baseline) => this.principalEvicted?.(principal, baseline));
    this.compact = options.compactSingleSightings ?? true;
  }

  async prepare(_accessKeyIds: ReadonlySet<string>, _principals: ReadonlySet<string>): Promise<void> {}

  /**
   * Memory has nothing to load; a subclass that loads (its own `prepare`) says so by defining it.
   * Gathering a batch's keys into a Set cost a hash insert per event, for a `prepare` that
   * ignored them.
   */
  get loadsState(): boolean {
    return this.prepare !== MemoryStateStore.prototype.prepare;
  }

  getKey(accessKeyId: string): KeyState | undefined {
    return this.expand(this.keys.get(accessKeyId));
  }

  setKey(accessKeyId: string, state: KeyState): void {
    this.holdKey(accessKeyId, state);
  }

  /** Called, when a subclass defines it, as the LRU drops a key to make room (a store with unwritten changes keeps them). */
  protected keyEvicted?(accessKeyId: string, state: KeyState): void;

  /** The same for a principal's baseline. */
  protected principalEvicted?(principal: string, baseline: PrincipalBaseline): void;

  /** Whether memory holds the key, without making it recently used. */
  protected hasKey(accessKeyId: string): boolean {
    return this.keys.has(accessKeyId);
  }

  peekKey(accessKeyId: string): KeyState | undefined {
    return this.expand(this.keys.peek(accessKeyId));
  }

  /** Stores a key's state; what `setKey` does before a subclass adds to it. */
  protected holdKey(accessKeyId: string, state: KeyState): void {
    const single = this.compact && state.history.length === 1 && state.alerted === undefined;
    this.keys.set(accessKeyId, single ? state.history[0]! : state);
  }

  private expand(held: HeldKey | undefined): KeyState | undefined {
    return held === undefined || isKeyState(held) ? held : { history: [held], alerted: undefined };
  }

  getPrincipal(principal: string): PrincipalBaseline | undefined {
    return this.principals.get(principal);
  }

  setPrincipal(principal: string, baseline: PrincipalBaseline): void {
    this.principals.set(principal, baseline);
  }

  async commit(): Promise<void> {}

  async close(): Promise<void> {}

  stats(): StateStats {
    return { keys: this.keys.size, principals: this.principals.size, keyEvictions: this.keyEvictions };
  }
}
