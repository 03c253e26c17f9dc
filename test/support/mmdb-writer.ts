/**
 * A small MaxMind DB (MMDB v2.0) writer so tests can generate tiny GeoIP
 * databases instead of shipping vendor data.
 * Spec: https://maxmind.github.io/MaxMind-DB/
 *
 * File layout: search tree | 16 zero bytes | data section | "\xAB\xCD\xEFMaxMind.com" | metadata map.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';

/** Scalar types that a plain JS value cannot express unambiguously. */
export type MmdbNumericType = 'double' | 'float' | 'uint16' | 'uint32' | 'int32' | 'uint64' | 'uint128';

/** A number pinned to a specific MMDB type; create it with {@link typed}. */
export class MmdbTyped {
  constructor(
    readonly type: MmdbNumericType,
    readonly value: number | bigint,
  ) {}
}

/** e.g. `typed('uint16', 20)`, `typed('float', 1.5)`, `typed('uint64', 2n ** 40n)`. */
export function typed(type: MmdbNumericType, value: number | bigint): MmdbTyped {
  return new MmdbTyped(type, value);
}

/**
 * Untyped JS values map to MMDB types as follows:
 * - string → utf8_string, boolean → boolean, Uint8Array/Buffer → bytes
 * - integer number in 0..2^32-1 → uint32; any other number (fractional, negative, larger) → double
 * - bigint → uint64 (or uint128 when ≥ 2^64)
 * - array → array, plain object → map
 * There is no null in MMDB, so null/undefined are rejected.
 */
export type MmdbValue =
  | string
  | number
  | boolean
  | bigint
  | Uint8Array
  | MmdbTyped
  | MmdbValue[]
  | { [key: string]: MmdbValue };

export interface MmdbEntry {
  /** CIDR such as "81.2.69.0/24" or "2001:db8::/32"; host bits must be zero. */
  network: string;
  data: MmdbValue;
}

export interface MmdbOptions {
  databaseType: string;
  ipVersion: 4 | 6;
  /** Bits per search-tree record; defaults to 28 like MaxMind's City databases. */
  recordSize?: 24 | 28 | 32;
  languages?: string[];
  description?: Record<string, string>;
  /** Seconds since the Unix epoch; defaults to now. */
  buildEpoch?: number;
  /**
   * IPv6 databases only (default true, as in MaxMind's own databases): make
   * ::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) lead to the IPv4 subtree,
   * replacing whatever the entries put in those two ranges.
   */
  ipv4Aliases?: boolean;
}

const DATA_SECTION_SEPARATOR = Buffer.alloc(16);
const METADATA_START_MARKER = Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1');
const IPV4_ALIASES = ['::ffff:0:0/96', '2002::/16'];

/**
 * Builds the database in memory. Entries are applied in order and a later
 * entry replaces earlier data across its whole range (as MaxMind's writers do),
 * so a more specific network listed after a broader one carves out only its own range.
 */
