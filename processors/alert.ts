import { createHash } from 'node:crypto';
import { humanDuration } from './geo-math.js';
import { checkOptions } from './options.js';
import { RULE, THREAT } from './rule.js';
import type { Sighting, TravelAssessment } from './travel.js';
import { isPlainObject, type Context, type Doc, type Processor } from './types.js';

/**
 * Turns the impossible journeys `impossible-travel` found into alert documents (emitted through
 * the context), and marks the document that triggered them with the same `impossible_travel`
 * object. The field names follow the rule page users port their dashboards and runbooks from.
 */

export const TYPE = 'alert';

export interface AlertOptions {
  readonly tag?: string;
  readonly minDistanceKm: number;
  readonly maxSpeedKmh: number;
  /** Where the enriched CloudTrail documents are, for the follow-up query. */
  readonly cloudtrailIndexPattern: string;
}

function eventRef(s: Sighting): string {
  return s.eventId ?? `${s.ip}@${s.atMs}`;
}

/** Deterministic: the same key and pair of events always give the same id. */
export function alertId(accessKeyId: string, a: TravelAssessment): string {
  return createHash('sha256').update(`${accessKeyId}\n${eventRef(a.from)}\n${eventRef(a.to)}`).digest('hex').slice(0, 40);
}

function locationOf(s: Sighting): Doc {
  return {
    ip: s.ip,
    city: s.geo.cityName ?? null,
    region: s.geo.regionName ?? null,
    country: s.geo.countryName ?? null,
    country_iso_code: s.geo.countryIsoCode ?? null,
    location: { lat: s.geo.location.lat, lon: s.geo.location.lon },
    accuracy_radius_km: s.geo.accuracyRadiusKm,
    timestamp: new Date(s.atMs).toISOString(),
    event_id: s.eventId ?? null,
  };
}

function placeName(s: Sighting): string {
  const city = s.geo.cityName ?? 'an unknown city';
  return s.geo.countryName ? `${city}, ${s.geo.countryName}` : city;
}

const km = (n: number): string => Math.round(n).toLocaleString('en-US');

export function impossibleTravelObject(accessKeyId: string, a: TravelAssessment, rules: AlertOptions): Doc {
  return {
    alert_id: alertId(accessKeyId, a),
    triggering_locations: {
      first_location: locationOf(a.from),
      second_location: locationOf(a.to),
      travel_distance: Math.round(a.distanceKm),
      travel_distance_min: Math.round(a.decisionDistanceKm),
      travel_time_seconds: Math.round(a.elapsedMs / 1000),
      travel_time_human_readable: humanDuration(a.elapsedMs),
      travel_speed: Math.round(a.speedKmh),
      travel_speed_min: Math.round(a.decisionSpeedKmh),
    },
    thresholds: { min_distance_km: rules.minDistanceKm, max_speed_kmh: rules.maxSpeedKmh },
    follow_up: followUp(accessKeyId, a.from.atMs, rules.cloudtrailIndexPattern),
  };
}

/**
 * The runbook's last step, ready to run: everything the key did from its first triggering event
 * on, as a Dashboards/Discover query (DQL, also valid Lucene) and as a `_search` body (JSON text,
 * kept as a string so that it is stored as written rather than mapped field by field).
 */
export function followUp(accessKeyId: string, sinceMs: number, indexPattern: string): Doc {
  const since = new Date(sinceMs).toISOString();
  const searchBody = {
    query: { bool: { filter: [{ term: { 'userIdentity.accessKeyId': accessKeyId } }, { range: { '@timestamp': { gte: since } } }] } },
    sort: [{ '@timestamp': 'asc' }],
  };
  return {
    since,
    index_pattern: indexPattern,
    query: `userIdentity.accessKeyId:"${accessKeyId}" and @timestamp >= "${since}"`,
    search_body: JSON.stringify(searchBody),
  };
}

/**
 * A record's fields go into keyword fields of the alerts index: anything but a short string (an
 * object where a name belongs, a 40 KB ARN) would make OpenSearch refuse the alert, every retry
 * again. Such a value is left out (null), never the alert.
 */
function keywordOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length <= 1024 ? value : null;
}

export function buildAlert(doc: Doc, accessKeyId: string, a: TravelAssessment, rules: AlertOptions): Doc {
  const identity = isPlainObject(doc.userIdentity) ? doc.userIdentity : {};
  const sessionName = keywordOrNull(identity.session_name) ?? undefined;
  const who = sessionName ? `${accessKeyId} (${sessionName})` : accessKeyId;
  const travel = impossibleTravelObject(accessKeyId, a, rules);
  const time = humanDuration(a.elapsedMs);
  const message =
    `Access key ${who} was used in ${placeName(a.from)} and ${time} later in ${placeName(a.to)}, ` +
    `about ${km(a.distanceKm)} km away: ${km(a.speedKmh)} km/h, faster than anyone travels. ` +
    `Treat the key as leaked until shown otherwise, and review everything it did since ${new Date(a.from.atMs).toISOString()} ` +
    `(events ${eventRef(a.from)} and ${eventRef(a.to)}; impossible_travel.follow_up.query finds the key's later actions).`;
  const triage = [
    `Ask the owner of ${who} whether the key should be in use from both ${placeName(a.from)} and ${placeName(a.to)}.`,
    `If not, deactivate the key (and revoke the sessions of ${keywordOrNull(identity.arn) ?? 'its principal'}), then rotate its credentials.`,
    `Audit every action of the key since the first of the two events, in ${rules.cloudtrailIndexPattern}: ${(travel.follow_up as { query: string }).query}`,
  ];
  return {
    '@timestamp': new Date(a.to.atMs).toISOString(),
    event: { kind: 'alert', category: ['iam'], type: ['info'], id: travel.alert_id, created: new Date().toISOString() },
    message,
    severity: RULE.severity,
    risk_score: RULE.risk_score,
    rule: { ...RULE },
    threat: THREAT,
    triage,
    userIdentity: {
      accessKeyId,
      type: keywordOrNull(identity.type),
      session_name: sessionName ?? null,
      arn: keywordOrNull(identity.arn),
      accountId: keywordOrNull(identity.accountId),
      principalId: keywordOrNull(identity.principalId),
    },
    cloud: {
      provider: 'aws',
      account: { id: keywordOrNull(identity.accountId) ?? keywordOrNull(doc.recipientAccountId) },
      region: keywordOrNull(doc.awsRegion),
    },
    impossible_travel: travel,
  };
}

export class AlertProcessor implements Processor {
  readonly type = TYPE;
  readonly tag: string;
  private readonly options: AlertOptions;

  constructor(options: AlertOptions) {
    this.tag = options.tag ?? TYPE;
    checkOptions(TYPE, this.tag, options, ['tag', 'minDistanceKm', 'maxSpeedKmh', 'cloudtrailIndexPattern']);
    this.options = options;
  }

  process(doc: Doc, ctx: Context): Doc {
    const found = ctx.facts.travel;
    const accessKeyId = ctx.facts.accessKeyId;
    if (!found || found.length === 0 || accessKeyId === undefined) return doc;
    let fastest: Doc | undefined;
    let fastestSpeed = -1;
    for (const assessment of found) {
      const alert = buildAlert(doc, accessKeyId, assessment, this.options);
      ctx.emit(alert);
      if (assessment.speedKmh > fastestSpeed) {
        fastestSpeed = assessment.speedKmh;
        fastest = alert;
      }
    }
    // A document can close two journeys (with the event before it and the one after); it shows the faster.
    doc.impossible_travel = fastest!.impossible_travel;
    return doc;
  }
}
