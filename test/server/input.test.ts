import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { UnreadableRecord } from '../../processors/pipeline.js';
import type { Doc } from '../../processors/types.js';
import { InputError, type ErrorCode } from '../../server/errors.js';
import { bodyLines, decodeBody, decodeText, isGzip, isNdjson, readRecords, type BodyInfo } from '../../server/input.js';
import { Rng } from '../fuzz/bodies.js';
import { IP, MINUTE, T0, cloudTrailRecord } from '../support/geo-fixture.js';

const MAX = 1024 * 1024;
const JSON_INFO: BodyInfo = { contentType: 'application/json', contentEncoding: undefined, maxBytes: MAX };
const NDJSON_INFO: BodyInfo = { contentType: 'application/x-ndjson', contentEncoding: undefined, maxBytes: MAX };

const r1 = cloudTrailRecord({ key: 'AKIAINPUTTEST00001', ip: IP.london, at: T0 });
const r2 = cloudTrailRecord({ key: 'AKIAINPUTTEST00001', ip: IP.tokyo, at: T0 + 40 * MINUTE });
const r3 = cloudTrailRecord({ key: 'AKIAINPUTTEST00002', ip: 'AWS Internal', at: T0 + MINUTE, type: 'Root' });

const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const read = (b: Buffer, info: Partial<BodyInfo> = {}): unknown[] => readRecords(b, { ...JSON_INFO, ...info });

function cloudWatch(messages: string[], messageType = 'DATA_MESSAGE'): Doc {
  return {
    messageType,
    owner: '123456789012',
    logGroup: 'aws-cloudtrail-logs-123456789012',
    logStream: '123456789012_CloudTrail_eu-west-1',
    subscriptionFilters: ['to-impossible-travel'],
    logEvents: messages.map((message, i) => ({ id: `3${i}`.padEnd(56, '0'), timestamp: T0 + i, message })),
  };
}

function expectInputError(fn: () => unknown, code: ErrorCode, status: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    assert.match(err.message, message);
    return true;
  });
}

function unreadable(value: unknown, reason: RegExp): void {
  assert.ok(value instanceof UnreadableRecord, `expected an UnreadableRecord, got ${JSON.stringify(value)}`);
  assert.equal(value.error.error.type, 'record_unparseable');
  assert.match(value.error.error.reason, reason);
}

