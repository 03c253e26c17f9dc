import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import maxmind, { Reader, type CityResponse, type Response } from 'maxmind';
import { buildMmdb, typed, writeMmdb, type MmdbEntry, type MmdbOptions, type MmdbValue } from './mmdb-writer.js';

const V4: MmdbOptions = { databaseType: 'Test-IPv4', ipVersion: 4, buildEpoch: 1_700_000_000 };
const V6: MmdbOptions = { databaseType: 'Test-IPv6', ipVersion: 6, buildEpoch: 1_700_000_000 };
const MARKER = Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1');

const open = (db: Buffer): Reader<Response> => new Reader<Response>(db);
const lookup = (db: Buffer, ip: string): unknown => open(db).get(ip);
const lookupWithPrefix = (db: Buffer, ip: string): [unknown, number] => open(db).getWithPrefixLength(ip);

/** Bytes between the 16-byte separator and the metadata marker. */
function dataSectionOf(db: Buffer): Buffer {
  return db.subarray(open(db).metadata.searchTreeSize + 16, db.lastIndexOf(MARKER));
}

/** Data section of a database holding a single record, as hex, to compare with encodings worked out from the spec. */
const encodedHex = (value: MmdbValue): string => dataSectionOf(buildMmdb([{ network: '1.0.0.0/8', data: value }], V4)).toString('hex');

const countOccurrences = (haystack: Buffer, needle: string): number => {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) count++;
  return count;
};

