import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BACKFILL_USAGE, EventQueue, UsageError, deliveryTimeMs, discoverFiles, folderDayMs, parseBackfillArgs, readLogFile, runBackfill,
  type BackfillOptions, type BackfillSummary,
} from '../../server/backfill.js';
import { defaultGeoipPaths, loadConfig, type Config } from '../../server/config.js';
import { MemoryStateStore } from '../../processors/state.js';
import type { Doc } from '../../processors/types.js';
import { CITY, cloudTrailRecord, testGeoipPath } from '../support/service-harness.js';

/**
 * `impossible-travel backfill` in --dry-run (no OpenSearch): a temporary S3 layout with gzipped and
 * plain CloudTrail files delivered out of order, corrupt and foreign files, a digest folder.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = resolve(REPO, '../shared/fixtures/cloudtrail/invictus-ir-aws_dataset/derived-s3-layout');

const ACCOUNT = '111122223333';
const DAY = '2024-03-18';
const at = (hhmmss: string): string => `${DAY}T${hhmmss}Z`;

const KEY = { pair: 'AKIAPAIRLONDONTOKYO1', london: 'AKIAFILLERLONDON0001', paris: 'AKIAFILLERPARIS00002', sydney: 'AKIAFILLERSYDNEY0003' };

/** Writes text to memory, for stdout, stderr and the alerts output. */
class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  lines(): string[] {
    return this.text.split('\n').filter((l) => l.length > 0);
  }
}

let seq = 0;
function records(key: string, ip: string, times: string[]): Record<string, unknown>[] {
  return times.map((t) => cloudTrailRecord({ key, ip, at: at(t), id: `evt-${key.slice(-4)}-${t.replace(/:/g, '')}-${seq++}` }));
}

/** Unsorted inside, as CloudTrail's own files are. */
const shuffled = <T>(items: T[]): T[] => items.map((v, i) => ({ v, k: (i * 7919) % 13 })).sort((a, b) => a.k - b.k).map((x) => x.v);

interface Tree {
  readonly root: string;
  /** Every valid record, by eventID. */
  readonly ids: string[];
  readonly files: Record<'f1' | 'f2' | 'f3' | 'f4' | 'bad' | 'inventory', string>;
}

/**
 * The layout (delivery order): inventory.json (not CloudTrail; dated by its folder only, so first),
 * F1 10:05 (gz: London filler + the Tokyo half of the pair at 10:04:30), F2 10:10 (plain JSON: Paris
 * filler and one record that is a number), F4 10:15 (us-east-1, gz: London filler), F3 10:20 (gz:
 * the London half of the pair at 10:01, delivered late, and Sydney filler), BAD 10:25 (broken gzip).
 * Plus a README and a digest file, both ignored.
 */
