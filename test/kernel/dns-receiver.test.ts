/**
 * The dns receiver on the real kernel (root). Each test builds its own world and removes it: a DNS
 * server of its own (test/kernel/dns_tool.py) on loopback or inside a network namespace behind a veth
 * pair, queried by a separate, known process. Queries and answers must arrive with that process's pid;
 * filtered processes' packets must never arrive and must be counted; the socket filter is also driven
 * with crafted packets (BPF_PROG_TEST_RUN). Nothing of ours may be left in the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { bpfObjectPath } from '../../src/bpf/paths';
import { dnsFactory } from '../../src/receivers/dns/factory';
import { DnsReceiver } from '../../src/receivers/dns/receiver';
import { DNS_RODATA, DNS_OWNER, DnsOwnerFlags, parseL4, writeFlowKey, L4Packet } from '../../src/receivers/dns/wire';
import { KiteStat } from '../../src/receivers/bpf-receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, waitFor, waitUnloaded } from '../helpers/kernel';
import { frame } from '../helpers/packets';
import { vethWorld } from '../helpers/netns';
import { ROOT } from '../helpers/paths';

setLibbpfLogger(() => {});
const TOOL = join(ROOT, 'test', 'kernel', 'dns_tool.py');
const PY = '/usr/bin/python3';
const NOBODY = 65534;

async function startServer(mode: 'udp' | 'tcp', address: string, port: number, ns?: string): Promise<ChildProcess> {
  const args = [TOOL, 'serve', mode, address, String(port)];
  const child = ns ? spawn('ip', ['netns', 'exec', ns, PY, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(PY, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`dns server exited with ${c}`)));
  });
  return child;
}

/** Runs one query in a new process; resolves with its pid once it has the answer. */
async function query(mode: 'udp' | 'udp-sendto' | 'tcp', server: string, port: number, name: string, type = 'A', uid?: number): Promise<number> {
  const args = [TOOL, 'query', mode, server, String(port), name, type];
  const child = uid === undefined ? spawn(PY, args, { stdio: 'ignore' })
    : spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', PY, ...args], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `the query for ${name} got its answer`);
  return child.pid!;
}

async function withReceiver(raw: Record<string, unknown>, body: (records: KiteRecord[], rx: DnsReceiver, host: ReturnType<typeof testHost>) => Promise<void>): Promise<void> {
  const host = testHost();
  const rx = dnsFactory.create(parseComponentId('dns/test')!, settings(dnsFactory, raw), host) as DnsReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  try {
    await body(records, rx, host);
  } finally {
    await rx.shutdown();
  }
}

const port = (): number => 20000 + Math.floor(Math.random() * 20000);
const find = (records: KiteRecord[], event: string, name: string) => (): KiteRecord | undefined =>
  records.find((r) => r['event.name'] === event && r['dns.question.name'] === name);

test('UDP over loopback from a connected socket (as the C library does): query and answer name the querying process', async () => {
  const p = port();
  const server = await startServer('udp', '127.0.0.1', p);
  try {
    await withReceiver({ interfaces: ['lo'], ports: [p] }, async (records, _rx, host) => {
      const name = `q-${randomUUID()}.example.org`;
      const pid = await query('udp', '127.0.0.1', p, name);
      const q = await waitFor(find(records, 'dns.query', name), 2000, 'the query record');
      const a = await waitFor(find(records, 'dns.answer', name), 2000, 'the answer record');
      for (const r of [q, a]) {
        assert.equal(r['process.pid'], pid);
        assert.equal(r['kite.process.comm'], 'python3');
        assert.equal(r['process.user.id'], 0);
        assert.equal(r['network.transport'], 'udp');
        assert.equal(r['network.type'], 'ipv4');
        assert.equal(r['network.peer.address'], '127.0.0.1');
        assert.equal(r['network.peer.port'], p);
        assert.equal(r['server.port'], p);
        assert.equal(r['network.interface.name'], 'lo');
        assert.equal(r['kite.dns.question.type'], 'A');
        assert.equal(r['host.name'], 'test-host');
        assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 5000, `wall-clock time ${r.time}`);
      }
      assert.equal(q['kite.dns.id'], a['kite.dns.id']);
      assert.equal(q['network.local.port'], a['network.local.port']);
      assert.equal(a['kite.dns.rcode'], 'NOERROR');
      assert.equal((a['dns.answers'] as string[]).length, 1);
      assert.match((a['dns.answers'] as string[])[0]!, /^192\.0\.2\.\d+$/);
      assert.deepEqual((a['kite.dns.answer.records'] as string[])[0], `${name} 300 IN CNAME cname.${name}`);
      const latency = a['kite.dns.latency_ms'] as number;
      assert.ok(latency >= 0 && latency < 2000, `latency ${latency} ms`);
      assert.equal(records.filter((r) => r['dns.question.name'] === name).length, 2, 'each packet once (loopback duplicates dropped in the kernel)');
      rx_stats_ok(host);
    });
  } finally {
    server.kill();
  }
});

