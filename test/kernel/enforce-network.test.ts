/**
 * Network deny through the xdp_policy program (root): a deny rule on the peer's address, the local
 * port and the transport becomes a drop entry of the XDP program, which the enforcer attaches in
 * enforce mode to the interfaces it is given. Proven across a veth pair from a network namespace the
 * test makes: TCP connections from the denied peer to the denied port never complete, other ports
 * work, the denial is reported as kite.enforcement, and nothing is left attached afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, createServer, Server } from 'node:net';
import { KiteRecord } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { compileEnforcement } from '../../src/enforce/compile';
import { Enforcer } from '../../src/enforce/enforcer';
import { testHost } from '../helpers/host';
import { bpfIdsOf, ms, waitFor, waitUnloaded } from '../helpers/kernel';
import { ip, vethWorld } from '../helpers/netns';

setLibbpfLogger(() => {});

/** Connects from inside `ns` to addr:port; 'ok', 'timeout' or the error. */
function connectFrom(ns: string, addr: string, port: number): string {
  return execFileSync('ip', ['netns', 'exec', ns, '/usr/bin/python3', '-c',
    `import socket\ns=socket.socket()\ns.settimeout(${ms(1000) / 1000})\ntry:\n  s.connect(("${addr}",${port})); print("ok")\nexcept socket.timeout: print("timeout")\nexcept OSError as e: print(e.strerror)`], { encoding: 'utf8' }).trim();
}

async function serve(addr: string, port: number): Promise<Server> {
  const s = createServer((c) => c.end());
  await new Promise<void>((r) => s.listen(port, addr, () => r()));
  return s;
}

test('a deny rule on peer address and local port drops that peer\'s connections on the veth; others pass; reported', async () => {
  const w = vethWorld();
  const base = 30000 + (randomBytes(2).readUInt16LE() % 20000);
  const servers = [await serve(w.hostAddr, base), await serve(w.hostAddr, base + 1)];
  const host = testHost();
  const records: KiteRecord[] = [];
  let enforcer: Enforcer | undefined;
  try {
    assert.equal(connectFrom(w.ns, w.hostAddr, base), 'ok', 'the port answers before the rule');
    const rules = [
      compileEnforcement({ name: 'no-ssh-from-lab', action: 'deny', condition: `network.peer.address == "${w.nsAddr}" && network.local.port == ${base} && network.transport == "tcp"` }),
      compileEnforcement({ name: 'other-peer', action: 'deny', condition: `network.peer.address in ["192.0.2.1", "2001:db8::1"] && network.local.port == ${base + 1}` }),
    ].map((c) => {
      assert.ok(c.ok, c.ok ? '' : c.problem);
      return c.rule;
    });
    const before = bpfIdsOf(process.pid);
    enforcer = new Enforcer(host, rules, { component: 'processor/rules', interfaces: [w.hostIf], attachMode: 'generic' });
    enforcer.records$.subscribe((r) => records.push(r));
    await enforcer.start();
    assert.match(ip('-d', 'link', 'show', w.hostIf), /prog\/xdp/, 'the XDP program is attached to the interface');
    const now = bpfIdsOf(process.pid);
    const mine = { progs: now.progs.filter((x) => !before.progs.includes(x)), maps: now.maps.filter((x) => !before.maps.includes(x)), links: now.links.filter((x) => !before.links.includes(x)) };
    assert.ok(mine.progs.length && mine.maps.length && mine.links.length, 'the enforcer holds a program, its maps and a link');
    assert.equal(connectFrom(w.ns, w.hostAddr, base), 'timeout', 'the denied peer cannot connect to the denied port');
    assert.equal(connectFrom(w.ns, w.hostAddr, base + 1), 'ok', 'a rule for another peer does not apply');
    const r = await waitFor(() => records.find((x) => x['kite.rule.name'] === 'no-ssh-from-lab'), 3000, 'the enforcement record');
    assert.equal(r['event.name'], 'kite.enforcement');
    assert.equal(r['kite.enforcement.action'], 'deny');
    assert.equal(r['kite.enforcement.outcome'], 'dropped');
    assert.equal(r['kite.enforcement.hook'], 'xdp');
    assert.equal(r['network.peer.address'], w.nsAddr);
    assert.equal(r['network.local.port'], base);
    assert.equal(r['network.transport'], 'tcp');
    assert.equal(r['network.interface.name'], w.hostIf);
    assert.equal(records.filter((x) => x['kite.rule.name'] === 'other-peer').length, 0);
    const c = host.stats.snapshot()['processor/rules']!;
    assert.ok((c['enforce.dropped'] ?? 0) >= 1, JSON.stringify(c));
    await enforcer.shutdown();
    await enforcer.shutdown();
    assert.doesNotMatch(ip('-d', 'link', 'show', w.hostIf), /prog\/xdp/, 'detached at shutdown');
    assert.equal(connectFrom(w.ns, w.hostAddr, base), 'ok', 'connections work again');
    assert.deepEqual(await waitUnloaded(mine), { progs: [], maps: [], links: [] }, 'nothing of the enforcer is left in the kernel');
  } finally {
    await enforcer?.shutdown();
    for (const s of servers) s.close();
    w.remove();
  }
});

