/**
 * The xdp_policy receiver on the real kernel (root). Crafted packets through the program
 * (BPF_PROG_TEST_RUN) check rule order, prefixes, protocols, port ranges, both modes and the per-flow
 * sampling of deny reports; real packets across a veth pair into a network namespace made by the test
 * are dropped in enforce mode and only counted in monitor mode. Nothing is left attached afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { BpfObject, setLibbpfLogger } from '../../src/bpf/object';
import { bpfObjectPath } from '../../src/bpf/paths';
import { xdpPolicyFactory } from '../../src/receivers/xdp_policy/factory';
import { toXdpPolicyConfig, XdpPolicyRawConfig } from '../../src/receivers/xdp_policy/config';
import { configurePolicy, loadPolicy, readRuleCounters, XdpPolicyReceiver } from '../../src/receivers/xdp_policy/receiver';
import { XdpStat } from '../../src/receivers/xdp_policy/wire';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, waitFor, waitUnloaded } from '../helpers/kernel';
import { frame } from '../helpers/packets';
import { ip, vethWorld } from '../helpers/netns';

setLibbpfLogger(() => {});
const XDP_DROP = 1;
const XDP_PASS = 2;

const RULES = [
  { name: 'ssh-from-lab', action: 'deny', cidrs: ['10.1.0.0/16'], protocol: 'tcp', ports: 22 },
  { name: 'dns', action: 'count', protocol: 'udp', ports: '53' },
  { name: 'lab-host', action: 'count', cidrs: ['10.1.2.0/24'] },
  { name: 'documentation', action: 'deny', cidrs: ['192.0.2.0/24', '2001:db8::/32'] },
  { name: 'icmp', action: 'count', protocol: 'icmp' },
  { name: 'high-ports', action: 'count', protocol: 'tcp', ports: '8000-8999' },
];

function loadWithRules(mode: 'monitor' | 'enforce'): BpfObject {
  const raw = settings<XdpPolicyRawConfig>(xdpPolicyFactory, { interfaces: ['lo'], mode, rules: RULES, deny_report_interval: '1h' });
  const cfg = toXdpPolicyConfig(raw);
  const obj = BpfObject.open(bpfObjectPath('xdp_policy'));
  try {
    configurePolicy(obj, cfg);
    obj.load();
    loadPolicy(obj, cfg);
    return obj;
  } catch (e) {
    obj.close();
    throw e;
  }
}

test('crafted packets (BPF_PROG_TEST_RUN), enforce: first matching rule by order, prefixes, ports, both families', () => {
  const obj = loadWithRules('enforce');
  try {
    const prog = obj.program('handle_xdp_policy');
    const run = (f: Buffer): number => prog.testRun(f).retval;
    const tcp = (src: string, dport: number, o = {}) => frame({ src, dst: '10.0.0.1', proto: 'tcp', sport: 40000, dport, ...o });
    const udp = (src: string, dport: number) => frame({ src, dst: src.includes(':') ? 'fd00::1' : '10.0.0.1', proto: 'udp', sport: 40000, dport, payload: Buffer.alloc(20) });
    const cases: [string, Buffer, number, number | null][] = [
      ['ssh from the lab: denied', tcp('10.1.2.3', 22), XDP_DROP, 0],
      ['ssh from the lab with a VLAN tag: denied', tcp('10.1.2.3', 22, { vlan: 5 }), XDP_DROP, 0],
      ['web from the lab host: the /24 count rule', tcp('10.1.2.3', 80), XDP_PASS, 2],
      ['ssh from elsewhere: no rule', tcp('10.9.9.9', 22), XDP_PASS, null],
      ['DNS from anywhere: counted', udp('10.9.9.9', 53), XDP_PASS, 1],
      ['DNS from the documentation net: the earlier count rule wins', udp('192.0.2.7', 53), XDP_PASS, 1],
      ['web from the documentation net: denied', tcp('192.0.2.7', 80), XDP_DROP, 3],
      ['IPv6 from 2001:db8::/32: denied', frame({ src: '2001:db8::5', dst: 'fd00::1', proto: 'tcp', sport: 1, dport: 443 }), XDP_DROP, 3],
      ['IPv6 DNS: counted', udp('fd00::9', 53), XDP_PASS, 1],
      ['ICMP: counted', frame({ src: '10.9.9.9', dst: '10.0.0.1', proto: 'icmp' }), XDP_PASS, 4],
      ['a port range: 8080 in 8000-8999', tcp('10.9.9.9', 8080), XDP_PASS, 5],
      ['a port range: 9000 outside', tcp('10.9.9.9', 9000), XDP_PASS, null],
      ['a non-first fragment from the lab: ports unknown, the /24 rule', tcp('10.1.2.3', 22, { fragmentOffset: 100 }), XDP_PASS, 2],
    ];
    const before = readRuleCounters(obj, RULES.length);
    const expected = RULES.map(() => ({ packets: 0n, bytes: 0n }));
    for (const [what, f, ret, rule] of cases) {
      assert.equal(run(f), ret, what);
      if (rule !== null) {
        expected[rule]!.packets += 1n;
        expected[rule]!.bytes += BigInt(f.length);
      }
    }
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(run(arp), XDP_PASS, 'ARP passes uncounted');
    const after = readRuleCounters(obj, RULES.length);
    after.forEach((a, i) => {
      assert.equal(a.packets - before[i]!.packets, expected[i]!.packets, `packets of rule ${RULES[i]!.name}`);
      assert.equal(a.bytes - before[i]!.bytes, expected[i]!.bytes, `bytes of rule ${RULES[i]!.name}`);
    });
    // deny reports are per flow: three denied flows above (v4 ssh, its VLAN copy is the same flow, v4 web, v6)
    assert.equal(obj.map('xdp_policy_stats').sumPerCpuU64(XdpStat.DENY_REPORTED), 3n, 'one report per denied flow within the interval');
    assert.equal(run(tcp('10.1.2.3', 22)), XDP_DROP);
    assert.equal(obj.map('xdp_policy_stats').sumPerCpuU64(XdpStat.DENY_REPORTED), 3n, 'a repeat of a reported flow is not reported again');
  } finally {
    obj.close();
  }
});

test('crafted packets, monitor: deny rules count and report but pass', () => {
  const obj = loadWithRules('monitor');
  try {
    const prog = obj.program('handle_xdp_policy');
    assert.equal(prog.testRun(frame({ src: '10.1.2.3', dst: '10.0.0.1', proto: 'tcp', sport: 1, dport: 22 })).retval, XDP_PASS);
    assert.equal(readRuleCounters(obj, RULES.length)[0]!.packets, 1n);
    assert.equal(obj.map('xdp_policy_stats').sumPerCpuU64(XdpStat.DENY_REPORTED), 1n);
  } finally {
    obj.close();
  }
});

async function withPolicy(raw: Record<string, unknown>, body: (rx: XdpPolicyReceiver, records: KiteRecord[], host: ReturnType<typeof testHost>) => Promise<void>): Promise<void> {
  const host = testHost();
  const rx = xdpPolicyFactory.create(parseComponentId('xdp_policy/test')!, settings(xdpPolicyFactory, raw), host) as XdpPolicyReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  try {
    await body(rx, records, host);
  } finally {
    await rx.shutdown();
  }
}

/** Sends `n` UDP datagrams from inside `ns` to addr:port. */
function sendUdp(ns: string, addr: string, port: number, n: number): void {
  execFileSync('ip', ['netns', 'exec', ns, '/usr/bin/python3', '-c',
    `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${n}):\n  s.sendto(b"kite%d"%i,("${addr}",${port}))\n  time.sleep(0.01)`]);
}

