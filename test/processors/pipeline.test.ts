import assert from 'node:assert/strict';
import { AlertProcessor, alertId } from '../../processors/alert.js';
import { GeoIp } from '../../processors/geoip.js';
import { ImpossibleTravel } from '../../processors/impossible-travel.js';
import { NormalizeCloudTrail } from '../../processors/normalize-cloudtrail.js';
import { Pipeline, UnreadableRecord, isItemError, timeOrder } from '../../processors/pipeline.js';
import { MemoryStateStore } from '../../processors/state.js';
import type { Context, Doc, Processor } from '../../processors/types.js';
import { itemError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import { Rng } from '../fuzz/bodies.js';
import { DEFAULT_DETECTION, IP, MINUTE, T0, cityDatabase, cloudTrailRecord, testPipeline } from '../support/geo-fixture.js';

const KEY = 'AKIAPIPELINETEST01';
const ev = (ip: string, minutes: number, extra: Doc = {}): Doc => cloudTrailRecord({ key: KEY, ip, at: T0 + minutes * MINUTE, extra });

/** Throws for records whose eventName is "Boom"; drops those named "Drop". */
class Trap implements Processor {
  readonly type = 'trap';
  constructor(readonly tag: string) {}
  process(doc: Doc, _ctx: Context): Doc | null {
    if (doc.eventName === 'Boom') throw new Error('kaboom');
    if (doc.eventName === 'Drop') return null;
    return doc;
  }
}

/** A memory store that records what it was asked to load and how often it committed. */
class RecordingStore extends MemoryStateStore {
  readonly prepared: { keys: string[]; principals: string[] }[] = [];
  commits = 0;
  override async prepare(keys: ReadonlySet<string>, principals: ReadonlySet<string>): Promise<void> {
    this.prepared.push({ keys: [...keys].sort(), principals: [...principals].sort() });
  }
  override async commit(): Promise<void> {
    this.commits++;
  }
}

function pipelineWith(enrichers: Processor[], detectorsExtra: Processor[] = [], store = new MemoryStateStore({ maxKeys: 100, maxPrincipals: 100 })): Pipeline {
  const travel = new ImpossibleTravel({ ...DEFAULT_DETECTION, store }, alertId);
  return new Pipeline(enrichers, [travel, ...detectorsExtra, new AlertProcessor({ minDistanceKm: 500, maxSpeedKmh: 1000, cloudtrailIndexPattern: 'cloudtrail-*' })], travel, store, silentLogger());
}

describe('processors/pipeline', () => {
  describe('a batch', () => {
    it('gives one document per record, in input order', async () => {
      const records = [ev(IP.tokyo, 30), ev(IP.london, 0), ev('AWS Internal', 10), ev(IP.paris, 20)];
      const ids = records.map((r) => r.eventID);
      const { docs } = await testPipeline().run(records);
      assert.equal(docs.length, 4);
      assert.deepEqual(docs.map((d) => (d as Doc).eventID), ids);
    });

    it('an empty batch gives no documents and no alerts', async () => {
      const { docs, alerts } = await testPipeline().run([]);
      assert.deepEqual(docs, []);
      assert.deepEqual(alerts, []);
    });

    it('turns non-object records into error entries in their place; the rest goes on', async () => {
      const records: unknown[] = [ev(IP.london, 0), null, 42, 'a string', [ev(IP.paris, 1)], true, ev(IP.tokyo, 40)];
      const t = testPipeline();
      const { docs, alerts } = await t.run(records);
      assert.equal(docs.length, records.length);
      assert.deepEqual(docs.slice(1, 6), [
        itemError('record_not_object', 'record 1 is null; a CloudTrail record is a JSON object'),
        itemError('record_not_object', 'record 2 is a number; a CloudTrail record is a JSON object'),
        itemError('record_not_object', 'record 3 is a string; a CloudTrail record is a JSON object'),
        itemError('record_not_object', 'record 4 is an array; a CloudTrail record is a JSON object'),
        itemError('record_not_object', 'record 5 is a boolean; a CloudTrail record is a JSON object'),
      ]);
      assert.equal((docs[0] as Doc)['@timestamp'], '2024-03-04T09:00:00Z');
      assert.equal(alerts.length, 1, 'London -> Tokyo still alerts around the bad entries');
      assert.equal(t.pipeline.counters.recordErrors, 5);
      assert.equal(t.pipeline.counters.records, 7);
    });

    it('puts an unreadable record (e.g. a bad NDJSON line) in its place as its error', async () => {
      const bad = new UnreadableRecord(itemError('record_unparseable', 'line 2 is not JSON: unexpected token'));
      const { docs } = await testPipeline().run([ev(IP.london, 0), bad, ev(IP.paris, 5)]);
      assert.deepEqual(docs[1], bad.error);
      assert.equal((docs[2] as Doc).eventID, ev(IP.paris, 5).eventID);
    });

    it('a processor that throws marks only its document, naming the processor and tag', async () => {
      const p = pipelineWith([new NormalizeCloudTrail(), new Trap('trap-1'), new GeoIp({ database: cityDatabase() })]);
      const { docs, alerts } = await p.run([ev(IP.london, 0), ev(IP.sydney, 20, { eventName: 'Boom' }), ev(IP.tokyo, 40)]);
      assert.deepEqual(docs[1], itemError('processing_failed', 'record 1: [trap][trap-1] kaboom'));
      assert.ok(!isItemError(docs[0]) && !isItemError(docs[2]));
      assert.equal(((docs[2] as Doc).source as Doc).geo !== undefined, true, 'later processors still ran for the others');
      assert.equal(alerts.length, 1);
      assert.equal(
        (alerts[0]!.impossible_travel as { triggering_locations: { first_location: { city: string } } }).triggering_locations.first_location.city,
        'London',
        'the failed Sydney event took no part in detection',
      );
      assert.equal(p.counters.recordErrors, 1);
    });

    it('a processor that throws during detection marks only its document', async () => {
      const p = pipelineWith([new NormalizeCloudTrail(), new GeoIp({ database: cityDatabase() })], [new Trap('late-trap')]);
      const { docs } = await p.run([ev(IP.london, 0), ev(IP.paris, 20, { eventName: 'Boom' }), ev(IP.london2, 40)]);
      assert.deepEqual(docs[1], itemError('processing_failed', 'record 1: [trap][late-trap] kaboom'));
      assert.ok(!isItemError(docs[0]) && !isItemError(docs[2]));
    });

    it('a processor that drops a document leaves an error entry saying which one dropped it, and counts it', async () => {
      const p = pipelineWith([new NormalizeCloudTrail(), new Trap('dropper')]);
      const { docs } = await p.run([ev(IP.london, 0, { eventName: 'Drop' }), ev(IP.london, 1)]);
      assert.deepEqual(docs[0], itemError('processing_failed', 'record 0 was dropped by [trap][dropper]'));
      assert.equal(p.counters.recordErrors, 1, 'an error entry is a record error in the metrics');
    });

    it('isItemError tells error entries from CloudTrail records that happen to have an "error" field', () => {
      assert.equal(isItemError(itemError('record_not_object', 'x')), true);
      assert.equal(isItemError({ error: { type: 'x', reason: 'y' }, eventName: 'GetObject' }), false);
      assert.equal(isItemError({ errorCode: 'AccessDenied' }), false);
    });
  });

  describe('detection order', () => {
    it('runs detection in event-time order within a batch, whatever the order of the records', async () => {
      // In arrival order, London@80 would be judged first and Tokyo@40 -> London@80 would be the alert.
      const { alerts } = await testPipeline().run([ev(IP.london2, 80), ev(IP.tokyo, 40), ev(IP.london, 0)]);
      assert.equal(alerts.length, 1);
      const t = (alerts[0]!.impossible_travel as { triggering_locations: { first_location: Doc; second_location: Doc } }).triggering_locations;
      assert.equal(t.first_location.ip, IP.london);
      assert.equal(t.first_location.timestamp, new Date(T0).toISOString());
      assert.equal(t.second_location.ip, IP.tokyo);
    });

    it('orders positions by time, ties in input order, as a stable comparator sort does, whatever the spread of times', () => {
      const rng = new Rng(20261126, 3);
      const stable = (positions: number[], times: number[]): number[] =>
        positions.map((p, j) => ({ p, t: times[j]! })).sort((a, b) => a.t - b.t).map((x) => x.p);
      // Up to 400 days pack at these sizes; 2^52 ms does not, nor does a fraction of a millisecond.
      const spreads = [0, 3, 300_000, 86_400_000 * 400, 2 ** 52];
      for (let c = 0; c < 400; c++) {
        const n = rng.int(0, 3000);
        const spread = spreads[c % spreads.length]!;
        const base = rng.int(0, 1) === 0 ? 0 : 1_767_225_600_000;
        const positions: number[] = [];
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          if (rng.int(0, 3) === 0) continue; // a position that is not judged
          positions.push(i);
          // Whole milliseconds mostly; now and then a fraction, which only a comparator sorts.
          const fraction = c % 7 === 6 && rng.int(0, 9) === 0 ? 0.5 : 0;
          times.push(base + rng.int(0, spread) + fraction);
        }
        assert.deepEqual(timeOrder(positions, times), stable(positions, times), `case ${c}: ${positions.length} positions over ${spread} ms`);
      }
    });

    it('loads the batch keys (and only in-scope ones) before detection and commits after', async () => {
      const store = new RecordingStore({ maxKeys: 100, maxPrincipals: 100 });
      const t = testPipeline({}, { store });
      await t.run([
        ev(IP.london, 0),
        cloudTrailRecord({ key: 'AKIAPRIVATEONLY001', ip: '10.1.2.3', at: T0 }),
        cloudTrailRecord({ key: 'AKIASERVICE0000001', ip: IP.tokyo, at: T0, type: 'AWSService' }),
      ]);
      assert.deepEqual(store.prepared, [{ keys: [KEY], principals: [] }]);
      assert.equal(store.commits, 1);
    });

    it('a batch with nothing to judge touches no state', async () => {
      const store = new RecordingStore({ maxKeys: 100, maxPrincipals: 100 });
      await testPipeline({}, { store }).run([ev('AWS Internal', 0), null]);
      assert.deepEqual(store.prepared, []);
      assert.equal(store.commits, 0);
    });

    it('asks a store that loads nothing for no keys, and still commits', async () => {
      assert.equal(new MemoryStateStore({ maxKeys: 1, maxPrincipals: 1 }).loadsState, false, 'memory loads nothing');
      assert.equal(new RecordingStore({ maxKeys: 1, maxPrincipals: 1 }).loadsState, true, 'a store with its own prepare loads');
      class NothingToLoad extends RecordingStore {
        override get loadsState(): boolean {
          return false;
        }
      }
      const store = new NothingToLoad({ maxKeys: 100, maxPrincipals: 100 });
      const t = testPipeline({}, { store });
      const { alerts } = await t.run([ev(IP.london, 0), ev(IP.tokyo, 40)]);
      assert.deepEqual(store.prepared, []);
      assert.equal(store.commits, 1);
      assert.equal(alerts.length, 1, 'the detection runs all the same');
    });

    it('loads principals only when the baseline is on', async () => {
      const store = new RecordingStore({ maxKeys: 100, maxPrincipals: 100 });
      await testPipeline({ baselineLearningDays: 7 }, { store }).run([ev(IP.london, 0)]);
      assert.deepEqual(store.prepared, [{ keys: [KEY], principals: ['arn:aws:iam::123456789012:user/alice'] }]);
    });
  });

  describe('counters', () => {
    it('counts records, errors, located events, GeoIP misses and alerts', async () => {
      const t = testPipeline();
      await t.run([ev(IP.london, 0), ev(IP.tokyo, 40), ev(IP.unknown, 50), ev('AWS Internal', 55), null]);
      const { records, recordErrors, located, geoipMisses, alerts } = t.pipeline.counters;
      assert.deepEqual({ records, recordErrors, located, geoipMisses, alerts }, { records: 5, recordErrors: 1, located: 2, geoipMisses: 1, alerts: 1 });
    });
  });
});