describe('server/input', () => {
  describe('body shapes', () => {
    it('one record', () => {
      assert.deepEqual(read(body(r1)), [r1]);
    });

    it('a JSON array of records, in order', () => {
      assert.deepEqual(read(body([r1, r2, r3])), [r1, r2, r3]);
    });

    it('a CloudTrail S3 log file {"Records": [...]}', () => {
      assert.deepEqual(read(body({ Records: [r1, r2, r3] })), [r1, r2, r3]);
      assert.deepEqual(read(body({ Records: [] })), []);
    });

    it('an EventBridge "AWS API Call via CloudTrail" event: the record is detail', () => {
      const event = {
        version: '0',
        id: '6f2e4c1a-0000-4000-8000-000000000001',
        'detail-type': 'AWS API Call via CloudTrail',
        source: 'aws.ec2',
        account: '123456789012',
        time: '2024-03-04T09:00:00Z',
        region: 'eu-west-1',
        resources: [],
        detail: r1,
      };
      assert.deepEqual(read(body(event)), [r1]);
      assert.deepEqual(read(body([event, { ...event, detail: r2 }])), [r1, r2]);
    });

    it('a decoded CloudWatch Logs subscription payload: one record per log event', () => {
      assert.deepEqual(read(body(cloudWatch([JSON.stringify(r1), JSON.stringify(r2)]))), [r1, r2]);
    });

    it('a CloudWatch CONTROL_MESSAGE (subscription health check) holds no record', () => {
      assert.deepEqual(read(body(cloudWatch(['CWL CONTROL MESSAGE: Checking health of destination'], 'CONTROL_MESSAGE'))), []);
    });

    it('a CloudWatch log event that is not JSON becomes an error in its place', () => {
      const out = read(body(cloudWatch([JSON.stringify(r1), '{"eventVersion": "1.08", trunc', JSON.stringify(r2)])));
      assert.equal(out.length, 3);
      assert.deepEqual([out[0], out[2]], [r1, r2]);
      unreadable(out[1], /^logEvents\[1\]\.message is not JSON: /);
    });

    it('a CloudWatch log event without a string message becomes an error in its place', () => {
      const payload = cloudWatch([JSON.stringify(r1)]);
      (payload.logEvents as Doc[]).push({ id: 'x', timestamp: T0 });
      const out = read(body(payload));
      assert.deepEqual(out[0], r1);
      unreadable(out[1], /^logEvents\[1\]\.message is not a string$/);
    });

    it('the payload as Lambda receives it: {"awslogs": {"data": base64(gzip(...))}}', () => {
      const data = gzipSync(body(cloudWatch([JSON.stringify(r1), JSON.stringify(r3)]))).toString('base64');
      assert.deepEqual(read(body({ awslogs: { data } })), [r1, r3]);
    });

    it('awslogs.data that is not base64 gzip JSON becomes one error entry', () => {
      const out = read(body({ awslogs: { data: 'bm90IGd6aXA=' } }));
      assert.equal(out.length, 1);
      unreadable(out[0], /^awslogs\.data is not base64 gzip JSON: /);
    });

    it('an object in no known envelope is taken as a record (the pipeline judges it)', () => {
      assert.deepEqual(read(body({ hello: 'world' })), [{ hello: 'world' }]);
    });

    it('non-object entries of an array are passed on as they are, for the pipeline to report', () => {
      assert.deepEqual(read(body([r1, 42, null, [r2]])), [r1, 42, null, [r2]]);
    });
  });

  describe('NDJSON', () => {
    it('keeps each record\'s own line beside it, for the records that were a line alone', () => {
      const lines = [
        '{"eventName":"a"}',
        'not json',
        '[{"eventName":"b"},{"eventName":"c"}]',
        '',
        '{"Records":[{"eventName":"d"},{"eventName":"e"}]}',
        '  {"eventName":"f"}\r',
        '{"eventName":"g","source":{"address":"x"}}',
      ];
      const texts: unknown[] = [];
      const records = readRecords(Buffer.from(lines.join('\n')), { contentType: 'application/x-ndjson', contentEncoding: undefined, maxBytes: 1e6 }, texts as never);
      assert.equal(records.length, 8);
      assert.equal(texts.length, records.length, 'one entry per record, holes included');
      const kept = texts.map((t, i) => (t === undefined ? undefined : ((t as { record: unknown }).record === records[i] ? (t as { text: string }).text : 'WRONG RECORD')));
      assert.deepEqual(kept, ['{"eventName":"a"}', undefined, undefined, undefined, undefined, undefined, '{"eventName":"f"}', undefined]);
    });

    it('is recognised by its content types, parameters allowed', () => {
      for (const type of ['application/x-ndjson', 'application/x-ndjson; charset=utf-8', 'application/ndjson', 'application/jsonl', 'Application/X-NDJSON']) {
        assert.equal(isNdjson(type), true, type);
      }
      for (const type of ['application/json', 'text/plain', undefined, 'application/x-ndjsonx']) assert.equal(isNdjson(type), false, String(type));
    });

    it('one record per line; blank lines and CRLF endings are fine', () => {
      const text = `${JSON.stringify(r1)}\r\n\r\n${JSON.stringify(r2)}\n   \n${JSON.stringify(r3)}`;
      assert.deepEqual(readRecords(Buffer.from(text), NDJSON_INFO), [r1, r2, r3]);
    });

    it('a bad line in the middle becomes an error entry in its place, naming the line', () => {
      const text = [JSON.stringify(r1), '{"eventVersion": "1.08", "userIdentity": {', JSON.stringify(r2)].join('\n') + '\n';
      const out = readRecords(Buffer.from(text), NDJSON_INFO);
      assert.equal(out.length, 3);
      assert.deepEqual(out[0], r1);
      unreadable(out[1], /^line 2 is not JSON: /);
      assert.deepEqual(out[2], r2);
    });

    it('each line may be any envelope: an S3 log file, an EventBridge event, an awslogs payload', () => {
      const data = gzipSync(body(cloudWatch([JSON.stringify(r3)]))).toString('base64');
      const lines = [
        JSON.stringify({ Records: [r1, r2] }),
        JSON.stringify({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', detail: r1 }),
        JSON.stringify({ awslogs: { data } }),
      ];
      assert.deepEqual(readRecords(Buffer.from(lines.join('\n')), NDJSON_INFO), [r1, r2, r1, r3]);
    });

    it('a line holding a JSON array of records gives its records (input.ts: "NDJSON, one of the above per line")', () => {
      const lines = [JSON.stringify([r1, r2]), JSON.stringify(r3)];
      assert.deepEqual(readRecords(Buffer.from(lines.join('\n')), NDJSON_INFO), [r1, r2, r3]);
    });

    it('a line numbering that counts blank lines, so the number matches an editor', () => {
      const out = readRecords(Buffer.from(`${JSON.stringify(r1)}\n\nnot json\n`), NDJSON_INFO);
      unreadable(out[1], /^line 3 is not JSON/);
    });
  });

  describe('compression', () => {
    const plain = body({ Records: [r1, r2] });

    it('inflates gzip by Content-Encoding header (gzip, x-gzip, any case)', () => {
      for (const contentEncoding of ['gzip', 'x-gzip', 'GZIP', ' gzip ']) {
        assert.deepEqual(read(gzipSync(plain), { contentEncoding }), [r1, r2], contentEncoding);
      }
    });

    it('inflates gzip by its magic bytes when no header says so (S3 objects are .json.gz)', () => {
      const gz = gzipSync(plain);
      assert.equal(isGzip(gz), true);
      assert.equal(isGzip(plain), false);
      assert.deepEqual(read(gz, { contentEncoding: undefined }), [r1, r2]);
      assert.deepEqual(read(gz, { contentEncoding: 'identity' }), [r1, r2]);
    });

    it('inflates gzipped NDJSON', () => {
      const gz = gzipSync(Buffer.from(`${JSON.stringify(r1)}\n${JSON.stringify(r2)}\n`));
      assert.deepEqual(readRecords(gz, { ...NDJSON_INFO, contentEncoding: 'gzip' }), [r1, r2]);
    });

    it('a body declared gzip that is not gzip is a 400', () => {
      expectInputError(() => read(plain, { contentEncoding: 'gzip' }), 'body_unparseable', 400, /^the body is not valid gzip: /);
    });

    it('a truncated gzip body is a 400', () => {
      const gz = gzipSync(plain);
      expectInputError(() => read(gz.subarray(0, gz.length - 20)), 'body_unparseable', 400, /^the body is not valid gzip: /);
    });

    it('a gzip bomb that inflates past maxBytes is a 413, refused without inflating it all', () => {
      const bomb = gzipSync(Buffer.alloc(8 * MAX, 0x20));
      assert.ok(bomb.length < MAX / 10, 'small on the wire');
      expectInputError(() => read(bomb, { contentEncoding: 'gzip' }), 'body_too_large', 413, new RegExp(`inflates to more than ${MAX} bytes \\(MAX_BODY_BYTES\\)`));
      expectInputError(() => read(bomb), 'body_too_large', 413, /inflates to more than/);
    });

    it('a body that inflates to exactly maxBytes is accepted', () => {
      const exact = Buffer.alloc(MAX, 0x20);
      const json = Buffer.from(JSON.stringify([r1]));
      json.copy(exact);
      assert.deepEqual(read(gzipSync(exact)), [r1]);
      assert.equal(decodeBody(gzipSync(exact), 'gzip', MAX).length, MAX);
    });

    it('an {"awslogs"} envelope that inflates past maxBytes is refused with a 413 too, not inflated', () => {
      const big = cloudWatch(Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...r1, eventID: `e-${i}`, padding: 'x'.repeat(400) })));
      const inflated = body(big);
      assert.ok(inflated.length > 1.2 * MAX, `the inner payload is ${inflated.length} bytes`);
      const envelope = body({ awslogs: { data: gzipSync(inflated).toString('base64') } });
      assert.ok(envelope.length < MAX, 'the envelope itself is under the limit');
      expectInputError(() => read(envelope), 'body_too_large', 413, /MAX_BODY_BYTES/);
    });

    it('an unsupported Content-Encoding is a 415 naming it', () => {
      for (const contentEncoding of ['br', 'deflate', 'compress', 'gzip, br']) {
        expectInputError(() => read(plain, { contentEncoding }), 'unsupported_encoding', 415, new RegExp(`^Content-Encoding "${contentEncoding}" is not supported; send identity or gzip$`));
      }
    });
  });

  describe('text', () => {
    it('reads ASCII and UTF-8 bodies alike, multi-byte characters included', () => {
      for (const text of ['{"a":"plain"}', '{"userAgent":"São Paulo ☃ 日本 \u0000 𝄞"}', '']) {
        assert.equal(decodeText(Buffer.from(text)), text);
      }
      const userName = 'Zoë ☃';
      const [doc] = readRecords(Buffer.from(JSON.stringify({ ...r1, userIdentity: { ...(r1.userIdentity as Doc), userName } })), JSON_INFO) as Doc[];
      assert.equal((doc!.userIdentity as Doc).userName, userName);
    });

    it('says undefined for bytes that are not UTF-8', () => {
      assert.equal(decodeText(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), undefined);
      assert.equal(decodeText(Buffer.from([0xff])), undefined);
      assert.equal(bodyLines(Buffer.from([0x7b, 0x0a, 0xc3, 0x28, 0x7d])), undefined);
    });

    it('cuts a body into the lines of its whole text (a leading BOM dropped), ASCII or not, on 5,000 generated bodies', () => {
      const split = (text: string): string[] => decodeText(Buffer.from(text))!.split('\n');
      for (const text of ['', '\n', 'a', 'a\n', '\na\n\nb', '{"x":1}\r\n{"y":"é"}\n', '\ufeff{"a":1}\n\ufeff{"b":2}']) {
        assert.deepEqual(bodyLines(Buffer.from(text)), split(text), JSON.stringify(text));
      }
      const rng = new Rng(20261126, 1);
      const pieces = ['{"eventName":"GetObject"}', '\n', '\n', '\r\n', ' ', 'Zoë', '☃', '𝄞', '\u0000', '{"a":[1,2]}'];
      for (let i = 0; i < 5000; i++) {
        let text = '';
        for (let n = rng.int(0, 12); n > 0; n--) text += rng.pick(pieces);
        assert.deepEqual(bodyLines(Buffer.from(text)), split(text), JSON.stringify(text));
      }
    });
  });

  describe('bodies that cannot be read at all', () => {
    it('invalid UTF-8 is a 400', () => {
      const bad = Buffer.concat([Buffer.from('{"eventName": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      expectInputError(() => read(bad), 'body_unparseable', 400, /^the body is not valid UTF-8$/);
      expectInputError(() => readRecords(bad, NDJSON_INFO), 'body_unparseable', 400, /^the body is not valid UTF-8$/);
    });

    it('an empty (or blank) body is a 400', () => {
      expectInputError(() => read(Buffer.alloc(0)), 'body_unparseable', 400, /^the body is empty; send CloudTrail JSON$/);
      expectInputError(() => read(Buffer.from(' \n\t ')), 'body_unparseable', 400, /^the body is empty/);
    });

    it('a body that is not JSON is a 400 that suggests NDJSON for one record per line', () => {
      const two = Buffer.from(`${JSON.stringify(r1)}\n${JSON.stringify(r2)}`);
      expectInputError(() => read(two), 'body_unparseable', 400, /^the body is not JSON \(.+\); for one record per line send Content-Type: application\/x-ndjson$/);
      expectInputError(() => read(Buffer.from('hello')), 'body_unparseable', 400, /^the body is not JSON/);
    });
  });
});
