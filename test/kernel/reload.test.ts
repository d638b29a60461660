// kite:guest-all-only (starts the agent as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * Reload under load (SIGHUP and --watch-config): a new exporter is added without losing an event and
 * without touching the attached programs; a bad config is rejected while the old one keeps running; a
 * changed receiver is swapped with duplicates at most, never gaps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { KITE } from '../helpers/paths';
import { bpfIdsOf, waitFor, waitUnloaded } from '../helpers/kernel';
import { tempDir } from '../helpers/tmp';

function config(files: string[], maxArgs = 64): string {
  const exporters = files.map((f, i) => `  file/${i}: {path: ${f}}`).join('\n');
  return `receivers:\n  exec: {max_args: ${maxArgs}}\nexporters:\n${exporters}\nservice:\n  telemetry: {enabled: false}\n  pipelines:\n    main: {receivers: [exec], exporters: [${files.map((_, i) => `file/${i}`).join(', ')}]}\n`;
}

const lines = (path: string): Record<string, unknown>[] =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];

/** Runs `count` echo processes, one after the other, each with a unique numbered argument. */
function storm(tag: string, count: number): ChildProcess {
  return spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${count} ]; do /bin/echo ${tag}-$i; i=$((i+1)); done`], { stdio: 'ignore' });
}

function echoNumbers(path: string, tag: string): number[] {
  return lines(path)
    .filter((r) => r['event.name'] === 'process.exec' && String((r['process.command_args'] as string[] | undefined)?.[1] ?? '').startsWith(`${tag}-`))
    .map((r) => Number(String((r['process.command_args'] as string[])[1]).slice(tag.length + 1)));
}

/** The first agent log line with this message, parsed. */
function logged(log: string, msg: string): Record<string, unknown> | undefined {
  return log.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg === msg);
}

async function startAgent(cfg: string, extra: string[] = []): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(process.execPath, [KITE, 'run', '--config', cfg, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  await waitFor(() => (err.includes('"msg":"ready"') ? true : child.exitCode !== null ? (() => { throw new Error(err); })() : undefined), 15000, 'ready');
  return { child, log: () => err };
}

test('SIGHUP adds an exporter under load: nothing lost, programs untouched; a bad config is rejected', async () => {
  const dir = tempDir('reload');
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, config([a]));
  const agent = await startAgent(cfg);
  try {
    const before = bpfIdsOf(agent.child.pid!);
    const tag = `kite-${randomUUID()}`;
    const n = 300;
    const load = storm(tag, n);
    const loadDone = once(load, 'exit');
    await waitFor(() => (echoNumbers(a, tag).length > 20 ? true : undefined), 5000, 'the storm to be under way');
    writeFileSync(cfg, config([a, b]));
    agent.child.kill('SIGHUP');
    await waitFor(() => (agent.log().includes('"msg":"reloaded"') ? true : undefined), 5000, 'the reload');
    await loadDone;
    await waitFor(() => (echoNumbers(a, tag).length >= n ? true : undefined), 3000, 'every echo in the first file');
    const inA = echoNumbers(a, tag);
    assert.deepEqual([...new Set(inA)].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), 'every event reached the kept exporter');
    assert.equal(inA.length, n, 'and only once: the receiver was kept, not swapped');
    const inB = echoNumbers(b, tag);
    assert.ok(inB.length > 0 && inB.length < n, `the new exporter got the events after the switch (${inB.length})`);
    assert.deepEqual(inB, inA.slice(n - inB.length), 'the new exporter got a gap-free tail');
    const after = bpfIdsOf(agent.child.pid!);
    assert.deepEqual(after.progs, before.progs, 'the exec programs stayed attached');
    assert.deepEqual(after.links, before.links);
    assert.equal(logged(agent.log(), 'reloaded')?.receivers_kept, 1);

    // a bad config is rejected with its problems; the running pipelines carry on
    writeFileSync(cfg, 'receivers:\n  exec: {max_args: none}\n');
    agent.child.kill('SIGHUP');
    await waitFor(() => (agent.log().includes('reload rejected') ? true : undefined), 5000, 'the rejection');
    assert.ok((logged(agent.log(), 'reload rejected: the running config stays')!.problems as string[]).includes('receivers.exec.max_args: an integer from 1 to 4096, got "none"'));
    const tag2 = `kite-${randomUUID()}`;
    await once(spawn('/bin/echo', [`${tag2}-0`], { stdio: 'ignore' }), 'exit');
    await waitFor(() => (echoNumbers(a, tag2).length === 1 && echoNumbers(b, tag2).length === 1 ? true : undefined), 2000, 'events still flowing to both exporters');
  } finally {
    agent.child.kill('SIGTERM');
    await once(agent.child, 'exit');
  }
  assert.equal(agent.child.exitCode, 0);
});

test('--watch-config swaps a changed receiver: duplicates at most, no gaps, the old programs unloaded', async () => {
  const dir = tempDir('reload');
  const a = join(dir, 'a.jsonl');
  const cfg = join(dir, 'kite.yaml');
  writeFileSync(cfg, config([a], 64));
  const agent = await startAgent(cfg, ['--watch-config']);
  try {
    const before = bpfIdsOf(agent.child.pid!);
    const tag = `kite-${randomUUID()}`;
    const n = 300;
    const load = storm(tag, n);
    const loadDone = once(load, 'exit');
    await waitFor(() => (echoNumbers(a, tag).length > 20 ? true : undefined), 5000, 'the storm to be under way');
    writeFileSync(cfg, config([a], 32)); // a changed receiver setting: a new instance
    await waitFor(() => (agent.log().includes('"msg":"reloaded"') ? true : undefined), 10000, 'the reload after the file changed');
    await loadDone;
    await waitFor(() => (new Set(echoNumbers(a, tag)).size >= n ? true : undefined), 3000, 'every echo');
    assert.deepEqual([...new Set(echoNumbers(a, tag))].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), 'no gap across the swap');
    const r = logged(agent.log(), 'reloaded')!;
    assert.equal(r.receivers_kept, 0);
    assert.equal(r.receivers_started, 1);
    const after = bpfIdsOf(agent.child.pid!);
    assert.notDeepEqual(after.progs, before.progs, 'new programs for the new instance');
    const left = await waitUnloaded({ progs: before.progs, maps: [], links: before.links });
    assert.deepEqual(left.progs, [], 'the old instance\'s programs are gone');
  } finally {
    agent.child.kill('SIGTERM');
    await once(agent.child, 'exit');
  }
  assert.equal(agent.child.exitCode, 0);
});
