import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@opensearch-project/opensearch';
import { loadConfig, type Config } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { buildService, openSearchParts, type Service } from '../../server/service.js';
import { writeMmdb } from './mmdb-writer.js';

/**
 * Starts the real service in-process on a free port, configured like production from
 * environment-style settings, for the integration tests. The GeoIP database is a tiny generated
 * City file with the cities the tests travel between.
 */

export const CITY = {
  london: { ip: '81.2.69.142', network: '81.2.69.0/24', city: 'London', iso: 'GB', country: 'United Kingdom', lat: 51.5142, lon: -0.0931 },
  tokyo: { ip: '27.96.10.20', network: '27.96.0.0/16', city: 'Tokyo', iso: 'JP', country: 'Japan', lat: 35.6895, lon: 139.6917 },
  paris: { ip: '2.16.23.5', network: '2.16.0.0/16', city: 'Paris', iso: 'FR', country: 'France', lat: 48.8566, lon: 2.3522 },
  sydney: { ip: '1.128.0.9', network: '1.128.0.0/11', city: 'Sydney', iso: 'AU', country: 'Australia', lat: -33.8688, lon: 151.2093 },
} as const;

let geoipPath: string | undefined;

/** Writes (once per run) a GeoIP2-City-shaped database with the cities above. */
export function testGeoipPath(): string {
  if (geoipPath) return geoipPath;
  const dir = mkdtempSync(join(tmpdir(), 'it-geoip-'));
  geoipPath = join(dir, 'test-city.mmdb');
  writeMmdb(
    geoipPath,
    Object.values(CITY).map((c) => ({
      network: c.network,
      data: {
        city: { names: { en: c.city } },
        country: { iso_code: c.iso, names: { en: c.country } },
        location: { latitude: c.lat, longitude: c.lon, accuracy_radius: 20 },
      },
    })),
    { databaseType: 'GeoIP2-City', ipVersion: 6 },
  );
  return geoipPath;
}

export interface RunningService {
  readonly url: string;
  readonly service: Service;
  readonly config: Config;
  stop(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}): Promise<RunningService> {
  const config = loadConfig({ GEOIP_CITY_DB: testGeoipPath(), PORT: '0', LOG_LEVEL: 'silent', ...env });
  const log = silentLogger();
  const service = buildService(config, log, openSearchParts(config, log));
  const server: Server = await new Promise((resolve) => {
    const s = service.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    service,
    config,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await service.close();
    },
  };
}

/** The OpenSearch URL the test command started, or undefined (the caller skips and says why). */
export function openSearchUrl(): string | undefined {
  return process.env.OPENSEARCH_URL || undefined;
}

export function openSearchClient(url: string): Client {
  return new Client({ node: url });
}

/** Names unique to one test run, so runs on a shared node never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface RecordSpec {
  readonly key: string;
  readonly ip: string;
  readonly at: string;
  readonly id: string;
  readonly user?: string;
}

export function cloudTrailRecord(spec: RecordSpec): Record<string, unknown> {
  const user = spec.user ?? 'alice';
  return {
    eventVersion: '1.08',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLEPRINCIPAL',
      arn: `arn:aws:iam::111122223333:user/${user}`,
      accountId: '111122223333',
      accessKeyId: spec.key,
      userName: user,
    },
    eventTime: spec.at,
    eventSource: 's3.amazonaws.com',
    eventName: 'ListBuckets',
    awsRegion: 'eu-west-1',
    sourceIPAddress: spec.ip,
    userAgent: 'aws-cli/2.15.0',
    requestParameters: null,
    responseElements: null,
    requestID: `req-${spec.id}`,
    eventID: spec.id,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
  };
}

/** A `_bulk` body: one `index` action per record into `index`. */
export function bulkBody(index: string, records: readonly Record<string, unknown>[], op: 'index' | 'create' = 'index'): string {
  return records.map((r) => `${JSON.stringify({ [op]: { _index: index } })}\n${JSON.stringify(r)}\n`).join('');
}
