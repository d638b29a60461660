/**
 * The security receiver on the real kernel (root): each family is driven for real by the trigger
 * program test/kernel/privtool.c (or by bpftool) and the exact event is asserted: a set-user-ID copy run
 * by nobody that drops its effective uid and takes it back, capset, ptrace attach and
 * process_vm_writev into a child, module loads the kernel refuses (and, with module support, a real
 * load and unload of a harmless module such as dummy), a BPF program loaded by bpftool,
 * unshare of a mount and a network namespace with a tmpfs mounted and unmounted inside, the new mount
 * API (fsopen, fsconfig, fsmount, move_mount, mount_setattr, open_tree), setns, clone and clone3 with
 * new namespaces, and a listener on a loopback port. A second receiver whose filter excludes the
 * trigger proves that filtered-out processes produce nothing. Kernel-version aware: a syscall this
 * kernel has no tracepoint for (init_module and finit_module without module support, as on the
 * development host; the new mount API before 5.2/5.12) must be skipped with a log line, and is
 * asserted so. Nothing is left behind: the namespaces die with the trigger, the tmpfs is
 * mounted in the private mount namespace only, the set-user-ID copy and the pinned program are removed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { release } from 'node:os';
import { randomUUID } from 'node:crypto';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { securityFactory } from '../../src/receivers/security/factory';
import { SecurityReceiver } from '../../src/receivers/security/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { BPF_DIR, KITE, ROOT } from '../helpers/paths';
import { BpfObject } from '../../src/bpf/object';
import { ALL_TRACEPOINTS, MODULE_LOAD_PROGRAM, tracefsEvents } from '../../src/receivers/security/syscalls';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';
import { readRecordLines } from '../helpers/events';

const NOBODY = 65534;
let tool: string;
let dir: string;
let rx: SecurityReceiver;
let filtered: SecurityReceiver;
const host = testHost();
const filteredHost = testHost();
const records: KiteRecord[] = [];
const filteredRecords: KiteRecord[] = [];
let completed = false;
const EVENTS = tracefsEvents()!;
/** Whether this kernel has the tracepoints of syscall `tp` (as the receiver decides). */
const hasSyscall = (tp: string): boolean => existsSync(`${EVENTS}/syscalls/sys_enter_${tp}`);
const MODULES = hasSyscall('finit_module');
const skippedLog = (h: ReturnType<typeof testHost>): string[] =>
  (h.logs.find((l) => l.msg === 'syscalls without a tracepoint on this kernel: not watched')?.syscalls as string[] | undefined) ?? [];

before(async () => {
  tool = buildTestProgram('privtool');
  setLibbpfLogger(() => {});
  dir = mkdtempSync('/tmp/kite-security-');
  chmodSync(dir, 0o755);
  rx = securityFactory.create(parseComponentId('security')!, settings(securityFactory, { ring_buffer_size: '1MiB' }), host) as SecurityReceiver;
  rx.records$.subscribe({ next: (r) => records.push(r), complete: () => { completed = true; } });
  await rx.start();
  filtered = securityFactory.create(parseComponentId('security/no_privtool')!, settings(securityFactory, { ring_buffer_size: '256KiB', filter: { exclude: { comms: ['privtool', 'bpftool'] } } }), filteredHost) as SecurityReceiver;
  filtered.records$.subscribe((r) => filteredRecords.push(r));
  await filtered.start();
});

