/**
 * The dns receiver's matching of answers to queries, on crafted frames fed to its packet handler (no
 * kernel: no process attribution here, see test/kernel/dns-receiver.test.ts for that).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KiteRecord } from '../../src/component/component';
import { parseComponentId } from '../../src/component/component';
import { PacketInfo } from '../../src/bpf/packet-socket';
import { DnsConfig } from '../../src/receivers/dns/config';
import { DnsReceiver } from '../../src/receivers/dns/receiver';
import { frame } from '../helpers/packets';
import { testHost } from '../helpers/host';

function query(id: number, name: string): Buffer {
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.')) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

function answer(q: Buffer, last: number): Buffer {
  const b = Buffer.from(q);
  b[2]! |= 0x80;
  b[3] = 0x80;
  b[7] = 1;
  return Buffer.concat([b, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, last])]);
}

const cfg: DnsConfig = {
  interfaces: [], ports: [53], snapLength: 4096, queryTimeoutMs: 5000, maxPendingQueries: 64, maxAnswers: 32, socketBufferSize: 1 << 24,
  filter: { include: { pids: [], comms: [], uids: [], cgroups: [] }, exclude: { pids: [], comms: [], uids: [], cgroups: [] }, exclude_self: true },
};

function receiver(): { rx: DnsReceiver; records: KiteRecord[]; host: ReturnType<typeof testHost>; feed: (f: Buffer, tsNsec: number) => void } {
  const host = testHost();
  const rx = new DnsReceiver(parseComponentId('dns')!, host, cfg);
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  const onPacket = (rx as unknown as { onPacket: (b: Buffer, o: number, l: number, i: PacketInfo) => void }).onPacket;
  const feed = (f: Buffer, tsNsec: number): void => onPacket(f, 0, f.length, { ifindex: 0, hatype: 1, protocol: 0x0800, pktType: 0, tsSec: 1_763_900_000, tsNsec, truncated: false });
  return { rx, records, host, feed };
}

test('answers find their query when two flows share the client port and the DNS id (other client address, other transport)', () => {
  const { rx, records, host, feed } = receiver();
  const flows = [
    { client: '10.0.0.1', proto: 'udp' as const, name: 'a.example', last: 1 },
    { client: '10.0.0.2', proto: 'udp' as const, name: 'b.example', last: 2 },
    { client: '10.0.0.1', proto: 'tcp' as const, name: 'c.example', last: 3 },
  ];
  const qs = flows.map((f) => query(7, f.name));
  const wrap = (f: (typeof flows)[number], dns: Buffer): Buffer => (f.proto === 'tcp' ? Buffer.concat([Buffer.from([0, dns.length]), dns]) : dns);
  flows.forEach((f, i) => feed(frame({ src: f.client, dst: '10.0.0.53', proto: f.proto, sport: 40000, dport: 53, payload: wrap(f, qs[i]!) }), i * 1000));
  assert.equal(rx.pending.size, 3);
  // answers in reverse order, each 1 ms after all the queries
  flows.map((f, i) => [f, i] as const).reverse().forEach(([f, i]) => {
    feed(frame({ src: '10.0.0.53', dst: f.client, proto: f.proto, sport: 53, dport: 40000, payload: wrap(f, answer(qs[i]!, f.last)) }), 1_000_000 + i * 1000);
  });
  const answers = records.filter((r) => r['event.name'] === 'dns.answer');
  assert.equal(answers.length, 3);
  for (const [i, f] of flows.entries()) {
    const a = answers.find((r) => r['dns.question.name'] === f.name)!;
    assert.equal(a['network.local.address'], f.client);
    assert.equal(a['network.transport'], f.proto);
    assert.deepEqual(a['dns.answers'], [`192.0.2.${f.last}`]);
    assert.equal(a['kite.dns.latency_ms'], 1, `${f.name}: its own query's time (query ${i})`);
  }
  assert.equal(rx.pending.size, 0);
  assert.equal(host.stats.get('receiver/dns', 'answers_without_query'), 0);
});

test('unanswered queries expire, also those kept under the whole flow; a repeated query is kept once', () => {
  const { rx, host, feed } = receiver();
  const q = query(9, 'x.example');
  feed(frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'udp', sport: 41000, dport: 53, payload: q }), 0);
  feed(frame({ src: '10.0.0.2', dst: '10.0.0.53', proto: 'udp', sport: 41000, dport: 53, payload: q }), 0);
  feed(frame({ src: '10.0.0.2', dst: '10.0.0.53', proto: 'udp', sport: 41000, dport: 53, payload: q }), 0);
  assert.equal(rx.pending.size, 2);
  rx.expire(Date.now() + cfg.queryTimeoutMs + 1);
  assert.equal(rx.pending.size, 0);
  assert.equal(host.stats.get('receiver/dns', 'unanswered'), 2);
  // nothing is left under a string key: the next answer is simply one without its query
  feed(frame({ src: '10.0.0.53', dst: '10.0.0.2', proto: 'udp', sport: 53, dport: 41000, payload: answer(q, 1) }), 5);
  assert.equal(host.stats.get('receiver/dns', 'answers_without_query'), 1);
});
