import assert from 'node:assert/strict';
import { GeoIp, TYPE } from '../../processors/geoip.js';
import { GeoIpDatabase } from '../../processors/geoip-database.js';
import { NormalizeCloudTrail } from '../../processors/normalize-cloudtrail.js';
import { isShared, sharedJson } from '../../processors/shared.js';
import type { Context, Doc, DocFacts } from '../../processors/types.js';
import { ConfigError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import { IP, KENYA_CODE_ONLY, NON_PUBLIC, PLACES, SPAIN_COUNTRY_LEVEL, T0, cityDatabase, cloudTrailRecord, geoFixture } from '../support/geo-fixture.js';

/** normalize-cloudtrail then geoip, as in the pipeline: geoip reads the address normalize validated. */
function enrich(record: Doc, database: GeoIpDatabase = cityDatabase()): { doc: Doc; facts: DocFacts } {
  const ctx: Context = { facts: {}, batch: {}, log: silentLogger(), emit: () => assert.fail('geoip never emits') };
  const normalized = new NormalizeCloudTrail().process(record, ctx);
  const doc = new GeoIp({ database }).process(normalized, ctx);
  return { doc, facts: ctx.facts };
}

const geoOf = (doc: Doc): unknown => (doc.source as Record<string, unknown> | undefined)?.geo;

describe('processors/geoip', () => {
  it('adds source.geo in ECS names for a city the database knows', () => {
    const { doc, facts } = enrich(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 }));
    assert.deepEqual(geoOf(doc), {
      city_name: 'London',
      country_name: 'United Kingdom',
      country_iso_code: 'GB',
      region_name: 'England',
      location: { lat: PLACES.london.lat, lon: PLACES.london.lon },
    });
    assert.equal(facts.geo?.cityName, 'London');
    assert.equal(facts.geo?.accuracyRadiusKm, PLACES.london.radiusKm);
    assert.equal(facts.ipRoutable, true);
  });

  it('enriches an IPv6 address and an IPv4-mapped IPv6 address', () => {
    assert.equal((geoOf(enrich(cloudTrailRecord({ key: 'K', ip: IP.tokyoV6, at: T0 })).doc) as Doc).city_name, 'Tokyo');
    assert.equal((geoOf(enrich(cloudTrailRecord({ key: 'K', ip: `::ffff:${IP.sydney}`, at: T0 })).doc) as Doc).city_name, 'Sydney');
  });

  it('a country-level answer (no city, wide radius) gives country and location only', () => {
    const { doc, facts } = enrich(cloudTrailRecord({ key: 'K', ip: IP.spainWideRadius, at: T0 }));
    assert.deepEqual(geoOf(doc), {
      country_name: 'Spain',
      country_iso_code: 'ES',
      location: { lat: SPAIN_COUNTRY_LEVEL.lat, lon: SPAIN_COUNTRY_LEVEL.lon },
    });
    assert.equal(facts.geo?.accuracyRadiusKm, 1000);
  });

  it('a country without a location gives the country only, and no location fact', () => {
    const { doc, facts } = enrich(cloudTrailRecord({ key: 'K', ip: IP.countryNoLocation, at: T0 }));
    assert.deepEqual(geoOf(doc), { country_name: 'South Africa', country_iso_code: 'ZA' });
    assert.equal(facts.geo?.location, undefined);
  });

  it('a record with only the ISO code gets the country name derived from the code', () => {
    const { doc } = enrich(cloudTrailRecord({ key: 'K', ip: IP.countryCodeOnly, at: T0 }));
    assert.deepEqual(geoOf(doc), {
      country_name: 'Kenya',
      country_iso_code: 'KE',
      location: { lat: KENYA_CODE_ONLY.lat, lon: KENYA_CODE_ONLY.lon },
    });
  });

  it('an address the database does not know leaves the document unchanged (no source.geo, no geo fact)', () => {
    const record = cloudTrailRecord({ key: 'K', ip: IP.unknown, at: T0 });
    const ctx: Context = { facts: {}, batch: {}, log: silentLogger(), emit: () => {} };
    new NormalizeCloudTrail().process(record, ctx);
    const before = structuredClone(record);
    new GeoIp({ database: cityDatabase() }).process(record, ctx);
    assert.deepEqual(record, before);
    assert.equal(ctx.facts.geo, undefined);
    assert.equal(ctx.facts.ipRoutable, true, 'the address is still public, just not located');
  });

  for (const sourceIPAddress of ['AWS Internal', 'ec2.amazonaws.com', '255.090.254.5']) {
    it(`${JSON.stringify(sourceIPAddress)} is never looked up (the reader would read it as 0.0.0.0)`, () => {
      const database = new GeoIpDatabase({ paths: [geoFixture().cityPath], reloadIntervalMs: 0, cacheSize: 0 });
      const { doc, facts } = enrich(cloudTrailRecord({ key: 'K', ip: sourceIPAddress, at: T0 }), database);
      assert.equal(database.lookups, 0);
      assert.equal(geoOf(doc), undefined);
      assert.equal(facts.ipRoutable, undefined);
      database.close();
    });
  }

  it('looks up private and reserved addresses too, but marks them as not usable for travel', () => {
    for (const { ip, place } of NON_PUBLIC) {
      const { doc, facts } = enrich(cloudTrailRecord({ key: 'K', ip, at: T0 }));
      assert.equal((geoOf(doc) as Doc | undefined)?.city_name, PLACES[place].city, `${ip} is located by the test database`);
      assert.equal(facts.ipRoutable, false, `${ip} must not be routable`);
    }
  });

  describe('source: one object for the documents from one address', () => {
    it('documents from one address carry the same object, with what a document of its own would hold', () => {
      const database = cityDatabase();
      const a = enrich(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 }), database).doc;
      const b = enrich(cloudTrailRecord({ key: 'AKIAEXAMPLE0002', ip: IP.london, at: T0 + 60_000 }), database).doc;
      assert.equal(a.source, b.source);
      assert.equal(isShared(a.source as object), true);
      assert.deepEqual(a.source, { address: IP.london, ip: IP.london, geo: geoOf(a) });
      assert.equal(sharedJson(a.source as object), JSON.stringify(a.source));
      const other = enrich(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london2, at: T0 }), database).doc;
      assert.notEqual(other.source, a.source, 'another address of the same city has its own');
      assert.equal(geoOf(other), geoOf(a), 'and shares the place');
    });

    it('an address the database does not place shares one too, without geo', () => {
      const database = cityDatabase();
      const a = enrich(cloudTrailRecord({ key: 'K', ip: IP.unknown, at: T0 }), database).doc;
      const b = enrich(cloudTrailRecord({ key: 'K', ip: IP.unknown, at: T0 + 1000 }), database).doc;
      assert.equal(a.source, b.source);
      assert.deepEqual(a.source, { address: IP.unknown, ip: IP.unknown });
    });

    it('an IPv4-mapped IPv6 address keeps its own spelling, in an object of its own', () => {
      const ip = `::ffff:${IP.sydney}`;
      const { doc } = enrich(cloudTrailRecord({ key: 'K', ip, at: T0 }));
      assert.deepEqual(doc.source, { address: ip, ip, geo: geoOf(doc) });
      assert.equal(isShared(doc.source as object), false);
    });

    it('a record that has a source object keeps it, with the fields added', () => {
      const record = cloudTrailRecord({ key: 'K', ip: IP.paris, at: T0 });
      const own = { port: 443 };
      record.source = own;
      const { doc } = enrich(record);
      assert.equal(doc.source, own);
      assert.deepEqual(Object.keys(own), ['port', 'address', 'ip', 'geo']);
      assert.equal((geoOf(doc) as Doc).city_name, 'Paris');
    });

    it('enriching a document again never changes the object it shares with others', () => {
      const database = cityDatabase();
      const first = enrich(cloudTrailRecord({ key: 'K', ip: IP.london, at: T0 }), database).doc;
      const shared = first.source as Doc;
      const before = structuredClone(shared);
      first.sourceIPAddress = IP.paris;
      const again = enrich(first, database).doc;
      assert.deepEqual(shared, before);
      assert.equal(sharedJson(shared), JSON.stringify(before));
      assert.notEqual(again.source, shared);
      assert.equal((again.source as Doc).address, IP.paris);
      assert.equal((geoOf(again) as Doc).city_name, 'Paris');
    });

    it('a field another processor added to the source before geoip stays', () => {
      const ctx: Context = { facts: {}, batch: {}, log: silentLogger(), emit: () => {} };
      const doc = new NormalizeCloudTrail().process(cloudTrailRecord({ key: 'K', ip: IP.tokyo, at: T0 }), ctx);
      (doc.source as Doc).port = 443;
      new GeoIp({ database: cityDatabase() }).process(doc, ctx);
      assert.equal((doc.source as Doc).port, 443);
      assert.equal((geoOf(doc) as Doc).city_name, 'Tokyo');
      assert.equal(isShared(doc.source as object), false);
    });
  });

  it('has its type, and rejects an unknown option naming processor, tag and property', () => {
    assert.equal(new GeoIp({ database: cityDatabase() }).type, TYPE);
    assert.equal(TYPE, 'geoip');
    const options = { tag: 'geo-1', database: cityDatabase(), targetField: 'client.geo' } as unknown as ConstructorParameters<typeof GeoIp>[0];
    assert.throws(
      () => new GeoIp(options),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.setting === '[geoip][geo-1] targetField' &&
        /^\[geoip\]\[geo-1\] targetField: unknown property \(known: tag, database\)$/.test(err.message),
    );
  });
});
