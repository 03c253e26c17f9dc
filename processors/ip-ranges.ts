import { BlockList, isIP } from 'node:net';

/**
 * Which source addresses can say where a key was used. CloudTrail's `sourceIPAddress` also holds
 * service names (`ec2.amazonaws.com`), `AWS Internal`, and addresses from private or reserved
 * ranges; none of them locate the caller, so none may take part in travel.
 */

// IANA special-purpose registries (RFC 6890 and successors), plus multicast and the "class E" block.
const RESERVED_V4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.31.196.0/24', '192.52.193.0/24', '192.88.99.0/24',
  '192.168.0.0/16', '192.175.48.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4',
];
const RESERVED_V6 = [
  '::/128', '::1/128', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', '2002::/16',
  '3fff::/20', '5f00::/16', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8',
];

function addCidr(list: BlockList, cidr: string): void {
  const slash = cidr.lastIndexOf('/');
  const address = slash === -1 ? cidr : cidr.slice(0, slash);
  const family = isIP(address);
  const prefix = slash === -1 ? (family === 6 ? 128 : 32) : Number(cidr.slice(slash + 1));
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
    throw new Error(`"${cidr}" is not an IPv4 or IPv6 CIDR`);
  }
  list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
}

const reserved = new BlockList();
for (const cidr of RESERVED_V4) addCidr(reserved, cidr);
for (const cidr of RESERVED_V6) addCidr(reserved, cidr);

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** 4 or 6 for a valid address, 0 otherwise (Node rejects leading zeros such as `08.1.2.3`). */
export function ipFamily(value: string): 0 | 4 | 6 {
  return isIP(value) as 0 | 4 | 6;
}

/** The address with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) reduced to its IPv4 form. */
export function canonicalIp(ip: string): string {
  const mapped = V4_MAPPED.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/** True for a valid address outside every private, loopback, link-local, CGNAT or reserved range. */
export function isPublicIp(ip: string): boolean {
  const address = canonicalIp(ip);
  const family = isIP(address);
  if (family === 0) return false;
  return !reserved.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** A set of CIDRs (e.g. corporate VPN egress) checked in O(prefixes). Throws naming a bad entry. */
export class CidrSet {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) addCidr(this.list, cidr);
    this.size = cidrs.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const address = canonicalIp(ip);
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