after(async () => {
  await rx?.shutdown();
  await filtered?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a command to its end (its output closed: the exit can come before the last output); returns its pid, exit code and stdout. */
async function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null; out: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const [code] = (await once(child, 'close')) as [number | null];
  return { pid: child.pid!, code, out: out.trim() };
}

const find = (pid: number, name: string, syscall: string, extra: (r: KiteRecord) => boolean = () => true) => (): KiteRecord | undefined =>
  records.find((r) => r['process.pid'] === pid && r['event.name'] === name && r['kite.syscall'] === syscall && extra(r));

const nothingFor = (pid: number): void => {
  const excluded = filteredRecords.filter((r) => r['process.pid'] === pid && ['privtool', 'bpftool'].includes(r['kite.process.comm'] as string));
  assert.deepEqual(excluded, [], 'the receiver that excludes the trigger saw nothing of it');
};

test('privilege: nobody runs a set-user-ID-root copy (exec changes the credentials), drops its effective uid and takes it back', async () => {
  const copy = join(dir, 'privtool');
  copyFileSync(tool, copy);
  chownSync(copy, 0, 0);
  chmodSync(copy, 0o4755);
  try {
    const { pid, code } = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', copy, 'seteuid']);
    assert.equal(code, 0);
    const exec = await waitFor(find(pid, 'process.privilege_change', 'execve'), 1000, 'the exec of the set-user-ID copy');
    assert.equal(exec['process.executable.path'], copy);
    assert.equal(exec['process.executable.name'], 'privtool');
    assert.equal(exec['kite.result'], 0);
    assert.equal(exec['kite.process.credentials_changed'], true);
    assert.equal(exec['kite.process.before.user.id'], NOBODY);
    assert.equal(exec['kite.process.before.real_user.id'], NOBODY);
    assert.equal(exec['kite.process.before.saved_user.id'], NOBODY);
    assert.equal(exec['process.user.id'], 0, 'effective root after the exec');
    assert.equal(exec['process.real_user.id'], NOBODY);
    assert.equal(exec['process.saved_user.id'], 0);
    assert.equal(exec['process.group.id'], NOBODY, 'set-user-ID only: the group is unchanged');
    assert.equal(exec['kite.process.comm'], 'privtool');
    const drop = await waitFor(find(pid, 'process.privilege_change', 'setresuid', (r) => r['kite.process.comm'] === 'privtool' && r['process.user.id'] === NOBODY), 1000, 'the drop');
    assert.deepEqual(drop['kite.privilege.requested_ids'], [-1, NOBODY, -1]);
    assert.equal(drop['kite.process.before.user.id'], 0);
    assert.equal(drop['process.real_user.id'], NOBODY);
    assert.equal(drop['process.saved_user.id'], 0);
    assert.equal(drop['kite.result'], 0);
    const back = await waitFor(find(pid, 'process.privilege_change', 'setresuid', (r) => r['process.user.id'] === 0 && r['kite.process.before.user.id'] === NOBODY), 1000, 'the way back');
    assert.deepEqual(back['kite.privilege.requested_ids'], [-1, 0, -1]);
    assert.ok(records.indexOf(exec) < records.indexOf(drop) && records.indexOf(drop) < records.indexOf(back), 'in order');
    // setpriv's own changes before its exec, as root: the same pid, another comm
    const setpriv = await waitFor(find(pid, 'process.privilege_change', 'setresuid', (r) => r['kite.process.comm'] === 'setpriv'), 1000, 'setpriv\'s setresuid');
    assert.equal(setpriv['kite.process.before.user.id'], 0);
    assert.equal(setpriv['process.real_user.id'], NOBODY);
    await new Promise((r) => setTimeout(r, 100));
    nothingFor(pid);
    assert.ok(filteredRecords.some((r) => r['process.pid'] === pid && r['kite.process.comm'] === 'setpriv'), 'setpriv is not excluded: the same pid is reported while it runs setpriv');
  } finally {
    rmSync(copy, { force: true });
  }
  assert.equal(existsSync(copy), false, 'the set-user-ID copy is removed');
});

test('privilege: exec of a file-capability binary by nobody gains exactly that capability', async () => {
  const copy = join(dir, 'privcap');
  copyFileSync(tool, copy);
  chmodSync(copy, 0o755);
  execFileSync('setcap', ['cap_net_bind_service+ep', copy]);
  try {
    // through a shell: setpriv keeps its capabilities until an exec, the shell's exec drops them
    const { pid, code } = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '/bin/sh', '-c', `exec ${copy} setuid0`]);
    assert.equal(code, 0);
    const exec = await waitFor(find(pid, 'process.privilege_change', 'execve', (r) => r['process.executable.path'] === copy), 1000, 'the exec of the file-capability binary');
    assert.equal(exec['kite.result'], 0);
    assert.equal(exec['kite.process.credentials_changed'], true);
    assert.deepEqual(exec['kite.process.capabilities.added'], ['CAP_NET_BIND_SERVICE']);
    assert.equal(exec['kite.process.before.capabilities.effective'], '0x0000000000000000');
    assert.equal(exec['kite.process.capabilities.effective'], '0x0000000000000400');
    assert.equal(exec['kite.process.capabilities.permitted'], '0x0000000000000400');
    assert.equal(exec['process.user.id'], NOBODY, 'no uid change: only capabilities');
    assert.equal(exec['kite.process.before.user.id'], NOBODY);
  } finally {
    rmSync(copy, { force: true });
  }
});

test('privilege: an exec that changes no credentials is not reported', async () => {
  const { pid } = await run(tool, ['none']);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(records.filter((r) => r['process.pid'] === pid), []);
});

test('privilege: a refused setuid(0) by nobody is an event with its errno; an include filter keeps only that user', async () => {
  const onlyNobody = testHost();
  const inc = securityFactory.create(parseComponentId('security/nobody')!, settings(securityFactory, { events: ['privilege'], ring_buffer_size: '256KiB', filter: { include: { uids: [NOBODY] } } }), onlyNobody) as SecurityReceiver;
  const kept: KiteRecord[] = [];
  inc.records$.subscribe((r) => kept.push(r));
  await inc.start();
  try {
    const { pid, code, out } = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', tool, 'setuid0']);
    assert.equal(code, 0);
    assert.equal(out, `${pid} -1 1`, 'the kernel refused with EPERM');
    const ev = await waitFor(find(pid, 'process.privilege_change', 'setuid', (r) => r['kite.process.comm'] === 'privtool'), 1000, 'the refused setuid');
    assert.equal(ev['kite.result'], 1);
    assert.equal(ev['kite.result.error'], 'EPERM');
    assert.deepEqual(ev['kite.privilege.requested_ids'], [0]);
    assert.equal(ev['kite.process.credentials_changed'], false);
    assert.equal(ev['process.user.id'], NOBODY);
    assert.equal(ev['kite.process.before.user.id'], NOBODY);
    await waitFor(() => kept.find((r) => r['process.pid'] === pid && r['kite.syscall'] === 'setuid' && r['kite.process.comm'] === 'privtool'), 1000, 'the include-uid receiver keeps it');
    const { pid: rootPid } = await run(tool, ['capset']);
    await waitFor(find(rootPid, 'process.privilege_change', 'capset'), 1000, 'root\'s capset on the unfiltered receiver');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(kept.filter((r) => r['process.pid'] === rootPid), [], 'root\'s capset is filtered out');
    assert.ok(kept.every((r) => r['process.real_user.id'] === NOBODY || r['kite.process.before.real_user.id'] === NOBODY), 'nothing of another user');
    inc.pollKernelStats();
    assert.ok((onlyNobody.stats.snapshot()['receiver/security/nobody']!.filtered ?? 0) > 0, 'counted as filtered');
    assert.equal(kept.filter((r) => r['event.name'] !== 'process.privilege_change').length, 0, 'events: [privilege] watches nothing else');
  } finally {
    await inc.shutdown();
  }
});

