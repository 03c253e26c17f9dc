import { EventEmitter } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { Reader, type Response } from 'maxmind';
import { ServiceError } from '../server/errors.js';
import { GenerationalCache } from './generational-cache.js';
import { canonicalIpOf, ipv4Value, isIpv6, isPublicIp, isPublicIpv4 } from './ip-ranges.js';
import { share } from './shared.js';
import type { GeoResult } from './types.js';

/**
 * City databases in the MMDB format: MaxMind GeoIP2/GeoLite2 City and DB-IP Lite as repackaged by
 * ip-location-db. Several files may serve together (DB-IP ships IPv4 and IPv6 apart); an IPv4
 * address is looked up in the files that can hold it, the first answer wins. Files are re-read
 * when they change on disk, so a monthly update needs no restart.
 */

/**
 * The fields we read from either schema. MaxMind nests (`city.names.en`, `location.latitude`);
 * DB-IP Lite is flat (`city`, `country_code`, `latitude`). Both are typed loosely on purpose: a
 * database is outside input and every field is checked before use.
 */
interface AnyCityRecord {
  city?: string | { names?: Record<string, string> };
  country?: { iso_code?: string; names?: Record<string, string> };
  registered_country?: { iso_code?: string; names?: Record<string, string> };
  subdivisions?: { names?: Record<string, string> }[];
  location?: { latitude?: number; longitude?: number; accuracy_radius?: number };
  country_code?: string;
  state1?: string;
  latitude?: number;
  longitude?: number;
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

const countryNames = new Map<string, string | undefined>();

/** Country names from ISO 3166-1 codes, for databases that carry only the code (DB-IP Lite). */
export function countryNameFromIso(iso: string | undefined): string | undefined {
  if (!iso || !/^[A-Za-z]{2}$/.test(iso)) return undefined;
  if (countryNames.has(iso)) return countryNames.get(iso);
  let name: string | undefined;
  try {
    name = regionNames.of(iso.toUpperCase());
  } catch {
    name = undefined;
  }
  if (name === 'Unknown Region') name = undefined;
  countryNames.set(iso, name); // at most a few hundred codes
  return name;
}

/**
 * Databases store coordinates as float32 (DB-IP: 41.03150177001953); four decimals (about 11 m)
 * say all they know, and print shorter.
 */
const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Maps either schema onto our GeoResult; undefined when the record says nothing useful. */
export function toGeoResult(record: AnyCityRecord): GeoResult | undefined {
  const country = record.country ?? record.registered_country;
  const countryIsoCode = nonEmpty(country?.iso_code) ?? nonEmpty(record.country_code);
  const countryName = nonEmpty(country?.names?.en) ?? countryNameFromIso(countryIsoCode);
  const cityName = typeof record.city === 'string' ? nonEmpty(record.city) : nonEmpty(record.city?.names?.en);
  const regionName = nonEmpty(record.subdivisions?.[0]?.names?.en) ?? nonEmpty(record.state1);
  const lat = finite(record.location?.latitude) ?? finite(record.latitude);
  const lon = finite(record.location?.longitude) ?? finite(record.longitude);
  const location =
    lat !== undefined && lon !== undefined && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat: round4(lat), lon: round4(lon) } : undefined;
  if (!countryIsoCode && !cityName && !location) return undefined;
  // A radius below 0 would make the decision distance longer than the distance: read as none.
  const accuracyRadiusKm = Math.max(0, finite(record.location?.accuracy_radius) ?? 0);
  const placeKey = cityName
    ? `${countryIsoCode ?? ''}|${regionName ?? ''}|${cityName}`
    : location
      ? `${countryIsoCode ?? ''}|@${location.lat.toFixed(2)},${location.lon.toFixed(2)}`
      : `${countryIsoCode ?? ''}|`;
  return { cityName, countryName, countryIsoCode, regionName, location, accuracyRadiusKm, placeKey };
}

interface LoadedFile {
  readonly path: string;
  readonly reader: Reader<Response>;
  readonly ipVersion: number;
  readonly signature: string;
}

