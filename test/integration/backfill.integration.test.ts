import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Client } from '@opensearch-project/opensearch';
import { runBackfill, type BackfillOptions, type BackfillSummary } from '../../server/backfill.js';
import { loadConfig, type Config } from '../../server/config.js';
import { renderTemplates, setup, type SetupOptions } from '../../server/setup.js';
import { CITY, cloudTrailRecord, openSearchClient, openSearchUrl, testGeoipPath, uniqueName } from '../support/service-harness.js';

/**
 * `impossible-travel backfill` into a real OpenSearch node: documents stored once under their
 * eventID, the alert stored once however often the backfill runs, and a document OpenSearch
 * refuses keeps its file out of the checkpoint.
 */

const osUrl = openSearchUrl();

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const ACCOUNT = '111122223333';
const PAIR_KEY = 'AKIAITBACKFILLPAIR01';

describe('backfill into a real OpenSearch node', function () {
  this.timeout(120_000);

  const ctIndex = uniqueName('cloudtrail-backfill-it');
  // Outside `cloudtrail-*`, so that no CloudTrail template maps the fields the strict mapping refuses.
  const strictIndex = uniqueName('it-backfill-strict');
  const alertsIndex = uniqueName('impossible-travel-alerts-backfill-it');
  const stateIndex = uniqueName('impossible-travel-state-backfill-it');
  // Templates of our own (not the shared `impossible-travel-*` ones), above the service's priorities.
  const setupOpts: SetupOptions = {
    templatePrefix: uniqueName('it-backfill'),
    cloudtrailIndexPattern: ctIndex,
    alertsIndex,
    stateIndex,
    replicas: 0,
    priority: 7000,
  };
  let client: Client;
  let config: Config;
  let root: string;
  let work: string;
  let ids: string[];

  before(async function () {
    if (!osUrl) {
      console.log('    (skipped: OPENSEARCH_URL is not set; `make test` starts a node and sets it)');
      this.skip();
    }
    client = openSearchClient(osUrl!);
    await setup(client, setupOpts);
    config = loadConfig({
      OPENSEARCH_URL: osUrl!,
      ALERTS_INDEX: alertsIndex,
      STATE_INDEX: stateIndex,
      CLOUDTRAIL_INDEX_PATTERN: 'cloudtrail-*',
      SETUP_ON_START: 'false',
      GEOIP_CITY_DB: testGeoipPath(),
      LOG_LEVEL: 'silent',
    });

    // Two files, delivered out of order for the pair: Tokyo (10:04) in the 10:05 file, London (10:01) in the 10:20 one.
    root = mkdtempSync(join(tmpdir(), 'backfill-it-'));
    work = mkdtempSync(join(tmpdir(), 'backfill-it-work-'));
    const dir = join(root, 'AWSLogs', ACCOUNT, 'CloudTrail', 'eu-west-1', '2024', '03', '18');
    mkdirSync(dir, { recursive: true });
    const rec = (key: string, ip: string, t: string, id: string): Record<string, unknown> =>
      cloudTrailRecord({ key, ip, at: `2024-03-18T${t}Z`, id: `${id}-${ctIndex}` });
    const early = [
      rec('AKIAITBACKFILLPARIS1', CITY.paris.ip, '10:00:00', 'p1'),
      rec(PAIR_KEY, CITY.tokyo.ip, '10:04:00', 'tokyo'),
      rec('AKIAITBACKFILLPARIS1', CITY.paris.ip, '10:02:00', 'p2'),
    ];
    const late = [rec(PAIR_KEY, CITY.london.ip, '10:01:00', 'london'), rec('AKIAITBACKFILLSYDNEY', CITY.sydney.ip, '10:15:00', 's1')];
    writeFileSync(join(dir, `${ACCOUNT}_CloudTrail_eu-west-1_20240318T1005Z_aaaa.json.gz`), gzipSync(JSON.stringify({ Records: early })));
    writeFileSync(join(dir, `${ACCOUNT}_CloudTrail_eu-west-1_20240318T1020Z_bbbb.json`), JSON.stringify({ Records: late }));
    ids = [...early, ...late].map((r) => r.eventID as string);
  });

  after(async () => {
    if (root) rmSync(root, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
    if (!client) return;
    await client.indices.delete({ index: [ctIndex, strictIndex, alertsIndex, stateIndex].join(','), ignore_unavailable: true } as never);
    for (const t of renderTemplates(setupOpts)) await client.indices.deleteIndexTemplate({ name: t.name }, { ignore: [404] });
    await client.close();
  });

  async function backfill(extra: Partial<BackfillOptions>): Promise<{ summary: BackfillSummary; stderr: string }> {
    const stderr = new Collector();
    const summary = await runBackfill({
      paths: [root],
      config,
      dryRun: false,
      index: ctIndex,
      stderr,
      progress: 'off',
      checkpointIntervalMs: 0,
      retry: { attempts: 3, firstDelayMs: 50, maxDelayMs: 200 },
      ...extra,
    });
    return { summary, stderr: stderr.text };
  }

  async function count(index: string): Promise<number> {
    await client.indices.refresh({ index });
    return ((await client.count({ index })).body as { count: number }).count;
  }

  it('stores one document per record under its eventID and the alert once; running again changes nothing', async () => {
    const checkpointPath = join(work, 'checkpoint.json');
    const first = await backfill({ checkpointPath });
    assert.equal(first.summary.outcome, 'completed', first.stderr);
    assert.deepEqual(first.summary.files, { found: 2, alreadyDone: 0, read: 2, corrupt: 0, ignored: 0, done: 2, notReached: 0 });
    assert.deepEqual(first.summary.records, { read: 5, processed: 5, bad: 0, stored: 5, rejected: 0, located: 5 });
    assert.deepEqual(first.summary.alerts, { raised: 1, new: 1, alreadyStored: 0 });
    assert.match(first.stderr, new RegExp(`records {6}5 read, 5 stored in ${ctIndex}, 0 bad`));
    assert.match(first.stderr, /alerts {7}1 \(1 new, 0 already stored\)/);

    assert.equal(await count(ctIndex), 5);
    const got = await client.mget({ index: ctIndex, body: { ids } });
    const docs = (got.body as { docs: { found: boolean; _source?: { source?: { geo?: { city_name?: string } } } }[] }).docs;
    assert.deepEqual(docs.map((d) => d.found), [true, true, true, true, true], 'each document is stored under its eventID');
    assert.deepEqual(docs.map((d) => d._source?.source?.geo?.city_name), ['Paris', 'Tokyo', 'Paris', 'London', 'Sydney']);

    assert.equal(await count(alertsIndex), 1);
    const alert = ((await client.search({ index: alertsIndex })).body as { hits: { hits: { _source: Record<string, unknown> }[] } }).hits.hits[0]!._source;
    assert.equal((alert.userIdentity as { accessKeyId: string }).accessKeyId, PAIR_KEY);
    const state = await client.get({ index: stateIndex, id: `key:${PAIR_KEY}` });
    assert.equal((state.body as { found: boolean }).found, true, 'detection state is in the state index');

    // Same checkpoint: nothing to do.
    const second = await backfill({ checkpointPath });
    assert.equal(second.summary.outcome, 'completed');
    assert.deepEqual(second.summary.files, { found: 2, alreadyDone: 2, read: 0, corrupt: 0, ignored: 0, done: 0, notReached: 0 });
    assert.match(second.stderr, /resuming: 2 of 2 files already done/);

    // Start over: every document written again, under the same ids; the alert is not stored twice.
    const third = await backfill({ checkpointPath, restart: true });
    assert.equal(third.summary.outcome, 'completed', third.stderr);
    assert.equal(third.summary.records.stored, 5);
    assert.equal(third.summary.alerts.new, 0);
    assert.equal(await count(ctIndex), 5, 'no duplicate documents');
    assert.equal(await count(alertsIndex), 1, 'the alert once');
    const saved = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { done: Record<string, number> };
    assert.deepEqual(Object.values(saved.done).sort(), [2, 3]);
  });

  it('a document OpenSearch refuses is reported and keeps its file out of the checkpoint', async () => {
    // No dynamic fields allowed: every document is refused with a 400 per item.
    await client.indices.create({ index: strictIndex, body: { settings: { number_of_replicas: 0 }, mappings: { dynamic: 'strict', properties: {} } } });
    const checkpointPath = join(work, 'strict-checkpoint.json');
    const run = await backfill({ index: strictIndex, checkpointPath });
    assert.equal(run.summary.outcome, 'completed');
    assert.equal(run.summary.records.rejected, 5);
    assert.equal(run.summary.records.stored, 0);
    assert.equal(run.summary.files.done, 0);
    assert.match(run.stderr, /OpenSearch refused the document of event p1-.* \(.*_aaaa\.json\.gz, record 0\): 400 strict_dynamic_mapping_exception/);
    assert.match(run.stderr, /5 refused by OpenSearch \(their files are not checkpointed\)/);
    assert.match(run.stderr, new RegExp(`warning: index ${strictIndex} does not match CLOUDTRAIL_INDEX_PATTERN \\(cloudtrail-\\*\\)`));
    const saved = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { done: Record<string, number> };
    assert.deepEqual(saved.done, {});
  });
});