test('privilege: capset drops CAP_NET_RAW from the effective set', async () => {
  const { pid, code } = await run(tool, ['capset']);
  assert.equal(code, 0);
  const ev = await waitFor(find(pid, 'process.privilege_change', 'capset'), 1000, 'the capset');
  assert.equal(ev['kite.result'], 0);
  assert.equal(ev['kite.process.credentials_changed'], true);
  assert.deepEqual(ev['kite.process.capabilities.removed'], ['CAP_NET_RAW']);
  assert.equal(ev['kite.process.capabilities.added'], undefined);
  const before = BigInt(ev['kite.process.before.capabilities.effective'] as string);
  const afterCaps = BigInt(ev['kite.process.capabilities.effective'] as string);
  assert.equal(before & ~afterCaps, 1n << 13n);
  assert.equal(ev['kite.process.capabilities.permitted'], ev['kite.process.before.capabilities.permitted'], 'permitted unchanged');
  assert.equal(ev['process.user.id'], 0);
  nothingFor(pid);
});

test('ptrace: attach to a child (target pid and executable), then process_vm_writev into it', async () => {
  const { pid, code, out } = await run(tool, ['ptrace']);
  assert.equal(code, 0);
  const child = Number(out.split(' ')[1]);
  const attach = await waitFor(find(pid, 'process.ptrace', 'ptrace'), 1000, 'the attach');
  assert.equal(attach['kite.ptrace.request'], 'attach');
  assert.equal(attach['kite.result'], 0);
  assert.equal(attach['kite.target.process.pid'], child);
  assert.equal(attach['kite.target.process.executable.name'], 'privtool');
  assert.equal(attach['kite.target.process.comm'], 'privtool');
  assert.equal(attach['kite.target.process.real_user.id'], 0);
  const write = await waitFor(find(pid, 'process.vm_write', 'process_vm_writev'), 1000, 'the write');
  assert.equal(write['kite.target.process.pid'], child);
  assert.equal(write['kite.vm_write.bytes'], 8);
  assert.equal(write['kite.result'], 0);
  nothingFor(pid);
});

/** sizeof(struct module) and offsetof(struct module, name) of the running kernel, from its BTF. */
function structModule(): { size: number; nameOff: number } {
  const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 512 << 20 });
  const m = /^\[\d+\] STRUCT 'module' size=(\d+) vlen=\d+\n((?:\t.*\n)*)/m.exec(raw);
  assert.ok(m, 'struct module in the kernel BTF');
  const name = /^\t'name' type_id=\d+ bits_offset=(\d+)/m.exec(m[2]!);
  assert.ok(name, 'struct module has a name');
  return { size: Number(m[1]), nameOff: Number(name[1]) / 8 };
}

test('kernel: module loads are reported with the file path, the module name and the parameters, refused or not', async () => {
  const mod = structModule();
  const { pid, code, out } = await run(tool, ['module', tool, String(mod.size), String(mod.nameOff)]);
  assert.equal(code, 0);
  const [, r1, e1, r2, e2, len] = out.split(' ').map(Number);
  if (!MODULES) {
    // a kernel without module support (CONFIG_MODULES off) has neither syscall's tracepoint: no module
    // can be loaded at all, the calls fail with ENOSYS, and the family is skipped, said once at start
    assert.equal(e1, 38, 'ENOSYS');
    assert.deepEqual(skippedLog(host).filter((s) => s.endsWith('_module')), ['init_module', 'finit_module']);
    assert.ok(host.logs.some((l) => String(l.msg).startsWith('no module:module_load tracepoint')), 'the missing module_load tracepoint is logged');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(records.filter((r) => r['process.pid'] === pid), [], 'nothing reported, nothing failed');
    // a receiver of that family alone starts, attaches nothing, and says so
    const onlyHost = testHost();
    const only = securityFactory.create(parseComponentId('security/modules')!, settings(securityFactory, { events: ['module'], ring_buffer_size: '64KiB' }), onlyHost) as SecurityReceiver;
    await only.start();
    try {
      assert.deepEqual(only.watchedSyscalls, []);
      assert.ok(onlyHost.logs.some((l) => l.level === 'warn' && String(l.msg).startsWith('none of the chosen families has a hook')));
    } finally {
      await only.shutdown();
    }
    return;
  }
  const finit = await waitFor(find(pid, 'kernel.module_load', 'finit_module'), 1000, 'finit_module');
  assert.equal(finit['file.path'], tool, 'the absolute path of the file behind the fd');
  assert.equal(finit['file.name'], 'privtool');
  assert.equal(finit['kite.module.params'], 'kite_param=1');
  assert.equal(finit['kite.result'], r1 === 0 ? 0 : e1, 'the errno the caller saw');
  assert.ok((finit['kite.result'] as number) > 0, 'a test binary is never a module: refused');
  assert.equal(finit['kite.module.name'], undefined, 'not loaded: the kernel never named it');
  const init = await waitFor(find(pid, 'kernel.module_load', 'init_module'), 1000, 'init_module');
  assert.equal(init['kite.module.size'], len);
  assert.equal(init['kite.module.name'], 'kite_fakemod', 'read from .gnu.linkonce.this_module of the image');
  assert.equal(init['kite.module.params'], 'kite_param=2');
  assert.equal(init['kite.result'], r2 === 0 ? 0 : e2);
  assert.ok((init['kite.result'] as number) > 0, 'an image without symbols is refused');
  nothingFor(pid);
});

