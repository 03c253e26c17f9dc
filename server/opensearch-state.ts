import { createHash } from 'node:crypto';
import type { Client } from '@opensearch-project/opensearch';
import type { Logger } from 'pino';
import { UpstreamError } from './errors.js';
import { upstreamError, itemResult, type BulkResponseItem } from './opensearch-errors.js';
import { MemoryStateStore, type KeyState, type MemoryStateOptions, type PrincipalBaseline } from '../processors/state.js';
import { insertSighting, neighbours, type HistoryLimits, type Sighting } from '../processors/travel.js';

/**
 * Detection state that survives restarts and is shared by every instance in front of one cluster.
 *
 * Memory stays the working copy (the detection reads it synchronously). Before a batch, the state
 * documents of the batch's keys and principals are read from the state index with one `_mget`
 * (real-time: no refresh needed) and merged into memory; after the batch, the ones that changed are
 * written back with optimistic concurrency (`if_seq_no`). Merging is a union (histories, baseline
 * places, suppression entries), so when two instances race on one key, the loser re-reads,
 * merges and writes again instead of overwriting. Writes are skipped when nothing changed at the
 * granularity that matters (a key seen again at the same place within `writeGranularityMs`).
 *
 * With `syncIntervalMs` > 0 the writes happen behind the batches: `commit` returns at once, and
 * every interval one bulk write carries whatever changed since (a key that changed in twenty
 * batches is written once), plus once more at `close`. A key already in memory is then re-read at
 * most once per interval. What that trades (a crash loses up to one interval of state; another
 * instance sees a sighting up to an interval later) and the limits are in docs/state.md.
 */

interface StoredSighting {
  t: number;
  ip: string;
  e?: string | undefined;
  g: {
    c?: string | undefined;
    n?: string | undefined;
    i?: string | undefined;
    r?: string | undefined;
    la: number;
    lo: number;
    a: number;
    p: string;
  };
}

interface StoredKeyState {
  history: StoredSighting[];
  alerted?: Record<string, { atMs: number; alertId: string }> | undefined;
}

function toStored(s: Sighting): StoredSighting {
  const g = s.geo;
  return {
    t: s.atMs,
    ip: s.ip,
    e: s.eventId,
    g: { c: g.cityName, n: g.countryName, i: g.countryIsoCode, r: g.regionName, la: g.location.lat, lo: g.location.lon, a: g.accuracyRadiusKm, p: g.placeKey },
  };
}

function fromStored(s: StoredSighting): Sighting {
  const g = s.g;
  return {
    atMs: s.t,
    ip: s.ip,
    eventId: s.e,
    geo: {
      cityName: g.c,
      countryName: g.n,
      countryIsoCode: g.i,
      regionName: g.r,
      location: { lat: g.la, lon: g.lo },
      accuracyRadiusKm: typeof g.a === 'number' && g.a > 0 ? g.a : 0,
      placeKey: g.p,
    },
    addedIn: undefined,
  };
}

export function mergeKeyStates(local: KeyState, remote: KeyState, limits: HistoryLimits): KeyState {
  const history = local.history.slice();
  for (const s of remote.history) insertSighting(history, s, neighbours(history, s).insertAt, limits);
  let alerted = local.alerted;
  if (remote.alerted) {
    alerted = { ...remote.alerted, ...local.alerted };
    for (const [pair, entry] of Object.entries(remote.alerted)) {
      if (alerted[pair]!.atMs < entry.atMs) alerted[pair] = entry;
    }
  }
  return { history, alerted };
}

export function mergeBaselines(local: PrincipalBaseline, remote: PrincipalBaseline): PrincipalBaseline {
  const places = local.places.slice();
  for (const p of remote.places) if (!places.includes(p)) places.push(p);
  return { firstSeenMs: Math.min(local.firstSeenMs, remote.firstSeenMs), places };
}

interface Version {
  seqNo: number;
  primaryTerm: number;
}

