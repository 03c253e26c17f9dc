import { haversineKm } from './geo-math.js';
import type { GeoResult } from './types.js';

/**
 * The pure core of the detection: no I/O, no clock. A key's history is a short list of where it
 * was seen, ordered by event time; a new sighting is judged against its chronological
 * neighbours, whatever order the events arrived in (CloudTrail delivers files every ~5 minutes,
 * unsorted inside).
 */

export interface Sighting {
  readonly atMs: number;
  readonly ip: string;
  readonly eventId: string | undefined;
  /** Always has a location: a sighting without coordinates cannot take part in travel. */
  readonly geo: GeoResult & { readonly location: { readonly lat: number; readonly lon: number } };
  /**
   * The batch (`Context.batch`) that put the sighting into its key's history; undefined for one
   * read from a store. The detection asks it of the sightings it compares, in place of a Set of
   * the batch's sightings: three hash operations fewer per located event.
   */
  addedIn?: object | undefined;
}

export interface TravelRules {
  readonly minDistanceKm: number;
  readonly maxSpeedKmh: number;
}

export interface TravelAssessment {
  /** The earlier of the two sightings. */
  readonly from: Sighting;
  readonly to: Sighting;
  /** Great-circle distance between the two database locations. */
  readonly distanceKm: number;
  /** The distance the decision uses: great-circle minus both accuracy radii, never below 0. */
  readonly decisionDistanceKm: number;
  readonly elapsedMs: number;
  readonly speedKmh: number;
  readonly decisionSpeedKmh: number;
  readonly impossible: boolean;
}

/** eventTime has one-second resolution: two events "at the same time" may be up to a second apart. */
export const MIN_ELAPSED_MS = 1000;

export function assessTravel(a: Sighting, b: Sighting, rules: TravelRules): TravelAssessment {
  const from = a.atMs <= b.atMs ? a : b;
  const to = from === a ? b : a;
  const distanceKm = haversineKm(from.geo.location, to.geo.location);
  const decisionDistanceKm = Math.max(0, distanceKm - from.geo.accuracyRadiusKm - to.geo.accuracyRadiusKm);
  const elapsedMs = to.atMs - from.atMs;
  const hours = Math.max(elapsedMs, MIN_ELAPSED_MS) / 3_600_000;
  const speedKmh = distanceKm / hours;
  const decisionSpeedKmh = decisionDistanceKm / hours;
  const impossible = decisionDistanceKm > rules.minDistanceKm && decisionSpeedKmh > rules.maxSpeedKmh;
  return { from, to, distanceKm, decisionDistanceKm, elapsedMs, speedKmh, decisionSpeedKmh, impossible };
}

/**
 * Index of the first sighting strictly later than `atMs` (history is sorted). The newest sighting
 * is looked at first: events mostly come in time order, so that answers most calls with one read
 * (each sighting is its own object, a likely cache miss; a profile put the binary search at a
 * quarter of a microsecond per record). Otherwise, a binary search.
 */
export function upperBound(history: readonly Sighting[], atMs: number): number {
  let hi = history.length;
  if (hi === 0 || history[hi - 1]!.atMs <= atMs) return hi;
  hi--;
  let lo = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (history[mid]!.atMs <= atMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function sameEvent(a: Sighting, b: Sighting): boolean {
  if (a.atMs !== b.atMs) return false;
  return a.eventId !== undefined || b.eventId !== undefined ? a.eventId === b.eventId : a.ip === b.ip;
}

export interface Neighbours {
  /** The latest sighting at or before the new one (not the new one itself on a replay). */
  readonly before: Sighting | undefined;
  /** The earliest sighting after it. */
  readonly after: Sighting | undefined;
  /** Where the sighting goes; -1 when the history holds this very event already (a replay). */
  readonly insertAt: number;
}

export function neighbours(history: readonly Sighting[], sighting: Sighting): Neighbours {
  const i = upperBound(history, sighting.atMs);
  const replayAt = findSameEvent(history, sighting, i);
  if (replayAt >= 0) return { before: history[replayAt - 1], after: history[replayAt + 1], insertAt: -1 };
  return { before: history[i - 1], after: history[i], insertAt: i };
}

/** `neighbours(...).insertAt` without the rest: where the sighting goes, or -1 for a replay. */
export function insertionPoint(history: readonly Sighting[], sighting: Sighting): number {
  const i = upperBound(history, sighting.atMs);
  return findSameEvent(history, sighting, i) >= 0 ? -1 : i;
}

/** Events of the same second sort in arrival order, ending before `end`; a replayed event is among them. */
function findSameEvent(history: readonly Sighting[], sighting: Sighting, end: number): number {
  for (let j = end - 1; j >= 0 && history[j]!.atMs === sighting.atMs; j--) {
    if (sameEvent(history[j]!, sighting)) return j;
  }
  return -1;
}

export interface HistoryLimits {
  readonly maxLocations: number;
  readonly maxAgeMs: number;
}

/**
 * Adds a sighting in time order and keeps the history short. A run of sightings at one place is
 * kept as its first and last sighting, so a key that keeps a steady address costs two entries, not
 * thousands. The price: a late event from elsewhere that falls inside such a run is compared with
 * the run's ends rather than the dropped inner sightings, which are closer in time, so its speed
 * can come out lower than the truth. Then sightings older than `maxAgeMs` before the newest, and
 * the oldest beyond `maxLocations`, go.
 */
export function insertSighting(history: Sighting[], sighting: Sighting, insertAt: number, limits: HistoryLimits): void {
  if (insertAt < 0) return;
  const place = sighting.geo.placeKey;
  const prev = history[insertAt - 1];
  const prev2 = history[insertAt - 2];
  const next = history[insertAt];
  const next2 = history[insertAt + 1];
  if (prev && prev2 && prev.geo.placeKey === place && prev2.geo.placeKey === place) {
    history[insertAt - 1] = sighting; // extends the run: the old end becomes an inner sighting
  } else if (next && next2 && next.geo.placeKey === place && next2.geo.placeKey === place) {
    history[insertAt] = sighting; // starts the run earlier
  } else {
    history.splice(insertAt, 0, sighting);
  }
  const newest = history[history.length - 1]!.atMs;
  let drop = 0;
  while (drop < history.length - 1 && history[drop]!.atMs < newest - limits.maxAgeMs) drop++;
  drop = Math.max(drop, history.length - limits.maxLocations);
  if (drop > 0) history.splice(0, drop);
}
