// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * The agent as users run it: `kite run` prints a ready line, reports an exec within a second, keeps
 * standard output for records only, stops cleanly on SIGTERM and SIGINT, and leaves no program, map or
 * link in the kernel after SIGTERM or SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITE, ROOT } from '../helpers/paths';
import { BpfIds, bpfIdsOf, waitFor, waitUnloaded, ms } from '../helpers/kernel';
import { tempDir } from '../helpers/tmp';

interface Agent {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  ids: BpfIds;
}

async function startAgent(args: string[], cwd = ROOT): Promise<Agent> {
  const child = spawn(process.execPath, [KITE, 'run', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  await waitFor(() => (err.includes('"msg":"ready"') ? true : child.exitCode !== null ? (() => { throw new Error(`agent exited: ${err}`); })() : undefined), 15000, 'the ready line');
  return { child, stdout: () => out, stderr: () => err, ids: bpfIdsOf(child.pid!) };
}

function fileConfig(path: string): string {
  const dir = tempDir('cli');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, `receivers:\n  exec: {}\nexporters:\n  file:\n    path: ${path}\nservice:\n  pipelines:\n    main:\n      receivers: [exec]\n      exporters: [file]\n`);
  return cfg;
}

const records = (text: string): Record<string, unknown>[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('kite run: an echo with a unique argument arrives in the file within one second; SIGTERM exits 0 and unloads everything', async () => {
  const dir = tempDir('out');
  const out = join(dir, 'events.jsonl');
  const agent = await startAgent(['--config', fileConfig(out)]);
  assert.ok(agent.ids.progs.length + agent.ids.links.length >= 3, JSON.stringify(agent.ids));
  const tag = `kite-${randomUUID()}`;
  const echo = spawn('/bin/echo', [tag], { stdio: 'ignore' });
  await once(echo, 'exit');
  const started = Date.now();
  const rec = await waitFor(() => {
    if (!existsSync(out)) return undefined;
    return records(readFileSync(out, 'utf8')).find((r) => r['event.name'] === 'process.exec' && (r['process.command_args'] as string[])?.[1] === tag);
  }, 1000, 'the exec record in the file');
  assert.ok(Date.now() - started <= ms(1000));
  assert.equal(rec['process.pid'], echo.pid);
  assert.equal(rec['process.parent_pid'], process.pid);
  assert.deepEqual(rec['process.command_args'], ['/bin/echo', tag]);
  assert.equal(rec['process.user.id'], process.getuid!());
  assert.equal(rec['process.executable.path'], '/usr/bin/echo');
  assert.match(rec['kite.event_id'] as string, /\S+/);
  agent.child.kill('SIGTERM');
  const [code] = await once(agent.child, 'close'); // 'close': its output read to the end
  assert.equal(code, 0, agent.stderr());
  assert.equal(agent.stdout(), '', 'standard output carries only records (none with a file exporter)');
  const exit = records(readFileSync(out, 'utf8')).find((r) => r['event.name'] === 'process.exit' && r['process.pid'] === echo.pid);
  assert.ok(exit, 'the echo exit was flushed to the file before the agent exited');
  assert.equal(exit['process.exit.code'], 0);
  for (const line of agent.stderr().split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), `the agent log is JSON lines: ${line}`);
  assert.deepEqual(await waitUnloaded(agent.ids), { progs: [], maps: [], links: [] });
});

test('kite run (default config): records on standard output, one JSON object per line; SIGINT exits 0', async () => {
  const agent = await startAgent([]);
  const tag = `kite-${randomUUID()}`;
  const echo = spawn('/bin/echo', [tag], { stdio: 'ignore' });
  await once(echo, 'exit');
  await waitFor(() => (agent.stdout().includes(tag) ? true : undefined), 1000, 'the record on stdout');
  agent.child.kill('SIGINT');
  const [code] = await once(agent.child, 'close'); // 'close': its output read to the end
  assert.equal(code, 0);
  const lines = agent.stdout().split('\n').filter(Boolean);
  for (const l of lines) {
    const r = JSON.parse(l);
    assert.match(r['event.name'], /^process\.(exec|fork|exit)$/);
    assert.ok(r.time && r['kite.event_id'], l);
  }
  const rec = lines.map((l) => JSON.parse(l)).find((r) => r['event.name'] === 'process.exec' && r['process.pid'] === echo.pid);
  assert.deepEqual(rec['process.command_args'], ['/bin/echo', tag]);
  assert.match(agent.stderr(), /"msg":"stopped"/);
  assert.deepEqual(await waitUnloaded(agent.ids), { progs: [], maps: [], links: [] });
});

test('kite run killed with SIGKILL: the kernel frees every program, map and link', async () => {
  const agent = await startAgent(['--config', fileConfig(join(tempDir('out'), 'e.jsonl'))]);
  assert.ok(agent.ids.progs.length > 0);
  agent.child.kill('SIGKILL');
  await once(agent.child, 'exit');
  assert.deepEqual(await waitUnloaded(agent.ids), { progs: [], maps: [], links: [] });
});

test('kite run with a bad config: every problem on standard error, exit 2, nothing loaded', async () => {
  const dir = tempDir('bad');
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'receivers:\n  exec:\n    max_args: 0\n    nope: 1\nexporters:\n  console: {}\nservice:\n  pipelines:\n    main: { receivers: [exec], exporters: [console, file] }\n');
  const child = spawn(process.execPath, [KITE, 'run', '--config', 'bad.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => { err += d; });
  child.stdout!.on('data', (d) => { out += d; });
  const [code] = await once(child, 'close');
  assert.equal(code, 2);
  assert.equal(out, '');
  assert.match(err, /bad\.yaml: 3 problems/);
  assert.match(err, /^receivers\.exec\.max_args: an integer from 1 to 4096, got 0$/m);
  assert.match(err, /^receivers\.exec\.nope: a known key of the exec receiver/m);
  assert.match(err, /^service\.pipelines\.main\.exporters\[1\]: an exporter id defined under exporters \(console\), got "file"$/m);
  assert.doesNotMatch(err, /receiver attached|"msg":"ready"/, 'nothing was loaded: validation comes first');
});