export interface OpenSearchStateOptions extends MemoryStateOptions {
  readonly client: Client;
  readonly index: string;
  readonly limits: HistoryLimits;
  readonly writeGranularityMs: number;
  readonly log: Logger;
  readonly maxConflictRetries?: number;
  /**
   * `always`: read every key of every batch, so instances behind a plain load balancer see each
   * other's sightings. `on-miss`: read only keys not in memory, for deployments that route each
   * access key to one instance (and for the fastest ingest); a restart still reads everything back.
   */
  readonly readMode?: 'always' | 'on-miss';
  /** 0 (default): `commit` writes before it resolves. Otherwise state is written behind, this often. */
  readonly syncIntervalMs?: number;
  /**
   * With writes behind: how long a key's change may wait when it only moved the times of places the
   * key already had, in the order it had them (a key seen again where it was). 0 (default): such a
   * change is written at the next interval like any other.
   */
  readonly samePlaceSyncIntervalMs?: number;
  /**
   * Key documents not written for this long are deleted, every `retentionSweepIntervalMs` (default
   * an hour) and once soon after start. 0 or unset: never. Principal baselines are kept.
   */
  readonly retentionMs?: number;
  readonly retentionSweepIntervalMs?: number;
  /** The clock (tests set it). */
  readonly now?: () => number;
}

/** A state's fingerprints: the whole (`fingerprintKey`, `fingerprintPrincipal`) and, for a key, its places alone (`placesFingerprint`). */
interface Fingerprints {
  readonly all: string;
  readonly places?: string | undefined;
}

/** How long after an own write that showed no other writer memory is trusted without re-reads, beyond the interval. */
const SOLE_WRITER_SLACK_MS = 1000;

/** True when `a` is the same as or older than the version we hold. */
function isNotNewer(a: Version, held: Version | undefined): boolean {
  return held !== undefined && a.primaryTerm <= held.primaryTerm && a.seqNo <= held.seqNo;
}

/**
 * Document ids: readable (`key:AKIA...`) where OpenSearch allows it; a name that would make the id
 * longer than its 512-byte limit is replaced by its SHA-256 (`key#<hex>`), so a hostile or odd
 * access key id can never make a batch fail.
 */
function docId(kind: 'key' | 'principal', name: string): string {
  const id = `${kind}:${name}`;
  return Buffer.byteLength(id) <= 512 ? id : `${kind}#${createHash('sha256').update(name).digest('hex')}`;
}
const keyDocId = (accessKeyId: string): string => docId('key', accessKeyId);
const principalDocId = (principal: string): string => docId('principal', principal);

/** A retention sweep deletes at most this many batches of this many documents. */
const SWEEP_BATCHES = 100;
const SWEEP_BATCH_SIZE = 1000;

export class OpenSearchStateStore extends MemoryStateStore {
  private readonly dirtyKeys = new Set<string>();
  private readonly dirtyPrincipals = new Set<string>();
  /**
   * Keys whose only change since their write added or moved sightings at the places they had, and
   * since when (this process's clock): written once `samePlaceSyncIntervalMs` has passed, or sooner
   * when the key changes more, leaves memory, or the store closes. Never also in `dirtyKeys`.
   */
  private readonly samePlaceKeys = new Map<string, number>();
  /**
   * For each state object in memory: the fingerprints of what the index holds (so that unchanged
   * states are not written again, and same-place changes not at once) and the document version
   * (for optimistic concurrency). Keyed by the object, so an entry goes when the LRU evicts its
   * state; no entry means "not in the index".
   */
  private readonly persisted = new WeakMap<object, Fingerprints>();
  private readonly versions = new WeakMap<object, Version>();
  /**
   * Write-behind: states the LRU dropped before their changes were written (or while their write
   * was in flight). They are written at the next interval, or taken back into memory if their key
   * comes back first. Bounded like the LRUs; past that (OpenSearch unreachable for long), the
   * oldest are given up, and logged.
   */
  private readonly parkedKeys = new Map<string, KeyState>();
  private readonly parkedPrincipals = new Map<string, PrincipalBaseline>();
  /** Write-behind: an interval's write is running (the next tick does not queue another). */
  private flushing = false;
  /** Write-behind: until when a key's state in memory needs no re-read (it was read or written lately). */
  private readonly freshUntil = new WeakMap<object, number>();
  /**
   * Sole-writer detection. The state index has one shard, whose sequence numbers count every write
   * to it. When our write's sequence numbers follow on from our previous write's, with no gap, no
   * other instance wrote in between; a gap (or a version conflict, or anything unexpected) means
   * one did, and starts a new epoch. A state read in real time or written in the current epoch is
   * then known to be what the index holds until the last confirming write, and is not re-read
   * while that write is recent (interval + 1 s): a lone instance reads only what memory lacks,
   * instances that share the index re-read as before. See docs/state.md.
   */
  private epoch = 0;
  private lastOwnWrite: Version | undefined;
  /** Whether the state index has one shard (sequence numbers are per shard); asked when a run of writes starts. */
  private oneShard: boolean | undefined;
  private confirmedAt = -Infinity;
  private readonly syncedIn = new WeakMap<object, number>();
  private readonly now: () => number;
  /** Whether same-place changes wait (`samePlaceSyncIntervalMs`, with writes behind). */
  private readonly samePlaceWaits: boolean;
  private timer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Key documents the retention sweeps deleted. */
  expired = 0;
  reads = 0;
  writes = 0;
  conflicts = 0;
  /** Write-behind flushes that failed (each is retried at the next interval). */
  writeFailures = 0;

