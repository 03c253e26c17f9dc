import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlertProcessor, TYPE, alertId, buildAlert } from '../../processors/alert.js';
import { humanDuration } from '../../processors/geo-math.js';
import { RULE, THREAT } from '../../processors/rule.js';
import { assessTravel, type Sighting } from '../../processors/travel.js';
import { getPath, type Context, type Doc } from '../../processors/types.js';
import { ConfigError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import { ACCOUNT, IP, MINUTE, PLACES, T0, cloudTrailRecord, placeDistanceKm, placeGeo, testPipeline, type PlaceName, type RecordSpec } from '../support/geo-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SHARED = resolve(REPO, '..', 'shared');
const RULE_PAGE = join(SHARED, 'seed', 'impossible-travel-rule.txt');

const KEY = 'AKIAALERTTEST00001';
const RULES = { minDistanceKm: 500, maxSpeedKmh: 1000, cloudtrailIndexPattern: 'cloudtrail-*' };

function sighting(place: PlaceName, atMs: number, eventId: string | undefined, ip = '198.18.0.1'): Sighting {
  return { atMs, ip, eventId, geo: placeGeo(place) };
}

/** London then Tokyo 40 minutes later through the whole pipeline; the one alert and the two documents. */
async function londonTokyo(spec: Partial<RecordSpec> = {}) {
  const records = [
    cloudTrailRecord({ key: KEY, ip: IP.london, at: T0, region: 'eu-west-2', ...spec }),
    cloudTrailRecord({ key: KEY, ip: IP.tokyo, at: T0 + 40 * MINUTE, region: 'ap-northeast-1', ...spec }),
  ];
  const result = await testPipeline().run(records);
  assert.equal(result.alerts.length, 1);
  return { alert: result.alerts[0]!, docs: result.docs as Doc[], records };
}

describe('processors/alert', () => {
  describe('the alert document', () => {
    it('carries the journey under impossible_travel, with the rule page field names', async () => {
      const { alert, records } = await londonTokyo();
      const km = placeDistanceKm('london', 'tokyo');
      const minKm = km - PLACES.london.radiusKm - PLACES.tokyo.radiusKm;
      const travel = alert.impossible_travel as Doc;
      assert.equal(travel.alert_id, (alert.event as Doc).id);
      assert.deepEqual(travel.thresholds, { min_distance_km: 500, max_speed_kmh: 1000 });
      assert.deepEqual(travel.triggering_locations, {
        first_location: {
          ip: IP.london,
          city: 'London',
          region: 'England',
          country: 'United Kingdom',
          country_iso_code: 'GB',
          location: { lat: PLACES.london.lat, lon: PLACES.london.lon },
          accuracy_radius_km: PLACES.london.radiusKm,
          timestamp: new Date(T0).toISOString(),
          event_id: records[0]!.eventID,
        },
        second_location: {
          ip: IP.tokyo,
          city: 'Tokyo',
          region: 'Tokyo',
          country: 'Japan',
          country_iso_code: 'JP',
          location: { lat: PLACES.tokyo.lat, lon: PLACES.tokyo.lon },
          accuracy_radius_km: PLACES.tokyo.radiusKm,
          timestamp: new Date(T0 + 40 * MINUTE).toISOString(),
          event_id: records[1]!.eventID,
        },
        travel_distance: Math.round(km),
        travel_distance_min: Math.round(minKm),
        travel_time_seconds: 2400,
        travel_time_human_readable: '40 minutes',
        travel_speed: Math.round(km / (40 / 60)),
        travel_speed_min: Math.round(minKm / (40 / 60)),
      });
    });

    it('is an ECS alert event at the time of the second sighting, with the identity and cloud fields', async () => {
      const { alert } = await londonTokyo();
      assert.equal(alert['@timestamp'], new Date(T0 + 40 * MINUTE).toISOString());
      const event = alert.event as Doc;
      assert.equal(event.kind, 'alert');
      assert.deepEqual(event.category, ['iam']);
      assert.deepEqual(event.type, ['info']);
      assert.match(String(event.id), /^[0-9a-f]{40}$/);
      assert.ok(Number.isFinite(Date.parse(String(event.created))));
      assert.deepEqual(alert.userIdentity, {
        accessKeyId: KEY,
        type: 'IAMUser',
        session_name: 'alice',
        arn: `arn:aws:iam::${ACCOUNT}:user/alice`,
        accountId: ACCOUNT,
        principalId: (cloudTrailRecord({ key: KEY, ip: IP.tokyo, at: T0 }).userIdentity as Doc).principalId,
      });
      assert.deepEqual(alert.cloud, { provider: 'aws', account: { id: ACCOUNT }, region: 'ap-northeast-1' });
    });

    it('carries the rule metadata: severity, risk score, MITRE ATT&CK T1078.004', async () => {
      const { alert } = await londonTokyo();
      assert.equal(alert.severity, 'high');
      assert.equal(alert.risk_score, 73);
      assert.deepEqual(alert.rule, { ...RULE });
      assert.equal((alert.rule as Doc).id, 'aws-cloudtrail-impossible-travel');
      assert.deepEqual(alert.threat, THREAT);
      assert.equal(getPath(alert, ['threat', 'framework']), 'MITRE ATT&CK');
      assert.deepEqual(getPath(alert, ['threat', 'technique', 'id']), ['T1078']);
      assert.deepEqual(getPath(alert, ['threat', 'technique', 'subtechnique', 'id']), ['T1078.004']);
      assert.deepEqual(getPath(alert, ['threat', 'technique', 'subtechnique', 'name']), ['Cloud Accounts']);
      assert.ok((getPath(alert, ['threat', 'tactic', 'id']) as string[]).includes('TA0001'), 'Initial Access');
      assert.ok((RULE.references as readonly string[]).includes('https://attack.mitre.org/techniques/T1078/004/'));
    });

    it('the message names the key and session, both cities and countries, the distance and the time', async () => {
      const { alert } = await londonTokyo();
      const message = String(alert.message);
      const km = Math.round(placeDistanceKm('london', 'tokyo')).toLocaleString('en-US');
      assert.ok(message.includes(`${KEY} (alice)`), message);
      assert.ok(message.includes('London, United Kingdom'), message);
      assert.ok(message.includes('Tokyo, Japan'), message);
      assert.ok(message.includes(`${km} km`), `${km} km in: ${message}`);
      assert.ok(message.includes('40 minutes later'), message);
      assert.ok(message.indexOf('London') < message.indexOf('Tokyo'), 'in the order travelled');
    });

    it('the triage steps name the key, the places and the search to run', async () => {
      const { alert } = await londonTokyo();
      const triage = alert.triage as string[];
      assert.equal(triage.length, 3);
      assert.ok(triage[0]!.includes('London, United Kingdom') && triage[0]!.includes('Tokyo, Japan'));
      assert.ok(triage[2]!.includes(`userIdentity.accessKeyId:"${KEY}"`));
    });

    it('a place without a city or country is named as unknown, never "undefined"', () => {
      const a = sighting('london', T0, 'e1');
      const b: Sighting = { ...sighting('tokyo', T0 + MINUTE, 'e2'), geo: { ...sighting('tokyo', 0, 'x').geo, cityName: undefined, countryName: undefined } };
      const alert = buildAlert(cloudTrailRecord({ key: KEY, ip: IP.tokyo, at: T0 }), KEY, assessTravel(a, b, RULES), RULES);
      assert.ok(String(alert.message).includes('an unknown city'));
      assert.ok(!String(alert.message).includes('undefined'));
      assert.equal(getPath(alert, ['impossible_travel', 'triggering_locations', 'second_location', 'city']), null);
    });
  });

  describe('alert id', () => {
    const a = sighting('london', T0, 'e-london');
    const b = sighting('tokyo', T0 + 40 * MINUTE, 'e-tokyo');

    it('is deterministic: the same key and pair of events give the same id, whatever the order judged', () => {
      const id = alertId(KEY, assessTravel(a, b, RULES));
      assert.match(id, /^[0-9a-f]{40}$/);
      assert.equal(alertId(KEY, assessTravel(b, a, RULES)), id);
      assert.equal(alertId(KEY, assessTravel({ ...a }, { ...b }, RULES)), id);
    });

    it('differs for another key or another event', () => {
      const id = alertId(KEY, assessTravel(a, b, RULES));
      assert.notEqual(alertId('AKIAANOTHERKEY0001', assessTravel(a, b, RULES)), id);
      assert.notEqual(alertId(KEY, assessTravel(a, sighting('tokyo', T0 + 40 * MINUTE, 'e-other'), RULES)), id);
    });

    it('without event ids, falls back on address and time', () => {
      const x = sighting('london', T0, undefined, '81.2.69.1');
      const y = sighting('tokyo', T0 + MINUTE, undefined, '1.0.16.1');
      const id = alertId(KEY, assessTravel(x, y, RULES));
      assert.equal(alertId(KEY, assessTravel({ ...x }, { ...y }, RULES)), id);
      assert.notEqual(alertId(KEY, assessTravel({ ...x, ip: '81.2.69.2' }, y, RULES)), id);
      assert.notEqual(alertId(KEY, assessTravel({ ...x, atMs: T0 + 1000 }, y, RULES)), id);
    });
  });

  describe('the processor', () => {
    it('marks the triggering document with the same impossible_travel object as the alert', async () => {
      const { alert, docs } = await londonTokyo();
      assert.equal(docs[0]!.impossible_travel, undefined, 'the first event did not trigger anything');
      assert.deepEqual(docs[1]!.impossible_travel, alert.impossible_travel);
    });

    it('a document that closes two journeys emits two alerts and shows the faster one', async () => {
      const t = testPipeline();
      await t.run([cloudTrailRecord({ key: KEY, ip: IP.london, at: T0 }), cloudTrailRecord({ key: KEY, ip: IP.sydney, at: T0 + 30 * MINUTE })]);
      const late = await t.run([cloudTrailRecord({ key: KEY, ip: IP.tokyo, at: T0 + 15 * MINUTE })]);
      assert.equal(late.alerts.length, 2);
      const speeds = late.alerts.map((x) => getPath(x, ['impossible_travel', 'triggering_locations', 'travel_speed']) as number);
      const fastest = late.alerts[speeds.indexOf(Math.max(...speeds))]!;
      assert.equal(placeDistanceKm('london', 'tokyo') > placeDistanceKm('tokyo', 'sydney'), true, 'London-Tokyo is the faster leg');
      assert.deepEqual((late.docs[0] as Doc).impossible_travel, fastest.impossible_travel);
      assert.equal(getPath(fastest, ['impossible_travel', 'triggering_locations', 'first_location', 'city']), 'London');
    });

    it('does nothing without a journey or a key', () => {
      const p = new AlertProcessor(RULES);
      const emitted: Doc[] = [];
      const doc = cloudTrailRecord({ key: KEY, ip: IP.london, at: T0 });
      const before = structuredClone(doc);
      const ctx: Context = { batch: {}, facts: { accessKeyId: KEY, travel: [] }, log: silentLogger(), emit: (x) => emitted.push(x) };
      assert.equal(p.process(doc, ctx), doc);
      const noKey: Context = { batch: {}, facts: { travel: [assessTravel(sighting('london', T0, 'a'), sighting('tokyo', T0 + MINUTE, 'b'), RULES)] }, log: silentLogger(), emit: (x) => emitted.push(x) };
      p.process(doc, noKey);
      assert.deepEqual(emitted, []);
      assert.deepEqual(doc, before);
    });

    it('has its type, and rejects an unknown option naming processor, tag and property', () => {
      assert.equal(new AlertProcessor(RULES).type, TYPE);
      assert.equal(TYPE, 'alert');
      assert.throws(
        () => new AlertProcessor({ ...RULES, tag: 'a-1', severity: 'low' } as unknown as ConstructorParameters<typeof AlertProcessor>[0]),
        (err: unknown) => err instanceof ConfigError && err.setting === '[alert][a-1] severity' && /unknown property/.test(err.message),
      );
    });
  });

  describe('the rule page template (shared/seed/impossible-travel-rule.txt)', () => {
    /** Replaces every {{@a.b.c}} with the value at that path; records what each placeholder became. */
    function render(template: string, alert: Doc): { text: string; values: Map<string, unknown> } {
      const values = new Map<string, unknown>();
      const text = template.replace(/\{\{@([^}]+)\}\}/g, (_m, path: string) => {
        const value = getPath(alert, path.trim().split('.'));
        values.set(path.trim(), value);
        return value === undefined || value === null ? '' : String(value);
      });
      return { text, values };
    }

    for (const [label, spec] of [
      ['IAMUser', { type: 'IAMUser', user: 'alice' }],
      ['AssumedRole (SSO session)', { type: 'AssumedRole', role: 'AWSReservedSSO_Admin_0123', session: 'jane.doe@example.com', key: 'ASIATEMPSESSION001' }],
      ['Root', { type: 'Root' }],
      ['FederatedUser', { type: 'FederatedUser', user: 'bob' }],
    ] as const) {
      it(`every placeholder resolves to a non-empty value for an ${label} alert`, async function () {
        if (!existsSync(RULE_PAGE)) {
          console.log(`      (skipped: ${RULE_PAGE} is missing; the rule page lives in the shared folder beside the repo, not in it)`);
          this.skip();
        }
        const template = readFileSync(RULE_PAGE, 'utf8');
        const { alert } = await londonTokyo(spec);
        const { text, values } = render(template, alert);
        assert.ok(values.size >= 7, `the page has placeholders (found ${[...values.keys()].join(', ')})`);
        for (const [path, value] of values) {
          assert.ok(value !== undefined && value !== null && String(value).length > 0, `{{@${path}}} resolved to ${JSON.stringify(value)}`);
          assert.ok(typeof value !== 'object', `{{@${path}}} is an object, not a value to print`);
        }
        assert.ok(!/\{\{/.test(text), 'nothing left unrendered');
        const accessKeyId = getPath(alert, ['userIdentity', 'accessKeyId']);
        const km = Math.round(placeDistanceKm('london', 'tokyo'));
        assert.ok(
          text.includes(
            `@userIdentity.accessKeyId: ${accessKeyId} had activity from London, United Kingdom and Tokyo, Japan which are approximately ${km}km apart within ${humanDuration(40 * MINUTE)}.`,
          ),
          text.slice(0, 800),
        );
        assert.ok(text.includes(`@userIdentity.type: ${spec.type} uses`));
      });
    }
  });
});
