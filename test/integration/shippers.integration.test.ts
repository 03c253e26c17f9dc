import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import { setup } from '../../server/setup.js';
import { CITY, cloudTrailRecord, openSearchClient, openSearchUrl, startService, uniqueName, type RunningService } from '../support/service-harness.js';

/**
 * A real log shipper pointed at the service with its Elasticsearch output unchanged: rsyslog's
 * omelasticsearch (the Debian packages rsyslog and rsyslog-elasticsearch) tails an NDJSON file of
 * CloudTrail records and sends them in bulk to the service, which enriches them, raises the alert
 * and stores everything in a real OpenSearch node. The JavaScript clients' bulk helpers are tested
 * in bulk.integration.test.ts; Logstash and Fluent Bit are not packaged by Debian and are not run.
 */

const osUrl = openSearchUrl();

/** rsyslogd: on the PATH, or where Debian puts it (/usr/sbin is not on a user's PATH there). */
function rsyslogdPath(): string | undefined {
  if (spawnSync('rsyslogd', ['-v']).status === 0) return 'rsyslogd';
  return existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : undefined;
}

/** Why rsyslog cannot run here, or undefined when rsyslogd and its omelasticsearch module are installed. */
function rsyslogMissing(rsyslogd: string | undefined, dir: string): string | undefined {
  if (rsyslogd === undefined) return 'rsyslogd is not installed';
  const probe = join(dir, 'probe.conf');
  writeFileSync(probe, 'module(load="omelasticsearch")\naction(type="omelasticsearch" server="127.0.0.1")\n');
  const check = spawnSync(rsyslogd, ['-N1', '-f', probe], { encoding: 'utf8' });
  if (check.status !== 0) return `rsyslogd cannot load omelasticsearch: ${`${check.stderr}${check.stdout}`.trim().split('\n').pop()}`;
  return undefined;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

interface AlertHit {
  _source: {
    userIdentity: { accessKeyId: string };
    impossible_travel: { triggering_locations: { first_location: { city: string }; second_location: { city: string } } };
  };
}

describe('rsyslog omelasticsearch pointed at the service', function () {
  let client: Client;
  let dir: string;
  let service: RunningService | undefined;
  let rsyslogdBin: string | undefined;
  let rsyslogd: ChildProcess | undefined;
  const ctIndex = uniqueName('cloudtrail-rsyslog-it');
  const alertsIndex = uniqueName('impossible-travel-alerts-rsyslog-it');
  const stateIndex = uniqueName('impossible-travel-state-rsyslog-it');

  before(async function () {
    if (!osUrl) {
      console.log('    (skipped: OPENSEARCH_URL is not set; `make test` starts a node and sets it)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'rsyslog-it-'));
    rsyslogdBin = rsyslogdPath();
    const missing = rsyslogMissing(rsyslogdBin, dir);
    if (missing) {
      console.log(`    (skipped: ${missing}; on Debian: apt-get install rsyslog rsyslog-elasticsearch. The test command installs them when run as root in CI)`);
      this.skip();
    }
    client = openSearchClient(osUrl!);
    await setup(client, { alertsIndex, stateIndex, replicas: 0 });
  });

  after(async () => {
    if (rsyslogd && running(rsyslogd)) {
      const exited = new Promise((resolve) => rsyslogd!.once('exit', resolve));
      rsyslogd.kill('SIGTERM');
      await exited;
    }
    await service?.stop();
    if (client) {
      await client.indices.delete({ index: [ctIndex, alertsIndex, stateIndex].join(','), ignore_unavailable: true } as never);
      await client.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function count(index: string, query?: Record<string, unknown>): Promise<number> {
    await client.indices.refresh({ index });
    const res = await client.count({ index, body: query ? { query } : undefined } as never);
    return (res.body as { count: number }).count;
  }

  it('ships CloudTrail records through _bulk: stored enriched, the alert raised, a malformed line reported to rsyslog', async function () {
    // Created first so that it can be counted before the first document arrives (the template applies).
    await client.indices.create({ index: ctIndex, body: { settings: { number_of_replicas: 0 } } });
    service = await startService({ OPENSEARCH_URL: osUrl!, ALERTS_INDEX: alertsIndex, STATE_INDEX: stateIndex });
    const port = new URL(service.url).port;
    const key = 'AKIARSYSLOGTEST00001';
    const records = [
      cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-06-03T09:00:00Z', id: 'rsyslog-1' }),
      cloudTrailRecord({ key, ip: CITY.london.ip, at: '2024-06-03T09:05:00Z', id: 'rsyslog-2' }),
      cloudTrailRecord({ key, ip: CITY.tokyo.ip, at: '2024-06-03T09:45:00Z', id: 'rsyslog-3' }),
      cloudTrailRecord({ key: 'AKIARSYSLOGTEST00002', ip: CITY.paris.ip, at: '2024-06-03T09:10:00Z', id: 'rsyslog-4', user: 'bob' }),
      { ...cloudTrailRecord({ key: 'AKIARSYSLOGTEST00003', ip: 'AWS Internal', at: '2024-06-03T09:20:00Z', id: 'rsyslog-5' }), eventName: 'ConsoleLogin' },
    ];
    const input = join(dir, 'in');
    mkdirSync(input);
    mkdirSync(join(dir, 'work'));
    const lines = records.map((r) => JSON.stringify(r));
    lines.splice(2, 0, '{"eventVersion": "1.08", "this line is cut short');
    writeFileSync(join(input, 'cloudtrail.ndjson'), `${lines.join('\n')}\n`);
    const errorFile = join(dir, 'errors.json');
    // The message is the line itself, sent as the document: the shipper's own template, no parsing.
    writeFileSync(
      join(dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${join(dir, 'work')}" maxMessageSize="64k")`,
        'module(load="imfile")',
        'module(load="omelasticsearch")',
        `input(type="imfile" File="${join(input, 'cloudtrail.ndjson')}" Tag="cloudtrail" ruleset="toService")`,
        'template(name="record" type="string" string="%msg%")',
        'ruleset(name="toService") {',
        `  action(type="omelasticsearch" server="127.0.0.1" serverport="${port}" searchIndex="${ctIndex}" bulkmode="on"`,
        `         template="record" esVersion.major="8" errorFile="${errorFile}")`,
        '}',
        '',
      ].join('\n'),
    );
    const output: string[] = [];
    rsyslogd = spawn(rsyslogdBin!, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    rsyslogd.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    rsyslogd.stderr!.on('data', (d: Buffer) => output.push(d.toString()));

    // Every record is stored and the malformed line reported, or the wait runs out.
    const deadline = Date.now() + 60_000;
    while ((await count(ctIndex)) < records.length || !existsSync(errorFile)) {
      if (!running(rsyslogd)) assert.fail(`rsyslogd exited (${rsyslogd.exitCode ?? rsyslogd.signalCode}): ${output.join('')}`);
      if (Date.now() > deadline) assert.fail(`after 60 s: ${await count(ctIndex)} of ${records.length} records stored, error file ${existsSync(errorFile) ? 'written' : 'absent'}; rsyslogd said: ${output.join('') || 'nothing'}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    assert.equal(await count(ctIndex), records.length, 'each record once, under its eventID');
    assert.equal(await count(ctIndex, { term: { 'source.geo.city_name': 'Tokyo' } }), 1);
    assert.equal(await count(ctIndex, { term: { 'source.geo.city_name': 'London' } }), 2);
    assert.equal(await count(ctIndex, { exists: { field: 'impossible_travel.alert_id' } }), 1, 'the Tokyo event carries the alert');
    const stored = await client.get({ index: ctIndex, id: 'rsyslog-3' });
    assert.equal((stored.body as { _source: { userIdentity: { session_name: string } } })._source.userIdentity.session_name, 'alice');

    assert.equal(await count(alertsIndex), 1);
    const alert = ((await client.search({ index: alertsIndex })).body as { hits: { hits: AlertHit[] } }).hits.hits[0]!._source;
    const locations = alert.impossible_travel.triggering_locations;
    assert.equal(alert.userIdentity.accessKeyId, key);
    assert.deepEqual([locations.first_location.city, locations.second_location.city], ['London', 'Tokyo']);

    // rsyslog writes what OpenSearch's answer (through the service) said was refused.
    const errors = readFileSync(errorFile, 'utf8');
    assert.match(errors, /mapper_parsing_exception/);
    assert.match(errors, /this line is cut short/);
  });
});
