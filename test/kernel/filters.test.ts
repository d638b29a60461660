/**
 * In-kernel filters (bpf/lib/filter.h) on the exec receiver: what is filtered never reaches user
 * space, what is kept arrives, and the kernel counts what it dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { execFactory } from '../../src/receivers/exec/factory';
import { ExecReceiver } from '../../src/receivers/exec/receiver';
import { cgroup2Root } from '../../src/receivers/filters';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { buildTestProgram, waitFor } from '../helpers/kernel';

setLibbpfLogger(() => {});
const trigger = buildTestProgram('trigger');

async function withReceiver(filter: Record<string, unknown>, body: (records: KiteRecord[], rx: ExecReceiver, host: ReturnType<typeof testHost>) => Promise<void>): Promise<void> {
  const host = testHost();
  const rx = execFactory.create(parseComponentId('exec/filtered')!, settings(execFactory, { ring_buffer_size: '1MiB', filter }), host) as ExecReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  try {
    await body(records, rx, host);
  } finally {
    await rx.shutdown();
  }
}

async function run(cmd: string, args: string[], opts: { uid?: number } = {}): Promise<number> {
  const argv = opts.uid !== undefined ? [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', cmd, ...args] : args;
  const child = spawn(opts.uid !== undefined ? 'setpriv' : cmd, argv, { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

const execOf = (records: KiteRecord[], tag: string) => records.find((r) => r['event.name'] === 'process.exec' && (r['process.command_args'] as string[] | undefined)?.includes(tag));

test('include uids: only that user\'s processes are reported; the rest are counted as filtered', async () => {
  await withReceiver({ include: { uids: [65534] } }, async (records, rx, host) => {
    const rootTag = `kite-${randomUUID()}`;
    const nobodyTag = `kite-${randomUUID()}`;
    await run(trigger, ['0', rootTag]);
    const pid = await run(trigger, ['0', nobodyTag], { uid: 65534 });
    const kept = await waitFor(() => execOf(records, nobodyTag), 1000, 'the exec by nobody');
    assert.equal(kept['process.pid'], pid);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(execOf(records, rootTag), undefined, 'root\'s exec never reached user space');
    assert.ok(records.every((r) => r['process.real_user.id'] === 65534 || r['event.name'] !== 'process.exec'), 'no exec of another user');
    rx.pollKernelStats();
    assert.ok((host.stats.snapshot()['receiver/exec/filtered']!.filtered ?? 0) > 0, 'filtered events are counted');
  });
});

test('exclude comms: a command name is dropped in the kernel, others pass', async () => {
  await withReceiver({ exclude: { comms: ['trigger'] } }, async (records) => {
    const tag = `kite-${randomUUID()}`;
    const echoTag = `kite-${randomUUID()}`;
    await run(trigger, ['0', tag]);
    await run('/bin/echo', [echoTag]);
    await waitFor(() => execOf(records, echoTag), 1000, 'the echo exec');
    assert.equal(execOf(records, tag), undefined);
  });
});

test('include cgroups: only processes in that cgroup v2 folder are reported', async () => {
  const dir = join(cgroup2Root(), `kite-test-${process.pid}`);
  mkdirSync(dir);
  try {
    await withReceiver({ include: { cgroups: [dir] } }, async (records) => {
      const inTag = `kite-${randomUUID()}`;
      const outTag = `kite-${randomUUID()}`;
      await run(trigger, ['0', outTag]);
      // a shell that moves itself into the cgroup, then runs the trigger
      const sh = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec ${trigger} 0 ${inTag}`], { stdio: 'ignore' });
      await once(sh, 'exit');
      const rec = await waitFor(() => execOf(records, inTag), 1000, 'the exec inside the cgroup');
      assert.equal(rec['process.pid'], sh.pid);
      assert.equal(execOf(records, outTag), undefined);
    });
  } finally {
    rmdirSync(dir);
  }
});

test('the agent\'s own process is excluded by default', async () => {
  await withReceiver({}, async (records) => {
    // a fork by this process (the receiver's own) is dropped; a grandchild's fork is not
    const tag = `kite-${randomUUID()}`;
    const pid = await run('/bin/sh', ['-c', `${trigger} 0 ${tag}`]);
    await waitFor(() => execOf(records, tag), 1000, 'the grandchild exec');
    assert.equal(records.find((r) => r['event.name'] === 'process.fork' && r['process.pid'] === pid), undefined, 'the fork by the agent itself is not reported');
    assert.ok(records.find((r) => r['event.name'] === 'process.fork' && r['process.parent_pid'] === pid), 'the shell\'s fork is reported');
  });
});

