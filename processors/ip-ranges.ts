import { BlockList, isIP } from 'node:net';

/**
 * Which source addresses can say where a key was used. CloudTrail's `sourceIPAddress` also holds
 * service names (`ec2.amazonaws.com`), `AWS Internal`, and addresses from private or reserved
 * ranges; none of them locate the caller, so none may take part in travel.
 */

// IANA special-purpose registries (RFC 6890 and successors), plus multicast and the "class E" block.
export const RESERVED_V4: readonly string[] = [
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

// For IPv6 text: both lists, because BlockList checks an IPv4-mapped IPv6 address (in any of its
// spellings: `::ffff:7f00:1`, `0:0:0:0:0:ffff:10.1.2.3`, with a zone id) against the IPv4 ranges.
const reservedV6 = new BlockList();
for (const cidr of RESERVED_V4) addCidr(reservedV6, cidr);
for (const cidr of RESERVED_V6) addCidr(reservedV6, cidr);

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/**
 * The value of a dotted-quad IPv4 address as an unsigned 32-bit number, or -1 when the text is not
 * one. The rules are Node's `isIP`: four parts of 0 to 255, no leading zeros (`08.1.2.3` is not an
 * address), nothing else. Every record's `sourceIPAddress` comes through here, and this is several
 * times cheaper than the regular expression `isIP` runs.
 */
export function ipv4Value(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

/** RESERVED_V4 as [first, last] address values, checked by comparison instead of a BlockList. */
const RESERVED_V4_RANGES: readonly (readonly [number, number])[] = RESERVED_V4.map((cidr) => {
  const [address, bits] = cidr.split('/') as [string, string];
  const first = ipv4Value(address);
  const size = 2 ** (32 - Number(bits));
  if (first < 0 || first % size !== 0) throw new Error(`RESERVED_V4 entry "${cidr}" is not a network address`);
  return [first, first + size - 1] as const;
});

function isReservedV4(value: number): boolean {
  for (const [first, last] of RESERVED_V4_RANGES) if (value >= first && value <= last) return true;
  return false;
}

/** Whether the text is a valid IPv6 address (any spelling Node's `isIP` accepts, zone ids included). */
export function isIpv6(value: string): boolean {
  return value.includes(':') && isIP(value) === 6;
}

/** The address with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) reduced to its IPv4 form. */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = V4_MAPPED.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/**
 * `canonicalIp(ip)` where `v4` is `ipv4Value(ip)`, already in hand: dotted-quad text is its own
 * canonical form, so only other text is looked at again.
 */
export function canonicalIpOf(ip: string, v4: number): string {
  return v4 >= 0 ? ip : canonicalIp(ip);
}

/** `isPublicIp` for an IPv4 address given by its value (`ipv4Value`). */
export function isPublicIpv4(value: number): boolean {
  return !isReservedV4(value);
}

/** True for a valid address outside every private, loopback, link-local, CGNAT or reserved range. */
export function isPublicIp(ip: string): boolean {
  const address = canonicalIp(ip);
  const v4 = ipv4Value(address);
  if (v4 >= 0) return isPublicIpv4(v4);
  return address.includes(':') && isIP(address) === 6 && !reservedV6.check(address, 'ipv6');
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