/** Modules safe to load and unload in a test (no device, no side effect), with the parameters that say so. */
const HARMLESS_MODULES: [string, string][] = [['dummy', 'numdummies=0'], ['ifb', 'numifbs=0'], ['nlmon', '']];

/** An uncompressed copy (or the file) of a harmless module of the running kernel that is not loaded:
 * from /lib/modules, or from the test guest's kernel package (test/vm/prepare.sh keeps it). */
function harmlessModule(): { path: string; name: string; params: string } | undefined {
  const rel = release();
  const roots = [`/lib/modules/${rel}`, `${process.env.KITE_VM_CACHE ?? '/var/cache/kite/vm'}/${rel}/root/lib/modules/${rel}`];
  for (const [name, params] of HARMLESS_MODULES) {
    if (existsSync(`/sys/module/${name}`)) continue;
    for (const root of roots) {
      const base = `${root}/kernel/drivers/net/${name}.ko`;
      if (existsSync(base)) return { path: base, name, params };
      for (const [ext, cmd] of [['.xz', 'xz'], ['.zst', 'zstd']] as const) {
        if (!existsSync(base + ext)) continue;
        const path = join(dir, `${name}.ko`);
        writeFileSync(path, execFileSync(cmd, ['-dc', base + ext]));
        return { path, name, params };
      }
    }
  }
  return undefined;
}

test('kernel: a module the kernel loads is named by the kernel (module:module_load); it is unloaded again', async () => {
  if (!MODULES) {
    assert.equal(existsSync(`${EVENTS}/module/module_load`), false, 'no module support: no module_load tracepoint either');
    return;
  }
  const mod = harmlessModule();
  assert.ok(mod, `a module of the running kernel (${HARMLESS_MODULES.map(([n]) => n).join(', ')}) under /lib/modules or the test guest's kernel package`);
  const { pid, code, out } = await run(tool, ['modload', mod.path, mod.name, mod.params]);
  assert.equal(code, 0);
  const [, r, e, d] = out.split(' ').map(Number);
  assert.equal(r, 0, `the kernel loaded ${mod.path} (errno ${e})`);
  assert.equal(d, 0, 'and unloaded it');
  const ev = await waitFor(find(pid, 'kernel.module_load', 'finit_module'), 3000, 'the load');
  assert.equal(ev['kite.result'], 0);
  assert.equal(ev['kite.module.name'], mod.name, 'the name the kernel loaded it under');
  assert.equal(ev['file.path'], mod.path);
  assert.equal(ev['kite.module.params'], mod.params);
  assert.equal(existsSync(`/sys/module/${mod.name}`), false, 'nothing left loaded');
  nothingFor(pid);
});

test('kernel: a BPF program loaded by bpftool: type, name, id and the loading process', async () => {
  const pin = `/sys/fs/bpf/kite_sec_${randomUUID().slice(0, 8)}`;
  try {
    const { pid, code } = await run('bpftool', ['prog', 'load', join(BPF_DIR, 'test', 'sec_probe.bpf.o'), pin]);
    assert.equal(code, 0);
    const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', pin], { encoding: 'utf8' })) as { id: number };
    const ev = await waitFor(find(pid, 'kernel.bpf_load', 'bpf', (r) => r['kite.bpf.program.name'] === 'kite_sec_probe'), 1000, 'the program load');
    assert.equal(ev['kite.bpf.command'], 'prog_load');
    assert.equal(ev['kite.bpf.program.type'], 'socket_filter');
    assert.equal(ev['kite.bpf.program.id'], info.id);
    assert.equal(ev['kite.result'], 0);
    assert.equal(ev['kite.process.comm'], 'bpftool');
    nothingFor(pid);
  } finally {
    rmSync(pin, { force: true });
  }
});