  constructor(private readonly os: OpenSearchStateOptions) {
    // The bookkeeping above is keyed by state object: every key keeps its one object.
    super({ ...os, compactSingleSightings: false });
    this.now = os.now ?? Date.now;
    this.samePlaceWaits = this.writesBehind && (os.samePlaceSyncIntervalMs ?? 0) > 0;
    if (this.writesBehind) {
      this.timer = setInterval(() => void this.flushBehind(), os.syncIntervalMs);
      this.timer.unref();
    }
    if ((os.retentionMs ?? 0) > 0) {
      const every = os.retentionSweepIntervalMs ?? 3_600_000;
      const sweep = (): void => void this.sweepExpired().catch((err: unknown) => this.os.log.warn({ err }, 'deleting expired detection state failed; trying again at the next sweep'));
      // The first sweep a minute after start (not during start-up), then at the interval.
      this.sweepTimer = setTimeout(() => {
        sweep();
        this.sweepTimer = setInterval(sweep, every);
        this.sweepTimer.unref();
      }, Math.min(60_000, every));
      this.sweepTimer.unref();
    }
  }

  /**
   * Deletes the key documents not written for `retentionMs` (by `updated_at`): keys not seen for
   * that long, whose history and suppression entries the detection no longer uses. Found with a
   * search and deleted by id, each only if unchanged since the search (a key written meanwhile is
   * kept): plain `_search` and `_bulk`, which every distribution has (`_delete_by_query` lives in
   * the reindex module, which not all have). A key that memory still holds is written back whole at
   * its next change (the write finds its document gone and makes it anew). Several instances may
   * sweep at once: each deletes what is left. At most `SWEEP_BATCHES` batches per sweep; the next
   * sweep goes on. Returns how many documents were deleted.
   */
  async sweepExpired(): Promise<number> {
    const retention = this.os.retentionMs ?? 0;
    if (retention <= 0) return 0;
    const before = new Date(this.now() - retention).toISOString();
    const query = { bool: { filter: [{ term: { kind: 'key' } }, { range: { updated_at: { lt: before } } }] } };
    let deleted = 0;
    for (let batch = 0; batch < SWEEP_BATCHES; batch++) {
      let hits: { _id: string; _seq_no: number; _primary_term: number }[];
      let items: BulkResponseItem[];
      try {
        const found = await this.os.client.search(
          { index: this.os.index, body: { query, size: SWEEP_BATCH_SIZE, _source: false, seq_no_primary_term: true } },
          { ignore: [404] },
        );
        hits = (found.body as { hits?: { hits?: typeof hits } }).hits?.hits ?? [];
        if (hits.length === 0) break;
        const body = hits.map((h) => ({ delete: { _index: this.os.index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } }));
        // Refreshed, so that the next search does not find these again.
        const res = await this.os.client.bulk({ body, refresh: true });
        items = (res.body as { items: BulkResponseItem[] }).items;
      } catch (err) {
        throw upstreamError(err, 'deleting expired detection state');
      }
      const done = items.filter((item) => itemResult(item)?.status === 200).length;
      deleted += done;
      if (done === 0) break; // all changed since the search: nothing more to do now
    }
    this.expired += deleted;
    if (deleted > 0) this.os.log.info({ deleted, before }, 'deleted the state of access keys not seen since');
    return deleted;
  }

  protected override keyEvicted(accessKeyId: string, state: KeyState): void {
    if (this.persisted.get(state)?.all === this.fingerprintKey(state)) {
      this.samePlaceKeys.delete(accessKeyId);
      return; // the index has it
    }
    if (this.samePlaceKeys.has(accessKeyId)) this.markDirty(accessKeyId); // its wait ends with memory
    this.park(this.parkedKeys, this.dirtyKeys, this.os.maxKeys, accessKeyId, state, 'key');
  }

