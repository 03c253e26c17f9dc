import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors, type Client } from '@opensearch-project/opensearch';
import type { ApiResponse } from '@opensearch-project/opensearch/lib/Transport.js';
import { GeoIpDatabase } from '../processors/geoip-database.js';
import { createPipeline } from '../processors/pipeline.js';
import { MemoryStateStore } from '../processors/state.js';
import type { Doc } from '../processors/types.js';
import type { DetectionConfig } from '../server/config.js';
import { ConfigError } from '../server/errors.js';
import { silentLogger } from '../server/log.js';
import {
  SetupError,
  TEMPLATES,
  loadTemplate,
  renderTemplates,
  setup,
  templatePath,
  type IndexTemplate,
  type RenderedTemplate,
  type TemplateKind,
} from '../server/setup.js';
import { typed, writeMmdb, type MmdbEntry } from './support/mmdb-writer.js';

/**
 * The index templates must map every field the processors write, with a type that makes it
 * useful (geo_point for locations, ip for addresses, date for times). The documents checked here
 * are not hand-written: they come out of the real pipeline, so a processor that starts writing a
 * new field fails this test until the templates map it.
 */

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------ mapping checker

interface MappingNode {
  type?: string;
  enabled?: boolean;
  properties?: Record<string, MappingNode>;
}

