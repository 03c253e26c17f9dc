import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@opensearch-project/opensearch';
import { GeoIpDatabase } from '../../processors/geoip-database.js';
import { createPipeline } from '../../processors/pipeline.js';
import { MemoryStateStore } from '../../processors/state.js';
import type { Doc } from '../../processors/types.js';
import { silentLogger } from '../../server/log.js';
import { SetupError, TEMPLATES, renderTemplates, setup, type SetupOptions } from '../../server/setup.js';
import { typed, writeMmdb } from '../support/mmdb-writer.js';

/**
 * setup() against a real OpenSearch node: the templates must be accepted as written, and the
 * indices they create must type what the pipeline writes (geo_point, ip, date). Everything here
 * carries a random suffix and a priority above the service's own templates, so a node shared
 * with a running service or another test keeps its templates and indices; all of it is removed
 * afterwards.
 */

const URL = process.env.OPENSEARCH_URL;

const at = (minutes: number): string => new Date(Date.parse('2024-05-01T10:00:00Z') + minutes * 60_000).toISOString();

function cloudTrailRecord(minutes: number, ip: string, extra: Doc = {}): Doc {
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLEROLE00001:alice',
      arn: 'arn:aws:sts::111122223333:assumed-role/Admin/alice',
      accountId: '111122223333',
      accessKeyId: 'ASIAEXAMPLEKEY000001',
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLEROLE00001', arn: 'arn:aws:iam::111122223333:role/Admin', accountId: '111122223333', userName: 'Admin' },
        attributes: { creationDate: at(-30), mfaAuthenticated: 'true' },
      },
    },
    eventTime: at(minutes),
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    awsRegion: 'us-east-1',
    sourceIPAddress: ip,
    userAgent: 'aws-cli/2.15.0',
    requestParameters: null,
    responseElements: null,
    requestID: `req-${minutes}`,
    eventID: `00000000-0000-4000-8000-${String(minutes).padStart(12, '0')}`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
    ...extra,
  };
}

/** London, then Tokyo 40 minutes later with the same key: two enriched records and one alert. */
async function pipelineOutput(dir: string): Promise<{ docs: Doc[]; alerts: Doc[] }> {
  const dbPath = join(dir, 'city.mmdb');
  writeMmdb(
    dbPath,
    [
      {
        network: '81.2.69.0/24',
        data: {
          city: { names: { en: 'London' } },
          country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
          subdivisions: [{ names: { en: 'England' } }],
          location: { latitude: 51.5142, longitude: -0.0931, accuracy_radius: typed('uint16', 10) },
        },
      },
      { network: '175.41.192.0/18', data: { city: 'Tokyo', country_code: 'JP', latitude: 35.6895, longitude: 139.6917 } },
    ],
    { databaseType: 'GeoIP2-City', ipVersion: 6, buildEpoch: 1_700_000_000 },
  );
  const geoip = new GeoIpDatabase({ paths: [dbPath], reloadIntervalMs: 0, cacheSize: 0 });
  try {
    const pipeline = createPipeline({
      detection: {
        minDistanceKm: 500,
        maxSpeedKmh: 1000,
        suppressionWindowMs: 86_400_000,
        historyMaxLocations: 16,
        historyMaxAgeMs: 86_400_000,
        baselineLearningDays: 0,
        allowCidrs: [],
        allowPrincipals: [],
        allowAccessKeys: [],
      },
      geoip,
      store: new MemoryStateStore({ maxKeys: 100, maxPrincipals: 100 }),
      log: silentLogger(),
    });
    const result = await pipeline.run([
      cloudTrailRecord(0, '81.2.69.160', { requestParameters: { userName: 'bob' } }),
      cloudTrailRecord(40, '175.41.193.10', { responseElements: { ConsoleLogin: 'Success' } }),
    ]);
    return { docs: result.docs as Doc[], alerts: result.alerts };
  } finally {
    geoip.close();
  }
}

/** Walks GET _mapping's `properties` to a dotted path. */
function mappingAt(mappings: unknown, path: string): Record<string, unknown> | undefined {
  let node = mappings as Record<string, unknown> | undefined;
  for (const part of path.split('.')) {
    node = (node?.properties as Record<string, Record<string, unknown>> | undefined)?.[part];
  }
  return node;
}

