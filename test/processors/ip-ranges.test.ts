import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { RESERVED_V4, canonicalIp, canonicalIpOf, ipv4Value, isIpv6, isPublicIp, isPublicIpv4 } from '../../processors/ip-ranges.js';
import { Rng } from '../fuzz/bodies.js';

const dotted = (value: number): string => [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');

describe('processors/ip-ranges', () => {
  describe('ipv4Value', () => {
    it('reads dotted quads as Node does, and rejects what Node rejects', () => {
      const cases = [
        '0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.1', '192.168.1.100', '99.99.99.99',
        '256.1.1.1', '1.2.3.256', '01.2.3.4', '1.2.3.04', '00.0.0.0', '1.2.3', '1.2.3.4.5', '1..2.3',
        '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.4a', '', 'AWS Internal',
        'ec2.amazonaws.com', '::1', '::ffff:1.2.3.4', '1234.1.1.1', '1.2.3.1000', '１.2.3.4',
      ];
      for (const text of cases) {
        assert.equal(ipv4Value(text) >= 0, isIP(text) === 4, `"${text}"`);
      }
      assert.equal(ipv4Value('1.2.3.4'), 0x01020304);
      assert.equal(ipv4Value('255.255.255.255'), 0xffffffff);
      assert.equal(ipv4Value('0.0.0.0'), 0);
    });

    it('agrees with Node on 20,000 generated strings of digits, dots and noise', () => {
      const rng = new Rng(7, 0);
      const alphabet = '0123456789.....:a ';
      for (let i = 0; i < 20_000; i++) {
        const length = rng.int(1, 16);
        let text = '';
        for (let j = 0; j < length; j++) text += alphabet[rng.int(0, alphabet.length - 1)];
        assert.equal(ipv4Value(text) >= 0, isIP(text) === 4, `"${text}"`);
      }
    });

    it('gives back the value it was printed from, for every octet value', () => {
      const rng = new Rng(11, 0);
      for (let i = 0; i < 5_000; i++) {
        const value = rng.u32();
        assert.equal(ipv4Value(dotted(value)), value);
      }
    });
  });

  describe('isIpv6 and canonicalIp', () => {
    it('tells IPv4, IPv6 and neither apart', () => {
      const family = (text: string): number => (ipv4Value(text) >= 0 ? 4 : isIpv6(text) ? 6 : 0);
      assert.equal(family('203.0.113.9'), 4);
      assert.equal(family('2a00:1450:4009:81f::200e'), 6);
      assert.equal(family('::ffff:8.8.8.8'), 6);
      assert.equal(family('AWS Internal'), 0);
      assert.equal(family('ec2.amazonaws.com'), 0);
      assert.equal(family('1:2'), 0);
    });

    it('reduces IPv4-mapped IPv6 to IPv4 and leaves everything else as it is', () => {
      assert.equal(canonicalIp('::ffff:8.8.8.8'), '8.8.8.8');
      assert.equal(canonicalIp('::FFFF:8.8.8.8'), '8.8.8.8');
      assert.equal(canonicalIp('8.8.8.8'), '8.8.8.8');
      assert.equal(canonicalIp('2a00:1450::1'), '2a00:1450::1');
    });

    it('canonicalIpOf, given the address\'s ipv4Value, answers as canonicalIp does', () => {
      for (const ip of ['8.8.8.8', '0.0.0.0', '::ffff:8.8.8.8', '::FFFF:10.0.0.1', '2a00:1450::1', '::1', 'fe80::1%eth0', 'AWS Internal', 'ec2.amazonaws.com', '08.8.8.8', '']) {
        assert.equal(canonicalIpOf(ip, ipv4Value(ip)), canonicalIp(ip), ip);
      }
    });
  });

  describe('isPublicIp', () => {
    it('answers as a BlockList of the reserved IPv4 ranges does, at and around every range edge', () => {
      const oracle = new BlockList();
      for (const cidr of RESERVED_V4) {
        const [address, bits] = cidr.split('/') as [string, string];
        oracle.addSubnet(address, Number(bits), 'ipv4');
      }
      const probes = new Set<number>([0, 0xffffffff]);
      for (const cidr of RESERVED_V4) {
        const [address, bits] = cidr.split('/') as [string, string];
        const first = ipv4Value(address);
        const last = first + 2 ** (32 - Number(bits)) - 1;
        for (const v of [first - 1, first, first + 1, last - 1, last, last + 1]) if (v >= 0 && v <= 0xffffffff) probes.add(v);
      }
      const rng = new Rng(3, 0);
      for (let i = 0; i < 5_000; i++) probes.add(rng.u32());
      for (const value of probes) {
        const text = dotted(value);
        assert.equal(isPublicIp(text), !oracle.check(text, 'ipv4'), text);
        assert.equal(isPublicIpv4(value), !oracle.check(text, 'ipv4'), text);
      }
    });

    it('keeps IPv4-mapped IPv6 addresses of reserved ranges out, however they are spelled', () => {
      for (const ip of ['::ffff:7f00:1', '::ffff:c0a8:101', '0:0:0:0:0:ffff:10.1.2.3', '::ffff:10.0.0.1%eth0', '::ffff:e000:1', '::ffff:0:0', '0::ffff:192.168.0.1']) {
        assert.equal(isPublicIp(ip), false, ip);
      }
      for (const ip of ['::ffff:808:808', '0:0:0:0:0:ffff:8.8.8.8']) assert.equal(isPublicIp(ip), true, ip);
    });

    it('knows the usual suspects', () => {
      for (const ip of ['8.8.8.8', '1.1.1.1', '81.2.69.142', '::ffff:8.8.8.8', '2a00:1450:4009:81f::200e']) assert.equal(isPublicIp(ip), true, ip);
      for (const ip of [
        '10.1.2.3', '172.16.0.1', '192.168.0.1', '100.64.0.1', '127.0.0.1', '169.254.169.254', '192.0.2.1', '224.0.0.1',
        '255.255.255.255', '::ffff:10.0.0.1', '::1', 'fe80::1', 'fd00::1', '2001:db8::1', 'AWS Internal', 'ec2.amazonaws.com', '',
      ]) {
        assert.equal(isPublicIp(ip), false, ip);
      }
    });
  });
});
