import assert from 'node:assert/strict';
import { NormalizeCloudTrail, TYPE, parseEventTime, principalOf, sessionName } from '../../processors/normalize-cloudtrail.js';
import type { Context, Doc, DocFacts } from '../../processors/types.js';
import { ConfigError } from '../../server/errors.js';
import { Rng } from '../fuzz/bodies.js';
import { silentLogger } from '../../server/log.js';
import { ACCOUNT, IP, T0, cloudTrailRecord, eventTime } from '../support/geo-fixture.js';

function run(doc: Doc, options: ConstructorParameters<typeof NormalizeCloudTrail>[0] = {}): { doc: Doc; facts: DocFacts } {
  const ctx: Context = { facts: {}, batch: {}, log: silentLogger(), emit: () => assert.fail('normalize-cloudtrail never emits') };
  const out = new NormalizeCloudTrail(options).process(doc, ctx);
  assert.equal(out, doc, 'the processor changes the document in place and returns it');
  return { doc: out, facts: ctx.facts };
}

const source = (doc: Doc): Record<string, unknown> | undefined => doc.source as Record<string, unknown> | undefined;
const identity = (doc: Doc): Record<string, unknown> => doc.userIdentity as Record<string, unknown>;

describe('processors/normalize-cloudtrail', () => {
  describe('@timestamp', () => {
    it('is set from eventTime, and the event time in milliseconds becomes a fact', () => {
      const { doc, facts } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 }));
      assert.equal(doc['@timestamp'], '2024-03-04T09:00:00Z');
      assert.equal(facts.timestampMs, T0);
    });

    it('keeps a Logstash-shaped @timestamp when there is no eventTime, and uses it as the event time', () => {
      const record = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 });
      delete record.eventTime;
      record['@timestamp'] = '2020-09-14T00:44:20.000Z';
      record['@version'] = '1';
      const { doc, facts } = run(record);
      assert.equal(doc['@timestamp'], '2020-09-14T00:44:20.000Z');
      assert.equal(facts.timestampMs, Date.parse('2020-09-14T00:44:20.000Z'));
    });

    it('prefers eventTime over an existing @timestamp (the event time is the one that matters)', () => {
      const record = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0, extra: { '@timestamp': '2030-01-01T00:00:00.000Z' } });
      const { doc, facts } = run(record);
      assert.equal(doc['@timestamp'], eventTime(T0));
      assert.equal(facts.timestampMs, T0);
    });

    it('leaves @timestamp and the time fact unset when eventTime is not a date', () => {
      const { doc, facts } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0, extra: { eventTime: 'yesterday-ish' } }));
      assert.equal('@timestamp' in doc, false);
      assert.equal(facts.timestampMs, undefined);
    });
  });

  describe('parseEventTime', () => {
    it('agrees with Date.parse on CloudTrail times, other ISO forms, out-of-range fields and junk', () => {
      const cases = [
        '2024-03-04T09:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2024-02-29T12:00:00Z',
        '2023-02-29T12:00:00Z', '2024-02-31T00:00:00Z', '2024-04-31T10:00:00Z', '2024-13-01T00:00:00Z',
        '2024-00-10T00:00:00Z', '2024-01-00T00:00:00Z', '2024-01-32T00:00:00Z', '2024-01-01T24:00:00Z',
        '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z', '0999-01-01T00:00:00Z', '0050-01-01T00:00:00Z',
        '2024-03-04T09:00:00.123Z', '2024-03-04T09:00:00+02:00', '2024-03-04 09:00:00Z', '2024-03-04T09:00:00z',
        '2024-03-04T09:0a:00Z', '2024-3-04T09:00:00Z', '-024-03-04T09:00:00Z', 'yesterday', '',
      ];
      for (const text of cases) assert.equal(parseEventTime(text), Date.parse(text), text);
    });

    it('agrees with Date.parse on 20,000 generated times with digits anywhere in range or out of it', () => {
      const rng = new Rng(5, 0);
      const next = (n: number): number => rng.int(0, n - 1);
      const two = (n: number): string => String(n).padStart(2, '0');
      for (let i = 0; i < 20_000; i++) {
        const text = `${String(next(10_000)).padStart(4, '0')}-${two(next(15))}-${two(next(34))}T${two(next(26))}:${two(next(62))}:${two(next(62))}Z`;
        assert.equal(parseEventTime(text), Date.parse(text), text);
      }
    });
  });

  describe('source.address and source.ip', () => {
    const valid: [string, string, string][] = [
      ['IPv4', '81.2.69.160', '81.2.69.160'],
      ['IPv6', '2400:4050:1::5', '2400:4050:1::5'],
      ['IPv6, upper case', '2001:DB8::1', '2001:DB8::1'],
      ['IPv4-mapped IPv6', '::ffff:81.2.69.160', '81.2.69.160'],
      ['IPv4-mapped IPv6, upper case', '::FFFF:81.2.69.160', '81.2.69.160'],
      ['private IPv4 (still an address)', '192.168.10.20', '192.168.10.20'],
    ];
    for (const [what, raw, canonical] of valid) {
      it(`${what}: source.address and source.ip are the raw value; the fact is ${canonical}`, () => {
        const { doc, facts } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: raw, at: T0 }));
        assert.deepEqual(source(doc), { address: raw, ip: raw });
        assert.equal(facts.ip, canonical);
        assert.equal(doc.sourceIPAddress, raw, 'the original field is left alone');
      });
    }

    const invalid: [string, string][] = [
      ['leading zeros (stratus-red-team obfuscation)', '255.090.254.5'],
      ['leading zero in the first octet', '08.1.250.216'],
      ['AWS Internal', 'AWS Internal'],
      ['a service host name', 'ec2.amazonaws.com'],
      ['another service host name', 'cloudtrail.amazonaws.com'],
      ['an out-of-range octet', '81.2.69.256'],
      ['an address with a port', '81.2.69.160:443'],
      ['an address with spaces around it', ' 81.2.69.160 '],
      ['a CIDR', '81.2.69.0/24'],
    ];
    for (const [what, raw] of invalid) {
      it(`${what} (${JSON.stringify(raw)}): source.address only, no source.ip and no IP fact`, () => {
        const { doc, facts } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: raw, at: T0 }));
        assert.deepEqual(source(doc), { address: raw });
        assert.equal(facts.ip, undefined);
      });
    }

    it('adds no source object when sourceIPAddress is missing or empty', () => {
      const missing = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 });
      delete missing.sourceIPAddress;
      assert.equal('source' in run(missing).doc, false);
      const empty = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: '', at: T0 });
      const { doc, facts } = run(empty);
      assert.equal('source' in doc, false);
      assert.equal(facts.ip, undefined);
    });

    it('keeps other fields of an existing source object', () => {
      const { doc } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0, extra: { source: { port: 443 } } }));
      assert.deepEqual(source(doc), { port: 443, address: IP.london, ip: IP.london });
    });
  });

  describe('userIdentity.session_name', () => {
    it('AssumedRole: the session name from the assumed-role ARN', () => {
      const { doc } = run(cloudTrailRecord({ key: 'ASIAEXAMPLE0001', ip: IP.london, at: T0, type: 'AssumedRole', role: 'Admin', session: 'i-0abc123' }));
      assert.equal(identity(doc).session_name, 'i-0abc123');
    });

    it("AssumedRole: a session name holding '@' and '/' is kept whole", () => {
      const withAt = run(cloudTrailRecord({ key: 'ASIAEXAMPLE0001', ip: IP.london, at: T0, type: 'AssumedRole', role: 'AWSReservedSSO_Admin_0123', session: 'jane.doe@example.com' }));
      assert.equal(identity(withAt.doc).session_name, 'jane.doe@example.com');
      const withSlash = run(cloudTrailRecord({ key: 'ASIAEXAMPLE0001', ip: IP.london, at: T0, type: 'AssumedRole', role: 'Admin', session: 'team/jane@example.com' }));
      assert.equal(identity(withSlash.doc).session_name, 'team/jane@example.com');
    });

    it('AssumedRole whose ARN is not an assumed-role ARN: no session name', () => {
      const record = cloudTrailRecord({ key: 'ASIAEXAMPLE0001', ip: IP.london, at: T0, type: 'AssumedRole' });
      identity(record).arn = `arn:aws:iam::${ACCOUNT}:user/Bob`;
      assert.equal('session_name' in identity(run(record).doc), false);
    });

    it('IAMUser: the user name', () => {
      const { doc } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0, type: 'IAMUser', user: 'ci-runner' }));
      assert.equal(identity(doc).session_name, 'ci-runner');
    });

    it('Root: "root"', () => {
      const { doc } = run(cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0, type: 'Root' }));
      assert.equal(identity(doc).session_name, 'root');
    });

    it('FederatedUser: the federated user name from the ARN', () => {
      const { doc } = run(cloudTrailRecord({ key: 'ASIAEXAMPLE0001', ip: IP.london, at: T0, type: 'FederatedUser', user: 'bob@example.com' }));
      assert.equal(identity(doc).session_name, 'bob@example.com');
    });

    for (const type of ['AWSService', 'AWSAccount', 'IdentityCenterUser', 'WebIdentityUser', 'SAMLUser']) {
      it(`${type}: no session name`, () => {
        const record = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.london, at: T0 });
        identity(record).type = type;
        assert.equal('session_name' in identity(run(record).doc), false);
      });
    }

    it('sessionName() reads role session names as the ARN pattern /:assumed-role\\/[^/]+\\/(.+)$/ does, odd ARNs included', () => {
      const pattern = /:assumed-role\/[^/]+\/(.+)$/;
      const arns = [
        'arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com',
        'arn:aws:sts::123456789012:assumed-role/Admin/i-0abc/with/slashes',
        'arn:aws:sts::123456789012:assumed-role/Admin/',
        'arn:aws:sts::123456789012:assumed-role//alice',
        'arn:aws:sts::123456789012:assumed-role/Admin',
        'arn:aws:sts::1:assumed-role//x:assumed-role/Second/bob',
        'arn:aws:sts::1:assumed-role/Admin/line\nbreak',
        'arn:aws:sts::1:assumed-role/Admin/\u2028',
        'arn:aws:iam::1:user/alice',
        ':assumed-role/R/s',
        '',
      ];
      for (const arn of arns) {
        assert.equal(sessionName({ type: 'AssumedRole', arn }), pattern.exec(arn)?.[1], JSON.stringify(arn));
      }
    });

    it('sessionName() and principalOf() agree with the processor for each identity type', () => {
      assert.equal(sessionName({ type: 'IAMUser', userName: '' }), undefined, 'an empty user name is no name');
      assert.equal(sessionName({ type: 'FederatedUser', arn: 'arn:aws:iam::1:user/x' }), undefined);
      assert.equal(principalOf({ arn: 'arn:aws:iam::1:user/x', principalId: 'AIDA1' }), 'arn:aws:iam::1:user/x');
      assert.equal(principalOf({ principalId: 'AIDA1' }), 'AIDA1');
      assert.equal(principalOf({ invokedBy: 'ec2.amazonaws.com' }), undefined);
    });
  });

  describe('facts for the later processors', () => {
    it('records the key, identity type, principal ARN and event id', () => {
      const record = cloudTrailRecord({ key: 'ASIAEXAMPLE0002', ip: IP.tokyo, at: T0, type: 'AssumedRole', role: 'Deploy', session: 's1', eventId: 'ev-1' });
      const { facts } = run(record);
      assert.equal(facts.accessKeyId, 'ASIAEXAMPLE0002');
      assert.equal(facts.identityType, 'AssumedRole');
      assert.equal(facts.principal, `arn:aws:sts::${ACCOUNT}:assumed-role/Deploy/s1`);
      assert.equal(facts.eventId, 'ev-1');
    });

    it('an empty accessKeyId (Identity Center console events) is no key', () => {
      const { facts } = run(cloudTrailRecord({ key: '', ip: IP.tokyo, at: T0 }));
      assert.equal(facts.accessKeyId, undefined);
    });

    it('a record without userIdentity (Insight events) passes with no identity facts', () => {
      const record = cloudTrailRecord({ key: 'AKIAEXAMPLE0001', ip: IP.tokyo, at: T0 });
      delete record.userIdentity;
      const { doc, facts } = run(record);
      assert.equal(facts.accessKeyId, undefined);
      assert.equal(facts.identityType, undefined);
      assert.equal('userIdentity' in doc, false);
    });
  });

  describe('options', () => {
    it('has its type, and its tag defaults to the type', () => {
      const p = new NormalizeCloudTrail();
      assert.equal(p.type, TYPE);
      assert.equal(p.type, 'normalize-cloudtrail');
      assert.equal(p.tag, 'normalize-cloudtrail');
      assert.equal(new NormalizeCloudTrail({ tag: 'ct-1' }).tag, 'ct-1');
    });

    it('rejects an unknown option key with a ConfigError naming processor, tag and property', () => {
      const options = { tag: 'ct-1', ignoreMissing: true } as unknown as ConstructorParameters<typeof NormalizeCloudTrail>[0];
      assert.throws(
        () => new NormalizeCloudTrail(options),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
          assert.equal(err.code, 'config_invalid');
          assert.equal(err.setting, '[normalize-cloudtrail][ct-1] ignoreMissing');
          assert.match(err.message, /^\[normalize-cloudtrail\]\[ct-1\] ignoreMissing: unknown property \(known: tag\)$/);
          return true;
        },
      );
    });
  });
});
