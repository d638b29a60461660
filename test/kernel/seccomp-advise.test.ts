// kite:guest-all-only (starts `kite advise seccomp` as a separate process again and again: minutes each under emulation; make test-guest-all runs it in the guest)
/**
 * `kite advise seccomp` on host processes: a command from its execve on (with its children, and a
 * 32-bit call reported under its own ABI), a running pid with its descendants (and the call it is
 * blocked in), the errors users meet, and nothing left in the kernel after SIGINT or SIGTERM.
 * Profiles applied for real in containers: seccomp-advise-container.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITE } from '../helpers/paths';
import { bpfIdsOf, BpfIds, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';
import { loadSyscallTable } from '../../src/commands/seccomp/syscall-table';

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  closed: Promise<[number | null, NodeJS.Signals | null]>;
}

function kite(args: string[], stdin: 'ignore' | 'pipe' = 'ignore', prefix: string[] = []): Run {
  const child = spawn(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), KITE, 'advise', 'seccomp', ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, out: () => out, err: () => err, closed };
}

async function recording(k: Run): Promise<BpfIds> {
  await waitFor(() => (k.err().includes(': recording ') ? true : k.child.exitCode !== null ? (() => { throw new Error(`kite exited: ${k.err()}`); })() : undefined), 15000, 'the recording line');
  return bpfIdsOf(k.child.pid!);
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: { names: string[]; action: string }[];
}

const names = (p: Profile): string[] => p.syscalls.flatMap((s) => s.names);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kite-advise-'));
const table = loadSyscallTable();
const nativeNr = (name: string): number => Number(Object.entries(table.abis.native!.names).find(([, n]) => n === name)![0]);

test('-- COMMAND: execve, the dynamic loader and the children are recorded, a process outside is not; a 32-bit call is named from its own table', async () => {
  const work = buildTestProgram('advisework');
  const dir = tmp();
  try {
    const out = join(dir, 'profile.json');
    const k = kite(['-o', out, '--', '/bin/sh', '-c', `${work} --child --int80; sleep 0.5`]);
    const ids = await recording(k);
    assert.ok(ids.progs.length + ids.links.length >= 4, `the recorder holds its programs: ${JSON.stringify(ids)}`);
    // a process the recording does not follow, making a call the command never makes
    const outside = spawnSync(work, ['--mkdir', join(dir, 'outside')], { encoding: 'utf8' });
    assert.equal(outside.status, 0, outside.stderr);
    const [code] = await k.closed;
    assert.equal(code, 0, k.err());
    assert.equal(k.out(), `int80 getpid ${k.out().match(/getpid (\d+)/)?.[1]}\nadvisework done\n`, 'standard output is the command\'s own (the profile goes to the file)');
    const p = JSON.parse(readFileSync(out, 'utf8')) as Profile;
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(p.defaultErrnoRet, 1);
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], '32-bit calls were seen: their architecture is added');
    assert.deepEqual(p.syscalls.map((s) => s.action), ['SCMP_ACT_ALLOW']);
    const n = names(p);
    assert.deepEqual(n, [...n].sort(), 'names sorted');
    for (const want of ['execve', 'openat', 'mmap', 'mprotect', 'sysinfo', 'getrusage', 'getcpu', 'wait4', 'clock_nanosleep', 'exit_group']) {
      assert.ok(n.includes(want), `${want} in the profile (${n.join(' ')})`);
    }
    assert.ok(!n.includes('mkdir'), 'mkdir was made only by a process outside the recording');
    assert.ok(!n.includes('writev'), 'the 32-bit getpid (i386 number 20) is not mistaken for the native call 20 (writev)');
    assert.match(k.err(), /32-bit \(compat\) system calls seen, named from asm\/unistd_32\.h: getpid; the profile adds SCMP_ARCH_X86/);
    assert.match(k.err(), /the command exited \(code 0\): \d+ calls of \d+ system calls recorded/);
    assert.match(k.err(), /profile written to .*profile\.json: \d+ system calls allowed, every other call fails with EPERM/);
    assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-- COMMAND without --output: the profile alone on standard output, the command\'s output on standard error, its exit code passed on', async () => {
  const work = buildTestProgram('advisework');
  const k = kite(['--errno', 'ENOSYS', '--', work, '--mkdir', '/nonexistent-kite/x']);
  const [code] = await k.closed;
  assert.equal(code, 3, 'advisework exits 3 when mkdir fails: kite exits with the command\'s code');
  const p = JSON.parse(k.out()) as Profile;
  assert.equal(p.defaultErrnoRet, 38, 'ENOSYS');
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64'], 'no 32-bit call, no 32-bit architecture');
  assert.ok(names(p).includes('mkdir'));
  assert.ok(names(p).includes('execve'));
  assert.ok(!names(p).includes('dup2') && !names(p).includes('dup3'), 'the dup2(2, 1) Node\'s child makes between fork and exec (standard output to standard error) is not the command\'s');
  assert.match(k.err(), /advisework: mkdir \/nonexistent-kite\/x: No such file or directory/);
  assert.match(k.err(), /the command exited with code 3/);
});

test('--pid: a running process and the child it forks later; the call it is blocked in counts, its calls before the recording do not', async () => {
  const work = buildTestProgram('advisework');
  const proc = spawn(work, ['--wait', '--child'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const dir = tmp();
  try {
    const ppoll = nativeNr('ppoll');
    await waitFor(() => {
      try {
        return readFileSync(`/proc/${proc.pid}/syscall`, 'utf8').startsWith(`${ppoll} `) ? true : undefined;
      } catch {
        return undefined;
      }
    }, 5000, 'the workload blocked in ppoll');
    const out = join(dir, 'profile.json');
    const k = kite(['--pid', String(proc.pid), '-o', out]);
    const ids = await recording(k);
    assert.match(k.err(), new RegExp(`recording pid ${proc.pid} and its descendants \\(1 process now\\)`));
    proc.stdin!.end('x');
    const [code] = await k.closed; // ends by itself once the process and its child have exited
    assert.equal(code, 0, k.err());
    assert.match(k.err(), /every process exited/);
    assert.match(k.err(), /1 call in progress when the recording began included/);
    const n = names(JSON.parse(readFileSync(out, 'utf8')) as Profile);
    for (const want of ['ppoll', 'getcpu', 'getrusage', 'wait4', 'exit_group']) assert.ok(n.includes(want), `${want} in ${n.join(' ')}`);
    for (const before of ['sysinfo', 'execve']) assert.ok(!n.includes(before), `${before} happened before the recording`);
    assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} ends a recording: the profile is written, exit 0, nothing left in the kernel`, async () => {
    const work = buildTestProgram('advisework');
    const proc = spawn(work, ['--wait'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const dir = tmp();
    try {
      await waitFor(() => (existsSync(`/proc/${proc.pid}/syscall`) && readFileSync(`/proc/${proc.pid}/syscall`, 'utf8').startsWith(`${nativeNr('ppoll')} `) ? true : undefined), 5000, 'blocked in ppoll');
      const out = join(dir, 'p.json');
      const k = kite(['--pid', String(proc.pid), '--output', out]);
      const ids = await recording(k);
      assert.ok(ids.progs.length > 0);
      k.child.kill(sig);
      const [code] = await k.closed;
      assert.equal(code, 0, k.err());
      assert.match(k.err(), new RegExp(`${sig} received`));
      assert.deepEqual(names(JSON.parse(readFileSync(out, 'utf8')) as Profile), ['ppoll'], 'only the call in progress: the process did nothing else');
      assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
    } finally {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('errors: a bad pid, an unknown cgroup or container, bad options, missing capabilities; CAP_BPF and CAP_PERFMON are enough', async () => {
  const cases: [string[], number, RegExp][] = [
    [['--pid', '999999999'], 2, /pid 999999999: no such process/],
    [['--pid', 'abc'], 2, /pid "abc": expected a positive integer/],
    [['--cgroup', '/kite-no-such-cgroup'], 2, /cgroup \/kite-no-such-cgroup: no such cgroup in the cgroup v2 hierarchy/],
    [['--cgroup', 'deadbeefdeadbeefdeadbeef'], 2, /container deadbeefdeadbeefdeadbeef: no cgroup of a running container with this id/],
    [['--cgroup', 'web'], 2, /expected a cgroup path starting with \/ or a container id/],
    [[], 2, /nothing to record: give -- COMMAND, --pid PID or --cgroup CGROUP/],
    [['--pid', '1', '--', 'true'], 2, /give one of -- COMMAND, --pid or --cgroup, not several/],
    [['--duration', 'soon', '--', 'true'], 2, /--duration: expected a duration such as 500ms/],
    [['--errno', 'EWHAT', '--', 'true'], 2, /--errno: expected an errno name/],
    [['--', 'kite-no-such-command'], 127, /cannot run "kite-no-such-command"/],
  ];
  for (const [args, status, message] of cases) {
    const k = kite(args);
    const [code] = await k.closed;
    assert.equal(code, status, `${args.join(' ')}: ${k.err()}`);
    assert.match(k.err(), message, args.join(' '));
    assert.equal(k.out(), '');
  }
  // as nobody with no capability at all
  const k = kite(['--', 'true'], 'ignore', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all']);
  const [code] = await k.closed;
  assert.equal(code, 1, k.err());
  assert.match(k.err(), /missing capabilities CAP_BPF, CAP_PERFMON: recording system calls loads BPF tracing programs; run as root or grant CAP_BPF and CAP_PERFMON/);
  // as nobody with exactly CAP_BPF and CAP_PERFMON: enough
  const caps = '+bpf,+perfmon';
  const least = kite(['--', '/bin/true'], 'ignore', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=-all,${caps}`, `--ambient-caps=${caps}`, `--bounding-set=-all,${caps}`]);
  const [leastCode] = await least.closed;
  assert.equal(leastCode, 0, least.err());
  assert.ok((JSON.parse(least.out()) as Profile).syscalls[0]!.names.includes('execve'));
  const help = spawnSync(process.execPath, [KITE, 'advise', 'seccomp', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /kite advise seccomp \[OPTIONS\] -- COMMAND \[ARGS\.\.\.\]/);
  assert.match(help.stdout, /--after-seccomp/);
});