function fileSignature(path: string): string {
  const st = statSync(path);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

function loadFile(path: string, recordCacheSize: number): LoadedFile {
  let buffer: Buffer;
  let signature: string;
  try {
    signature = fileSignature(path);
    buffer = readFileSync(path);
  } catch (err) {
    throw new ServiceError('geoip_unavailable', `cannot read GeoIP database ${path}: ${(err as Error).message}`);
  }
  let reader: Reader<Response>;
  try {
    // Many addresses share one record (a city's networks point at one entry of the data section),
    // so the reader caches decoded records by their offset: a new address in a known city costs a
    // walk down the tree, and the record comes back as the same object (see GeoIpDatabase.place).
    reader = new Reader<Response>(buffer, recordCacheSize > 0 ? { cache: new LRUCache<number, object>({ max: recordCacheSize }) } : {});
  } catch (err) {
    throw new ServiceError('geoip_unavailable', `${path} is not a MaxMind DB (MMDB) file: ${(err as Error).message}`);
  }
  const type = reader.metadata.databaseType ?? '';
  if (!/city/i.test(type)) {
    throw new ServiceError('geoip_unavailable', `${path} is a "${type}" database; a City database is needed (GeoLite2-City, GeoIP2-City or DB-IP City Lite)`);
  }
  return { path, reader, ipVersion: reader.metadata.ipVersion, signature };
}

/** Everything the pipeline needs to know about one address, worked out once and cached. */
export interface AddressInfo {
  /** The canonical form (IPv4-mapped IPv6 reduced), one string shared by every document that uses it. */
  readonly ip: string;
  /** Public and routable: may take part in travel. */
  readonly routable: boolean;
  readonly geo: GeoResult | undefined;
  /**
   * `source.geo` as documents carry it (ECS names), built once: every document from the address
   * shares this one object, so nothing may change it. (Not frozen: JSON.stringify writes frozen
   * objects measurably slower.)
   */
  readonly ecsGeo: Readonly<Record<string, unknown>> | undefined;
  /**
   * `source` as documents from this address carry it, `{address, ip, geo}` with `address` and `ip`
   * the text looked up (`geo` left out when the address is not located): one object shared by all
   * of them (processors/shared.ts), so nothing may change it.
   */
  readonly ecsSource: Readonly<Record<string, unknown>>;
}

/** The ECS `source.geo` object for a place; absent parts are left out, not written as null. */
export function toEcsGeo(geo: GeoResult): Readonly<Record<string, unknown>> {
  const ecs: Record<string, unknown> = {};
  if (geo.cityName !== undefined) ecs.city_name = geo.cityName;
  if (geo.countryName !== undefined) ecs.country_name = geo.countryName;
  if (geo.countryIsoCode !== undefined) ecs.country_iso_code = geo.countryIsoCode;
  if (geo.regionName !== undefined) ecs.region_name = geo.regionName;
  if (geo.location !== undefined) ecs.location = { lat: geo.location.lat, lon: geo.location.lon };
  return ecs;
}

/**
 * The network an address lies in: an IPv4 address's /24 as a number (its value without the last
 * octet: `v4` is `ipv4Value(address)`), an IPv6 address's /48 as the text of its first three
 * groups when written out before any `::`. Undefined where an IPv6 text does not show them
 * plainly (`2001:db8::1`, a zone id).
 */
export function networkKey(address: string, v4: number): string | number | undefined {
  if (v4 >= 0) return v4 >>> 8;
  // A zone id (`%eth0`) may hold anything, `::` and groups included (Node's isIP accepts it).
  if (address.includes('%')) return undefined;
  let colon = -1;
  for (let i = 0; i < 3; i++) {
    colon = address.indexOf(':', colon + 1);
    if (colon <= 0) return undefined;
  }
  return address.slice(0, colon + 1).includes('::') ? undefined : address.slice(0, colon);
}

export interface GeoIpDatabaseOptions {
  readonly paths: readonly string[];
  /** How often files are checked for a change; 0 turns the check off. */
  readonly reloadIntervalMs: number;
  readonly cacheSize: number;
}

/** Where a database record places an address, worked out once per record. */
interface Place {
  readonly geo: GeoResult;
  readonly ecsGeo: Readonly<Record<string, unknown>>;
}

export class GeoIpDatabase extends EventEmitter {
  private files: LoadedFile[];
  /**
   * Keyed by address as the record carried it; dotted-quad IPv4 text by its value as a 32-bit
   * integer, which V8 keeps unboxed: no hash of the record's new string to compute and no stored
   * text to read and compare (each a likely CPU cache miss: the table is large and read at random).
   * The text of such an address is one per value (`ipv4Value` refuses leading zeros), so the two
   * keys name the same addresses. Every record pays a read here: one Map lookup on a hit.
   */
  private readonly cache: GenerationalCache<string | number, AddressInfo> | undefined;
  /**
   * Keyed by network (an IPv4 /24, an IPv6 /48), for networks the files answer alike throughout: a
   * new address in a known network costs no walk down the tree. Nearly every address lies in such
   * a network (DB-IP Lite's IPv4 networks are /24 or wider for ~97 % of located addresses), and new
   * addresses mostly come from known networks: NAT pools, mobile carriers, cloud ranges, and IPv6
   * hosts, whose addresses change daily.
   */
  private readonly networks: GenerationalCache<string | number, Place | null> | undefined;
  /** Per decoded record (the reader hands back one object per record while it caches it). */
  private places = new WeakMap<object, Place | null>();
  private timer: NodeJS.Timeout | undefined;
  lookups = 0;
  misses = 0;
  /** Addresses looked up in the files themselves: neither cache knew them. */
  treeLookups = 0;

  /** Opens every file now; throws a ServiceError naming the file when one cannot serve. */
  constructor(private readonly options: GeoIpDatabaseOptions) {
    super();
    if (options.paths.length === 0) throw new ServiceError('geoip_unavailable', 'no GeoIP database file given');
    this.files = options.paths.map((path) => loadFile(path, options.cacheSize));
    this.cache = options.cacheSize > 0 ? new GenerationalCache(options.cacheSize) : undefined;
    this.networks = options.cacheSize > 0 ? new GenerationalCache(options.cacheSize) : undefined;
    if (options.reloadIntervalMs > 0) {
      this.timer = setInterval(() => this.reloadIfChanged(), options.reloadIntervalMs);
      this.timer.unref();
    }
  }

  get description(): { path: string; type: string; buildEpoch: string; ipVersion: number }[] {
    return this.files.map((f) => ({
      path: f.path,
      type: f.reader.metadata.databaseType,
      buildEpoch: f.reader.metadata.buildEpoch.toISOString(),
      ipVersion: f.ipVersion,
    }));
  }

  /** Looks up a valid IP address (validate first: the reader reads "AWS Internal" as 0.0.0.0). */
  lookup(ip: string): GeoResult | undefined {
    return this.resolve(ip).geo;
  }

  /**
   * The address's canonical form, whether it is public, and where the database places it.
   * `v4Value` is `ipv4Value(ip)`, when the caller has it already.
   */
  resolve(ip: string, v4Value: number = ipv4Value(ip)): AddressInfo {
    this.lookups++;
    const key = v4Value >= 0 ? v4Value | 0 : ip;
    let info = this.cache?.get(key);
    if (!info) {
      // An address first seen: worked out from the value already in hand, not the text again.
      const address = canonicalIpOf(ip, v4Value);
      const v4 = v4Value >= 0 ? v4Value : address === ip ? -1 : ipv4Value(address);
      const place = this.lookupUncached(address, v4);
      const ecsSource = share(place ? { address: ip, ip, geo: place.ecsGeo } : { address: ip, ip });
      const routable = v4 >= 0 ? isPublicIpv4(v4) : isPublicIp(address);
      info = { ip: address, routable, geo: place?.geo, ecsGeo: place?.ecsGeo, ecsSource };
      this.cache?.set(key, info);
    }
    if (!info.geo) this.misses++;
    return info;
  }

  /** `v4` is `ipv4Value(address)`: -1 for anything but IPv4 text. */
  private lookupUncached(address: string, v4: number): Place | undefined {
    const family = v4 >= 0 ? 4 : isIpv6(address) ? 6 : 0;
    if (family === 0) return undefined;
    const network = this.networks ? networkKey(address, v4) : undefined;
    if (network !== undefined) {
      const known = this.networks!.get(network);
      if (known !== undefined) return known ?? undefined;
    }
    this.treeLookups++;
    // The address without its zone id: the reader would parse a zone's `::` and groups as the address's.
    const zone = family === 6 ? address.indexOf('%') : -1;
    const bare = zone === -1 ? address : address.slice(0, zone);
    let place: Place | undefined;
    // The longest prefix among the answers: the network every file answers alike for.
    let longestPrefixBits = 0;
    for (const file of this.files) {
      if (family === 6 && file.ipVersion === 4) continue;
      const [record, prefixBits] = file.reader.getWithPrefixLength(bare);
      if (prefixBits > longestPrefixBits) longestPrefixBits = prefixBits;
      if (record && typeof record === 'object') {
        place = this.place(record);
        if (place) break;
      }
    }
    if (network !== undefined && longestPrefixBits <= (family === 4 ? 24 : 48)) this.networks!.set(network, place ?? null);
    return place;
  }

  /**
   * The GeoResult and ECS object of a record, shared by every address the record covers: fewer
   * objects held by the address cache, and no mapping per new address of a known place.
   */
  private place(record: object): Place | undefined {
    let place = this.places.get(record);
    if (place === undefined) {
      const geo = toGeoResult(record as AnyCityRecord);
      place = geo ? { geo, ecsGeo: share(toEcsGeo(geo)) } : null;
      this.places.set(record, place);
    }
    return place ?? undefined;
  }

  /** Re-reads the files if any changed on disk; a broken new file is reported and the old one kept. */
  reloadIfChanged(): boolean {
    let changed: boolean;
    try {
      changed = this.files.some((f) => fileSignature(f.path) !== f.signature);
    } catch (err) {
      this.emit('reloadError', err);
      return false;
    }
    if (!changed) return false;
    try {
      this.files = this.options.paths.map((path) => loadFile(path, this.options.cacheSize));
    } catch (err) {
      this.emit('reloadError', err);
      return false;
    }
    this.cache?.clear();
    this.networks?.clear();
    this.places = new WeakMap();
    this.emit('reload', this.description);
    return true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