function rx_stats_ok(host: ReturnType<typeof testHost>): void {
  const s = host.stats.snapshot()['receiver/dns/test']!;
  assert.ok((s.queries ?? 0) >= 1 && (s.answers ?? 0) >= 1, JSON.stringify(s));
}

test('backpressure: while paused, packets wait in the ring; after resume they arrive in order, each naming its (exited) process', async () => {
  const p = port();
  const server = await startServer('udp', '127.0.0.1', p);
  try {
    await withReceiver({ interfaces: ['lo'], ports: [p] }, async (records, rx, host) => {
      rx.pause();
      const names = [0, 1, 2].map((i) => `p${i}-${randomUUID()}.example.org`);
      const pids: number[] = [];
      for (const name of names) pids.push(await query('udp', '127.0.0.1', p, name));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(records.length, 0, 'nothing is read while paused');
      rx.resume();
      await waitFor(() => (records.length >= 6 ? true : undefined), 2000, 'the 6 records after resume');
      assert.deepEqual(records.map((r) => `${r['event.name']} ${r['dns.question.name']} ${r['process.pid']}`),
        names.flatMap((n, i) => [`dns.query ${n} ${pids[i]}`, `dns.answer ${n} ${pids[i]}`]));
      rx.pollKernelStats();
      const s = host.stats.snapshot()['receiver/dns/test']!;
      assert.equal(s.paused, 1);
      assert.equal(s.kernel_drops, 0);
      assert.equal(s.queries_without_owner ?? 0, 0);
    });
  } finally {
    server.kill();
  }
});

test('IPv6 loopback, unconnected sendto, NXDOMAIN; TCP over IPv4', async () => {
  const p = port();
  const udp6 = await startServer('udp', '::1', p);
  const tcp = await startServer('tcp', '127.0.0.1', p);
  try {
    await withReceiver({ interfaces: ['lo'], ports: [53, p] }, async (records) => {
      const nx = `nx-${randomUUID()}.example`;
      const pid6 = await query('udp-sendto', '::1', p, nx, 'AAAA');
      const a6 = await waitFor(find(records, 'dns.answer', nx), 2000, 'the IPv6 answer');
      assert.equal(a6['process.pid'], pid6);
      assert.equal(a6['network.type'], 'ipv6');
      assert.equal(a6['network.peer.address'], '::1');
      assert.equal(a6['kite.dns.rcode'], 'NXDOMAIN');
      assert.equal(a6['error.type'], 'NXDOMAIN');
      assert.equal(a6['kite.dns.question.type'], 'AAAA');
      assert.deepEqual(a6['dns.answers'], []);

      const tname = `tcp-${randomUUID()}.example.org`;
      const pidT = await query('tcp', '127.0.0.1', p, tname);
      const qT = await waitFor(find(records, 'dns.query', tname), 2000, 'the TCP query');
      const aT = await waitFor(find(records, 'dns.answer', tname), 2000, 'the TCP answer');
      assert.equal(qT['process.pid'], pidT);
      assert.equal(aT['process.pid'], pidT);
      assert.equal(aT['network.transport'], 'tcp');
      assert.equal((aT['dns.answers'] as string[]).length, 1);
    });
  } finally {
    udp6.kill();
    tcp.kill();
  }
});

