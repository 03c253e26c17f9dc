/**
 * Synthetic CloudTrail, deterministic from a seed, for benchmarks, end-to-end runs and demos.
 *
 * The records have the shape of real CloudTrail (modelled on public samples: S3-delivered log
 * files, CloudWatch Logs payloads, Logstash exports): `eventVersion`, a `userIdentity` of type
 * IAMUser / AssumedRole / Root / FederatedUser / AWSService (or none, for service events),
 * `eventTime` at one-second resolution, `eventSource`/`eventName` from a catalogue of common API
 * calls with their `requestParameters`, `responseElements`, `resources`, `additionalEventData`,
 * `errorCode`s, `tlsDetails` and so on.
 *
 * The population behind them:
 *  - `keys` access keys (AKIA long-term user keys, ASIA session keys of SSO users, EC2 instance
 *    profiles and Lambda functions, a few root and federated keys), in a few dozen accounts, with
 *    skewed activity: some keys are busy, most are occasional;
 *  - a person works from one metropolitan area (61 of them, on every continent): one home and one
 *    office address used over and over, now and then another address of the same city (mobile,
 *    café), sometimes IPv6; a few fly to another city during the period and then work from a
 *    hotel there, with a gap at least as long as the flight (no alert is due for them);
 *  - a workload calls from its AWS region: an instance's fixed public address, Lambda's changing
 *    ones, or a private 10.x address behind a VPC endpoint;
 *  - records whose `sourceIPAddress` locates nothing: `AWS Internal` (console), service names
 *    such as `cloudformation.amazonaws.com` (calls made on a user's behalf), AWSService identities;
 *  - every `impossibleEvery` records, a genuine impossible journey: a person's key, used at home
 *    minutes before, is used from a city at least 4,000 km away (1 to 3 calls). These are
 *    reported as `Incident`s, so a caller can check the alerts it gets.
 *
 * Addresses are real public addresses: each city has /24 networks (and for some, IPv6 /48s) that
 * the DB-IP Lite City database (June 2026 release, the one `scripts/geoip.sh` installs) places in
 * that city, every host of the /24 alike; the AWS regions have Amazon-owned /24s the database
 * places at the region's data centres. Another database, or a later release, may place a few of
 * them elsewhere: the benchmark prints how many records were located.
 *
 * Times increase (exponential gaps, `durationMs` in all), and CloudTrail's delivery is imitated:
 * records come in 5-minute windows, shuffled inside each window, as the service receives them.
 */

/** A CloudTrail record as JSON gives it. */
export type CloudTrailRecord = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Eight lowercase hex digits of a 32-bit integer. */
function hex8(x: number): string {
  return HEX_BYTE[x >>> 24]! + HEX_BYTE[(x >>> 16) & 255]! + HEX_BYTE[(x >>> 8) & 255]! + HEX_BYTE[x & 255]!;
}

/** A small, fast, seeded PRNG (sfc32, seeded through splitmix32). Same seed, same sequence. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let out = '';
    while (out.length < n) out += hex8(this.uint32());
    return out.length === n ? out : out.slice(0, n);
  }

  /** `n` characters of `alphabet`. */
  chars(n: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }

  /** A version-4 UUID, as CloudTrail's `eventID`. */
  uuid(): string {
    const a = this.uint32();
    const b = this.uint32();
    const c = this.uint32();
    const d = this.uint32();
    const h = hex8(b);
    const version = hex8(((c & 0x0fffffff) | 0x40000000) >>> 0);
    const variant = hex8(((d & 0x3fffffff) | 0x80000000) >>> 0);
    return `${hex8(a)}-${h.slice(0, 4)}-${version.slice(0, 4)}-${variant.slice(0, 4)}-${h.slice(4)}${version.slice(4)}${variant.slice(4)}`;
  }

  /** In place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}

// ---------------------------------------------------------------------------------------------
// Places

/** A city people work from, with networks the GeoIP database places there. */
export interface Metro {
  readonly name: string;
  readonly countryIsoCode: string;
  readonly lat: number;
  readonly lon: number;
  /** Relative share of the people who live there. */
  readonly weight: number;
  /** /24 networks, as their first three octets ("24.0.7"). */
  readonly v4: readonly string[];
  /** /48 networks, as their first three groups ("2a01:cb00:25"); empty for most cities. */
  readonly v6: readonly string[];
}

/** An AWS region, with Amazon-owned /24s the GeoIP database places at its data centres. */
export interface AwsRegion {
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
  readonly v4: readonly string[];
}

function metro(name: string, countryIsoCode: string, lat: number, lon: number, weight: number, v4: string, v6 = ''): Metro {
  return { name, countryIsoCode, lat, lon, weight, v4: v4.split(' '), v6: v6 ? v6.split(' ') : [] };
}

function region(name: string, lat: number, lon: number, v4: string): AwsRegion {
  return { name, lat, lon, v4: v4.split(' ') };
}

