import assert from 'node:assert/strict';
import { Client } from '@opensearch-project/opensearch';
import { hasMlPlugin, mlSetup, pipelineBody, type MlSetupReport } from '../../server/ml-setup.js';
import { setup } from '../../server/setup.js';
import { CITY, cloudTrailRecord, openSearchClient, openSearchUrl, startService, uniqueName, type RunningService } from '../support/service-harness.js';

/**
 * Documents indexed STRAIGHT into OpenSearch (not through the service) are enriched by the service
 * all the same: ML Commons' `ml_inference` ingest processor calls the service's /ml/enrich through a
 * remote connector that server/ml-setup.ts creates. Needs a node with the opensearch-ml plugin
 * (scripts/test.sh starts one); skipped, saying why, on a node without it.
 */

const osUrl = openSearchUrl();

describe('ML Commons ingest pipeline against a real OpenSearch node', function () {
  this.timeout(180_000);
  let client: Client;
  let service: RunningService;
  let report: MlSetupReport;
  const run = uniqueName('ml');
  const ctIndex = uniqueName('cloudtrail-ml-it');
  const alertsIndex = uniqueName('impossible-travel-alerts-ml-it');
  const stateIndex = uniqueName('impossible-travel-state-ml-it');
  const names = { connector: `${run}-connector`, modelGroup: `${run}-group`, model: `${run}-model`, pipeline: `${run}-pipeline` };
  // The services here listen on random ports: trust any port of the loopback once, not one per run.
  const trustedEndpointRegex = '^http://127\\.0\\.0\\.1:.*$';

  before(async function () {
    if (!osUrl) {
      console.log('    (skipped: OPENSEARCH_URL is not set; `make test` starts a node and sets it)');
      this.skip();
    }
    client = openSearchClient(osUrl!);
    if (!(await hasMlPlugin(client))) {
      console.log(`    (skipped: the node at ${osUrl} has no opensearch-ml plugin in GET _cat/plugins; scripts/test.sh starts one with OPENSEARCH_PLUGINS)`);
      this.skip();
    }
    await setup(client, { alertsIndex, stateIndex, replicas: 0 });
    service = await startService({ OPENSEARCH_URL: osUrl!, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex });
    report = await mlSetup(client, { serviceUrl: service.url, names, trustedEndpointRegex });
  });

  after(async () => {
    await service?.stop();
    if (!client) return;
    const ml = async (method: string, path: string): Promise<void> => {
      await client.transport.request({ method, path }).catch(() => undefined);
    };
    if (report) {
      await ml('DELETE', `/_ingest/pipeline/${names.pipeline}`);
      await ml('POST', `/_plugins/_ml/models/${report.model.id}/_undeploy`);
      await ml('DELETE', `/_plugins/_ml/models/${report.model.id}`);
      await ml('DELETE', `/_plugins/_ml/model_groups/${report.modelGroup.id}`);
      await ml('DELETE', `/_plugins/_ml/connectors/${report.connector.id}`);
    }
    await client.indices.delete({ index: [ctIndex, alertsIndex, stateIndex].join(','), ignore_unavailable: true } as never).catch(() => undefined);
    await client.close();
  });

  async function indexDirect(record: Record<string, unknown>, query: Record<string, string> = { pipeline: names.pipeline }): Promise<void> {
    const res = await client.index({ index: ctIndex, id: record.eventID as string, body: record, refresh: 'wait_for', ...query } as never);
    assert.ok([200, 201].includes(res.statusCode ?? 0), `indexed: ${JSON.stringify(res.body)}`);
  }

  async function stored(id: string): Promise<Record<string, unknown>> {
    const res = await client.get({ index: ctIndex, id });
    return (res.body as { _source: Record<string, unknown> })._source;
  }

  it('creates the connector, model and pipeline once: a second run finds them all', async () => {
    assert.equal(report.connector.action, 'created');
    assert.equal(report.model.action, 'created');
    assert.equal(report.pipeline.action, 'created');
    const again = await mlSetup(client, { serviceUrl: service.url, names, trustedEndpointRegex });
    assert.deepEqual(
      { c: again.connector, g: again.modelGroup.id, m: again.model.id, p: again.pipeline.action, s: again.settings },
      { c: { id: report.connector.id, action: 'unchanged' }, g: report.modelGroup.id, m: report.model.id, p: 'unchanged', s: {} },
    );
    const connectors = await client.transport.request({
      method: 'POST',
      path: '/_plugins/_ml/connectors/_search',
      body: { size: 100, query: { match_phrase: { name: names.connector } } },
    });
    assert.equal((connectors.body as { hits: { hits: { _source: { name: string } }[] } }).hits.hits.filter((h) => h._source.name === names.connector).length, 1);
    const pipeline = await client.transport.request({ method: 'GET', path: `/_ingest/pipeline/${names.pipeline}` });
    assert.deepEqual((pipeline.body as Record<string, unknown>)[names.pipeline], pipelineBody(report.model.id));
  });

  it('enriches documents indexed straight into OpenSearch and the service stores the alert once', async () => {
    const key = uniqueName('AKIAMLDIRECT');
    const london = cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: uniqueName('ev') });
    const tokyo = cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2024-05-01T10:40:00Z', id: uniqueName('ev') });
    await indexDirect(london);
    await indexDirect(tokyo);

    const l = await stored(london.eventID as string);
    assert.equal(l['@timestamp'], '2024-05-01T10:00:00Z');
    assert.deepEqual((l.source as { address: string; ip: string }).ip, CITY.london.ip);
    assert.equal((l.source as { geo: { city_name: string } }).geo.city_name, 'London');
    assert.equal((l.userIdentity as { session_name: string }).session_name, 'alice');
    assert.equal(l.impossible_travel, null, 'no journey yet: the field is null (not indexed)');
    assert.equal(l._index, undefined, 'no ingest metadata leaks into the document');

    const t = await stored(tokyo.eventID as string);
    assert.equal((t.source as { geo: { city_name: string } }).geo.city_name, 'Tokyo');
    const travel = t.impossible_travel as { triggering_locations: { first_location: { city: string }; second_location: { city: string }; travel_time_human_readable: string } };
    assert.equal(travel.triggering_locations.first_location.city, 'London');
    assert.equal(travel.triggering_locations.second_location.city, 'Tokyo');
    assert.equal(travel.triggering_locations.travel_time_human_readable, '40 minutes');

    // Indexing the Tokyo document again (a retry) raises the same alert id: still one alert.
    await indexDirect({ ...tokyo });
    await client.indices.refresh({ index: alertsIndex });
    const alerts = await client.search({ index: alertsIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
    const hits = (alerts.body as { hits: { hits: { _source: { impossible_travel: { triggering_locations: { first_location: { city: string } } } } }[] } }).hits.hits;
    assert.equal(hits.length, 1, 'one alert in the alerts index');
    assert.equal(hits[0]!._source.impossible_travel.triggering_locations.first_location.city, 'London');

    // The enriched fields have the CloudTrail template's types.
    const mapping = await client.indices.getFieldMapping({ index: ctIndex, fields: 'source.geo.location,source.ip' });
    const fields = (mapping.body as Record<string, { mappings: Record<string, { mapping: Record<string, { type: string }> }> }>)[ctIndex]!.mappings;
    assert.equal(fields['source.geo.location']!.mapping.location!.type, 'geo_point');
    assert.equal(fields['source.ip']!.mapping.ip!.type, 'ip');
  });

  it('is the default pipeline of the CloudTrail indices when asked (ML_DEFAULT_PIPELINE)', async () => {
    const withDefault = await mlSetup(client, { serviceUrl: service.url, names, trustedEndpointRegex, defaultPipeline: true, cloudtrailIndexPattern: ctIndex, cloudtrailTemplate: 'no-such-template' });
    assert.deepEqual(withDefault.defaultPipeline, { template: undefined, indices: [ctIndex] });
    const record = cloudTrailRecord({ key: uniqueName('AKIAMLDEFAULT'), ip: CITY.paris.ip, at: '2024-06-01T08:00:00Z', id: uniqueName('ev') });
    await indexDirect(record, {});
    assert.equal(((await stored(record.eventID as string)).source as { geo: { city_name: string } }).geo.city_name, 'Paris');
  });

  it('indexes a document unenriched, and counts it, when the service does not answer', async () => {
    const down = await mlSetup(client, { serviceUrl: 'http://127.0.0.1:9', trustedEndpointRegex, names: { ...names, connector: `${names.connector}-down`, model: `${names.model}-down`, pipeline: `${names.pipeline}-down` } });
    try {
      const record = cloudTrailRecord({ key: uniqueName('AKIAMLDOWN'), ip: CITY.sydney.ip, at: '2024-07-01T08:00:00Z', id: uniqueName('ev') });
      await indexDirect(record, { pipeline: `${names.pipeline}-down` });
      const doc = await stored(record.eventID as string);
      assert.equal(doc.source, undefined, 'stored without enrichment');
      assert.equal(doc.eventID, record.eventID);
      const stats = await client.transport.request({ method: 'GET', path: '/_nodes/stats/ingest' });
      const nodes = (stats.body as { nodes: Record<string, { ingest: { pipelines: Record<string, { processors: Record<string, { stats: { failed: number } }>[] }> } }> }).nodes;
      const failed = Object.values(nodes).reduce((n, node) => {
        const p = node.ingest.pipelines[`${names.pipeline}-down`];
        return n + (p ? Object.values(p.processors[0]!)[0]!.stats.failed : 0);
      }, 0);
      assert.equal(failed, 1, "the processor's failed count says so");
    } finally {
      await client.transport.request({ method: 'DELETE', path: `/_ingest/pipeline/${names.pipeline}-down` }).catch(() => undefined);
      await client.transport.request({ method: 'POST', path: `/_plugins/_ml/models/${down.model.id}/_undeploy` }).catch(() => undefined);
      await client.transport.request({ method: 'DELETE', path: `/_plugins/_ml/models/${down.model.id}` }).catch(() => undefined);
      await client.transport.request({ method: 'DELETE', path: `/_plugins/_ml/connectors/${down.connector.id}` }).catch(() => undefined);
    }
  });
});