function buildTree(): Tree {
  const root = mkdtempSync(join(tmpdir(), 'backfill-test-'));
  const dayDir = (region: string): string => {
    const dir = join(root, 'AWSLogs', ACCOUNT, 'CloudTrail', region, '2024', '03', '18');
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const name = (region: string, hhmm: string, unique: string, ext: string): string => `${ACCOUNT}_CloudTrail_${region}_20240318T${hhmm}Z_${unique}${ext}`;
  const eu = dayDir('eu-west-1');
  const us = dayDir('us-east-1');

  const f1Records = shuffled([...records(KEY.london, CITY.london.ip, ['10:00:10', '10:01:00', '10:02:00', '10:03:00', '10:04:00']), ...records(KEY.pair, CITY.tokyo.ip, ['10:04:30'])]);
  const f2Records = records(KEY.paris, CITY.paris.ip, ['10:05:00', '10:06:00', '10:07:00', '10:08:00', '10:09:00']);
  const f3Records = shuffled([...records(KEY.sydney, CITY.sydney.ip, ['10:15:00', '10:16:00', '10:17:00', '10:18:00']), ...records(KEY.pair, CITY.london.ip, ['10:01:30'])]);
  const f4Records = records(KEY.london, CITY.london.ip, ['10:12:00', '10:10:00', '10:11:00']);

  const files = {
    f1: join(eu, name('eu-west-1', '1005', 'F1aaaa', '.json.gz')),
    f2: join(eu, name('eu-west-1', '1010', 'F2bbbb', '.json')),
    f3: join(eu, name('eu-west-1', '1020', 'F3cccc', '.json.gz')),
    bad: join(eu, name('eu-west-1', '1025', 'BADddd', '.json.gz')),
    inventory: join(eu, 'inventory.json'),
    f4: join(us, name('us-east-1', '1015', 'F4eeee', '.json.gz')),
  };
  writeFileSync(files.f1, gzipSync(JSON.stringify({ Records: f1Records })));
  writeFileSync(files.f2, JSON.stringify({ Records: [...f2Records.slice(0, 2), 42, ...f2Records.slice(2)] }));
  writeFileSync(files.f3, gzipSync(JSON.stringify({ Records: f3Records })));
  writeFileSync(files.f4, gzipSync(JSON.stringify({ Records: f4Records })));
  writeFileSync(files.bad, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('this is not deflate data at all')]));
  writeFileSync(files.inventory, JSON.stringify({ hello: 'world' }));
  writeFileSync(join(root, 'README.txt'), 'not a log file\n');
  const digest = join(root, 'AWSLogs', ACCOUNT, 'CloudTrail-Digest', 'eu-west-1', '2024', '03', '18');
  mkdirSync(digest, { recursive: true });
  writeFileSync(join(digest, `${ACCOUNT}_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240318T110000Z.json.gz`), gzipSync('{"digestStartTime":"x"}'));

  const ids = [...f1Records, ...f2Records, ...f3Records, ...f4Records].map((r) => r.eventID as string);
  return { root, ids, files };
}

interface Run {
  readonly summary: BackfillSummary;
  readonly docs: Doc[];
  readonly alerts: Doc[];
  readonly stderr: string;
}

