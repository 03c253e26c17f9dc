/**
 * Generated GeoIP databases and realistic CloudTrail records for the tests. The databases are
 * built once per test run into a temporary folder (never vendored): a GeoIP2-City-shaped MMDB
 * (IPv6 tree, IPv4 under ::/96, like MaxMind's own) and a DB-IP-Lite-shaped pair (flat records,
 * one IPv4 and one IPv6 file, like the ip-location-db package the service installs).
 *
 * Besides public cities, the City database deliberately LOCATES private, reserved and
 * documentation ranges (as a corporate database might): a test that says "a private address
 * never takes part in travel" would otherwise pass only because the address was not found.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeoIpDatabase } from '../../processors/geoip-database.js';
import { createPipeline, type BatchResult, type Pipeline } from '../../processors/pipeline.js';
import { MemoryStateStore } from '../../processors/state.js';
import type { Doc } from '../../processors/types.js';
import type { Sighting } from '../../processors/travel.js';
import type { DetectionConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { typed, writeMmdb, type MmdbEntry, type MmdbValue } from './mmdb-writer.js';

// ------------------------------------------------------------------------------------ places

export interface Place {
  readonly city: string;
  readonly country: string;
  readonly iso: string;
  readonly region: string;
  readonly lat: number;
  readonly lon: number;
  /** MaxMind `location.accuracy_radius`, km. */
  readonly radiusKm: number;
}

export const PLACES = {
  london: { city: 'London', country: 'United Kingdom', iso: 'GB', region: 'England', lat: 51.5074, lon: -0.1278, radiusKm: 5 },
  paris: { city: 'Paris', country: 'France', iso: 'FR', region: 'Île-de-France', lat: 48.8566, lon: 2.3522, radiusKm: 10 },
  tokyo: { city: 'Tokyo', country: 'Japan', iso: 'JP', region: 'Tokyo', lat: 35.6895, lon: 139.6917, radiusKm: 20 },
  sydney: { city: 'Sydney', country: 'Australia', iso: 'AU', region: 'New South Wales', lat: -33.8688, lon: 151.2093, radiusKm: 10 },
  newYork: { city: 'New York', country: 'United States', iso: 'US', region: 'New York', lat: 40.7128, lon: -74.006, radiusKm: 10 },
  saoPaulo: { city: 'São Paulo', country: 'Brazil', iso: 'BR', region: 'São Paulo', lat: -23.5505, lon: -46.6333, radiusKm: 20 },
  frankfurt: { city: 'Frankfurt am Main', country: 'Germany', iso: 'DE', region: 'Hesse', lat: 50.1109, lon: 8.6821, radiusKm: 5 },
  brussels: { city: 'Brussels', country: 'Belgium', iso: 'BE', region: 'Brussels Capital', lat: 50.8503, lon: 4.3517, radiusKm: 5 },
} as const satisfies Record<string, Place>;

export type PlaceName = keyof typeof PLACES;

/** A fixture place as a sighting's `geo` (what the GeoIP database gives for it); radius from the place unless given. */
export function placeGeo(place: PlaceName, radiusKm: number = PLACES[place].radiusKm): Sighting['geo'] {
  const p = PLACES[place];
  return {
    cityName: p.city,
    countryName: p.country,
    countryIsoCode: p.iso,
    regionName: p.region,
    location: { lat: p.lat, lon: p.lon },
    accuracyRadiusKm: radiusKm,
    placeKey: `${p.iso}|${p.region}|${p.city}`,
  };
}

/** Country-level answer with MaxMind's typical 1000 km radius: no city, centre of Spain. */
export const SPAIN_COUNTRY_LEVEL = { country: 'Spain', iso: 'ES', lat: 40.4172, lon: -3.684, radiusKm: 1000 } as const;
/** Country-level answer with coordinates but only the ISO code (no names at all). */
export const KENYA_CODE_ONLY = { iso: 'KE', lat: -1.2833, lon: 36.8167, radiusKm: 50 } as const;