test('veth into a network namespace: the resolver inside on port 53, capture on the host end only; the interface disappearing is reported', async () => {
  const w = vethWorld();
  let server: ChildProcess | undefined;
  try {
    server = await startServer('udp', w.nsAddr, 53, w.ns);
    await withReceiver({ interfaces: [w.hostIf] }, async (records, _rx, host) => {
      const name = `veth-${randomUUID()}.example.org`;
      const pid = await query('udp', w.nsAddr, 53, name);
      const q = await waitFor(find(records, 'dns.query', name), 2000, 'the query on the veth');
      const a = await waitFor(find(records, 'dns.answer', name), 2000, 'the answer on the veth');
      assert.equal(q['process.pid'], pid);
      assert.equal(a['process.pid'], pid);
      assert.equal(a['network.interface.name'], w.hostIf);
      assert.equal(a['network.peer.address'], w.nsAddr);
      assert.equal(a['network.local.address'], w.hostAddr);
      assert.equal(a['network.peer.port'], 53);
      // a lookup on loopback is not on this interface
      const other = `lo-${randomUUID()}.example.org`;
      const p = port();
      const lo = await startServer('udp', '127.0.0.1', p);
      try {
        await query('udp', '127.0.0.1', p, other);
      } finally {
        lo.kill();
      }
      w.remove();
      await waitFor(() => (host.stats.snapshot()['receiver/dns/test']?.interface_gone ? true : undefined), 3000, 'interface_gone');
      assert.ok(host.logs.some((l) => String(l.msg ?? l.message ?? '').includes('interface disappeared')), 'an error is logged');
      assert.equal(records.find((r) => r['dns.question.name'] === other), undefined);
    });
  } finally {
    server?.kill();
    w.remove();
  }
});

test('in-kernel filter: an excluded user\'s DNS packets never reach user space and are counted', async () => {
  const p = port();
  const server = await startServer('udp', '127.0.0.1', p);
  try {
    await withReceiver({ interfaces: ['lo'], ports: [p], filter: { exclude: { uids: [NOBODY] } } }, async (records, rx, host) => {
      const hidden = `hidden-${randomUUID()}.example.org`;
      const shown = `shown-${randomUUID()}.example.org`;
      await query('udp', '127.0.0.1', p, hidden, 'A', NOBODY);
      const pid = await query('udp', '127.0.0.1', p, shown);
      await waitFor(find(records, 'dns.answer', shown), 2000, 'the root query');
      assert.equal(find(records, 'dns.answer', shown)()!['process.pid'], pid);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(records.find((r) => r['dns.question.name'] === hidden), undefined, 'nothing of the excluded user arrived');
      rx.pollKernelStats();
      const s = host.stats.snapshot()['receiver/dns/test']!;
      assert.ok((s.filtered ?? 0) >= 2, `query and answer dropped in the kernel: ${JSON.stringify(s)}`);
      assert.ok((s.filtered_sockets ?? 0) >= 1);
      assert.equal(s.received, 2, 'only the root query and its answer were copied to user space');
    });
  } finally {
    server.kill();
  }
});

