/**
 * The floor for `npm run bench:e2e`: the least a Node.js service in front of OpenSearch's `_bulk`
 * can do, run in the service's place (BENCH_E2E_FLOOR), so that the ratio it reaches shows what
 * this machine allows any such service, before any work of ours.
 *
 *   FLOOR_MODE=pass   forwards each body's bytes to OpenSearch unread, and OpenSearch's answer back;
 *   FLOOR_MODE=parse  also reads every line with `JSON.parse` and writes it back with
 *                     `JSON.stringify`: the bare pass of `npm run bench`, inside the hop.
 *
 * A plain `node:http` server (no framework) and the OpenSearch client the service uses, with the
 * service's node flags (SERVICE_NODE_ARGS). `/healthz` answers once listening; `/metrics` gives the
 * process's CPU seconds and GC pause seconds under the names the bench reads from the service.
 * Not a product path: it stores no alert and keeps no state.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { Client } from '@opensearch-project/opensearch';
import { bodyLines } from '../server/input.js';
import { utf8Body } from '../server/routes/bulk.js';

const mode = process.env.FLOOR_MODE ?? 'pass';
if (mode !== 'pass' && mode !== 'parse') throw new Error(`FLOOR_MODE must be pass or parse, not "${mode}"`);
const port = Number(process.env.PORT);
const client = new Client({ node: process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200' });

let gcSeconds = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcSeconds += entry.duration / 1000;
}).observe({ entryTypes: ['gc'] });

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Each line through `JSON.parse` and `JSON.stringify`, written into one buffer as the service writes its forward body. */
function reparse(body: Buffer): Buffer {
  const lines = bodyLines(body);
  if (lines === undefined) throw new Error('the body is not valid UTF-8');
  const out: string[] = [];
  for (const line of lines) if (line.length > 0) out.push(`${JSON.stringify(JSON.parse(line))}\n`);
  return utf8Body(out);
}

async function bulk(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const received = await readBody(req);
  const body = mode === 'parse' ? reparse(received) : received;
  const response = await client.transport.request({ method: 'POST', path: '/_bulk', querystring: { pipeline: '_none' }, body }, { asStream: true });
  const answer = await readBody(response.body as IncomingMessage);
  res.writeHead(response.statusCode ?? 502, { 'content-type': 'application/json' }).end(answer);
}

function metrics(res: ServerResponse): void {
  const cpu = process.cpuUsage();
  res.writeHead(200, { 'content-type': 'text/plain' }).end(
    `process_cpu_user_seconds_total ${cpu.user / 1e6}\nprocess_cpu_system_seconds_total ${cpu.system / 1e6}\nnodejs_gc_duration_seconds_sum{kind="all"} ${gcSeconds}\n`,
  );
}

createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/_bulk') {
    bulk(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'floor_proxy_error', reason: String(err) } }));
    });
  } else if (path === '/healthz') {
    res.writeHead(200).end('ok');
  } else if (path === '/metrics') {
    metrics(res);
  } else {
    res.writeHead(404).end();
  }
}).listen(port, '127.0.0.1');
