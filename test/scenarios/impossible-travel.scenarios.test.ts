/**
 * Whole-pipeline scenarios as plain data: CloudTrail events in (by place and minute), the expected
 * alerts out. Runs normalize-cloudtrail, geoip (the generated City database), impossible-travel
 * and alert exactly as /enrich does. Distances, speeds and times are worked out here from the
 * fixture coordinates with a formula of our own, never read back from the product.
 */
import assert from 'node:assert/strict';
import type { Doc } from '../../processors/types.js';
import {
  HOUR,
  IP,
  KENYA_CODE_ONLY,
  MINUTE,
  PLACES,
  SPAIN_COUNTRY_LEVEL,
  T0,
  alertIds,
  cloudTrailRecord,
  greatCircleKm,
  testPipeline,
  type IdentityType,
} from '../support/geo-fixture.js';

/** Where an event comes from: the address and what the City database says of it. */
const WHERE = {
  london: { ip: IP.london, city: 'London', country: 'United Kingdom', at: PLACES.london },
  london2: { ip: IP.london2, city: 'London', country: 'United Kingdom', at: PLACES.london },
  paris: { ip: IP.paris, city: 'Paris', country: 'France', at: PLACES.paris },
  brussels: { ip: IP.brussels, city: 'Brussels', country: 'Belgium', at: PLACES.brussels },
  frankfurt: { ip: IP.frankfurt, city: 'Frankfurt am Main', country: 'Germany', at: PLACES.frankfurt },
  tokyo: { ip: IP.tokyo, city: 'Tokyo', country: 'Japan', at: PLACES.tokyo },
  tokyoV6: { ip: IP.tokyoV6, city: 'Tokyo', country: 'Japan', at: PLACES.tokyo },
  sydney: { ip: IP.sydney, city: 'Sydney', country: 'Australia', at: PLACES.sydney },
  newYork: { ip: IP.newYork, city: 'New York', country: 'United States', at: PLACES.newYork },
  saoPaulo: { ip: IP.saoPaulo, city: 'São Paulo', country: 'Brazil', at: PLACES.saoPaulo },
  spain: { ip: IP.spainWideRadius, city: null, country: 'Spain', at: SPAIN_COUNTRY_LEVEL },
  kenya: { ip: IP.countryCodeOnly, city: null, country: 'Kenya', at: KENYA_CODE_ONLY },
  privateTokyo: { ip: '192.168.10.20', city: 'Tokyo', country: 'Japan', at: PLACES.tokyo },
  awsInternal: { ip: 'AWS Internal', city: null, country: null, at: PLACES.london },
} as const;
type Where = keyof typeof WHERE;

/** One CloudTrail event: a key used from a place at a minute after T0 (seconds allowed: 40.5). */
interface Ev {
  readonly key?: string;
  readonly from: Where;
  readonly min: number;
  readonly type?: IdentityType;
  readonly session?: string;
}

/** An expected alert: the key, and the two events (place and minute) it joins, earlier first. */
interface Expected {
  readonly key?: string;
  readonly first: [Where, number];
  readonly second: [Where, number];
  /** travel_time_human_readable, as a person would write it. */
  readonly time: string;
}

interface Scenario {
  readonly name: string;
  /** Delivered in this order, one pipeline run per batch, state kept between them. */
  readonly batches: readonly (readonly Ev[])[];
  readonly alerts: readonly Expected[];
}

const KEY = 'AKIASCENARIO000001';
const KEY2 = 'AKIASCENARIO000002';

