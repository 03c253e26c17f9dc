/**
 * Writes scripts/demo/cloudtrail-sample.ndjson, the bundled sample `make demo` sends: one working
 * day of CloudTrail for a small account, shaped like the S3-delivered records in the public
 * samples (IAM users, SSO role sessions, root, AWS services, `AWS Internal`, private addresses),
 * with a few keys that travel impossibly. Deterministic: the same file every run.
 *
 *   npx tsx scripts/demo/generate-sample.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ACCOUNT = '111122223333';
const DAY = Date.UTC(2025, 2, 18); // a Tuesday

// Public addresses the DB-IP Lite City database places in these cities (checked with `make geoip`).
const IP = {
  london: '81.2.69.142',
  london2: '2.17.0.1',
  cambridge: '62.40.96.1',
  moscow: '77.88.8.8',
  newYork: '52.95.110.1',
  singapore: '101.100.160.1',
  amsterdam: '185.15.59.224',
  frankfurt6: '2a00:1450:4001:81b::200e',
  saoPaulo: '200.160.2.3',
  sydney: '1.1.1.1',
  lagos: '41.203.64.1',
  montreal: '151.101.1.1',
} as const;

let seed = 20250318;
function random(): number {
  // mulberry32: small, fast, and the same sequence everywhere
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
const at = (hours: number, minutes = 0, seconds = 0): string =>
  new Date(DAY + ((hours * 60 + minutes) * 60 + seconds) * 1000).toISOString().replace('.000Z', 'Z');

interface Identity {
  readonly identity: Record<string, unknown>;
  readonly userAgent: string;
}

function iamUser(name: string, accessKeyId: string): Identity {
  return {
    identity: {
      type: 'IAMUser',
      principalId: `AIDA${hex(16).toUpperCase()}`,
      arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
      accountId: ACCOUNT,
      accessKeyId,
      userName: name,
    },
    userAgent: 'aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/s3.ls',
  };
}

function ssoSession(role: string, session: string, accessKeyId: string): Identity {
  const roleId = `AROA${hex(16).toUpperCase()}`;
  return {
    identity: {
      type: 'AssumedRole',
      principalId: `${roleId}:${session}`,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
      accountId: ACCOUNT,
      accessKeyId,
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: roleId, arn: `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/${role}`, accountId: ACCOUNT, userName: role },
        webIdFederationData: {},
        attributes: { creationDate: at(8), mfaAuthenticated: 'false' },
      },
    },
    userAgent: 'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.12.2',
  };
}

function root(accessKeyId: string): Identity {
  return {
    identity: { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId },
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36',
  };
}

type Call = readonly [eventSource: string, eventName: string, readOnly: boolean];

const CALLS: readonly Call[] = [
  ['s3.amazonaws.com', 'ListBuckets', true],
  ['s3.amazonaws.com', 'GetBucketLocation', true],
  ['ec2.amazonaws.com', 'DescribeInstances', true],
  ['ec2.amazonaws.com', 'DescribeSecurityGroups', true],
  ['iam.amazonaws.com', 'ListUsers', true],
  ['sts.amazonaws.com', 'GetCallerIdentity', true],
  ['lambda.amazonaws.com', 'ListFunctions20150331', true],
  ['ssm.amazonaws.com', 'GetParameter', true],
  ['s3.amazonaws.com', 'PutObject', false],
];

function record(who: Identity, time: string, sourceIPAddress: string, call: Call = pick(CALLS)): Record<string, unknown> {
  const [eventSource, eventName, readOnly] = call;
  return {
    eventVersion: '1.09',
    userIdentity: who.identity,
    eventTime: time,
    eventSource,
    eventName,
    awsRegion: pick(['eu-west-1', 'eu-west-2', 'us-east-1']),
    sourceIPAddress,
    userAgent: who.userAgent,
    requestParameters: eventName === 'GetParameter' ? { name: '/app/db/url', withDecryption: true } : null,
    responseElements: null,
    requestID: hex(16).toUpperCase(),
    eventID: uuid(),
    readOnly,
    eventType: 'AwsApiCall',
    managementEvent: eventSource !== 's3.amazonaws.com' || eventName === 'ListBuckets',
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: `${eventSource.split('.')[0]}.amazonaws.com` },
  };
}

/** Calls spread over a stretch of the day from one address. */
function workFrom(who: Identity, ip: string, fromHour: number, toHour: number, count: number): Record<string, unknown>[] {
  const span = (toHour - fromHour) * 3600;
  return Array.from({ length: count }, (_, i) => record(who, at(fromHour, 0, Math.floor((span * i) / count + random() * 60)), ip));
}

