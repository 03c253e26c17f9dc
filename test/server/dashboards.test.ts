import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DashboardsImportError,
  INDEX_PATTERN_IDS,
  dashboardsFile,
  importSavedObjects,
  type DashboardsFlavor,
} from '../../server/dashboards.js';
import { ConfigError, ServiceError } from '../../server/errors.js';

/**
 * importSavedObjects against a stand-in for the saved objects API: a node:http server on loopback
 * that records each request and answers as told. (OpenSearch Dashboards and Kibana cannot run on
 * this machine; what they answer here follows their import route: 200 with
 * `{success, successCount, errors}`, or `{statusCode, error, message}` on a refusal.)
 */

interface Recorded {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Never answer (for the timeout). */
  readonly hang?: boolean;
}

interface StandIn {
  readonly base: string;
  readonly requests: Recorded[];
  answer: Answer;
  close(): Promise<void>;
}

async function startStandIn(answer: Answer = { status: 200, body: { success: true, successCount: 9 } }): Promise<StandIn> {
  const requests: Recorded[] = [];
  const state = { answer };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: new URL(req.url ?? '/', 'http://stand-in'), headers: req.headers, body: Buffer.concat(chunks) });
      const a = state.answer;
      if (a.hang) return;
      const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { 'content-type': typeof a.body === 'string' ? 'text/html' : 'application/json', ...a.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    get answer() {
      return state.answer;
    },
    set answer(a: Answer) {
      state.answer = a;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The multipart body as the servers read it: the `file` part, its file name and its text. */
async function filePart(r: Recorded): Promise<{ name: string; text: string }> {
  const form = await new Response(r.body, { headers: { 'content-type': String(r.headers['content-type']) } }).formData();
  const file = form.get('file');
  assert.ok(file instanceof Blob, 'no file part in the multipart body');
  return { name: (file as File).name, text: await file.text() };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The rejection of `promise`, asserted to be a DashboardsImportError (a ServiceError). */
async function importError(promise: Promise<unknown>): Promise<DashboardsImportError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ServiceError, `not a ServiceError: ${String(err)}`);
    assert.ok(err instanceof DashboardsImportError, `not a DashboardsImportError: ${String(err)}`);
    return err;
  }
  assert.fail('the import did not fail');
}