describe('setup against a real OpenSearch node', function () {
  this.timeout(120_000);

  const id = randomBytes(4).toString('hex');
  const options: SetupOptions = {
    templatePrefix: `it-test-${id}`,
    cloudtrailIndexPattern: `cloudtrail-test-${id}*`,
    alertsIndex: `it-test-${id}-alerts`,
    stateIndex: `it-test-${id}-state`,
    replicas: 0,
    // Above the service's own templates (200-220): `cloudtrail-*` overlaps our pattern.
    priority: 5000,
  };
  const cloudtrailIndex = `cloudtrail-test-${id}`;
  /** A second set whose alerts index exists beforehand with a location typed as keyword. */
  const conflicting: SetupOptions = {
    ...options,
    templatePrefix: `it-test-${id}-conflict`,
    cloudtrailIndexPattern: `cloudtrail-test-${id}-conflict*`,
    alertsIndex: `it-test-${id}-conflict-alerts`,
    stateIndex: `it-test-${id}-conflict-state`,
    priority: 6000,
  };
  const templateNames = renderTemplates(options).map((t) => t.name);
  let client: Client;
  let dir: string | undefined;

  before(function () {
    if (!URL) {
      console.log('    (skipped: OPENSEARCH_URL is not set; the integration test command starts a node and sets it, e.g. OPENSEARCH_URL=http://127.0.0.1:9200)');
      this.skip();
    }
    client = new Client({ node: URL, requestTimeout: 30_000, maxRetries: 0 });
    dir = mkdtempSync(join(tmpdir(), 'setup-it-'));
  });

  after(async function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (!client) return;
    const indices = [cloudtrailIndex, options.alertsIndex!, options.stateIndex!, conflicting.alertsIndex!, conflicting.stateIndex!];
    await client.indices.delete({ index: indices.join(','), ignore_unavailable: true });
    for (const name of [...templateNames, ...renderTemplates(conflicting).map((t) => t.name)]) {
      await client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    }
    await client.close();
  });

  it('installs the templates and creates the indices, and a second run changes nothing', async () => {
    const first = await setup(client, options);
    assert.deepEqual(first.templates.map((t) => [t.name, t.action]), templateNames.map((n) => [n, 'created']));
    assert.deepEqual(first.indices.map((i) => [i.name, i.action]), [
      [options.alertsIndex, 'created'],
      [options.stateIndex, 'created'],
    ]);
    const second = await setup(client, options);
    assert.deepEqual(second.templates.map((t) => t.action), ['unchanged', 'unchanged', 'unchanged']);
    assert.deepEqual(second.indices.map((i) => i.action), ['exists', 'exists']);
  });

  it('GET _index_template shows the three templates with the substituted patterns and the content hash', async () => {
    const rendered = renderTemplates(options);
    for (const t of rendered) {
      const res = await client.indices.getIndexTemplate({ name: t.name });
      const installed = res.body.index_templates[0]!.index_template as unknown as Record<string, unknown>;
      assert.deepEqual(installed.index_patterns, t.body.index_patterns, t.name);
      assert.equal(installed.priority, t.body.priority, t.name);
      assert.equal((installed._meta as Record<string, unknown>).content_sha256, t.body._meta.content_sha256, t.name);
    }
    assert.deepEqual(rendered.map((t) => t.kind), [...TEMPLATES]);
  });

  it('types what the pipeline writes in a CloudTrail index: source.geo.location geo_point, source.ip ip', async () => {
    const { docs } = await pipelineOutput(dir!);
    assert.ok(docs.some((d) => d.impossible_travel !== undefined), 'the second record closes an impossible journey');
    const body = docs.flatMap((doc) => [{ index: { _index: cloudtrailIndex } }, doc]);
    const res = await client.bulk({ body, refresh: 'true' });
    assert.equal(res.body.errors, false, JSON.stringify(res.body.items));

    const mapping = (await client.indices.getMapping({ index: cloudtrailIndex })).body[cloudtrailIndex]!.mappings;
    const typeAt = (path: string): unknown => mappingAt(mapping, path)?.type;
    assert.equal(typeAt('source.geo.location'), 'geo_point');
    assert.equal(typeAt('source.ip'), 'ip');
    assert.equal(typeAt('@timestamp'), 'date');
    assert.equal(typeAt('impossible_travel.triggering_locations.first_location.location'), 'geo_point');
    assert.equal(typeAt('impossible_travel.triggering_locations.second_location.ip'), 'ip');
    assert.deepEqual(mappingAt(mapping, 'requestParameters'), { type: 'object', enabled: false });

    const settings = (await client.indices.getSettings({ index: cloudtrailIndex })).body[cloudtrailIndex]!.settings as Record<string, Record<string, unknown>>;
    assert.equal(settings.index!.number_of_replicas, '0');

    // The mapping is usable: a geo query finds the London record.
    const found = await client.search({
      index: cloudtrailIndex,
      body: { query: { geo_distance: { distance: '50km', 'source.geo.location': { lat: 51.5, lon: -0.1 } } } },
    });
    const hits = found.body.hits.hits as { _source: Doc }[];
    assert.deepEqual(hits.map((h) => (h._source.source as Doc).ip), ['81.2.69.160']);
  });

  it('keeps CloudTrail records whose payload objects change type or hold oversized values', async () => {
    const records = [
      cloudTrailRecord(1, '81.2.69.160', { requestParameters: { policy: { Statement: [] } }, someNewField: 1 }),
      cloudTrailRecord(2, '81.2.69.160', { requestParameters: { policy: 'a string this time' }, someNewField: 'text now' }),
      cloudTrailRecord(3, '81.2.69.160', { requestParameters: 'not an object at all', responseElements: ['a', { b: 1 }] }),
      cloudTrailRecord(4, '81.2.69.160', { requestParameters: { templateBody: 'x'.repeat(40_000) }, unknownBig: 'y'.repeat(40_000) }),
      cloudTrailRecord(5, 'AWS Internal', { eventTime: 'not a time', '@timestamp': '2024-05-01T10:05:00Z' }),
    ];
    const body = records.flatMap((doc) => [{ index: { _index: cloudtrailIndex } }, doc]);
    const res = await client.bulk({ body, refresh: 'true' });
    assert.equal(res.body.errors, false, JSON.stringify(res.body.items));
    const mapping = (await client.indices.getMapping({ index: cloudtrailIndex })).body[cloudtrailIndex]!.mappings;
    assert.deepEqual(mappingAt(mapping, 'someNewField'), { type: 'keyword' });
  });

  it('creates the alerts index with its mapping, takes the pipeline\'s alerts and adds no field', async () => {
    const index = options.alertsIndex!;
    const before = (await client.indices.getMapping({ index })).body[index]!.mappings;
    assert.equal(before.dynamic, 'false');
    assert.equal(mappingAt(before, 'impossible_travel.triggering_locations.first_location.location')?.type, 'geo_point');
    assert.equal(mappingAt(before, 'impossible_travel.triggering_locations.first_location.ip')?.type, 'ip');
    assert.equal(mappingAt(before, 'event.created')?.type, 'date');

    const { alerts } = await pipelineOutput(dir!);
    assert.equal(alerts.length, 1);
    const body = alerts.flatMap((alert) => [{ index: { _index: index, _id: String((alert.event as Doc).id) } }, alert]);
    const res = await client.bulk({ body, refresh: 'true' });
    assert.equal(res.body.errors, false, JSON.stringify(res.body.items));
    const after = (await client.indices.getMapping({ index })).body[index]!.mappings;
    assert.deepEqual(after, before, 'every alert field was mapped already');

    const found = await client.search({
      index,
      body: { query: { geo_bounding_box: { 'impossible_travel.triggering_locations.second_location.location': { top_left: { lat: 40, lon: 130 }, bottom_right: { lat: 30, lon: 150 } } } } },
    });
    assert.equal(found.body.hits.hits.length, 1, 'the alert is found by its Tokyo location');

    const state = (await client.indices.getMapping({ index: options.stateIndex! })).body[options.stateIndex!]!.mappings;
    assert.deepEqual(mappingAt(state, 'state'), { type: 'object', enabled: false });
  });

  it('fails loudly, naming the index and OpenSearch\'s reason, when an existing alerts index types a location otherwise', async () => {
    const conflictIndex = conflicting.alertsIndex!;
    await client.indices.create({
      index: conflictIndex,
      body: {
        settings: { number_of_replicas: 0 },
        mappings: { properties: { impossible_travel: { properties: { triggering_locations: { properties: { first_location: { properties: { location: { type: 'keyword' } } } } } } } } },
      },
    });
    await assert.rejects(setup(client, conflicting), (err: unknown) => {
      assert.ok(err instanceof SetupError, String(err));
      assert.equal(err.target, `index [${conflictIndex}]`);
      assert.match(err.message, new RegExp(`^setup: cannot add the mappings of index template \\[it-test-${id}-conflict-alerts\\] to index \\[${conflictIndex}\\]: 400 illegal_argument_exception: .*location.*`));
      return true;
    });
  });
});