interface Leaf {
  readonly path: string;
  readonly value: unknown;
  /** An object of exactly numeric `lat` and `lon`: one geo_point value, not two numbers. */
  readonly geo: boolean;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isLatLon(v: unknown): boolean {
  return isPlain(v) && Object.keys(v).sort().join() === 'lat,lon' && typeof v.lat === 'number' && typeof v.lon === 'number';
}

/** Every leaf of a document by dotted path; arrays are transparent, as they are to OpenSearch. */
function leaves(value: unknown, path = ''): Leaf[] {
  if (Array.isArray(value)) return value.flatMap((v) => leaves(v, path));
  if (isLatLon(value)) return [{ path, value, geo: true }];
  if (isPlain(value)) {
    const entries = Object.entries(value);
    // An empty object still claims a name: it must be mapped (as an object) too.
    if (entries.length === 0 && path) return [{ path, value, geo: false }];
    return entries.flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  }
  return [{ path, value, geo: false }];
}

/** The leaves of `after` that `before` did not have (or had with another value). */
function addedLeaves(before: unknown, after: unknown): Leaf[] {
  const had = new Set(leaves(before).map((l) => `${l.path}\u0000${JSON.stringify(l.value)}`));
  return leaves(after).filter((l) => !had.has(`${l.path}\u0000${JSON.stringify(l.value)}`));
}

type Resolution =
  | { readonly kind: 'field'; readonly node: MappingNode }
  | { readonly kind: 'geo_point_part' }
  | { readonly kind: 'opaque'; readonly at: string }
  | { readonly kind: 'missing'; readonly at: string };

function resolve(mappings: MappingNode, path: string): Resolution {
  const parts = path.split('.');
  let node: MappingNode = mappings;
  for (let i = 0; i < parts.length; i++) {
    if (node.type === 'geo_point') {
      return i === parts.length - 1 && (parts[i] === 'lat' || parts[i] === 'lon') ? { kind: 'geo_point_part' } : { kind: 'missing', at: path };
    }
    const child = node.properties?.[parts[i]!];
    if (!child) return { kind: 'missing', at: parts.slice(0, i + 1).join('.') };
    node = child;
    if (node.enabled === false) return { kind: 'opaque', at: parts.slice(0, i + 1).join('.') };
  }
  return { kind: 'field', node };
}

const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long', 'double', 'float', 'half_float', 'scaled_float']);
const FLOATING = new Set(['double', 'float', 'half_float', 'scaled_float']);
const STRINGY = new Set(['keyword', 'text', 'match_only_text', 'wildcard', 'constant_keyword']);
const TIME_NAMES = new Set(['@timestamp', 'timestamp', 'created', 'eventTime', 'creationDate', 'updated_at']);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** ECS types these as keyword although we write numbers. */
const KEYWORD_NUMBERS = new Set(['rule.version']);

/** Why the leaf is not properly mapped, or undefined when it is. */
function leafProblem(mappings: MappingNode, leaf: Leaf, allowOpaque: boolean): string | undefined {
  const r = resolve(mappings, leaf.path);
  const last = leaf.path.split('.').at(-1)!;
  if (r.kind === 'missing') return `${leaf.path}: not mapped (no property at ${r.at})`;
  if (r.kind === 'opaque') return allowOpaque ? undefined : `${leaf.path}: inside ${r.at}, an object with enabled:false, so not searchable`;
  if (r.kind === 'geo_point_part') return `${leaf.path}: a number under a geo_point; the processors should write the {lat, lon} object whole`;
  const type = r.node.type ?? (r.node.properties ? 'object' : undefined);
  if (leaf.geo || last === 'location') {
    return leaf.geo && type === 'geo_point' ? undefined : `${leaf.path}: a location must be a {lat, lon} object mapped as geo_point (mapped ${type})`;
  }
  if (type === undefined || type === 'object' || type === 'nested') {
    return isPlain(leaf.value) ? undefined : `${leaf.path}: the value ${JSON.stringify(leaf.value)} is mapped as an object`;
  }
  if (last === 'ip' && type !== 'ip') return `${leaf.path}: an address must be mapped as ip, not ${type}`;
  if ((TIME_NAMES.has(last) || (typeof leaf.value === 'string' && ISO_TIME.test(leaf.value))) && type !== 'date') {
    return `${leaf.path}: a time must be mapped as date, not ${type}`;
  }
  const v = leaf.value;
  if (v === null) return undefined; // nothing to index; that the name is mapped is what counts
  switch (typeof v) {
    case 'string':
      if (type === 'ip') return isIP(v) ? undefined : `${leaf.path}: "${v}" is not an address but is mapped as ip`;
      if (type === 'date') return Number.isFinite(Date.parse(v)) ? undefined : `${leaf.path}: "${v}" is not a time but is mapped as date`;
      return STRINGY.has(type) ? undefined : `${leaf.path}: a string is mapped as ${type}`;
    case 'number':
      if (KEYWORD_NUMBERS.has(leaf.path) && type === 'keyword') return undefined;
      if (!NUMERIC.has(type)) return `${leaf.path}: a number is mapped as ${type}`;
      return Number.isInteger(v) || FLOATING.has(type) ? undefined : `${leaf.path}: ${v} has a fraction but is mapped as ${type}`;
    case 'boolean':
      return type === 'boolean' ? undefined : `${leaf.path}: a boolean is mapped as ${type}`;
    default:
      return `${leaf.path}: unexpected ${typeof v}`;
  }
}

function problems(mappings: MappingNode, docs: readonly unknown[], pick: (doc: unknown, i: number) => Leaf[], allowOpaque = false): string[] {
  const found = new Set<string>();
  docs.forEach((doc, i) => {
    for (const leaf of pick(doc, i)) {
      const problem = leafProblem(mappings, leaf, allowOpaque);
      if (problem) found.add(problem);
    }
  });
  return [...found].sort();
}

const mappingsOf = (t: IndexTemplate): MappingNode => t.template.mappings as MappingNode;

// ------------------------------------------------------------------ pipeline fixture

const DETECTION: DetectionConfig = {
  minDistanceKm: 500,
  maxSpeedKmh: 1000,
  suppressionWindowMs: 86_400_000,
  historyMaxLocations: 16,
  historyMaxAgeMs: 86_400_000,
  baselineLearningDays: 0,
  allowCidrs: [],
  allowPrincipals: [],
  allowAccessKeys: [],
};

/** MaxMind-shaped and DB-IP-shaped records, with and without region, radius or coordinates. */
const GEO_ENTRIES: MmdbEntry[] = [
  {
    network: '81.2.69.0/24',
    data: {
      city: { names: { en: 'London' } },
      country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
      subdivisions: [{ names: { en: 'England' } }],
      location: { latitude: 51.5142, longitude: -0.0931, accuracy_radius: typed('uint16', 10) },
    },
  },
  {
    network: '175.41.192.0/18',
    data: {
      city: { names: { en: 'Tokyo' } },
      country: { iso_code: 'JP', names: { en: 'Japan' } },
      subdivisions: [{ names: { en: 'Tokyo' } }],
      location: { latitude: 35.6895, longitude: 139.6917, accuracy_radius: typed('uint16', 20) },
    },
  },
  // DB-IP Lite shape: flat, no accuracy radius.
  { network: '2401:d002::/32', data: { city: 'Sydney', country_code: 'AU', state1: 'New South Wales', latitude: -33.8688, longitude: 151.2093 } },
  // No region: the alert carries region: null.
  { network: '82.221.0.0/16', data: { city: 'Reykjavik', country_code: 'IS', latitude: 64.1466, longitude: -21.9426 } },
  // Country only: source.geo without a location.
  { network: '41.0.0.0/16', data: { country: { iso_code: 'ZA', names: { en: 'South Africa' } } } },
];

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString().replace('.000Z', 'Z');

function iamUser(key: string, name: string): Doc {
  return {
    type: 'IAMUser',
    principalId: 'AIDAEXAMPLEUSER00001',
    arn: `arn:aws:iam::111122223333:user/${name}`,
    accountId: '111122223333',
    accessKeyId: key,
    userName: name,
  };
}

function assumedRole(key: string, session: string): Doc {
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLEROLE00001:${session}`,
    arn: `arn:aws:sts::111122223333:assumed-role/Admin/${session}`,
    accountId: '111122223333',
    accessKeyId: key,
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: 'AROAEXAMPLEROLE00001',
        arn: 'arn:aws:iam::111122223333:role/Admin',
        accountId: '111122223333',
        userName: 'Admin',
      },
      attributes: { creationDate: at(-60), mfaAuthenticated: 'true' },
      sourceIdentity: session,
    },
  };
}

let eventSeq = 0;
function record(minutes: number, sourceIPAddress: string, userIdentity: Doc, extra: Doc = {}): Doc {
  eventSeq++;
  return {
    eventVersion: '1.09',
    userIdentity,
    eventTime: at(minutes),
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    awsRegion: 'us-east-1',
    sourceIPAddress,
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64',
    requestParameters: null,
    responseElements: null,
    requestID: `req-${eventSeq}`,
    eventID: `00000000-0000-4000-8000-${String(eventSeq).padStart(12, '0')}`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: 'iam.amazonaws.com' },
    ...extra,
  };
}

/** Batches as CloudTrail delivers them: later batches may hold earlier events. */
function batches(): Doc[][] {
  eventSeq = 0;
  return [
    [
      // London, then Tokyo 40 minutes later with the same key: the classic alert.
      record(0, '81.2.69.160', iamUser('AKIAEXAMPLEKEY000001', 'alice'), {
        eventSource: 's3.amazonaws.com',
        eventName: 'PutBucketPolicy',
        readOnly: false,
        requestParameters: { bucketName: 'logs', policy: '{"Version":"2012-10-17"}', Host: 'logs.s3.amazonaws.com' },
        resources: [{ ARN: 'arn:aws:s3:::logs', accountId: '111122223333', type: 'AWS::S3::Bucket' }],
        additionalEventData: { SignatureVersion: 'SigV4', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader' },
      }),
      record(40, '175.41.193.10', iamUser('AKIAEXAMPLEKEY000001', 'alice'), {
        eventName: 'CreateAccessKey',
        readOnly: false,
        requestParameters: { userName: 'mallory' },
        responseElements: { accessKey: { accessKeyId: 'AKIAEXAMPLEKEY000009', status: 'Active', userName: 'mallory', createDate: 'May 1, 2024 10:40:00 AM' } },
      }),
      // A role session from IPv6 (Sydney), then Reykjavik (no region in the database).
      record(5, '2401:d002:1::7', assumedRole('ASIAEXAMPLEKEY000002', 'bob@example.com')),
      record(30, '82.221.7.1', assumedRole('ASIAEXAMPLEKEY000002', 'bob@example.com'), {
        errorCode: 'AccessDenied',
        errorMessage: 'User: arn:aws:sts::111122223333:assumed-role/Admin/bob@example.com is not authorized to perform: iam:ListUsers',
      }),
      // A service acting for the account: no address, no travel.
      record(1, 'cloudtrail.amazonaws.com', { type: 'AWSService', invokedBy: 'cloudtrail.amazonaws.com' }, {
        eventSource: 'kms.amazonaws.com',
        eventName: 'GenerateDataKey',
        sharedEventID: '11111111-2222-4333-8444-555555555555',
        resources: [{ ARN: 'arn:aws:kms:us-east-1:111122223333:key/abc', accountId: '111122223333', type: 'AWS::KMS::Key' }],
      }),
      record(2, 'AWS Internal', assumedRole('ASIAEXAMPLEKEY000003', 'internal')),
      // Root console sign-in from an address the database knows only the country of.
      record(3, '41.0.9.9', { type: 'Root', principalId: '111122223333', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333' }, {
        eventSource: 'signin.amazonaws.com',
        eventName: 'ConsoleLogin',
        eventType: 'AwsConsoleSignIn',
        readOnly: false,
        responseElements: { ConsoleLogin: 'Success' },
        additionalEventData: { LoginTo: 'https://console.aws.amazon.com/', MobileVersion: 'No', MFAUsed: 'Yes' },
      }),
      // A federated user from a private address (not located) through a VPC endpoint.
      record(4, '10.1.2.3', {
        type: 'FederatedUser',
        principalId: '111122223333:carol',
        arn: 'arn:aws:sts::111122223333:federated-user/carol',
        accountId: '111122223333',
        accessKeyId: 'ASIAEXAMPLEKEY000004',
        sessionContext: { attributes: { creationDate: at(0), mfaAuthenticated: 'false' } },
      }, { vpcEndpointId: 'vpce-0123456789abcdef0' }),
    ],
    [
      // A Logstash-shaped export: @timestamp instead of eventTime.
      (() => {
        const r = record(50, '81.2.69.161', iamUser('AKIAEXAMPLEKEY000005', 'dave'));
        delete r.eventTime;
        r['@timestamp'] = at(50);
        return r;
      })(),
      // Out of order: Tokyo arrives after London although it happened first.
      record(120, '81.2.69.162', iamUser('AKIAEXAMPLEKEY000006', 'erin')),
    ],
    [record(100, '175.41.200.1', iamUser('AKIAEXAMPLEKEY000006', 'erin'))],
  ];
}

interface Fixture {
  readonly inputs: Doc[];
  readonly enriched: Doc[];
  readonly alerts: Doc[];
}

async function runPipeline(dir: string): Promise<Fixture> {
  const dbPath = join(dir, 'city.mmdb');
  writeMmdb(dbPath, GEO_ENTRIES, { databaseType: 'GeoIP2-City', ipVersion: 6, buildEpoch: 1_700_000_000 });
  const geoip = new GeoIpDatabase({ paths: [dbPath], reloadIntervalMs: 0, cacheSize: 0 });
  try {
    const pipeline = createPipeline({
      detection: DETECTION,
      geoip,
      store: new MemoryStateStore({ maxKeys: 1000, maxPrincipals: 1000 }),
      log: silentLogger(),
    });
    const inputs: Doc[] = [];
    const enriched: Doc[] = [];
    const alerts: Doc[] = [];
    for (const batch of batches()) {
      inputs.push(...structuredClone(batch));
      const result = await pipeline.run(batch);
      for (const doc of result.docs) {
        assert.ok(!('error' in doc), `the pipeline rejected a sample record: ${JSON.stringify(doc)}`);
        enriched.push(doc);
      }
      alerts.push(...result.alerts);
    }
    return { inputs, enriched, alerts };
  } finally {
    geoip.close();
  }
}

// ------------------------------------------------------------------ tests

describe('mappings', () => {
  let fixture: Fixture;
  let dir: string;
  const templates = {} as Record<TemplateKind, IndexTemplate>;

  before(async () => {
    for (const kind of TEMPLATES) templates[kind] = loadTemplate(kind);
    dir = mkdtempSync(join(tmpdir(), 'mappings-test-'));
    fixture = await runPipeline(dir);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('the sample documents', () => {
    // Guards the guard: without these shapes the mapping checks below would prove little.
    it('include alerts, located and unlocated records, a country-only location and a region-less alert', () => {
      const { enriched, alerts } = fixture;
      assert.equal(alerts.length, 3, 'London→Tokyo, Sydney→Reykjavik and the out-of-order Tokyo→London');
      assert.equal(enriched.filter((d) => d.impossible_travel !== undefined).length, 3);
      const geo = enriched.map((d) => (d.source as Doc | undefined)?.geo as Doc | undefined);
      assert.ok(geo.some((g) => g?.location !== undefined), 'a located record');
      assert.ok(geo.some((g) => g !== undefined && g.location === undefined && g.country_iso_code === 'ZA'), 'a country-only record');
      assert.ok(enriched.some((d) => (d.source as Doc | undefined)?.ip === '2401:d002:1::7'), 'an IPv6 source.ip');
      assert.ok(enriched.some((d) => (d.source as Doc | undefined)?.address === 'AWS Internal' && (d.source as Doc).ip === undefined));
      assert.ok(enriched.some((d) => (d.userIdentity as Doc).session_name === 'bob@example.com'));
      assert.ok(leaves(alerts).some((l) => l.path.endsWith('second_location.region') && l.value === null), 'an alert with region null');
    });
  });

  describe('every field the processors write is mapped', () => {
    it('in the CloudTrail template, for every field the pipeline added to a record', () => {
      const added = (_doc: unknown, i: number): Leaf[] => addedLeaves(fixture.inputs[i], fixture.enriched[i]);
      const paths = new Set(fixture.enriched.flatMap((d, i) => added(d, i).map((l) => l.path)));
      for (const p of ['@timestamp', 'source.address', 'source.ip', 'source.geo.location', 'userIdentity.session_name', 'impossible_travel.alert_id']) {
        assert.ok(paths.has(p), `the pipeline was expected to add ${p}`);
      }
      assert.deepEqual(problems(mappingsOf(templates.cloudtrail), fixture.enriched, added), []);
    });

    it('in the alerts template, for every field of every alert', () => {
      assert.deepEqual(problems(mappingsOf(templates.alerts), fixture.alerts, (doc) => leaves(doc)), []);
    });

    it('in the CloudTrail template, for the CloudTrail fields of the sample records (or inside a disabled object)', () => {
      assert.deepEqual(problems(mappingsOf(templates.cloudtrail), fixture.inputs, (doc) => leaves(doc), true), []);
    });

    it('maps impossible_travel identically in the CloudTrail and the alerts template', () => {
      const ct = mappingsOf(templates.cloudtrail).properties!.impossible_travel;
      assert.ok(ct);
      assert.deepEqual(ct, mappingsOf(templates.alerts).properties!.impossible_travel);
    });

    it('maps locations as geo_point, addresses as ip and times as date', () => {
      const ct = mappingsOf(templates.cloudtrail);
      const al = mappingsOf(templates.alerts);
      const typeAt = (m: MappingNode, path: string): string | undefined => {
        const r = resolve(m, path);
        return r.kind === 'field' ? r.node.type : r.kind;
      };
      for (const m of [ct, al]) {
        for (const which of ['first_location', 'second_location']) {
          const base = `impossible_travel.triggering_locations.${which}`;
          assert.equal(typeAt(m, `${base}.location`), 'geo_point');
          assert.equal(typeAt(m, `${base}.ip`), 'ip');
          assert.equal(typeAt(m, `${base}.timestamp`), 'date');
        }
        assert.equal(typeAt(m, '@timestamp'), 'date');
      }
      assert.equal(typeAt(ct, 'source.geo.location'), 'geo_point');
      assert.equal(typeAt(ct, 'source.ip'), 'ip');
      assert.equal(typeAt(ct, 'source.address'), 'keyword');
      assert.equal(typeAt(ct, 'eventTime'), 'date');
      assert.equal(typeAt(ct, 'userIdentity.sessionContext.attributes.creationDate'), 'date');
      assert.equal(typeAt(al, 'event.created'), 'date');
    });
  });

  describe('the checker', () => {
    // The tests above pass when nothing is wrong; these show they fail when something is.
    const withChange = (change: (m: MappingNode) => void): MappingNode => {
      const m = structuredClone(mappingsOf(templates.alerts));
      change(m);
      return m;
    };
    const tl = (m: MappingNode): Record<string, MappingNode> =>
      m.properties!.impossible_travel!.properties!.triggering_locations!.properties!;

    it('reports a field the processors write that the template does not map', () => {
      const m = withChange((x) => delete tl(x).travel_speed);
      assert.deepEqual(problems(m, fixture.alerts, (d) => leaves(d)), [
        'impossible_travel.triggering_locations.travel_speed: not mapped (no property at impossible_travel.triggering_locations.travel_speed)',
      ]);
    });

    it('reports a location not mapped as geo_point, an address not mapped as ip, a time not mapped as date', () => {
      const m = withChange((x) => {
        tl(x).first_location!.properties!.location = { type: 'object', properties: { lat: { type: 'float' }, lon: { type: 'float' } } };
        tl(x).first_location!.properties!.ip = { type: 'keyword' };
        x.properties!.event!.properties!.created = { type: 'keyword' };
      });
      assert.deepEqual(problems(m, fixture.alerts, (d) => leaves(d)), [
        'event.created: a time must be mapped as date, not keyword',
        'impossible_travel.triggering_locations.first_location.ip: an address must be mapped as ip, not keyword',
        'impossible_travel.triggering_locations.first_location.location: a location must be a {lat, lon} object mapped as geo_point (mapped object)',
      ]);
    });

    it('reports a fractional number mapped as long and a pipeline field inside a disabled object', () => {
      const ct = structuredClone(mappingsOf(templates.cloudtrail));
      ct.properties!.source = { type: 'object', enabled: false };
      const found = problems(ct, fixture.enriched, (_d, i) => addedLeaves(fixture.inputs[i], fixture.enriched[i]));
      assert.ok(found.includes('source.ip: inside source, an object with enabled:false, so not searchable'), found.join('\n'));
      assert.equal(
        leafProblem({ properties: { speed: { type: 'long' } } }, { path: 'speed', value: 1.5, geo: false }, false),
        'speed: 1.5 has a fraction but is mapped as long',
      );
    });
  });

  describe('template files', () => {
    it('parse, are self-contained and carry the default index patterns', () => {
      assert.deepEqual(templates.cloudtrail.index_patterns, ['cloudtrail-*']);
      assert.deepEqual(templates.alerts.index_patterns, ['impossible-travel-alerts*']);
      assert.deepEqual(templates.state.index_patterns, ['impossible-travel-state']);
      for (const kind of TEMPLATES) {
        const t = templates[kind];
        assert.equal((t as unknown as Doc).composed_of, undefined, kind);
        assert.equal(typeof t._meta.description, 'string', `${kind} explains itself in _meta.description`);
        assert.equal(t.template.settings['index.number_of_replicas'], undefined, `${kind} leaves replicas to setup()`);
      }
    });

    it('are found at the package root (mappings/ beside dist/, not inside it)', () => {
      for (const kind of TEMPLATES) assert.equal(templatePath(kind), join(REPO_ROOT, 'mappings', `${kind}-template.json`));
    });

    it('order priorities so service indices win over a broad CloudTrail pattern', () => {
      assert.deepEqual(TEMPLATES.map((k) => templates[k].priority), [200, 210, 220]);
    });

    it('keep the decisions: opaque CloudTrail payloads, keyword for unknown leaves, dynamic false for alerts and state', () => {
      const ct = mappingsOf(templates.cloudtrail) as MappingNode & Doc;
      for (const f of ['requestParameters', 'responseElements', 'additionalEventData', 'serviceEventDetails']) {
        assert.deepEqual(ct.properties![f], { type: 'object', enabled: false }, f);
      }
      assert.equal(ct.dynamic, true);
      assert.equal(ct.date_detection, false);
      const dynamicTypes = (ct.dynamic_templates as Record<string, { match_mapping_type: string; mapping: { type: string } }>[])
        .map((d) => Object.values(d)[0]!)
        .map((d) => `${d.match_mapping_type}:${d.mapping.type}`);
      assert.deepEqual(dynamicTypes, ['string:keyword', 'long:keyword', 'double:keyword', 'boolean:keyword']);
      assert.equal((mappingsOf(templates.alerts) as Doc).dynamic, false);
      const state = mappingsOf(templates.state) as MappingNode & Doc;
      assert.equal(state.dynamic, false);
      assert.deepEqual(state.properties, {
        kind: { type: 'keyword' },
        key: { type: 'keyword' },
        updated_at: { type: 'date' },
        state: { type: 'object', enabled: false },
      });
      assert.equal(templates.state.template.settings['index.number_of_shards'], 1);
    });

    it('loadTemplate names the file when it is missing or malformed', () => {
      const root = mkdtempSync(join(tmpdir(), 'mappings-root-'));
      const file = join(root, 'mappings', 'alerts-template.json');
      const fails = (message: RegExp): void => {
        assert.throws(() => loadTemplate('alerts', root), (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.equal(err.setting, file);
          assert.match(err.message, message);
          return true;
        });
      };
      try {
        fails(/: cannot load the alerts index template: ENOENT/);
        mkdirSync(join(root, 'mappings'));
        writeFileSync(file, '{"index_patterns": [');
        fails(/: cannot load the alerts index template: .*JSON/);
        writeFileSync(file, JSON.stringify({ priority: 1, _meta: {}, template: { mappings: { properties: {} } } }));
        fails(/: the alerts index template needs index_patterns, a non-empty list of strings$/);
        writeFileSync(file, JSON.stringify({ ...templates.alerts, composed_of: ['x'] }));
        fails(/: the alerts index template must be self-contained \(no composed_of\)$/);
        assert.throws(() => loadTemplate('nope' as TemplateKind), /unknown template "nope" \(known: cloudtrail, alerts, state\)/);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('renderTemplates', () => {
    const byKind = (list: RenderedTemplate[]): Record<TemplateKind, RenderedTemplate> =>
      Object.fromEntries(list.map((t) => [t.kind, t])) as Record<TemplateKind, RenderedTemplate>;

    it('uses the default names and patterns and leaves replicas to the cluster', () => {
      const t = byKind(renderTemplates());
      assert.deepEqual(
        TEMPLATES.map((k) => [t[k].name, t[k].body.index_patterns, t[k].body.priority]),
        [
          ['impossible-travel-cloudtrail', ['cloudtrail-*'], 200],
          ['impossible-travel-alerts', ['impossible-travel-alerts*'], 210],
          ['impossible-travel-state', ['impossible-travel-state'], 220],
        ],
      );
      for (const k of TEMPLATES) assert.equal(t[k].body.template.settings['index.number_of_replicas'], undefined);
    });

    it('substitutes patterns, names, priorities and replicas from the options', () => {
      const t = byKind(
        renderTemplates({
          cloudtrailIndexPattern: 'logs-cloudtrail-*',
          alertsIndex: 'it-alerts',
          stateIndex: 'it-state',
          templatePrefix: 'team-a',
          priority: 500,
          replicas: 0,
        }),
      );
      assert.deepEqual(
        TEMPLATES.map((k) => [t[k].name, t[k].body.index_patterns, t[k].body.priority, t[k].body.template.settings['index.number_of_replicas']]),
        [
          ['team-a-cloudtrail', ['logs-cloudtrail-*'], 500, 0],
          ['team-a-alerts', ['it-alerts*'], 510, 0],
          ['team-a-state', ['it-state'], 520, 0],
        ],
      );
      // The files' own settings survive; the mappings are the files' mappings.
      assert.equal(t.state.body.template.settings['index.number_of_shards'], 1);
      assert.deepEqual(t.alerts.body.template.mappings, templates.alerts.template.mappings);
    });

    it('stamps a content hash that changes with the content, not with key order', () => {
      const hashOf = (options: Parameters<typeof renderTemplates>[0], root?: string): unknown =>
        byKind(renderTemplates(options, root)).alerts.body._meta.content_sha256;
      const original = hashOf({});
      assert.match(String(original), /^[0-9a-f]{64}$/);
      assert.notEqual(hashOf({ replicas: 0 }), original);
      assert.notEqual(hashOf({ alertsIndex: 'other-alerts' }), original);

      const reversed = (v: unknown): unknown =>
        Array.isArray(v) ? v.map(reversed) : isPlain(v) ? Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reversed(v[k])])) : v;
      const root = mkdtempSync(join(tmpdir(), 'mappings-root-'));
      try {
        mkdirSync(join(root, 'mappings'));
        for (const kind of TEMPLATES) {
          const text = JSON.stringify(reversed(JSON.parse(readFileSync(templatePath(kind), 'utf8'))));
          writeFileSync(join(root, 'mappings', `${kind}-template.json`), text);
        }
        assert.equal(hashOf({}, root), original);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it('rejects unknown and malformed options, naming the option', () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ alertIndex: 'x' }, /^setup\.alertIndex: unknown option \(known: /],
        [{ alertsIndex: 'Alerts' }, /^setup\.alertsIndex: "Alerts" is not a lowercase index name/],
        [{ cloudtrailIndexPattern: 'cloud trail' }, /^setup\.cloudtrailIndexPattern: "cloud trail" is not a lowercase index pattern/],
        [{ replicas: -1 }, /^setup\.replicas: must be a whole number from 0 to 10$/],
        [{ priority: 1.5 }, /^setup\.priority: must be a whole number/],
        [{ alertsIndex: 'same', stateIndex: 'same' }, /^setup\.stateIndex: must differ from alertsIndex/],
      ];
      for (const [options, message] of cases) {
        assert.throws(() => renderTemplates(options), (err: unknown) => err instanceof ConfigError && message.test(err.message), JSON.stringify(options));
      }
    });
  });

  describe('setup (against a stand-in client)', () => {
    const responseError = (statusCode: number, type: string, reason: string): errors.ResponseError =>
      new errors.ResponseError({
        body: { error: { root_cause: [{ type, reason }], type, reason }, status: statusCode },
        statusCode,
        headers: {},
        warnings: null,
        meta: {},
      } as unknown as ApiResponse);

    /** Keeps templates and indices the way OpenSearch would, and records the calls. */
    class FakeOpenSearch {
      readonly templates = new Map<string, IndexTemplate>();
      readonly indices = new Map<string, Doc>();
      readonly calls: string[] = [];
      failWith: Partial<Record<string, unknown>> = {};
      overlapping: { name: string; index_patterns: string[] }[] = [];

      private fail(op: string): void {
        const err = this.failWith[op];
        if (err) throw err;
      }

      readonly client = {
        indices: {
          getIndexTemplate: async ({ name }: { name: string }) => {
            this.calls.push(`GET _index_template/${name}`);
            this.fail('getIndexTemplate');
            const t = this.templates.get(name);
            if (!t) throw responseError(404, 'resource_not_found_exception', `index template matching [${name}] not found`);
            return { body: { index_templates: [{ name, index_template: structuredClone(t) }] } };
          },
          putIndexTemplate: async ({ name, body }: { name: string; body: IndexTemplate }) => {
            this.calls.push(`PUT _index_template/${name}`);
            this.fail('putIndexTemplate');
            this.templates.set(name, structuredClone(body));
            return { body: { acknowledged: true } };
          },
          exists: async ({ index }: { index: string }) => {
            this.calls.push(`HEAD ${index}`);
            return { body: this.indices.has(index) };
          },
          simulateIndexTemplate: async ({ name }: { name: string }) => {
            this.calls.push(`POST _index_template/_simulate_index/${name}`);
            return { body: { template: {}, overlapping: this.overlapping } };
          },
          create: async ({ index }: { index: string }) => {
            this.calls.push(`PUT ${index}`);
            this.fail('create');
            if (this.indices.has(index)) throw responseError(400, 'resource_already_exists_exception', `index [${index}/x] already exists`);
            this.indices.set(index, {});
            return { body: { acknowledged: true, index, shards_acknowledged: true } };
          },
          putMapping: async ({ index }: { index: string }) => {
            this.calls.push(`PUT ${index}/_mapping`);
            this.fail('putMapping');
            return { body: { acknowledged: true } };
          },
        },
      };

      get asClient(): Client {
        return this.client as unknown as Client;
      }
    }

    it('creates everything on the first run and changes nothing on the second', async () => {
      const os = new FakeOpenSearch();
      const first = await setup(os.asClient, { replicas: 0 });
      assert.deepEqual(first, {
        templates: [
          { name: 'impossible-travel-cloudtrail', indexPatterns: ['cloudtrail-*'], action: 'created' },
          { name: 'impossible-travel-alerts', indexPatterns: ['impossible-travel-alerts*'], action: 'created' },
          { name: 'impossible-travel-state', indexPatterns: ['impossible-travel-state'], action: 'created' },
        ],
        indices: [
          { name: 'impossible-travel-alerts', template: 'impossible-travel-alerts', action: 'created' },
          { name: 'impossible-travel-state', template: 'impossible-travel-state', action: 'created' },
        ],
      });
      assert.equal(os.templates.get('impossible-travel-state')!.template.settings['index.number_of_replicas'], 0);

      os.calls.length = 0;
      const second = await setup(os.asClient, { replicas: 0 });
      assert.deepEqual(second.templates.map((t) => t.action), ['unchanged', 'unchanged', 'unchanged']);
      assert.deepEqual(second.indices.map((i) => i.action), ['exists', 'exists']);
      assert.ok(!os.calls.some((c) => c.startsWith('PUT _index_template') || c === 'PUT impossible-travel-alerts'), os.calls.join('\n'));
      assert.ok(os.calls.includes('PUT impossible-travel-alerts/_mapping'), 'an existing index gains new template fields');

      const third = await setup(os.asClient, {});
      assert.deepEqual(third.templates.map((t) => t.action), ['updated', 'updated', 'updated'], 'replicas changed, so the content did');
    });

    it('treats an index created concurrently as existing', async () => {
      const os = new FakeOpenSearch();
      os.failWith.create = responseError(400, 'resource_already_exists_exception', 'index [impossible-travel-alerts/abc] already exists');
      const report = await setup(os.asClient, {});
      assert.deepEqual(report.indices.map((i) => i.action), ['exists', 'exists']);
    });

    const rejects = async (os: FakeOpenSearch, pattern: RegExp, code: string): Promise<void> => {
      await assert.rejects(setup(os.asClient, {}), (err: unknown) => {
        assert.ok(err instanceof SetupError, String(err));
        assert.match(err.message, pattern);
        assert.equal(err.code, code);
        return true;
      });
    };

    it('fails on any other error creating an index, naming the index and OpenSearch\'s reason', async () => {
      const os = new FakeOpenSearch();
      os.failWith.create = responseError(400, 'illegal_argument_exception', 'unknown setting [index.foo]');
      await rejects(os, /^setup: cannot create index \[impossible-travel-alerts\]: 400 illegal_argument_exception: unknown setting \[index\.foo\]$/, 'upstream_rejected');
    });

    it('fails when a template is rejected, naming the template, its patterns and the reason', async () => {
      const os = new FakeOpenSearch();
      os.failWith.putIndexTemplate = responseError(400, 'illegal_argument_exception', 'index template [impossible-travel-cloudtrail] has index patterns [cloudtrail-*] matching patterns from existing templates [other] ... that have the same priority [200]');
      await rejects(os, /^setup: cannot install index template \[impossible-travel-cloudtrail\] \(patterns cloudtrail-\*\): 400 illegal_argument_exception: .*same priority \[200\]/, 'upstream_rejected');
    });

    it('fails when an existing index cannot take the template mapping', async () => {
      const os = new FakeOpenSearch();
      os.indices.set('impossible-travel-alerts', {});
      os.failWith.putMapping = responseError(400, 'illegal_argument_exception', 'mapper [impossible_travel.triggering_locations.first_location.location] cannot be changed from type [float] to [geo_point]');
      await rejects(os, /^setup: cannot add the mappings of index template \[impossible-travel-alerts\] to index \[impossible-travel-alerts\]: 400 illegal_argument_exception: mapper .* cannot be changed from type \[float\] to \[geo_point\]$/, 'upstream_rejected');
    });

    it('refuses to create an index that a higher-priority template would capture', async () => {
      const os = new FakeOpenSearch();
      os.overlapping = [{ name: 'impossible-travel-alerts', index_patterns: ['impossible-travel-alerts*'] }];
      await rejects(os, /^setup: cannot create index \[impossible-travel-alerts\]: index template \[impossible-travel-alerts\] \(priority 210\) would not apply: a template with a higher priority matches/, 'upstream_rejected');
      assert.equal(os.indices.size, 0);
    });

    it('reports an unreachable node as unavailable', async () => {
      const os = new FakeOpenSearch();
      os.failWith.getIndexTemplate = new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9');
      await rejects(os, /^setup: cannot read index template \[impossible-travel-cloudtrail\]: connect ECONNREFUSED 127\.0\.0\.1:9$/, 'upstream_unavailable');
    });
  });
});