/** Connects from this namespace to addr:port with a timeout; 'ok', 'timeout' or the error code. */
function connectHere(addr: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: addr, port, timeout: ms(1000) });
    s.on('connect', () => { s.destroy(); resolve('ok'); });
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

test('a deny rule on the peer\'s port (a mining pool\'s): outbound connections to it never complete, other ports work', async () => {
  const w = vethWorld();
  const base = 30000 + (randomBytes(2).readUInt16LE() % 20000);
  const servers = [base, base + 1].map((port) => spawn('ip', ['netns', 'exec', w.ns, '/usr/bin/python3', '-c',
    `import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(("${w.nsAddr}",${port}))\ns.listen(16)\nprint("up",flush=True)\nwhile True:\n  c,_=s.accept(); c.close()`], { stdio: ['ignore', 'pipe', 'ignore'] }));
  const host = testHost();
  const records: KiteRecord[] = [];
  let enforcer: Enforcer | undefined;
  try {
    await Promise.all(servers.map((s) => once(s.stdout!, 'data')));
    assert.equal(await connectHere(w.nsAddr, base), 'ok', 'the peer answers before the rule');
    const c = compileEnforcement({ name: 'mining-pool', action: 'deny', condition: `event.name == "network.connect" && network.peer.port == ${base} && network.transport == "tcp"` });
    assert.ok(c.ok, c.ok ? '' : c.problem);
    enforcer = new Enforcer(host, [c.rule], { component: 'processor/rules', interfaces: [w.hostIf], attachMode: 'generic' });
    enforcer.records$.subscribe((r) => records.push(r));
    await enforcer.start();
    assert.equal(await connectHere(w.nsAddr, base), 'timeout', 'the peer\'s replies from the denied port are dropped');
    assert.equal(await connectHere(w.nsAddr, base + 1), 'ok', 'another port of the same peer works');
    const r = await waitFor(() => records.find((x) => x['kite.rule.name'] === 'mining-pool'), 3000, 'the enforcement record');
    assert.equal(r['network.peer.address'], w.nsAddr);
    assert.equal(r['network.peer.port'], base);
    assert.equal(r['kite.enforcement.outcome'], 'dropped');
  } finally {
    await enforcer?.shutdown();
    for (const s of servers) s.kill('SIGKILL');
    w.remove();
  }
});

test('a network deny rule without interfaces is refused before anything is attached', async () => {
  const c = compileEnforcement({ name: 'lonely', action: 'deny', condition: 'network.peer.address == "192.0.2.9"' });
  assert.ok(c.ok);
  const enforcer = new Enforcer(testHost(), [c.rule], { component: 'processor/rules' });
  await assert.rejects(enforcer.start(), /rule lonely: action deny on network traffic is enforced by XDP on named interfaces; set the enforcement interfaces/);
  await enforcer.shutdown();
});
