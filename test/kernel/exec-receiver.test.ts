/**
 * The exec receiver on the real kernel (root): a unique trigger binary with unique argv, run as a
 * non-root user, must be reported with its exact pid, parent pid, argv, uid and exit code; so must a
 * child it forks, and a process that was running before the receiver started.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { AddressInfo, connect, createServer } from 'node:net';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { execFactory } from '../../src/receivers/exec/factory';
import { ExecReceiver } from '../../src/receivers/exec/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';

const NOBODY = 65534;
let trigger: string;
let rx: ExecReceiver;
const host = testHost();
const records: KiteRecord[] = [];
let completed = false;
let preexisting: ChildProcess;
const preexistingTag = `kite-pre-${randomUUID()}`;

before(async () => {
  trigger = buildTestProgram('trigger');
  setLibbpfLogger(() => {});
  // started before the receiver: its exit must still carry its command line (seeded from /proc)
  preexisting = spawn('/bin/sh', ['-c', 'read line', preexistingTag], { stdio: ['pipe', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 100));
  rx = execFactory.create(parseComponentId('exec')!, settings(execFactory, { ring_buffer_size: '4MiB', filter: { exclude_self: false } }), host) as ExecReceiver;
  rx.records$.subscribe({ next: (r) => records.push(r), complete: () => { completed = true; } });
  await rx.start();
});

after(async () => {
  preexisting?.kill('SIGKILL');
  await rx?.shutdown();
});

const byPid = (pid: number, name: string) => (): KiteRecord | undefined =>
  records.find((r) => r['process.pid'] === pid && r['event.name'] === name);

async function runTrigger(args: string[], asNobody: boolean): Promise<{ pid: number; code: number | null }> {
  const cmd = asNobody ? 'setpriv' : trigger;
  const argv = asNobody ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', trigger, ...args] : args;
  const child = spawn(cmd, argv, { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { pid: child.pid!, code };
}

test('exec of a unique trigger as a non-root user: exact pid, ppid, argv, uid, exit code', async () => {
  const tag = `kite-${randomUUID()}`;
  const { pid, code } = await runTrigger(['7', tag, 'second arg'], true);
  assert.equal(code, 7);
  const exec = await waitFor(() => records.find((r) => r['process.pid'] === pid && r['event.name'] === 'process.exec' && r['process.executable.path'] === trigger), 1000, 'the exec record');
  assert.equal(exec['process.parent_pid'], process.pid);
  assert.deepEqual(exec['process.command_args'], [trigger, '7', tag, 'second arg']);
  assert.equal(exec['process.command_line'], `${trigger} 7 ${tag} second arg`);
  assert.equal(exec['process.user.id'], NOBODY);
  assert.equal(exec['process.real_user.id'], NOBODY);
  assert.equal(exec['process.group.id'], NOBODY);
  assert.equal(exec['process.user.name'], 'nobody');
  assert.equal(exec['kite.process.comm'], 'trigger');
  assert.equal(exec['process.executable.name'], 'trigger');
  assert.equal(exec['host.name'], 'test-host');
  const ms = Date.parse(exec.time);
  assert.ok(Math.abs(Date.now() - ms) < 5000, `wall-clock time ${exec.time}`);
  const fork = await waitFor(byPid(pid, 'process.fork'), 1000, 'the fork record');
  assert.equal(fork['process.parent_pid'], process.pid);
  const exit = await waitFor(byPid(pid, 'process.exit'), 1000, 'the exit record');
  assert.equal(exit['process.exit.code'], 7);
  assert.equal(exit['process.executable.path'], trigger);
  assert.equal(exit['kite.process.exec_id'], exec['kite.process.exec_id']);
  const ids = new Set(records.map((r) => r['kite.event_id']));
  assert.equal(ids.size, records.length, 'every kite.event_id is unique');
});

test('a child forked by the trigger: fork and exit with the trigger as parent', async () => {
  const tag = `kite-${randomUUID()}`;
  const { pid, code } = await runTrigger(['0', 'fork', '5', tag], false);
  assert.equal(code, 0);
  const child = await waitFor(() => records.find((r) => r['event.name'] === 'process.fork' && r['process.parent_pid'] === pid), 1000, 'the child fork');
  const childPid = child['process.pid'] as number;
  assert.notEqual(childPid, pid);
  assert.equal(child['process.executable.path'], trigger, 'a forked child runs its parent\'s program');
  assert.deepEqual(child['process.command_args'], [trigger, '0', 'fork', '5', tag]);
  assert.equal(child['process.user.id'], 0);
  const childExit = await waitFor(byPid(childPid, 'process.exit'), 1000, 'the child exit');
  assert.equal(childExit['process.exit.code'], 5);
  assert.equal(childExit['process.parent_pid'], pid);
  const parentExit = await waitFor(byPid(pid, 'process.exit'), 1000, 'the trigger exit');
  assert.equal(parentExit['process.exit.code'], 0);
  assert.ok(records.indexOf(childExit) < records.indexOf(parentExit), 'the child exits first');
});

test('a process killed by a signal reports the signal', async () => {
  const child = spawn(trigger, ['0', 'sleep', '60', `kite-${randomUUID()}`], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  const exit = await waitFor(byPid(child.pid!, 'process.exit'), 1000, 'the exit record');
  assert.equal(exit['kite.process.exit.signal'], 9);
  assert.equal(exit['process.exit.code'], undefined);
});

test('a process that was running before the receiver started is known at its exit', async () => {
  assert.equal(preexisting.exitCode, null, 'still running');
  const exited = once(preexisting, 'exit');
  preexisting.kill('SIGTERM');
  await exited;
  const exit = await waitFor(byPid(preexisting.pid!, 'process.exit'), 1000, 'the exit of the earlier process');
  assert.deepEqual(exit['process.command_args'], ['/bin/sh', '-c', 'read line', preexistingTag]);
  assert.equal(exit['process.executable.path'], '/usr/bin/dash');
  assert.equal(exit['process.parent_pid'], process.pid);
  assert.equal(exit['kite.process.exit.signal'], 15);
});

test('argv longer than max_arg_bytes is cut and flagged', async () => {
  const long = 'x'.repeat(5000);
  const { pid } = await runTrigger(['0', long], false);
  const exec = await waitFor(() => records.find((r) => r['process.pid'] === pid && r['event.name'] === 'process.exec' && r['process.executable.path'] === trigger), 1000, 'the exec record');
  assert.equal(exec['kite.process.args_truncated'], true);
  const args = exec['process.command_args'] as string[];
  assert.equal(args[0], trigger);
  assert.equal(args.join('\0').length, 4096, 'exactly max_arg_bytes of argv: the cut argument has no terminator');
});

test('stdin, stdout and stderr at exec: a regular file, /dev/null, a TCP socket; a pipe and a terminal; and the previous exec id', async () => {
  const tag = `kite-stdio-${randomUUID()}`;
  const server = createServer((s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  const file = openSync('/proc/self/status', 'r');
  try {
    // the shell execs the trigger in place: one process, two programs
    const child = spawn('/bin/sh', ['-c', `exec ${trigger} 0 ${tag}`], { stdio: [file, 'ignore', sock] });
    await once(child, 'exit');
    const exec = await waitFor(() => records.find((r) => r['process.pid'] === child.pid && r['event.name'] === 'process.exec' && r['process.executable.path'] === trigger), 1000, 'the exec record');
    assert.equal(exec['kite.process.stdin.type'], 'file');
    const ownCgroup = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
    assert.equal(exec['kite.cgroup.name'], ownCgroup.split('/').pop() || undefined, 'the cgroup directory\'s name (the test\'s own, inherited)');
    assert.equal(exec['kite.process.stdout.type'], 'char_device', '/dev/null');
    assert.equal(exec['kite.process.stderr.type'], 'inet_socket');
    const shell = records.find((r) => r['process.pid'] === child.pid && r['event.name'] === 'process.exec' && r['process.executable.path'] !== trigger);
    assert.ok(shell, 'the shell\'s own exec record');
    assert.equal(exec['kite.process.previous_exec_id'], shell['kite.process.exec_id'], 'the program the process ran before this exec');
    assert.notEqual(exec['kite.process.exec_id'], shell['kite.process.exec_id']);
  } finally {
    closeSync(file);
    sock.destroy();
    server.close();
  }
  // a pipe, and a pseudo-terminal from script(1)
  const piped = spawn(trigger, ['0', `${tag}-pipe`], { stdio: ['ignore', 'pipe', 'ignore'] });
  piped.stdout!.resume();
  await once(piped, 'exit');
  const p = await waitFor(() => records.find((r) => r['process.pid'] === piped.pid && r['event.name'] === 'process.exec'), 1000, 'the piped exec');
  assert.ok(['pipe', 'unix_socket'].includes(String(p['kite.process.stdout.type'])), `node's stdio pipes: ${String(p['kite.process.stdout.type'])}`);
  const shellPipe = spawn('/bin/sh', ['-c', `${trigger} 0 ${tag}-fifo | cat`], { stdio: 'ignore' });
  await once(shellPipe, 'exit');
  const f = await waitFor(() => records.find((r) => r['event.name'] === 'process.exec' && String(r['process.command_line']).endsWith(`${tag}-fifo`)), 1000, 'the exec in a shell pipeline');
  assert.equal(f['kite.process.stdout.type'], 'pipe');
  const tty = spawn('script', ['-qec', `${trigger} 0 ${tag}-tty`, '/dev/null'], { stdio: 'ignore' });
  await once(tty, 'exit');
  const t = await waitFor(() => records.find((r) => r['event.name'] === 'process.exec' && r['process.executable.path'] === trigger && String(r['process.command_line']).endsWith(`${tag}-tty`)), 1000, 'the exec on a terminal');
  assert.equal(t['kite.process.stdin.type'], 'tty');
  assert.equal(t['kite.process.stdout.type'], 'tty');
});

test('no kernel drops and no decode errors in this run; shutdown completes the stream and unloads everything', async () => {
  const ids = bpfIdsOf(process.pid);
  assert.ok(ids.progs.length + ids.links.length >= 3, `the receiver holds its programs and links: ${JSON.stringify(ids)}`);
  rx.pollKernelStats();
  const stats = host.stats.snapshot()['receiver/exec']!;
  assert.equal(stats.ring_full, 0);
  assert.equal(Object.keys(stats).filter((k) => k.startsWith('decode_errors')).length, 0, JSON.stringify(stats));
  assert.equal(stats.received, stats.emitted);
  await rx.shutdown();
  await rx.shutdown(); // safe twice
  assert.equal(completed, true, 'records$ completes');
  const left = await waitUnloaded(ids);
  assert.deepEqual(left, { progs: [], maps: [], links: [] }, 'nothing of the receiver is left in the kernel');
});
