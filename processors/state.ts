import { LRUCache } from 'lru-cache';
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
  setKey(accessKeyId: string, state: KeyState): void;
  getPrincipal(principal: string): PrincipalBaseline | undefined;
  setPrincipal(principal: string, baseline: PrincipalBaseline): void;
  /** Makes the batch's changes durable (a no-op in memory); rejects if they could not be stored. */
  commit(): Promise<void>;
  stats(): StateStats;
}

export interface MemoryStateOptions {
  readonly maxKeys: number;
  readonly maxPrincipals: number;
}

export class MemoryStateStore implements StateStore {
  protected readonly keys: LRUCache<string, KeyState>;
  protected readonly principals: LRUCache<string, PrincipalBaseline>;
  private keyEvictions = 0;

  constructor(options: MemoryStateOptions) {
    this.keys = new LRUCache({
      max: options.maxKeys,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.keyEvictions++;
      },
    });
    this.principals = new LRUCache({ max: options.maxPrincipals });
  }

  async prepare(_accessKeyIds: ReadonlySet<string>, _principals: ReadonlySet<string>): Promise<void> {}

  getKey(accessKeyId: string): KeyState | undefined {
    return this.keys.get(accessKeyId);
  }

  setKey(accessKeyId: string, state: KeyState): void {
    this.keys.set(accessKeyId, state);
  }

  getPrincipal(principal: string): PrincipalBaseline | undefined {
    return this.principals.get(principal);
  }

  setPrincipal(principal: string, baseline: PrincipalBaseline): void {
    this.principals.set(principal, baseline);
  }

  async commit(): Promise<void> {}

  stats(): StateStats {
    return { keys: this.keys.size, principals: this.principals.size, keyEvictions: this.keyEvictions };
  }
}
