import type { Logger } from 'pino';
import { isShared } from './shared.js';
import type { Sighting, TravelAssessment } from './travel.js';

/** A CloudTrail record as it travels through the pipeline: the original JSON plus our fields. */
export type Doc = Record<string, unknown>;

/** What the GeoIP database says about one address, in the units and names we use everywhere. */
export interface GeoResult {
  readonly cityName: string | undefined;
  readonly countryName: string | undefined;
  readonly countryIsoCode: string | undefined;
  readonly regionName: string | undefined;
  /** Absent when the database knows the country but not where in it. */
  readonly location: { readonly lat: number; readonly lon: number } | undefined;
  /** The database's own uncertainty (MaxMind `accuracy_radius`); 0 where it gives none (DB-IP). */
  readonly accuracyRadiusKm: number;
  /** Identity of the place, for suppression and baselines: the same city from two IPs is one place. */
  readonly placeKey: string;
}

/** Facts one processor finds out about a document and a later one needs; never serialised. */
export interface DocFacts {
  timestampMs?: number;
  /** Set only when `sourceIPAddress` is a syntactically valid IPv4/IPv6 address. */
  ip?: string;
  /** `ipv4Value` of the address when it is dotted-quad IPv4 text (as `ip` then is), for the GeoIP cache. */
  ipv4?: number;
  /** True when the address may be used for travel: public, routable, not allowlisted. */
  ipRoutable?: boolean;
  geo?: GeoResult;
  accessKeyId?: string;
  identityType?: string;
  /** The person or role behind the key (temporary keys change every session; this does not). */
  principal?: string;
  eventId?: string;
  /**
   * The `source` object normalize-cloudtrail made for the document, holding `address` and `ip` only,
   * both the text `ip` holds: geoip swaps it for the address's shared one (processors/shared.ts).
   */
  ownSource?: Doc;
  /** This document's sighting, when `impossible-travel` takes it into the key's history. */
  sighting?: Sighting;
  /** Impossible journeys this document takes part in, found by `impossible-travel`, reported by `alert`. */
  travel?: TravelAssessment[];
}

export interface Context {
  readonly facts: DocFacts;
  /** The same object for every document of one batch, and a new one for the next batch. */
  readonly batch: object;
  readonly log: Logger;
  /** Alerts leave the pipeline here, never through the document. */
  emit(alert: Doc): void;
}

export interface Processor {
  /** Registry key; equals the file name. */
  readonly type: string;
  /** Instance id from configuration, in logs and errors. */
  readonly tag: string;
  /**
   * Optional first pass: called for every document of a batch, in event-time order, before any
   * `process` of that batch, for processors whose verdict on one document depends on the others.
   */
  prepare?(doc: Doc, ctx: Context): void;
  /** Returns the document (changed in place); null drops it. Throwing marks this document only. */
  process(doc: Doc, ctx: Context): Doc | null;
}

/** Reads a nested field without allocating; undefined on any non-object on the way. */
export function getPath(doc: unknown, path: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Returns the object at `key` of `obj`, ready to be added to: created (or replacing a non-object)
 * when needed, and copied first when it is an object other documents share (processors/shared.ts).
 */
export function objectAt(obj: Doc, key: string): Doc {
  const cur = obj[key];
  if (cur !== null && typeof cur === 'object' && !Array.isArray(cur)) {
    if (!isShared(cur)) return cur as Doc;
    const copy: Doc = { ...(cur as Doc) };
    obj[key] = copy;
    return copy;
  }
  const created: Doc = {};
  obj[key] = created;
  return created;
}

export function isPlainObject(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
