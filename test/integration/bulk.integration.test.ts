import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Client } from '@opensearch-project/opensearch';
// The last Elasticsearch client without the product check (7.14+ and 8.x refuse any server that is
// not Elasticsearch, OpenSearch itself included): the wire format is what is tested here.
import { Client as EsClient } from 'es7';
import type { Sighting } from '../../processors/travel.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { OpenSearchStateStore } from '../../server/opensearch-state.js';
import { setup } from '../../server/setup.js';
import {
  CITY, bulkBody, cloudTrailRecord, openSearchClient, openSearchUrl, startService, uniqueName, type RunningService,
} from '../support/service-harness.js';

/**
 * The `_bulk` ingest path against a real OpenSearch node (the test command starts one and sets
 * OPENSEARCH_URL): documents enriched and stored, OpenSearch's statuses returned, alerts stored
 * once, state that survives a restart and is shared by two instances.
 */

const osUrl = openSearchUrl();

interface BulkAnswer {
  took: number;
  errors: boolean;
  items: Record<string, { status: number; _id?: string; error?: { type: string; reason: string }; records?: number; _ids?: string[] }>[];
}

async function postBulk(url: string, body: string | Buffer, query = '', headers: Record<string, string> = {}): Promise<{ status: number; json: BulkAnswer & Record<string, unknown> }> {
  const res = await fetch(`${url}/_bulk${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as BulkAnswer & Record<string, unknown> };
}

describe('_bulk against a real OpenSearch node', function () {
  let client: Client;
  const services: RunningService[] = [];
  // One set of indices per run, so repeated runs on a shared node never see each other's data.
  const ctIndex = uniqueName('cloudtrail-it');
  const alertsIndex = uniqueName('impossible-travel-alerts-it');
  const stateIndex = uniqueName('impossible-travel-state-it');
  const env = { OPENSEARCH_URL: osUrl ?? '', ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex };

  before(async function () {
    if (!osUrl) {
      console.log('    (skipped: OPENSEARCH_URL is not set; `make test` starts a node and sets it)');
      this.skip();
    }
    client = openSearchClient(osUrl!);
    await setup(client, { alertsIndex, stateIndex, replicas: 0 });
  });

  async function service(extra: Record<string, string> = {}): Promise<RunningService> {
    const s = await startService({ ...env, ...extra });
    services.push(s);
    return s;
  }

  afterEach(async () => {
    while (services.length > 0) await services.pop()!.stop();
  });

  after(async () => {
    if (!client) return;
    await client.indices.delete({ index: [ctIndex, alertsIndex, stateIndex].join(','), ignore_unavailable: true } as never);
    await client.close();
  });

  async function alertCount(): Promise<number> {
    await client.indices.refresh({ index: alertsIndex });
    const res = await client.count({ index: alertsIndex });
    return (res.body as { count: number }).count;
  }

  async function searchByEventId(id: string): Promise<Record<string, unknown> | undefined> {
    await client.indices.refresh({ index: ctIndex });
    const res = await client.search({ index: ctIndex, body: { query: { term: { eventID: id } } } });
    const hits = (res.body as { hits: { hits: { _source: Record<string, unknown> }[] } }).hits.hits;
    return hits[0]?._source;
  }

  it('enriches and stores each document and answers one item per action, in order, with OpenSearch statuses', async () => {
    const s = await service();
    const key = uniqueName('AKIAROUNDTRIP');
    const london = cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: uniqueName('ev') });
    const tokyo = cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2024-05-01T10:40:00Z', id: uniqueName('ev') });
    const body = bulkBody(ctIndex, [london]) + bulkBody(ctIndex, [tokyo], 'create') + `{"index":{"_index":"${ctIndex}"}}\n{not json\n`;
    const { status, json } = await postBulk(s.url, body, '?refresh=wait_for');
    assert.equal(status, 200);
    assert.equal(json.items.length, 3);
    assert.equal(json.items[0]!.index!.status, 201);
    assert.equal(json.items[1]!.create!.status, 201);
    assert.equal(json.items[2]!.index!.status, 400);
    assert.equal(json.items[2]!.index!.error!.type, 'mapper_parsing_exception');
    assert.equal(json.errors, true);

    const stored = await searchByEventId(tokyo.eventID as string);
    assert.ok(stored, 'the Tokyo document is in the index');
    assert.deepEqual((stored.source as { geo: { city_name: string } }).geo.city_name, 'Tokyo');
    const travel = stored.impossible_travel as { triggering_locations: { first_location: { city: string }; second_location: { city: string }; travel_time_human_readable: string } };
    assert.equal(travel.triggering_locations.first_location.city, 'London');
    assert.equal(travel.triggering_locations.second_location.city, 'Tokyo');
    assert.equal(travel.triggering_locations.travel_time_human_readable, '40 minutes');

    const mapping = await client.indices.getFieldMapping({ index: ctIndex, fields: 'source.geo.location,source.ip' });
    const fields = (mapping.body as Record<string, { mappings: Record<string, { mapping: Record<string, { type: string }> }> }>)[ctIndex]!.mappings;
    assert.equal(fields['source.geo.location']!.mapping.location!.type, 'geo_point');
    assert.equal(fields['source.ip']!.mapping.ip!.type, 'ip');
  });

  it("answers with OpenSearch's own items, whether all were stored or OpenSearch refused one", async () => {
    const s = await service();
    const key = uniqueName('AKIAPASS');
    const ids = [uniqueName('doc'), uniqueName('doc')];
    const records = ids.map((id, i) => cloudTrailRecord({ key, ip: CITY.london.ip, at: `2024-05-02T10:0${i}:00Z`, id }));
    const body = records.map((r, i) => `{"index":{"_index":"${ctIndex}","_id":"${ids[i]}"}}\n${JSON.stringify(r)}\n`).join('');
    type Item = { index: { _index: string; _id: string; _version: number; result: string; _shards: { total: number }; _seq_no: number; _primary_term: number; status: number } };
    for (const [round, result] of [[1, 'created'], [2, 'updated']] as const) {
      const { status, json } = await postBulk(s.url, body);
      assert.equal(status, 200);
      assert.equal(json.errors, false);
      assert.equal(typeof json.took, 'number');
      const items = json.items as unknown as Item[];
      assert.deepEqual(items.map((i) => [i.index._id, i.index._index, i.index.result, i.index._version, i.index.status]), ids.map((id) => [id, ctIndex, result, round, round === 1 ? 201 : 200]));
      for (const item of items) assert.ok(item.index._shards.total >= 1 && Number.isInteger(item.index._seq_no) && Number.isInteger(item.index._primary_term), JSON.stringify(item));
    }

    // OpenSearch refuses the second action (a create of an id it holds): its own error comes back
    // in that item's place, and the first is stored.
    const mixed = `{"index":{"_index":"${ctIndex}"}}\n${JSON.stringify({ ...records[0]!, eventID: uniqueName('ev') })}\n{"create":{"_index":"${ctIndex}","_id":"${ids[1]}"}}\n${JSON.stringify(records[1])}\n`;
    const { status, json } = await postBulk(s.url, mixed);
    assert.equal(status, 200);
    assert.equal(json.errors, true);
    assert.equal(json.items[0]!.index!.status, 201);
    assert.equal(json.items[1]!.create!.status, 409);
    assert.equal(json.items[1]!.create!.error!.type, 'version_conflict_engine_exception');
  });

  it('stores an alert once, however often the same batch is replayed', async () => {
    const s = await service();
    const key = uniqueName('AKIAREPLAY');
    const records = [
      cloudTrailRecord({ key, ip: CITY.paris.ip, at: '2024-06-01T08:00:00Z', id: uniqueName('ev') }),
      cloudTrailRecord({ key, ip: CITY.sydney.ip, at: '2024-06-01T09:00:00Z', id: uniqueName('ev') }),
    ];
    const before = await alertCount();
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { status, json } = await postBulk(s.url, bulkBody(ctIndex, records));
      assert.equal(status, 200);
      assert.equal(json.errors, false);
      const res = await fetch(`${s.url}/enrich`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) });
      const enriched = (await res.json()) as { alerts: { event: { id: string } }[] };
      for (const a of enriched.alerts) ids.add(a.event.id);
    }
    assert.equal(ids.size, 1, 'every replay raises the same alert id');
    assert.equal((await alertCount()) - before, 1);
    const res = await client.get({ index: alertsIndex, id: [...ids][0]! });
    const alert = (res.body as { _source: { userIdentity: { accessKeyId: string }; impossible_travel: { triggering_locations: { first_location: { city: string } } } } })._source;
    assert.equal(alert.userIdentity.accessKeyId, key);
    assert.equal(alert.impossible_travel.triggering_locations.first_location.city, 'Paris');
  });

  it('reads gzip bodies and applies filter_path as OpenSearch does', async () => {
    const s = await service();
    const record = cloudTrailRecord({ key: uniqueName('AKIAGZIP'), ip: CITY.london.ip, at: '2024-07-01T08:00:00Z', id: uniqueName('ev') });
    const body = gzipSync(bulkBody(ctIndex, [record]) + `{"index":{"_index":"${ctIndex}"}}\n[1,2]\n`);
    const { status, json } = await postBulk(s.url, body, '?filter_path=errors,items.*.status', { 'content-encoding': 'gzip' });
    assert.equal(status, 200);
    assert.deepEqual(json, { errors: true, items: [{ index: { status: 201 } }, { index: { status: 400 } }] });
  });

  it('splits a CloudTrail S3 file object into its records and answers one item for it', async () => {
    const s = await service();
    const key = uniqueName('AKIAFILE');
    const records = [
      cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-08-01T08:00:00Z', id: uniqueName('ev') }),
      cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-08-01T08:01:00Z', id: uniqueName('ev') }),
      cloudTrailRecord({ key, ip: CITY.paris.ip, at: '2024-08-01T12:00:00Z', id: uniqueName('ev') }),
    ];
    const body = `{"index":{"_index":"${ctIndex}"}}\n${JSON.stringify({ Records: records })}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { status, json } = await postBulk(s.url, body, '?refresh=wait_for');
      assert.equal(status, 200);
      assert.equal(json.items.length, 1);
      assert.equal(json.items[0]!.index!.records, 3);
      assert.deepEqual(json.items[0]!.index!._ids, records.map((r) => r.eventID));
    }
    // Sent twice, stored once: the split records take their CloudTrail eventID as document id.
    const count = await client.count({ index: ctIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
    assert.equal((count.body as { count: number }).count, 3);
  });

  it('compares the first event after a restart with the locations seen before it', async () => {
    const key = uniqueName('AKIARESTART');
    const first = await service();
    const r1 = await postBulk(first.url, bulkBody(ctIndex, [cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-09-01T10:00:00Z', id: uniqueName('ev') })]));
    assert.equal(r1.json.errors, false);
    await services.pop()!.stop();

    const second = await service();
    assert.equal(second.service.store.stats().keys, 0, 'the new instance starts with an empty cache');
    const res = await fetch(`${second.url}/enrich`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2024-09-01T10:30:00Z', id: uniqueName('ev') })),
    });
    const json = (await res.json()) as { alerts: { impossible_travel: { triggering_locations: { first_location: { city: string } } } }[] };
    assert.equal(res.status, 200);
    assert.equal(json.alerts.length, 1);
    assert.equal(json.alerts[0]!.impossible_travel.triggering_locations.first_location.city, 'London');
  });

  /** Waits until the state index holds the sighting of `key` at `at` (write-behind writes it within STATE_SYNC_INTERVAL). */
  async function stateHolds(key: string, at: string): Promise<void> {
    const t = Date.parse(at);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await client.get({ index: stateIndex, id: `key:${key}` }, { ignore: [404] });
      const history = (res.body as { _source?: { state?: { history?: { t: number }[] } } })._source?.state?.history ?? [];
      if (history.some((s) => s.t === t)) return;
      if (Date.now() > deadline) throw new Error(`the state of ${key} never showed its sighting at ${at}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('writes a key\'s state again after its document was deleted under the service (the retention advice of docs/state.md)', async () => {
    const key = uniqueName('AKIADELETED');
    const s = await service({ STATE_SYNC_INTERVAL: '0' });
    const first = '2024-09-02T08:00:00Z';
    const r1 = await postBulk(s.url, bulkBody(ctIndex, [cloudTrailRecord({ key, ip: CITY.london.ip, at: first, id: uniqueName('ev') })]));
    assert.equal(r1.status, 200);
    assert.equal(r1.json.errors, false);
    await stateHolds(key, first);
    await client.delete({ index: stateIndex, id: `key:${key}`, refresh: true });
    // The service still holds the key, with the version of the document just deleted.
    const second = '2024-09-02T20:00:00Z';
    const r2 = await postBulk(s.url, bulkBody(ctIndex, [cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: second, id: uniqueName('ev') })]));
    assert.equal(r2.status, 200, JSON.stringify(r2.json).slice(0, 300));
    assert.equal(r2.json.errors, false);
    await stateHolds(key, second);
    await stateHolds(key, first);
  });

  it('keeps answering when its state index is deleted, and writes the state anew (setup not run behaves alike)', async () => {
    const ownState = uniqueName('impossible-travel-state-gone-it');
    const key = uniqueName('AKIAGONE');
    try {
      const s = await service({ STATE_INDEX: ownState, STATE_SYNC_INTERVAL: '0' });
      const times = ['2024-09-03T08:00:00Z', '2024-09-03T20:00:00Z', '2024-09-04T08:00:00Z'];
      const ips = [CITY.london.ip, CITY.tokyo.ip, CITY.london.ip];
      for (const [i, at] of times.entries()) {
        if (i === 2) await client.indices.delete({ index: ownState });
        const r = await postBulk(s.url, bulkBody(ctIndex, [cloudTrailRecord({ key, ip: ips[i]!, at, id: uniqueName('ev') })]));
        assert.equal(r.status, 200, `event ${i + 1}: ${JSON.stringify(r.json).slice(0, 300)}`);
        assert.equal(r.json.errors, false);
      }
      const doc = await client.get({ index: ownState, id: `key:${key}` });
      const history = (doc.body as { _source: { state: { history: { t: number }[] } } })._source.state.history;
      assert.deepEqual(history.map((h) => h.t), times.map((t) => Date.parse(t)), 'written again from memory, all three sightings');
    } finally {
      await client.indices.delete({ index: ownState, ignore_unavailable: true } as never);
    }
  });

  it('deletes the state of keys not written for STATE_RETENTION, and keeps baselines and recent keys', async () => {
    const old = uniqueName('AKIAEXPIRED');
    const recent = uniqueName('AKIARECENT');
    const principal = uniqueName('arn:aws:iam::123456789012:user/kept');
    const store = new OpenSearchStateStore({
      client, index: stateIndex, limits: { maxLocations: 16, maxAgeMs: 86_400_000 }, writeGranularityMs: 1000,
      log: silentLogger(), maxKeys: 100, maxPrincipals: 100, retentionMs: 7 * 86_400_000,
    });
    const seen = (atMs: number, place: string): Sighting => ({
      atMs, ip: CITY.london.ip, eventId: uniqueName('ev'),
      geo: { cityName: place, countryName: undefined, countryIsoCode: undefined, regionName: undefined, location: { lat: 51.5, lon: -0.1 }, accuracyRadiusKm: 0, placeKey: place },
    });
    store.setKey(old, { history: [seen(1000, 'London')], alerted: undefined });
    store.setKey(recent, { history: [seen(2000, 'London')], alerted: undefined });
    store.setPrincipal(principal, { firstSeenMs: 1000, places: ['London'] });
    await store.commit();
    // Age the old key's document and the baseline by eight days, as if last written then.
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000).toISOString();
    for (const id of [`key:${old}`, `principal:${principal}`]) {
      await client.update({ index: stateIndex, id, body: { doc: { updated_at: eightDaysAgo } }, refresh: true } as never);
    }
    assert.ok((await store.sweepExpired()) >= 1);
    const exists = async (id: string): Promise<boolean> => (await client.get({ index: stateIndex, id }, { ignore: [404] })).statusCode === 200;
    assert.equal(await exists(`key:${old}`), false, 'the old key is deleted');
    assert.equal(await exists(`key:${recent}`), true, 'a recent key is kept');
    assert.equal(await exists(`principal:${principal}`), true, 'a baseline is kept');
    // Memory still holds the old key: its next change writes it back whole.
    const held = store.getKey(old)!;
    held.history.push(seen(3000, 'Paris'));
    store.setKey(old, held);
    await store.commit();
    const doc = await client.get({ index: stateIndex, id: `key:${old}` });
    assert.deepEqual((doc.body as { _source: { state: { history: { t: number }[] } } })._source.state.history.map((h) => h.t), [1000, 3000]);
    await store.close();
  });

  const DEFAULT_SYNC_INTERVAL_MS = loadConfig({ OPENSEARCH_URL: 'http://127.0.0.1:9200' }).opensearch!.stateSyncIntervalMs;
  const modes: { name: string; env: Record<string, string> }[] = [
    { name: 'written before each answer', env: { STATE_SYNC_INTERVAL: '0' } },
    { name: 'written behind at the default interval', env: {} },
  ];
  for (const mode of modes) {
    it(`raises the same alerts with two instances as with one, and stores them once (state ${mode.name})`, async function () {
      this.timeout(60_000);
      const a = await service(mode.env);
      const b = await service(mode.env);
      const key = uniqueName('AKIATWO');
      const events = [
        cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-10-01T10:00:00Z', id: uniqueName('ev') }),
        cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2024-10-01T10:30:00Z', id: uniqueName('ev') }),
        cloudTrailRecord({ key, ip: CITY.sydney.ip, at: '2024-10-01T11:00:00Z', id: uniqueName('ev') }),
      ];
      const before = await alertCount();
      // Alternate instances: each sees only some of the key's events.
      const answers = [];
      for (const [i, e] of events.entries()) {
        answers.push(await postBulk((i % 2 === 0 ? a : b).url, bulkBody(ctIndex, [e])));
        // Written behind, the sighting reaches the index within STATE_SYNC_INTERVAL: wait for it.
        await stateHolds(key, e.eventTime as string);
        // An instance that already holds a key sees the others' writes as of the state index's last
        // refresh (every second by default; docs/state.md): the refresh stands for that second. With
        // writes behind, it re-reads a key it holds at most once per interval: wait that out too.
        await client.indices.refresh({ index: stateIndex });
        if (mode.env.STATE_SYNC_INTERVAL !== '0') await new Promise((resolve) => setTimeout(resolve, DEFAULT_SYNC_INTERVAL_MS + 100));
      }
      assert.ok(answers.every((r) => r.status === 200 && r.json.errors === false));
      assert.equal((await alertCount()) - before, 2, 'London→Tokyo and Tokyo→Sydney, once each');

      // The same events through a single fresh instance raise the same two alert ids.
      const single = await service(mode.env);
      const res = await fetch(`${single.url}/enrich`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      const json = (await res.json()) as { alerts: { event: { id: string } }[] };
      const search = await client.search({ index: alertsIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
      const storedIds = (search.body as { hits: { hits: { _id: string }[] } }).hits.hits.map((h) => h._id).sort();
      assert.deepEqual(json.alerts.map((x) => x.event.id).sort(), storedIds);
      assert.equal((await alertCount()) - before, 2);
    });
  }

  it('writes state behind: the answer does not wait for it, the interval and a shutdown write it', async () => {
    const s = await service({ STATE_SYNC_INTERVAL: '60s' });
    const key = uniqueName('AKIABEHIND');
    const at = '2024-10-02T10:00:00Z';
    const res = await fetch(`${s.url}/enrich`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cloudTrailRecord({ key, ip: CITY.london.ip, at, id: uniqueName('ev') })),
    });
    const json = (await res.json()) as { state_stored: boolean; state_pending?: boolean };
    assert.deepEqual([json.state_stored, json.state_pending], [false, true], 'not stored yet, and the answer says so');
    const early = await client.get({ index: stateIndex, id: `key:${key}` }, { ignore: [404] });
    assert.equal(early.statusCode, 404, 'nothing written before the interval');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const metric = (name: string): number => Number(new RegExp(`^impossible_travel_${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    assert.deepEqual(
      [metric('state_pending_writes'), metric('state_documents_written_total'), metric('state_documents_read_total')],
      [1, 0, 1],
      'one key waiting, nothing written yet, its state asked for once',
    );
    await services.pop()!.stop();
    await stateHolds(key, at); // written at shutdown
  });

  it("tells from OpenSearch's sequence numbers whether it writes the state index alone, and reads held keys again when not", async function () {
    this.timeout(60_000);
    // Every sighting below is waited for until written: none may wait as a same-place change.
    const env = { STATE_SYNC_INTERVAL: '300', STATE_SAME_PLACE_SYNC_INTERVAL: '0' };
    const a = await service(env);
    const [k1, k2, k3] = ['AKIALONE1', 'AKIALONE2', 'AKIALONE3'].map(uniqueName) as [string, string, string];
    const metricsOf = async (s: RunningService): Promise<(name: string) => number> => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      return (name) => Number(new RegExp(`^impossible_travel_${name} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    /** Sends one event and waits until the instance's interval write has carried it. */
    const sighting = async (s: RunningService, key: string, minute: number): Promise<void> => {
      const written = (await metricsOf(s))('state_documents_written_total');
      const at = `2024-10-03T10:${String(minute).padStart(2, '0')}:00Z`;
      const res = await fetch(`${s.url}/enrich`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cloudTrailRecord({ key, ip: CITY.london.ip, at, id: uniqueName('ev') })) });
      assert.equal(res.status, 200);
      for (let i = 0; (await metricsOf(s))('state_documents_written_total') === written; i++) {
        if (i > 200) throw new Error(`the state of ${key} was never written`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await sighting(a, k1, 1);
    await sighting(a, k2, 2);
    assert.equal((await metricsOf(a))('state_sole_writer'), 1, 'two writes in a row, nobody else in between');
    // k1's interval is over, but memory is known to match the index: no read.
    await new Promise((resolve) => setTimeout(resolve, 400));
    let reads = (await metricsOf(a))('state_documents_read_total');
    await sighting(a, k1, 3);
    assert.equal((await metricsOf(a))('state_documents_read_total'), reads, 'k1 is not read again');

    // A second instance writes the index: the first one's next write shows the gap.
    const b = await service(env);
    await sighting(b, k3, 4);
    await sighting(a, k2, 5);
    assert.equal((await metricsOf(a))('state_sole_writer'), 0, 'another writer showed up');
    await new Promise((resolve) => setTimeout(resolve, 400)); // k1's interval again
    reads = (await metricsOf(a))('state_documents_read_total');
    await sighting(a, k1, 6);
    assert.equal((await metricsOf(a))('state_documents_read_total'), reads + 1, 'k1 is read again, as it is with several instances');
  });

  it('keeps state written behind when the LRU drops its key before the write, and takes it back', async () => {
    const s = await service({ STATE_SYNC_INTERVAL: '60s', STATE_MAX_KEYS: '2' });
    const [k1, k2, k3] = ['AKIAPARKED1', 'AKIAPARKED2', 'AKIAPARKED3'].map(uniqueName) as [string, string, string];
    const enrich = async (records: unknown[]): Promise<{ alerts: unknown[] }> => {
      const res = await fetch(`${s.url}/enrich`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) });
      assert.equal(res.status, 200);
      return (await res.json()) as { alerts: unknown[] };
    };
    // Three keys in a memory of two: the first is dropped with its sighting not yet written.
    await enrich([
      cloudTrailRecord({ key: k1, ip: CITY.london.ip, at: '2024-10-03T10:00:00Z', id: uniqueName('ev') }),
      cloudTrailRecord({ key: k2, ip: CITY.paris.ip, at: '2024-10-03T10:00:00Z', id: uniqueName('ev') }),
      cloudTrailRecord({ key: k3, ip: CITY.paris.ip, at: '2024-10-03T10:00:01Z', id: uniqueName('ev') }),
    ]);
    assert.equal(s.service.store.stats().keys, 2);
    // It comes back before the interval: its London sighting is still there to compare with.
    const back = await enrich([cloudTrailRecord({ key: k1, ip: CITY.tokyo.ip, at: '2024-10-03T10:30:00Z', id: uniqueName('ev') })]);
    assert.equal(back.alerts.length, 1, 'London then Tokyo 30 minutes later');
    await services.pop()!.stop(); // shutdown writes everything, the dropped key included
    await stateHolds(k1, '2024-10-03T10:30:00Z');
    await stateHolds(k1, '2024-10-03T10:00:00Z');
    await stateHolds(k2, '2024-10-03T10:00:00Z');
    await stateHolds(k3, '2024-10-03T10:00:01Z');
  });

  it("works behind the OpenSearch JavaScript client's bulk helper, pointed at the service", async () => {
    const s = await service();
    const viaService = new Client({ node: s.url });
    const key = uniqueName('AKIAHELPER');
    const records = Array.from({ length: 250 }, (_, i) =>
      cloudTrailRecord({ key, ip: i % 2 === 0 ? CITY.london.ip : CITY.paris.ip, at: new Date(Date.UTC(2024, 10, 1, 0, i * 5)).toISOString(), id: uniqueName(`ev${i}`) }),
    );
    const stats = await viaService.helpers.bulk({
      datasource: records,
      onDocument: () => ({ index: { _index: ctIndex } }),
      flushBytes: 20_000,
      refreshOnCompletion: ctIndex,
    });
    await viaService.close();
    assert.equal(stats.successful, 250);
    assert.equal(stats.failed, 0);
    const count = await client.count({ index: ctIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
    assert.equal((count.body as { count: number }).count, 250);
  });

  it("works behind the Elasticsearch 7.10 JavaScript client's bulk helper, pointed at the service", async () => {
    const s = await service();
    const viaService = new EsClient({ node: s.url });
    const key = uniqueName('AKIAES7');
    const records = Array.from({ length: 120 }, (_, i) =>
      cloudTrailRecord({ key, ip: CITY.london.ip, at: new Date(Date.UTC(2024, 11, 1, 0, i)).toISOString(), id: uniqueName(`es${i}`) }),
    );
    const stats = await viaService.helpers.bulk({
      datasource: records,
      onDocument: () => ({ index: { _index: ctIndex } }),
      flushBytes: 10_000,
      refreshOnCompletion: ctIndex,
    });
    await viaService.close();
    assert.equal(stats.successful, 120);
    assert.equal(stats.failed, 0);
    const count = await client.count({ index: ctIndex, body: { query: { term: { 'userIdentity.accessKeyId': key } } } });
    assert.equal((count.body as { count: number }).count, 120);
  });

  it('passes the requests shippers make before _bulk through to OpenSearch', async () => {
    const s = await service();
    const root = await fetch(`${s.url}/`);
    assert.equal(root.status, 200);
    const info = (await root.json()) as { version: { number: string; distribution?: string } };
    assert.match(info.version.number, /^2\.19\./);
    const head = await fetch(`${s.url}/${alertsIndex}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const missing = await fetch(`${s.url}/no-such-index-${Date.now()}`, { method: 'HEAD' });
    assert.equal(missing.status, 404);
  });
});

describe('_bulk when OpenSearch cannot be reached', () => {
  it('answers 503 and acknowledges nothing', async () => {
    // A port nothing listens on: every OpenSearch call fails to connect.
    const s = await startService({ OPENSEARCH_URL: 'http://127.0.0.1:9', OPENSEARCH_REQUEST_TIMEOUT: '2s' });
    try {
      const record = cloudTrailRecord({ key: 'AKIADOWN', ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: 'down-1' });
      const { status, json } = await postBulk(s.url, bulkBody('cloudtrail-down', [record]));
      assert.equal(status, 503);
      assert.equal((json.error as { type: string }).type, 'upstream_unavailable');
      assert.equal(json.items, undefined, 'no item is reported at all');
    } finally {
      await s.stop();
    }
  });
});
