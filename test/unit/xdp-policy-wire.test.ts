/** The xdp_policy decoder on hex fixtures (test/testdata/xdp_policy/README.md), rules to map entries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { contains, decodeDeny, DenyWire, encodeRule, formatPrefix, lpmEntries, lpmKey, parseCidr, parsePortRange, Prefix } from '../../src/receivers/xdp_policy/wire';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'xdp_policy', `${name}.hex`), 'utf8').trim(), 'hex');

test('deny record: a UDP flow dropped in enforce mode', () => {
  const b = fixture('deny-udp-v4');
  const w = decodeDeny(b, 0, b.length) as DenyWire;
  assert.equal(w.family, 2);
  assert.equal(w.proto, 17);
  assert.equal(w.saddr, '10.101.7.2');
  assert.equal(w.daddr, '10.101.7.1');
  assert.equal(w.sport, 41000);
  assert.equal(w.dport, 9999);
  assert.equal(w.rule, 0);
  assert.equal(w.ifindex, 38);
  assert.equal(w.dropped, true);
  assert.equal(w.packets, 1);
  assert.equal(w.bytes, 47);
});

test('deny record: an IPv6 TCP flow in monitor mode, packets since the previous report', () => {
  const b = fixture('deny-tcp-v6-monitor');
  const w = decodeDeny(b, 0, b.length) as DenyWire;
  assert.equal(w.saddr, '2001:db8::5');
  assert.equal(w.daddr, 'fd00::1');
  assert.equal(w.rule, 3);
  assert.equal(w.dropped, false);
  assert.equal(w.packets, 12);
  assert.equal(w.bytes, 1200);
});

test('malformed deny records are reported, never thrown', () => {
  const good = fixture('deny-udp-v4');
  assert.equal(decodeDeny(good, 0, 40), 'short_record');
  const op = Buffer.from(good);
  op.writeUInt16LE(3, 0);
  assert.equal(decodeDeny(op, 0, op.length), 'unknown_op');
  const size = Buffer.from(good);
  size.writeUInt16LE(400, 2);
  assert.equal(decodeDeny(size, 0, size.length), 'bad_size');
  const fam = Buffer.from(good);
  fam[16] = 7;
  assert.equal(decodeDeny(fam, 0, fam.length), 'bad_family');
});

test('prefixes: parsing, host bits cleared, containment', () => {
  assert.equal(formatPrefix(parseCidr('10.1.2.3/16')!), '10.1.0.0/16');
  assert.equal(formatPrefix(parseCidr('192.0.2.9')!), '192.0.2.9/32');
  assert.equal(formatPrefix(parseCidr('2001:db8:ffff::1/32')!), '2001:db8::/32');
  assert.equal(formatPrefix(parseCidr('::ffff:10.0.0.1/128')!), '::ffff:10.0.0.1/128');
  for (const bad of ['10.0.0.0/33', '300.1.1.1/8', 'fe80::/129', 'example.com', '10.0.0.0/']) assert.equal(parseCidr(bad), null, bad);
  assert.ok(contains(parseCidr('10.0.0.0/8')!, parseCidr('10.1.0.0/16')!));
  assert.ok(!contains(parseCidr('10.1.0.0/16')!, parseCidr('10.0.0.0/8')!));
  assert.ok(!contains(parseCidr('10.0.0.0/8')!, parseCidr('2001:db8::/32')!));
  assert.deepEqual(lpmKey(parseCidr('10.1.0.0/16')!), Buffer.from([16, 0, 0, 0, 10, 1, 0, 0]));
});

test('LPM entries: each prefix carries every rule whose prefix contains it; no prefix means any address', () => {
  const p = (s: string): Prefix => parseCidr(s)!;
  const entries = lpmEntries([[p('10.0.0.0/8')], [p('10.1.0.0/16'), p('2001:db8::/32')], [], [p('10.1.2.0/24')]]);
  const m = Object.fromEntries(entries.map((e) => [formatPrefix(e.prefix), e.mask]));
  assert.deepEqual(m, {
    '10.0.0.0/8': 0b0101n, // rule 0 and the any-address rule 2
    '10.1.0.0/16': 0b0111n,
    '2001:db8::/32': 0b0110n,
    '0.0.0.0/0': 0b0100n,
    '::/0': 0b0100n,
    '10.1.2.0/24': 0b1111n,
  });
});

test('rules and ports', () => {
  assert.deepEqual(parsePortRange(22), [22, 22]);
  assert.deepEqual(parsePortRange('8000-8080'), [8000, 8080]);
  for (const bad of [0, 70000, '9-1', 'ssh', '1-70000']) assert.equal(parsePortRange(bad), null, String(bad));
  assert.equal(encodeRule({ action: 1, proto: 6, ports: [22, 22] }).toString('hex'), '010601001600160000000000');
  assert.equal(encodeRule({ action: 0, proto: 0, ports: null }).toString('hex'), '000000000000000000000000');
  assert.equal(encodeRule({ action: 1, proto: 6, ports: null, sourcePorts: [3333, 3334] }).toString('hex'), '0106000100000000050d060d');
});