  protected override principalEvicted(principal: string, baseline: PrincipalBaseline): void {
    if (this.persisted.get(baseline)?.all === this.fingerprintPrincipal(baseline)) return;
    this.park(this.parkedPrincipals, this.dirtyPrincipals, this.os.maxPrincipals, principal, baseline, 'principal');
  }

  private park<T>(parked: Map<string, T>, dirty: Set<string>, max: number, name: string, state: T, kind: string): void {
    if (parked.size >= max) {
      const oldest = parked.keys().next().value as string;
      parked.delete(oldest);
      dirty.delete(oldest);
      this.os.log.warn({ [kind]: oldest }, `detection state of a ${kind} left memory before it could be written; its latest changes are lost`);
    }
    parked.set(name, state);
  }

  /** Keys and principals changed and not yet written. */
  get pendingWrites(): number {
    return this.dirtyKeys.size + this.samePlaceKeys.size + this.dirtyPrincipals.size;
  }

  /** To be written at the next write (no longer waiting as a same-place change). */
  private markDirty(accessKeyId: string): void {
    this.samePlaceKeys.delete(accessKeyId);
    this.dirtyKeys.add(accessKeyId);
  }

  /** Same-place changes whose wait is over (all of them with `all`) join the next write. */
  private promoteSamePlace(all: boolean): void {
    const due = this.now() - (this.os.samePlaceSyncIntervalMs ?? 0);
    // In insertion order, which is the order of `since`: the first not due ends the walk.
    for (const [k, since] of this.samePlaceKeys) {
      if (!all && since > due) break;
      this.markDirty(k);
    }
    // A lone writer's trust lasts an interval past its last write (`soleWriter`): with only waiting
    // keys, no write would keep it, and held keys would be read again. One of them is written now.
    if (!all && this.dirtyKeys.size === 0 && this.dirtyPrincipals.size === 0 && this.confirmedAt > -Infinity) {
      const oldest = this.samePlaceKeys.keys().next();
      if (!oldest.done) this.markDirty(oldest.value);
    }
  }

  get writesBehind(): boolean {
    return (this.os.syncIntervalMs ?? 0) > 0;
  }

  private markFresh(state: object | undefined): void {
    if (state && this.writesBehind) this.freshUntil.set(state, this.now() + this.os.syncIntervalMs!);
  }

  /** Whether memory holds what the index holds for this state, as far as our own writes show (see `epoch`). */
  private trusted(state: object): boolean {
    return this.syncedIn.get(state) === this.epoch && this.soleWriter;
  }

  /** Whether the state index is one index of one shard; false when that cannot be read (no trusting then). */
  private async hasOneShard(): Promise<boolean> {
    try {
      const res = await this.os.client.indices.getSettings({ index: this.os.index, name: 'index.number_of_shards' });
      const indices = Object.values(res.body as Record<string, { settings?: { index?: { number_of_shards?: unknown } } }>);
      return indices.length === 1 && String(indices[0]?.settings?.index?.number_of_shards) === '1';
    } catch {
      return false;
    }
  }

  /** Whether this instance's last confirming write is recent enough to trust memory by (also a metric). */
  get soleWriter(): boolean {
    return this.now() - this.confirmedAt <= (this.os.syncIntervalMs ?? 0) + SOLE_WRITER_SLACK_MS;
  }

  /**
   * After a write: whether its sequence numbers follow on from our previous write's (nobody else
   * wrote in between), or a new epoch starts. `clean` is false when any item failed.
   */
  private noteOwnWrite(seqNos: number[], primaryTerms: Set<number>, clean: boolean, sentAt: number, oneShard: boolean): void {
    seqNos.sort((a, b) => a - b);
    const term = primaryTerms.size === 1 ? [...primaryTerms][0]! : undefined;
    const first = seqNos[0];
    const last = seqNos[seqNos.length - 1];
    const contiguous = clean && oneShard && term !== undefined && first !== undefined && last !== undefined && last - first + 1 === seqNos.length && seqNos.every(Number.isInteger);
    const previous = this.lastOwnWrite;
    if (contiguous && previous !== undefined && previous.primaryTerm === term && first === previous.seqNo + 1) {
      this.confirmedAt = sentAt;
    } else {
      if (previous !== undefined) this.os.log.debug({ previous, first, last, term }, 'another writer, or an unexpected answer, in the state index: memory is re-read again');
      this.epoch++;
      this.confirmedAt = -Infinity;
      this.oneShard = undefined; // asked again before the next run is trusted (the index may have been recreated)
    }
    this.lastOwnWrite = contiguous ? { seqNo: last!, primaryTerm: term! } : undefined;
  }

