// kite:host-only (runs podman containers, which the test guest does not have)
/**
 * `kite advise seccomp` for containers, applied for real: a container recorded through its parent
 * cgroup from before it starts (--after-seccomp: runc's calls after it applies the profile count, its
 * set-up before does not) runs again under the profile with podman and runc; the same workload plus a
 * call it never made fails with the profile's errno. A running container is recorded by its id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITE } from '../helpers/paths';
import { bpfIdsOf, BpfIds, waitFor, waitUnloaded } from '../helpers/kernel';
import { buildBusyboxImage, PODMAN_RUN, unifiedCgroupRoot } from '../helpers/containers';

const TAG = randomUUID().slice(0, 8);
const IMAGE = `localhost/kite-advise-${TAG}:latest`;
const WORK = 'cat /etc/kite-data > /tmp/copy && cat /tmp/copy && echo done';
let removeImage: () => void = () => {};
let dir = '';

before(() => {
  removeImage = buildBusyboxImage(IMAGE, { 'kite-data': `data-${TAG}\n` });
  dir = mkdtempSync(join(tmpdir(), 'kite-advise-'));
});

after(() => {
  removeImage();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  closed: Promise<[number | null, NodeJS.Signals | null]>;
}

function run(cmd: string, args: string[]): Run {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  return { child, out: () => out, err: () => err, closed: once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]> };
}

const kite = (args: string[]): Run => run(process.execPath, [KITE, 'advise', 'seccomp', ...args]);

async function recording(k: Run): Promise<BpfIds> {
  await waitFor(() => (k.err().includes(': recording ') ? true : k.child.exitCode !== null ? (() => { throw new Error(`kite exited: ${k.err()}`); })() : undefined), 15000, 'the recording line');
  return bpfIdsOf(k.child.pid!);
}

async function podmanRun(opts: string[], script: string): Promise<{ code: number | null; out: string; err: string }> {
  const r = run('podman', [...PODMAN_RUN, ...opts, IMAGE, '/bin/sh', '-c', script]);
  const [code] = await r.closed;
  return { code, out: r.out(), err: r.err() };
}

/** Removes a top-level cgroup from every hierarchy (v1 controllers and v2), deepest folders first. */
function removeCgroup(name: string): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', h, name);
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      dirs.push(d);
    };
    walk(top);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // still busy: left for the next run to see
      }
    }
  }
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: { names: string[]; action: string }[];
}

test('a container recorded through its parent cgroup from before it starts runs again under the profile; a call it never made fails with EPERM', async () => {
  const cgroup = `kite-advise-${TAG}`;
  mkdirSync(join(unifiedCgroupRoot(), cgroup));
  try {
    const profile = join(dir, 'container.json');
    const k = kite(['--after-seccomp', '--cgroup', `/${cgroup}`, '-o', profile]);
    const ids = await recording(k);
    const recorded = await podmanRun(['--cgroup-parent', `/${cgroup}`], WORK);
    assert.equal(recorded.code, 0, recorded.err);
    assert.equal(recorded.out, `data-${TAG}\ndone\n`);
    const [code] = await k.closed; // ends by itself: the cgroup is empty once the container is gone
    assert.equal(code, 0, k.err());
    assert.match(k.err(), /the cgroup is empty: \d+ calls of \d+ system calls recorded/);
    assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });

    const p = JSON.parse(readFileSync(profile, 'utf8')) as Profile;
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64']);
    const names = p.syscalls.flatMap((s) => s.names);
    for (const want of ['execve', 'openat', 'read', 'write', 'exit_group']) assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
    // runc's set-up before it applies the profile is left out
    for (const setup of ['mount', 'pivot_root', 'unshare', 'sethostname', 'seccomp']) assert.ok(!names.includes(setup), `${setup} is runc's own, before the profile`);
    assert.ok(!names.includes('mkdir') && !names.includes('mkdirat'));

    const again = await podmanRun(['--security-opt', `seccomp=${profile}`], WORK);
    assert.equal(again.code, 0, `the workload runs under its profile: ${again.err}`);
    assert.equal(again.out, `data-${TAG}\ndone\n`);

    const more = `${WORK} && busybox mkdir /tmp/new && echo made`;
    const denied = await podmanRun(['--security-opt', `seccomp=${profile}`], more);
    assert.notEqual(denied.code, 0);
    assert.match(denied.err, /mkdir: can't create directory '\/tmp\/new': Operation not permitted/);
    assert.equal(denied.out, `data-${TAG}\ndone\n`, 'everything up to the new call worked');
    const control = await podmanRun([], more);
    assert.equal(control.code, 0, `the same workload under podman's default profile: ${control.err}`);
    assert.equal(control.out, `data-${TAG}\ndone\nmade\n`);
  } finally {
    removeCgroup(cgroup);
  }
});

test('-- podman run with --after-seccomp: the container alone is recorded, not podman, conmon or runc before the profile', async () => {
  const profile = join(dir, 'podman-run.json');
  const k = kite(['--after-seccomp', '-o', profile, '--', 'podman', ...PODMAN_RUN, IMAGE, '/bin/sh', '-c', WORK]);
  const [code] = await k.closed;
  assert.equal(code, 0, k.err());
  assert.equal(k.out(), `data-${TAG}\ndone\n`);
  const names = (JSON.parse(readFileSync(profile, 'utf8')) as Profile).syscalls.flatMap((s) => s.names);
  for (const notContainer of ['mount', 'pivot_root', 'bpf', 'socket', 'connect', 'mkdirat']) assert.ok(!names.includes(notContainer), `${notContainer} is podman's or runc's own`);
  const again = await podmanRun(['--security-opt', `seccomp=${profile}`], WORK);
  assert.equal(again.code, 0, again.err);
  assert.equal(again.out, `data-${TAG}\ndone\n`);
});

test('a running container recorded by a prefix of its id, for a duration', async () => {
  const started = run('podman', [...PODMAN_RUN.filter((a) => a !== '--rm'), '-d', IMAGE, '/bin/sh', '-c', 'while true; do cat /etc/kite-data >/dev/null; done']);
  const [code] = await started.closed;
  assert.equal(code, 0, started.err());
  const id = started.out().trim();
  try {
    const k = kite(['--cgroup', id.slice(0, 12), '--duration', '500ms']);
    const [kcode] = await k.closed;
    assert.equal(kcode, 0, k.err());
    assert.match(k.err(), new RegExp(`recording cgroup /libpod_parent/libpod-${id} \\(container ${id.slice(0, 12)}\\)`));
    assert.match(k.err(), /the duration is over/);
    const names = (JSON.parse(k.out()) as Profile).syscalls.flatMap((s) => s.names);
    for (const want of ['execve', 'openat', 'wait4', 'exit_group']) assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
  } finally {
    await once(run('podman', ['rm', '-f', '-t', '0', id]).child, 'close');
  }
});
