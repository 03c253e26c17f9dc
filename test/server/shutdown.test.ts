import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { cloudTrailRecord, CITY, testGeoipPath } from '../support/service-harness.js';

/**
 * SIGTERM, as an orchestrator sends it: the service stops accepting, finishes the request in
 * flight (its answer is complete), and exits 0. Runs the real entry point in a child process.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));

async function startChild(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', GEOIP_CITY_DB: testGeoipPath(), LOG_LEVEL: 'info', OPENSEARCH_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  for (let i = 0; i < 200; i++) {
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    if (match) return { child, port: Number(match[1]), output: () => output };
    if (child.exitCode !== null) throw new Error(`the service exited early: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the service did not log its port: ${output}`);
}

describe('shutdown on SIGTERM', function () {
  this.timeout(60_000);

  it('finishes the request in flight, answers it in full, and exits 0', async () => {
    const { child, port, output } = await startChild();
    const records = Array.from({ length: 40_000 }, (_, i) =>
      JSON.stringify(cloudTrailRecord({ key: `AKIASHUTDOWN${i % 500}`, ip: i % 2 ? CITY.london.ip : CITY.paris.ip, at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(), id: `ev-${i}` })),
    );
    const pending = fetch(`http://127.0.0.1:${port}/enrich`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: records.join('\n'),
    });
    // Signal once the request is being processed (the service logs nothing per request at info,
    // so wait a little after the upload).
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGTERM');
    const exited = once(child, 'exit');

    const res = await pending;
    assert.equal(res.status, 200);
    const body = (await res.json()) as { docs: unknown[] };
    assert.equal(body.docs.length, records.length, 'every record of the request in flight is answered');

    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.match(output(), /"msg":"stopping: no new connections, finishing requests in flight"/);
    assert.match(output(), /"msg":"stopped"/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no new connections after the stop');
  });
});