const SCENARIOS: Scenario[] = [
  {
    name: 'London -> Tokyo in 40 minutes: impossible',
    batches: [[{ from: 'london', min: 0 }, { from: 'tokyo', min: 40 }]],
    alerts: [{ first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' }],
  },
  {
    name: 'London -> Tokyo (IPv6) in 40 minutes: impossible',
    batches: [[{ from: 'london', min: 0 }, { from: 'tokyoV6', min: 40 }]],
    alerts: [{ first: ['london', 0], second: ['tokyoV6', 40], time: '40 minutes' }],
  },
  {
    name: 'London -> Paris in 2 hours: possible',
    batches: [[{ from: 'london', min: 0 }, { from: 'paris', min: 120 }]],
    alerts: [],
  },
  {
    name: 'London -> New York in 8 hours (about 700 km/h): possible',
    batches: [[{ from: 'london', min: 0 }, { from: 'newYork', min: 480 }]],
    alerts: [],
  },
  {
    name: 'London -> New York in 4 hours (about 1,400 km/h): impossible',
    batches: [[{ from: 'london', min: 0 }, { from: 'newYork', min: 240 }]],
    alerts: [{ first: ['london', 0], second: ['newYork', 240], time: '4 hours' }],
  },
  {
    name: 'Paris -> Brussels in 5 minutes: under 500 km, never an alert',
    batches: [[{ from: 'paris', min: 0 }, { from: 'brussels', min: 5 }]],
    alerts: [],
  },
  {
    name: 'Paris -> Frankfurt (about 478 km) in 1 minute: under 500 km, never an alert',
    batches: [[{ from: 'paris', min: 0 }, { from: 'frankfurt', min: 1 }]],
    alerts: [],
  },
  {
    name: 'London and Tokyo in the same second: impossible',
    batches: [[{ from: 'london', min: 10 }, { from: 'tokyo', min: 10 }]],
    alerts: [{ first: ['london', 10], second: ['tokyo', 10], time: '0 seconds' }],
  },
  {
    name: 'out of order: the Tokyo event arrives in a batch before the earlier London event',
    batches: [[{ from: 'tokyo', min: 40 }], [{ from: 'london', min: 0 }]],
    alerts: [{ first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' }],
  },
  {
    name: 'out of order inside one batch',
    batches: [[{ from: 'tokyo', min: 40 }, { from: 'london', min: 0 }]],
    alerts: [{ first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' }],
  },
  {
    name: 'a late event between two distant, possible events alerts with both neighbours',
    batches: [[{ from: 'london', min: 0 }, { from: 'newYork', min: 600 }], [{ from: 'tokyo', min: 300 }]],
    alerts: [
      { first: ['london', 0], second: ['tokyo', 300], time: '5 hours' },
      { first: ['tokyo', 300], second: ['newYork', 600], time: '5 hours' },
    ],
  },
  {
    name: 'two keys do not mix: London on one key, Tokyo on another',
    batches: [[{ key: KEY, from: 'london', min: 0 }, { key: KEY2, from: 'tokyo', min: 10 }]],
    alerts: [],
  },
  {
    name: 'two keys, each impossible on its own: one alert each',
    batches: [
      [
        { key: KEY, from: 'london', min: 0 },
        { key: KEY2, from: 'sydney', min: 0 },
        { key: KEY2, from: 'saoPaulo', min: 30 },
        { key: KEY, from: 'tokyo', min: 40 },
      ],
    ],
    alerts: [
      { key: KEY2, first: ['sydney', 0], second: ['saoPaulo', 30], time: '30 minutes' },
      { key: KEY, first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' },
    ],
  },
  {
    name: 'AssumedRole temporary keys (ASIA...) are judged like any key',
    batches: [
      [
        { key: 'ASIATEMPORARY00001', type: 'AssumedRole', session: 'jane@example.com', from: 'paris', min: 0 },
        { key: 'ASIATEMPORARY00001', type: 'AssumedRole', session: 'jane@example.com', from: 'sydney', min: 90 },
      ],
    ],
    alerts: [{ key: 'ASIATEMPORARY00001', first: ['paris', 0], second: ['sydney', 90], time: '1 hour 30 minutes' }],
  },
  {
    name: 'two sessions of one role (two temporary keys) are two keys',
    batches: [
      [
        { key: 'ASIATEMPORARY00002', type: 'AssumedRole', session: 'jane@example.com', from: 'paris', min: 0 },
        { key: 'ASIATEMPORARY00003', type: 'AssumedRole', session: 'jane@example.com', from: 'sydney', min: 10 },
      ],
    ],
    alerts: [],
  },
  {
    name: 'wide accuracy radius: London -> Spain (country level, 1000 km) in 10 minutes is not provably far',
    batches: [[{ from: 'london', min: 0 }, { from: 'spain', min: 10 }]],
    alerts: [],
  },
  {
    name: 'a country-level location with only an ISO code still takes part: Tokyo -> Kenya in 1 hour',
    batches: [[{ from: 'tokyo', min: 0 }, { from: 'kenya', min: 60 }]],
    alerts: [{ first: ['tokyo', 0], second: ['kenya', 60], time: '1 hour' }],
  },
  {
    name: 'a private address located in Tokyo and AWS Internal never take part',
    batches: [[{ from: 'london', min: 0 }, { from: 'privateTokyo', min: 10 }, { from: 'awsInternal', min: 20 }, { from: 'london2', min: 30 }]],
    alerts: [],
  },
  {
    name: 'suppression across batches: the way back is the same pair; a new pair alerts',
    batches: [
      [{ from: 'london', min: 0 }, { from: 'tokyo', min: 40 }],
      [{ from: 'london2', min: 100 }],
      [{ from: 'tokyo', min: 160 }],
      [{ from: 'sydney', min: 190 }],
    ],
    alerts: [
      { first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' },
      { first: ['tokyo', 160], second: ['sydney', 190], time: '30 minutes' },
    ],
  },
  {
    name: 'after the 24-hour suppression window the same pair alerts again',
    batches: [
      [{ from: 'london', min: 0 }, { from: 'tokyo', min: 40 }],
      [{ from: 'london', min: 25 * 60 }, { from: 'tokyo', min: 25 * 60 + 40 }],
    ],
    alerts: [
      { first: ['london', 0], second: ['tokyo', 40], time: '40 minutes' },
      { first: ['london', 25 * 60], second: ['tokyo', 25 * 60 + 40], time: '40 minutes' },
    ],
  },
];

// ------------------------------------------------------------------------------------ runner

function record(ev: Ev): Doc {
  return cloudTrailRecord({
    key: ev.key ?? KEY,
    ip: WHERE[ev.from].ip,
    at: T0 + Math.round(ev.min * MINUTE),
    type: ev.type ?? 'IAMUser',
    ...(ev.session === undefined ? {} : { session: ev.session, role: 'Developer' }),
  });
}

async function deliver(batches: readonly (readonly Doc[])[]): Promise<Doc[]> {
  const t = testPipeline();
  const alerts: Doc[] = [];
  for (const batch of batches) {
    const result = await t.run(batch);
    assert.equal(result.docs.length, batch.length);
    for (const d of result.docs) assert.ok(!('error' in d && Object.keys(d).length === 1), `no error entries: ${JSON.stringify(d)}`);
    alerts.push(...result.alerts);
  }
  return alerts;
}

interface Journey {
  first_location: { ip: string; city: string | null; country: string | null; timestamp: string };
  second_location: { ip: string; city: string | null; country: string | null; timestamp: string };
  travel_distance: number;
  travel_time_seconds: number;
  travel_time_human_readable: string;
  travel_speed: number;
}
const journeyOf = (alert: Doc): Journey => (alert.impossible_travel as { triggering_locations: Journey }).triggering_locations;

function checkAlert(alert: Doc, want: Expected): void {
  const j = journeyOf(alert);
  const [fromWhere, fromMin] = want.first;
  const [toWhere, toMin] = want.second;
  const a = WHERE[fromWhere];
  const b = WHERE[toWhere];
  const label = `${fromWhere}@${fromMin} -> ${toWhere}@${toMin}`;
  assert.equal((alert.userIdentity as Doc).accessKeyId, want.key ?? KEY, label);
  assert.deepEqual(
    [j.first_location.ip, j.first_location.city, j.first_location.country, j.first_location.timestamp],
    [a.ip, a.city, a.country, new Date(T0 + Math.round(fromMin * MINUTE)).toISOString()],
    `${label}: first location`,
  );
  assert.deepEqual(
    [j.second_location.ip, j.second_location.city, j.second_location.country, j.second_location.timestamp],
    [b.ip, b.city, b.country, new Date(T0 + Math.round(toMin * MINUTE)).toISOString()],
    `${label}: second location`,
  );
  const km = greatCircleKm(a.at, b.at);
  const seconds = Math.round((toMin - fromMin) * 60);
  assert.equal(j.travel_distance, Math.round(km), `${label}: distance`);
  assert.equal(j.travel_time_seconds, seconds, `${label}: seconds`);
  assert.equal(j.travel_time_human_readable, want.time, `${label}: human-readable time`);
  // eventTime has one-second resolution: the same second counts as one second.
  assert.equal(j.travel_speed, Math.round(km / (Math.max(seconds, 1) / 3600)), `${label}: speed`);
}

const byTime = (alerts: readonly Doc[]): Doc[] =>
  [...alerts].sort((x, y) => {
    const a = journeyOf(x);
    const b = journeyOf(y);
    return a.second_location.timestamp.localeCompare(b.second_location.timestamp) || a.first_location.timestamp.localeCompare(b.first_location.timestamp);
  });

describe('scenarios: impossible travel through the whole pipeline', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.alerts.length === 0 ? 'no alert' : `${scenario.alerts.length} alert(s)`}`, async () => {
      const alerts = byTime(await deliver(scenario.batches.map((b) => b.map(record))));
      assert.equal(
        alerts.length,
        scenario.alerts.length,
        `alerts: ${JSON.stringify(alerts.map((x) => [journeyOf(x).first_location.city, journeyOf(x).second_location.city]))}`,
      );
      const wanted = [...scenario.alerts].sort(
        (x, y) => x.second[1] - y.second[1] || x.first[1] - y.first[1],
      );
      wanted.forEach((want, i) => checkAlert(alerts[i]!, want));
    });
  }

  it('London -> Tokyo in 40 minutes: the distance is the great-circle distance (about 9,559 km) and the message says so', async () => {
    const [alert] = await deliver([[record({ from: 'london', min: 0 }), record({ from: 'tokyo', min: 40 })]]);
    const km = greatCircleKm(PLACES.london, PLACES.tokyo);
    assert.ok(Math.abs(km - 9559) < 5, `independent distance ${km}`);
    assert.equal(journeyOf(alert!).travel_distance, Math.round(km));
    assert.match(String(alert!.message), new RegExp(`about ${Math.round(km).toLocaleString('en-US')} km away`));
    assert.match(String(alert!.message), /40 minutes later in Tokyo, Japan/);
  });

  describe('delivery order', () => {
    /** Three 5-minute CloudTrail files of several keys; keys keep calling from one place, as people do. */
    const FILES: Ev[][] = [
      [
        { key: KEY, from: 'london', min: 0 },
        { key: KEY, from: 'london', min: 2 },
        { key: KEY, from: 'london2', min: 4 },
        { key: KEY2, from: 'paris', min: 1 },
        { key: 'AKIASCENARIO000003', from: 'sydney', min: 3 },
      ],
      [
        { key: KEY2, from: 'paris', min: 6 },
        { key: KEY2, from: 'newYork', min: 8 },
        { key: 'AKIASCENARIO000003', from: 'sydney', min: 7 },
        { key: 'AKIASCENARIO000004', from: 'brussels', min: 9 },
      ],
      [
        { key: KEY, from: 'tokyo', min: 40 },
        { key: KEY, from: 'tokyo', min: 42 },
        { key: 'AKIASCENARIO000003', from: 'saoPaulo', min: 44 },
        { key: 'AKIASCENARIO000004', from: 'paris', min: 43 },
      ],
    ];
    const files = (): Doc[][] => FILES.map((f) => f.map(record));
    const journeys = (alerts: readonly Doc[]): string[] =>
      byTime(alerts).map((a) => `${(a.userIdentity as Doc).accessKeyId} ${journeyOf(a).first_location.city}@${journeyOf(a).first_location.timestamp} -> ${journeyOf(a).second_location.city}@${journeyOf(a).second_location.timestamp}`);

    it('the sorted delivery raises the expected alerts (the reference for the shuffled ones)', async () => {
      const alerts = byTime(await deliver(files()));
      assert.deepEqual(
        alerts.map((a) => [(a.userIdentity as Doc).accessKeyId, journeyOf(a).first_location.timestamp, journeyOf(a).second_location.timestamp]),
        [
          [KEY2, new Date(T0 + 6 * MINUTE).toISOString(), new Date(T0 + 8 * MINUTE).toISOString()],
          [KEY, new Date(T0 + 4 * MINUTE).toISOString(), new Date(T0 + 40 * MINUTE).toISOString()],
          ['AKIASCENARIO000003', new Date(T0 + 7 * MINUTE).toISOString(), new Date(T0 + 44 * MINUTE).toISOString()],
        ],
      );
    });

    // Each key's journeys are judged against the whole batch, so the order of records inside a
    // delivery never matters, and a file that arrives late is compared with what came before and
    // after it. What can differ is the evidence an alert cites: when a late file holds an event
    // inside a journey that has already alerted (Sydney@3 arriving after Sydney@7's journey to
    // São Paulo was reported, or before it), the first report stands and the second is the same
    // journey, suppressed. So the alerts are the same journeys (key and the two places), and where
    // no late event falls inside an alerted journey, the very same alert ids.
    const places = (alerts: readonly Doc[]): string[] =>
      byTime(alerts).map((a) => `${(a.userIdentity as Doc).accessKeyId} ${journeyOf(a).first_location.city} -> ${journeyOf(a).second_location.city}`).sort();

    for (const order of [[2, 0, 1], [1, 2, 0], [2, 1, 0]]) {
      it(`files delivered in the order ${order.map((i) => i + 1).join(', ')} raise the same journeys as sorted delivery`, async () => {
        const sorted = await deliver(files());
        const f = files();
        const shuffled = await deliver(order.map((i) => f[i]!));
        assert.deepEqual(places(shuffled), places(sorted));
      });
    }

    for (const order of [[1, 2, 0], [2, 1, 0]]) {
      it(`files delivered in the order ${order.map((i) => i + 1).join(', ')} (no late event inside a reported journey) give the very same alert ids`, async () => {
        const sorted = await deliver(files());
        const f = files();
        const shuffled = await deliver(order.map((i) => f[i]!));
        assert.deepEqual(journeys(shuffled), journeys(sorted));
        assert.deepEqual(alertIds(shuffled), alertIds(sorted));
      });
    }

    it('each file with its records reversed gives the same alerts', async () => {
      const sorted = alertIds(await deliver(files()));
      const reversed = alertIds(await deliver(files().map((f) => [...f].reverse())));
      assert.deepEqual(reversed, sorted);
    });
  });

  describe('replay', () => {
    const batch = (): Doc[] => [
      record({ from: 'london', min: 0 }),
      record({ from: 'tokyo', min: 40 }),
      record({ key: KEY2, from: 'sydney', min: 5 }),
      record({ key: KEY2, from: 'saoPaulo', min: 50 }),
    ];

    it('the same batch delivered twice raises no alert with a new id', async () => {
      const t = testPipeline();
      const first = await t.run(batch());
      assert.equal(first.alerts.length, 2);
      const again = await t.run(batch());
      const firstIds = new Set(alertIds(first.alerts));
      for (const id of alertIds(again.alerts)) assert.ok(firstIds.has(id), `replay raised a new alert id ${id}`);
      const third = await t.run(batch());
      for (const id of alertIds(third.alerts)) assert.ok(firstIds.has(id), `second replay raised a new alert id ${id}`);
    });

    it('a replayed batch reports each of its alerts once, not once per event of the pair', async () => {
      const t = testPipeline();
      const first = await t.run(batch());
      const again = await t.run(batch());
      assert.deepEqual(alertIds(again.alerts), alertIds(first.alerts));
    });

    it('replaying keeps the history as it was (no duplicate sightings)', async () => {
      const t = testPipeline();
      await t.run(batch());
      const before = structuredClone(t.store.getKey(KEY)!.history);
      await t.run(batch());
      assert.deepEqual(t.store.getKey(KEY)!.history, before);
    });

    it('a replay after the key moved on (beyond the history age) does not alert again', async () => {
      const t = testPipeline();
      const londonTokyo = (): Doc[] => batch().slice(0, 2);
      assert.equal((await t.run(londonTokyo())).alerts.length, 1);
      await t.run([record({ from: 'london', min: 3 * 24 * 60 })]);
      const again = await t.run(londonTokyo());
      assert.deepEqual(again.alerts, [], 'the old events fall outside the 24-hour history and are judged against the recent London only');
      assert.ok(t.store.getKey(KEY)!.history.every((s) => s.atMs >= T0 + 3 * 24 * HOUR - 24 * HOUR));
    });
  });
});
