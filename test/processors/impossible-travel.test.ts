import assert from 'node:assert/strict';
import { alertId } from '../../processors/alert.js';
import { ImpossibleTravel, TYPE, placePairKey, type ImpossibleTravelOptions } from '../../processors/impossible-travel.js';
import { MemoryStateStore } from '../../processors/state.js';
import type { Doc } from '../../processors/types.js';
import { ConfigError } from '../../server/errors.js';
import {
  ACCOUNT,
  DAY,
  DEFAULT_DETECTION,
  HOUR,
  IP,
  MINUTE,
  NON_PUBLIC,
  PLACES,
  T0,
  cloudTrailRecord,
  testPipeline,
  type RecordSpec,
} from '../support/geo-fixture.js';

const KEY = 'AKIAIMPOSSIBLE0001';

/** A record of KEY at `minutes` after T0. */
const ev = (ip: string, minutes: number, spec: Partial<RecordSpec> = {}): Doc => cloudTrailRecord({ key: KEY, ip, at: T0 + minutes * MINUTE, ...spec });

type Loc = { city: string | null; country: string | null };
const pairOf = (alert: Doc): [string | null, string | null] => {
  const t = (alert.impossible_travel as { triggering_locations: { first_location: Loc; second_location: Loc } }).triggering_locations;
  return [t.first_location.city, t.second_location.city];
};

