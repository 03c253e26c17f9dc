import type { DetectionConfig } from '../server/config.js';
import { CidrSet } from './ip-ranges.js';
import { checkOptions, optionError } from './options.js';
import type { KeyState, PrincipalBaseline, StateStore } from './state.js';
import { assessTravel, insertionPoint, insertSighting, sameEvent, upperBound, type Sighting, type TravelAssessment } from './travel.js';
import type { Context, Doc, DocFacts, Processor } from './types.js';

/**
 * Judges each located event of an access key against the key's chronological neighbours and
 * records the impossible journeys in `ctx.facts.travel`; the `alert` processor turns them into
 * alert documents. Suppression, the optional baseline and the allowlists are decided here.
 */

export const TYPE = 'impossible-travel';

/** The detection settings (server/config.ts documents each), plus where state lives. */
export interface ImpossibleTravelOptions extends DetectionConfig {
  readonly tag?: string;
  readonly store: StateStore;
}

const KNOWN: (keyof ImpossibleTravelOptions)[] = [
  'tag', 'store', 'minDistanceKm', 'maxSpeedKmh', 'suppressionWindowMs', 'historyMaxLocations',
  'historyMaxAgeMs', 'baselineLearningDays', 'allowCidrs', 'allowPrincipals', 'allowAccessKeys',
];

const MAX_BASELINE_PLACES = 256;
const DAY_MS = 86_400_000;

/** `*` matches any run of characters; everything else is literal. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** The suppression key of an unordered pair of places. */
export function placePairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** The alert id: the same pair of events always gives the same id, so replays never duplicate. */
export type AlertIdFn = (accessKeyId: string, assessment: TravelAssessment) => string;

export class ImpossibleTravel implements Processor {
  readonly type = TYPE;
  readonly tag: string;
  private readonly options: ImpossibleTravelOptions;
  private readonly allowCidrs: CidrSet;
  private readonly allowPrincipals: RegExp[];
  private readonly allowAccessKeys: ReadonlySet<string>;
  private readonly learningMs: number;
  private readonly historyLimits: { readonly maxLocations: number; readonly maxAgeMs: number };

  constructor(
    options: ImpossibleTravelOptions,
    private readonly alertId: AlertIdFn,
  ) {
    this.tag = options.tag ?? TYPE;
    checkOptions(TYPE, this.tag, options, KNOWN);
    const check = (property: string, ok: boolean, message: string): void => {
      if (!ok) throw optionError(TYPE, this.tag, property, message);
    };
    check('minDistanceKm', options.minDistanceKm >= 0, 'must be 0 or more');
    check('maxSpeedKmh', options.maxSpeedKmh > 0, 'must be more than 0');
    check('historyMaxLocations', Number.isInteger(options.historyMaxLocations) && options.historyMaxLocations >= 2, 'must be a whole number of at least 2');
    check('baselineLearningDays', options.baselineLearningDays === 0 || (options.baselineLearningDays >= 1 && options.baselineLearningDays <= 30), 'must be 0 (off) or from 1 to 30');
    try {
      this.allowCidrs = new CidrSet(options.allowCidrs);
    } catch (err) {
      throw optionError(TYPE, this.tag, 'allowCidrs', (err as Error).message);
    }
    this.options = options;
    this.allowPrincipals = options.allowPrincipals.map(globToRegExp);
    this.allowAccessKeys = new Set(options.allowAccessKeys);
    this.learningMs = options.baselineLearningDays * DAY_MS;
    this.historyLimits = { maxLocations: options.historyMaxLocations, maxAgeMs: options.historyMaxAgeMs };
  }

  /** Whether principals' baselines take part (and so must be loaded before a batch). */
  get usesBaseline(): boolean {
    return this.learningMs > 0;
  }

  /**
   * Whether a document is judged at all: a located, routable event of an access key, at a known
   * time. Its key and principal are then `facts.accessKeyId` and `facts.principal`.
   */
  inScope(f: DocFacts): boolean {
    // AWS access key ids are 16 to 128 characters; anything longer is not one, and would only bloat state.
    if (f.accessKeyId === undefined || f.accessKeyId.length > 128 || f.identityType === 'AWSService') return false;
    return f.timestampMs !== undefined && f.ip !== undefined && f.ipRoutable === true && f.geo?.location !== undefined;
  }

  /**
   * First pass, over the whole batch in event-time order: every new sighting goes into its key's
   * history, and the baseline learns its place. Judging waits for `process`, so that each event is
   * judged against the batch's other events too: the verdict does not depend on the order in which
   * CloudTrail delivered the batch's files.
   */
  prepare(_doc: Doc, ctx: Context): void {
    const f = ctx.facts;
    if (!this.inScope(f)) return;
    const accessKeyId = f.accessKeyId!;
    const principal = f.principal;
    if (this.allowAccessKeys.size > 0 && this.allowAccessKeys.has(accessKeyId)) return;
    if (principal !== undefined && this.allowPrincipals.length > 0 && this.allowPrincipals.some((re) => re.test(principal))) return;
    if (this.allowCidrs.has(f.ip!)) return;

    const sighting: Sighting = { atMs: f.timestampMs!, ip: f.ip!, eventId: f.eventId, geo: f.geo as Sighting['geo'], addedIn: undefined };
    const store = this.options.store;
    let state = store.getKey(accessKeyId);
    if (!state) {
      // A literal of one: an empty array grown by splice reserves 17 slots, for a million keys.
      state = { history: [sighting], alerted: undefined };
      sighting.addedIn = ctx.batch;
    } else {
      const insertAt = insertionPoint(state.history, sighting);
      if (insertAt >= 0) sighting.addedIn = ctx.batch;
      insertSighting(state.history, sighting, insertAt, this.historyLimits);
    }
    store.setKey(accessKeyId, state);
    this.learn(principal, sighting);
    f.sighting = sighting;
  }

