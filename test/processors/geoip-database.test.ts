import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeoIpDatabase, countryNameFromIso, networkKey, toGeoResult } from '../../processors/geoip-database.js';
import { ipv4Value } from '../../processors/ip-ranges.js';
import { ServiceError } from '../../server/errors.js';
import { writeMmdb } from '../support/mmdb-writer.js';
import {
  DBIP_IP,
  IP,
  PLACES,
  cityEntries,
  dbipRecord,
  geoFixture,
  maxmindCityRecord,
  writeCityDb,
  type PlaceName,
} from '../support/geo-fixture.js';

const open = (paths: string[], cacheSize = 1000): GeoIpDatabase => new GeoIpDatabase({ paths, reloadIntervalMs: 0, cacheSize });

function expectUnavailable(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ServiceError, `expected a ServiceError, got ${String(err)}`);
    assert.equal(err.code, 'geoip_unavailable');
    assert.match(err.message, message);
    return true;
  });
}

describe('processors/geoip-database', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'geoip-db-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('MaxMind GeoIP2/GeoLite2 City schema', () => {
    it('maps a city record onto a GeoResult', () => {
      const db = open([geoFixture().cityPath]);
      assert.deepEqual(db.lookup(IP.paris), {
        cityName: 'Paris',
        countryName: 'France',
        countryIsoCode: 'FR',
        regionName: 'Île-de-France',
        location: { lat: PLACES.paris.lat, lon: PLACES.paris.lon },
        accuracyRadiusKm: PLACES.paris.radiusKm,
        placeKey: 'FR|Île-de-France|Paris',
      });
    });

    it('finds IPv4 addresses stored under ::/96 of an IPv6 tree, and IPv6 addresses', () => {
      const db = open([geoFixture().cityPath]);
      assert.equal(db.lookup(IP.tokyo)?.cityName, 'Tokyo');
      assert.equal(db.lookup(IP.tokyoV6)?.cityName, 'Tokyo');
      assert.equal(db.lookup(`::ffff:${IP.london}`)?.cityName, 'London');
    });

    it('returns undefined for an unknown address and for text that is not an address', () => {
      const db = open([geoFixture().cityPath]);
      assert.equal(db.lookup(IP.unknown), undefined);
      assert.equal(db.lookup('AWS Internal'), undefined);
      assert.equal(db.lookup('ec2.amazonaws.com'), undefined);
      assert.equal(db.misses, 3);
      assert.equal(db.lookups, 3);
    });

    it('the same city seen from two networks is one place (same placeKey)', () => {
      const db = open([geoFixture().cityPath]);
      assert.equal(db.lookup(IP.tokyo)?.placeKey, db.lookup(IP.tokyoV6)?.placeKey);
      assert.notEqual(db.lookup(IP.tokyo)?.placeKey, db.lookup(IP.london)?.placeKey);
    });

    it('two addresses of one record share its GeoResult and source.geo objects; without a cache they are equal copies', () => {
      const cached = open([geoFixture().cityPath]);
      const a = cached.resolve(IP.london);
      const b = cached.resolve(IP.london2);
      assert.notEqual(a, b, 'one entry per address');
      assert.equal(a.geo, b.geo);
      assert.equal(a.ecsGeo, b.ecsGeo);
      const uncached = open([geoFixture().cityPath], 0);
      const c = uncached.resolve(IP.london);
      const d = uncached.resolve(IP.london2);
      assert.deepEqual(c.ecsGeo, a.ecsGeo);
      assert.deepEqual(d.geo, a.geo);
    });

    it('describes its files: path, type, build time, IP version', () => {
      const db = open([geoFixture().cityPath]);
      assert.deepEqual(db.description, [
        { path: geoFixture().cityPath, type: 'GeoIP2-City', buildEpoch: new Date(1_717_000_000_000).toISOString(), ipVersion: 6 },
      ]);
    });
  });

  describe('DB-IP Lite City schema (two files)', () => {
    it('maps the flat record, deriving the country name from the ISO code; radius is 0', () => {
      const db = open([geoFixture().dbipV4Path, geoFixture().dbipV6Path]);
      assert.deepEqual(db.lookup(IP.london), {
        cityName: 'London',
        countryName: 'United Kingdom',
        countryIsoCode: 'GB',
        regionName: 'England',
        // DB-IP stores float32 coordinates (51.50740051269531); four decimals are what they know
        location: { lat: Math.round(Math.fround(PLACES.london.lat) * 1e4) / 1e4, lon: Math.round(Math.fround(PLACES.london.lon) * 1e4) / 1e4 },
        accuracyRadiusKm: 0,
        placeKey: 'GB|England|London',
      });
    });

    it('serves IPv4 from the v4 file and IPv6 from the v6 file, whatever order they are given in', () => {
      const { dbipV4Path, dbipV6Path } = geoFixture();
      for (const paths of [[dbipV4Path, dbipV6Path], [dbipV6Path, dbipV4Path]]) {
        const db = open(paths);
        assert.equal(db.lookup(IP.tokyo)?.cityName, 'Tokyo', `IPv4 with ${paths.join(', ')}`);
        assert.equal(db.lookup(IP.paris)?.cityName, 'Paris');
        assert.equal(db.lookup(DBIP_IP.londonV6)?.cityName, 'London', `IPv6 with ${paths.join(', ')}`);
        assert.equal(db.lookup(DBIP_IP.tokyoV6)?.cityName, 'Tokyo');
        assert.equal(db.lookup(`::ffff:${IP.london}`)?.cityName, 'London', 'IPv4-mapped goes to the v4 file');
      }
    });

    it('with the v4 file alone, an IPv6 address is simply not found (never an exception)', () => {
      const db = open([geoFixture().dbipV4Path]);
      assert.equal(db.lookup(DBIP_IP.londonV6), undefined);
      assert.equal(db.lookup(IP.london)?.cityName, 'London');
    });

    it('accepts the "city ipv4"/"city ipv6" database types of the ip-location-db package', () => {
      const db = open([geoFixture().dbipV4Path, geoFixture().dbipV6Path]);
      assert.deepEqual(
        db.description.map((d) => [d.type, d.ipVersion]),
        [['city ipv4', 4], ['city ipv6', 6]],
      );
    });
  });

  describe('the address cache', () => {
    it('keys dotted-quad IPv4 by its value: the same entry whether the caller passes the value or not', () => {
      const db = open([geoFixture().cityPath]);
      const byText = db.resolve(IP.london);
      assert.equal(db.resolve(IP.london, ipv4Value(IP.london)), byText);
      assert.equal(db.treeLookups, 1);
      // An address whose value is past 2^31 (a negative 32-bit integer as a key).
      const high = '203.0.113.77';
      assert.equal(db.resolve(high, ipv4Value(high)), db.resolve(high));
      assert.equal(db.treeLookups, 2);
    });

    it('keeps apart what is apart: other IPv4 text, IPv4-mapped IPv6 text, IPv6', () => {
      const db = open([geoFixture().cityPath]);
      const london = db.resolve(IP.london);
      const london2 = db.resolve(IP.london2);
      assert.notEqual(london2, london);
      assert.equal(london2.ip, IP.london2);
      const mapped = db.resolve(`::ffff:${IP.london}`);
      assert.notEqual(mapped, london, 'its own entry: ecsSource carries the text as the record has it');
      assert.equal(mapped.ip, IP.london);
      assert.deepEqual(mapped.ecsSource, { address: `::ffff:${IP.london}`, ip: `::ffff:${IP.london}`, geo: london.ecsGeo });
      assert.equal(db.resolve(IP.tokyoV6).geo?.cityName, 'Tokyo');
      assert.equal(db.lookups, 4);
    });
  });

  describe('answers by network: one walk down the tree per /24 or /48 the database does not split', () => {
    const record = (place: PlaceName): ReturnType<typeof maxmindCityRecord> => maxmindCityRecord(PLACES[place], 7);
    /** Whole networks, and networks the database splits (a later entry carves its range out of an earlier one). */
    function splitDb(): GeoIpDatabase {
      const path = join(dir, 'split.mmdb');
      writeCityDb(path, [
        { network: '81.2.69.0/24', data: record('london') },
        { network: '81.2.70.0/24', data: record('london') },
        { network: '81.2.70.128/25', data: record('paris') },
        { network: '81.2.71.0/28', data: record('tokyo') },
        { network: '2a00:23c0:1::/48', data: record('london') },
        { network: '2a00:23c0:2::/48', data: record('london') },
        { network: '2a00:23c0:2:1::/64', data: record('tokyo') },
      ]);
      return open([path]);
    }
    const city = (db: GeoIpDatabase, ip: string): string | undefined => db.lookup(ip)?.cityName;

    it('a new address in a known whole network costs no walk down the tree', () => {
      const db = splitDb();
      assert.deepEqual(['81.2.69.1', '81.2.69.2', '81.2.69.254'].map((ip) => city(db, ip)), ['London', 'London', 'London']);
      assert.equal(db.treeLookups, 1);
      assert.deepEqual(['2a00:23c0:1::1', '2a00:23c0:1:5::9', '2a00:23c0:1:ffff:1:2:3:4'].map((ip) => city(db, ip)), ['London', 'London', 'London']);
      assert.equal(db.treeLookups, 2);
      assert.equal(db.lookups, 6);
    });

    it('a network the database splits is looked up address by address, in either order', () => {
      const cases: [string, string | undefined][][] = [
        [['81.2.70.5', 'London'], ['81.2.70.200', 'Paris']],
        [['81.2.71.3', 'Tokyo'], ['81.2.71.100', undefined]],
        [['2a00:23c0:2::1', 'London'], ['2a00:23c0:2:1::1', 'Tokyo']],
      ];
      for (const pair of cases) {
        for (const order of [pair, [...pair].reverse()]) {
          const db = splitDb();
          for (const [ip, expected] of order) assert.equal(city(db, ip), expected, `${ip} after ${order[0]![0]}`);
          assert.equal(db.treeLookups, 2);
        }
      }
    });

    it('an address in no network answers undefined for its whole network alike', () => {
      const db = splitDb();
      assert.equal(city(db, '45.67.89.10'), undefined);
      assert.equal(city(db, '45.67.89.11'), undefined);
      assert.equal(db.treeLookups, 1);
    });

    it('networkKey names an IPv4 /24 by its value, and an IPv6 /48 only where the text shows it plainly', () => {
      assert.equal(networkKey('81.2.69.160', ipv4Value('81.2.69.160')), (81 << 16) + (2 << 8) + 69);
      assert.equal(networkKey('255.255.255.255', ipv4Value('255.255.255.255')), 0xffffff);
      assert.equal(networkKey('81.2.69.1', ipv4Value('81.2.69.1')), networkKey('81.2.69.254', ipv4Value('81.2.69.254')));
      assert.notEqual(networkKey('81.2.69.1', ipv4Value('81.2.69.1')), networkKey('81.2.70.1', ipv4Value('81.2.70.1')));
      assert.equal(networkKey('2601:18c:103:abcd:1:2:3:4', -1), '2601:18c:103');
      assert.equal(networkKey('2a00:23c0:1::1', -1), '2a00:23c0:1');
      // Another spelling of the same network is another key: a second entry, never a wrong answer.
      assert.equal(networkKey('2A00:23C0:0001::1', -1), '2A00:23C0:0001');
      const none = ['2a00:23c0::1', 'a:b::c', '::1', '::ffff:102:304', '2001:db8::', '2a00:23c0:1::5%eth0', 'fe80:0:0:1::1%1'];
      for (const ip of none) assert.equal(networkKey(ip, -1), undefined, ip);
    });

    it('an address with a zone id is looked up without it, and changes no network\'s answer', () => {
      const path = join(dir, 'zone.mmdb');
      writeCityDb(path, [
        { network: '2a00::/16', data: record('tokyo') },
        { network: '2a00:23c0:1::/48', data: record('london') },
      ]);
      const db = open([path]);
      // Node's isIP takes a zone holding `::` and groups; read as part of the address, they would
      // make this 2a00:1:2:3:4:5:6:7, in Tokyo, and could teach the London /48 that answer.
      assert.equal(city(db, '2a00:23c0:1:2:3:4:5:6%x::1:2:3:4:5:6:7'), 'London');
      assert.equal(city(db, '2a00:23c0:1::5'), 'London');
      assert.equal(city(db, '2a00:23c0:1::5%eth0'), 'London');
    });

    it('with several files, a network is cached only where every file consulted answers it alike', () => {
      // DB-IP ships IPv4 and IPv6 apart; an IPv4 address not in the first file is asked of the second.
      const v4 = join(dir, 'v4.mmdb');
      const v6 = join(dir, 'v6.mmdb');
      writeMmdb(v4, [{ network: '81.2.70.0/25', data: dbipRecord(PLACES.london) }], { databaseType: 'city ipv4', ipVersion: 4 });
      writeMmdb(v6, [{ network: '81.0.0.0/8', data: dbipRecord(PLACES.paris) }], { databaseType: 'city ipv6', ipVersion: 6 });
      const db = open([v4, v6]);
      assert.equal(city(db, '81.2.70.200'), 'Paris', 'not in the first file (its /25 beside London), found in the second at /8');
      assert.equal(city(db, '81.2.70.5'), 'London');
      assert.equal(db.treeLookups, 2);
    });
  });

  describe('toGeoResult and countryNameFromIso', () => {
    it('derives English country names from ISO codes, case-insensitively; nothing for junk', () => {
      assert.equal(countryNameFromIso('JP'), 'Japan');
      assert.equal(countryNameFromIso('br'), 'Brazil');
      assert.equal(countryNameFromIso('ZZ'), undefined);
      assert.equal(countryNameFromIso('GBR'), undefined);
      assert.equal(countryNameFromIso(''), undefined);
      assert.equal(countryNameFromIso(undefined), undefined);
    });

    it('reads an accuracy radius below 0 as none: it may only shorten the decision distance', () => {
      const r = toGeoResult({ country: { iso_code: 'FR' }, location: { latitude: 48.85, longitude: 2.35, accuracy_radius: -300 } });
      assert.equal(r?.accuracyRadiusKm, 0);
      assert.equal(toGeoResult({ country: { iso_code: 'FR' }, location: { latitude: 48.85, longitude: 2.35, accuracy_radius: 20 } })?.accuracyRadiusKm, 20);
    });

    it('a record with nothing useful gives undefined; out-of-range coordinates are no location', () => {
      assert.equal(toGeoResult({}), undefined);
      assert.equal(toGeoResult({ continent: 'EU' } as never), undefined);
      const r = toGeoResult({ country_code: 'FR', latitude: 123, longitude: 2 });
      assert.equal(r?.location, undefined);
      assert.equal(r?.countryName, 'France');
    });
  });

  describe('files that cannot serve', () => {
    it('refuses a non-City database (e.g. GeoLite2-ASN), naming the file and its type', () => {
      const path = join(dir, 'GeoLite2-ASN.mmdb');
      writeMmdb(path, [{ network: '81.2.69.0/24', data: { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } }], {
        databaseType: 'GeoLite2-ASN',
        ipVersion: 6,
      });
      expectUnavailable(() => open([path]), new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a "GeoLite2-ASN" database; a City database is needed`));
    });

    it('refuses a Country database too', () => {
      const path = join(dir, 'GeoLite2-Country.mmdb');
      writeMmdb(path, [{ network: '81.2.69.0/24', data: { country: { iso_code: 'GB' } } }], { databaseType: 'GeoLite2-Country', ipVersion: 6 });
      expectUnavailable(() => open([path]), /is a "GeoLite2-Country" database; a City database is needed/);
    });

    it('refuses a missing file, naming it', () => {
      const path = join(dir, 'nope.mmdb');
      expectUnavailable(() => open([path]), new RegExp(`^cannot read GeoIP database ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
    });

    it('refuses a file that is not an MMDB', () => {
      const path = join(dir, 'junk.mmdb');
      writeFileSync(path, 'this is not a MaxMind database\n'.repeat(100));
      expectUnavailable(() => open([path]), /junk\.mmdb is not a MaxMind DB \(MMDB\) file/);
    });

    it('refuses an empty list of files', () => {
      expectUnavailable(() => open([]), /^no GeoIP database file given$/);
    });

    it('refuses the set when one of several files cannot serve', () => {
      expectUnavailable(() => open([geoFixture().dbipV4Path, join(dir, 'missing-v6.mmdb')]), /missing-v6\.mmdb: ENOENT/);
    });
  });

  describe('reload when the file changes on disk', () => {
    /** The fixture with London's network now answering Manchester. */
    function writeManchesterVariant(path: string): void {
      const entries = cityEntries().map((e) =>
        e.network === '81.2.69.0/24'
          ? { network: e.network, data: maxmindCityRecord({ city: 'Manchester', country: 'United Kingdom', iso: 'GB', region: 'England', lat: 53.4808, lon: -2.2426, radiusKm: 5 }, 99) }
          : e,
      );
      writeCityDb(path, entries);
    }

    it('reloadIfChanged() is false while nothing changed', () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = open([path]);
      assert.equal(db.reloadIfChanged(), false);
    });

    it('an atomic replacement with different data: reloadIfChanged() is true, "reload" is emitted, lookups change (cache cleared)', () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = open([path]);
      assert.equal(db.lookup(IP.london)?.cityName, 'London'); // now cached
      let reloaded: unknown;
      db.on('reload', (files) => (reloaded = files));
      writeManchesterVariant(path);
      assert.equal(db.reloadIfChanged(), true);
      assert.equal(db.lookup(IP.london)?.cityName, 'Manchester');
      const walks = db.treeLookups;
      assert.equal(db.lookup('81.2.69.99')?.cityName, 'Manchester', 'another address of the network');
      assert.equal(db.treeLookups, walks, 'answered from the network cache the reload emptied and the new file filled');
      assert.equal(db.lookup(IP.tokyo)?.cityName, 'Tokyo', 'the rest of the new file serves too');
      assert.deepEqual(reloaded, db.description);
      assert.equal(db.reloadIfChanged(), false, 'and no second reload for the same file');
    });

    it('a corrupt replacement keeps the old data and emits "reloadError"; a good one later is picked up', () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = open([path]);
      assert.equal(db.lookup(IP.london)?.cityName, 'London');
      const errors: unknown[] = [];
      db.on('reloadError', (err) => errors.push(err));
      db.on('reload', () => assert.fail('a corrupt file must not be loaded'));
      const tmp = join(dir, '.city.mmdb.tmp');
      writeFileSync(tmp, Buffer.from('corrupt: half a download'));
      renameSync(tmp, path);
      assert.equal(db.reloadIfChanged(), false);
      assert.equal(errors.length, 1);
      const err = errors[0];
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, 'geoip_unavailable');
      assert.match(err.message, /city\.mmdb is not a MaxMind DB \(MMDB\) file/);
      assert.equal(db.lookup(IP.london)?.cityName, 'London', 'old data still served');
      assert.equal(db.lookup(IP.paris)?.cityName, 'Paris', 'uncached lookups still use the old data');

      db.removeAllListeners('reload');
      writeManchesterVariant(path);
      assert.equal(db.reloadIfChanged(), true);
      assert.equal(db.lookup(IP.london)?.cityName, 'Manchester');
    });

    it('a replacement by a non-City database is refused the same way', () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = open([path]);
      const errors: Error[] = [];
      db.on('reloadError', (err: Error) => errors.push(err));
      writeMmdb(path, [{ network: '81.2.69.0/24', data: { autonomous_system_number: 1 } }], { databaseType: 'GeoLite2-ASN', ipVersion: 6 });
      assert.equal(db.reloadIfChanged(), false);
      assert.match(errors[0]?.message ?? '', /is a "GeoLite2-ASN" database; a City database is needed/);
      assert.equal(db.lookup(IP.london)?.cityName, 'London');
    });

    it('a file that disappears keeps the old data and emits "reloadError"', () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = open([path]);
      const errors: NodeJS.ErrnoException[] = [];
      db.on('reloadError', (err: NodeJS.ErrnoException) => errors.push(err));
      rmSync(path);
      assert.equal(db.reloadIfChanged(), false);
      assert.equal(errors[0]?.code, 'ENOENT');
      assert.equal(db.lookup(IP.london)?.cityName, 'London');
    });

    it('the reload timer picks a change up by itself', async () => {
      const path = join(dir, 'city.mmdb');
      copyFileSync(geoFixture().cityPath, path);
      const db = new GeoIpDatabase({ paths: [path], reloadIntervalMs: 20, cacheSize: 100 });
      try {
        assert.equal(db.lookup(IP.london)?.cityName, 'London');
        const reloaded = once(db, 'reload', { signal: AbortSignal.timeout(3000) });
        writeManchesterVariant(path);
        await reloaded;
        assert.equal(db.lookup(IP.london)?.cityName, 'Manchester');
      } finally {
        db.close();
      }
    });
  });
});