const alice = iamUser('alice', 'AKIA3EXAMPLEALICE001');
const bob = ssoSession('AWSReservedSSO_AdministratorAccess_5c1a2b3c4d5e6f70', 'bob@example.com', 'ASIA3EXAMPLEBOBSSO01');
const carol = iamUser('carol', 'AKIA3EXAMPLECAROL001');
const deploy = iamUser('deploy-bot', 'AKIA3EXAMPLEDEPLOY01');
const erin = ssoSession('AWSReservedSSO_ReadOnlyAccess_0f1e2d3c4b5a6978', 'erin@example.com', 'ASIA3EXAMPLEERINSSO1');
const rootKey = root('AKIA3EXAMPLEROOTKEY1');

const records: Record<string, unknown>[] = [
  // alice works in London; at 14:40 her key is used from Moscow: leaked.
  ...workFrom(alice, IP.london, 9, 14, 60),
  record(alice, at(14, 40), IP.moscow, ['iam.amazonaws.com', 'CreateAccessKey', false]),
  record(alice, at(14, 42), IP.moscow, ['s3.amazonaws.com', 'ListBuckets', true]),
  ...workFrom(alice, IP.london2, 15, 17, 25),
  // bob (SSO) in New York, then Singapore two hours later.
  ...workFrom(bob, IP.newYork, 13, 15, 30),
  ...workFrom(bob, IP.singapore, 17, 18, 10),
  // carol: London in the morning, Amsterdam after a three-hour trip: possible, no alert.
  ...workFrom(carol, IP.london, 8, 10, 20),
  ...workFrom(carol, IP.amsterdam, 13, 17, 20),
  // the deploy bot alternates Cambridge and London (under 500 km): never an alert.
  ...workFrom(deploy, IP.cambridge, 0, 24, 40),
  ...workFrom(deploy, IP.london2, 0, 24, 40),
  // erin: São Paulo, and Sydney half an hour later.
  ...workFrom(erin, IP.saoPaulo, 10, 11, 15),
  ...workFrom(erin, IP.sydney, 11.5, 12, 5),
  // root signs in from Lagos, and an hour later from Montreal.
  record(rootKey, at(20, 5), IP.lagos, ['signin.amazonaws.com', 'ConsoleLogin', false]),
  record(rootKey, at(21, 6), IP.montreal, ['iam.amazonaws.com', 'ListAccessKeys', true]),
];

// What real trails are full of, and what must never count as travel: AWS services acting, calls
// via `AWS Internal`, and calls from private networks (VPC endpoints, NAT).
for (let i = 0; i < 60; i++) {
  const service = pick(['ec2.amazonaws.com', 'inspector2.amazonaws.com', 'config.amazonaws.com', 'cloudtrail.amazonaws.com']);
  records.push({
    ...record({ identity: { type: 'AWSService', invokedBy: service }, userAgent: service }, at(0, i * 23), service, ['sts.amazonaws.com', 'AssumeRole', false]),
    requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/${service}/Role`, roleSessionName: `svc-${hex(8)}` },
  });
}
records.push(...workFrom(alice, 'AWS Internal', 9, 17, 15));
records.push(...workFrom(deploy, `10.20.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`, 0, 24, 30));

// CloudTrail delivers a file every few minutes, unsorted inside: so does the sample.
const tenMinuteFile = (r: Record<string, unknown>): string => String(r.eventTime).slice(0, 15);
const shuffled = records.map((r) => ({ r, order: random() }));
shuffled.sort((a, b) => tenMinuteFile(a.r).localeCompare(tenMinuteFile(b.r)) || a.order - b.order);
records.splice(0, records.length, ...shuffled.map((x) => x.r));

const out = join(dirname(fileURLToPath(import.meta.url)), 'cloudtrail-sample.ndjson');
writeFileSync(out, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(`wrote ${records.length} records to ${out}`);