export function buildMmdb(entries: MmdbEntry[], options: MmdbOptions): Buffer {
  const { databaseType, ipVersion, recordSize = 28 } = options;
  if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`ipVersion must be 4 or 6, got ${String(ipVersion)}`);
  if (![24, 28, 32].includes(recordSize)) throw new Error(`recordSize must be 24, 28 or 32, got ${recordSize}`);
  if (typeof databaseType !== 'string' || databaseType === '') throw new Error('databaseType must be a non-empty string');

  const data = new DataSection();
  const root: TreeNode = { left: null, right: null };
  for (const entry of entries) {
    const { bits, prefixLength } = parseNetwork(entry.network, ipVersion);
    const offset = data.addRecord(entry.data, `[${entry.network}] data`);
    insert(root, bits, prefixLength, offset);
  }
  if (ipVersion === 6 && options.ipv4Aliases !== false) {
    const ipv4Root = lookupChild(root, new Uint8Array(16), 96);
    if (ipv4Root !== null) {
      for (const alias of IPV4_ALIASES) {
        const { bits, prefixLength } = parseNetwork(alias, 6);
        insert(root, bits, prefixLength, ipv4Root);
      }
    }
  }
  root.left = mergeIdenticalHalves(root.left);
  root.right = mergeIdenticalHalves(root.right);

  const dataSection = data.toBuffer();
  const tree = encodeTree(root, recordSize, dataSection.length);
  const metadata = encodeValue(
    {
      binary_format_major_version: typed('uint16', 2),
      binary_format_minor_version: typed('uint16', 0),
      build_epoch: typed('uint64', options.buildEpoch ?? Math.floor(Date.now() / 1000)),
      database_type: databaseType,
      description: options.description ?? {},
      ip_version: typed('uint16', ipVersion),
      languages: options.languages ?? [],
      node_count: typed('uint32', tree.nodeCount),
      record_size: typed('uint16', recordSize),
    },
    'metadata',
  );
  return Buffer.concat([tree.bytes, DATA_SECTION_SEPARATOR, dataSection, METADATA_START_MARKER, metadata]);
}

/** Writes via a temporary file + rename so a concurrently opening reader never sees half a database. */
export function writeMmdb(path: string, entries: MmdbEntry[], options: MmdbOptions): void {
  const bytes = buildMmdb(entries, options);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------- networks

type Bits = Uint8Array; // the address bytes, most significant bit first

function parseNetwork(network: string, ipVersion: 4 | 6): { bits: Bits; prefixLength: number } {
  const bad = (why: string): Error => new Error(`invalid network ${JSON.stringify(network)}: ${why}`);
  if (typeof network !== 'string') throw bad('expected a CIDR string');
  const slash = network.indexOf('/');
  if (slash < 0) throw bad('expected CIDR notation "address/prefix"');
  const address = network.slice(0, slash);
  const prefixText = network.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) throw bad(`prefix length ${JSON.stringify(prefixText)} is not a number`);
  let prefixLength = Number(prefixText);

  let bytes: Uint8Array;
  if (isIPv4(address)) {
    bytes = Uint8Array.from(address.split('.').map(Number));
  } else if (isIPv6(address) && !address.includes('%')) {
    bytes = parseIpv6(address);
  } else {
    throw bad(`${JSON.stringify(address)} is not an IPv4 or IPv6 address`);
  }
  const maxPrefix = bytes.length * 8;
  if (prefixLength > maxPrefix) throw bad(`prefix length ${prefixLength} exceeds ${maxPrefix}`);
  for (let i = prefixLength; i < maxPrefix; i++) {
    if (bitAt(bytes, i)) throw bad(`host bits are set (did you mean ${canonicalNetwork(bytes, prefixLength)}?)`);
  }

  if (bytes.length === 16 && ipVersion === 4) {
    throw bad('IPv6 network in an IPv4 database (use ipVersion: 6)');
  }
  if (bytes.length === 4 && ipVersion === 6) {
    // MaxMind stores IPv4 in IPv6 databases as ::a.b.c.d, i.e. under ::/96.
    const mapped = new Uint8Array(16);
    mapped.set(bytes, 12);
    bytes = mapped;
    prefixLength += 96;
  }
  return { bits: bytes, prefixLength };
}