test('kernel: BPF programs loaded and attached by another component of this process (exclude_self off): loads and attachments', async () => {
  const own = testHost();
  const audit = securityFactory.create(parseComponentId('security/self')!, settings(securityFactory, { events: ['bpf'], ring_buffer_size: '256KiB', filter: { exclude_self: false, include: { pids: [process.pid] } } }), own) as SecurityReceiver;
  const seen: KiteRecord[] = [];
  audit.records$.subscribe((r) => seen.push(r));
  await audit.start();
  const other = securityFactory.create(parseComponentId('security/other')!, settings(securityFactory, { events: ['listen'], ring_buffer_size: '64KiB' }), testHost()) as SecurityReceiver;
  try {
    await other.start();
    // program names are cut to 15 bytes by the kernel: handle_enter_listen
    const load = await waitFor(() => seen.find((r) => r['kite.bpf.command'] === 'prog_load' && r['kite.bpf.program.name'] === 'handle_enter_li'), 1000, 'the load of handle_enter_listen');
    assert.equal(load['process.pid'], process.pid);
    assert.equal(load['kite.bpf.program.type'], 'tracepoint');
    assert.equal(typeof load['kite.bpf.program.id'], 'number');
    const attach = await waitFor(() => seen.find((r) => r['kite.bpf.command'] !== 'prog_load' && r['kite.bpf.program.name'] === 'handle_enter_li'), 1000, 'its attachment');
    assert.equal(attach['kite.bpf.command'], 'link_create', 'a perf-event link on the tracepoint');
    assert.equal(attach['kite.bpf.program.id'], load['kite.bpf.program.id'], 'the program that was loaded is the one attached');
    assert.equal(attach['kite.result'], 0);
  } finally {
    await other.shutdown();
    await audit.shutdown();
  }
});

test('namespace: unshare of a mount and a network namespace, a tmpfs mounted and unmounted inside', async () => {
  const target = mkdtempSync(join(dir, 'mnt-'));
  const { pid, code } = await run(tool, ['ns', target]);
  assert.equal(code, 0);
  const ns = await waitFor(find(pid, 'namespace.change', 'unshare'), 1000, 'the unshare');
  assert.deepEqual(ns['kite.namespace.kinds'], ['mnt', 'net']);
  assert.equal(ns['kite.namespace.flags'], 0x40020000);
  const hostMnt = Number(/\[(\d+)\]/.exec(execFileSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }))![1]);
  const hostNet = Number(/\[(\d+)\]/.exec(execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }))![1]);
  assert.equal(ns['kite.namespace.mnt.before'], hostMnt);
  assert.equal(ns['kite.namespace.net.before'], hostNet);
  assert.notEqual(ns['kite.namespace.mnt.after'], hostMnt);
  assert.notEqual(ns['kite.namespace.net.after'], hostNet);
  assert.equal(ns['kite.result'], 0);
  const mnt = await waitFor(find(pid, 'namespace.mount', 'mount', (r) => r['kite.mount.target'] === target), 1000, 'the tmpfs mount');
  assert.equal(mnt['kite.mount.operation'], 'mount');
  assert.equal(mnt['kite.mount.source'], 'kite-tmpfs');
  assert.equal(mnt['kite.mount.fs_type'], 'tmpfs');
  assert.equal(mnt['kite.mount.flags'], 0x2 | 0x4, 'MS_NOSUID | MS_NODEV');
  assert.equal(mnt['kite.namespace.mnt.id'], ns['kite.namespace.mnt.after'], 'inside the new mount namespace');
  const umount = await waitFor(find(pid, 'namespace.mount', 'umount2', (r) => r['kite.mount.target'] === target), 1000, 'the unmount');
  assert.equal(umount['kite.mount.operation'], 'umount');
  assert.equal(umount['kite.result'], 0);
  assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(target), false, 'the host never saw the tmpfs');
  nothingFor(pid);
});

test('namespace: pivot_root onto a tmpfs in a new mount namespace', async () => {
  const root = mkdtempSync(join(dir, 'root-'));
  const { pid, code } = await run(tool, ['pivot', root]);
  assert.equal(code, 0);
  const ev = await waitFor(find(pid, 'namespace.mount', 'pivot_root'), 1000, 'the pivot_root');
  assert.equal(ev['kite.mount.operation'], 'pivot_root');
  assert.equal(ev['kite.mount.new_root'], '.');
  assert.equal(ev['kite.mount.put_old'], '.');
  assert.equal(ev['kite.result'], 0);
  const ns = await waitFor(find(pid, 'namespace.change', 'unshare'), 1000, 'its unshare');
  assert.equal(ev['kite.namespace.mnt.id'], ns['kite.namespace.mnt.after'], 'in the new mount namespace');
  const detach = await waitFor(find(pid, 'namespace.mount', 'umount2'), 1000, 'the detach of the old root');
  assert.equal(detach['kite.mount.flags'], 2, 'MNT_DETACH');
  assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(root), false, 'the host never saw it');
  nothingFor(pid);
});