/** Public addresses inside the generated networks, by what the City database says of them. */
export const IP = {
  london: '81.2.69.160',
  london2: '81.2.69.7',
  paris: '2.16.7.10',
  tokyo: '1.0.16.5',
  sydney: '1.128.0.9',
  newYork: '12.0.1.20',
  saoPaulo: '177.0.3.4',
  frankfurt: '5.9.10.11',
  brussels: '91.183.2.3',
  /** IPv6, in Tokyo. */
  tokyoV6: '2400:4050:1::5',
  /** Spain, country level, accuracy radius 1000 km. */
  spainWideRadius: '62.0.4.5',
  /** South Africa: country known, no location. */
  countryNoLocation: '41.0.9.9',
  /** Kenya: ISO code and coordinates only, no names. */
  countryCodeOnly: '102.128.1.1',
  /** Public, valid, and in no network of the database. */
  unknown: '45.67.89.10',
} as const;

/**
 * Non-public addresses the City database locates anyway, each far from London so that a broken
 * range rule would raise an alert. `place` is where the database puts it.
 */
export const NON_PUBLIC = [
  { range: 'RFC 1918 10/8', ip: '10.1.2.3', place: 'newYork' },
  { range: 'RFC 1918 172.16/12', ip: '172.20.1.1', place: 'sydney' },
  { range: 'RFC 1918 192.168/16', ip: '192.168.10.20', place: 'tokyo' },
  { range: 'CGNAT 100.64/10', ip: '100.64.5.5', place: 'saoPaulo' },
  { range: 'link-local 169.254/16', ip: '169.254.169.254', place: 'tokyo' },
  { range: 'loopback 127/8', ip: '127.0.0.1', place: 'sydney' },
  { range: 'documentation 192.0.2/24', ip: '192.0.2.10', place: 'sydney' },
  { range: 'documentation 198.51.100/24', ip: '198.51.100.7', place: 'tokyo' },
  { range: 'documentation 203.0.113/24', ip: '203.0.113.99', place: 'newYork' },
  { range: 'IPv6 ULA fc00::/7', ip: 'fd12:3456::1', place: 'tokyo' },
  { range: 'IPv6 documentation 2001:db8::/32', ip: '2001:db8:1::1', place: 'sydney' },
  { range: 'IPv6 link-local fe80::/10', ip: 'fe80::1', place: 'tokyo' },
  { range: 'IPv4-mapped private ::ffff:10.0.0.0/104', ip: '::ffff:10.9.8.7', place: 'newYork' },
] as const satisfies readonly { range: string; ip: string; place: PlaceName }[];

const NON_PUBLIC_NETWORKS: [string, PlaceName][] = [
  ['10.0.0.0/8', 'newYork'],
  ['172.16.0.0/12', 'sydney'],
  ['192.168.0.0/16', 'tokyo'],
  ['100.64.0.0/10', 'saoPaulo'],
  ['169.254.0.0/16', 'tokyo'],
  ['127.0.0.0/8', 'sydney'],
  ['192.0.2.0/24', 'sydney'],
  ['198.51.100.0/24', 'tokyo'],
  ['203.0.113.0/24', 'newYork'],
  ['fd00::/8', 'tokyo'],
  ['2001:db8::/32', 'sydney'],
  ['fe80::/10', 'tokyo'],
];

// ------------------------------------------------------------------------------------ records in the two schemas

/** A GeoIP2-City record as MaxMind writes it (names in two languages, uint16 radius, float coordinates). */
export function maxmindCityRecord(p: Place, geonameId: number): MmdbValue {
  const country = { geoname_id: geonameId + 1, iso_code: p.iso, names: { en: p.country, de: `${p.country} (de)` } };
  return {
    city: { geoname_id: geonameId, names: { en: p.city, 'zh-CN': `${p.city} (zh)` } },
    continent: { code: 'XX', geoname_id: 6255148, names: { en: 'Somewhere' } },
    country,
    location: {
      accuracy_radius: typed('uint16', p.radiusKm),
      latitude: typed('double', p.lat),
      longitude: typed('double', p.lon),
      time_zone: 'Etc/UTC',
    },
    registered_country: country,
    subdivisions: [{ geoname_id: geonameId + 2, iso_code: 'XX', names: { en: p.region } }],
  };
}

/** A DB-IP Lite City record as ip-location-db repackages it: flat, ISO code only, no radius. */
export function dbipRecord(p: Place): MmdbValue {
  return {
    city: p.city,
    country_code: p.iso,
    latitude: typed('float', p.lat),
    longitude: typed('float', p.lon),
    postcode: '',
    state1: p.region,
    state2: '',
    timezone: '',
  };
}