describe('processors/impossible-travel', () => {
  describe('the standard case works (the control for every "no alert" below)', () => {
    it('London then Tokyo 40 minutes later, IAMUser key: one alert', async () => {
      const { alerts } = await testPipeline().run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.equal(alerts.length, 1);
      assert.deepEqual(pairOf(alerts[0]!), ['London', 'Tokyo']);
    });
  });

  describe('scope: what never takes part in travel', () => {
    it('AWSService identities, even with a key on the record', async () => {
      const t = testPipeline();
      const { alerts, docs } = await t.run([ev(IP.london, 0, { type: 'AWSService' }), ev(IP.tokyo, 10, { type: 'AWSService' })]);
      assert.equal(alerts.length, 0);
      assert.equal(t.store.getKey(KEY), undefined, 'no history is kept for the key');
      assert.equal(((docs[1] as Doc).source as Doc).geo !== undefined, true, 'the events were located all the same');
    });

    it('records without an access key', async () => {
      const t = testPipeline();
      const { alerts } = await t.run([
        cloudTrailRecord({ ip: IP.london, at: T0 }),
        cloudTrailRecord({ ip: IP.tokyo, at: T0 + 10 * MINUTE }),
        cloudTrailRecord({ key: '', ip: IP.sydney, at: T0 + 20 * MINUTE }),
      ]);
      assert.equal(alerts.length, 0);
      assert.equal(t.store.stats().keys, 0);
    });

    it('an address the database does not locate, and a country without coordinates', async () => {
      const t = testPipeline();
      const { alerts } = await t.run([ev(IP.london, 0), ev(IP.unknown, 5), ev(IP.countryNoLocation, 10)]);
      assert.equal(alerts.length, 0);
      assert.deepEqual(t.store.getKey(KEY)?.history.map((s) => s.ip), [IP.london]);
    });

    for (const { range, ip, place } of NON_PUBLIC) {
      it(`${range} (${ip}), although the database puts it in ${PLACES[place].city}`, async () => {
        const t = testPipeline();
        const { alerts, docs } = await t.run([ev(IP.london, 0), ev(ip, 10), ev(IP.london2, 20)]);
        assert.equal((((docs[1] as Doc).source as Doc).geo as Doc).city_name, PLACES[place].city, 'located, so only the range rule stops it');
        assert.equal(alerts.length, 0);
        assert.deepEqual(t.store.getKey(KEY)?.history.map((s) => s.ip), [IP.london, IP.london2]);
      });
    }

    it('events without a usable time', async () => {
      const { alerts } = await testPipeline().run([ev(IP.london, 0), ev(IP.tokyo, 10, { extra: { eventTime: 'not a time' } })]);
      assert.equal(alerts.length, 0);
    });
  });

  describe('allowlists', () => {
    it('ALLOW_CIDRS: an address in an allowed network never travels', async () => {
      const allowed = await testPipeline({ allowCidrs: ['1.0.16.0/20'] }).run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.equal(allowed.alerts.length, 0);
      const other = await testPipeline({ allowCidrs: ['1.0.32.0/20', '2400:4050::/32'] }).run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.equal(other.alerts.length, 1, 'a neighbouring network is not allowed');
    });

    it('ALLOW_CIDRS: IPv6 networks and single addresses', async () => {
      assert.equal((await testPipeline({ allowCidrs: ['2400:4050::/32'] }).run([ev(IP.london, 0), ev(IP.tokyoV6, 40)])).alerts.length, 0);
      assert.equal((await testPipeline({ allowCidrs: [IP.tokyo] }).run([ev(IP.london, 0), ev(IP.tokyo, 40)])).alerts.length, 0);
      assert.equal((await testPipeline({ allowCidrs: [IP.tokyo] }).run([ev(IP.london, 0), ev('1.0.16.6', 40)])).alerts.length, 1);
    });

    it('ALLOW_PRINCIPALS: `*` matches any run of characters, the rest is literal', async () => {
      const allow = { allowPrincipals: [`arn:aws:iam::*:user/ci-*`, 'arn:aws:sts::*:assumed-role/Scanner/*'] };
      const ci = await testPipeline(allow).run([ev(IP.london, 0, { user: 'ci-runner' }), ev(IP.tokyo, 40, { user: 'ci-runner' })]);
      assert.equal(ci.alerts.length, 0);
      const role = await testPipeline(allow).run([
        ev(IP.london, 0, { type: 'AssumedRole', role: 'Scanner', session: 'a@b.c' }),
        ev(IP.tokyo, 40, { type: 'AssumedRole', role: 'Scanner', session: 'a@b.c' }),
      ]);
      assert.equal(role.alerts.length, 0);
      const alice = await testPipeline(allow).run([ev(IP.london, 0, { user: 'alice' }), ev(IP.tokyo, 40, { user: 'alice' })]);
      assert.equal(alice.alerts.length, 1, 'alice is not allowed');
      const dots = await testPipeline({ allowPrincipals: [`arn:aws:iam::${ACCOUNT}:user/ci.runner`] }).run([
        ev(IP.london, 0, { user: 'ciXrunner' }),
        ev(IP.tokyo, 40, { user: 'ciXrunner' }),
      ]);
      assert.equal(dots.alerts.length, 1, "'.' is literal, not any character");
    });

    it('ALLOW_ACCESS_KEYS: an allowed key never travels; others do', async () => {
      const t = testPipeline({ allowAccessKeys: [KEY] });
      const { alerts } = await t.run([
        ev(IP.london, 0),
        ev(IP.tokyo, 40),
        cloudTrailRecord({ key: 'AKIAOTHER00000001', ip: IP.london, at: T0 }),
        cloudTrailRecord({ key: 'AKIAOTHER00000001', ip: IP.tokyo, at: T0 + 40 * MINUTE }),
      ]);
      assert.equal(alerts.length, 1);
      assert.equal((alerts[0]!.userIdentity as Doc).accessKeyId, 'AKIAOTHER00000001');
    });
  });

  describe('suppression: one alert per key and unordered pair of places within the window', () => {
    it('the way back (Tokyo -> London) within the window is the same pair: no second alert', async () => {
      const t = testPipeline();
      const first = await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.equal(first.alerts.length, 1);
      const back = await t.run([ev(IP.london2, 100)]);
      assert.equal(back.alerts.length, 0);
      const again = await t.run([ev(IP.tokyo, 140)]);
      assert.equal(again.alerts.length, 0);
    });

    it('a different pair alerts within the window', async () => {
      const t = testPipeline();
      await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      const { alerts } = await t.run([ev(IP.sydney, 70)]);
      assert.equal(alerts.length, 1);
      assert.deepEqual(pairOf(alerts[0]!), ['Tokyo', 'Sydney']);
    });

    it('the same pair alerts again once the window has passed', async () => {
      const t = testPipeline({ suppressionWindowMs: 6 * HOUR });
      assert.equal((await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)])).alerts.length, 1);
      assert.equal((await t.run([ev(IP.london2, 5 * 60), ev(IP.tokyo, 5 * 60 + 40)])).alerts.length, 0, '5 hours later: suppressed');
      const later = await t.run([ev(IP.london, 7 * 60), ev(IP.tokyo, 7 * 60 + 40)]);
      assert.equal(later.alerts.length, 1, '7 hours after the first alert: one new alert, then suppression again');
      // Tokyo@5h40 -> London@7h is the first journey of the pair outside the window of the alert at 0h40.
      assert.deepEqual(pairOf(later.alerts[0]!), ['Tokyo', 'London']);
    });

    it('suppression is per key: another key alerts for the same pair', async () => {
      const t = testPipeline();
      await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      const other = await t.run([
        cloudTrailRecord({ key: 'AKIAOTHER00000002', ip: IP.london, at: T0 }),
        cloudTrailRecord({ key: 'AKIAOTHER00000002', ip: IP.tokyo, at: T0 + 40 * MINUTE }),
      ]);
      assert.equal(other.alerts.length, 1);
    });

    it('a window of 0 suppresses nothing', async () => {
      const t = testPipeline({ suppressionWindowMs: 0 });
      const { alerts } = await t.run([ev(IP.london, 0), ev(IP.tokyo, 40), ev(IP.london2, 100)]);
      assert.equal(alerts.length, 2);
    });

    it('placePairKey is the same whatever the order of the two places', () => {
      assert.equal(placePairKey('GB|England|London', 'JP|Tokyo|Tokyo'), placePairKey('JP|Tokyo|Tokyo', 'GB|England|London'));
      assert.notEqual(placePairKey('a', 'bc'), placePairKey('ab', 'c'));
    });
  });

  describe('baseline (BASELINE_LEARNING_DAYS)', () => {
    it('no alerts while learning; known places stay quiet afterwards; a new place alerts', async () => {
      const t = testPipeline({ baselineLearningDays: 1 });
      const learning = await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.equal(learning.alerts.length, 0, 'day 1 is the learning period');
      const known = await t.run([ev(IP.london, 2 * 24 * 60), ev(IP.tokyo, 2 * 24 * 60 + 40)]);
      assert.equal(known.alerts.length, 0, 'London and Tokyo were learned');
      const fresh = await t.run([ev(IP.sydney, 2 * 24 * 60 + 70)]);
      assert.equal(fresh.alerts.length, 1, 'Sydney is new');
      assert.deepEqual(pairOf(fresh.alerts[0]!), ['Tokyo', 'Sydney']);
      assert.deepEqual(t.store.getPrincipal(`arn:aws:iam::${ACCOUNT}:user/alice`)?.places, ['GB|England|London', 'JP|Tokyo|Tokyo']);
    });

    it('the same events alert without the baseline (control)', async () => {
      const t = testPipeline({ baselineLearningDays: 0 });
      assert.equal((await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)])).alerts.length, 1);
      assert.equal((await t.run([ev(IP.london, 2 * 24 * 60), ev(IP.tokyo, 2 * 24 * 60 + 40)])).alerts.length, 1);
    });

    it('the baseline belongs to the principal, across its temporary keys', async () => {
      const t = testPipeline({ baselineLearningDays: 1 });
      const role = { type: 'AssumedRole' as const, role: 'Dev', session: 'jane@example.com' };
      await t.run([
        cloudTrailRecord({ key: 'ASIAFIRSTSESSION01', ip: IP.london, at: T0, ...role }),
        cloudTrailRecord({ key: 'ASIAFIRSTSESSION01', ip: IP.tokyo, at: T0 + 3 * HOUR, ...role }),
      ]);
      const next = await t.run([
        cloudTrailRecord({ key: 'ASIASECONDSESSION2', ip: IP.tokyo, at: T0 + 2 * DAY, ...role }),
        cloudTrailRecord({ key: 'ASIASECONDSESSION2', ip: IP.london, at: T0 + 2 * DAY + 40 * MINUTE, ...role }),
      ]);
      assert.equal(next.alerts.length, 0);
    });

    it('a place first seen after the learning period is not learned', async () => {
      const t = testPipeline({ baselineLearningDays: 1 });
      await t.run([ev(IP.london, 0)]);
      await t.run([ev(IP.sydney, 3 * 24 * 60)]);
      assert.deepEqual(t.store.getPrincipal(`arn:aws:iam::${ACCOUNT}:user/alice`)?.places, ['GB|England|London']);
    });
  });

  describe('options', () => {
    const base = (): ImpossibleTravelOptions => ({ ...DEFAULT_DETECTION, store: new MemoryStateStore({ maxKeys: 10, maxPrincipals: 10 }) });

    function rejects(options: ImpossibleTravelOptions, setting: string, message: RegExp): void {
      assert.throws(
        () => new ImpossibleTravel(options, alertId),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
          assert.equal(err.setting, setting);
          assert.match(err.message, message);
          return true;
        },
      );
    }

    it('has its type and default tag', () => {
      const p = new ImpossibleTravel(base(), alertId);
      assert.equal(p.type, TYPE);
      assert.equal(p.tag, 'impossible-travel');
    });

    it('rejects an unknown key, naming processor, tag and property', () => {
      rejects({ ...base(), tag: 'it-1', maxSpeedKph: 900 } as unknown as ImpossibleTravelOptions, '[impossible-travel][it-1] maxSpeedKph', /unknown property/);
    });

    it('rejects bad values, naming the property', () => {
      rejects({ ...base(), maxSpeedKmh: 0 }, '[impossible-travel][impossible-travel] maxSpeedKmh', /must be more than 0/);
      rejects({ ...base(), minDistanceKm: -1 }, '[impossible-travel][impossible-travel] minDistanceKm', /must be 0 or more/);
      rejects({ ...base(), historyMaxLocations: 1 }, '[impossible-travel][impossible-travel] historyMaxLocations', /at least 2/);
      rejects({ ...base(), baselineLearningDays: 0.5 }, '[impossible-travel][impossible-travel] baselineLearningDays', /0 \(off\) or from 1 to 30/);
      rejects({ ...base(), baselineLearningDays: 31 }, '[impossible-travel][impossible-travel] baselineLearningDays', /0 \(off\) or from 1 to 30/);
      rejects({ ...base(), allowCidrs: ['10.0.0.0/8', 'bad'] }, '[impossible-travel][impossible-travel] allowCidrs', /"bad" is not an IPv4 or IPv6 CIDR/);
      rejects({ ...base(), allowCidrs: ['10.0.0.0/33'] }, '[impossible-travel][impossible-travel] allowCidrs', /"10\.0\.0\.0\/33"/);
    });
  });
});
