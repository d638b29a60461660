/** The DNS parser and the packet decoder on hex fixtures (test/testdata/dns/README.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { DnsMessage, formatIpv6, parseDnsMessage, readName } from '../../src/receivers/dns/parser';
import { AF_INET6, IPPROTO_TCP, IPPROTO_UDP, L4Packet, parseL4, writeFlowKey } from '../../src/receivers/dns/wire';
import { frame } from '../helpers/packets';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'dns', `${name}.hex`), 'utf8').trim(), 'hex');

function parse(buf: Buffer): DnsMessage {
  const m = parseDnsMessage(buf, 0, buf.length);
  assert.equal(typeof m, 'object', `parsed, not ${String(m)}`);
  return m as DnsMessage;
}

test('query: id, flags, one question', () => {
  const m = parse(fixture('query-a'));
  assert.equal(m.id, 0x1234);
  assert.equal(m.response, false);
  assert.equal(m.recursionDesired, true);
  assert.deepEqual(m.questions, [{ name: 'www.example.org', type: 1, class: 1 }]);
  assert.deepEqual(m.answers, []);
});

test('answer: a CNAME then an A record, both names compressed', () => {
  const m = parse(fixture('answer-cname-a'));
  assert.equal(m.response, true);
  assert.equal(m.rcode, 0);
  assert.equal(m.answerCount, 2);
  assert.deepEqual(m.answers, [
    { name: 'www.example.org', type: 5, class: 1, ttl: 300, data: 'cname.www.example.org' },
    { name: 'cname.www.example.org', type: 1, class: 1, ttl: 60, data: '192.0.2.126' },
  ]);
  assert.equal(m.truncated, false);
});

test('answer: AAAA in RFC 5952 form', () => {
  const m = parse(fixture('answer-aaaa'));
  assert.equal(m.id, 0xbeef);
  assert.equal(m.questions[0]!.type, 28);
  assert.match(m.answers[0]!.data, /^2001:db8::[0-9a-f]+$/);
});

test('answer: NXDOMAIN without answers', () => {
  const m = parse(fixture('answer-nxdomain'));
  assert.equal(m.rcode, 3);
  assert.equal(m.questions[0]!.name, 'nx-missing.example');
  assert.deepEqual(m.answers, []);
});

test('answer: MX, TXT, SRV and SOA data in presentation form', () => {
  const m = parse(fixture('answer-mixed'));
  assert.equal(m.authoritative, true);
  assert.deepEqual(m.answers.map((a) => a.data), [
    '10 mail.example.com',
    '"v=spf1 -all" "hello"',
    '1 5 5060 sip.example.com',
    'ns.example.com hostmaster.example.com 2024010101 7200 900 1209600 300',
  ]);
});

test('answers cut by the end of the message are reported as far as they go', () => {
  const full = fixture('answer-cname-a');
  const m = parseDnsMessage(full, 0, full.length - 3) as DnsMessage;
  assert.equal(m.answers.length, 1);
  assert.equal(m.truncated, true);
  const limited = parseDnsMessage(full, 0, full.length, 1) as DnsMessage;
  assert.equal(limited.answers.length, 1);
  assert.equal(limited.truncated, true);
});

test('hostile names: loops, forward pointers, long labels and names, reserved label types', () => {
  const msg = (tail: number[]): Buffer => Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...tail, 0, 1, 0, 1]);
  const all = (b: Buffer) => [b, 0, b.length] as const;
  assert.equal(parseDnsMessage(...all(msg([0xc0, 12]))), 'compression_loop', 'a pointer to itself');
  assert.equal(parseDnsMessage(...all(msg([1, 0x61, 0xc0, 12]))), 'compression_loop', 'a pointer back into its own name');
  assert.equal(parseDnsMessage(...all(msg([0xc0, 40]))), 'compression_loop', 'a forward pointer');
  assert.equal(parseDnsMessage(...all(msg([64, ...Buffer.alloc(64, 0x61), 0]))), 'bad_label_type', 'a 64-byte label: its length byte is a reserved label type');
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(63, ...Buffer.alloc(63, 0x62));
  assert.equal(parseDnsMessage(...all(msg([...long, 0]))), 'name_too_long');
  assert.equal(parseDnsMessage(...all(msg([0x40, 0]))), 'bad_label_type');
  assert.equal(parseDnsMessage(...all(msg([5, 0x61]))), 'name_out_of_bounds');
  assert.equal(parseDnsMessage(Buffer.alloc(11), 0, 11), 'short_message');
  assert.equal(parseDnsMessage(Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), 0, 12), 'truncated_question');
});

test('names: escapes for dots, backslashes and bytes outside printable ASCII; the root', () => {
  const b = Buffer.from([3, 0x61, 0x2e, 0x62, 2, 0x5c, 0x07, 0]);
  assert.deepEqual(readName(b, 0, b.length, 0), ['a\\.b.\\\\\\007', 8]);
  assert.deepEqual(readName(Buffer.from([0]), 0, 1, 0), ['.', 1]);
});

test('IPv6 text form', () => {
  const a = (hex: string): string => formatIpv6(Buffer.from(hex, 'hex'), 0);
  assert.equal(a('20010db8000000000000000000000001'), '2001:db8::1');
  assert.equal(a('00000000000000000000000000000001'), '::1');
  assert.equal(a('00000000000000000000ffffc0000201'), '::ffff:192.0.2.1');
  assert.equal(a('20010db8000100000001000000000001'), '2001:db8:1:0:1::1');
  assert.equal(a('20010db8000100020003000400050006'), '2001:db8:1:2:3:4:5:6');
});

test('packets: UDP over IPv4 with Ethernet padding, TCP over IPv6, VLAN tag, refusals', () => {
  const dns = fixture('query-a');
  const udp = frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'udp', sport: 40000, dport: 53, payload: dns, pad: 6 });
  const p = parseL4(udp, 0, udp.length) as L4Packet;
  assert.equal(p.proto, IPPROTO_UDP);
  assert.equal(p.sport, 40000);
  assert.equal(p.dport, 53);
  assert.equal(p.payloadLen, dns.length, 'the padding is not payload');
  assert.deepEqual(udp.subarray(p.payload, p.payload + p.payloadLen), dns);
  const key = Buffer.alloc(40);
  writeFlowKey(key, p, true);
  assert.equal(key.toString('hex'), `0211409c350000000a000001${'00'.repeat(12)}0a000035${'00'.repeat(12)}`);
  const tcp = frame({ src: 'fd00::2', dst: 'fd00::1', proto: 'tcp', sport: 53, dport: 41000, payload: Buffer.concat([Buffer.from([0, dns.length]), dns]), vlan: 7 });
  const t = parseL4(tcp, 0, tcp.length) as L4Packet;
  assert.equal(t.family, AF_INET6);
  assert.equal(t.proto, IPPROTO_TCP);
  assert.equal(t.payloadLen, dns.length + 2);
  assert.equal(parseL4(Buffer.alloc(10), 0, 10), 'short_frame');
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  assert.equal(parseL4(arp, 0, arp.length), 'not_ip');
  const frag = frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'udp', sport: 1, dport: 53, payload: dns, fragmentOffset: 100 });
  assert.equal(parseL4(frag, 0, frag.length), 'ip_fragment');
  const cut = parseL4(udp, 0, 50) as L4Packet;
  assert.equal(cut.cut, true);
});
