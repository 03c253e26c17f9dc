import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { buildService, type Service } from '../../server/service.js';
import { CITY, cloudTrailRecord, testGeoipPath } from '../support/service-harness.js';

/** What operators rely on: metrics, API keys, and HTTPS on the service itself. */

const KEY = 'test-key-0123456789abcdef';

function service(env: Record<string, string> = {}): Service {
  return buildService(loadConfig({ GEOIP_CITY_DB: testGeoipPath(), LOG_LEVEL: 'silent', ...env }), silentLogger(), {});
}

const journey = JSON.stringify([
  cloudTrailRecord({ key: 'AKIAOPERATIONS00001', ip: CITY.london.ip, at: '2024-05-01T10:00:00Z', id: 'ops-1' }),
  cloudTrailRecord({ key: 'AKIAOPERATIONS00001', ip: CITY.tokyo.ip, at: '2024-05-01T10:40:00Z', id: 'ops-2' }),
  cloudTrailRecord({ key: 'AKIAOPERATIONS00002', ip: '10.1.2.3', at: '2024-05-01T10:40:00Z', id: 'ops-3' }),
]);

describe('operations', () => {
  describe('GET /metrics', () => {
    it('counts records, alerts and GeoIP lookups, and times the stages, in Prometheus text format', async () => {
      const s = service();
      try {
        await request(s.app).post('/enrich').set('Content-Type', 'application/json').send(journey).expect(200);
        const res = await request(s.app).get('/metrics').expect(200);
        assert.match(res.headers['content-type'] ?? '', /^text\/plain/);
        const value = (name: string): number => {
          const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(res.text);
          assert.ok(m, `${name} is exported`);
          return Number(m[1]);
        };
        assert.equal(value('impossible_travel_records_in_total'), 3);
        assert.equal(value('impossible_travel_records_located_total'), 2);
        assert.equal(value('impossible_travel_alerts_total'), 1);
        assert.equal(value('impossible_travel_state_keys'), 1);
        assert.ok(value('impossible_travel_geoip_lookups_total') >= 3);
        // London, Tokyo and a private address: three networks, each read from the file once.
        assert.equal(value('impossible_travel_geoip_tree_lookups_total'), 3);
        assert.match(res.text, /^impossible_travel_stage_duration_seconds_count\{stage="detect"\} 1$/m);
        assert.match(res.text, /^impossible_travel_records_out_total\{route="enrich"\} 3$/m);
        assert.match(res.text, /^impossible_travel_http_request_duration_seconds_count\{route="\/enrich",status="200"\} 1$/m);
        assert.match(res.text, /^process_resident_memory_bytes /m);
      } finally {
        await s.close();
      }
    });
  });

  describe('API keys', () => {
    let s: Service;
    before(() => (s = service({ API_KEYS: KEY })));
    after(() => s.close());

    it('refuses a request without a key with 401 and says how to send one', async () => {
      const res = await request(s.app).post('/enrich').set('Content-Type', 'application/json').send(journey).expect(401);
      assert.equal(res.body.error.type, 'unauthorized');
      assert.match(res.body.error.reason, /Authorization: Bearer <key>/);
      assert.match(res.headers['www-authenticate'] ?? '', /Bearer/);
    });

    it('refuses a wrong key, and /metrics too', async () => {
      const res = await request(s.app).get('/metrics').set('Authorization', `Bearer ${KEY}x`).expect(401);
      assert.match(res.body.error.reason, /not valid/);
    });

    it('accepts the key as Bearer, as ApiKey, and as the password of Basic', async () => {
      for (const header of [`Bearer ${KEY}`, `ApiKey ${KEY}`, `Basic ${Buffer.from(`logstash:${KEY}`).toString('base64')}`]) {
        const res = await request(s.app).post('/enrich').set('Authorization', header).set('Content-Type', 'application/json').send(journey);
        assert.equal(res.status, 200, header.split(' ')[0]);
        assert.equal(res.body.alerts.length, 1);
      }
    });

    it('leaves /healthz open', async () => {
      await request(s.app).get('/healthz').expect(200);
    });

    it('refuses keys shorter than 16 characters at start-up, naming the setting', () => {
      assert.throws(() => loadConfig({ API_KEYS: 'short' }), (err: Error) => err.name === 'ConfigError' && /^API_KEYS: every API key must be at least 16 characters/.test(err.message));
    });

    it('never writes a key into the configuration it logs', async () => {
      const { describeConfig } = await import('../../server/config.js');
      const text = JSON.stringify(describeConfig(loadConfig({ API_KEYS: KEY, GEOIP_CITY_DB: testGeoipPath() })));
      assert.ok(!text.includes(KEY));
      assert.match(text, /"apiKeys":"\[1 set\]"/);
    });
  });

  describe('HTTPS on the service', function () {
    this.timeout(60_000);

    it('serves /healthz over TLS with TLS_CERT_FILE and TLS_KEY_FILE', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'it-tls-'));
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      const root = fileURLToPath(new URL('../..', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: root,
        env: { ...process.env, PORT: '0', GEOIP_CITY_DB: testGeoipPath(), TLS_CERT_FILE: cert, TLS_KEY_FILE: key, OPENSEARCH_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      try {
        let port: number | undefined;
        for (let i = 0; i < 200 && port === undefined; i++) {
          const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(output);
          if (m) port = Number(m[1]);
          else await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(port, `the service logs an https address: ${output}`);
        const body = await new Promise<string>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(cert) }, (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve(text));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(JSON.parse(body).status, 'ok');
      } finally {
        child.kill('SIGTERM');
      }
    });
  });
});
