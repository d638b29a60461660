// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * The agent runs as an unprivileged user with exactly the capabilities docs/capabilities.md lists,
 * and nothing else, and still reports what it must.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { KITE, ROOT } from '../helpers/paths';
import { waitFor } from '../helpers/kernel';
import { readRecordLines } from '../helpers/events';
import { tempDir } from '../helpers/tmp';

/** The capabilities named in the first column of docs/capabilities.md's table. */
export function documentedCapabilities(): string[] {
  const text = readFileSync(join(ROOT, 'docs', 'capabilities.md'), 'utf8');
  return [...text.matchAll(/^\| `(CAP_[A-Z_]+)` \|/gm)].map((m) => m[1]!);
}

test('as nobody with exactly the documented capabilities: exec records with pre-existing root processes known', async () => {
  const caps = documentedCapabilities();
  assert.ok(caps.includes('CAP_BPF') && !caps.includes('CAP_SYS_ADMIN'), `documented: ${caps.join(', ')}`);
  const list = caps.map((c) => `+${c.slice(4).toLowerCase()}`).join(',');
  const dir = tempDir('lp');
  chmodSync(dir, 0o777);
  const out = join(dir, 'events.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, `receivers: {exec: {}}\nexporters: {file: {path: ${out}}}\nservice:\n  telemetry: {enabled: false}\n  pipelines: {main: {receivers: [exec], exporters: [file]}}\n`);
  // a root process started before the agent: its exit must carry its executable (needs CAP_SYS_PTRACE)
  const tag = `kite-${randomUUID()}`;
  const early = spawn('/bin/sh', ['-c', 'read line', tag], { stdio: ['pipe', 'ignore', 'ignore'] });
  const agent = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=-all,${list}`, `--ambient-caps=${list}`, '--bounding-set=-all,' + list,
    process.execPath, KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent.exitCode !== null ? (() => { throw new Error(err); })() : undefined), 15000, 'ready');
    const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65534\s/m, 'runs as nobody');
    const echoTag = `kite-${randomUUID()}`;
    const echo = spawn('/bin/echo', [echoTag], { stdio: 'ignore' });
    await once(echo, 'exit');
    const exitEarly = once(early, 'exit');
    early.kill('SIGTERM');
    await exitEarly;
    const records = () => readRecordLines(out);
    const rec = await waitFor(() => records().find((r) => r['process.pid'] === echo.pid && r['event.name'] === 'process.exec'), 2000, 'the echo exec');
    assert.deepEqual(rec['process.command_args'], ['/bin/echo', echoTag]);
    const ex = await waitFor(() => records().find((r) => r['process.pid'] === early.pid && r['event.name'] === 'process.exit'), 2000, 'the exit of the earlier root process');
    assert.equal(ex['process.executable.path'], '/usr/bin/dash');
    assert.deepEqual(ex['process.command_args'], ['/bin/sh', '-c', 'read line', tag]);
  } finally {
    early.kill('SIGKILL');
    agent.kill('SIGTERM');
    if (agent.exitCode === null) await once(agent, 'exit');
  }
  assert.equal(agent.exitCode, 0, err);
});
