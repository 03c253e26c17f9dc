import assert from 'node:assert/strict';
import { haversineKm, humanDuration } from '../../processors/geo-math.js';
import {
  MIN_ELAPSED_MS,
  assessTravel,
  insertSighting,
  neighbours,
  sameEvent,
  upperBound,
  type Sighting,
  type TravelRules,
} from '../../processors/travel.js';
import { HOUR, MINUTE, PLACES, T0, greatCircleKm, placeDistanceKm, placeGeo, type PlaceName } from '../support/geo-fixture.js';

const RULES: TravelRules = { minDistanceKm: 500, maxSpeedKmh: 1000 };

let seq = 0;
/** A sighting at a fixture place; radius from the place unless given. */
function at(place: PlaceName, atMs: number, opts: { radiusKm?: number; eventId?: string | null; ip?: string } = {}): Sighting {
  return {
    atMs,
    ip: opts.ip ?? `198.18.0.${++seq % 250}`,
    eventId: opts.eventId === null ? undefined : (opts.eventId ?? `ev-${++seq}`),
    geo: placeGeo(place, opts.radiusKm),
  };
}

/** A sighting at an arbitrary point, for distances built to measure. */
function point(lat: number, lon: number, atMs: number, radiusKm = 0): Sighting {
  return {
    atMs,
    ip: '198.18.1.1',
    eventId: `pt-${++seq}`,
    geo: {
      cityName: undefined,
      countryName: undefined,
      countryIsoCode: undefined,
      regionName: undefined,
      location: { lat, lon },
      accuracyRadiusKm: radiusKm,
      placeKey: `|@${lat},${lon}`,
    },
  };
}

/** Latitude `km` north of the equator on the product's sphere (distance along a meridian). */
const latForKm = (km: number): number => (km / 6371.0088) * (180 / Math.PI);

const places = (history: readonly Sighting[]): string[] => history.map((s) => `${s.geo.cityName}@${(s.atMs - T0) / MINUTE}`);

