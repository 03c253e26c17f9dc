import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@opensearch-project/opensearch';
import express from 'express';
import request from 'supertest';
import { silentLogger } from '../../server/log.js';
import { bulkRoute, type BulkDeps } from '../../server/routes/bulk.js';
import type { Pipeline } from '../../processors/pipeline.js';

/**
 * How the `_bulk` route turns OpenSearch's answer into the client's, against a stand-in for
 * OpenSearch over HTTP (the real client talks to it), so that answers a real node would not give
 * can be staged. The pipeline is a stand-in too: it hands the records back as documents. The real
 * node and the real pipeline are in test/integration/bulk.integration.test.ts.
 */

interface Upstream {
  status: number;
  /** The answer's body, made from the request's NDJSON lines. */
  body: (lines: string[]) => string;
}

const stored = (op: string, meta: { _index?: string; _id?: string }, i: number): string =>
  `{"${op}":{"_index":"${meta._index ?? 'ct'}","_id":"${meta._id ?? `auto${i}`}","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":${i},"_primary_term":1,"status":201}}`;

/** One item per action line, each stored, under `head`. */
function allStored(lines: string[], head = '{"took":3,"errors":false,'): string {
  const items: string[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const action = JSON.parse(lines[i]!) as Record<string, { _index?: string; _id?: string }>;
    const op = Object.keys(action)[0]!;
    items.push(stored(op, action[op]!, items.length));
  }
  return `${head}"items":[${items.join(',')}]}`;
}

describe('_bulk route: what the client gets from OpenSearch', () => {
  let upstream: Upstream;
  let server: http.Server;
  let client: Client;
  let app: express.Express;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.length > 0);
        res.writeHead(upstream.status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(upstream.body(lines));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new Client({ node: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxRetries: 0 });
    const pipeline = { run: async (records: unknown[]) => ({ docs: records, alerts: [] }) } as unknown as Pipeline;
    const deps: BulkDeps = {
      client,
      pipeline,
      alertSink: { write: async () => {} } as unknown as BulkDeps['alertSink'],
      maxBodyBytes: 1 << 20,
      log: silentLogger(),
      maxRecords: 1000,
    };
    app = express();
    app.use(express.raw({ type: () => true, limit: '2mb' }));
    app.post('/_bulk', bulkRoute(deps));
  });

  after(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const record = (id: string): string => JSON.stringify({ eventVersion: '1.09', eventID: id, eventName: 'GetObject', sourceIPAddress: '198.51.100.1' });
  const body = `{"index":{"_index":"ct","_id":"a"}}\n${record('e1')}\n{"create":{"_index":"ct"}}\n${record('e2')}\n`;
  const post = (query = ''): request.Test => request(app).post(`/_bulk${query}`).set('content-type', 'application/x-ndjson').send(body);

  it("answers with OpenSearch's items as OpenSearch wrote them, and its own took, when all were stored", async () => {
    upstream = { status: 200, body: (lines) => allStored(lines) };
    const res = await post();
    assert.equal(res.status, 200);
    const text = res.text;
    assert.match(text, /^\{"took":\d+,"errors":false,"items":\[/);
    assert.equal(text.slice(text.indexOf('"items"')), allStored([`{"index":{"_index":"ct","_id":"a"}}`, '', `{"create":{"_index":"ct"}}`, '']).slice('{"took":3,"errors":false,'.length));
  });

  it('refuses an answer without errors that does not hold one item per action (502), as it does any other', async () => {
    for (const items of ['', stored('index', { _id: 'a' }, 0), [stored('index', { _id: 'a' }, 0), stored('create', {}, 1), stored('create', {}, 2)].join(',')]) {
      upstream = { status: 200, body: () => `{"took":3,"errors":false,"items":[${items}]}` };
      const res = await post();
      assert.equal(res.status, 502, items);
      assert.equal(res.body.error.type, 'upstream_rejected');
    }
  });

  it('reads the answer, and applies filter_path, when the client asks for one', async () => {
    upstream = { status: 200, body: (lines) => allStored(lines) };
    const res = await post('?filter_path=items.*.status');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { items: [{ index: { status: 201 } }, { create: { status: 201 } }] });
  });

  it("passes a refusal of the whole request on, and names an answer it cannot read", async () => {
    upstream = { status: 400, body: () => '{"error":{"type":"illegal_argument_exception","reason":"no"},"status":400}' };
    let res = await post();
    assert.equal(res.status, 400);
    assert.equal(res.body.error.type, 'illegal_argument_exception');
    upstream = { status: 413, body: () => '' };
    res = await post();
    assert.equal(res.status, 413);
    assert.equal(res.body.error.type, 'upstream_unreadable');
    upstream = { status: 503, body: () => '<html>unavailable</html>' };
    res = await post();
    assert.equal(res.status, 503);
  });
});
