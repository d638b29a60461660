/**
 * The enrich processor on a made-up /proc (no privileges needed): seeding, ancestry, exec ids that
 * survive pid reuse, containers and their own user names, host names, pod uids and kubelet metadata,
 * executable hashes, cache misses resolved in the background, bounds.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, from, toArray, Subject, VirtualTimeScheduler } from 'rxjs';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { EnrichConfig } from '../../src/processors/enrich/config';
import { EnrichProcessor } from '../../src/processors/enrich/processor';
import { ProcessCache } from '../../src/process/process-cache';
import { testHost } from '../helpers/host';
import { rec } from '../helpers/processors';

const ID = 'ab'.repeat(32);
const POD = '0f5b2a3c-1234-4d6e-9abc-0123456789ab';
const root = mkdtempSync(join(tmpdir(), 'kite-proc-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface FakeProc { ppid: number; exe: string; args: string[]; cgroup: string; uid?: number; startTicks?: number; passwd?: string }

function fakeProc(pid: number, p: FakeProc): void {
  const dir = join(root, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'root', 'etc'), { recursive: true });
  const uid = p.uid ?? 0;
  writeFileSync(join(dir, 'stat'), `${pid} (${p.exe.split('/').pop()}) S ${p.ppid} 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${p.startTicks ?? 1000} 0 0`);
  writeFileSync(join(dir, 'status'), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  writeFileSync(join(dir, 'cmdline'), `${p.args.join('\0')}\0`);
  symlinkSync(p.exe, join(dir, 'exe'));
  writeFileSync(join(dir, 'cgroup'), `0::${p.cgroup}\n`);
  if (p.passwd) writeFileSync(join(dir, 'root', 'etc', 'passwd'), p.passwd);
}

function config(over: Partial<EnrichConfig> = {}): EnrichConfig {
  return {
    ancestryDepth: 4, maxProcesses: 1000, maxTableBytes: 1 << 20, exitedTtlMs: 30_000, hashExecutables: false, maxHashFileBytes: 1 << 20,
    containerUsers: true, kubeletEndpoint: '', kubeletPollMs: 1000, criEndpoint: '', criPollMs: 1000, execWaitMs: 50, maxHeldRecords: 8192, procRoot: root, seed: true, ...over,
  };
}

function processor(over: Partial<EnrichConfig> = {}, host = testHost()): EnrichProcessor {
  return new EnrichProcessor(parseComponentId('enrich')!, host, config(over), {
    identity: { hostName: 'node-1', hostId: 'machine-1', bootId: 'boot-1', kernelRelease: '6.1.0' },
    hostUsers: { user: (u) => ({ 0: 'root', 1000: 'alice' } as Record<number, string>)[u], group: (g) => ({ 0: 'root' } as Record<number, string>)[g] },
  });
}

const run = (p: EnrichProcessor, records: KiteRecord[]): Promise<KiteRecord[]> => lastValueFrom(from(records).pipe(p.operator(), toArray()));

// a containerd-shim -> nginx -> bash chain on the host side, the last two in a container
fakeProc(1, { ppid: 0, exe: '/usr/lib/systemd/systemd', args: ['/sbin/init'], cgroup: '/init.scope' });
fakeProc(100, { ppid: 1, exe: '/usr/bin/containerd-shim-runc-v2', args: ['/usr/bin/containerd-shim-runc-v2', '-id', 'x'], cgroup: '/system.slice/containerd.service' });
fakeProc(200, {
  ppid: 100, exe: '/usr/sbin/nginx', args: ['nginx: master process'], uid: 101,
  cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`,
  passwd: 'root:x:0:0::/root:/bin/sh\nwww:x:101:101::/var/www:/bin/false\n',
});

test('seeded processes: ancestry up to the depth, container and pod from the cgroup, the container\'s own user names', async () => {
  const p = processor();
  await p.start();
  await p.settled();
  const exec = rec('process.exec', '2024-01-01T00:00:00.000Z', {
    'process.pid': 300, 'process.parent_pid': 200, 'process.executable.path': '/bin/bash', 'process.command_args': ['bash', '-i'],
    'kite.process.exec_id': 'E300', 'process.user.id': 101, 'process.real_user.id': 101, 'process.group.id': 101, 'process.user.name': 'host-name-of-101',
  });
  const [out] = await run(p, [exec]);
  await p.shutdown();
  assert.equal(out!['host.name'], 'node-1', 'added when the record has none');
  assert.equal(out!['host.id'], 'machine-1');
  assert.equal(out!['kite.host.boot_id'], 'boot-1');
  assert.equal(out!['kite.host.kernel_release'], '6.1.0');
  assert.equal(out!['process.parent_pid'], 200);
  assert.equal(out!['process.parent.executable.path'], '/usr/sbin/nginx');
  assert.equal(out!['process.parent.command_line'], 'nginx: master process');
  assert.deepEqual(out!['kite.process.ancestors.pid'], [200, 100, 1]);
  assert.deepEqual(out!['kite.process.ancestors.executable.path'], ['/usr/sbin/nginx', '/usr/bin/containerd-shim-runc-v2', '/usr/lib/systemd/systemd']);
  assert.equal((out!['kite.process.ancestors.exec_id'] as string[]).length, 3);
  assert.equal(out!['kite.process.exec_id'], 'E300', 'the receiver\'s exec id is kept');
  // no cgroup id on the record: the process inherits what the table knows of its parent (the fork)
  assert.equal(out!['container.id'], undefined, 'an exec of an unknown process has no cgroup yet');
  assert.equal(p.counters.droppedBy('x'), 0);
});

test('fork and exec inside the container: container id, runtime, pod uid, container user names', async () => {
  const p = processor();
  await p.start();
  await p.settled();
  const fork = rec('process.fork', 't1', { 'process.pid': 301, 'process.parent_pid': 200, 'process.user.id': 101 });
  const exec = rec('process.exec', 't2', { 'process.pid': 301, 'process.parent_pid': 200, 'process.executable.path': '/bin/sh', 'process.command_args': ['sh'], 'process.user.id': 101, 'process.group.id': 101, 'process.user.name': 'wrong' });
  const exit = rec('process.exit', 't3', { 'process.pid': 301, 'process.parent_pid': 200, 'process.user.id': 0 });
  const [f, e, x] = await run(p, [fork, exec, exit]);
  for (const r of [f!, e!, x!]) {
    assert.equal(r['container.id'], ID);
    assert.equal(r['container.runtime'], 'containerd');
    assert.equal(r['k8s.pod.uid'], POD);
  }
  assert.equal(f!['process.executable.path'], '/usr/sbin/nginx', 'a fork runs its parent\'s program');
  assert.equal(e!['process.user.name'], 'www', 'from the container\'s /etc/passwd, not the host\'s');
  assert.equal(e!['process.group.name'], undefined, 'the container has no /etc/group: no name rather than the host\'s');
  assert.equal(x!['process.user.name'], 'root');
  assert.equal(x!['process.command_line'], 'sh');
  assert.notEqual(f!['kite.process.exec_id'], e!['kite.process.exec_id'], 'a new program, a new exec id');
  assert.equal(x!['kite.process.exec_id'], e!['kite.process.exec_id']);
  await p.shutdown();
});

test('a pid reused by another process gets another exec id; host processes get host user names', async () => {
  const p = processor();
  await p.start();
  const a = rec('process.fork', '2024-01-01T00:00:01.000Z', { 'process.pid': 500, 'process.parent_pid': 1, 'process.user.id': 1000 });
  const b = rec('process.exit', 't', { 'process.pid': 500 });
  const c = rec('process.fork', '2024-01-01T00:00:09.000Z', { 'process.pid': 500, 'process.parent_pid': 1, 'process.user.id': 0 });
  const [x, , z] = await run(p, [a, b, c]);
  const [kept] = await run(p, [rec('x', 't', { 'host.name': 'from-receiver' })]);
  assert.equal(kept!['host.name'], 'from-receiver', 'a host name already there is kept');
  assert.notEqual(x!['kite.process.exec_id'], z!['kite.process.exec_id']);
  assert.equal(x!['process.user.name'], 'alice');
  assert.equal(z!['process.user.name'], 'root');
  assert.equal(x!['kite.systemd.unit'], 'init.scope');
  await p.shutdown();
});

test('cache misses: an unknown process and an unknown cgroup id are read in the background and counted', async () => {
  const host = testHost();
  const p = processor({ seed: false }, host);
  await p.start();
  const r = rec('file.open', 't', { 'process.pid': 200, 'kite.cgroup.id': 4242, 'process.user.id': 101 });
  const [first] = await run(p, [r]);
  assert.equal(first!['container.id'], undefined, 'not known yet');
  await p.settled();
  const [second] = await run(p, [r]);
  assert.equal(second!['container.id'], ID, 'known once the background lookup is done');
  assert.equal(second!['process.user.name'], 'www');
  assert.equal(second!['process.executable.path'], '/usr/sbin/nginx');
  await p.shutdown();
  const c = host.stats.snapshot()['processor/enrich']!;
  assert.equal(c['cache_miss.process'], 1);
  assert.equal(c['cache_miss.cgroup'], 1);
  assert.equal(c['cache_miss.container_users'], undefined, 'read together with the cgroup');
  assert.equal(c.received, 2);
  assert.equal(c.emitted, 2);
});

test('a new cgroup id whose directory name says the container: container id and runtime on the first record, the path once /proc is read', async () => {
  const p = processor({ seed: false });
  await p.start();
  const first = rec('process.exec', 't', { 'process.pid': 200, 'kite.cgroup.id': 5151, 'kite.cgroup.name': `cri-containerd-${ID}.scope`, 'process.executable.path': '/bin/sh' });
  const [a] = await run(p, [first]);
  assert.equal(a!['container.id'], ID, 'from the name, before the background lookup');
  assert.equal(a!['container.runtime'], 'containerd');
  assert.equal(a!['kite.cgroup.path'], undefined, 'the path waits for /proc');
  const plain = rec('process.exec', 't', { 'process.pid': 200, 'kite.cgroup.id': 5252, 'kite.cgroup.name': 'session-3.scope' });
  const [b] = await run(p, [plain]);
  assert.equal(b!['container.id'], undefined, 'a name that is not a container\'s says nothing');
  await p.settled();
  const [c] = await run(p, [rec('file.open', 't', { 'process.pid': 200, 'kite.cgroup.id': 5151 })]);
  assert.equal(c!['container.id'], ID);
  assert.match(String(c!['kite.cgroup.path']), /cri-containerd-/);
  await p.shutdown();
});

test('a container cgroup whose processes are gone before /proc is read: its records without a cgroup name get the container its name gave', async () => {
  const p = processor({ seed: false, execWaitMs: 0 });
  await p.start();
  // pids 880 and 881 are not in the made-up /proc: the cgroup lookups fail
  const [a] = await run(p, [rec('process.exec', 't', { 'process.pid': 880, 'kite.cgroup.id': 5353, 'kite.cgroup.name': `libpod-${ID}`, 'process.executable.path': '/bin/true' })]);
  assert.equal(a!['container.id'], ID);
  await p.settled();
  const [b] = await run(p, [rec('file.open', 't', { 'process.pid': 881, 'kite.cgroup.id': 5353 })]);
  assert.equal(b!['container.id'], ID, 'from the name the exec record gave');
  assert.equal(b!['container.runtime'], 'podman');
  const [c] = await run(p, [rec('file.open', 't', { 'process.pid': 881, 'kite.cgroup.id': 5454 })]);
  assert.equal(c!['container.id'], undefined, 'another cgroup');
  await p.shutdown();
});

test('a container\'s first processes gone before /proc is read: its cgroup and user names read through a later process of the burst', async () => {
  const ID2 = 'e7'.repeat(32);
  fakeProc(890, { ppid: 1, exe: '/bin/sleep', args: ['/bin/sleep', '120'], cgroup: `/libpod_parent/libpod-${ID2}`, passwd: 'svc:x:0:0::/:/bin/sh\n' });
  const p = processor({ seed: false, execWaitMs: 0 });
  await p.start();
  // 889 (the runtime's helper) is not in the made-up /proc; 890 (the container's program) is
  const burst = [
    rec('process.exec', 't', { 'process.pid': 889, 'process.user.id': 0, 'kite.cgroup.id': 6060, 'kite.cgroup.name': `libpod-${ID2}`, 'process.executable.path': '/usr/bin/runc' }),
    rec('process.exec', 't', { 'process.pid': 890, 'process.user.id': 0, 'kite.cgroup.id': 6060, 'kite.cgroup.name': `libpod-${ID2}`, 'process.executable.path': '/bin/sleep' }),
  ];
  const [a] = await run(p, burst);
  assert.equal(a!['container.id'], ID2, 'from the name');
  await p.settled();
  const [b] = await run(p, [rec('file.open', 't', { 'process.pid': 890, 'process.user.id': 0, 'kite.cgroup.id': 6060 })]);
  assert.equal(b!['container.id'], ID2);
  assert.equal(b!['kite.cgroup.path'], `/libpod_parent/libpod-${ID2}`, 'the cgroup read through 890');
  assert.equal(b!['process.user.name'], 'svc', 'the container\'s own name for uid 0, read through 890');
  await p.shutdown();
});

test('executable hashes: computed in the background, cached by file identity', async () => {
  const bin = join(root, 'prog');
  writeFileSync(bin, 'a program');
  fakeProc(700, { ppid: 1, exe: bin, args: ['prog'], cgroup: '/' });
  fakeProc(701, { ppid: 1, exe: bin, args: ['prog'], cgroup: '/' });
  const p = processor({ hashExecutables: true });
  await p.start();
  await p.settled();
  await new Promise((r) => setTimeout(r, 50));
  const [a, b] = await run(p, [rec('x', 't', { 'process.pid': 700 }), rec('x', 't', { 'process.pid': 701 })]);
  const want = createHash('sha256').update('a program').digest('hex');
  assert.equal(a!['process.executable.hash.sha256'], want);
  assert.equal(b!['process.executable.hash.sha256'], want);
  await p.shutdown();
});

test('kubelet: pod name, namespace and labels by pod uid; an absent endpoint is logged once and changes nothing else', async () => {
  const server = createServer((req, res) => {
    if (req.url !== '/pods') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [{ metadata: { uid: POD, name: 'web-0', namespace: 'shop', labels: { app: 'web' } } }] }));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  const p = processor({ kubeletEndpoint: `http://127.0.0.1:${port}` });
  await p.start();
  await p.settled();
  const [r] = await run(p, [rec('x', 't', { 'process.pid': 200 })]);
  assert.equal(r!['k8s.pod.name'], 'web-0');
  assert.equal(r!['k8s.namespace.name'], 'shop');
  assert.equal(r!['k8s.pod.label.app'], 'web');
  await p.shutdown();
  server.close();

  const host = testHost();
  const q = processor({ kubeletEndpoint: `http://127.0.0.1:${port}` }, host); // closed now
  await q.start();
  await q.settled();
  const [s] = await run(q, [rec('x', 't', { 'process.pid': 200 })]);
  assert.equal(s!['k8s.pod.uid'], POD);
  assert.equal(s!['k8s.pod.name'], undefined);
  const warnings = host.logs.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(String(warnings[0]!.msg), /kubelet endpoint unavailable/);
  await q.shutdown();
});

test('container user names: a process that left before its files were read, then an exec in the container', async () => {
  const id2 = 'cd'.repeat(32);
  const cgroup = `/system.slice/docker-${id2}.scope`;
  fakeProc(900, { ppid: 1, exe: '/usr/bin/runc', args: ['runc', 'init'], cgroup });
  rmSync(join(root, '900', 'root'), { recursive: true }); // gone by the time its root is read
  const p = processor();
  await p.start();
  await p.settled();
  fakeProc(901, { ppid: 900, exe: '/bin/sh', args: ['sh'], cgroup, uid: 1234, passwd: 'app:x:1234:1234::/:/bin/sh\n' });
  const fork = rec('process.fork', 't', { 'process.pid': 901, 'process.parent_pid': 900, 'process.user.id': 1234, 'kite.cgroup.id': 77 });
  const exec = rec('process.exec', 't', { 'process.pid': 901, 'process.parent_pid': 900, 'process.executable.path': '/bin/sh', 'process.command_args': ['sh'], 'process.user.id': 1234, 'kite.cgroup.id': 77 });
  await run(p, [fork]);
  await p.settled();
  const [first] = await run(p, [exec]);
  assert.equal(first!['container.id'], id2);
  assert.equal(first!['process.user.name'], undefined, 'not read yet: the only read so far failed');
  await p.settled();
  const [later] = await run(p, [rec('file.open', 't', { 'process.pid': 901, 'process.user.id': 1234, 'kite.cgroup.id': 77 })]);
  assert.equal(later!['process.user.name'], 'app', 'read through the process that exec\'d');
  await p.shutdown();
});

test('the process table stays within its bounds; exited processes expire', () => {
  const t = new ProcessCache({ maxEntries: 100, maxBytes: 100_000, exitedTtlMs: 10 });
  const entry = (pid: number, arg = 'x') => ({ pid, ppid: 1, path: '/bin/x', args: [arg], cmdline: arg, execId: String(pid), startNs: undefined, exitedAt: 0, cgroup: undefined, cgroupId: undefined, hash: undefined, childAncestry: undefined, bytes: 200 + arg.length });
  for (let i = 0; i < 10_000; i++) t.set(entry(i));
  assert.equal(t.size, 100);
  assert.equal(t.evicted, 9900);
  for (let i = 0; i < 50; i++) t.set(entry(20_000 + i, 'y'.repeat(10_000)));
  assert.ok(t.bytes <= 100_000, `bytes ${t.bytes}`);
  const last = 20_049;
  t.markExited(last, 5);
  t.sweep(14);
  assert.ok(t.get(last), 'kept within the ttl');
  t.sweep(15);
  assert.equal(t.get(last), undefined, 'forgotten after it');
});

test('a record that follows an exec waits for the exec record (another ring) and names the new program; a late one names the old', async () => {
  const host = testHost();
  const p = processor({}, host);
  await p.start();
  const seq = (n: number, name = 'file.open', extra: Record<string, string> = {}) =>
    rec(name, 't', { 'process.pid': 200, 'kite.process.exec_seq': n, ...extra });
  const out = await run(p, [
    seq(3),                                                                    // learns nginx's generation
    seq(4, 'file.open', { 'file.path': '/etc/shadow' }),                       // after an exec not seen yet: held
    rec('process.exec', 't', { 'process.pid': 200, 'process.parent_pid': 100, 'kite.process.exec_seq': 4,
      'process.executable.path': '/usr/bin/cat', 'process.command_args': ['cat', '/etc/shadow'], 'kite.process.exec_id': 'E-cat' }),
    seq(3, 'file.open', { 'file.path': '/etc/nginx/nginx.conf' }),            // late record of nginx
  ]);
  await p.shutdown();
  assert.deepEqual(out.map((r) => [r['event.name'], r['process.executable.path']]), [
    ['file.open', '/usr/sbin/nginx'],
    ['process.exec', '/usr/bin/cat'],
    ['file.open', '/usr/bin/cat'],
    ['file.open', '/usr/sbin/nginx'],
  ]);
  assert.equal(out[2]!['file.path'], '/etc/shadow');
  assert.equal(out[2]!['kite.process.exec_id'], 'E-cat');
  assert.equal(out[3]!['process.command_line'], 'nginx: master process');
  const c = host.stats.snapshot()['processor/enrich']!;
  assert.equal(c['exec_wait.held'], 1);
  assert.equal(c['exec_wait.timeout'], undefined);
  assert.equal(c.received, 4);
  assert.equal(c.emitted, 4);
});

test('exec_wait: a held record is released after the wait when its exec record never comes (lost), and the held set is bounded', async () => {
  const host = testHost();
  const vts = new VirtualTimeScheduler();
  const p = new EnrichProcessor(parseComponentId('enrich')!, host, config({ execWaitMs: 50, maxHeldRecords: 16 }), {
    identity: { hostName: 'node-1', hostId: 'machine-1', bootId: 'boot-1', kernelRelease: '6.1.0' },
    hostUsers: { user: () => undefined, group: () => undefined }, scheduler: vts,
  });
  await p.start();
  const input = new Subject<KiteRecord>();
  const out: KiteRecord[] = [];
  let done = false;
  input.pipe(p.operator()).subscribe({ next: (r) => out.push(r), complete: () => { done = true; } });
  input.next(rec('file.open', 't', { 'process.pid': 200, 'kite.process.exec_seq': 7 }));
  input.next(rec('file.open', 't', { 'process.pid': 200, 'kite.process.exec_seq': 8 }));
  assert.equal(out.length, 1, 'the second waits for an exec record');
  vts.flush();
  assert.equal(out.length, 2, 'released after exec_wait');
  assert.equal(out[1]!['process.executable.path'], '/usr/sbin/nginx', 'with what is known');
  for (let i = 0; i < 20; i++) input.next(rec('file.open', 't', { 'process.pid': 200, 'kite.process.exec_seq': 9 }));
  assert.ok(out.length >= 2 + 4, 'beyond max_held_records the oldest are released at once');
  input.complete();
  assert.ok(done);
  assert.equal(out.length, 22, 'completion releases the rest: nothing lost');
  await p.shutdown();
  const c = host.stats.snapshot()['processor/enrich']!;
  assert.equal(c['exec_wait.timeout'], 1);
  assert.ok((c['exec_wait.overflow'] ?? 0) > 0);
  assert.equal(c.received, 22);
  assert.equal(c.emitted, 22);
});