async function listen(addr: string, port: number): Promise<{ got: string[]; close(): void }> {
  const sock = createSocket('udp4');
  const got: string[] = [];
  await new Promise<void>((r) => sock.bind(port, addr, () => r()));
  sock.on('message', (m) => got.push(m.toString()));
  return { got, close: () => sock.close() };
}

for (const [mode, attachMode] of [['enforce', 'native'], ['monitor', 'generic']] as const) {
  test(`real packets over a veth from a network namespace, ${mode} mode (${attachMode} attach): denied port ${mode === 'enforce' ? 'dropped' : 'passes'}, counted port passes`, async () => {
    const w = vethWorld();
    const base = 30000 + (randomBytes(2).readUInt16LE() % 20000);
    const denied = await listen(w.hostAddr, base);
    const counted = await listen(w.hostAddr, base + 1);
    try {
      // the pair carries traffic before the policy is attached (this also resolves the neighbour)
      sendUdp(w.ns, w.hostAddr, base + 1, 1);
      await waitFor(() => (counted.got.length ? true : undefined), 2000, 'a datagram before the policy');
      counted.got.length = 0;
      const before = bpfIdsOf(process.pid);
      await withPolicy({
        interfaces: [w.hostIf], mode, attach_mode: attachMode, counters_interval: '1h',
        rules: [
          { name: 'blocked-port', action: 'deny', cidrs: [`${w.nsAddr}/32`], protocol: 'udp', ports: base },
          { name: 'udp-in', action: 'count', cidrs: [`${w.nsAddr.split('.').slice(0, 3).join('.')}.0/24`], protocol: 'udp', ports: `${base + 1}-${base + 2}` },
        ],
      }, async (rx, records) => {
        assert.match(ip('-d', 'link', 'show', w.hostIf), attachMode === 'native' ? /mtu \d+ xdp / : /mtu \d+ xdpgeneric /, 'attached in the requested mode');
        sendUdp(w.ns, w.hostAddr, base, 5);
        sendUdp(w.ns, w.hostAddr, base + 1, 5);
        await waitFor(() => (counted.got.length >= 5 ? true : undefined), 2000, 'the counted datagrams (a count rule never drops)');
        const deny = await waitFor(() => records.find((r) => r['event.name'] === 'network.policy.deny'), 2000, 'a deny report');
        await new Promise((r) => setTimeout(r, 100));
        if (mode === 'enforce') assert.equal(denied.got.length, 0, 'the denied datagrams were dropped');
        else assert.equal(denied.got.length, 5, 'monitor mode drops nothing');
        assert.equal(deny['kite.xdp.rule'], 'blocked-port');
        assert.equal(deny['kite.xdp.dropped'], mode === 'enforce');
        assert.equal(deny['network.peer.address'], w.nsAddr);
        assert.equal(deny['network.local.address'], w.hostAddr);
        assert.equal(deny['network.local.port'], base);
        assert.equal(typeof deny['network.peer.port'], 'number');
        assert.equal(deny['network.transport'], 'udp');
        assert.equal(deny['network.type'], 'ipv4');
        assert.equal(deny['network.interface.name'], w.hostIf);
        assert.equal(deny['kite.xdp.packets'], 1, 'reported at the first packet of the flow');
        assert.equal(records.filter((r) => r['event.name'] === 'network.policy.deny').length, 1, 'one report per flow within the interval');
        rx.emitCounters();
        const byRule = Object.fromEntries(records.filter((r) => r['event.name'] === 'network.policy.counters').map((r) => [r['kite.xdp.rule'], r]));
        assert.equal(byRule['blocked-port']!['kite.xdp.packets'], 5);
        assert.equal(byRule['blocked-port']!['kite.xdp.action'], 'deny');
        assert.equal(byRule['udp-in']!['kite.xdp.packets'], 5);
        assert.equal(byRule['udp-in']!['kite.xdp.bytes'], 5 * (14 + 20 + 8 + 5), 'bytes as received, Ethernet header included');
        assert.equal(byRule['udp-in']!['kite.xdp.mode'], mode);
      });
      assert.doesNotMatch(ip('-d', 'link', 'show', w.hostIf), /prog\/xdp/, 'detached at shutdown');
      sendUdp(w.ns, w.hostAddr, base, 1);
      await waitFor(() => (denied.got.length >= (mode === 'enforce' ? 1 : 6) ? true : undefined), 2000, 'traffic flows again after shutdown');
      const after = bpfIdsOf(process.pid);
      assert.equal(after.progs.length + after.links.length, before.progs.length + before.links.length, 'no program or link of ours is left');
    } finally {
      denied.close();
      counted.close();
      w.remove();
    }
  });
}

