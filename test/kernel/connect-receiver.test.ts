/**
 * The connect receiver on the real kernel (root), across a veth pair between two network namespaces
 * that the test creates and deletes: connects and accepts in both directions over IPv4 and IPv6, with
 * the right process on each side; refused and timed-out connects; one UDP record per socket and
 * destination; peer filters proven by counters and by records that do not arrive.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { connectFactory } from '../../src/receivers/connect/factory';
import { ConnectReceiver } from '../../src/receivers/connect/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';
import { createNetPair, ipCommand, NetPair, spawnIn } from '../helpers/netpair';

const NOBODY = 65534;
let netops: string;
let net: NetPair;
let shared: { rx: ConnectReceiver; records: KiteRecord[]; host: ReturnType<typeof testHost> };
let port = 20000 + Math.floor(Math.random() * 20000);

async function startReceiver(raw: Record<string, unknown>, name: string): Promise<typeof shared> {
  const host = testHost();
  const rx = connectFactory.create(parseComponentId(name)!, settings(connectFactory, { ring_buffer_size: '1MiB', ...raw }), host) as ConnectReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  return { rx, records, host };
}

before(async () => {
  netops = buildTestProgram('netops');
  setLibbpfLogger(() => {});
  net = createNetPair();
  shared = await startReceiver({}, 'connect/test');
});

after(async () => {
  await shared?.rx.shutdown();
  net?.destroy();
});

function output(c: ChildProcess): Promise<string> {
  let out = '';
  c.stdout!.on('data', (d) => { out += d; });
  return once(c, 'close').then(() => out); // 'close': after stdout is read to its end ('exit' may come first)
}

async function listen(ns: string, addr: string, p: number): Promise<{ proc: ChildProcess; done: Promise<string> }> {
  const proc = spawnIn(ns, netops, ['listen', addr, String(p)]);
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d) => { buf += d; if (buf.includes('listening')) resolve(); });
    proc.once('exit', () => reject(new Error(`listener exited: ${buf}`)));
  });
  const done = once(proc, 'close').then(() => buf);
  return { proc, done };
}

async function connectVia(ns: string, addr: string, p: number, opts: { uid?: number; syncnt?: number } = {}): Promise<{ pid: number; out: string }> {
  const c = spawnIn(ns, netops, ['connect', addr, String(p), ...(opts.syncnt ? [String(opts.syncnt)] : [])], opts.uid);
  const out = await output(c);
  return { pid: c.pid!, out };
}

const find = (records: KiteRecord[], name: string, pid: number) => (): KiteRecord | undefined =>
  records.find((r) => r['event.name'] === name && r['process.pid'] === pid);

for (const v of ['ipv4', 'ipv6'] as const) {
  for (const dir of ['a->b', 'b->a'] as const) {
    test(`TCP ${v} ${dir}: the connect by the client and the accept by the server, each with its own process`, async () => {
      const [cns, sns] = dir === 'a->b' ? [net.a, net.b] : [net.b, net.a];
      const saddr = v === 'ipv4' ? (dir === 'a->b' ? net.b4 : net.a4) : (dir === 'a->b' ? net.b6 : net.a6);
      const caddr = v === 'ipv4' ? (dir === 'a->b' ? net.a4 : net.b4) : (dir === 'a->b' ? net.a6 : net.b6);
      const p = ++port;
      const server = await listen(sns, saddr, p);
      const client = await connectVia(cns, saddr, p, { uid: NOBODY });
      assert.match(client.out, /connect 0 0/);
      await server.done;
      const c = await waitFor(find(shared.records, 'network.connect', client.pid), 2000, 'the connect record');
      assert.equal(c['network.transport'], 'tcp');
      assert.equal(c['network.type'], v);
      assert.equal(c['network.peer.address'], saddr);
      assert.equal(c['network.peer.port'], p);
      assert.equal(c['server.address'], saddr);
      assert.equal(c['network.local.address'], caddr);
      assert.equal(c['kite.network.result'], 'established');
      assert.equal(c['kite.process.comm'], 'netops');
      assert.equal(c['process.user.id'], NOBODY);
      assert.equal(c['process.user.name'], 'nobody');
      const a = await waitFor(find(shared.records, 'network.accept', server.proc.pid!), 2000, 'the accept record');
      assert.equal(a['network.peer.address'], caddr);
      assert.equal(a['client.address'], caddr);
      assert.equal(a['client.port'], c['network.local.port'], 'the client port seen by both sides');
      assert.equal(a['server.port'], p);
      assert.equal(a['network.local.address'], saddr);
      assert.equal(a['process.user.id'], 0);
      assert.equal(a['kite.network.result'], 'established');
    });
  }
}

test('TCP refused (no listener) and timed out (answers blackholed): the result and the errno', async () => {
  const p = ++port;
  const refused = await connectVia(net.a, net.b4, p);
  assert.match(refused.out, /connect -1 111/);
  const r = await waitFor(find(shared.records, 'network.connect', refused.pid), 2000, 'the refused connect');
  assert.equal(r['kite.network.result'], 'refused');
  assert.equal(r['error.type'], 'ECONNREFUSED');
  const refused6 = await connectVia(net.b, net.a6, p);
  assert.equal((await waitFor(find(shared.records, 'network.connect', refused6.pid), 2000, 'the refused IPv6 connect'))['kite.network.result'], 'refused');

  const server = await listen(net.b, net.b4, p);
  ipCommand('-n', net.b, 'route', 'add', 'blackhole', `${net.a4}/32`);
  try {
    const t = await connectVia(net.a, net.b4, p, { syncnt: 1 });
    assert.match(t.out, /connect -1 110/);
    const rec = await waitFor(find(shared.records, 'network.connect', t.pid), 2000, 'the timed-out connect');
    assert.equal(rec['kite.network.result'], 'timed_out');
    assert.equal(rec['error.type'], 'ETIMEDOUT');
    assert.ok((rec['kite.network.duration_ns'] as number) > 2e9, 'two SYNs, about 3 s');
  } finally {
    ipCommand('-n', net.b, 'route', 'del', 'blackhole', `${net.a4}/32`);
    server.proc.kill();
  }
});

test('UDP: one record per socket and destination, not one per datagram; connect and IPv6 too', async () => {
  const p = ++port;
  const burst = spawnIn(net.a, netops, ['udp', net.b4, String(p), '50']);
  assert.match(await output(burst), /udp 50 0/);
  const u = await waitFor(find(shared.records, 'network.udp', burst.pid!), 2000, 'the UDP record');
  assert.equal(u['network.transport'], 'udp');
  assert.equal(u['network.peer.address'], net.b4);
  assert.equal(u['network.peer.port'], p);
  assert.equal(u['kite.network.result'], 'sent');
  const conn = spawnIn(net.b, netops, ['udpconnect', net.a6, String(p)]);
  await output(conn);
  const c = await waitFor(find(shared.records, 'network.udp', conn.pid!), 2000, 'the UDP connect');
  assert.equal(c['kite.network.result'], 'connected');
  assert.equal(c['network.type'], 'ipv6');
  assert.equal(c['network.peer.address'], net.a6);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(shared.records.filter((r) => r['process.pid'] === burst.pid).length, 1, '50 datagrams, one record');
  assert.equal(shared.records.filter((r) => r['process.pid'] === conn.pid).length, 1, 'connect, then a send on the connected socket: one record');
});

test('peer filters in the kernel: an excluded prefix and port never arrive and are counted', async () => {
  const excludedPort = port + 500;
  const f = await startReceiver({ peers: { exclude: [`${net.b4.replace(/\.\d+$/, '.0')}/24`] }, ports: { exclude: [excludedPort] } }, 'connect/filtered');
  try {
    const p = ++port;
    const server = await listen(net.b, net.b4, p);
    const dropped = await connectVia(net.a, net.b4, p);
    await server.done;
    const server6 = await listen(net.b, net.b6, p);
    const kept = await connectVia(net.a, net.b6, p);
    await server6.done;
    const udp = spawnIn(net.a, netops, ['udp', net.b6, String(excludedPort), '3']);
    await output(udp);
    await waitFor(find(f.records, 'network.connect', kept.pid), 2000, 'the IPv6 connect, not excluded');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(find(f.records, 'network.connect', dropped.pid)(), undefined, 'excluded prefix');
    assert.equal(f.records.find((r) => r['network.peer.address'] === net.b4), undefined, 'neither connect nor accept from the excluded prefix');
    assert.equal(find(f.records, 'network.udp', udp.pid!)(), undefined, 'excluded port');
    assert.ok(find(shared.records, 'network.connect', dropped.pid)(), 'the unfiltered receiver saw it');
    f.rx.pollKernelStats();
    assert.ok((f.host.stats.snapshot()['receiver/connect/filtered']!.peer_filtered ?? 0) >= 3);
  } finally {
    await f.rx.shutdown();
  }
});

test('shutdown leaves no program, map or link in the kernel, and is safe twice', async () => {
  const ids = bpfIdsOf(process.pid);
  assert.ok(ids.links.length >= 7, 'three tracing and four cgroup links');
  await shared.rx.shutdown();
  await shared.rx.shutdown();
  assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
});