const PUBLIC_NETWORKS: [string, PlaceName][] = [
  ['81.2.69.0/24', 'london'],
  ['2.16.0.0/16', 'paris'],
  ['1.0.16.0/20', 'tokyo'],
  ['1.128.0.0/16', 'sydney'],
  ['12.0.0.0/16', 'newYork'],
  ['177.0.0.0/16', 'saoPaulo'],
  ['5.9.0.0/16', 'frankfurt'],
  ['91.183.0.0/16', 'brussels'],
  ['2400:4050::/32', 'tokyo'],
];

/** The entries of the GeoIP2-City-shaped database (exported so a test can write a variant). */
export function cityEntries(): MmdbEntry[] {
  const entries: MmdbEntry[] = [];
  let geonameId = 1000;
  for (const [network, place] of [...PUBLIC_NETWORKS, ...NON_PUBLIC_NETWORKS]) {
    entries.push({ network, data: maxmindCityRecord(PLACES[place], (geonameId += 10)) });
  }
  entries.push({
    network: '62.0.0.0/16',
    data: {
      country: { geoname_id: 2510769, iso_code: SPAIN_COUNTRY_LEVEL.iso, names: { en: SPAIN_COUNTRY_LEVEL.country } },
      location: {
        accuracy_radius: typed('uint16', SPAIN_COUNTRY_LEVEL.radiusKm),
        latitude: typed('double', SPAIN_COUNTRY_LEVEL.lat),
        longitude: typed('double', SPAIN_COUNTRY_LEVEL.lon),
      },
    },
  });
  entries.push({
    network: '41.0.0.0/16',
    data: { country: { geoname_id: 953987, iso_code: 'ZA', names: { en: 'South Africa' } } },
  });
  entries.push({
    network: '102.128.0.0/16',
    data: {
      country: { iso_code: KENYA_CODE_ONLY.iso },
      location: {
        accuracy_radius: typed('uint16', KENYA_CODE_ONLY.radiusKm),
        latitude: typed('double', KENYA_CODE_ONLY.lat),
        longitude: typed('double', KENYA_CODE_ONLY.lon),
      },
    },
  });
  return entries;
}

/** IPv4 entries of the DB-IP-shaped v4 file and IPv6 entries of its v6 file. */
export const DBIP_NETWORKS = {
  v4: [
    ['81.2.69.0/24', 'london'],
    ['1.0.16.0/20', 'tokyo'],
    ['2.16.0.0/16', 'paris'],
  ] as [string, PlaceName][],
  v6: [
    ['2a00:23c0::/29', 'london'],
    ['2400:4050::/32', 'tokyo'],
  ] as [string, PlaceName][],
};
export const DBIP_IP = { londonV6: '2a00:23c0:1::1', tokyoV6: '2400:4050::9' } as const;

export function writeCityDb(path: string, entries: MmdbEntry[] = cityEntries(), databaseType = 'GeoIP2-City'): void {
  writeMmdb(path, entries, {
    databaseType,
    ipVersion: 6,
    languages: ['de', 'en', 'zh-CN'],
    description: { en: 'impossible-travel test City database (generated)' },
    buildEpoch: 1_717_000_000,
  });
}

export interface GeoFixture {
  readonly dir: string;
  /** GeoIP2-City-shaped, IPv6 tree with IPv4 under ::/96. */
  readonly cityPath: string;
  /** DB-IP Lite City, IPv4 file (`databaseType` "city ipv4"). */
  readonly dbipV4Path: string;
  /** DB-IP Lite City, IPv6 file (`databaseType` "city ipv6"). */
  readonly dbipV6Path: string;
}

let fixture: GeoFixture | undefined;