  private fingerprintKey(state: KeyState): string {
    const g = this.os.writeGranularityMs;
    let out = '';
    for (const s of state.history) out += `${s.geo.placeKey}@${Math.floor(s.atMs / g)}|`;
    return out + Object.keys(state.alerted ?? {}).length;
  }

  /**
   * The key's places in history order, a run at one place counted once, and its suppression
   * entries: what a same-place change (a sighting added to or moved within a run) leaves as it was.
   */
  private placesFingerprint(state: KeyState): string {
    let out = '';
    let previous: string | undefined;
    for (const s of state.history) {
      if (s.geo.placeKey !== previous) out += `${s.geo.placeKey}|`;
      previous = s.geo.placeKey;
    }
    // Each suppression entry itself: an alert may replace an expired entry for its pair.
    for (const [pair, entry] of Object.entries(state.alerted ?? {})) out += `#${pair}=${entry.alertId}`;
    return out;
  }

  private fingerprintPrincipal(b: PrincipalBaseline): string {
    return `${b.firstSeenMs}|${b.places.length}`;
  }

  override setKey(accessKeyId: string, state: KeyState): void {
    super.setKey(accessKeyId, state);
    // A key already due to be written needs no fingerprint (a string over its whole history); one
    // waiting as a same-place change needs only its places'.
    if (this.dirtyKeys.has(accessKeyId)) return;
    const waiting = this.samePlaceKeys.has(accessKeyId);
    const persisted = this.persisted.get(state);
    if (!waiting && persisted?.all === this.fingerprintKey(state)) return;
    if (this.samePlaceWaits && persisted?.places === this.placesFingerprint(state)) {
      if (!waiting) this.samePlaceKeys.set(accessKeyId, this.now());
      return;
    }
    this.markDirty(accessKeyId);
  }

  override setPrincipal(principal: string, baseline: PrincipalBaseline): void {
    super.setPrincipal(principal, baseline);
    if (!this.dirtyPrincipals.has(principal) && this.persisted.get(baseline)?.all !== this.fingerprintPrincipal(baseline)) this.dirtyPrincipals.add(principal);
  }

  override async prepare(accessKeyIds: ReadonlySet<string>, principals: ReadonlySet<string>): Promise<void> {
    const onMiss = this.os.readMode === 'on-miss';
    const now = this.now();
    const missingKeys: string[] = [];
    const knownKeys: string[] = [];
    for (const k of accessKeyIds) {
      this.unparkKey(k);
      if (!this.hasKey(k)) missingKeys.push(keyDocId(k));
      else if (!onMiss) {
        const held = this.peekKey(k)!;
        if (!((this.freshUntil.get(held) ?? 0) > now) && !this.trusted(held)) knownKeys.push(keyDocId(k));
      }
    }
    const missingPrincipals: string[] = [];
    const knownPrincipals: string[] = [];
    for (const p of principals) {
      this.unparkPrincipal(p);
      const held = this.principals.peek(p);
      if (held === undefined) missingPrincipals.push(principalDocId(p));
      else if (!this.trusted(held)) knownPrincipals.push(principalDocId(p));
    }
    // What memory lacks (a restart, an eviction, a key another instance has seen) is read in real
    // time; what memory holds is refreshed from the index as of its last refresh (see `load`).
    await Promise.all([
      this.load(missingKeys, missingPrincipals, true),
      onMiss ? Promise.resolve() : this.load(knownKeys, knownPrincipals, false),
    ]);
    for (const k of accessKeyIds) this.markFresh(this.peekKey(k));
  }