/** Expects an address already validated by net.isIPv6. */
function parseIpv6(address: string): Uint8Array {
  let text = address;
  const embeddedIpv4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (embeddedIpv4) {
    const [a, b, c, d] = embeddedIpv4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, embeddedIpv4.index) + (((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16));
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const bytes = new Uint8Array(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function bitAt(bytes: Bits, index: number): 0 | 1 {
  return (((bytes[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) as 0 | 1;
}

function canonicalNetwork(bytes: Uint8Array, prefixLength: number): string {
  const masked = Uint8Array.from(bytes, (byte, i) => {
    const keep = Math.min(8, Math.max(0, prefixLength - i * 8));
    return byte & (0xff << (8 - keep));
  });
  if (masked.length === 4) return `${masked.join('.')}/${prefixLength}`;
  const groups = Array.from({ length: 8 }, (_, i) => (((masked[i * 2] ?? 0) << 8) | (masked[i * 2 + 1] ?? 0)).toString(16));
  // The WHATWG URL parser prints IPv6 hosts in their canonical compressed form.
  return `${new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1)}/${prefixLength}`;
}

// ---------------------------------------------------------------- search tree

/** A record is a subtree, an offset into the data section, or null for "no data". */
type TreeRecord = TreeNode | number | null;
interface TreeNode {
  left: TreeRecord;
  right: TreeRecord;
}
const isNode = (record: TreeRecord): record is TreeNode => typeof record === 'object' && record !== null;

function insert(root: TreeNode, bits: Bits, prefixLength: number, value: TreeRecord): void {
  if (prefixLength === 0) {
    // The root must remain a node (node 0), so a /0 fills both halves.
    root.left = value;
    root.right = value;
    return;
  }
  let node = root;
  for (let depth = 0; depth < prefixLength - 1; depth++) {
    const side = bitAt(bits, depth) ? 'right' : 'left';
    let child = node[side];
    if (!isNode(child)) {
      // Split a leaf: both halves keep the old value, then we descend into one of them.
      child = { left: child, right: child };
      node[side] = child;
    }
    node = child;
  }
  node[bitAt(bits, prefixLength - 1) ? 'right' : 'left'] = value;
}

/** After overrides a node may end up with two equal leaves; collapsing it keeps the tree minimal. */
function mergeIdenticalHalves(record: TreeRecord): TreeRecord {
  if (!isNode(record)) return record;
  record.left = mergeIdenticalHalves(record.left);
  record.right = mergeIdenticalHalves(record.right);
  return !isNode(record.left) && record.left === record.right ? record.left : record;
}

function lookupChild(root: TreeNode, bits: Bits, depth: number): TreeRecord {
  let record: TreeRecord = root;
  for (let i = 0; i < depth && isNode(record); i++) record = bitAt(bits, i) ? record.right : record.left;
  return record;
}

function encodeTree(root: TreeNode, recordSize: 24 | 28 | 32, dataSize: number): { bytes: Buffer; nodeCount: number } {
  // Breadth-first numbering; a Map (not a flag on the node) because alias records share the IPv4 subtree.
  const numbers = new Map<TreeNode, number>([[root, 0]]);
  const order: TreeNode[] = [root];
  for (let i = 0; i < order.length; i++) {
    const node = order[i]!;
    for (const child of [node.left, node.right]) {
      if (isNode(child) && !numbers.has(child)) {
        numbers.set(child, order.length);
        order.push(child);
      }
    }
  }
  const nodeCount = order.length;
  // The largest record value is below nodeCount + 16 + dataSize, and it must fit in recordSize bits.
  if (nodeCount + DATA_SECTION_SEPARATOR.length + dataSize > 2 ** recordSize) {
    throw new Error(
      `recordSize ${recordSize} is too small for ${nodeCount} nodes and a ${dataSize}-byte data section; use a larger recordSize`,
    );
  }
  // Spec: nodeCount means "no data"; values above it point at nodeCount + 16 + data offset.
  const recordValue = (record: TreeRecord): number =>
    record === null ? nodeCount : isNode(record) ? numbers.get(record)! : nodeCount + DATA_SECTION_SEPARATOR.length + record;

  const nodeBytes = recordSize / 4;
  const bytes = Buffer.alloc(nodeCount * nodeBytes);
  order.forEach((node, i) => {
    const offset = i * nodeBytes;
    const left = recordValue(node.left);
    const right = recordValue(node.right);
    if (recordSize === 28) {
      // 28-bit records: the middle byte holds the high nibble of the left (upper) and right (lower) records.
      bytes.writeUIntBE(left & 0xffffff, offset, 3);
      bytes[offset + 3] = ((left >>> 24) << 4) | (right >>> 24);
      bytes.writeUIntBE(right & 0xffffff, offset + 4, 3);
    } else {
      bytes.writeUIntBE(left, offset, nodeBytes / 2);
      bytes.writeUIntBE(right, offset + nodeBytes / 2, nodeBytes / 2);
    }
  });
  return { bytes, nodeCount };
}

// ---------------------------------------------------------------- data section

const TYPE = {
  pointer: 1,
  utf8_string: 2,
  double: 3,
  bytes: 4,
  uint16: 5,
  uint32: 6,
  map: 7,
  int32: 8,
  uint64: 9,
  uint128: 10,
  array: 11,
  boolean: 14,
  float: 15,
} as const;

/**
 * Appends values, writing each distinct value (record, map, array, string...) once
 * and referring back to it with a pointer afterwards, as MaxMind's writers do.
 */
class DataSection {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** Self-contained encoding of a value → offset of its first copy. */
  private readonly offsets = new Map<string, number>();

  /** Returns the data-section offset for a tree record to point at. */
  addRecord(value: MmdbValue, path: string): number {
    const key = encodeValue(value, path).toString('latin1'); // also validates the whole value
    const existing = this.offsets.get(key);
    if (existing !== undefined) return existing;
    const offset = this.size;
    this.write(value, key);
    return offset;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private write(value: MmdbValue, key = encodeValue(value, '').toString('latin1')): void {
    const existing = this.offsets.get(key);
    if (existing === undefined) {
      this.offsets.set(key, this.size);
    } else {
      const pointer = encodePointer(existing);
      if (pointer.length < key.length) return this.push(pointer); // tiny values are cheaper to repeat
    }
    if (Array.isArray(value)) {
      this.push(controlBytes(TYPE.array, value.length));
      for (const item of value) this.write(item);
    } else if (isMap(value)) {
      const entries = Object.entries(value);
      this.push(controlBytes(TYPE.map, entries.length));
      for (const [mapKey, item] of entries) {
        this.write(mapKey);
        this.write(item);
      }
    } else {
      this.push(Buffer.from(key, 'latin1')); // a scalar's self-contained encoding is final
    }
  }

  private push(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }
}

const isMap = (value: MmdbValue): value is { [key: string]: MmdbValue } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof MmdbTyped);

/** Encodes a value without pointers (used for the metadata and as the dedupe key). `path` names the value in errors. */
function encodeValue(value: MmdbValue, path: string): Buffer {
  const bad = (why: string): Error => new Error(`${path}: ${why}`);
  const control = (type: number, size: number): Buffer => controlBytes(type, size, bad);
  switch (typeof value) {
    case 'string': {
      const utf8 = Buffer.from(value, 'utf8');
      return Buffer.concat([control(TYPE.utf8_string, utf8.length), utf8]);
    }
    case 'boolean':
      return control(TYPE.boolean, value ? 1 : 0); // the value lives in the size field
    case 'number':
      return encodeValue(typed(Number.isInteger(value) && value >= 0 && value <= 0xffffffff ? 'uint32' : 'double', value), path);
    case 'bigint':
      return encodeValue(typed(value < 2n ** 64n ? 'uint64' : 'uint128', value), path);
    case 'object':
      if (value instanceof MmdbTyped) return encodeTyped(value, bad);
      if (value instanceof Uint8Array) return Buffer.concat([control(TYPE.bytes, value.length), value]);
      if (Array.isArray(value)) {
        return Buffer.concat([control(TYPE.array, value.length), ...value.map((item, i) => encodeValue(item, `${path}[${i}]`))]);
      }
      if (value !== null && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
        const entries = Object.entries(value);
        return Buffer.concat([
          control(TYPE.map, entries.length),
          ...entries.flatMap(([key, item]) => [encodeValue(key, path), encodeValue(item, `${path}.${key}`)]),
        ]);
      }
  }
  throw bad(`cannot store ${describeValue(value)} in an MMDB (it has no null type; maps must be plain objects)`);
}

function describeValue(value: unknown): string {
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  if (value === null || typeof value !== 'object') return String(value);
  return `a ${(value as object).constructor?.name ?? 'non-plain'} object`;
}

function encodeTyped({ type, value }: MmdbTyped, bad: (why: string) => Error): Buffer {
  if (type === 'double' || type === 'float') {
    if (typeof value !== 'number') throw bad(`${type} needs a number, got ${typeof value}`);
    const payload = Buffer.alloc(type === 'double' ? 8 : 4);
    if (type === 'double') payload.writeDoubleBE(value);
    else payload.writeFloatBE(value);
    return Buffer.concat([controlBytes(TYPE[type], payload.length), payload]);
  }
  const bitsByType = { uint16: 16, uint32: 32, int32: 32, uint64: 64, uint128: 128 } as const;
  const bitCount = bitsByType[type];
  if (bitCount === undefined) throw bad(`unknown type ${JSON.stringify(type)}`);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw bad(`${type} needs a safe integer, got ${value}`);
  let integer = BigInt(value);
  const [min, max] = type === 'int32' ? [-(2n ** 31n), 2n ** 31n - 1n] : [0n, 2n ** BigInt(bitCount) - 1n];
  if (integer < min || integer > max) throw bad(`${value} is out of range for ${type} (${min}..${max})`);
  // Negative int32s become 4-byte two's complement; readers zero-pad shorter values, so those stay non-negative.
  if (integer < 0n) integer += 2n ** 32n;
  const payload: number[] = []; // big-endian with leading zero bytes dropped, as the spec allows
  for (; integer > 0n; integer >>= 8n) payload.unshift(Number(integer & 0xffn));
  return Buffer.concat([controlBytes(TYPE[type], payload.length), Buffer.from(payload)]);
}

/** Control byte: 3 type bits + 5 size bits, then an extended-type byte (types > 7), then extra size bytes. */
function controlBytes(type: number, size: number, bad = (why: string) => new Error(why)): Buffer {
  const bytes: number[] = [];
  const typeBits = type <= 7 ? type << 5 : 0;
  let extraSize: number[] = [];
  let sizeBits: number;
  if (size < 29) {
    sizeBits = size;
  } else if (size < 29 + 256) {
    sizeBits = 29;
    extraSize = [size - 29];
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    extraSize = [(size - 285) >> 8, (size - 285) & 0xff];
  } else if (size < 65821 + 2 ** 24) {
    sizeBits = 31;
    const rest = size - 65821;
    extraSize = [rest >> 16, (rest >> 8) & 0xff, rest & 0xff];
  } else {
    throw bad(`value of size ${size} exceeds the MMDB maximum of ${65821 + 2 ** 24 - 1}`);
  }
  bytes.push(typeBits | sizeBits);
  if (type > 7) bytes.push(type - 7);
  return Buffer.from([...bytes, ...extraSize]);
}

/** Pointer: 001SSVVV, SS picks how many more bytes follow and which bias applies. */
function encodePointer(offset: number): Buffer {
  const control = TYPE.pointer << 5;
  if (offset < 2048) return Buffer.from([control | (offset >> 8), offset & 0xff]);
  if (offset < 2048 + 2 ** 19) {
    const v = offset - 2048;
    return Buffer.from([control | (1 << 3) | (v >> 16), (v >> 8) & 0xff, v & 0xff]);
  }
  if (offset < 526336 + 2 ** 27) {
    const v = offset - 526336;
    return Buffer.from([control | (2 << 3) | (v >> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  }
  const bytes = Buffer.alloc(5);
  bytes[0] = control | (3 << 3);
  bytes.writeUInt32BE(offset, 1);
  return bytes;
}
