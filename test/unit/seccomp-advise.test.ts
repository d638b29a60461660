/** `kite advise seccomp` without the kernel: syscall tables from UAPI headers, the profile, arguments, cgroup lookup. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyscallTable, parseUnistdDefines, SyscallTable, syscallTablePath } from '../../src/commands/seccomp/syscall-table';
import { buildProfile, CallCounts } from '../../src/commands/seccomp/profile';
import { AdviseArgs, parseAdviseArgs } from '../../src/commands/seccomp/advise';
import { resolveCgroup } from '../../src/commands/seccomp/target';

test('parseUnistdDefines: plain numbers, macro indirections (arm64), x32 numbers with their bit dropped, counts left out', () => {
  const text = [
    '#define __NR_read 0',
    '#define __NR3264_fcntl 25',
    '#define __NR_fcntl __NR3264_fcntl',
    '#define __X32_SYSCALL_BIT 0x40000000',
    '#define __NR_execve (__X32_SYSCALL_BIT + 520)',
    '#define __NR_syscalls 451',
    '#define __NR_sync_file_range2 84UL',
    '#define __NR_broken __NR_nowhere',
    '#define _ASM_UNISTD_H',
  ].join('\n');
  assert.deepEqual(parseUnistdDefines(text, 0x40000000), { 0: 'read', 25: 'fcntl', 84: 'sync_file_range2', 520: 'execve' });
});

test('the table of this machine comes from its UAPI headers, and the build\'s copy is current', () => {
  const t = generateSyscallTable();
  assert.deepEqual(JSON.parse(readFileSync(syscallTablePath(), 'utf8')), JSON.parse(JSON.stringify(t)), 'make build wrote the same table');
  assert.ok(Object.keys(t.abis.native!.names).length > 300);
  if (process.arch === 'x64') {
    assert.equal(t.abis.native!.scmpArch, 'SCMP_ARCH_X86_64');
    assert.equal(t.abis.native!.names[0], 'read');
    assert.equal(t.abis.native!.names[59], 'execve');
    assert.equal(t.abis.native!.names[20], 'writev');
    assert.equal(t.abis.compat!.scmpArch, 'SCMP_ARCH_X86');
    assert.equal(t.abis.compat!.names[11], 'execve');
    assert.equal(t.abis.compat!.names[20], 'getpid');
    assert.equal(t.abis.x32!.scmpArch, 'SCMP_ARCH_X32');
    assert.equal(t.abis.x32!.names[520], 'execve');
  } else {
    assert.equal(process.arch, 'arm64');
    assert.equal(t.abis.native!.scmpArch, 'SCMP_ARCH_AARCH64');
    assert.equal(t.abis.native!.names[63], 'read');
    assert.equal(t.abis.native!.names[221], 'execve');
  }
});

const TABLE: SyscallTable = {
  arch: 'x64',
  abis: {
    native: { scmpArch: 'SCMP_ARCH_X86_64', header: 'asm/unistd_64.h', names: { 0: 'read', 1: 'write', 20: 'writev', 59: 'execve' } },
    compat: { scmpArch: 'SCMP_ARCH_X86', header: 'asm/unistd_32.h', names: { 3: 'read', 20: 'getpid' } },
    x32: { scmpArch: 'SCMP_ARCH_X32', header: 'asm/unistd.h', names: { 0: 'read' } },
  },
};

function counts(native: [number, bigint][], compat: [number, bigint][] = [], outOfRange = 0n): CallCounts {
  return { calls: { native: new Map(native), compat: new Map(compat), x32: new Map() }, outOfRange: { native: outOfRange, compat: 0n, x32: 0n } };
}

test('buildProfile: native names only, sorted, with the errno asked for', () => {
  const { profile, report } = buildProfile(counts([[59, 1n], [0, 10n], [1, 3n]]), TABLE, 1);
  assert.deepEqual(profile, {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['execve', 'read', 'write'], action: 'SCMP_ACT_ALLOW' }],
  });
  assert.equal(report.calls, 14n);
  assert.deepEqual(report.unnamed, []);
});

test('buildProfile: 32-bit calls are named from their own table and add their architecture; unknown numbers are reported, not guessed', () => {
  const { profile, report } = buildProfile(counts([[0, 1n], [999, 2n]], [[20, 1n], [3, 1n]], 4n), TABLE, 38);
  assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(profile.syscalls[0]!.names, ['getpid', 'read'], 'compat 20 is getpid, not the native writev');
  assert.equal(profile.defaultErrnoRet, 38);
  assert.deepEqual(report.names, { native: ['read'], compat: ['getpid', 'read'] });
  assert.deepEqual(report.unnamed, [{ abi: 'native', nr: 999 }]);
  assert.deepEqual(report.outOfRange, { native: 4n });
});

test('buildProfile: nothing recorded gives a profile that allows nothing', () => {
  assert.deepEqual(buildProfile(counts([]), TABLE, 1).profile.syscalls, []);
});

test('parseAdviseArgs: options, and everything after -- is the command', () => {
  const a = parseAdviseArgs(['-o', 'p.json', '--duration=2s', '--errno', 'enosys', '--after-seccomp', '--', 'sh', '-c', 'x', '--pid', '3'], '/work') as AdviseArgs;
  assert.equal(a.output, '/work/p.json');
  assert.equal(a.durationMs, 2000);
  assert.equal(a.errno, 38);
  assert.equal(a.errnoName, 'ENOSYS');
  assert.equal(a.afterSeccomp, true);
  assert.deepEqual(a.target, { kind: 'command', argv: ['sh', '-c', 'x', '--pid', '3'] });
  assert.deepEqual((parseAdviseArgs(['--pid', '42', '--errno', '13']) as AdviseArgs).target, { kind: 'pid', arg: '42' });
  assert.equal((parseAdviseArgs(['--cgroup', '/a', '--errno', '13']) as AdviseArgs).errnoName, 'EACCES');
  assert.equal((parseAdviseArgs(['--help']) as AdviseArgs).help, true);
  for (const [args, message] of [
    [['--pid'], /--pid needs a process id/],
    [['--'], /-- needs a command to run/],
    [['--cgroup', '/a', '--pid', '1'], /not several/],
    [['--duration', '0s', '--pid', '1'], /expected a duration/],
    [['--errno', '0', '--pid', '1'], /--errno: expected/],
    [['--verbose'], /unknown argument "--verbose" \(a command to record goes after --\)/],
    [['--after-seccomp=yes', '--pid', '1'], /--after-seccomp takes no value/],
  ] as [string[], RegExp][]) {
    const r = parseAdviseArgs(args);
    assert.equal(typeof r, 'string', args.join(' '));
    assert.match(r as string, message);
  }
});

test('resolveCgroup: a mount folder, a /proc/PID/cgroup path, or a container id prefix; errors name what was looked for', () => {
  const root = mkdtempSync(join(tmpdir(), 'kite-cg-'));
  try {
    const a = 'a'.repeat(12) + '1'.repeat(52);
    const b = 'a'.repeat(12) + '2'.repeat(52);
    mkdirSync(join(root, 'libpod_parent', `libpod-${a}`), { recursive: true });
    mkdirSync(join(root, 'system.slice', `docker-${b}.scope`), { recursive: true });
    assert.deepEqual(resolveCgroup(`${a.slice(0, 14)}`, root), { dir: join(root, 'libpod_parent', `libpod-${a}`), path: `/libpod_parent/libpod-${a}`, containerId: a });
    assert.equal(resolveCgroup(b, root).path, `/system.slice/docker-${b}.scope`);
    assert.deepEqual(resolveCgroup('/system.slice', root), { dir: join(root, 'system.slice'), path: '/system.slice' });
    assert.equal(resolveCgroup(join(root, 'libpod_parent'), root).path, '/libpod_parent');
    assert.throws(() => resolveCgroup('a'.repeat(12), root), /the prefix matches 2 containers/);
    assert.throws(() => resolveCgroup('b'.repeat(12), root), /container b{12}: no cgroup of a running container with this id/);
    assert.throws(() => resolveCgroup('/nope', root), /cgroup \/nope: no such cgroup in the cgroup v2 hierarchy/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