describe('mmdb-writer', () => {
  describe('IPv4 database', () => {
    const db = buildMmdb(
      [
        { network: '81.2.69.0/24', data: { city: 'London' } },
        { network: '10.0.0.0/8', data: { city: 'Private' } },
        { network: '255.255.255.255/32', data: { city: 'Broadcast' } },
      ],
      V4,
    );

    it('finds the first, last and inner addresses of each network', () => {
      for (const ip of ['81.2.69.0', '81.2.69.160', '81.2.69.255']) assert.deepEqual(lookup(db, ip), { city: 'London' });
      for (const ip of ['10.0.0.0', '10.255.255.255']) assert.deepEqual(lookup(db, ip), { city: 'Private' });
      assert.deepEqual(lookupWithPrefix(db, '255.255.255.255'), [{ city: 'Broadcast' }, 32]);
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.1'), [{ city: 'London' }, 24]);
    });

    it('returns null for addresses outside every network', () => {
      for (const ip of ['81.2.68.255', '81.2.70.0', '11.0.0.0', '0.0.0.0', '255.255.255.254']) assert.equal(lookup(db, ip), null);
    });

    it('has exactly one node per bit of a lone /24, and one root node when empty', () => {
      assert.equal(open(buildMmdb([{ network: '81.2.69.0/24', data: 'x' }], V4)).metadata.nodeCount, 24);
      const empty = buildMmdb([], V4);
      assert.equal(open(empty).metadata.nodeCount, 1);
      assert.equal(lookup(empty, '1.2.3.4'), null);
    });

    it('supports /0', () => {
      const db0 = buildMmdb([{ network: '0.0.0.0/0', data: 'everything' }], V4);
      for (const ip of ['0.0.0.0', '127.0.0.1', '255.255.255.255']) assert.deepEqual(lookupWithPrefix(db0, ip), ['everything', 1]);
    });
  });

  describe('IPv6 database', () => {
    const entries: MmdbEntry[] = [
      { network: '81.2.69.0/24', data: { v: 4 } },
      { network: '2001:db8::/32', data: { v: 6 } },
      { network: '2a02:c7f:7e0c::/48', data: { v: 'uk' } },
    ];
    const db = buildMmdb(entries, V6);

    it('finds IPv6 networks', () => {
      assert.deepEqual(lookupWithPrefix(db, '2001:db8::1'), [{ v: 6 }, 32]);
      assert.deepEqual(lookup(db, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), { v: 6 });
      assert.deepEqual(lookupWithPrefix(db, '2a02:c7f:7e0c:1::1'), [{ v: 'uk' }, 48]);
      assert.equal(lookup(db, '2001:db9::'), null);
    });

    it('stores IPv4 networks under ::/96 where IPv4 lookups (and ::a.b.c.d) find them', () => {
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.160'), [{ v: 4 }, 24]);
      assert.deepEqual(lookupWithPrefix(db, '::81.2.69.160'), [{ v: 4 }, 120]);
      assert.equal(lookup(db, '81.2.70.1'), null);
      assert.equal(lookup(db, '::1'), null);
    });

    it('aliases ::ffff:0:0/96 and 2002::/16 to the IPv4 subtree by default, like MaxMind databases', () => {
      assert.deepEqual(lookupWithPrefix(db, '::ffff:81.2.69.160'), [{ v: 4 }, 120]);
      assert.deepEqual(lookupWithPrefix(db, '2002:5102:45a0::'), [{ v: 4 }, 40]); // 6to4 of 81.2.69.160
      assert.equal(lookup(db, '::ffff:81.2.70.1'), null);

      const plain = buildMmdb(entries, { ...V6, ipv4Aliases: false });
      assert.equal(lookup(plain, '::ffff:81.2.69.160'), null);
      assert.equal(lookup(plain, '2002:5102:45a0::'), null);
      assert.deepEqual(lookup(plain, '81.2.69.160'), { v: 4 });
    });

    it('builds the exact tree: 96 + 24 nodes for a lone IPv4 /24, plus the alias paths', () => {
      const lone: MmdbEntry[] = [{ network: '81.2.69.0/24', data: 'x' }];
      assert.equal(open(buildMmdb(lone, { ...V6, ipv4Aliases: false })).metadata.nodeCount, 120);
      // ::ffff:0:0/96 leaves the ::/96 path at bit 80 (15 new nodes), 2002::/16 at bit 2 (13 new nodes).
      assert.equal(open(buildMmdb(lone, V6)).metadata.nodeCount, 120 + 15 + 13);
      // Without IPv4 data there is nothing to alias.
      assert.equal(open(buildMmdb([{ network: '2001:db8::/32', data: 'x' }], V6)).metadata.nodeCount, 32);
    });

    it('supports ::/0, which also covers IPv4', () => {
      const db0 = buildMmdb([{ network: '::/0', data: 'all' }], V6);
      for (const ip of ['::', '1.2.3.4', 'ffff::1', '::ffff:1.2.3.4']) assert.equal(lookup(db0, ip), 'all');
    });

    it('accepts IPv6 spellings with embedded IPv4 and full groups', () => {
      const db2 = buildMmdb(
        [
          { network: '::ffff:10.0.0.0/104', data: 'mapped' }, // explicit IPv6 network inside the mapped range
          { network: '2001:0db8:0000:0000:0000:0000:0000:0000/32', data: 'long form' },
        ],
        { ...V6, ipv4Aliases: false },
      );
      assert.equal(lookup(db2, '::ffff:10.1.2.3'), 'mapped');
      assert.equal(lookup(db2, '10.1.2.3'), null);
      assert.equal(lookup(db2, '2001:db8::5'), 'long form');
    });
  });

  describe('record sizes', () => {
    const entries: MmdbEntry[] = [
      { network: '81.2.69.0/24', data: { city: 'London' } },
      { network: '2001:db8::/32', data: { city: 'Doc' } },
    ];
    for (const recordSize of [24, 28, 32] as const) {
      it(`writes ${recordSize}-bit records`, () => {
        const db = buildMmdb(entries, { ...V6, recordSize });
        const { metadata } = open(db);
        assert.equal(metadata.recordSize, recordSize);
        assert.equal(metadata.searchTreeSize, (metadata.nodeCount * recordSize * 2) / 8);
        assert.deepEqual(db.subarray(metadata.searchTreeSize, metadata.searchTreeSize + 16), Buffer.alloc(16));
        assert.deepEqual(lookup(db, '81.2.69.1'), { city: 'London' });
        assert.deepEqual(lookup(db, '::ffff:81.2.69.1'), { city: 'London' });
        assert.deepEqual(lookup(db, '2001:db8::1'), { city: 'Doc' });
        assert.equal(lookup(db, '81.2.70.1'), null);
        assert.equal(lookup(db, '2001:db9::1'), null);
      });
    }

    it('uses every record bit when pointers exceed 24 bits, and rejects a record size that is too small', function () {
      this.timeout(30_000);
      // Two 9 MB strings push the third record past data offset 2^24; 3.0.0.0/8 is a right
      // record and 4.0.0.0/8 a left one, so both nibbles of the 28-bit middle byte are exercised.
      const big: MmdbEntry[] = [
        { network: '1.0.0.0/8', data: 'a'.repeat(9_000_000) },
        { network: '2.0.0.0/8', data: 'b'.repeat(9_000_000) },
        { network: '3.0.0.0/8', data: 'small' },
        { network: '4.0.0.0/8', data: 'small' },
      ];
      for (const recordSize of [28, 32] as const) {
        const db = buildMmdb(big, { ...V4, recordSize });
        assert.ok(db.length > 2 ** 24);
        assert.equal(lookup(db, '3.1.1.1'), 'small');
        assert.equal(lookup(db, '4.1.1.1'), 'small');
        assert.equal((lookup(db, '2.1.1.1') as string).length, 9_000_000);
      }
      assert.throws(() => buildMmdb(big, { ...V4, recordSize: 24 }), {
        message: /^recordSize 24 is too small for 11 nodes and a 180000\d\d-byte data section; use a larger recordSize$/,
      });
    });
  });

  describe('data types', () => {
    it('round-trips nested maps, arrays and every scalar type', () => {
      const data: MmdbValue = {
        string: 'héllo ✓ 日本',
        empty: '',
        uint32: 4_294_967_295,
        zero: 0,
        negative: -42, // plain negative numbers become doubles
        huge: 2 ** 40, // beyond uint32, so a double
        fraction: -0.12,
        double: typed('double', 3),
        float: typed('float', 0.1),
        uint16: typed('uint16', 65_535),
        int32min: typed('int32', -(2 ** 31)),
        int32max: typed('int32', 2 ** 31 - 1),
        uint64: typed('uint64', 2n ** 64n - 1n),
        uint64small: typed('uint64', 7),
        uint128: 2n ** 128n - 1n,
        bigint: 12n,
        yes: true,
        no: false,
        bytes: Buffer.from([0, 1, 254, 255]),
        emptyBytes: new Uint8Array(0),
        nested: { deeper: { deepest: [1, [2, [3, { x: 'y' }]]] } },
        emptyMap: {},
        emptyArray: [],
        manyItems: Array.from({ length: 300 }, (_, i) => i), // size needs the 2-byte extension
        longString: 'x'.repeat(70_000), // size needs the 3-byte extension
        wideMap: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])),
      };
      assert.deepEqual(lookup(buildMmdb([{ network: '1.2.3.0/24', data }], V4), '1.2.3.4'), {
        ...data,
        double: 3,
        float: Math.fround(0.1),
        uint16: 65_535,
        int32min: -(2 ** 31),
        int32max: 2 ** 31 - 1,
        uint64: 2n ** 64n - 1n, // mmdb-lib returns uint64/uint128 as bigint
        uint64small: 7n,
        bytes: Buffer.from([0, 1, 254, 255]),
        emptyBytes: Buffer.alloc(0),
      });
    });

    it('stores any top-level value, not only maps', () => {
      const db = buildMmdb(
        [
          { network: '1.0.0.0/8', data: 'just a string' },
          { network: '2.0.0.0/8', data: [1, 2] },
          { network: '3.0.0.0/8', data: 1.5 },
        ],
        V4,
      );
      assert.equal(lookup(db, '1.1.1.1'), 'just a string');
      assert.deepEqual(lookup(db, '2.1.1.1'), [1, 2]);
      assert.equal(lookup(db, '3.1.1.1'), 1.5);
    });

    it('encodes types exactly as the spec describes', () => {
      assert.equal(encodedHex(42), 'c12a'); // uint32, 1 byte
      assert.equal(encodedHex(0), 'c0'); // uint32, 0 bytes
      assert.equal(encodedHex(2 ** 32), '6841f0000000000000'); // double
      assert.equal(encodedHex(-1.5), '68bff8000000000000'); // double
      assert.equal(encodedHex(typed('float', 1.5)), '04083fc00000'); // extended type 15 = 7 + 8
      assert.equal(encodedHex(typed('uint16', 300)), 'a2012c');
      assert.equal(encodedHex(typed('int32', -1)), '0401ffffffff'); // negatives need all 4 bytes
      assert.equal(encodedHex(typed('int32', 200)), '0101c8');
      assert.equal(encodedHex(typed('uint64', 1)), '010201');
      assert.equal(encodedHex(2n ** 64n), '0903010000000000000000'); // uint128, 9 bytes
      assert.equal(encodedHex(true), '0107');
      assert.equal(encodedHex(false), '0007');
      assert.equal(encodedHex('ab'), '426162');
      assert.equal(encodedHex(Buffer.from([1, 2])), '820102');
      assert.equal(encodedHex([]), '0004');
      assert.equal(encodedHex([true]), '01040107');
      assert.equal(encodedHex({}), 'e0');
      assert.equal(encodedHex({ a: 1 }), 'e14161c101');
      // Sizes 29+ use 1, 2 or 3 extra bytes with offsets 29, 285 and 65821.
      assert.equal(encodedHex('x'.repeat(29)).slice(0, 6), '5d0078');
      assert.equal(encodedHex('x'.repeat(284)).slice(0, 6), '5dff78');
      assert.equal(encodedHex('x'.repeat(285)).slice(0, 8), '5e000078');
      assert.equal(encodedHex('x'.repeat(65_820)).slice(0, 8), '5effff78');
      assert.equal(encodedHex('x'.repeat(65_821)).slice(0, 10), '5f00000078');
    });

    it('writes repeated values once and points to them', () => {
      // "hello world" starts at offset 3 (after e2 41 61), so the second copy is pointer 20 03.
      assert.equal(encodedHex({ a: 'hello world', b: 'hello world' }), 'e24161' + '4b' + Buffer.from('hello world').toString('hex') + '4162' + '2003');

      const city = { city: { names: { en: 'London' } }, country: { iso_code: 'GB' } };
      const db = buildMmdb(
        [
          { network: '81.2.69.0/24', data: city },
          { network: '81.2.71.0/24', data: structuredClone(city) }, // identical record: same data offset
          { network: '81.2.72.0/24', data: { ...city, postal: 'SW1' } }, // shares the nested maps
        ],
        V4,
      );
      assert.equal(countOccurrences(db, 'London'), 1);
      assert.equal(countOccurrences(db, 'iso_code'), 1);
      assert.deepEqual(lookup(db, '81.2.69.1'), city);
      assert.deepEqual(lookup(db, '81.2.71.1'), city);
      assert.deepEqual(lookup(db, '81.2.72.1'), { ...city, postal: 'SW1' });
      assert.ok(dataSectionOf(db).length < 2 * dataSectionOf(buildMmdb([{ network: '81.2.69.0/24', data: city }], V4)).length);
    });

    it('uses the longer pointer forms for targets beyond 2048 and 526336 bytes', () => {
      for (const padding of [3_000, 600_000]) {
        const db = buildMmdb(
          [
            { network: '1.0.0.0/8', data: { pad: 'p'.repeat(padding), shared: 'shared value' } },
            { network: '2.0.0.0/8', data: { again: 'shared value', pad2: 'q'.repeat(padding) } },
            { network: '3.0.0.0/8', data: { shared: 'shared value' } },
          ],
          V4,
        );
        assert.equal(countOccurrences(db, 'shared value'), 1, `padding ${padding}`);
        assert.equal(countOccurrences(db, 'shared'), 2, `padding ${padding}`); // the key and the value's prefix
        assert.equal((lookup(db, '2.1.1.1') as { again: string }).again, 'shared value');
        assert.deepEqual(lookup(db, '3.1.1.1'), { shared: 'shared value' });
      }
    });

    it('is deterministic', () => {
      const entries: MmdbEntry[] = [{ network: '81.2.69.0/24', data: { a: [1, 2], b: 'c' } }];
      assert.deepEqual(buildMmdb(entries, V6), buildMmdb(entries, V6));
    });
  });

  describe('overlapping networks', () => {
    it('lets a more specific network override only its own range', () => {
      const db = buildMmdb(
        [
          { network: '81.2.0.0/16', data: 'broad' },
          { network: '81.2.69.0/24', data: 'specific' },
          { network: '81.2.69.128/25', data: 'more specific' },
        ],
        V4,
      );
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.1'), ['specific', 25]);
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.200'), ['more specific', 25]);
      assert.deepEqual(lookupWithPrefix(db, '81.2.68.1'), ['broad', 24]); // sibling of .69.0/24
      assert.deepEqual(lookupWithPrefix(db, '81.2.0.1'), ['broad', 18]); // split where the /24 path leaves
      assert.equal(lookup(db, '81.2.255.255'), 'broad');
      assert.equal(lookup(db, '81.3.0.0'), null);
    });

    it('lets a later broader network replace earlier, more specific ones (last write wins, as in MaxMind writers)', () => {
      const db = buildMmdb(
        [
          { network: '81.2.69.0/24', data: 'specific' },
          { network: '81.2.0.0/16', data: 'broad' },
        ],
        V4,
      );
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.1'), ['broad', 16]);
      assert.equal(open(db).metadata.nodeCount, 16);
    });

    it('re-merges halves that end up with the same data', () => {
      const db = buildMmdb(
        [
          { network: '81.2.0.0/16', data: 'A' },
          { network: '81.2.69.0/24', data: 'B' },
          { network: '81.2.69.0/24', data: 'A' },
          { network: '10.0.0.0/25', data: 'C' },
          { network: '10.0.0.128/25', data: 'C' },
        ],
        V4,
      );
      assert.deepEqual(lookupWithPrefix(db, '81.2.69.1'), ['A', 16]);
      assert.deepEqual(lookupWithPrefix(db, '10.0.0.1'), ['C', 24]);
    });

    it('lets a later IPv6 network override part of the IPv4 space in an IPv6 database', () => {
      const db = buildMmdb(
        [
          { network: '81.2.0.0/16', data: 'v4' },
          { network: '::81.2.69.0/120', data: 'v6 spelling' },
        ],
        V6,
      );
      assert.equal(lookup(db, '81.2.69.1'), 'v6 spelling');
      assert.equal(lookup(db, '::ffff:81.2.69.1'), 'v6 spelling');
      assert.equal(lookup(db, '81.2.68.1'), 'v4');
    });
  });

  describe('metadata', () => {
    it('records the options', () => {
      const db = buildMmdb([], {
        databaseType: 'GeoIP2-City',
        ipVersion: 6,
        recordSize: 24,
        languages: ['en', 'de', 'pt-BR'],
        description: { en: 'Test City database', de: 'Testdatenbank' },
        buildEpoch: 1_700_000_000,
      });
      const { metadata } = open(db);
      assert.equal(metadata.databaseType, 'GeoIP2-City');
      assert.equal(metadata.ipVersion, 6);
      assert.equal(metadata.recordSize, 24);
      assert.deepEqual(metadata.languages, ['en', 'de', 'pt-BR']);
      assert.deepEqual(metadata.description, { en: 'Test City database', de: 'Testdatenbank' });
      assert.deepEqual(metadata.buildEpoch, new Date(1_700_000_000_000));
      assert.equal(metadata.binaryFormatMajorVersion, 2);
      assert.equal(metadata.binaryFormatMinorVersion, 0);
      assert.equal(metadata.nodeCount, 1);
    });

    it('defaults to 28-bit records, empty languages/description and the current time', () => {
      const before = Math.floor(Date.now() / 1000);
      const { metadata } = open(buildMmdb([], { databaseType: 'X', ipVersion: 4 }));
      const after = Math.ceil(Date.now() / 1000);
      assert.equal(metadata.recordSize, 28);
      assert.deepEqual(metadata.languages, []);
      assert.deepEqual(metadata.description, {});
      const epoch = metadata.buildEpoch.getTime() / 1000;
      assert.ok(epoch >= before && epoch <= after, `buildEpoch ${epoch} not in [${before}, ${after}]`);
    });
  });

  describe('vendor-shaped records', () => {
    it('serves a MaxMind GeoIP2-City record', () => {
      const london = {
        city: { geoname_id: 2643743, names: { en: 'London', de: 'London', fr: 'Londres' } },
        continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe' } },
        country: { geoname_id: 2635167, is_in_european_union: false, iso_code: 'GB', names: { en: 'United Kingdom' } },
        location: { accuracy_radius: typed('uint16', 20), latitude: 51.5, longitude: -0.12, time_zone: 'Europe/London' },
        postal: { code: 'SW1A' },
        registered_country: { geoname_id: 2635167, iso_code: 'GB', names: { en: 'United Kingdom' } },
        subdivisions: [{ geoname_id: 6269131, iso_code: 'ENG', names: { en: 'England' } }],
      };
      const db = buildMmdb([{ network: '81.2.69.0/24', data: london }], {
        databaseType: 'GeoIP2-City',
        ipVersion: 6,
        languages: ['de', 'en', 'fr'],
        buildEpoch: 1_700_000_000,
      });
      const city = new Reader<CityResponse>(db).get('81.2.69.160');
      assert.deepEqual(city, { ...london, location: { ...london.location, accuracy_radius: 20 } });
      assert.equal(city?.city?.names.en, 'London');
      assert.equal(city?.country?.iso_code, 'GB');
      assert.equal(city?.subdivisions?.[0]?.names.en, 'England');
      assert.equal(city?.location?.latitude, 51.5);
      assert.equal(city?.location?.longitude, -0.12);
      assert.equal(city?.location?.accuracy_radius, 20);
      assert.equal(new Reader<CityResponse>(db).get('2001:db8::1'), null);
    });

    it('serves a DB-IP Lite (ip-location-db dbip-city) record', () => {
      const record = { city: 'London', country_code: 'GB', state1: 'England', state2: 'Greater London', postcode: 'SW1A', latitude: 51.5, longitude: -0.12, timezone: 'Europe/London' };
      const db = buildMmdb(
        [
          { network: '81.2.69.0/24', data: record },
          { network: '2a02:c7f::/32', data: record },
        ],
        { databaseType: 'dbip-city-lite', ipVersion: 6 },
      );
      assert.deepEqual(lookup(db, '81.2.69.160'), record);
      assert.deepEqual(lookup(db, '2a02:c7f:1::1'), record);
      assert.equal(countOccurrences(db, 'Greater London'), 1);
    });
  });

  describe('invalid input', () => {
    const rejects = (network: string, message: string, options: MmdbOptions = V6): void =>
      assert.throws(() => buildMmdb([{ network, data: 'x' }], options), { message: `invalid network ${JSON.stringify(network)}: ${message}` });

    it('rejects malformed networks, naming the bad value', () => {
      rejects('81.2.69.0', 'expected CIDR notation "address/prefix"');
      rejects('not-an-ip/24', '"not-an-ip" is not an IPv4 or IPv6 address');
      rejects('300.2.69.0/24', '"300.2.69.0" is not an IPv4 or IPv6 address');
      rejects('81.2.69/24', '"81.2.69" is not an IPv4 or IPv6 address');
      rejects('fe80::%eth0/64', '"fe80::%eth0" is not an IPv4 or IPv6 address');
      rejects('81.2.69.0/', 'prefix length "" is not a number');
      rejects('81.2.69.0/2x', 'prefix length "2x" is not a number');
      rejects('81.2.69.0/-1', 'prefix length "-1" is not a number');
      rejects('81.2.69.0/33', 'prefix length 33 exceeds 32');
      rejects('2001:db8::/129', 'prefix length 129 exceeds 128');
    });

    it('rejects networks with host bits set and suggests the network address', () => {
      rejects('81.2.69.1/24', 'host bits are set (did you mean 81.2.69.0/24?)');
      rejects('2001:db8::1/32', 'host bits are set (did you mean 2001:db8::/32?)');
      rejects('1.2.3.4/0', 'host bits are set (did you mean 0.0.0.0/0?)');
    });

    it('rejects IPv6 networks in an IPv4 database', () => {
      rejects('2001:db8::/32', 'IPv6 network in an IPv4 database (use ipVersion: 6)', V4);
      rejects('::ffff:1.2.3.0/120', 'IPv6 network in an IPv4 database (use ipVersion: 6)', V4);
    });

    it('rejects values MMDB cannot store, naming where they are', () => {
      const rejectsData = (data: unknown, message: string): void =>
        assert.throws(() => buildMmdb([{ network: '81.2.69.0/24', data: data as MmdbValue }], V4), { message });
      rejectsData({ city: { names: { en: null } } }, '[81.2.69.0/24] data.city.names.en: cannot store null in an MMDB (it has no null type; maps must be plain objects)');
      rejectsData({ list: [1, undefined] }, '[81.2.69.0/24] data.list[1]: cannot store undefined in an MMDB (it has no null type; maps must be plain objects)');
      rejectsData({ when: new Date(0) }, '[81.2.69.0/24] data.when: cannot store a Date object in an MMDB (it has no null type; maps must be plain objects)');
      rejectsData({ f: () => 1 }, '[81.2.69.0/24] data.f: cannot store a function in an MMDB (it has no null type; maps must be plain objects)');
      rejectsData({ r: typed('uint16', 65_536) }, '[81.2.69.0/24] data.r: 65536 is out of range for uint16 (0..65535)');
      rejectsData({ r: typed('uint32', -1) }, '[81.2.69.0/24] data.r: -1 is out of range for uint32 (0..4294967295)');
      rejectsData({ r: typed('int32', 2 ** 31) }, '[81.2.69.0/24] data.r: 2147483648 is out of range for int32 (-2147483648..2147483647)');
      rejectsData({ r: typed('uint32', 1.5) }, '[81.2.69.0/24] data.r: uint32 needs a safe integer, got 1.5');
      rejectsData({ r: typed('float', 1n) }, '[81.2.69.0/24] data.r: float needs a number, got bigint');
      rejectsData({ r: -1n }, '[81.2.69.0/24] data.r: -1 is out of range for uint64 (0..18446744073709551615)');
      rejectsData(2n ** 128n, '[81.2.69.0/24] data: 340282366920938463463374607431768211456 is out of range for uint128 (0..340282366920938463463374607431768211455)');
      rejectsData({ s: 'x'.repeat(65_821 + 2 ** 24) }, '[81.2.69.0/24] data.s: value of size 16843037 exceeds the MMDB maximum of 16843036');
    });

    it('rejects bad options', () => {
      assert.throws(() => buildMmdb([], { ...V4, recordSize: 16 as 24 }), { message: 'recordSize must be 24, 28 or 32, got 16' });
      assert.throws(() => buildMmdb([], { ...V4, ipVersion: 5 as 4 }), { message: 'ipVersion must be 4 or 6, got 5' });
      assert.throws(() => buildMmdb([], { ...V4, databaseType: '' }), { message: 'databaseType must be a non-empty string' });
    });
  });

  describe('writeMmdb', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'mmdb-writer-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes a file that maxmind.open reads, replacing any previous file and leaving no temporary files', async () => {
      const path = join(dir, 'City.mmdb');
      writeFileSync(path, 'old contents');
      writeMmdb(path, [{ network: '81.2.69.0/24', data: { city: { names: { en: 'London' } } } }], V6);
      const reader = await maxmind.open<CityResponse>(path);
      assert.equal(reader.get('81.2.69.160')?.city?.names.en, 'London');
      assert.equal(reader.metadata.databaseType, 'Test-IPv6');
      assert.deepEqual(readdirSync(dir), ['City.mmdb']);
    });

    it('leaves an existing file untouched when the input is invalid', async () => {
      const path = join(dir, 'City.mmdb');
      writeMmdb(path, [{ network: '81.2.69.0/24', data: 'first' }], V4);
      assert.throws(() => writeMmdb(path, [{ network: 'bogus', data: 'second' }], V4), /invalid network "bogus"/);
      assert.equal((await maxmind.open(path)).get('81.2.69.1'), 'first');
      assert.deepEqual(readdirSync(dir), ['City.mmdb']);
    });

    it('reports a missing directory', () => {
      assert.throws(() => writeMmdb(join(dir, 'missing', 'City.mmdb'), [], V4), { code: 'ENOENT' });
      assert.deepEqual(readdirSync(dir), []);
    });
  });
});
