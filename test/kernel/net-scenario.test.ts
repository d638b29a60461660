// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * The network receivers as users run them: `kite run` with the dns receiver (defaults: every
 * interface, port 53) and the xdp_policy receiver (enforce) writing to a file exporter. A resolver in a
 * network namespace behind a veth pair answers a lookup from a known process; a denied UDP flow from
 * the namespace is dropped. The records are checked by their semantic-convention attributes, as a
 * scenario script would; after SIGTERM nothing is left in the kernel or on the interface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITE, ROOT } from '../helpers/paths';
import { bpfIdsOf, waitFor, waitUnloaded } from '../helpers/kernel';
import { ip, vethWorld } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const TOOL = join(ROOT, 'test', 'kernel', 'dns_tool.py');
const PY = '/usr/bin/python3';
const records = (path: string): Record<string, unknown>[] =>
  (existsSync(path) ? readFileSync(path, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('kite run with dns and xdp_policy: a lookup and a denied flow arrive in the file with their semantic-convention attributes', async () => {
  const w = vethWorld();
  const dir = tempDir('net');
  const out = join(dir, 'events.jsonl');
  const deniedPort = 40000 + Math.floor(Math.random() * 10000);
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, `receivers:
  dns: {}
  xdp_policy:
    interfaces: [${w.hostIf}]
    mode: enforce
    counters_interval: 500ms
    rules:
      - { name: blocked, action: deny, cidrs: [${w.nsAddr}/32], protocol: udp, ports: ${deniedPort} }
      - { name: everything-else, action: count }
exporters:
  file:
    path: ${out}
service:
  pipelines:
    main:
      receivers: [dns, xdp_policy]
      exporters: [file]
`);
  let server: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  try {
    server = spawn('ip', ['netns', 'exec', w.ns, PY, TOOL, 'serve', 'udp', w.nsAddr, '53'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(server.stdout!, 'data');
    agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    agent.stderr!.on('data', (d) => { err += d; });
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent!.exitCode !== null ? (() => { throw new Error(`agent exited: ${err}`); })() : undefined), 15000, 'the ready line');
    const ids = bpfIdsOf(agent.pid!);

    const name = `scenario-${randomUUID()}.example.com`;
    const lookup = spawn(PY, [TOOL, 'query', 'udp', w.nsAddr, '53', name], { stdio: 'ignore' });
    const [code] = (await once(lookup, 'exit')) as [number];
    assert.equal(code, 0);
    const answer = await waitFor(() => records(out).find((r) => r['event.name'] === 'dns.answer' && r['dns.question.name'] === name), 3000, 'the dns.answer record');
    const query = records(out).find((r) => r['event.name'] === 'dns.query' && r['dns.question.name'] === name)!;
    assert.ok(query, 'the dns.query record');
    for (const r of [query, answer]) {
      assert.equal(r['process.pid'], lookup.pid);
      assert.equal(r['network.peer.address'], w.nsAddr);
      assert.equal(r['network.peer.port'], 53);
      assert.equal(r['network.transport'], 'udp');
      assert.equal(r['network.type'], 'ipv4');
      assert.equal(r['network.interface.name'], w.hostIf);
      assert.equal(typeof r['kite.event_id'], 'string');
      assert.equal(typeof r['host.name'], 'string');
    }
    assert.equal((answer['dns.answers'] as string[]).length, 1);

    execFileSync('ip', ['netns', 'exec', w.ns, PY, '-c',
      `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b"x",("${w.hostAddr}",${deniedPort}))`]);
    const deny = await waitFor(() => records(out).find((r) => r['event.name'] === 'network.policy.deny'), 3000, 'the network.policy.deny record');
    assert.equal(deny['network.peer.address'], w.nsAddr);
    assert.equal(deny['network.local.port'], deniedPort);
    assert.equal(deny['network.transport'], 'udp');
    assert.equal(deny['kite.xdp.rule'], 'blocked');
    assert.equal(deny['kite.xdp.dropped'], true);
    const counters = await waitFor(() => records(out).find((r) => r['event.name'] === 'network.policy.counters' && r['kite.xdp.rule'] === 'blocked' && (r['kite.xdp.packets_total'] as number) >= 3), 3000, 'counters of the deny rule');
    assert.equal(counters['kite.xdp.mode'], 'enforce');

    agent.kill('SIGTERM');
    const [exit] = (await once(agent, 'exit')) as [number];
    assert.equal(exit, 0);
    assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
    assert.doesNotMatch(ip('-d', 'link', 'show', w.hostIf), /prog\/xdp/);
  } finally {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    server?.kill();
    w.remove();
  }
});