describe('server/dashboards: importSavedObjects', () => {
  let standIn: StandIn;

  beforeEach(async () => {
    standIn = await startStandIn();
  });

  afterEach(async () => {
    await standIn.close();
  });

  const cases: { flavor: DashboardsFlavor; xsrf: string; other: string }[] = [
    { flavor: 'opensearch-dashboards', xsrf: 'osd-xsrf', other: 'kbn-xsrf' },
    { flavor: 'kibana', xsrf: 'kbn-xsrf', other: 'osd-xsrf' },
  ];
  for (const { flavor, xsrf, other } of cases) {
    it(`${flavor}: POSTs the NDJSON file as multipart to /api/saved_objects/_import?overwrite=true with ${xsrf} and basic auth`, async () => {
      const file = dashboardsFile(flavor);
      const result = await importSavedObjects({ url: standIn.base, file, flavor, username: 'analyst', password: 's3cret:x' });

      assert.deepEqual(result, { successCount: 9, errors: [] });
      assert.equal(standIn.requests.length, 1);
      const r = standIn.requests[0]!;
      assert.equal(r.method, 'POST');
      assert.equal(r.url.pathname, '/api/saved_objects/_import');
      assert.equal(r.url.searchParams.get('overwrite'), 'true');
      assert.equal(r.headers[xsrf], 'true');
      assert.equal(r.headers[other], undefined);
      assert.equal(r.headers.authorization, basic('analyst', 's3cret:x'));
      assert.match(String(r.headers['content-type']), /^multipart\/form-data; boundary=/);
      // What hapi's multipart parser (both servers) keys on: the part name and a *.ndjson file name.
      assert.match(r.body.toString('utf8'), new RegExp(`Content-Disposition: form-data; name="file"; filename="${flavor}\\.ndjson"`, 'i'));
      const part = await filePart(r);
      assert.equal(part.name, `${flavor}.ndjson`);
      assert.equal(part.text, readFileSync(file, 'utf8'));
    });
  }

  it('sends no Authorization header without a user name', async () => {
    await importSavedObjects({ url: standIn.base, file: dashboardsFile('kibana'), flavor: 'kibana' });
    assert.equal(standIn.requests[0]!.headers.authorization, undefined);
  });

  it('keeps the base path of the URL (Dashboards behind a proxy or with server.basePath)', async () => {
    await importSavedObjects({ url: `${standIn.base}/dashboards`, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' });
    await importSavedObjects({ url: `${standIn.base}/dashboards/`, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' });
    assert.deepEqual(
      standIn.requests.map((r) => `${r.url.pathname}${r.url.search}`),
      ['/dashboards/api/saved_objects/_import?overwrite=true', '/dashboards/api/saved_objects/_import?overwrite=true'],
    );
  });

  it('takes credentials written in the URL as basic auth, and leaves them out of its messages', async () => {
    const url = standIn.base.replace('http://', 'http://admin:p%40ss@');
    await importSavedObjects({ url, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' });
    assert.equal(standIn.requests[0]!.headers.authorization, basic('admin', 'p@ss'));

    standIn.answer = { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'Authentication Exception' } };
    const err = await importError(importSavedObjects({ url, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.equal(err.message, `cannot import saved objects into ${standIn.base}/api/saved_objects/_import?overwrite=true: 401 Unauthorized: Authentication Exception`);
    assert.doesNotMatch(err.message, /p%40ss|p@ss/);
  });

  it('replaces the titles of the index patterns when the indices are not the default ones, and nothing else', async () => {
    const file = dashboardsFile('opensearch-dashboards');
    await importSavedObjects({
      url: standIn.base,
      file,
      flavor: 'opensearch-dashboards',
      indexPatternTitles: { alerts: 'prod-alerts*', cloudtrail: 'logs-aws.cloudtrail-*' },
    });
    const sent = (await filePart(standIn.requests[0]!)).text.split('\n');
    const original = readFileSync(file, 'utf8').split('\n');
    assert.equal(sent.length, original.length);
    const titles: Record<string, string> = {};
    sent.forEach((line, i) => {
      if (line === original[i]) return;
      const o = JSON.parse(line) as { id: string; attributes: { title: string } };
      const before = JSON.parse(original[i]!) as { attributes: Record<string, unknown> };
      assert.deepEqual({ ...o.attributes, title: before.attributes.title }, before.attributes, `${o.id}: more than the title changed`);
      titles[o.id] = o.attributes.title;
    });
    assert.deepEqual(titles, { [INDEX_PATTERN_IDS.alerts]: 'prod-alerts*', [INDEX_PATTERN_IDS.cloudtrail]: 'logs-aws.cloudtrail-*' });
  });

  it('a 500 gives a ServiceError naming the URL and the reason in the body', async () => {
    standIn.answer = { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'An internal server error occurred.' } };
    const err = await importError(importSavedObjects({ url: standIn.base, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.equal(
      err.message,
      `cannot import saved objects into ${standIn.base}/api/saved_objects/_import?overwrite=true: 500 Internal Server Error: An internal server error occurred.`,
    );
    assert.equal(err.code, 'upstream_rejected');
    assert.equal(err.httpStatus, 500);
    assert.equal(err.url, `${standIn.base}/api/saved_objects/_import?overwrite=true`);
  });

  it('a refusal with a plain-text body carries that text', async () => {
    standIn.answer = { status: 413, body: '<html><body>Request Entity Too Large</body></html>' };
    const err = await importError(importSavedObjects({ url: standIn.base, file: dashboardsFile('kibana'), flavor: 'kibana' }));
    assert.match(err.message, /_import\?overwrite=true: 413 Payload Too Large: <html><body>Request Entity Too Large<\/body><\/html>$/);
  });

  it('success:false gives a ServiceError naming the URL and each object that failed, with the errors', async () => {
    const errors = [
      {
        id: 'impossible-travel-alert-locations-map',
        type: 'visualization',
        title: '[Impossible travel] Alert locations',
        meta: { title: '[Impossible travel] Alert locations', icon: 'visualizeApp' },
        error: { type: 'missing_references', references: [{ type: 'index-pattern', id: 'impossible-travel-alerts-index-pattern' }] },
      },
      { id: 'impossible-travel-dashboard', type: 'dashboard', meta: { title: '[Impossible travel] Overview' }, error: { type: 'unknown', message: 'boom' } },
    ];
    standIn.answer = { status: 200, body: { success: false, successCount: 7, errors } };
    const err = await importError(importSavedObjects({ url: standIn.base, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.equal(
      err.message,
      `cannot import saved objects into ${standIn.base}/api/saved_objects/_import?overwrite=true: ` +
        '7 of 9 objects imported from opensearch-dashboards.ndjson; 2 failed: ' +
        'visualization [impossible-travel-alert-locations-map] "[Impossible travel] Alert locations": missing_references (index-pattern [impossible-travel-alerts-index-pattern]); ' +
        'dashboard [impossible-travel-dashboard] "[Impossible travel] Overview": unknown: boom',
    );
    assert.deepEqual(err.errors, errors);
    assert.equal(err.code, 'upstream_rejected');
  });

  it('a 2xx that is not an import result (a login page) is an error, not a success', async () => {
    standIn.answer = { status: 200, body: '<!DOCTYPE html><title>Log in</title>' };
    const err = await importError(importSavedObjects({ url: standIn.base, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.match(err.message, /_import\?overwrite=true: 200 but not a saved objects import result: <!DOCTYPE html><title>Log in<\/title>$/);
  });

  it('does not follow a redirect to a login page, and says so', async () => {
    standIn.answer = { status: 302, headers: { location: '/app/login?nextUrl=%2F' } };
    const err = await importError(importSavedObjects({ url: standIn.base, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.match(err.message, /: 302 Found \(redirected to \/app\/login\?nextUrl=%2F; are the credentials missing\?\)$/);
    assert.equal(standIn.requests.length, 1);
  });

  it('a server that cannot be reached gives upstream_unavailable, naming the URL and the cause', async () => {
    const closed = standIn;
    standIn = await startStandIn(); // for afterEach
    await closed.close();
    const url = closed.base;
    const err = await importError(importSavedObjects({ url, file: dashboardsFile('opensearch-dashboards'), flavor: 'opensearch-dashboards' }));
    assert.match(err.message, new RegExp(`^cannot import saved objects into ${url}/api/saved_objects/_import\\?overwrite=true: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+$`));
    assert.equal(err.code, 'upstream_unavailable');
    assert.equal(err.httpStatus, undefined);
  });

  it('a server that does not answer in time', async () => {
    standIn.answer = { status: 200, hang: true };
    const err = await importError(
      importSavedObjects({ url: standIn.base, file: dashboardsFile('kibana'), flavor: 'kibana', timeoutMs: 200 }),
    );
    assert.match(err.message, /_import\?overwrite=true: no answer within 200 ms$/);
  });

  it('uses fetchImpl when given', async () => {
    const calls: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ success: true, successCount: 3 }), { status: 200 });
    };
    const result = await importSavedObjects({ url: 'http://dashboards.invalid:5601', file: dashboardsFile('kibana'), flavor: 'kibana', fetchImpl });
    assert.deepEqual(result, { successCount: 3, errors: [] });
    assert.deepEqual(calls, ['http://dashboards.invalid:5601/api/saved_objects/_import?overwrite=true']);
  });

  it('refuses wrong options before sending anything, naming the option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboards-'));
    const txt = join(dir, 'objects.json');
    writeFileSync(txt, '{}\n');
    const file = dashboardsFile('opensearch-dashboards');
    const bad: [Parameters<typeof importSavedObjects>[0], RegExp][] = [
      [{ url: standIn.base, file, flavor: 'grafana' as DashboardsFlavor }, /^dashboards\.flavor: unknown flavor "grafana" \(known: opensearch-dashboards, kibana\)$/],
      [{ url: standIn.base, file: txt, flavor: 'kibana' }, /^dashboards\.file: .*objects\.json: the saved objects API only takes a file named \*\.ndjson$/],
      [{ url: standIn.base, file: join(dir, 'missing.ndjson'), flavor: 'kibana' }, /^dashboards\.file: cannot read .*missing\.ndjson: ENOENT/],
      [{ url: 'dashboards:5601', file, flavor: 'kibana' }, /^dashboards\.url: dashboards: is not http: or https:$/],
      [{ url: 'not a url', file, flavor: 'kibana' }, /^dashboards\.url: "not a url" is not a URL$/],
      [{ url: standIn.base, file, flavor: 'kibana', password: 'x' }, /^dashboards\.username: a password is set but no user name$/],
      [{ url: standIn.base, file, flavor: 'kibana', indexPatternTitles: { state: 'x' } as never }, /^dashboards\.indexPatternTitles\.state: unknown index pattern/],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(importSavedObjects(options), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
        assert.match(err.message, message);
        return true;
      });
    }
    assert.equal(standIn.requests.length, 0);
  });
});

describe('server/dashboards: dashboardsFile', () => {
  it('names the shipped file of each flavor', () => {
    for (const flavor of ['opensearch-dashboards', 'kibana'] as const) {
      const file = dashboardsFile(flavor);
      assert.match(file, new RegExp(`mappings/dashboards/${flavor}\\.ndjson$`));
      assert.ok(readFileSync(file, 'utf8').length > 0);
    }
    assert.throws(() => dashboardsFile('grafana' as DashboardsFlavor), ConfigError);
  });
});
