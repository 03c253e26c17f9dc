import { canonicalIp, ipFamily } from './ip-ranges.js';
import { checkOptions } from './options.js';
import { isPlainObject, objectAt, type Context, type Doc, type Processor } from './types.js';

/**
 * Maps a CloudTrail record onto the ECS fields analysts query: `@timestamp`, `source.address` (the
 * raw `sourceIPAddress`, which may be a service name or "AWS Internal"), `source.ip` (only when the
 * value is an IP address), and `userIdentity.session_name`, the name our alerts and the rule's
 * runbook refer to. It also records the facts the later processors need.
 */

export const TYPE = 'normalize-cloudtrail';

export interface NormalizeCloudTrailOptions {
  readonly tag?: string;
}

/** The name a person would recognise for the identity, by `userIdentity.type`. */
export function sessionName(identity: Record<string, unknown>): string | undefined {
  const type = identity.type;
  const arn = typeof identity.arn === 'string' ? identity.arn : undefined;
  switch (type) {
    case 'AssumedRole': {
      // arn:aws:sts::123456789012:assumed-role/RoleName/session-name (the session name may hold '/')
      const match = arn && /:assumed-role\/[^/]+\/(.+)$/.exec(arn);
      return match ? match[1] : undefined;
    }
    case 'IAMUser':
      return typeof identity.userName === 'string' && identity.userName ? identity.userName : undefined;
    case 'Root':
      return 'root';
    case 'FederatedUser': {
      const match = arn && /:federated-user\/(.+)$/.exec(arn);
      return match ? match[1] : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The person or role behind the keys: stable across sessions, unlike temporary keys. For a role
 * session it is the assumed-role ARN with its session name, which names the human for SSO roles
 * and the instance for EC2 instance profiles.
 */
export function principalOf(identity: Record<string, unknown>): string | undefined {
  if (typeof identity.arn === 'string' && identity.arn) return identity.arn;
  if (typeof identity.principalId === 'string' && identity.principalId) return identity.principalId;
  return undefined;
}

export class NormalizeCloudTrail implements Processor {
  readonly type = TYPE;
  readonly tag: string;

  constructor(options: NormalizeCloudTrailOptions = {}) {
    checkOptions(TYPE, options.tag ?? TYPE, options, ['tag']);
    this.tag = options.tag ?? TYPE;
  }

  process(doc: Doc, ctx: Context): Doc {
    const facts = ctx.facts;

    // Logstash-shaped exports carry @timestamp instead of eventTime; keep whichever is there.
    const eventTime = doc.eventTime;
    const timeText = typeof eventTime === 'string' ? eventTime : typeof doc['@timestamp'] === 'string' ? (doc['@timestamp'] as string) : undefined;
    if (timeText !== undefined) {
      const ms = Date.parse(timeText);
      if (Number.isFinite(ms)) {
        facts.timestampMs = ms;
        if (typeof eventTime === 'string') doc['@timestamp'] = eventTime;
      }
    }

    const sourceAddress = doc.sourceIPAddress;
    if (typeof sourceAddress === 'string' && sourceAddress.length > 0) {
      const source = objectAt(doc, 'source');
      source.address = sourceAddress;
      if (ipFamily(sourceAddress) !== 0) {
        source.ip = sourceAddress;
        facts.ip = canonicalIp(sourceAddress);
      }
    }

    if (typeof doc.eventID === 'string') facts.eventId = doc.eventID;

    const identity = doc.userIdentity;
    if (isPlainObject(identity)) {
      if (typeof identity.type === 'string') facts.identityType = identity.type;
      const keyId = identity.accessKeyId;
      if (typeof keyId === 'string' && keyId.length > 0) facts.accessKeyId = keyId;
      const name = sessionName(identity);
      if (name !== undefined) identity.session_name = name;
      facts.principal = principalOf(identity);
    }
    return doc;
  }
}