  /**
   * Second pass: judges the event against its neighbours in the history as the whole batch left
   * it. Against the sighting before it, always; against the one after it only when this event is
   * a late arrival (the later one was known before this batch): otherwise the later event, judged
   * in its turn, reports the journey, and the alert lands on the document that closed it.
   */
  process(doc: Doc, ctx: Context): Doc {
    const f = ctx.facts;
    const mine = f.sighting;
    if (!mine) return doc;
    const accessKeyId = f.accessKeyId!;
    const principal = f.principal;
    // The first pass already counted this use of the key.
    const state = this.options.store.peekKey(accessKeyId);
    if (!state) return doc; // evicted between the passes: nothing to judge against
    const history = state.history;
    let at = upperBound(history, mine.atMs) - 1;
    while (at >= 0 && history[at]!.atMs === mine.atMs && !sameEvent(history[at]!, mine)) at--;
    // Not found: an inner sighting of a run at one place, whose neighbours are that same place.
    if (at < 0 || history[at]!.atMs !== mine.atMs) return doc;
    const sighting = history[at]!;
    const before = history[at - 1];
    const after = history[at + 1];
    // A replayed event is found in the history: its sighting there was added by an earlier batch.
    const late = after !== undefined && mine.addedIn === ctx.batch && after.addedIn !== ctx.batch;
    const baseline = this.learningMs > 0 && principal !== undefined ? this.options.store.getPrincipal(principal) : undefined;

    // Raising an alert writes its suppression entry into the state: store it then.
    let alerted = before !== undefined && this.judge(before, sighting, state, baseline, ctx);
    if (late && this.judge(after, sighting, state, baseline, ctx)) alerted = true;
    if (alerted) this.options.store.setKey(accessKeyId, state);
    return doc;
  }

  /** Whether the journey between `other` and this sighting is reported (added to `facts.travel`). */
  private judge(other: Sighting, sighting: Sighting, state: KeyState, baseline: PrincipalBaseline | undefined, ctx: Context): boolean {
    const f = ctx.facts;
    // At the same coordinates there is no journey, however short the time: the usual case, as most
    // keys keep to one place, and it needs neither the trigonometry nor the assessment object.
    const here = sighting.geo.location;
    const there = other.geo.location;
    if (here.lat === there.lat && here.lon === there.lon) return false;
    const assessment = assessTravel(other, sighting, this.options);
    if (!assessment.impossible) return false;
    if (baseline && this.baselineExplains(baseline, assessment)) {
      ctx.log.debug({ accessKeyId: f.accessKeyId, principal: f.principal }, 'impossible travel between baseline places, or during learning: no alert');
      return false;
    }
    if (this.suppressed(state, f.accessKeyId!, assessment)) {
      ctx.log.debug({ accessKeyId: f.accessKeyId }, 'impossible travel suppressed: this pair of places alerted recently');
      return false;
    }
    (f.travel ??= []).push(assessment);
    return true;
  }

  /** Updates the principal's baseline with a sighting, when the baseline is on. */
  private learn(principal: string | undefined, sighting: Sighting): void {
    if (this.learningMs === 0 || principal === undefined) return;
    const store = this.options.store;
    const baseline = store.getPrincipal(principal) ?? { firstSeenMs: sighting.atMs, places: [] };
    baseline.firstSeenMs = Math.min(baseline.firstSeenMs, sighting.atMs);
    const learning = sighting.atMs < baseline.firstSeenMs + this.learningMs;
    if (learning && !baseline.places.includes(sighting.geo.placeKey) && baseline.places.length < MAX_BASELINE_PLACES) {
      baseline.places.push(sighting.geo.placeKey);
    }
    store.setPrincipal(principal, baseline);
  }

  private baselineExplains(baseline: PrincipalBaseline, a: TravelAssessment): boolean {
    if (a.to.atMs < baseline.firstSeenMs + this.learningMs) return true;
    return baseline.places.includes(a.from.geo.placeKey) && baseline.places.includes(a.to.geo.placeKey);
  }

  /**
   * At most one alert per key and place pair within the window. The same pair of events raised
   * again (a replayed batch) is not suppressed: it yields the same alert id, which stores dedupe.
   */
  private suppressed(state: KeyState, accessKeyId: string, a: TravelAssessment): boolean {
    const window = this.options.suppressionWindowMs;
    const pair = placePairKey(a.from.geo.placeKey, a.to.geo.placeKey);
    const id = this.alertId(accessKeyId, a);
    const last = state.alerted?.[pair];
    if (last && last.alertId !== id && Math.abs(a.to.atMs - last.atMs) < window) return true;
    const alerted = (state.alerted ??= {});
    for (const [k, v] of Object.entries(alerted)) {
      if (Math.abs(a.to.atMs - v.atMs) >= window) delete alerted[k];
    }
    alerted[pair] = { atMs: a.to.atMs, alertId: id };
    return false;
  }
}