/** Builds the databases on first use; the folder goes when the test process exits. */
export function geoFixture(): GeoFixture {
  if (fixture) return fixture;
  const dir = mkdtempSync(join(tmpdir(), 'impossible-travel-geo-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const cityPath = join(dir, 'test-city.mmdb');
  const dbipV4Path = join(dir, 'dbip-city-ipv4.mmdb');
  const dbipV6Path = join(dir, 'dbip-city-ipv6.mmdb');
  writeCityDb(cityPath);
  writeMmdb(
    dbipV4Path,
    DBIP_NETWORKS.v4.map(([network, place]) => ({ network, data: dbipRecord(PLACES[place]) })),
    { databaseType: 'city ipv4', ipVersion: 4, buildEpoch: 1_717_000_000 },
  );
  writeMmdb(
    dbipV6Path,
    DBIP_NETWORKS.v6.map(([network, place]) => ({ network, data: dbipRecord(PLACES[place]) })),
    { databaseType: 'city ipv6', ipVersion: 6, ipv4Aliases: false, buildEpoch: 1_717_000_000 },
  );
  fixture = { dir, cityPath, dbipV4Path, dbipV6Path };
  return fixture;
}

let sharedCity: GeoIpDatabase | undefined;

/** One GeoIpDatabase over the City fixture for the whole run (no reload timer). */
export function cityDatabase(): GeoIpDatabase {
  sharedCity ??= new GeoIpDatabase({ paths: [geoFixture().cityPath], reloadIntervalMs: 0, cacheSize: 10_000 });
  return sharedCity;
}

// ------------------------------------------------------------------------------------ pipeline

/** The service's defaults (server/config.ts), spelled out so a test reads its thresholds here. */
export const DEFAULT_DETECTION: DetectionConfig = {
  minDistanceKm: 500,
  maxSpeedKmh: 1000,
  suppressionWindowMs: 24 * 3_600_000,
  historyMaxLocations: 16,
  historyMaxAgeMs: 24 * 3_600_000,
  baselineLearningDays: 0,
  allowCidrs: [],
  allowPrincipals: [],
  allowAccessKeys: [],
};

export interface TestPipeline {
  readonly pipeline: Pipeline;
  readonly store: MemoryStateStore;
  readonly geoip: GeoIpDatabase;
  readonly detection: DetectionConfig;
  run(records: readonly unknown[]): Promise<BatchResult>;
}

/** The standard pipeline over the generated City database and a fresh memory store. */
export function testPipeline(
  overrides: Partial<DetectionConfig> = {},
  parts: { geoip?: GeoIpDatabase; store?: MemoryStateStore } = {},
): TestPipeline {
  const detection: DetectionConfig = { ...DEFAULT_DETECTION, ...overrides };
  const geoip = parts.geoip ?? cityDatabase();
  const store = parts.store ?? new MemoryStateStore({ maxKeys: 10_000, maxPrincipals: 10_000 });
  const pipeline = createPipeline({ detection, geoip, store, log: silentLogger() });
  return { pipeline, store, geoip, detection, run: (records) => pipeline.run(records) };
}

// ------------------------------------------------------------------------------------ records

export type IdentityType = 'IAMUser' | 'AssumedRole' | 'Root' | 'FederatedUser' | 'AWSService';

export interface RecordSpec {
  /** accessKeyId; omitted from the record when undefined. */
  readonly key?: string | undefined;
  /** sourceIPAddress (an address, a service host name or "AWS Internal"). */
  readonly ip: string;
  /** Event time: ISO text, Date or epoch milliseconds (CloudTrail keeps whole seconds). */
  readonly at: string | number | Date;
  readonly type?: IdentityType;
  readonly account?: string;
  /** IAMUser user name, FederatedUser name, or the user that issued a federation token. */
  readonly user?: string;
  readonly role?: string;
  /** AssumedRole session name. */
  readonly session?: string;
  readonly eventId?: string;
  readonly eventName?: string;
  readonly eventSource?: string;
  readonly region?: string;
  /** Merged last, at the top level of the record. */
  readonly extra?: Doc;
}

export const ACCOUNT = '123456789012';
export const T0 = Date.parse('2024-03-04T09:00:00Z');
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

function toMs(at: string | number | Date): number {
  const ms = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : at.getTime();
  if (!Number.isFinite(ms)) throw new Error(`cloudTrailRecord: bad time ${String(at)}`);
  return ms;
}

/** CloudTrail's eventTime: UTC, whole seconds, "Z". */
export function eventTime(at: string | number | Date): string {
  return new Date(Math.floor(toMs(at) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function idFor(prefix: string, text: string): string {
  return prefix + createHash('sha256').update(text).digest('hex').slice(0, 17).toUpperCase();
}

export function userIdentity(spec: Omit<RecordSpec, 'ip' | 'at'>, atMs: number): Doc {
  const account = spec.account ?? ACCOUNT;
  const type = spec.type ?? 'IAMUser';
  const withKey = (identity: Doc): Doc => (spec.key === undefined ? identity : { ...identity, accessKeyId: spec.key });
  const created = eventTime(atMs - 15 * MINUTE);
  switch (type) {
    case 'IAMUser': {
      const user = spec.user ?? 'alice';
      return withKey({
        type,
        principalId: idFor('AIDA', `${account}/${user}`),
        arn: `arn:aws:iam::${account}:user/${user}`,
        accountId: account,
        userName: user,
      });
    }
    case 'AssumedRole': {
      const role = spec.role ?? 'DeployRole';
      const session = spec.session ?? 'deploy-session';
      const roleId = idFor('AROA', `${account}/${role}`);
      return withKey({
        type,
        principalId: `${roleId}:${session}`,
        arn: `arn:aws:sts::${account}:assumed-role/${role}/${session}`,
        accountId: account,
        sessionContext: {
          sessionIssuer: { type: 'Role', principalId: roleId, arn: `arn:aws:iam::${account}:role/${role}`, accountId: account, userName: role },
          webIdFederationData: {},
          attributes: { creationDate: created, mfaAuthenticated: 'false' },
        },
      });
    }
    case 'Root':
      return withKey({ type, principalId: account, arn: `arn:aws:iam::${account}:root`, accountId: account });
    case 'FederatedUser': {
      const name = spec.user ?? 'bob';
      const issuer = 'token-issuer';
      return withKey({
        type,
        principalId: `${account}:${name}`,
        arn: `arn:aws:sts::${account}:federated-user/${name}`,
        accountId: account,
        sessionContext: {
          sessionIssuer: {
            type: 'IAMUser',
            principalId: idFor('AIDA', `${account}/${issuer}`),
            arn: `arn:aws:iam::${account}:user/${issuer}`,
            accountId: account,
            userName: issuer,
          },
          webIdFederationData: {},
          attributes: { creationDate: created, mfaAuthenticated: 'false' },
        },
      });
    }
    case 'AWSService':
      return withKey({ type, invokedBy: spec.eventSource ?? 'ec2.amazonaws.com' });
  }
}

/**
 * A CloudTrail management event as it appears in an S3 log file. The same inputs always give the
 * same eventID (as a replayed record would); give `eventId` for two distinct events that share
 * key, address, second and event name.
 */
export function cloudTrailRecord(spec: RecordSpec): Doc {
  const atMs = toMs(spec.at);
  const time = eventTime(atMs);
  const eventName = spec.eventName ?? 'DescribeInstances';
  const eventSource = spec.eventSource ?? 'ec2.amazonaws.com';
  const account = spec.account ?? ACCOUNT;
  const seed = `${spec.type ?? 'IAMUser'}|${spec.key ?? ''}|${spec.ip}|${time}|${eventName}|${spec.user ?? ''}|${spec.session ?? ''}`;
  const service = spec.type === 'AWSService';
  return {
    eventVersion: '1.09',
    userIdentity: userIdentity(spec, atMs),
    eventTime: time,
    eventSource,
    eventName,
    awsRegion: spec.region ?? 'eu-west-1',
    sourceIPAddress: spec.ip,
    userAgent: service ? eventSource : 'aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8',
    requestParameters: { maxResults: 50 },
    responseElements: null,
    requestID: uuidFrom(`request|${seed}`),
    eventID: spec.eventId ?? uuidFrom(`event|${seed}`),
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
    ...(service ? {} : { tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: `ec2.${spec.region ?? 'eu-west-1'}.amazonaws.com` } }),
    ...spec.extra,
  };
}

// ------------------------------------------------------------------------------------ independent geometry

/**
 * Great-circle distance by the spherical law of cosines: a different formula from the product's
 * haversine, on the same sphere (IUGG mean radius), so a test checks the product's arithmetic
 * rather than repeating it.
 */
export function greatCircleKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const r = Math.PI / 180;
  const cos = Math.sin(a.lat * r) * Math.sin(b.lat * r) + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.cos((b.lon - a.lon) * r);
  return 6371.0088 * Math.acos(Math.min(1, Math.max(-1, cos)));
}

export function placeDistanceKm(a: PlaceName, b: PlaceName): number {
  return greatCircleKm(PLACES[a], PLACES[b]);
}

/** Alerts by their id, for comparing alert sets whatever the emission order. */
export function alertIds(alerts: readonly Doc[]): string[] {
  return alerts.map((a) => (a.impossible_travel as { alert_id: string }).alert_id).sort();
}