test('namespace: setns with its nstype', async () => {
  const { pid, code } = await run(tool, ['setns']);
  assert.equal(code, 0);
  const ev = await waitFor(find(pid, 'namespace.change', 'setns'), 1000, 'the setns');
  assert.deepEqual(ev['kite.namespace.kinds'], ['net']);
  assert.equal(ev['kite.namespace.flags'], 0x40000000);
  assert.equal(ev['kite.namespace.net.before'], ev['kite.namespace.net.after'], 'its own namespace: unchanged');
  assert.equal(ev['kite.result'], 0);
  nothingFor(pid);
});

test('namespace: clone with new namespaces reports the child and its namespaces', async () => {
  const { pid, code, out } = await run(tool, ['clone']);
  assert.equal(code, 0);
  const child = Number(out.split(' ')[1]);
  const ev = await waitFor(find(pid, 'namespace.change', 'clone'), 1000, 'the clone');
  assert.deepEqual(ev['kite.namespace.kinds'], ['uts']);
  assert.equal((ev['kite.namespace.flags'] as number) & 0x04000000, 0x04000000, 'CLONE_NEWUTS');
  assert.equal(ev['kite.target.process.pid'], child);
  assert.equal(ev['kite.result'], 0);
  const hostUts = Number(/\[(\d+)\]/.exec(execFileSync('readlink', ['/proc/self/ns/uts'], { encoding: 'utf8' }))![1]);
  assert.equal(ev['kite.namespace.uts.before'], hostUts);
  assert.notEqual(ev['kite.namespace.uts.after'], hostUts, "the child's new namespace");
  assert.equal(ev['kite.namespace.net.after'], undefined, 'only the kinds involved');
  nothingFor(pid);
});

test('namespace: setns with nstype 0 names the kind from the namespace file', async () => {
  const { pid, code } = await run(tool, ['setns0']);
  assert.equal(code, 0);
  const ev = await waitFor(find(pid, 'namespace.change', 'setns'), 1000, 'the setns');
  assert.equal(ev['kite.namespace.flags'], 0, 'nstype 0: any kind');
  assert.deepEqual(ev['kite.namespace.kinds'], ['uts'], 'the kind of /proc/self/ns/uts');
  assert.equal(ev['kite.namespace.uts.before'], ev['kite.namespace.uts.after']);
  assert.equal(ev['kite.result'], 0);
  nothingFor(pid);
});

test('namespace: clone3 with new UTS and network namespaces reports the child and both kinds', async () => {
  const { pid, code, out } = await run(tool, ['clone3']);
  assert.equal(code, 0);
  const child = Number(out.split(' ')[1]);
  const ev = await waitFor(find(pid, 'namespace.change', 'clone3'), 1000, 'the clone3');
  assert.deepEqual(ev['kite.namespace.kinds'], ['net', 'uts']);
  assert.equal(ev['kite.namespace.flags'], 0x40000000 | 0x04000000);
  assert.equal(ev['kite.target.process.pid'], child);
  assert.equal(ev['kite.result'], 0);
  const hostNet = Number(/\[(\d+)\]/.exec(execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }))![1]);
  assert.equal(ev['kite.namespace.net.before'], hostNet);
  assert.notEqual(ev['kite.namespace.net.after'], hostNet, "the child's new network namespace");
  assert.equal(ev['kite.namespace.mnt.after'], undefined, 'only the kinds involved');
  nothingFor(pid);
});

const NEW_MOUNT_API = ['fsopen', 'fsconfig', 'fsmount', 'move_mount', 'open_tree', 'mount_setattr', 'fspick'];