describe('server/backfill', function () {
  // Each run opens a GeoIP database; the real DB-IP one takes seconds on a busy machine.
  this.timeout(60_000);
  let config: Config;
  let tree: Tree;
  const temp: string[] = [];

  before(() => {
    config = loadConfig({ GEOIP_CITY_DB: testGeoipPath(), LOG_LEVEL: 'silent' });
    tree = buildTree();
    temp.push(tree.root);
  });

  after(() => {
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });

  async function backfill(extra: Partial<BackfillOptions> = {}, cfg: Config = config): Promise<Run> {
    const stdout = new Collector();
    const stderr = new Collector();
    const alertsOut = new Collector();
    const summary = await runBackfill({
      paths: [tree.root],
      config: cfg,
      dryRun: true,
      stdout,
      stderr,
      alertsOut,
      progress: 'off',
      checkpointIntervalMs: 0,
      ...extra,
    });
    return { summary, docs: stdout.lines().map((l) => JSON.parse(l) as Doc), alerts: alertsOut.lines().map((l) => JSON.parse(l) as Doc), stderr: stderr.text };
  }

  describe('a dry run over an S3 layout', () => {
    let run: Run;
    before(async () => {
      run = await backfill();
    });

    it('prints every valid record once, enriched, as NDJSON in event-time order across files', () => {
      const ids = run.docs.map((d) => d.eventID as string);
      assert.equal(ids.length, 19);
      assert.deepEqual([...ids].sort(), [...tree.ids].sort());
      const times = run.docs.map((d) => Date.parse(d.eventTime as string));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), 'event times never go back');
      // The late London event (delivered 10:20) comes out before the Tokyo one (delivered 10:05).
      const pair = run.docs.filter((d) => (d.userIdentity as Doc).accessKeyId === KEY.pair).map((d) => (d.source as { geo: { city_name: string } }).geo.city_name);
      assert.deepEqual(pair, ['London', 'Tokyo']);
      assert.ok(run.docs.every((d) => typeof d['@timestamp'] === 'string'));
    });

    it('raises exactly one alert, London then Tokyo, for the pair split across files delivered out of order', () => {
      assert.equal(run.alerts.length, 1);
      const alert = run.alerts[0]!;
      assert.equal((alert.userIdentity as Doc).accessKeyId, KEY.pair);
      const t = (alert.impossible_travel as { triggering_locations: { first_location: { city: string }; second_location: { city: string } } }).triggering_locations;
      assert.equal(t.first_location.city, 'London');
      assert.equal(t.second_location.city, 'Tokyo');
      assert.match(run.stderr, new RegExp(`alert: access key ${KEY.pair} in London, United Kingdom then Tokyo, Japan`));
    });

    it('reports the corrupt gzip and the non-CloudTrail JSON on stderr, with path and reason, and skips them', () => {
      assert.ok(run.stderr.includes(`skipped corrupt file ${tree.files.bad}: it is not valid gzip:`), run.stderr);
      assert.ok(
        run.stderr.includes(`skipped corrupt file ${tree.files.inventory}: it is not a CloudTrail log file: expected {"Records": [...]}, found an object with keys hello`),
        run.stderr,
      );
      assert.ok(run.stderr.includes(`${tree.files.f2}: 1 record is not a JSON object (Records[2]); skipped`), run.stderr);
    });

    it('counts everything exactly in the summary', () => {
      const s = run.summary;
      assert.equal(s.outcome, 'completed');
      assert.equal(s.failure, undefined);
      assert.deepEqual(s.files, { found: 6, alreadyDone: 0, read: 4, corrupt: 2, ignored: 2, done: 4, notReached: 0 });
      assert.deepEqual(s.records, { read: 20, processed: 19, bad: 1, stored: 19, rejected: 0, located: 19 });
      assert.equal(s.accessKeys, 4);
      assert.deepEqual(s.alerts, { raised: 1, new: undefined, alreadyStored: undefined });
      assert.equal(s.peakBufferedRecords, 19, 'within the 30-minute window every record waits for the last file');
      assert.equal(s.checkpoint, undefined);
      assert.match(run.stderr, /impossible-travel backfill completed in \d+s\n/);
      assert.match(run.stderr, /files {8}4 read, 0 already done \(checkpoint\), 2 corrupt, 2 ignored \(not CloudTrail logs\)\n/);
      assert.match(run.stderr, /records {6}20 read, 19 printed on stdout, 1 bad, [\d,]+ records\/s\n/);
      assert.match(run.stderr, /access keys {2}4\n {2}located {6}19 records \(GeoIP\)\n {2}alerts {7}1\n$/);
    });
  });

  it('with a short reorder window, holds only what the window needs and still raises the alert for the late event', async () => {
    const run = await backfill({ reorderWindowMs: 0, batchSize: 2 });
    assert.equal(run.summary.peakBufferedRecords, 6, 'at most one file (plus a partial batch) is held');
    assert.equal(run.docs.length, 19);
    // The London event delivered 10:20 now comes after the Tokyo one: detection compares neighbours anyway.
    const pair = run.docs.filter((d) => (d.userIdentity as Doc).accessKeyId === KEY.pair).map((d) => d.eventTime);
    assert.deepEqual(pair, [at('10:04:30'), at('10:01:30')]);
    assert.equal(run.alerts.length, 1);
    assert.equal(run.summary.outcome, 'completed');
  });

  describe('resume', () => {
    it('an interrupted run checkpoints the files it finished; the next run skips them, and together they print every record once', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfill-cp-'));
      temp.push(dir);
      const checkpointPath = join(dir, 'cp.json');
      // The detection state as OpenSearch would keep it between runs.
      const store = new MemoryStateStore(config.state);

      const first = await backfill({ checkpointPath, stopAfterFiles: 3, store, batchSize: 4 });
      assert.equal(first.summary.outcome, 'interrupted');
      assert.deepEqual(first.summary.files, { found: 6, alreadyDone: 0, read: 2, corrupt: 1, ignored: 2, done: 2, notReached: 3 });
      assert.deepEqual(first.summary.records, { read: 12, processed: 11, bad: 1, stored: 11, rejected: 0, located: 11 });
      assert.equal(first.alerts.length, 0, 'the London half of the pair is in a file not read yet');
      assert.match(first.stderr, /stopping \(the limit of 3 files\): storing the 11 records read so far/);
      assert.match(first.stderr, /backfill stopped \(the limit of 3 files\) after \d+s; 3 files not reached: run the same command again to resume/);
      const saved = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { target: string; done: Record<string, number> };
      assert.equal(saved.target, 'dry-run');
      assert.deepEqual(saved.done, { [tree.files.f1]: 6, [tree.files.f2]: 5 });
      assert.deepEqual(readdirSync(dir), ['cp.json'], 'no temporary file left behind');

      const second = await backfill({ checkpointPath, store, batchSize: 4 });
      assert.equal(second.summary.outcome, 'completed');
      assert.deepEqual(second.summary.files, { found: 6, alreadyDone: 2, read: 2, corrupt: 2, ignored: 2, done: 2, notReached: 0 });
      assert.deepEqual(second.summary.records, { read: 8, processed: 8, bad: 0, stored: 8, rejected: 0, located: 8 });
      assert.match(second.stderr, new RegExp(`resuming: 2 of 6 files already done \\(checkpoint ${checkpointPath.replace(/[.]/g, '\\.')}\\)`));
      assert.match(second.stderr, /checkpoint {3}.*cp\.json \(4 files done\)/);
      assert.equal(second.alerts.length, 1, 'the state kept from the first run meets the late London event');

      const ids = [...first.docs, ...second.docs].map((d) => d.eventID as string);
      assert.equal(new Set(ids).size, ids.length, 'no record printed twice');
      assert.deepEqual([...ids].sort(), [...tree.ids].sort());

      const third = await backfill({ checkpointPath, store });
      assert.deepEqual(third.summary.files, { found: 6, alreadyDone: 4, read: 0, corrupt: 2, ignored: 2, done: 0, notReached: 0 });
      assert.equal(third.docs.length, 0);
    });

    it('an abort signal stops reading like SIGINT does, and what was read is stored', async () => {
      const controller = new AbortController();
      controller.abort('SIGINT');
      const run = await backfill({ signal: controller.signal });
      assert.equal(run.summary.outcome, 'interrupted');
      assert.equal(run.summary.files.notReached, 6);
      assert.equal(run.docs.length, 0);
      assert.match(run.stderr, /backfill stopped \(SIGINT\)/);
    });

    it('refuses a checkpoint written for another target, and --restart starts over', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfill-cp-'));
      temp.push(dir);
      const checkpointPath = join(dir, 'cp.json');
      writeFileSync(checkpointPath, JSON.stringify({ version: 1, tool: 'impossible-travel backfill', target: 'http://os:9200 index x', updated: '', done: { [tree.files.f1]: 6 } }));
      await assert.rejects(backfill({ checkpointPath }), (err: Error) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /belongs to a backfill into http:\/\/os:9200 index x, not dry-run; pass another --checkpoint, or --restart/);
        return true;
      });
      const run = await backfill({ checkpointPath, restart: true });
      assert.equal(run.summary.files.alreadyDone, 0);
      assert.equal(run.docs.length, 19);
      assert.equal((JSON.parse(readFileSync(checkpointPath, 'utf8')) as { target: string }).target, 'dry-run');
    });
  });

  describe('finding and reading files', () => {
    it('sorts by the delivery time in the file name, then the YYYY/MM/DD folders, then the name', async () => {
      const d = await discoverFiles([tree.root]);
      assert.deepEqual(
        d.files.map((f) => f.path),
        [tree.files.inventory, tree.files.f1, tree.files.f2, tree.files.f4, tree.files.f3, tree.files.bad],
      );
      assert.equal(d.ignored, 2);
      assert.equal(deliveryTimeMs('/x/111122223333_CloudTrail_us-east-1_20230710T1205Z_1dM7GQM67kudSyGD.json.gz'), Date.parse('2023-07-10T12:05:00Z'));
      assert.equal(deliveryTimeMs('/x/111122223333_CloudTrail_us-east-1_20231340T1205Z_x.json.gz'), undefined, 'month 13 is no date');
      assert.equal(folderDayMs('/logs/AWSLogs/1/CloudTrail/eu-west-1/2024/03/18/a.json'), Date.parse('2024-03-18T00:00:00Z'));
      assert.equal(folderDayMs('/logs/a.json'), undefined);
    });

    it('a path that does not exist is a usage error naming it', async () => {
      await assert.rejects(discoverFiles([join(tree.root, 'nope')]), (err: Error) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, `${join(tree.root, 'nope')}: no such file or folder`);
        return true;
      });
    });

    it('reads gzip by its magic bytes, whatever the extension, and names what is wrong with a bad file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfill-read-'));
      temp.push(dir);
      const gzAsJson = join(dir, 'a.json');
      writeFileSync(gzAsJson, gzipSync('{"Records":[{"eventID":"1"}]}'));
      assert.deepEqual(await readLogFile(gzAsJson), [{ eventID: '1' }]);
      const cases: [string, string | Buffer, RegExp][] = [
        ['empty.json', '', /^is empty$/],
        ['text.json', 'hello', /^is not JSON: /],
        ['array.json', '[{"eventID":"1"}]', /^is not a CloudTrail log file: expected \{"Records": \[\.\.\.\]\}, found an array$/],
        ['truncated.json.gz', gzipSync('{"Records":[]}').subarray(0, 12), /^is not valid gzip: unexpected end of file$/],
      ];
      for (const [name, content, expected] of cases) {
        const path = join(dir, name);
        writeFileSync(path, content);
        await assert.rejects(readLogFile(path), (err: Error) => {
          assert.equal(err.name, 'CorruptFileError', name);
          assert.match(err.message, expected, name);
          return true;
        });
      }
    });

    it('the event queue gives records back in event-time order, ties in arrival order', () => {
      const q = new EventQueue<{ atMs: number; seq: number }>();
      const input = [5, 1, 4, 1, Number.NEGATIVE_INFINITY, 9, 2, 6].map((atMs, seq) => ({ atMs, seq }));
      for (const item of input) q.push(item);
      const out: { atMs: number; seq: number }[] = [];
      while (q.size > 0) out.push(q.pop()!);
      assert.deepEqual(out.map((x) => `${x.atMs}/${x.seq}`), ['-Infinity/4', '1/1', '1/3', '2/6', '4/2', '5/0', '6/7', '9/5']);
    });
  });

  describe('command line', () => {
    it('parses the options, with the defaults of the help text', () => {
      const a = parseBackfillArgs(['--dry-run', 'logs']);
      assert.deepEqual(a, {
        help: false, paths: ['logs'], dryRun: true, index: 'cloudtrail-backfill', alertsOut: undefined, checkpoint: undefined,
        restart: false, reorderWindowMs: 1_800_000, batchSize: 1000, progress: true,
      });
      const b = parseBackfillArgs(['a', 'b', '--index', 'cloudtrail-2024', '--reorder-window', '2h', '--batch-size', '500', '--no-progress', '--restart']);
      assert.equal(b.checkpoint, '.impossible-travel-backfill-cloudtrail-2024.json', 'into OpenSearch, a checkpoint by default, one per index');
      assert.equal(b.reorderWindowMs, 7_200_000);
      assert.equal(b.batchSize, 500);
      assert.equal(b.progress, false);
      assert.deepEqual(b.paths, ['a', 'b']);
      assert.match(BACKFILL_USAGE, /^Usage: impossible-travel backfill \[options\] PATH\.\.\./);
    });

    it('rejects bad usage with a message naming the option', () => {
      const cases: [string[], RegExp][] = [
        [[], /name at least one file or folder/],
        [['--bogus', 'x'], /Unknown option '--bogus'/],
        [['--batch-size', '0', 'x'], /--batch-size must be a whole number from 1 to 10000 \(got "0"\)/],
        [['--reorder-window', 'soon', 'x'], /--reorder-window: "soon" is not a duration/],
      ];
      for (const [args, expected] of cases) {
        assert.throws(() => parseBackfillArgs(args), (err: Error) => err instanceof UsageError && expected.test(err.message), args.join(' '));
      }
    });

    it('without --dry-run needs OPENSEARCH_URL (a configuration error)', async () => {
      await assert.rejects(backfill({ dryRun: false }), (err: Error) => {
        assert.equal(err.name, 'ConfigError');
        assert.match(err.message, /^OPENSEARCH_URL: the backfill writes into OpenSearch/);
        return true;
      });
    });
  });

  describe('failures', () => {
    it('OpenSearch out of reach: retried, then the run stops with a clear message, nothing checkpointed', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfill-cp-'));
      temp.push(dir);
      const checkpointPath = join(dir, 'cp.json');
      // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
      const cfg = loadConfig({ GEOIP_CITY_DB: testGeoipPath(), LOG_LEVEL: 'silent', OPENSEARCH_URL: 'http://127.0.0.1:9', SETUP_ON_START: 'false' });
      const run = await backfill({ dryRun: false, checkpointPath, retry: { attempts: 3, firstDelayMs: 5, maxDelayMs: 10 } }, cfg);
      assert.equal(run.summary.outcome, 'failed');
      assert.match(run.summary.failure!, /^OpenSearch failed while reading detection state: .*\(gave up reading detection state after 3 tries\)$/);
      assert.equal(run.summary.files.done, 0);
      assert.equal(run.summary.records.stored, 0);
      assert.match(run.stderr, /backfill FAILED after \d+s: OpenSearch failed while reading detection state/);
      assert.match(run.stderr, /what is stored stays stored and checkpointed: run the same command again to resume/);
      const saved = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { target: string; done: Record<string, number> };
      assert.deepEqual(saved.done, {});
      assert.equal(saved.target, 'http://127.0.0.1:9 index cloudtrail-backfill alerts impossible-travel-alerts state impossible-travel-state');
    });

    it('a closed standard output (| head) stops the run instead of crashing it', async () => {
      const closed = new Writable({
        write(_chunk, _enc, done) {
          done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        },
      });
      const stderr = new Collector();
      const summary = await runBackfill({ paths: [tree.root], config, dryRun: true, stdout: closed, stderr, progress: 'off', batchSize: 2, reorderWindowMs: 0 });
      assert.equal(summary.outcome, 'failed');
      assert.equal(summary.failure, 'standard output was closed');
    });
  });

  describe('the invictus-ir CloudTrail dataset in its S3 layout', () => {
    it('parses every record of every file, in order, and raises no alert', async function () {
      if (!existsSync(FIXTURE)) {
        console.log(`    (skipped: ${FIXTURE} is not there)`);
        this.skip();
      }
      // The real DB-IP database when installed (make geoip), else the small test one.
      const real = defaultGeoipPaths(REPO).filter((p) => existsSync(p));
      const cfg = real.length > 0 ? loadConfig({ GEOIP_CITY_DB: real.join(','), LOG_LEVEL: 'silent' }) : config;
      let expected = 0;
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir)) {
          const p = join(dir, e);
          if (statSync(p).isDirectory()) walk(p);
          else if (/\.json(\.gz)?$/.test(e)) {
            const raw = readFileSync(p);
            expected += (JSON.parse((raw[0] === 0x1f ? gunzipSync(raw) : raw).toString('utf8')) as { Records: unknown[] }).Records.length;
          }
        }
      };
      walk(FIXTURE);
      assert.ok(expected > 0);

      const run = await backfill({ paths: [FIXTURE] }, cfg);
      assert.equal(run.summary.outcome, 'completed');
      assert.equal(run.summary.files.corrupt, 0);
      assert.equal(run.summary.records.read, expected);
      assert.equal(run.summary.records.stored, expected);
      assert.equal(run.summary.records.bad, 0);
      assert.equal(run.docs.length, expected);
      assert.equal(run.alerts.length, 0);
      assert.equal(run.summary.alerts.raised, 0);
      const times = run.docs.map((d) => Date.parse(d.eventTime as string));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
    });
  });
});