describe('processors/travel (the pure detection core)', () => {
  describe('haversineKm and humanDuration', () => {
    it('agrees with an independent great-circle formula to a metre', () => {
      for (const [a, b] of [['london', 'tokyo'], ['paris', 'brussels'], ['sydney', 'saoPaulo'], ['newYork', 'newYork']] as [PlaceName, PlaceName][]) {
        assert.ok(Math.abs(haversineKm(PLACES[a], PLACES[b]) - greatCircleKm(PLACES[a], PLACES[b])) < 0.001, `${a}-${b}`);
      }
      assert.ok(Math.abs(haversineKm(PLACES.london, PLACES.tokyo) - 9559) < 5, 'London-Tokyo is about 9,559 km');
    });

    it('is stable for antipodes (no NaN)', () => {
      const d = haversineKm({ lat: 10, lon: 20 }, { lat: -10, lon: -160 });
      assert.ok(Math.abs(d - Math.PI * 6371.0088) < 0.001, String(d));
    });

    it('humanDuration names the two largest units', () => {
      assert.equal(humanDuration(40 * MINUTE), '40 minutes');
      assert.equal(humanDuration(MINUTE), '1 minute');
      assert.equal(humanDuration(2 * HOUR + 5 * MINUTE), '2 hours 5 minutes');
      assert.equal(humanDuration(3 * 24 * HOUR + 4 * HOUR + 59 * MINUTE), '3 days 4 hours');
      assert.equal(humanDuration(HOUR + 5000), '1 hour', 'no "1 hour 5 seconds": only adjacent units');
      assert.equal(humanDuration(12_000), '12 seconds');
      assert.equal(humanDuration(0), '0 seconds');
      assert.equal(humanDuration(-40 * MINUTE), '40 minutes');
    });
  });

  describe('assessTravel', () => {
    it('London -> Tokyo in 40 minutes: distance, speed and verdict', () => {
      const a = at('london', T0);
      const b = at('tokyo', T0 + 40 * MINUTE);
      const r = assessTravel(a, b, RULES);
      const km = placeDistanceKm('london', 'tokyo');
      assert.ok(Math.abs(r.distanceKm - km) < 0.001);
      assert.ok(Math.abs(r.decisionDistanceKm - (km - PLACES.london.radiusKm - PLACES.tokyo.radiusKm)) < 0.001);
      assert.equal(r.elapsedMs, 40 * MINUTE);
      assert.ok(Math.abs(r.speedKmh - km / (40 / 60)) < 0.01);
      assert.ok(Math.abs(r.decisionSpeedKmh - r.decisionDistanceKm / (40 / 60)) < 0.01);
      assert.equal(r.impossible, true);
      assert.equal(r.from, a);
      assert.equal(r.to, b);
    });

    it('orders the pair by event time, whatever order it is given in', () => {
      const early = at('london', T0);
      const late = at('tokyo', T0 + 40 * MINUTE);
      const r = assessTravel(late, early, RULES);
      assert.equal(r.from, early);
      assert.equal(r.to, late);
      assert.equal(r.elapsedMs, 40 * MINUTE);
      assert.deepEqual(r, assessTravel(early, late, RULES));
    });

    it('London -> New York in 8 hours is possible (about 696 km/h); in 4 hours it is not', () => {
      const km = placeDistanceKm('london', 'newYork');
      const slow = assessTravel(at('london', T0), at('newYork', T0 + 8 * HOUR), RULES);
      assert.ok(slow.decisionSpeedKmh < 1000 && slow.decisionSpeedKmh > 600, String(slow.decisionSpeedKmh));
      assert.equal(slow.impossible, false);
      const fast = assessTravel(at('london', T0), at('newYork', T0 + 4 * HOUR), RULES);
      assert.ok(Math.abs(fast.speedKmh - km / 4) < 0.01);
      assert.equal(fast.impossible, true);
    });

    it('subtracts both accuracy radii from the distance the decision uses, never below 0', () => {
      const km = placeDistanceKm('london', 'paris');
      const r = assessTravel(at('london', T0, { radiusKm: 100 }), at('paris', T0 + MINUTE, { radiusKm: 50 }), RULES);
      assert.ok(Math.abs(r.distanceKm - km) < 0.001);
      assert.ok(Math.abs(r.decisionDistanceKm - (km - 150)) < 0.001);
      const swallowed = assessTravel(at('london', T0, { radiusKm: 1000 }), at('tokyo', T0 + MINUTE, { radiusKm: 9000 }), RULES);
      assert.equal(swallowed.decisionDistanceKm, 0);
      assert.equal(swallowed.decisionSpeedKmh, 0);
      assert.equal(swallowed.impossible, false);
    });

    it('radii can turn an impossible journey into a possible one (1263 km in 10 minutes, 1000 km radius)', () => {
      const tight = assessTravel(at('london', T0), point(40.4172, -3.684, T0 + 10 * MINUTE, 0), RULES);
      assert.equal(tight.impossible, true);
      const wide = assessTravel(at('london', T0), point(40.4172, -3.684, T0 + 10 * MINUTE, 1000), RULES);
      assert.ok(wide.distanceKm > 1200);
      assert.ok(wide.decisionDistanceKm < 500);
      assert.equal(wide.impossible, false);
    });

    it('same second: the elapsed time counts as one second, so any distance over the minimum is impossible', () => {
      const r = assessTravel(at('paris', T0), at('london', T0), { minDistanceKm: 300, maxSpeedKmh: 1000 });
      assert.equal(r.elapsedMs, 0);
      assert.equal(MIN_ELAPSED_MS, 1000);
      assert.ok(Math.abs(r.speedKmh - r.distanceKm * 3600) < 1e-6);
      assert.ok(Number.isFinite(r.speedKmh));
      assert.equal(r.impossible, true);
      const sub = assessTravel(at('paris', T0 + 999), at('london', T0), { minDistanceKm: 300, maxSpeedKmh: 1000 });
      assert.ok(Math.abs(sub.speedKmh - r.speedKmh) < 1e-6, 'under a second is still one second');
    });

    it('same second and same place: not impossible (0 km)', () => {
      const r = assessTravel(at('london', T0), at('london', T0), RULES);
      assert.equal(r.distanceKm, 0);
      assert.equal(r.impossible, false);
    });

    it('the minimum distance is exclusive: 499 km and 500 km in one second are possible, 501 km is not', () => {
      for (const [km, impossible] of [[499, false], [500, false], [501, true]] as const) {
        const r = assessTravel(point(0, 0, T0), point(latForKm(km), 0, T0), RULES);
        assert.ok(Math.abs(r.decisionDistanceKm - km) < 1e-6, `${km}: ${r.decisionDistanceKm}`);
        assert.equal(r.impossible, impossible, `${km} km in one second`);
      }
    });

    it('Paris -> Frankfurt (about 478 km) in one minute is below the minimum distance: possible', () => {
      const r = assessTravel(at('paris', T0), at('frankfurt', T0 + MINUTE), RULES);
      assert.ok(r.distanceKm > 470 && r.distanceKm < 500, String(r.distanceKm));
      assert.ok(r.speedKmh > 1000);
      assert.equal(r.impossible, false);
      assert.equal(assessTravel(at('paris', T0), at('frankfurt', T0 + MINUTE), { minDistanceKm: 400, maxSpeedKmh: 1000 }).impossible, true);
    });

    it('the speed limit is exclusive: exactly 1000 km/h is possible, faster is not', () => {
      const km = 1000;
      const a = point(0, 0, T0);
      const exactly = assessTravel(a, point(latForKm(km), 0, T0 + HOUR), RULES);
      assert.ok(Math.abs(exactly.decisionSpeedKmh - 1000) < 1e-6);
      assert.equal(exactly.decisionSpeedKmh > 1000, false, 'floating point must not push it over');
      assert.equal(exactly.impossible, false);
      assert.equal(assessTravel(a, point(latForKm(km), 0, T0 + HOUR - 60_000), RULES).impossible, true);
    });
  });

  describe('upperBound', () => {
    const h = [T0, T0 + 10, T0 + 10, T0 + 10, T0 + 20].map((t) => at('london', t));
    it('is the index of the first sighting strictly later', () => {
      assert.equal(upperBound([], T0), 0);
      assert.equal(upperBound(h, T0 - 1), 0);
      assert.equal(upperBound(h, T0), 1);
      assert.equal(upperBound(h, T0 + 5), 1);
      assert.equal(upperBound(h, T0 + 10), 4, 'after every equal one');
      assert.equal(upperBound(h, T0 + 20), 5);
      assert.equal(upperBound(h, T0 + 99), 5);
    });

    it('agrees with a linear count on every sorted history of up to 7 sightings over 4 times', () => {
      const times = [T0, T0 + 10, T0 + 20, T0 + 30];
      const histories: number[][] = [[]];
      for (let length = 1; length <= 7; length++) {
        for (const shorter of histories.filter((x) => x.length === length - 1)) {
          for (const t of times) if (shorter.length === 0 || t >= shorter[shorter.length - 1]!) histories.push([...shorter, t]);
        }
      }
      for (const history of histories) {
        const sightings = history.map((t) => at('london', t));
        for (const t of [T0 - 1, ...times, T0 + 15, T0 + 99]) {
          assert.equal(upperBound(sightings, t), history.filter((x) => x <= t).length, `${history.map((x) => x - T0)} at ${t - T0}`);
        }
      }
    });
  });

  describe('sameEvent and neighbours', () => {
    it('sameEvent: same second and event id; without ids, same second and address', () => {
      const a = at('london', T0, { eventId: 'e1', ip: '81.2.69.1' });
      assert.equal(sameEvent(a, at('london', T0, { eventId: 'e1', ip: '81.2.69.2' })), true);
      assert.equal(sameEvent(a, at('london', T0, { eventId: 'e2', ip: '81.2.69.1' })), false);
      assert.equal(sameEvent(a, at('london', T0 + 1000, { eventId: 'e1' })), false);
      assert.equal(sameEvent(a, at('london', T0, { eventId: null, ip: '81.2.69.1' })), false, 'one id, one none: different');
      const n1 = at('london', T0, { eventId: null, ip: '81.2.69.1' });
      assert.equal(sameEvent(n1, at('tokyo', T0, { eventId: null, ip: '81.2.69.1' })), true);
      assert.equal(sameEvent(n1, at('london', T0, { eventId: null, ip: '81.2.69.9' })), false);
    });

    const history = [at('london', T0), at('paris', T0 + 10 * MINUTE), at('tokyo', T0 + 20 * MINUTE)];

    it('finds the chronological neighbours of a new sighting', () => {
      assert.deepEqual(neighbours(history, at('sydney', T0 + 15 * MINUTE)), { before: history[1], after: history[2], insertAt: 2 });
      assert.deepEqual(neighbours(history, at('sydney', T0 - MINUTE)), { before: undefined, after: history[0], insertAt: 0 });
      assert.deepEqual(neighbours(history, at('sydney', T0 + HOUR)), { before: history[2], after: undefined, insertAt: 3 });
      assert.deepEqual(neighbours([], at('sydney', T0)), { before: undefined, after: undefined, insertAt: 0 });
    });

    it('a different event in the same second goes after the ones already there', () => {
      const n = neighbours(history, at('sydney', T0 + 10 * MINUTE));
      assert.deepEqual(n, { before: history[1], after: history[2], insertAt: 2 });
    });

    it('a replayed event is detected (insertAt -1) and its neighbours exclude itself', () => {
      const replay = { ...history[1]! };
      assert.deepEqual(neighbours(history, replay), { before: history[0], after: history[2], insertAt: -1 });
      assert.deepEqual(neighbours(history, { ...history[0]! }), { before: undefined, after: history[1], insertAt: -1 });
      assert.deepEqual(neighbours(history, { ...history[2]! }), { before: history[1], after: undefined, insertAt: -1 });
    });

    it('a replay is found among several events of the same second', () => {
      const same = [at('london', T0, { eventId: 'a' }), at('paris', T0, { eventId: 'b' }), at('tokyo', T0, { eventId: 'c' })];
      assert.deepEqual(neighbours(same, at('paris', T0, { eventId: 'b' })), { before: same[0], after: same[2], insertAt: -1 });
      assert.deepEqual(neighbours(same, at('paris', T0, { eventId: 'd' })), { before: same[2], after: undefined, insertAt: 3 });
    });
  });

  describe('insertSighting', () => {
    const LIMITS = { maxLocations: 16, maxAgeMs: 24 * HOUR };

    function build(...sightings: Sighting[]): Sighting[] {
      const h: Sighting[] = [];
      for (const s of sightings) insertSighting(h, s, neighbours(h, s).insertAt, LIMITS);
      return h;
    }

    it('keeps the history in event-time order whatever the arrival order', () => {
      const h = build(at('tokyo', T0 + 20 * MINUTE), at('london', T0), at('paris', T0 + 10 * MINUTE), at('sydney', T0 + 5 * MINUTE));
      assert.deepEqual(places(h), ['London@0', 'Sydney@5', 'Paris@10', 'Tokyo@20']);
    });

    it('keeps a run at one place as its first and last sighting', () => {
      const h = build(...[0, 1, 2, 3, 4, 5].map((m) => at('london', T0 + m * MINUTE)));
      assert.deepEqual(places(h), ['London@0', 'London@5']);
      const h2 = build(at('tokyo', T0), ...[1, 2, 3].map((m) => at('london', T0 + m * MINUTE)), at('tokyo', T0 + 9 * MINUTE));
      assert.deepEqual(places(h2), ['Tokyo@0', 'London@1', 'London@3', 'Tokyo@9']);
    });

    it('a late sighting before a run starts the run earlier instead of growing it', () => {
      const h = build(at('london', T0 + 10 * MINUTE), at('london', T0 + 20 * MINUTE), at('london', T0 + 5 * MINUTE));
      assert.deepEqual(places(h), ['London@5', 'London@20']);
    });

    it('a late sighting from elsewhere inside a run splits it', () => {
      const h = build(at('london', T0), at('london', T0 + 20 * MINUTE), at('tokyo', T0 + 10 * MINUTE));
      assert.deepEqual(places(h), ['London@0', 'Tokyo@10', 'London@20']);
    });

    it('a steady key costs at most three entries however many late events arrive', () => {
      const h: Sighting[] = [];
      for (const m of [0, 100, 50, 25, 75, 10, 90, 60, 30]) {
        const s = at('london', T0 + m * MINUTE);
        insertSighting(h, s, neighbours(h, s).insertAt, LIMITS);
        assert.ok(h.length <= 3, `after ${m}: ${places(h).join(' ')}`);
      }
      assert.equal(h[0]!.atMs, T0);
      assert.equal(h.at(-1)!.atMs, T0 + 100 * MINUTE);
    });

    it('insertAt -1 (a replay) changes nothing', () => {
      const h = build(at('london', T0), at('tokyo', T0 + MINUTE));
      const before = [...h];
      insertSighting(h, at('paris', T0 + 30 * MINUTE), -1, LIMITS);
      assert.deepEqual(h, before);
    });

    it('drops sightings older than maxAgeMs before the newest', () => {
      const limits = { maxLocations: 16, maxAgeMs: HOUR };
      const h: Sighting[] = [];
      for (const [place, m] of [['london', 0], ['paris', 30], ['tokyo', 61], ['sydney', 95]] as [PlaceName, number][]) {
        const s = at(place, T0 + m * MINUTE);
        insertSighting(h, s, neighbours(h, s).insertAt, limits);
      }
      assert.deepEqual(places(h), ['Tokyo@61', 'Sydney@95'], 'London@0 and Paris@30 are over an hour older than Sydney@95');
    });

    it('keeps the newest sighting even when everything is old', () => {
      const h: Sighting[] = [];
      const s = at('london', T0);
      insertSighting(h, s, 0, { maxLocations: 2, maxAgeMs: 0 });
      assert.deepEqual(places(h), ['London@0']);
    });

    it('keeps at most maxLocations sightings, dropping the oldest', () => {
      const limits = { maxLocations: 3, maxAgeMs: 24 * HOUR };
      const h: Sighting[] = [];
      const order: PlaceName[] = ['london', 'paris', 'tokyo', 'sydney', 'newYork'];
      order.forEach((place, i) => {
        const s = at(place, T0 + i * MINUTE);
        insertSighting(h, s, neighbours(h, s).insertAt, limits);
      });
      assert.deepEqual(places(h), ['Tokyo@2', 'Sydney@3', 'New York@4']);
    });
  });
});
