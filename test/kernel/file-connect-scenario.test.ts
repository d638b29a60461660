/**
 * The file and connect receivers as users run them: `kite run` with both, default settings, into a
 * file exporter. A non-root user reads sensitive files; a process connects across two network
 * namespaces. The exported JSON lines carry the semantic-convention attributes a SIEM rule uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITE, ROOT } from '../helpers/paths';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';
import { createNetPair, spawnIn } from '../helpers/netpair';
import { readRecordLines } from '../helpers/events';

const NOBODY = 65534;

test('kite run with file and connect: reads of /etc/shadow and /etc/passwd by nobody, a connect across namespaces', async () => {
  const netops = buildTestProgram('netops');
  const dir = mkdtempSync(join(tmpdir(), 'kite-scenario-'));
  const out = join(dir, 'events.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, `receivers:\n  file: {}\n  connect: {}\nexporters:\n  file:\n    path: ${out}\nservice:\n  pipelines:\n    main:\n      receivers: [file, connect]\n      exporters: [file]\n`);
  const net = createNetPair();
  const agent = spawn(process.execPath, [KITE, 'run', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent.exitCode !== null ? (() => { throw new Error(`agent exited: ${err}`); })() : undefined), 20000, 'the ready line');
    const ids = bpfIdsOf(agent.pid!);
    const records = (): Record<string, unknown>[] => readRecordLines(out);

    const cat = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '/bin/cat', '/etc/shadow', '/etc/passwd'], { stdio: 'ignore' });
    await once(cat, 'exit');
    const shadow = await waitFor(() => records().find((r) => r['event.name'] === 'file.open' && r['file.path'] === '/etc/shadow' && r['process.pid'] === cat.pid), 3000, 'the read of /etc/shadow');
    assert.equal(shadow['process.user.id'], NOBODY);
    assert.equal(shadow['error.type'], 'EACCES');
    assert.deepEqual(shadow['kite.file.intent'], ['read']);
    const passwd = await waitFor(() => records().find((r) => r['event.name'] === 'file.open' && r['file.path'] === '/etc/passwd' && r['process.pid'] === cat.pid), 3000, 'the read of /etc/passwd');
    assert.equal(passwd['kite.file.result'], 'ok');
    assert.equal(passwd['file.name'], 'passwd');

    const listener = spawnIn(net.b, netops, ['listen', net.b4, '4444']);
    const listening = new Promise<void>((r) => listener.stdout!.on('data', (d) => { if (String(d).includes('listening')) r(); }));
    const listenerExit = once(listener, 'exit');
    await listening;
    const client = spawnIn(net.a, netops, ['connect', net.b4, '4444'], NOBODY);
    await once(client, 'exit');
    await listenerExit;
    const conn = await waitFor(() => records().find((r) => r['event.name'] === 'network.connect' && r['process.pid'] === client.pid), 3000, 'the connect');
    assert.equal(conn['network.peer.address'], net.b4);
    assert.equal(conn['network.peer.port'], 4444);
    assert.equal(conn['network.transport'], 'tcp');
    assert.equal(conn['network.type'], 'ipv4');
    assert.equal(conn['process.user.id'], NOBODY);
    const acc = await waitFor(() => records().find((r) => r['event.name'] === 'network.accept' && r['process.pid'] === listener.pid), 3000, 'the accept');
    assert.equal(acc['client.address'], net.a4);
    for (const r of [shadow, conn, acc]) {
      assert.equal(typeof r['kite.event_id'], 'string');
      assert.equal(typeof r['host.name'], 'string');
      assert.match(String(r.time), /Z$/);
    }

    agent.kill('SIGTERM');
    const [code] = await once(agent, 'close');
    assert.equal(code, 0, err.slice(-2000));
    assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