test('a missing interface is a clear error; an interface that disappears is reported; native attach where the driver cannot is a clear error', async () => {
  const host = testHost();
  const missing = xdpPolicyFactory.create(parseComponentId('xdp_policy')!, settings(xdpPolicyFactory, { interfaces: ['kite-nope0'] }), host);
  await assert.rejects(missing.start(), /receiver xdp_policy: interface kite-nope0: no such network interface/);
  await missing.shutdown();
  await missing.shutdown();

  const w = vethWorld();
  try {
    await withPolicy({ interfaces: [w.hostIf], rules: [{ name: 'all', action: 'count' }] }, async (_rx, _records, h) => {
      w.remove();
      await waitFor(() => (h.stats.snapshot()['receiver/xdp_policy/test']?.interface_gone ? true : undefined), 3000, 'interface_gone');
      assert.ok(h.logs.some((l) => JSON.stringify(l).includes('policy interface disappeared')), 'an error is logged');
    });
  } finally {
    w.remove();
  }

  // loopback has no driver XDP support
  const before = bpfIdsOf(process.pid);
  const rx = xdpPolicyFactory.create(parseComponentId('xdp_policy')!, settings(xdpPolicyFactory, { interfaces: ['lo'], attach_mode: 'native' }), host);
  await assert.rejects(rx.start(), (e: Error) => e.message.includes('attach xdp handle_xdp_policy to interface lo (native mode)'), 'the error names the interface and the mode');
  await rx.shutdown();
  const left = await waitUnloaded(bpfIdsOf(process.pid));
  assert.equal(left.progs.length, 0);
  assert.deepEqual(bpfIdsOf(process.pid).progs, before.progs, 'a failed start leaves nothing behind');
});
