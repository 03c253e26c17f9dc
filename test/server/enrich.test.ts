import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import type { Doc } from '../../processors/types.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { ANSWER_PIECE_CHARS } from '../../server/routes/enrich.js';
import { buildService, type Service } from '../../server/service.js';
import { IP, MINUTE, T0, cloudTrailRecord, geoFixture } from '../support/geo-fixture.js';

const MAX_BODY_BYTES = 64 * 1024;
const KEY = 'AKIAENRICHTEST0001';

const london = cloudTrailRecord({ key: KEY, ip: IP.london, at: T0 });
const tokyo = cloudTrailRecord({ key: KEY, ip: IP.tokyo, at: T0 + 40 * MINUTE });

describe('server: POST /enrich and the app around it (pure mode, no OpenSearch)', () => {
  let service: Service;

  beforeEach(() => {
    const config = loadConfig({
      GEOIP_CITY_DB: geoFixture().cityPath,
      GEOIP_RELOAD_INTERVAL: '1h',
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      LOG_LEVEL: 'silent',
    });
    service = buildService(config, silentLogger(), {});
  });
  afterEach(() => service.close());

  /** Sends the bytes as they are (superagent would otherwise JSON-encode a Buffer sent as application/json). */
  const post = (body: string | Buffer, contentType = 'application/json', contentEncoding?: string) => {
    const req = request(service.app).post('/enrich').set('Content-Type', contentType);
    if (contentEncoding !== undefined) req.set('Content-Encoding', contentEncoding);
    return req.serialize((x: unknown) => x as string).send(body);
  };

  function expectError(res: request.Response, status: number, type: string, reason: RegExp): void {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.equal(res.body.error.type, type);
    assert.match(res.body.error.reason, reason);
  }

  describe('200', () => {
    it('answers {docs, alerts}: one enriched document per record and the alert', async () => {
      const res = await post(JSON.stringify({ Records: [london, tokyo] }));
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.deepEqual(Object.keys(res.body).sort(), ['alerts', 'docs']);
      const docs = res.body.docs as Doc[];
      assert.equal(docs.length, 2);
      assert.deepEqual(docs.map((d) => d.eventID), [london.eventID, tokyo.eventID]);
      assert.equal(((docs[0]!.source as Doc).geo as Doc).city_name, 'London');
      assert.equal(docs[0]!['@timestamp'], '2024-03-04T09:00:00Z');
      const alerts = res.body.alerts as Doc[];
      assert.equal(alerts.length, 1);
      assert.equal((alerts[0]!.userIdentity as Doc).accessKeyId, KEY);
      assert.deepEqual(docs[1]!.impossible_travel, alerts[0]!.impossible_travel);
    });

    it('sends a large answer in pieces: every document arrives, in order', async () => {
      // As many records as fit under the body limit: an answer of several 16 KB pieces.
      const lines: string[] = [];
      for (let i = 0, size = 0; ; i++) {
        const line = JSON.stringify({ ...cloudTrailRecord({ key: `AKIAPIECES${String(i % 7).padStart(8, '0')}`, ip: IP.london, at: T0 + i * 1000 }), eventID: `piece-${i}` });
        if ((size += line.length + 1) > MAX_BODY_BYTES - 1024) break;
        lines.push(line);
      }
      const res = await post(lines.join('\n'), 'application/x-ndjson');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.ok(res.text.length > 3 * ANSWER_PIECE_CHARS, `an answer of ${res.text.length} characters`);
      const docs = res.body.docs as Doc[];
      assert.equal(docs.length, lines.length);
      docs.forEach((doc, i) => assert.equal(doc.eventID, `piece-${i}`));
      assert.equal((docs[docs.length - 1]!.source as Doc).address, IP.london);
    });

    it('answers a batch with nothing to detect with no alerts', async () => {
      const res = await post(JSON.stringify([cloudTrailRecord({ key: KEY, ip: 'AWS Internal', at: T0 })]));
      assert.equal(res.status, 200);
      assert.equal(res.body.docs.length, 1);
      assert.deepEqual(res.body.alerts, []);
    });

    it('keeps detection state between requests', async () => {
      assert.deepEqual((await post(JSON.stringify(london))).body.alerts, []);
      assert.equal((await post(JSON.stringify(tokyo))).body.alerts.length, 1);
    });

    it('reads NDJSON, a bad line becoming an error entry in its place', async () => {
      const body = `${JSON.stringify(london)}\n{"oops": \n${JSON.stringify(tokyo)}\n`;
      const res = await post(body, 'application/x-ndjson');
      assert.equal(res.status, 200);
      assert.equal(res.body.docs.length, 3);
      assert.equal(res.body.docs[1].error.type, 'record_unparseable');
      assert.match(res.body.docs[1].error.reason, /^line 2 is not JSON/);
      assert.equal(res.body.alerts.length, 1);
    });

    it('non-object records become error entries; the others are processed', async () => {
      const res = await post(JSON.stringify([london, 42, tokyo]));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.docs[1], { error: { type: 'record_not_object', reason: 'record 1 is a number; a CloudTrail record is a JSON object' } });
      assert.equal(res.body.alerts.length, 1);
    });

    it('accepts a gzip request body (Content-Encoding: gzip)', async () => {
      const res = await post(gzipSync(JSON.stringify({ Records: [london, tokyo] })), 'application/json', 'gzip');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.docs.length, 2);
      assert.equal(res.body.alerts.length, 1);
    });

    it('accepts a gzip body without the header, by its magic bytes (an S3 .json.gz object as is)', async () => {
      const res = await post(gzipSync(JSON.stringify({ Records: [london, tokyo] })), 'application/octet-stream');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.alerts.length, 1);
    });
  });

  describe('errors are JSON, name the problem, and use the right status', () => {
    it('400 for a body that is not JSON', async () => {
      expectError(await post('this is not json'), 400, 'body_unparseable', /^the body is not JSON/);
    });

    it('400 for an empty body', async () => {
      expectError(await post(''), 400, 'body_unparseable', /^the body is empty/);
    });

    it('400 for a body that is not UTF-8', async () => {
      expectError(await post(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'application/octet-stream'), 400, 'body_unparseable', /UTF-8/);
    });

    it('400 for a body that claims gzip and is not', async () => {
      const res = await post(JSON.stringify(london), 'application/json', 'gzip');
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.type, 'body_unparseable');
    });

    it('413 for a body over MAX_BODY_BYTES', async () => {
      const big = JSON.stringify(Array.from({ length: 60 }, (_, i) => ({ ...london, eventID: `e-${i}`, padding: 'x'.repeat(2000) })));
      assert.ok(big.length > MAX_BODY_BYTES);
      expectError(await post(big), 413, 'body_too_large', new RegExp(`larger than ${MAX_BODY_BYTES} bytes \\(MAX_BODY_BYTES\\)`));
    });

    it('413 for a gzip body that inflates past MAX_BODY_BYTES, with or without the header', async () => {
      const bomb = gzipSync(Buffer.alloc(4 * MAX_BODY_BYTES, 0x20));
      assert.ok(bomb.length < MAX_BODY_BYTES);
      const withHeader = await post(bomb, 'application/json', 'gzip');
      expectError(withHeader, 413, 'body_too_large', /MAX_BODY_BYTES/);
      expectError(await post(bomb, 'application/octet-stream'), 413, 'body_too_large', /MAX_BODY_BYTES/);
    });

    it('415 for a Content-Encoding the service does not read', async () => {
      const res = await post(JSON.stringify(london), 'application/json', 'compress');
      expectError(res, 415, 'unsupported_encoding', /compress|encoding/i);
    });

    it('404 JSON for an unknown path, naming method and path', async () => {
      const get = await request(service.app).get('/nope');
      expectError(get, 404, 'not_found', /^no route for GET \/nope$/);
      const postNope = await request(service.app).post('/enrich/extra').send('{}');
      expectError(postNope, 404, 'not_found', /^no route for POST \/enrich\/extra$/);
      expectError(await request(service.app).get('/enrich'), 404, 'not_found', /^no route for GET \/enrich$/);
    });
  });

  describe('GET /healthz', () => {
    it('200 with the GeoIP database in use and the state size', async () => {
      const res = await request(service.app).get('/healthz');
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'ok');
      assert.deepEqual(
        (res.body.geoip as { path: string; type: string; ipVersion: number }[]).map((g) => [g.path, g.type, g.ipVersion]),
        [[geoFixture().cityPath, 'GeoIP2-City', 6]],
      );
      assert.equal(typeof res.body.state.keys, 'number');
    });
  });

  it('keeps answering, and detecting, after a run of bad inputs', async () => {
    assert.equal((await post(JSON.stringify(london))).status, 200);
    const bad: [string | Buffer, string][] = [
      ['{', 'application/json'],
      ['', 'application/json'],
      [Buffer.from([0xff, 0xfe]), 'application/octet-stream'],
      [gzipSync(Buffer.alloc(4 * MAX_BODY_BYTES)), 'application/octet-stream'],
      ['x'.repeat(MAX_BODY_BYTES + 1), 'application/json'],
      ['[null, 1, "two"]', 'application/json'],
      ['{"Records": "not an array"}', 'application/json'],
    ];
    for (const [body, type] of bad) {
      const res = await post(body, type);
      assert.ok(res.status < 500, `${res.status} for ${String(body).slice(0, 20)}: ${JSON.stringify(res.body)}`);
    }
    assert.equal((await request(service.app).get('/healthz')).status, 200);
    const res = await post(JSON.stringify(tokyo));
    assert.equal(res.status, 200);
    assert.equal(res.body.alerts.length, 1, 'the London event from before the bad inputs still counts');
  });
});