  /**
   * Reads state documents and merges them into memory. A real-time GET of a document written
   * since the last refresh forces a refresh of the shard, which under steady writes costs more
   * than the batch; so keys already in memory are read as of the state index's last refresh (1 s
   * by default), and only keys memory lacks, and re-reads after a version conflict, are real-time.
   */
  private async load(keyIds: string[], principalIds: string[], realtime: boolean): Promise<Set<string>> {
    const ids = [...keyIds, ...principalIds];
    /** The ids the index does not hold. */
    const absent = new Set<string>();
    if (ids.length === 0) return absent;
    let docs: { _id: string; found?: boolean; _source?: { state?: unknown; kind?: unknown; key?: unknown }; _seq_no?: number; _primary_term?: number; error?: unknown }[];
    // A real-time read shows what the index holds now: in this epoch, memory then matches it.
    const synced = realtime ? this.epoch : undefined;
    try {
      const res = await this.os.client.mget({ index: this.os.index, realtime, body: { ids } });
      docs = (res.body as { docs: typeof docs }).docs;
    } catch (err) {
      // A missing state index just means no state yet (setup not run, or a fresh cluster).
      if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return new Set(ids);
      throw upstreamError(err, 'reading detection state');
    }
    this.reads += ids.length;
    for (const doc of docs) {
      if (doc.error) {
        // `_mget` answers a missing index per document, not with a 404: no state yet, as above.
        if ((doc.error as { type?: unknown }).type === 'index_not_found_exception') {
          absent.add(doc._id);
          continue;
        }
        throw new UpstreamError(`OpenSearch could not read state ${doc._id}: ${JSON.stringify(doc.error)}`);
      }
      if (!doc.found || !doc._source?.state) {
        if (!doc.found) absent.add(doc._id);
        continue;
      }
      const version = { seqNo: doc._seq_no!, primaryTerm: doc._primary_term! };
      const name = doc._source.key;
      if (typeof name !== 'string') continue;
      if (doc._source.kind === 'key') this.mergeKey(name, doc._source.state as StoredKeyState, version, synced);
      else if (doc._source.kind === 'principal') this.mergePrincipal(name, doc._source.state as PrincipalBaseline, version, synced);
    }
    return absent;
  }

  /** A parked key that comes back (in a batch, or re-read after a conflict) goes back into memory. */
  private unparkKey(accessKeyId: string): void {
    const parked = this.parkedKeys.get(accessKeyId);
    if (!parked) return;
    this.parkedKeys.delete(accessKeyId);
    if (!this.hasKey(accessKeyId)) this.holdKey(accessKeyId, parked);
  }

  private unparkPrincipal(principal: string): void {
    const parked = this.parkedPrincipals.get(principal);
    if (!parked) return;
    this.parkedPrincipals.delete(principal);
    if (!this.principals.has(principal)) this.principals.set(principal, parked);
  }

  /** A written state the LRU had dropped needs no keeping any more. */
  private forgetParked(s: { kind: 'key' | 'principal'; name: string; state: object; fingerprints: Fingerprints }): void {
    // The detection changes a state in place: one parked while its write was in flight may hold
    // more than was written, and stays parked (and dirty) until that is written too.
    if (s.kind === 'key') {
      const parked = this.parkedKeys.get(s.name);
      if (parked === s.state && this.fingerprintKey(parked) === s.fingerprints.all) this.parkedKeys.delete(s.name);
    } else {
      const parked = this.parkedPrincipals.get(s.name);
      if (parked === s.state && this.fingerprintPrincipal(parked) === s.fingerprints.all) this.parkedPrincipals.delete(s.name);
    }
  }

  private mergeKey(accessKeyId: string, stored: StoredKeyState, version: Version, synced: number | undefined): void {
    this.unparkKey(accessKeyId);
    const local = this.getKey(accessKeyId);
    // A read that is not real-time may return what we wrote ourselves a moment ago, or older.
    if (local && isNotNewer(version, this.versions.get(local))) {
      if (synced !== undefined) this.syncedIn.set(local, synced);
      return;
    }
    const remote: KeyState = { history: stored.history.map(fromStored), alerted: stored.alerted };
    const merged = local ? mergeKeyStates(local, remote, this.os.limits) : remote;
    this.persisted.set(merged, { all: this.fingerprintKey(remote), places: this.placesFingerprint(remote) });
    this.versions.set(merged, version);
    if (synced !== undefined) this.syncedIn.set(merged, synced);
    this.holdKey(accessKeyId, merged);
    // What memory adds to another instance's version is written at the next interval; if nothing, nothing is pending.
    if (this.fingerprintKey(merged) !== this.fingerprintKey(remote)) this.markDirty(accessKeyId);
    else this.samePlaceKeys.delete(accessKeyId);
  }