test('socket filter on crafted packets (BPF_PROG_TEST_RUN): only DNS ports, no bare TCP, no fragments, filtered flows dropped', () => {
  const obj = BpfObject.open(bpfObjectPath('dns'));
  try {
    const ro = obj.rodata();
    const v = ro.initialValue();
    v.writeUInt16LE(53, DNS_RODATA.dns_ports.offset);
    v.writeUInt16LE(5353, DNS_RODATA.dns_ports.offset + 2);
    v.writeUInt32LE(2, DNS_RODATA.dns_port_count.offset);
    v.writeUInt32LE(1500, DNS_RODATA.snap_len.offset);
    ro.setInitialValue(v);
    obj.load();
    const prog = obj.program('handle_dns_packet');
    const dns = Buffer.from('12340100000100000000000003777777076578616d706c65036f72670000010001', 'hex');
    const run = (f: Buffer): number => prog.testRun(f).retval;
    const udp = (o: Partial<Parameters<typeof frame>[0]>) => frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'udp', sport: 40000, dport: 53, payload: dns, ...o });
    assert.equal(run(udp({})), 1500, 'a UDP query to port 53: passed, cut at snap_len');
    assert.equal(run(udp({ sport: 5353, dport: 40000 })), 1500, 'an answer from the second port');
    assert.equal(run(udp({ dport: 80 })), 0, 'another port');
    assert.equal(run(udp({ src: 'fd00::1', dst: 'fd00::53' })), 1500, 'IPv6');
    assert.equal(run(udp({ vlan: 12 })), 1500, 'a VLAN tag');
    assert.equal(run(udp({ fragmentOffset: 10 })), 0, 'a non-first fragment');
    assert.equal(run(frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'tcp', sport: 40000, dport: 53, tcpFlags: 0x02 })), 0, 'a SYN');
    assert.equal(run(frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'tcp', sport: 40000, dport: 53, payload: Buffer.concat([Buffer.from([0, dns.length]), dns]) })), 1500, 'TCP with a message');
    assert.equal(run(frame({ src: '10.0.0.1', dst: '10.0.0.53', proto: 'icmp' })), 0, 'ICMP');
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(run(arp), 0, 'ARP');
    // a flow whose process is filtered out: dropped and counted
    const filteredFrame = udp({ sport: 41000 });
    const key = Buffer.alloc(40);
    writeFlowKey(key, parseL4(filteredFrame, 0, filteredFrame.length) as L4Packet, true);
    const owner = Buffer.alloc(DNS_OWNER.size);
    owner.writeUInt32LE(DnsOwnerFlags.FILTERED, DNS_OWNER.fields.flags.offset);
    obj.map('dns_flows').update(key, owner);
    const stats = obj.map('dns_stats');
    const before = stats.sumPerCpuU64(KiteStat.FILTERED);
    assert.equal(run(filteredFrame), 0, 'a filtered flow');
    assert.equal(run(udp({ sport: 53, dport: 41000, src: '10.0.0.53', dst: '10.0.0.1' })), 0, 'its answer');
    assert.equal(stats.sumPerCpuU64(KiteStat.FILTERED) - before, 2n);
  } finally {
    obj.close();
  }
});

test('lifecycle: shutdown without start and twice, a missing interface is a clear error, nothing left in the kernel', async () => {
  const before = bpfIdsOf(process.pid);
  const host = testHost();
  const idle = dnsFactory.create(parseComponentId('dns')!, settings(dnsFactory, {}), host);
  await idle.shutdown();
  await idle.shutdown();
  const missing = dnsFactory.create(parseComponentId('dns')!, settings(dnsFactory, { interfaces: ['kite-nope0'] }), host);
  await assert.rejects(missing.start(), /receiver dns: interface kite-nope0: no such network interface/);
  await missing.shutdown();
  const rx = dnsFactory.create(parseComponentId('dns')!, settings(dnsFactory, {}), host);
  await rx.start();
  const ours = bpfIdsOf(process.pid);
  assert.ok(ours.progs.length + ours.links.length > before.progs.length + before.links.length, 'programs and links while running');
  let completed = false;
  rx.records$.subscribe({ complete: () => { completed = true; } });
  await rx.shutdown();
  await rx.shutdown();
  assert.ok(completed, 'records$ completes');
  const left = await waitUnloaded(ours);
  assert.deepEqual(left, { progs: [], maps: [], links: [] });
});