test('mount: the new mount API (fsopen, fsconfig create, fsmount, move_mount, mount_setattr, open_tree clone, fspick and reconfigure) in a new mount namespace', async () => {
  const missing = NEW_MOUNT_API.filter((s) => !hasSyscall(s));
  assert.deepEqual(skippedLog(host).filter((s) => NEW_MOUNT_API.includes(s)), missing, 'a syscall this kernel lacks is skipped and named');
  if (missing.length) return; // Linux < 5.12: the trigger itself could not run
  const target = mkdtempSync(join(dir, 'newapi-'));
  const { pid, code, out } = await run(tool, ['newmount', target]);
  assert.equal(code, 0, out);
  const [, bad, badErrno] = out.split(' ').map(Number);
  const ofPid = (syscall: string) => records.filter((r) => r['process.pid'] === pid && r['kite.syscall'] === syscall);
  const fsopen = await waitFor(find(pid, 'namespace.mount', 'fsopen', (r) => r['kite.result'] === 0), 1000, 'fsopen');
  assert.equal(fsopen['kite.mount.operation'], 'fsopen');
  assert.equal(fsopen['kite.mount.fs_type'], 'tmpfs');
  const refused = await waitFor(find(pid, 'namespace.mount', 'fsopen', (r) => r['kite.mount.fs_type'] === 'kite_nosuchfs'), 1000, 'the refused fsopen');
  assert.equal(bad, -1);
  assert.equal(refused['kite.result'], badErrno);
  assert.equal(refused['kite.result.error'], 'ENODEV');
  const create = await waitFor(find(pid, 'namespace.mount', 'fsconfig', (r) => r['kite.mount.fsconfig.command'] === 'create'), 1000, 'fsconfig create');
  assert.equal(create['kite.mount.fsconfig.command'], 'create');
  assert.equal(create['kite.mount.fs_type'], 'tmpfs', 'from the file system context');
  assert.equal(create['kite.mount.source'], 'kite-newapi', 'set by an earlier fsconfig, read from the context');
  assert.equal(create['kite.result'], 0);
  const pick = await waitFor(find(pid, 'namespace.mount', 'fspick'), 1000, 'fspick');
  assert.equal(pick['kite.mount.target'], target);
  assert.equal(pick['kite.result'], 0);
  const reconf = await waitFor(find(pid, 'namespace.mount', 'fsconfig', (r) => r['kite.mount.fsconfig.command'] === 'reconfigure'), 1000, 'fsconfig reconfigure');
  assert.equal(reconf['kite.mount.fs_type'], 'tmpfs');
  assert.equal(reconf['kite.result'], 0);
  assert.equal(ofPid('fsconfig').length, 2, 'only create and reconfigure: setting a parameter is not reported');
  const fsmount = await waitFor(find(pid, 'namespace.mount', 'fsmount'), 1000, 'fsmount');
  assert.deepEqual(fsmount['kite.mount.attributes'], ['nosuid', 'nodev']);
  assert.equal(fsmount['kite.mount.fs_type'], 'tmpfs');
  assert.equal(fsmount['kite.mount.source'], 'kite-newapi');
  assert.equal(typeof fsmount['kite.mount.fd'], 'number');
  const move = await waitFor(find(pid, 'namespace.mount', 'move_mount'), 1000, 'move_mount');
  assert.equal(move['kite.mount.target'], target, 'the absolute target path');
  assert.equal(move['kite.mount.fs_type'], 'tmpfs', 'the type of the detached mount moved');
  assert.equal(move['kite.mount.flags'], 0x4, 'MOVE_MOUNT_F_EMPTY_PATH');
  assert.equal(move['kite.result'], 0);
  const setattr = await waitFor(find(pid, 'namespace.mount', 'mount_setattr'), 1000, 'mount_setattr');
  assert.equal(setattr['kite.mount.target'], target);
  assert.deepEqual(setattr['kite.mount.attributes.set'], ['rdonly']);
  assert.deepEqual(setattr['kite.mount.attributes.cleared'], []);
  assert.equal(setattr['kite.mount.recursive'], true);
  assert.equal(setattr['kite.result'], 0);
  const tree = await waitFor(find(pid, 'namespace.mount', 'open_tree'), 1000, 'open_tree with OPEN_TREE_CLONE');
  assert.equal(tree['kite.mount.source'], target);
  assert.equal((tree['kite.mount.flags'] as number) & 1, 1, 'OPEN_TREE_CLONE');
  assert.equal(ofPid('open_tree').length, 1, 'open_tree without OPEN_TREE_CLONE (no new mount) is not reported');
  const nsEv = await waitFor(find(pid, 'namespace.change', 'unshare'), 1000, 'its unshare');
  for (const ev of [fsopen, create, fsmount, move, setattr, tree, pick, reconf]) {
    assert.equal(ev['kite.namespace.mnt.id'], nsEv['kite.namespace.mnt.after'], `${ev['kite.syscall']} in the new mount namespace`);
    assert.equal(ev['process.user.id'], 0);
  }
  const order = [fsopen, create, fsmount, move, setattr, tree, pick, reconf].map((r) => records.indexOf(r));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'in the order they were made');
  assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(target), false, 'the host never saw the mount');
  nothingFor(pid);
});

test('hooks: a receiver attaches only its families\' syscall tracepoints; every program passes the verifier on this kernel', async () => {
  assert.equal(rx.watchedSyscalls.length, ALL_TRACEPOINTS.length - skippedLog(host).length, 'every family, less what the kernel lacks');
  assert.deepEqual(skippedLog(host), ALL_TRACEPOINTS.filter((tp) => !hasSyscall(tp)));
  const before = new Set(bpfIdsOf(process.pid).links);
  const only = securityFactory.create(parseComponentId('security/listen_only')!, settings(securityFactory, { events: ['listen'], ring_buffer_size: '64KiB' }), testHost()) as SecurityReceiver;
  await only.start();
  try {
    assert.deepEqual(only.watchedSyscalls, ['bind', 'listen']);
    assert.equal(bpfIdsOf(process.pid).links.filter((l) => !before.has(l)).length, 4, 'bind and listen: entry and exit');
  } finally {
    await only.shutdown();
  }
  // the programs of syscalls this kernel lacks are not loaded by the receiver: load them all here
  const obj = BpfObject.open(join(BPF_DIR, 'security.bpf.o'));
  try {
    if (!existsSync(`${EVENTS}/module/module_load`)) obj.program(MODULE_LOAD_PROGRAM).setAutoload(false);
    obj.load();
    assert.equal(obj.programs().length, 2 * ALL_TRACEPOINTS.length + 1);
  } finally {
    obj.close();
  }
});

