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

/**
 * A map bounded to `max` entries that drops the least recently used one to make room. Recency is
 * the insertion order of a JavaScript Map: a read moves the entry to the end. Per entry it costs
 * the Map's own entry only, where lru-cache (used for the GeoIP cache) preallocates arrays for
 * `max` entries up front; at a million access keys that difference is ~50 bytes a key.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  /**
   * The key last moved to the end (the most recently used). A `set` of it right after its `get`,
   * the usual read-modify-write, updates the entry in place instead of deleting and re-adding it.
   */
  private newest: K | undefined;

  constructor(
    readonly max: number,
    private readonly onEvict: (key: K, value: V) => void = () => {},
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruMap max must be a whole number of at least 1, not ${max}`);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value, without making it recently used. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined && key !== this.newest) {
      this.map.delete(key);
      this.map.set(key, value);
      this.newest = key;
    }
    return value;
  }

  set(key: K, value: V): void {
    if (key === this.newest && this.map.has(key)) {
      this.map.set(key, value);
      return;
    }
    if (!this.map.delete(key) && this.map.size >= this.max) {
      const oldest = this.map.entries().next().value as [K, V];
      this.map.delete(oldest[0]);
      this.onEvict(oldest[0], oldest[1]);
    }
    this.map.set(key, value);
    this.newest = key;
  }

  delete(key: K): boolean {
    if (key === this.newest) this.newest = undefined;
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.newest = undefined;
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