// Each /24 below: every host .1-.254 in the same city per DB-IP Lite City (2026-06), within 40 km of the centre given.
export const METROS: readonly Metro[] = [
  metro('New York', 'US', 40.71, -74.01, 10, '24.0.7 27.118.39 31.12.71 37.19.199 41.187.7 46.18.7 50.2.231 62.105.199', '2601:18c:103 2601:18c:128 2601:18c:14d'),
  metro('Los Angeles', 'US', 34.05, -118.24, 7, '5.10.199 24.5.231 31.58.71 46.3.7 50.1.135 58.31.135 59.81.7 61.101.231'),
  metro('Chicago', 'US', 41.88, -87.63, 6, '24.1.39 31.222.231 46.248.135 50.30.7 65.26.167 68.20.39 69.4.7 71.25.199'),
  metro('Dallas', 'US', 32.78, -96.8, 5, '1.179.103 24.27.7 31.98.167 37.202.199 46.168.7 50.2.135 65.26.135 67.10.7'),
  metro('Seattle', 'US', 47.61, -122.33, 5, '1.178.71 5.174.71 24.16.39 31.1.7 49.128.231 50.2.7 65.6.135 67.34.7'),
  metro('San Francisco', 'US', 37.77, -122.42, 7, '24.4.39 31.59.231 37.16.7 46.28.199 50.0.71 65.59.167 67.99.199 68.22.135'),
  metro('Atlanta', 'US', 33.75, -84.39, 4, '24.30.7 31.25.199 50.20.7 65.5.7 67.27.135 68.9.7 69.1.199 70.23.7'),
  metro('Miami', 'US', 25.76, -80.19, 3, '24.91.39 31.204.7 50.73.7 62.108.135 67.23.71 68.74.135 69.25.167 70.105.71'),
  metro('Denver', 'US', 39.74, -104.99, 3, '24.8.39 46.34.39 50.74.7 67.21.135 68.64.167 69.0.7 70.39.71 72.10.71'),
  metro('Boston', 'US', 42.36, -71.06, 4, '5.182.199 24.2.135 31.97.7 50.78.7 59.151.167 60.254.135 65.44.39 67.88.39'),
  metro('Toronto', 'CA', 43.65, -79.38, 4, '24.50.39 50.21.71 65.8.7 67.21.231 68.68.7 69.10.231 70.24.7 71.19.7', '2607:fea8:0 2607:fea8:25 2607:fea8:4a'),
  metro('Vancouver', 'CA', 49.28, -123.12, 2, '24.80.7 50.64.7 65.7.39 68.182.39 69.9.71 70.68.7 72.1.71 74.3.167'),
  metro('Mexico City', 'MX', 19.43, -99.13, 3, '5.105.231 46.202.7 72.57.231 74.244.103 82.41.71 93.152.39 94.74.71 98.97.7'),
  metro('São Paulo', 'BR', -23.55, -46.63, 5, '1.178.39 31.97.167 37.72.135 62.245.7 67.159.231 69.41.39 72.60.7 74.50.7'),
  metro('Buenos Aires', 'AR', -34.6, -58.38, 2, '24.232.7 74.244.135 88.218.167 91.212.103 98.97.135 101.45.7 108.139.103 119.8.71'),
  metro('Bogotá', 'CO', 4.71, -74.07, 2, '72.46.231 94.199.7 96.7.7 98.98.7 144.225.199 148.222.199 149.56.39 152.200.7'),
  metro('Santiago', 'CL', -33.45, -70.67, 1, '68.211.7 69.94.135 83.160.7 101.44.7 110.238.71 129.91.7 131.108.71 132.255.71'),
  metro('London', 'GB', 51.51, -0.13, 8, '1.178.167 24.110.71 31.6.7 37.1.103 41.132.167 46.16.7 50.7.199 58.1.135', '2a00:23c5:0 2a00:23c5:25 2a00:23c5:6f'),
  metro('Manchester', 'GB', 53.48, -2.24, 2, '5.151.135 31.56.135 37.10.71 46.37.167 72.62.7 77.44.7 78.86.39 79.66.7'),
  metro('Dublin', 'IE', 53.35, -6.26, 2, '1.178.7 5.179.71 31.88.135 37.0.7 46.7.7 50.93.103 62.9.7 65.52.71'),
  metro('Paris', 'FR', 48.86, 2.35, 5, '1.178.199 5.39.39 24.230.7 31.14.71 37.8.167 46.17.71 50.93.7 61.28.199', '2a01:cb00:0 2a01:cb00:25 2a01:cb00:4a'),
  metro('Berlin', 'DE', 52.52, 13.4, 4, '5.28.71 31.12.39 46.30.7 49.13.39 62.67.231 68.183.71 78.54.39 79.132.71', '2a02:8108:0 2a02:8108:25 2a02:8108:4a'),
  metro('Munich', 'DE', 48.14, 11.58, 3, '5.4.7 37.82.135 46.114.39 62.52.199 67.216.231 77.2.39 79.195.231 80.81.7'),
  metro('Frankfurt am Main', 'DE', 50.11, 8.68, 3, '24.40.135 31.15.71 37.1.167 46.29.39 49.51.135 50.2.39 62.24.7 65.62.71'),
  metro('Amsterdam', 'NL', 52.37, 4.9, 4, '1.118.39 5.10.71 24.132.71 31.13.231 37.10.39 41.206.103 46.8.231 50.7.135'),
  metro('Madrid', 'ES', 40.42, -3.7, 3, '1.178.231 5.40.135 31.4.7 37.10.167 46.6.7 59.153.39 62.14.7 65.8.231'),
  metro('Barcelona', 'ES', 41.39, 2.17, 2, '5.59.71 31.4.167 37.14.7 46.6.39 58.97.135 62.57.39 77.208.231 79.108.7'),
  metro('Milan', 'IT', 45.46, 9.19, 3, '5.8.103 31.26.7 37.9.231 46.141.7 62.13.167 67.27.231 72.146.7 79.0.103'),
  metro('Rome', 'IT', 41.9, 12.5, 2, '5.2.7 31.27.71 37.25.231 46.227.7 62.85.167 69.172.103 77.39.135 78.5.135'),
  metro('Zurich', 'CH', 47.37, 8.54, 2, '5.148.167 31.10.135 46.14.39 62.2.7 70.232.103 74.161.7 77.56.7 78.110.135'),
  metro('Stockholm', 'SE', 59.33, 18.07, 2, '24.206.103 31.15.39 37.2.7 46.39.103 50.7.39 62.3.135 65.9.7 70.34.199'),
  metro('Warsaw', 'PL', 52.23, 21.01, 3, '5.57.135 31.0.103 37.7.7 46.31.39 50.7.7 62.21.103 70.87.231 74.63.7'),
  metro('Prague', 'CZ', 50.08, 14.44, 1, '5.23.39 31.30.39 37.48.7 46.13.7 62.4.103 69.84.199 77.48.7 78.44.7', '2a00:1028:0 2a00:1028:25 2a00:1028:4a'),
  metro('Vienna', 'AT', 48.21, 16.37, 1, '5.11.7 31.12.7 37.186.7 41.66.71 46.17.231 62.13.199 68.210.7 77.72.167'),
  metro('Kyiv', 'UA', 50.45, 30.52, 2, '5.58.135 31.3.199 37.46.231 46.29.135 62.80.167 74.244.71 78.25.7 79.110.103'),
  metro('Istanbul', 'TR', 41.01, 28.98, 3, '5.11.135 24.133.135 31.3.7 37.77.7 46.1.7 62.29.7 77.67.167 78.135.103'),
  metro('Moscow', 'RU', 55.76, 37.62, 2, '5.3.71 31.6.103 37.1.7 46.8.39 62.5.135 72.4.71 77.37.135 78.24.7'),
  metro('Tel Aviv', 'IL', 32.09, 34.78, 2, '5.22.135 31.44.135 37.25.39 46.31.103 62.0.39 68.166.7 77.91.71 79.176.7'),
  metro('Dubai', 'AE', 25.2, 55.27, 2, '5.30.7 31.215.7 37.245.7 74.162.7 80.227.7 82.205.231 83.110.71 84.235.135'),
  metro('Riyadh', 'SA', 24.71, 46.68, 1, '5.41.39 31.166.7 37.16.39 46.18.167 50.60.39 62.120.7 72.1.231 77.30.7'),
  metro('Cairo', 'EG', 30.04, 31.24, 1, '41.32.7 62.114.39 69.161.135 80.75.167 81.10.7 82.129.135 84.36.39 101.46.71'),
  metro('Lagos', 'NG', 6.52, 3.38, 1, '41.58.7 62.173.39 80.88.7 96.0.39 102.36.135 105.112.39 108.139.199 129.18.7'),
  metro('Nairobi', 'KE', -1.29, 36.82, 1, '41.57.103 62.8.71 70.39.231 80.72.103 105.18.7 108.156.71 147.78.135 154.70.7'),
  metro('Johannesburg', 'ZA', -26.2, 28.05, 2, '41.0.7 69.67.39 80.95.7 82.206.135 83.101.71 84.8.135 86.38.71 87.101.7'),
  metro('Mumbai', 'IN', 19.08, 72.88, 4, '1.6.7 5.45.39 27.4.39 31.57.71 42.106.7 46.202.167 49.14.103 60.243.39', '2405:201:0 2405:201:25 2405:201:4a'),
  metro('Bengaluru', 'IN', 12.97, 77.59, 5, '1.186.7 27.4.199 49.203.71 59.88.7 62.112.7 72.163.135 91.108.71 95.164.167'),
  metro('Delhi', 'IN', 28.61, 77.21, 3, '1.22.7 27.4.167 36.255.135 42.104.7 49.47.71 58.2.7 59.91.39 60.254.71'),
  metro('Singapore', 'SG', 1.35, 103.82, 4, '1.32.135 5.199.167 27.54.7 31.207.7 36.3.167 37.35.39 39.109.135 42.60.7'),
  metro('Jakarta', 'ID', -6.2, 106.85, 2, '27.0.199 31.56.199 36.37.71 39.192.7 61.5.7 62.3.7 65.4.7 70.153.7'),
  metro('Bangkok', 'TH', 13.76, 100.5, 2, '1.0.135 27.55.7 46.202.39 49.0.71 58.8.7 61.7.199 65.9.199 72.56.135'),
  metro('Manila', 'PH', 14.6, 120.98, 2, '1.37.7 27.49.7 39.109.71 49.144.71 58.69.7 61.9.7 65.8.103 72.57.135'),
  metro('Ho Chi Minh City', 'VN', 10.82, 106.63, 1, '1.52.7 27.2.7 36.50.135 42.112.7 49.213.71 58.187.167 61.11.231 95.135.231'),
  metro('Hong Kong', 'HK', 22.32, 114.17, 2, '1.36.7 5.254.135 24.239.135 27.50.39 31.57.39 37.10.7 39.109.7 42.2.7'),
  metro('Shanghai', 'CN', 31.23, 121.47, 2, '1.15.7 27.113.135 39.144.39 42.159.135 49.52.7 58.24.7 59.77.7 60.63.7'),
  metro('Taipei', 'TW', 25.03, 121.57, 2, '1.32.199 5.42.167 27.51.7 31.40.231 36.224.7 39.1.39 42.0.71 49.158.7'),
  metro('Seoul', 'KR', 37.57, 126.98, 3, '1.11.7 27.1.7 36.38.7 39.4.7 42.8.7 49.1.7 58.29.7 59.0.103'),
  metro('Tokyo', 'JP', 35.68, 139.69, 5, '1.1.71 5.8.71 24.233.7 27.0.39 31.41.39 36.2.7 39.2.7 42.83.39', '2404:7a80:0 2404:7a80:25 2404:7a80:4a'),
  metro('Osaka', 'JP', 34.69, 135.5, 2, '27.80.39 36.10.7 42.83.7 49.104.7 58.88.7 59.128.199 60.32.71 61.86.7', '2400:4050:0 2400:4050:25 2400:4050:4a'),
  metro('Sydney', 'AU', -33.87, 151.21, 4, '1.40.7 24.233.135 27.0.71 31.186.39 36.255.39 37.209.199 41.180.135 42.62.199', '2001:8003:0 2001:8003:25 2001:8003:4a'),
  metro('Melbourne', 'AU', -37.81, 144.96, 3, '1.0.7 27.32.199 49.127.7 58.6.71 59.100.199 60.231.199 61.14.103 65.8.39'),
  metro('Auckland', 'NZ', -36.85, 174.76, 1, '5.60.39 27.252.71 49.50.199 58.28.7 60.234.7 62.204.39 65.8.135 101.53.199'),
];