  private mergePrincipal(principal: string, remote: PrincipalBaseline, version: Version, synced: number | undefined): void {
    this.unparkPrincipal(principal);
    const local = this.principals.get(principal);
    if (local && isNotNewer(version, this.versions.get(local))) {
      if (synced !== undefined) this.syncedIn.set(local, synced);
      return;
    }
    const merged = local ? mergeBaselines(local, remote) : { firstSeenMs: remote.firstSeenMs, places: remote.places.slice() };
    this.persisted.set(merged, { all: this.fingerprintPrincipal(remote) });
    this.versions.set(merged, version);
    if (synced !== undefined) this.syncedIn.set(merged, synced);
    this.principals.set(principal, merged);
    if (this.fingerprintPrincipal(merged) !== this.fingerprintPrincipal(remote)) this.dirtyPrincipals.add(principal);
  }

  /** Commits run one at a time: see `commit`. */
  private writing: Promise<void> = Promise.resolve();

  /**
   * Writes what changed; on a version conflict, re-reads, merges and tries again. Concurrent
   * requests' commits run one after another, each writing everything dirty by then: requests in
   * flight together share one bulk write, and this process never races itself on a key.
   */
  override commit(): Promise<void> {
    return this.writesBehind ? Promise.resolve() : this.writeNow();
  }

  private writeNow(): Promise<void> {
    const run = this.writing.then(() => this.flushDirty());
    this.writing = run.catch(() => {});
    return run;
  }

  /**
   * The interval's write; a failure leaves the keys dirty for the next one. A tick that finds the
   * previous write still running (OpenSearch slow or down) skips, so writes never queue up.
   */
  private async flushBehind(): Promise<void> {
    if (this.flushing) return;
    this.promoteSamePlace(false);
    if (this.dirtyKeys.size === 0 && this.dirtyPrincipals.size === 0) return;
    this.flushing = true;
    try {
      await this.writeNow();
    } catch (err) {
      this.writeFailures++;
      this.os.log.warn({ err, keys: this.dirtyKeys.size, principals: this.dirtyPrincipals.size }, 'writing detection state failed; trying again at the next interval');
    } finally {
      this.flushing = false;
    }
  }