test('listen: bind and listen on a loopback port (address, port, protocol)', async () => {
  const port = await freePort();
  const { pid, code } = await run(tool, ['listen', String(port)]);
  assert.equal(code, 0);
  const bind = await waitFor(find(pid, 'network.listen', 'bind'), 1000, 'the bind');
  const listen = await waitFor(find(pid, 'network.listen', 'listen'), 1000, 'the listen');
  for (const ev of [bind, listen]) {
    assert.equal(ev['network.local.address'], '127.0.0.1');
    assert.equal(ev['network.local.port'], port);
    assert.equal(ev['network.transport'], 'tcp');
    assert.equal(ev['network.type'], 'ipv4');
    assert.equal(ev['kite.result'], 0);
  }
  assert.equal(listen['kite.network.listen.backlog'], 7);
  nothingFor(pid);
});

test('listen: IPv6 loopback listener, and a UDP bind to port 0 reports the port the kernel chose', async () => {
  const port = await freePort('::1');
  const six = await run(tool, ['listen6', String(port)]);
  assert.equal(six.code, 0);
  const listen = await waitFor(find(six.pid, 'network.listen', 'listen'), 1000, 'the IPv6 listen');
  assert.equal(listen['network.local.address'], '::1');
  assert.equal(listen['network.local.port'], port);
  assert.equal(listen['network.type'], 'ipv6');
  assert.equal(listen['network.transport'], 'tcp');
  assert.equal(listen['kite.network.listen.backlog'], 3);
  const udp = await run(tool, ['udp0']);
  assert.equal(udp.code, 0);
  const chosen = Number(udp.out.split(' ')[1]);
  const bind = await waitFor(find(udp.pid, 'network.listen', 'bind'), 1000, 'the UDP bind');
  assert.equal(bind['network.local.port'], chosen, 'read from the bound socket, not the request (port 0)');
  assert.notEqual(chosen, 0);
  assert.equal(bind['network.local.address'], '127.0.0.1');
  assert.equal(bind['network.transport'], 'udp');
  nothingFor(six.pid);
  nothingFor(udp.pid);
});

async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

test('the agent as nobody with exactly the documented capabilities (docs/capabilities.md and the receiver\'s own) runs the security receiver', async () => {
  const table = [...readFileSync(join(ROOT, 'docs', 'capabilities.md'), 'utf8').matchAll(/^\| `(CAP_[A-Z_]+)` \|/gm)].map((m) => m[1]!);
  // the per-syscall tracepoints' ids are in tracefs, readable by root only: CAP_DAC_READ_SEARCH
  assert.ok(securityFactory.capabilities!.CAP_DAC_READ_SEARCH, 'declared by the receiver');
  const caps = [...new Set([...table, ...Object.keys(securityFactory.capabilities!)])];
  assert.ok(caps.includes('CAP_PERFMON') && !caps.includes('CAP_SYS_ADMIN'), caps.join(', '));
  const list = caps.map((c) => `+${c.slice(4).toLowerCase()}`).join(',');
  const lp = mkdtempSync(join(dir, 'lp-'));
  chmodSync(lp, 0o777);
  const out = join(lp, 'events.jsonl');
  const cfg = join(lp, 'kite.yaml');
  writeFileSync(cfg, `receivers: {security: {events: [listen, privilege]}}\nexporters: {file: {path: ${out}}}\nservice:\n  telemetry: {enabled: false}\n  pipelines: {main: {receivers: [security], exporters: [file]}}\n`);
  const agent = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=-all,${list}`, `--ambient-caps=${list}`, `--bounding-set=-all,${list}`,
    process.execPath, KITE, 'run', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d) => { err += d; });
  try {
    await waitFor(() => (err.includes('"msg":"ready"') ? true : agent.exitCode !== null ? (() => { throw new Error(err); })() : undefined), 15000, 'ready');
    const port = await freePort();
    const { pid } = await run(tool, ['listen', String(port)]);
    const records = (): KiteRecord[] => readRecordLines(out);
    const rec = await waitFor(() => records().find((r) => r['process.pid'] === pid && r['kite.syscall'] === 'listen'), 3000, 'the listen, through the agent');
    assert.equal(rec['network.local.port'], port);
    assert.equal(rec['event.name'], 'network.listen');
  } finally {
    agent.kill('SIGTERM');
    if (agent.exitCode === null) await once(agent, 'exit');
  }
  assert.equal(agent.exitCode, 0, err);
});

test('filtered-out processes are counted in the kernel; no drops, no decode errors; shutdown unloads everything', async () => {
  filtered.pollKernelStats();
  assert.ok((filteredHost.stats.snapshot()['receiver/security/no_privtool']!.filtered ?? 0) >= 10, 'the excluded trigger\'s calls were counted as filtered');
  const ids = bpfIdsOf(process.pid);
  rx.pollKernelStats();
  const stats = host.stats.snapshot()['receiver/security']!;
  assert.equal(stats.ring_full, 0);
  assert.equal(Object.keys(stats).filter((k) => k.startsWith('decode_errors')).length, 0, JSON.stringify(stats));
  assert.equal(stats.received, stats.emitted);
  await rx.shutdown();
  await rx.shutdown();
  await filtered.shutdown();
  assert.equal(completed, true, 'records$ completes');
  const left = await waitUnloaded(ids);
  assert.deepEqual(left, { progs: [], maps: [], links: [] }, 'nothing of the receivers is left in the kernel');
});