export const AWS_REGIONS: readonly AwsRegion[] = [
  region('us-east-1', 39.04, -77.49, '3.5.7 3.89.7 18.173.71 18.213.135 52.0.199 52.22.103'),
  region('us-east-2', 39.96, -83.0, '3.5.103 18.116.39 18.116.231 18.117.167 18.118.103 18.119.39'),
  region('us-west-2', 45.84, -119.7, '3.30.7 3.45.71 18.246.199 52.13.71 52.26.199 52.42.71'),
  region('eu-west-1', 53.35, -6.26, '3.5.71 18.201.167 52.16.167 52.19.167 52.48.167 52.51.167'),
  region('eu-central-1', 50.11, 8.68, '3.5.135 3.67.167 3.71.231 3.76.71 3.100.135 3.119.199'),
  region('eu-west-2', 51.51, -0.13, '3.2.7 3.51.71 18.32.71 18.46.7 18.59.7 18.78.231'),
  region('ap-southeast-1', 1.35, 103.82, '3.0.7 3.1.135 18.136.135 18.139.7 18.140.135 18.142.7'),
  region('ap-northeast-1', 35.68, 139.65, '3.2.39 3.113.199 3.115.231 18.177.231 18.180.7 18.182.39'),
  region('ap-south-1', 18.96, 72.83, '3.6.7 3.6.167 3.7.71 3.7.231 3.108.135 3.109.39'),
  region('sa-east-1', -23.56, -46.64, '3.44.199 18.164.39 18.228.231 18.229.231 18.230.231 18.231.231'),
  region('ap-southeast-2', -33.87, 151.21, '3.5.167 3.25.103 3.26.231 3.104.39 3.105.167 3.107.39'),
];

/** How often each region is an account's home (us-east-1 dominates, as it does in practice). */
const REGION_WEIGHTS = [30, 8, 12, 10, 8, 5, 6, 6, 5, 3, 4];

/** Great-circle distance in km (spherical Earth), for choosing journeys. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A random IPv4 host of a random /24 of `networks` (hosts .1 to .254). */
function hostIn(rng: Rng, networks: readonly string[]): string {
  return `${rng.pick(networks)}.${rng.between(1, 254)}`;
}

/** A random address in the city: IPv4, or with probability `v6Share` IPv6 where the city has some. */
function metroAddress(rng: Rng, m: Metro, v6Share = 0.15): string {
  if (m.v6.length > 0 && rng.chance(v6Share)) {
    return `${rng.pick(m.v6)}:${rng.int(0x10000).toString(16)}:${rng.hex(4).replace(/^0+(?=.)/, '')}:${rng.hex(4).replace(/^0+(?=.)/, '')}:${rng.hex(4).replace(/^0+(?=.)/, '')}:${rng.hex(4).replace(/^0+(?=.)/, '')}`;
  }
  return hostIn(rng, m.v4);
}

function privateAddress(rng: Rng): string {
  return `10.${rng.int(256)}.${rng.int(256)}.${rng.between(4, 250)}`;
}