  /** Stops the interval and writes what is left; what cannot be written is logged as lost. */
  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.sweepTimer) clearTimeout(this.sweepTimer); // clears an interval too
    this.sweepTimer = undefined;
    this.promoteSamePlace(true);
    try {
      await this.writeNow();
    } catch (err) {
      this.os.log.error(
        { err, keys: this.dirtyKeys.size, principals: this.dirtyPrincipals.size },
        'detection state could not be written at shutdown: the latest sightings of these keys are lost',
      );
    }
  }

  private async flushDirty(): Promise<void> {
    const retries = this.os.maxConflictRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      const keys = [...this.dirtyKeys];
      const principals = [...this.dirtyPrincipals];
      this.dirtyKeys.clear();
      this.dirtyPrincipals.clear();
      if (keys.length === 0 && principals.length === 0) return;
      let conflicted: { keys: string[]; principals: string[] };
      try {
        conflicted = await this.write(keys, principals);
      } catch (err) {
        // Still unwritten: the next batch's commit tries them again.
        for (const k of keys) this.markDirty(k);
        for (const p of principals) this.dirtyPrincipals.add(p);
        throw err;
      }
      if (conflicted.keys.length === 0 && conflicted.principals.length === 0) return;
      this.conflicts += conflicted.keys.length + conflicted.principals.length;
      for (const k of conflicted.keys) this.markDirty(k);
      for (const p of conflicted.principals) this.dirtyPrincipals.add(p);
      if (attempt >= retries) {
        // Still dirty: the next commit (or interval) tries them again.
        throw new UpstreamError(`detection state for ${conflicted.keys.length + conflicted.principals.length} keys kept changing under us (${retries + 1} version conflicts); retry later`);
      }
      const absent = await this.load(conflicted.keys.map(keyDocId), conflicted.principals.map(principalDocId), true);
      // A document deleted under us (by hand, by a retention job, with its index): the version we
      // hold names a document that is gone, and writing against it would conflict for ever. The
      // next attempt creates the document anew, from what memory holds.
      for (const k of conflicted.keys) {
        const held = absent.has(keyDocId(k)) ? this.heldKey(k) : undefined;
        if (held) this.versions.delete(held);
      }
      for (const p of conflicted.principals) {
        const held = absent.has(principalDocId(p)) ? this.heldPrincipal(p) : undefined;
        if (held) this.versions.delete(held);
      }
    }
  }

  /** What this instance holds for a key: in memory, or parked until written. */
  private heldKey(accessKeyId: string): KeyState | undefined {
    return this.peekKey(accessKeyId) ?? this.parkedKeys.get(accessKeyId);
  }

  private heldPrincipal(principal: string): PrincipalBaseline | undefined {
    return this.principals.peek(principal) ?? this.parkedPrincipals.get(principal);
  }

  private async write(keys: string[], principals: string[]): Promise<{ keys: string[]; principals: string[] }> {
    const body: unknown[] = [];
    const sent: { id: string; kind: 'key' | 'principal'; name: string; state: object; fingerprints: Fingerprints }[] = [];
    const now = new Date(this.now()).toISOString();
    const add = (id: string, kind: 'key' | 'principal', name: string, state: object, stored: unknown, fingerprints: Fingerprints): void => {
      const version = this.versions.get(state);
      const action = version
        ? { index: { _index: this.os.index, _id: id, if_seq_no: version.seqNo, if_primary_term: version.primaryTerm } }
        : { create: { _index: this.os.index, _id: id } };
      body.push(action, { kind, key: name, updated_at: now, state: stored });
      sent.push({ id, kind, name, state, fingerprints });
    };
    for (const k of keys) {
      const state = this.heldKey(k);
      if (!state) continue;
      const stored: StoredKeyState = { history: state.history.map(toStored), alerted: state.alerted };
      add(keyDocId(k), 'key', k, state, stored, { all: this.fingerprintKey(state), places: this.placesFingerprint(state) });
    }
    for (const p of principals) {
      const baseline = this.heldPrincipal(p);
      if (!baseline) continue;
      add(principalDocId(p), 'principal', p, baseline, baseline, { all: this.fingerprintPrincipal(baseline) });
    }
    if (body.length === 0) return { keys: [], principals: [] };
    // Sequence numbers count the writes of one shard: on an index of several, another instance's
    // writes to a shard we did not write would leave no gap, so there is no trusting then.
    this.oneShard ??= await this.hasOneShard();
    const oneShard = this.oneShard;
    const sentAt = this.now();
    let items: BulkResponseItem[];
    try {
      const res = await this.os.client.bulk({ body: body as Record<string, unknown>[] });
      items = (res.body as { items: BulkResponseItem[] }).items;
    } catch (err) {
      throw upstreamError(err, 'writing detection state');
    }
    this.writes += sent.length;
    const conflicted = { keys: [] as string[], principals: [] as string[] };
    const stored: object[] = [];
    const seqNos: number[] = [];
    const primaryTerms = new Set<number>();
    let clean = true;
    for (const [i, s] of sent.entries()) {
      const result = itemResult(items[i]);
      if (result && result.status < 300) {
        const version = { seqNo: result._seq_no as number, primaryTerm: result._primary_term as number };
        this.versions.set(s.state, version);
        this.persisted.set(s.state, s.fingerprints);
        this.markFresh(s.state);
        this.forgetParked(s);
        stored.push(s.state);
        seqNos.push(version.seqNo);
        primaryTerms.add(version.primaryTerm);
        continue;
      }
      clean = false;
      if (result?.status === 409) {
        (s.kind === 'key' ? conflicted.keys : conflicted.principals).push(s.name);
      } else if (result && result.status >= 400 && result.status < 500 && result.status !== 429) {
        // OpenSearch will never take this document: retrying would fail every later batch too.
        this.os.log.error({ id: s.id, status: result.status, error: result.error }, 'OpenSearch refused a detection state document; it stays in memory only');
        // Its places are left unknown: any later change of it is written at the next interval.
        this.persisted.set(s.state, { all: s.fingerprints.all });
        this.forgetParked(s);
      } else {
        const status = result?.status ?? 503;
        // Left unconfirmed: the next write finds a gap after `lastOwnWrite` and starts a new epoch.
        throw new UpstreamError(
          `OpenSearch did not store detection state ${s.id}: ${result?.error?.type ?? 'no answer'} ${result?.error?.reason ?? ''}`.trim(),
          status === 429 ? 429 : 503,
        );
      }
    }
    this.noteOwnWrite(seqNos, primaryTerms, clean, sentAt, oneShard);
    // What we just wrote is what the index holds, in this epoch.
    for (const state of stored) this.syncedIn.set(state, this.epoch);
    return conflicted;
  }
}