/** Picks an index with probability proportional to `cumulative[i] - cumulative[i - 1]`. */
function pickWeighted(rng: Rng, cumulative: readonly number[]): number {
  const total = cumulative[cumulative.length - 1]!;
  const x = rng.next() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function cumulate(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

const METRO_CUMULATIVE = cumulate(METROS.map((m) => m.weight));
const REGION_CUMULATIVE = cumulate(REGION_WEIGHTS);

// ---------------------------------------------------------------------------------------------
// Identities

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A bijection of 32-bit integers, so that distinct indexes give distinct, unordered-looking ids. */
function scramble32(x: number): number {
  x = Math.imul((x >>> 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

function base32(value: number, digits: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < digits; i++) {
    out = BASE32[v % 32] + out;
    v = Math.floor(v / 32);
  }
  return out;
}

/**
 * The access key id of key number `index` (0 to 2^32 - 1): `AKIA` (long-term) or `ASIA` (session)
 * and 16 base-32 characters, as AWS prints them. Distinct indexes give distinct ids, whatever the
 * account; the account only colours the first characters, as it does in real keys.
 */
export function accessKeyIdFor(index: number, temporary: boolean, accountId = '000000000000'): string {
  const account = base32(Number(accountId.slice(-7)) % 32 ** 5, 5);
  const unique = base32(scramble32(index), 7);
  const tail = base32(scramble32(index ^ 0x2545f491) % 32 ** 4, 4);
  return `${temporary ? 'ASIA' : 'AKIA'}${account}${unique}${tail}`;
}

const FIRST_NAMES = [
  'alice', 'bob', 'carlos', 'dana', 'emma', 'farid', 'grace', 'hiro', 'ines', 'jamal', 'kim', 'lena', 'mateo', 'nadia',
  'oliver', 'priya', 'quentin', 'rosa', 'sven', 'tariq', 'uma', 'victor', 'wen', 'xavier', 'yara', 'zoe', 'amara',
  'bjorn', 'chen', 'diego', 'elif', 'fatima', 'giulia', 'hannah', 'ivan', 'julia', 'kofi', 'lucas', 'mei', 'noah',
];
const LAST_NAMES = [
  'smith', 'garcia', 'muller', 'rossi', 'tanaka', 'kim', 'singh', 'silva', 'nowak', 'dubois', 'jansen', 'kowalski',
  'haddad', 'okafor', 'nguyen', 'cohen', 'larsen', 'novak', 'petrov', 'yilmaz', 'fernandez', 'wang', 'sato', 'brown',
];
const SSO_PERMISSION_SETS = ['AdministratorAccess', 'PowerUserAccess', 'ReadOnlyAccess', 'DeveloperAccess', 'BillingAccess'];
const APP_NAMES = [
  'orders', 'payments', 'checkout', 'catalog', 'search', 'auth', 'billing', 'reporting', 'ingest', 'etl', 'notifications',
  'inventory', 'shipping', 'analytics', 'media', 'ml-training', 'backup', 'audit', 'gateway', 'scheduler',
];
const ENVS = ['prod', 'staging', 'dev'];

type ActorKind = 'iam-user' | 'sso-user' | 'federated-user' | 'root' | 'instance-role' | 'lambda-role' | 'ci-user';

/** Share of each kind among keys. */
const KIND_WEIGHTS: readonly [ActorKind, number][] = [
  ['iam-user', 34],
  ['sso-user', 26],
  ['federated-user', 1],
  ['root', 0.5],
  ['instance-role', 24],
  ['lambda-role', 8],
  ['ci-user', 6.5],
];
const KIND_CUMULATIVE = cumulate(KIND_WEIGHTS.map(([, w]) => w));

const HUMAN_AGENTS = [
  'aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/sts.get-caller-identity',
  'aws-cli/2.17.20 Python/3.11.9 Linux/6.8.0-1012-aws exe/x86_64.ubuntu.24 prompt/off',
  'aws-cli/2.13.5 Python/3.11.4 Linux/4.14.255-314-253.539.amzn2.x86_64 exec-env/CloudShell exe/x86_64.amzn.2 prompt/off',
  'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69',
  'APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.43.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.152.0',
  'aws-sdk-go-v2/1.30.3 os/macos lang/go#1.22.5 md/GOOS#darwin md/GOARCH#arm64 api/sts#1.30.3',
];
const CONSOLE_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
];
const WORKLOAD_AGENTS = [
  'aws-sdk-java/2.25.16 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard',
  'aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10.214-223.815.amzn2.x86_64 lang/js md/nodejs#20.12.2 api/s3#3.556.0',
  'Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84',
  'aws-sdk-go/1.51.11 (go1.22.1; linux; amd64) amazon-ssm-agent/3.3.131.0',
  'aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/dynamodb#1.31.1',
];
const ATTACKER_AGENTS = [
  'aws-cli/1.22.34 Python/3.11.8 Linux/6.6.9-amd64 botocore/1.23.34',
  'Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-46-generic Botocore/1.29.165',
  'python-requests/2.31.0',
];

/** Resources of one account that API calls name. */
interface Account {
  readonly id: string;
  readonly region: AwsRegion;
  readonly buckets: readonly string[];
  readonly kmsKeys: readonly string[];
  readonly secrets: readonly string[];
  readonly parameters: readonly string[];
  readonly roles: readonly string[];
  readonly tables: readonly string[];
  readonly functions: readonly string[];
  readonly instances: readonly string[];
  readonly ssoRoleSuffix: string;
}

function makeAccount(rng: Rng): Account {
  const id = String(rng.between(100_000_000_000, 999_999_999_999));
  const reg = AWS_REGIONS[pickWeighted(rng, REGION_CUMULATIVE)]!;
  const app = (): string => `${rng.pick(APP_NAMES)}-${rng.pick(ENVS)}`;
  const list = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);
  return {
    id,
    region: reg,
    buckets: list(4, () => `${app()}-${rng.chars(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}`),
    kmsKeys: list(3, () => rng.uuid()),
    secrets: list(3, () => `${rng.pick(ENVS)}/${rng.pick(APP_NAMES)}/${rng.pick(['db-password', 'api-key', 'oauth-client', 'smtp'])}-${rng.chars(6, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')}`),
    parameters: list(5, () => `/${rng.pick(ENVS)}/${rng.pick(APP_NAMES)}/${rng.pick(['db/host', 'db/password', 'feature-flags', 'api/url', 'queue/url'])}`),
    roles: list(5, () => `${app()}-role`),
    tables: list(3, () => `${app()}-${rng.pick(['events', 'sessions', 'items', 'locks'])}`),
    functions: list(4, () => `${app()}-${rng.pick(['handler', 'worker', 'resize', 'sync', 'cron'])}`),
    instances: list(8, () => `i-0${rng.hex(16)}`),
    ssoRoleSuffix: rng.hex(16),
  };
}

/** Someone or something holding one access key. */
interface Actor {
  readonly index: number;
  readonly kind: ActorKind;
  readonly human: boolean;
  readonly account: Account;
  readonly keyId: string;
  readonly arn: string;
  readonly principalId: string;
  readonly userName: string | undefined;
  /** For role sessions: the role, and the session's start. */
  readonly role: string | undefined;
  readonly sessionStartMs: number;
  readonly agent: string;
  readonly region: AwsRegion;
  /** People: the city, and the two addresses used most. */
  readonly home: Metro | undefined;
  readonly homeAddress: string;
  readonly officeAddress: string;
  /** Workloads: calls from a private address (VPC endpoint) rather than a public one. */
  readonly privateNetwork: boolean;
  /** Lambda: a new public address on most calls. */
  readonly roaming: boolean;
  readonly trip: Trip | undefined;
  /** The last located call, for choosing the victim of an incident. */
  lastLocatedMs: number;
  lastAddress: string;
  attacked: boolean;
}

interface Trip {
  readonly to: Metro;
  readonly departMs: number;
  readonly arriveMs: number;
  readonly hotelAddress: string;
}

function personName(rng: Rng): { first: string; last: string } {
  return { first: rng.pick(FIRST_NAMES), last: rng.pick(LAST_NAMES) };
}

function makeActor(rng: Rng, index: number, account: Account, kind: ActorKind, startMs: number, durationMs: number): Actor {
  const human = kind === 'iam-user' || kind === 'sso-user' || kind === 'federated-user' || kind === 'root';
  const temporary = kind !== 'iam-user' && kind !== 'ci-user' && !(kind === 'root' && rng.chance(0.3));
  const keyId = accessKeyIdFor(index, temporary, account.id);
  const home = human ? METROS[pickWeighted(rng, METRO_CUMULATIVE)]! : undefined;
  const reg = human || rng.chance(0.8) ? account.region : AWS_REGIONS[pickWeighted(rng, REGION_CUMULATIVE)]!;
  const { first, last } = personName(rng);
  const sessionStartMs = startMs - rng.int(3_600_000);
  let arn: string;
  let principalId: string;
  let userName: string | undefined;
  let role: string | undefined;
  let agent: string;
  switch (kind) {
    case 'iam-user':
      userName = rng.chance(0.7) ? `${first}.${last}` : `${first}${rng.int(100)}`;
      arn = `arn:aws:iam::${account.id}:user/${userName}`;
      principalId = `AIDA${rng.chars(17, UPPER_ALNUM)}`;
      agent = rng.pick(HUMAN_AGENTS);
      break;
    case 'ci-user':
      userName = `${rng.pick(['ci', 'deploy', 'github-actions', 'jenkins', 'terraform'])}-${rng.pick(APP_NAMES)}`;
      arn = `arn:aws:iam::${account.id}:user/automation/${userName}`;
      principalId = `AIDA${rng.chars(17, UPPER_ALNUM)}`;
      agent = rng.pick([HUMAN_AGENTS[4]!, WORKLOAD_AGENTS[2]!, WORKLOAD_AGENTS[4]!]);
      break;
    case 'sso-user': {
      role = `AWSReservedSSO_${rng.pick(SSO_PERMISSION_SETS)}_${account.ssoRoleSuffix}`;
      const session = `${first}.${last}@example.com`;
      const roleId = `AROA${rng.chars(17, UPPER_ALNUM)}`;
      principalId = `${roleId}:${session}`;
      arn = `arn:aws:sts::${account.id}:assumed-role/${role}/${session}`;
      agent = rng.pick(HUMAN_AGENTS);
      break;
    }
    case 'federated-user': {
      const name = `${first}-${rng.int(1000)}`;
      principalId = `${account.id}:${name}`;
      arn = `arn:aws:sts::${account.id}:federated-user/${name}`;
      userName = undefined;
      agent = rng.pick(HUMAN_AGENTS);
      break;
    }
    case 'root':
      principalId = account.id;
      arn = `arn:aws:iam::${account.id}:root`;
      agent = rng.pick(CONSOLE_AGENTS);
      break;
    case 'instance-role': {
      role = rng.pick(account.roles);
      const session = rng.pick(account.instances);
      principalId = `AROA${rng.chars(17, UPPER_ALNUM)}:${session}`;
      arn = `arn:aws:sts::${account.id}:assumed-role/${role}/${session}`;
      agent = rng.pick(WORKLOAD_AGENTS);
      break;
    }
    case 'lambda-role': {
      role = `${rng.pick(account.functions)}-role-${rng.chars(8, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;
      const session = rng.pick(account.functions);
      principalId = `AROA${rng.chars(17, UPPER_ALNUM)}:${session}`;
      arn = `arn:aws:sts::${account.id}:assumed-role/${role}/${session}`;
      agent = WORKLOAD_AGENTS[1]!;
      break;
    }
  }
  const privateNetwork = kind === 'instance-role' && rng.chance(0.4);
  let homeAddress: string;
  let officeAddress: string;
  if (home) {
    homeAddress = metroAddress(rng, home, 0.25);
    officeAddress = rng.chance(0.04) ? privateAddress(rng) : metroAddress(rng, home, 0.1);
  } else if (privateNetwork) {
    homeAddress = privateAddress(rng);
    officeAddress = privateAddress(rng);
  } else {
    homeAddress = hostIn(rng, reg.v4);
    officeAddress = hostIn(rng, reg.v4);
  }
  let trip: Trip | undefined;
  if (home && kind !== 'root' && rng.chance(0.03)) {
    const far = METROS.filter((m) => distanceKm(m, home) > 1500);
    const to = rng.pick(far);
    // Airliner speed plus two hours on the ground: the journey is always possible.
    const flightMs = (distanceKm(home, to) / 800) * 3_600_000 + 2 * 3_600_000;
    const departMs = startMs + rng.next() * durationMs * 0.6;
    trip = { to, departMs, arriveMs: departMs + flightMs, hotelAddress: metroAddress(rng, to, 0.05) };
  }
  return {
    index, kind, human, account, keyId, arn, principalId, userName, role, sessionStartMs, agent, region: reg, home,
    homeAddress, officeAddress, privateNetwork, roaming: kind === 'lambda-role', trip,
    lastLocatedMs: -Infinity, lastAddress: '', attacked: false,
  };
}

/** The `userIdentity` of a call by `actor`; `invokedBy` when a service made the call for it. */
function userIdentity(actor: Actor, atMs: number, viaConsole: boolean, invokedBy: string | undefined): CloudTrailRecord {
  const acct = actor.account.id;
  const attributes = { creationDate: isoSeconds(Math.min(actor.sessionStartMs, atMs)), mfaAuthenticated: actor.human ? 'true' : 'false' };
  let identity: CloudTrailRecord;
  switch (actor.kind) {
    case 'iam-user':
    case 'ci-user':
      identity = { type: 'IAMUser', principalId: actor.principalId, arn: actor.arn, accountId: acct, accessKeyId: actor.keyId, userName: actor.userName };
      if (viaConsole) identity.sessionContext = { sessionIssuer: {}, webIdFederationData: {}, attributes };
      break;
    case 'root':
      identity = { type: 'Root', principalId: actor.principalId, arn: actor.arn, accountId: acct, accessKeyId: actor.keyId };
      if (viaConsole) identity.sessionContext = { sessionIssuer: {}, webIdFederationData: {}, attributes };
      break;
    case 'federated-user':
      identity = {
        type: 'FederatedUser', principalId: actor.principalId, arn: actor.arn, accountId: acct, accessKeyId: actor.keyId,
        sessionContext: {
          sessionIssuer: { type: 'IAMUser', principalId: `AIDA${actor.account.ssoRoleSuffix.toUpperCase()}B`, arn: `arn:aws:iam::${acct}:user/broker`, accountId: acct, userName: 'broker' },
          webIdFederationData: {},
          attributes,
        },
      };
      break;
    default: {
      const roleId = actor.principalId.slice(0, actor.principalId.indexOf(':'));
      const rolePath = actor.kind === 'sso-user' ? `role/aws-reserved/sso.amazonaws.com/${actor.region.name}/` : 'role/';
      const sessionContext: CloudTrailRecord = {
        sessionIssuer: { type: 'Role', principalId: roleId, arn: `arn:aws:iam::${acct}:${rolePath}${actor.role}`, accountId: acct, userName: actor.role },
        webIdFederationData: {},
        attributes,
      };
      if (actor.kind === 'instance-role') sessionContext.ec2RoleDelivery = '2.0';
      identity = { type: 'AssumedRole', principalId: actor.principalId, arn: actor.arn, accountId: acct, accessKeyId: actor.keyId, sessionContext };
    }
  }
  if (invokedBy !== undefined) identity.invokedBy = invokedBy;
  return identity;
}

// ---------------------------------------------------------------------------------------------
// API calls

interface CallContext {
  readonly rng: Rng;
  readonly account: Account;
  readonly region: string;
  readonly atMs: number;
}

interface ApiCall {
  readonly source: string;
  readonly name: string;
  readonly readOnly: boolean;
  /** Relative frequency for people and for workloads. */
  readonly human: number;
  readonly workload: number;
  /** A data event (S3 objects, ...) rather than a management event. */
  readonly data?: boolean;
  /** IAM and friends are global: always us-east-1. */
  readonly global?: boolean;
  readonly request?: (c: CallContext) => unknown;
  readonly response?: (c: CallContext) => unknown;
  readonly resources?: (c: CallContext, request: unknown) => unknown[];
  readonly additional?: (c: CallContext) => CloudTrailRecord;
}

function s3Additional(c: CallContext): CloudTrailRecord {
  return {
    SignatureVersion: 'SigV4',
    CipherSuite: 'TLS_AES_128_GCM_SHA256',
    bytesTransferredIn: 0,
    AuthenticationMethod: 'AuthHeader',
    'x-amz-id-2': `${c.rng.chars(56, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')}=`,
    bytesTransferredOut: c.rng.int(500_000),
  };
}

/** The object and its bucket, as CloudTrail lists them for object-level S3 calls. */
function s3ObjectResources(c: CallContext, request: unknown): unknown[] {
  const r = request as { bucketName: string; key: string };
  return [
    { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${r.bucketName}/${r.key}` },
    { accountId: c.account.id, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${r.bucketName}` },
  ];
}

const OBJECT_KEYS = ['exports/2024/06/report.csv', 'uploads/avatar.png', 'logs/app.log.gz', 'data/part-00017.parquet', 'config/settings.json', 'backups/db.dump'];

const API_CALLS: readonly ApiCall[] = [
  { source: 'sts.amazonaws.com', name: 'GetCallerIdentity', readOnly: true, human: 8, workload: 3 },
  {
    source: 'sts.amazonaws.com', name: 'AssumeRole', readOnly: true, human: 2, workload: 3,
    request: (c) => ({ roleArn: `arn:aws:iam::${c.account.id}:role/${c.rng.pick(c.account.roles)}`, roleSessionName: `session-${c.rng.hex(12)}`, durationSeconds: 3600 }),
    response: (c) => ({
      credentials: {
        accessKeyId: `ASIA${c.rng.chars(16, BASE32)}`,
        sessionToken: c.rng.chars(360, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
        expiration: new Date(c.atMs + 3_600_000).toUTCString(),
      },
      assumedRoleUser: { assumedRoleId: `AROA${c.rng.chars(17, UPPER_ALNUM)}:session-${c.rng.hex(12)}`, arn: `arn:aws:sts::${c.account.id}:assumed-role/${c.rng.pick(c.account.roles)}/session-${c.rng.hex(12)}` },
    }),
    resources: (c) => [{ accountId: c.account.id, type: 'AWS::IAM::Role', ARN: `arn:aws:iam::${c.account.id}:role/${c.rng.pick(c.account.roles)}` }],
  },
  {
    source: 's3.amazonaws.com', name: 'GetObject', readOnly: true, human: 1, workload: 14, data: true,
    request: (c) => {
      const bucket = c.rng.pick(c.account.buckets);
      return { bucketName: bucket, Host: `${bucket}.s3.${c.region}.amazonaws.com`, key: c.rng.pick(OBJECT_KEYS) };
    },
    resources: s3ObjectResources,
    additional: s3Additional,
  },
  {
    source: 's3.amazonaws.com', name: 'PutObject', readOnly: false, human: 1, workload: 6, data: true,
    request: (c) => {
      const bucket = c.rng.pick(c.account.buckets);
      return { bucketName: bucket, Host: `${bucket}.s3.${c.region}.amazonaws.com`, key: c.rng.pick(OBJECT_KEYS), 'x-amz-server-side-encryption': 'aws:kms' };
    },
    response: (c) => ({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': `arn:aws:kms:${c.region}:${c.account.id}:key/${c.rng.pick(c.account.kmsKeys)}` }),
    resources: s3ObjectResources,
    additional: s3Additional,
  },
  { source: 's3.amazonaws.com', name: 'ListBuckets', readOnly: true, human: 3, workload: 0.5, request: (c) => ({ Host: `s3.${c.region}.amazonaws.com` }), additional: s3Additional },
  {
    source: 's3.amazonaws.com', name: 'GetBucketAcl', readOnly: true, human: 2, workload: 0.5,
    request: (c) => {
      const bucket = c.rng.pick(c.account.buckets);
      return { bucketName: bucket, Host: `${bucket}.s3.${c.region}.amazonaws.com`, acl: '' };
    },
    resources: (c, req) => [{ accountId: c.account.id, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${(req as { bucketName: string }).bucketName}` }],
    additional: s3Additional,
  },
  {
    source: 'ec2.amazonaws.com', name: 'DescribeInstances', readOnly: true, human: 6, workload: 3,
    request: (c) => ({
      instancesSet: c.rng.chance(0.5) ? { items: [{ instanceId: c.rng.pick(c.account.instances) }] } : {},
      filterSet: { items: [{ name: 'instance-state-name', valueSet: { items: [{ value: 'running' }, { value: 'pending' }] } }] },
    }),
  },
  { source: 'ec2.amazonaws.com', name: 'DescribeSecurityGroups', readOnly: true, human: 3, workload: 1, request: () => ({ securityGroupSet: {}, securityGroupIdSet: {}, filterSet: {} }) },
  { source: 'ec2.amazonaws.com', name: 'DescribeRegions', readOnly: true, human: 1, workload: 0.5, request: () => ({ regionSet: {}, allRegions: false }) },
  { source: 'ec2.amazonaws.com', name: 'DescribeVpcs', readOnly: true, human: 2, workload: 0.5, request: () => ({ vpcSet: {}, filterSet: {} }) },
  {
    source: 'ec2.amazonaws.com', name: 'RunInstances', readOnly: false, human: 0.4, workload: 0.3,
    request: (c) => ({
      instancesSet: { items: [{ imageId: `ami-0${c.rng.hex(16)}`, minCount: 1, maxCount: 1 }] },
      instanceType: c.rng.pick(['t3.micro', 'm6i.large', 'c7g.xlarge']),
      blockDeviceMapping: {},
      monitoring: { enabled: false },
      disableApiTermination: false,
      disableApiStop: false,
      clientToken: c.rng.uuid(),
    }),
    response: (c) => ({
      requestId: c.rng.uuid(),
      reservationId: `r-0${c.rng.hex(16)}`,
      ownerId: c.account.id,
      groupSet: {},
      instancesSet: { items: [{ instanceId: `i-0${c.rng.hex(16)}`, currentState: { code: 0, name: 'pending' }, privateIpAddress: privateAddress(c.rng) }] },
    }),
  },
  { source: 'iam.amazonaws.com', name: 'GetUser', readOnly: true, human: 3, workload: 0.3, global: true },
  { source: 'iam.amazonaws.com', name: 'ListRoles', readOnly: true, human: 2, workload: 0.2, global: true },
  {
    source: 'iam.amazonaws.com', name: 'ListAttachedRolePolicies', readOnly: true, human: 2, workload: 0.2, global: true,
    request: (c) => ({ roleName: c.rng.pick(c.account.roles) }),
  },
  {
    source: 'iam.amazonaws.com', name: 'CreateAccessKey', readOnly: false, human: 0.1, workload: 0, global: true,
    request: (c) => ({ userName: `${c.rng.pick(FIRST_NAMES)}.${c.rng.pick(LAST_NAMES)}` }),
    response: (c) => ({ accessKey: { userName: 'redacted', accessKeyId: `AKIA${c.rng.chars(16, BASE32)}`, status: 'Active', createDate: new Date(c.atMs).toUTCString() } }),
  },
  {
    source: 'kms.amazonaws.com', name: 'Decrypt', readOnly: true, human: 0.5, workload: 10,
    request: (c) => ({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::${c.rng.pick(c.account.buckets)}` } }),
    resources: (c) => [{ accountId: c.account.id, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${c.region}:${c.account.id}:key/${c.rng.pick(c.account.kmsKeys)}` }],
  },
  {
    source: 'kms.amazonaws.com', name: 'GenerateDataKey', readOnly: true, human: 0.2, workload: 4,
    request: (c) => ({ keyId: `arn:aws:kms:${c.region}:${c.account.id}:key/${c.rng.pick(c.account.kmsKeys)}`, keySpec: 'AES_256' }),
    resources: (c) => [{ accountId: c.account.id, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${c.region}:${c.account.id}:key/${c.rng.pick(c.account.kmsKeys)}` }],
  },
  { source: 'ssm.amazonaws.com', name: 'GetParameter', readOnly: true, human: 1, workload: 6, request: (c) => ({ name: c.rng.pick(c.account.parameters), withDecryption: true }) },
  {
    source: 'ssm.amazonaws.com', name: 'UpdateInstanceInformation', readOnly: false, human: 0, workload: 4,
    request: (c) => ({ instanceId: c.rng.pick(c.account.instances), agentVersion: '3.3.131.0', agentStatus: 'Active', platformType: 'Linux', platformName: 'Amazon Linux', platformVersion: '2023', agentName: 'amazon-ssm-agent', availabilityZone: `${c.region}a` }),
  },
  { source: 'ssm.amazonaws.com', name: 'DescribeParameters', readOnly: true, human: 1, workload: 0.5, request: () => ({ maxResults: 50 }) },
  {
    source: 'secretsmanager.amazonaws.com', name: 'GetSecretValue', readOnly: true, human: 0.5, workload: 5,
    request: (c) => ({ secretId: `arn:aws:secretsmanager:${c.region}:${c.account.id}:secret:${c.rng.pick(c.account.secrets)}` }),
  },
  { source: 'logs.amazonaws.com', name: 'DescribeLogGroups', readOnly: true, human: 2, workload: 0.5, request: () => ({ limit: 50 }) },
  {
    source: 'logs.amazonaws.com', name: 'CreateLogStream', readOnly: false, human: 0, workload: 2,
    request: (c) => ({ logGroupName: `/aws/lambda/${c.rng.pick(c.account.functions)}`, logStreamName: `${new Date(c.atMs).toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${c.rng.hex(32)}` }),
  },
  { source: 'lambda.amazonaws.com', name: 'ListFunctions20150331', readOnly: true, human: 2, workload: 0.2 },
  { source: 'lambda.amazonaws.com', name: 'GetFunction20150331v2', readOnly: true, human: 1, workload: 0.3, request: (c) => ({ functionName: c.rng.pick(c.account.functions) }) },
  { source: 'dynamodb.amazonaws.com', name: 'DescribeTable', readOnly: true, human: 1, workload: 3, request: (c) => ({ tableName: c.rng.pick(c.account.tables) }) },
  { source: 'cloudformation.amazonaws.com', name: 'DescribeStacks', readOnly: true, human: 2, workload: 0.3, request: (c) => ({ stackName: `${c.rng.pick(APP_NAMES)}-${c.rng.pick(ENVS)}` }) },
  { source: 'ecr.amazonaws.com', name: 'GetAuthorizationToken', readOnly: true, human: 0.5, workload: 3, response: () => null },
  { source: 'health.amazonaws.com', name: 'DescribeEventAggregates', readOnly: true, human: 1, workload: 0, request: () => ({ aggregateField: 'eventTypeCategory', filter: { eventStatusCodes: ['open', 'upcoming'] } }) },
  { source: 'rds.amazonaws.com', name: 'DescribeDBInstances', readOnly: true, human: 2, workload: 0.5 },
  { source: 'cloudtrail.amazonaws.com', name: 'LookupEvents', readOnly: true, human: 1, workload: 0.1, request: () => ({ maxResults: 50 }) },
  { source: 'elasticloadbalancing.amazonaws.com', name: 'DescribeLoadBalancers', readOnly: true, human: 1, workload: 1, request: () => ({ pageSize: 400 }) },
  { source: 'autoscaling.amazonaws.com', name: 'DescribeAutoScalingGroups', readOnly: true, human: 0.5, workload: 2 },
  { source: 'eks.amazonaws.com', name: 'DescribeCluster', readOnly: true, human: 1, workload: 1, request: (c) => ({ name: `${c.rng.pick(ENVS)}-cluster` }) },
  { source: 'sns.amazonaws.com', name: 'Publish', readOnly: false, human: 0.1, workload: 1.5, data: true,
    request: (c) => ({ topicArn: `arn:aws:sns:${c.region}:${c.account.id}:${c.rng.pick(APP_NAMES)}-events`, message: 'HIDDEN_DUE_TO_SECURITY_REASONS' }),
    response: (c) => ({ messageId: c.rng.uuid() }) },
];

const HUMAN_CALLS = cumulate(API_CALLS.map((a) => a.human));
const WORKLOAD_CALLS = cumulate(API_CALLS.map((a) => a.workload));
const ATTACKER_CALLS = ['GetCallerIdentity', 'ListBuckets', 'DescribeInstances', 'ListRoles', 'GetUser', 'DescribeRegions'].map(
  (name) => API_CALLS.find((a) => a.name === name)!,
);

const ERRORS: readonly [string, string][] = [
  ['AccessDenied', 'User is not authorized to perform this operation'],
  ['Client.UnauthorizedOperation', 'You are not authorized to perform this operation.'],
  ['ThrottlingException', 'Rate exceeded'],
  ['ResourceNotFoundException', 'The requested resource was not found.'],
];

const SERVICE_HOSTS = ['cloudformation.amazonaws.com', 'autoscaling.amazonaws.com', 'elasticloadbalancing.amazonaws.com', 'lambda.amazonaws.com', 'ec2.amazonaws.com', 'eks.amazonaws.com'];

// ---------------------------------------------------------------------------------------------
// Records

let isoCacheSecond = NaN;
let isoCacheText = '';

/** `eventTime` format: UTC, one-second resolution ("2026-06-01T00:00:02Z"). */
function isoSeconds(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoCacheSecond) {
    isoCacheSecond = second;
    isoCacheText = new Date(second * 1000).toISOString().slice(0, 19) + 'Z';
  }
  return isoCacheText;
}

function eventVersionFor(rng: Rng): string {
  return rng.chance(0.6) ? '1.08' : rng.chance(0.5) ? '1.09' : '1.10';
}

/** One API call by `actor` at `atMs` from `source` (an address, a service name or `AWS Internal`). */
function apiCallRecord(rng: Rng, actor: Actor, call: ApiCall, atMs: number, source: string, agentOverride?: string): CloudTrailRecord {
  const account = actor.account;
  const regionName = call.global ? 'us-east-1' : actor.human && rng.chance(0.15) ? AWS_REGIONS[pickWeighted(rng, REGION_CUMULATIVE)]!.name : actor.region.name;
  const c: CallContext = { rng, account, region: regionName, atMs };
  const internal = source === 'AWS Internal';
  const byService = source.endsWith('.amazonaws.com');
  const viaConsole = actor.human && !internal && !byService && agentOverride === undefined && rng.chance(0.15);
  const agent = internal ? 'AWS Internal' : byService ? source : agentOverride ?? (viaConsole ? rng.pick(CONSOLE_AGENTS) : actor.agent);
  const request = call.request ? call.request(c) : null;
  const failed = rng.chance(0.04);
  const host = call.global ? call.source : `${call.source.replace('.amazonaws.com', '')}.${regionName}.amazonaws.com`;
  const rec: CloudTrailRecord = {
    eventVersion: eventVersionFor(rng),
    userIdentity: userIdentity(actor, atMs, viaConsole || internal, internal ? 'AWS Internal' : byService ? source : undefined),
    eventTime: isoSeconds(atMs),
    eventSource: call.source,
    eventName: call.name,
    awsRegion: regionName,
    sourceIPAddress: source,
    userAgent: agent,
  };
  if (failed) {
    const [code, message] = rng.pick(ERRORS);
    rec.errorCode = code;
    rec.errorMessage = message;
  }
  rec.requestParameters = request;
  rec.responseElements = !failed && call.response ? call.response(c) : null;
  if (call.additional) rec.additionalEventData = call.additional(c);
  rec.requestID = call.source === 's3.amazonaws.com' ? rng.chars(16, UPPER_ALNUM) : rng.uuid();
  rec.eventID = rng.uuid();
  rec.readOnly = call.readOnly;
  if (call.resources) rec.resources = call.resources(c, request);
  rec.eventType = 'AwsApiCall';
  rec.managementEvent = !call.data;
  rec.recipientAccountId = account.id;
  if (actor.privateNetwork && !internal && !byService) rec.vpcEndpointId = `vpce-${rng.hex(17)}`;
  rec.eventCategory = call.data ? 'Data' : 'Management';
  if (!internal && !byService) {
    rec.tlsDetails = { tlsVersion: rng.chance(0.7) ? 'TLSv1.3' : 'TLSv1.2', cipherSuite: rng.chance(0.7) ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: host };
  }
  if (viaConsole) rec.sessionCredentialFromConsole = 'true';
  return rec;
}

/** Calls no access key made: services acting on their own, and console sign-ins. */
function keylessRecord(rng: Rng, account: Account, atMs: number, person: Actor | undefined): CloudTrailRecord {
  const r = rng.next();
  if (r < 0.2 && person?.home) {
    // A console sign-in: located, but no access key, so out of scope for travel.
    return {
      eventVersion: '1.09',
      userIdentity: { type: 'IAMUser', principalId: person.principalId, arn: person.arn, accountId: person.account.id, userName: person.userName ?? 'user' },
      eventTime: isoSeconds(atMs),
      eventSource: 'signin.amazonaws.com',
      eventName: 'ConsoleLogin',
      awsRegion: 'us-east-1',
      sourceIPAddress: person.homeAddress,
      userAgent: rng.pick(CONSOLE_AGENTS),
      requestParameters: null,
      responseElements: { ConsoleLogin: 'Success' },
      additionalEventData: { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAUsed: 'Yes' },
      eventID: rng.uuid(),
      readOnly: false,
      eventType: 'AwsConsoleSignIn',
      managementEvent: true,
      recipientAccountId: person.account.id,
      eventCategory: 'Management',
      tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: 'signin.aws.amazon.com' },
    };
  }
  const service = rng.pick(['inspector2.amazonaws.com', 'config.amazonaws.com', 'lambda.amazonaws.com', 'ec2.amazonaws.com', 'cloudtrail.amazonaws.com', 'backup.amazonaws.com']);
  if (r < 0.45) {
    // An AwsServiceEvent: identity without a type, as the service records it.
    return {
      eventVersion: '1.08',
      userIdentity: { accountId: account.id, invokedBy: service },
      eventTime: isoSeconds(atMs),
      eventSource: 'ec2.amazonaws.com',
      eventName: rng.pick(['SharedSnapshotVolumeCreated', 'InstanceStateChange', 'CreateNetworkInterface']),
      awsRegion: account.region.name,
      sourceIPAddress: service,
      userAgent: service,
      requestParameters: null,
      responseElements: null,
      eventID: rng.uuid(),
      readOnly: false,
      eventType: 'AwsServiceEvent',
      managementEvent: true,
      recipientAccountId: account.id,
      sharedEventID: rng.uuid(),
      serviceEventDetails: { snapshotId: `snap-0${rng.hex(16)}` },
      eventCategory: 'Management',
    };
  }
  const role = rng.pick(account.roles);
  return {
    eventVersion: '1.08',
    userIdentity: { type: 'AWSService', invokedBy: service },
    eventTime: isoSeconds(atMs),
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRole',
    awsRegion: account.region.name,
    sourceIPAddress: service,
    userAgent: service,
    requestParameters: { roleArn: `arn:aws:iam::${account.id}:role/${role}`, roleSessionName: `${service.split('.')[0]}-${rng.hex(12)}`, durationSeconds: 3600 },
    responseElements: {
      credentials: { accessKeyId: `ASIA${rng.chars(16, BASE32)}`, sessionToken: rng.chars(360, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), expiration: new Date(atMs + 3_600_000).toUTCString() },
      assumedRoleUser: { assumedRoleId: `AROA${rng.chars(17, UPPER_ALNUM)}:${rng.hex(12)}`, arn: `arn:aws:sts::${account.id}:assumed-role/${role}/${rng.hex(12)}` },
    },
    requestID: rng.uuid(),
    eventID: rng.uuid(),
    readOnly: true,
    resources: [{ accountId: account.id, type: 'AWS::IAM::Role', ARN: `arn:aws:iam::${account.id}:role/${role}` }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account.id,
    sharedEventID: rng.uuid(),
    eventCategory: 'Management',
  };
}

/** Where `actor` calls from at `atMs`; undefined while it is on a plane. */
function sourceFor(rng: Rng, actor: Actor, atMs: number): string | undefined {
  const r = rng.next();
  if (actor.human) {
    if (r < 0.03) return 'AWS Internal';
    if (r < 0.06) return rng.pick(SERVICE_HOSTS);
    const trip = actor.trip;
    if (trip && atMs >= trip.departMs) {
      if (atMs < trip.arriveMs) return undefined;
      return r < 0.85 ? trip.hotelAddress : metroAddress(rng, trip.to, 0.05);
    }
    if (r < 0.62) return actor.homeAddress;
    if (r < 0.9) return actor.officeAddress;
    return metroAddress(rng, actor.home!, 0.2);
  }
  if (r < 0.03) return rng.pick(SERVICE_HOSTS);
  if (actor.privateNetwork) return r < 0.85 ? actor.homeAddress : privateAddress(rng);
  if (actor.roaming) return r < 0.3 ? actor.homeAddress : hostIn(rng, actor.region.v4);
  return r < 0.8 ? actor.homeAddress : r < 0.95 ? actor.officeAddress : hostIn(rng, actor.region.v4);
}

function isLocatable(source: string): boolean {
  return source !== 'AWS Internal' && !source.endsWith('.amazonaws.com') && !source.startsWith('10.');
}

// ---------------------------------------------------------------------------------------------
// The trail

export interface TrailOptions {
  /** Records to produce. */
  readonly count: number;
  /** Distinct access keys (default 5,000). */
  readonly keys?: number;
  /** Same seed, same records (default 1). */
  readonly seed?: number;
  /** Event time of the first record (default 2026-06-01T00:00:00Z). */
  readonly startMs?: number;
  /** Event time span of all records (default 24 hours). */
  readonly durationMs?: number;
  /** One impossible journey every this many records (default 10,000; 0 for none). */
  readonly impossibleEvery?: number;
  /** Share of records made by no access key: service events, console sign-ins (default 0.05). */
  readonly keylessShare?: number;
  /** Called for each impossible journey, when its first record is made. */
  readonly onIncident?: (incident: Incident) => void;
}

/** A genuine impossible journey the trail contains: the alert a detector should raise. */
export interface Incident {
  readonly accessKeyId: string;
  readonly principalArn: string;
  /** The victim's last located call before the journey. */
  readonly from: { readonly city: string; readonly address: string; readonly atMs: number };
  /** The first call from far away. */
  readonly to: { readonly city: string; readonly address: string; readonly atMs: number };
  readonly distanceKm: number;
  /** eventID of each call from far away (1 to 3). */
  readonly eventIds: string[];
}

export const DEFAULT_START_MS = Date.UTC(2026, 5, 1);
const WINDOW_MS = 5 * 60_000;

/**
 * The records of a CloudTrail trail, in delivery order (5-minute windows, shuffled inside),
 * one at a time: a long trail never needs to sit in memory. Deterministic for given options.
 */
export function* streamRecords(options: TrailOptions): Generator<CloudTrailRecord, void, undefined> {
  const count = options.count;
  const keyCount = Math.max(1, options.keys ?? 5000);
  const rng = new Rng(options.seed ?? 1);
  const startMs = options.startMs ?? DEFAULT_START_MS;
  const durationMs = options.durationMs ?? 86_400_000;
  const impossibleEvery = options.impossibleEvery ?? 10_000;
  const keylessShare = options.keylessShare ?? 0.05;

  const accounts = Array.from({ length: Math.max(3, Math.round(keyCount / 100)) }, () => makeAccount(rng));
  const actors: Actor[] = [];
  const weights: number[] = [];
  for (let i = 0; i < keyCount; i++) {
    const kind = KIND_WEIGHTS[pickWeighted(rng, KIND_CUMULATIVE)]![0];
    const actor = makeActor(rng, i, rng.pick(accounts), kind, startMs, durationMs);
    actors.push(actor);
    // Skewed activity: a few keys are busy, most are occasional; workloads call more than people.
    weights.push(Math.exp(rng.normal() * 1.1) * (actor.human ? 1 : 2.5));
  }
  const actorCumulative = cumulate(weights);
  const people = actors.filter((a) => a.human && a.home !== undefined);
  const recentPeople: Actor[] = [];

  let atMs = startMs;
  const meanGapMs = durationMs / Math.max(1, count);
  let window: CloudTrailRecord[] = [];
  let windowIndex = Math.floor(startMs / WINDOW_MS);
  let attack: { actor: Actor; to: Metro; address: string; agent: string; left: number; incident: Incident } | undefined;

  for (let n = 0; n < count; n++) {
    atMs += rng.exponential(meanGapMs);
    const w = Math.floor(atMs / WINDOW_MS);
    if (w !== windowIndex) {
      rng.shuffle(window);
      yield* window;
      window = [];
      windowIndex = w;
    }

    if (attack === undefined && impossibleEvery > 0 && n % impossibleEvery === Math.floor(impossibleEvery / 2)) {
      attack = startIncident(rng, recentPeople, atMs);
    }
    if (attack) {
      const call = rng.pick(ATTACKER_CALLS);
      const rec = apiCallRecord(rng, attack.actor, call, atMs, attack.address, attack.agent);
      attack.incident.eventIds.push(rec.eventID as string);
      if (attack.incident.eventIds.length === 1) options.onIncident?.(attack.incident);
      window.push(rec);
      if (--attack.left === 0) attack = undefined;
      continue;
    }

    if (rng.chance(keylessShare)) {
      window.push(keylessRecord(rng, rng.pick(accounts), atMs, people.length > 0 ? rng.pick(people) : undefined));
      continue;
    }

    let rec: CloudTrailRecord | undefined;
    for (let tries = 0; tries < 8 && rec === undefined; tries++) {
      const actor = actors[pickWeighted(rng, actorCumulative)]!;
      const source = sourceFor(rng, actor, atMs);
      if (source === undefined) continue; // in flight: someone else makes this call
      const call = API_CALLS[pickWeighted(rng, actor.human ? HUMAN_CALLS : WORKLOAD_CALLS)]!;
      rec = apiCallRecord(rng, actor, call, atMs, source);
      if (actor.human && isLocatable(source)) {
        actor.lastLocatedMs = atMs;
        actor.lastAddress = source;
        if (!actor.trip || atMs < actor.trip.departMs) {
          recentPeople.push(actor);
          if (recentPeople.length > 64) recentPeople.shift();
        }
      }
    }
    window.push(rec ?? keylessRecord(rng, rng.pick(accounts), atMs, undefined));
  }
  rng.shuffle(window);
  yield* window;

  function startIncident(r: Rng, recent: Actor[], now: number) {
    // The victim: someone at home who made a located call in the last half hour.
    for (let i = recent.length - 1; i >= 0; i--) {
      const victim = recent[i]!;
      // Travellers are left alone: their journeys are possible ones, and the two must not mix.
      if (victim.attacked || victim.trip !== undefined || victim.kind === 'root' || now - victim.lastLocatedMs > 30 * 60_000) continue;
      const far = METROS.filter((m) => distanceKm(m, victim.home!) >= 4000);
      const to = r.pick(far);
      const address = hostIn(r, to.v4);
      victim.attacked = true;
      const incident: Incident = {
        accessKeyId: victim.keyId,
        principalArn: victim.arn,
        from: { city: victim.home!.name, address: victim.lastAddress, atMs: victim.lastLocatedMs },
        to: { city: to.name, address, atMs: now },
        distanceKm: Math.round(distanceKm(victim.home!, to)),
        eventIds: [],
      };
      return { actor: victim, to, address, agent: r.pick(ATTACKER_AGENTS), left: r.between(1, 3), incident };
    }
    return undefined;
  }
}

/** The whole trail as an array (see `streamRecords`). */
export function generateRecords(options: TrailOptions): CloudTrailRecord[] {
  return Array.from(streamRecords(options));
}

/** The trail and the impossible journeys in it. */
export function generateTrail(options: Omit<TrailOptions, 'onIncident'>): { records: CloudTrailRecord[]; incidents: Incident[] } {
  const incidents: Incident[] = [];
  const records = Array.from(streamRecords({ ...options, onIncident: (i) => incidents.push(i) }));
  return { records, incidents };
}

// ---------------------------------------------------------------------------------------------
// Many distinct keys

export interface DistinctKeyOptions {
  /** Records to produce, each from a key of its own. */
  readonly count: number;
  readonly seed?: number;
  readonly startMs?: number;
  /** Event time between consecutive records (default 50 ms). */
  readonly spacingMs?: number;
  /** Index of the first key, to continue a sequence without repeating keys (default 0). */
  readonly firstKeyIndex?: number;
}

/**
 * `count` records, each by a different access key (key `firstKeyIndex + i`), each from a public
 * address the GeoIP database locates: people in the cities, workloads in the AWS regions. Every
 * record is in scope for travel detection, so each key leaves one entry in the detection state.
 * Each is an `sts:GetCallerIdentity` call, the smallest real record (and the first call made with
 * a stolen key): only the key, the time and the address matter to the state, and a million
 * records should not take longer to make than to judge. The principals behind the keys come from
 * a pool of a few thousand, as many sessions share a role.
 */
export function* distinctKeyRecords(options: DistinctKeyOptions): Generator<CloudTrailRecord, void, undefined> {
  const rng = new Rng(options.seed ?? 7);
  const startMs = options.startMs ?? DEFAULT_START_MS;
  const spacingMs = options.spacingMs ?? 50;
  const first = options.firstKeyIndex ?? 0;
  const accounts = Array.from({ length: 1000 }, () => makeAccount(rng));
  const kinds: ActorKind[] = ['iam-user', 'sso-user', 'instance-role', 'lambda-role', 'ci-user'];
  const templates = Array.from({ length: 4096 }, (_, i) => makeActor(rng, i, rng.pick(accounts), rng.pick(kinds), startMs, 0));
  const call = API_CALLS.find((c) => c.name === 'GetCallerIdentity')!;
  for (let i = 0; i < options.count; i++) {
    const atMs = startMs + i * spacingMs;
    const t = rng.pick(templates);
    const temporary = t.keyId.startsWith('ASIA');
    // No private addresses and no trips here: every record must be located.
    const homeAddress = t.home ? metroAddress(rng, t.home, 0.2) : hostIn(rng, t.region.v4);
    const actor: Actor = { ...t, index: first + i, keyId: accessKeyIdFor(first + i, temporary, t.account.id), trip: undefined, privateNetwork: false, homeAddress };
    yield apiCallRecord(rng, actor, call, atMs, homeAddress);
  }
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/** Consecutive slices of `size` items. */
export function* batches<T>(items: Iterable<T>, size: number): Generator<T[], void, undefined> {
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** One record per line (Content-Type: application/x-ndjson). */
export function toNdjson(records: readonly CloudTrailRecord[]): Buffer {
  let text = '';
  for (const r of records) text += JSON.stringify(r) + '\n';
  return Buffer.from(text, 'utf8');
}

/** A CloudTrail S3 log file, `{"Records": [...]}` (Content-Type: application/json). */
export function toS3LogFile(records: readonly CloudTrailRecord[]): Buffer {
  return Buffer.from(JSON.stringify({ Records: records }), 'utf8');
}
