/**
 * The file receiver on the real kernel (root). Each test works in its own folder under /tmp, which the
 * receiver watches, and drives a trigger program (test/kernel/fileops.c) whose pid is known: relative
 * paths from a known cwd and through a directory fd come out absolute, every operation is paired with
 * its result, unwatched paths and filtered processes never reach user space and are counted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, linkSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KiteRecord, parseComponentId } from '../../src/component/component';
import { setLibbpfLogger } from '../../src/bpf/object';
import { fileReceiverFactory } from '../../src/receivers/file/factory';
import { EPOCH_SYSCALLS, FileReceiver } from '../../src/receivers/file/receiver';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { bpfIdsOf, buildTestProgram, waitFor, waitUnloaded } from '../helpers/kernel';

const NOBODY = 65534;
let fileops: string;
const root = join('/tmp', `kite-t-${randomUUID()}`);
const watched = join(root, 'watched');
const unwatched = join(root, 'unwatched');
const ignored = join(watched, 'ignored');
const watchOnly = { paths: { include: [watched], exclude: [ignored] } };

// one receiver for the tests that use the same settings: detaching 38 tracefs links takes seconds
let shared: { records: KiteRecord[]; rx: FileReceiver; host: ReturnType<typeof testHost> };

before(async () => {
  fileops = buildTestProgram('fileops');
  setLibbpfLogger(() => {});
  for (const d of [root, watched, join(watched, 'sub'), unwatched, ignored]) mkdirSync(d, { recursive: true });
  writeFileSync(join(watched, 'sub', 'rel.txt'), 'x');
  writeFileSync(join(watched, 'secret'), 'x', { mode: 0o600 });
  writeFileSync(join(unwatched, 'plain'), 'x');
  writeFileSync(join(ignored, 'noise'), 'x');
  writeFileSync(join(unwatched, 'private'), 'x', { mode: 0o600 });
  symlinkSync(join(watched, 'secret'), join(unwatched, 'link')); // a file link from outside into the watched folder
  symlinkSync(watched, join(unwatched, 'dirlink')); // a folder link from outside onto the watched folder
  symlinkSync(join(unwatched, 'plain'), join(watched, 'out')); // a link inside the watched folder that leads out
  const host = testHost();
  const rx = fileReceiverFactory.create(parseComponentId('file/test')!, settings(fileReceiverFactory, { ring_buffer_size: '1MiB', ...watchOnly }), host) as FileReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  shared = { records, rx, host };
});

after(async () => {
  await shared?.rx.shutdown();
  rmSync(root, { recursive: true, force: true });
});

async function withShared(body: (records: KiteRecord[], rx: FileReceiver, host: ReturnType<typeof testHost>) => Promise<void>): Promise<void> {
  await body(shared.records, shared.rx, shared.host);
}

interface Run {
  pid: number;
  out: string;
}

async function fileopsRun(steps: string[], opts: { uid?: number } = {}): Promise<Run> {
  const argv = opts.uid !== undefined ? [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', fileops, ...steps] : steps;
  const child = spawn(opts.uid !== undefined ? 'setpriv' : fileops, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `fileops ${steps.join(' ')}: ${out}`);
  return { pid: child.pid!, out };
}

async function withReceiver(raw: Record<string, unknown>, body: (records: KiteRecord[], rx: FileReceiver, host: ReturnType<typeof testHost>) => Promise<void>): Promise<void> {
  const host = testHost();
  const rx = fileReceiverFactory.create(parseComponentId('file/test')!, settings(fileReceiverFactory, { ring_buffer_size: '1MiB', ...raw }), host) as FileReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  await rx.start();
  try {
    await body(records, rx, host);
  } finally {
    await rx.shutdown();
  }
}

const find = (records: KiteRecord[], pid: number, name: string, path?: string) => (): KiteRecord | undefined =>
  records.find((r) => r['process.pid'] === pid && r['event.name'] === name && (path === undefined || r['file.path'] === path));

test('open of a relative path from a known cwd and through a directory fd: absolute file.path, result and intent', async () => {
  await withShared(async (records) => {
    const run = await fileopsRun([`cd:${join(watched, 'sub')}`, 'open:rel.txt', `openat:${watched}:sub/rel.txt`, `cd:${root}`, 'open:watched/secret']);
    const rel = await waitFor(find(records, run.pid, 'file.open', join(watched, 'sub', 'rel.txt')), 2000, 'the relative open');
    assert.equal(rel['kite.file.syscall'], 'openat', 'glibc open() is openat(AT_FDCWD)');
    assert.equal(rel['kite.file.path.relative'], true);
    assert.equal(rel['file.directory'], join(watched, 'sub'));
    assert.equal(rel['file.name'], 'rel.txt');
    assert.equal(rel['kite.file.result'], 'ok');
    assert.equal(typeof rel['kite.file.fd'], 'number');
    assert.deepEqual(rel['kite.file.intent'], ['read']);
    assert.equal(rel['kite.process.comm'], 'fileops');
    assert.equal(rel['process.user.id'], 0);
    assert.equal(rel['host.name'], 'test-host');
    const viaFd = await waitFor(() => records.filter((r) => r['process.pid'] === run.pid && r['file.path'] === join(watched, 'sub', 'rel.txt'))[1], 2000, 'the open through a directory fd');
    assert.equal(typeof viaFd['kite.file.dirfd'], 'number');
    assert.equal(viaFd['kite.file.path.relative'], true);
    await waitFor(find(records, run.pid, 'file.open', join(watched, 'secret')), 2000, 'the open relative to a parent of the watched folder');
  });
});

test('a non-root read of a protected file: the failed open is reported with its errno and the user', async () => {
  await withShared(async (records) => {
    const run = await fileopsRun([`open:${join(watched, 'secret')}`], { uid: NOBODY });
    assert.match(run.out, /open -1 13/);
    const rec = await waitFor(find(records, run.pid, 'file.open', join(watched, 'secret')), 2000, 'the failed open');
    assert.equal(rec['kite.file.result'], 'error');
    assert.equal(rec['error.type'], 'EACCES');
    assert.equal(rec['process.user.id'], NOBODY);
    assert.equal(rec['process.user.name'], 'nobody');
    assert.equal(rec['kite.file.fd'], undefined);
  });
});

test('create, write intent, unlink, rename into a watched folder, chmod, chown, truncate, by path and by fd', async () => {
  await withShared(async (records) => {
    const f = join(watched, `new-${randomUUID()}`);
    const moved = join(watched, 'moved');
    const outside = join(unwatched, 'incoming');
    const run = await fileopsRun([
      `wopen:${f}`, `openat2:${f}`, `chmod:${f}`, `fchmod:${f}`, `chown:${f}`, `fchownat:${watched}:${f.slice(watched.length + 1)}`,
      `truncate:${f}`, `ftruncate:${f}`, `creat:${outside}`, `rename:${outside}:${moved}`, `unlink:${f}`, `unlink:${moved}`,
    ]);
    const has = (name: string, path: string, i = 0) => waitFor(() => records.filter((r) => r['process.pid'] === run.pid && r['event.name'] === name && r['file.path'] === path)[i], 2000, `${name} ${path}`);
    const w = await has('file.open', f);
    assert.deepEqual(w['kite.file.intent'], ['write', 'create', 'truncate']);
    assert.equal(w['file.mode'], '0640');
    assert.equal(w['kite.file.result'], 'ok');
    const o2 = await has('file.open', f, 2); // the 2nd is fchmod's own open
    assert.equal(o2['kite.file.syscall'], 'openat', 'the open before fchmod');
    const how = records.find((r) => r['process.pid'] === run.pid && r['kite.file.syscall'] === 'openat2');
    assert.ok(how, 'openat2 is reported');
    assert.deepEqual(how!['kite.file.intent'], ['read', 'write', 'append']);
    const chmod = await has('file.chmod', f);
    assert.equal(chmod['file.mode'], '0604');
    assert.equal(chmod['kite.file.syscall'], 'chmod');
    const fchmod = await has('file.chmod', f, 1);
    assert.equal(fchmod['kite.file.syscall'], 'fchmod');
    assert.equal(fchmod['kite.file.path.from_fd'], true);
    assert.equal(fchmod['file.mode'], '0644');
    const chown = await has('file.chown', f);
    assert.equal(chown['file.owner.id'], String(NOBODY));
    assert.equal(chown['file.group.id'], undefined, '-1: group unchanged');
    const chownat = await has('file.chown', f, 1);
    assert.equal(chownat['kite.file.path.relative'], true);
    const tr = await has('file.truncate', f);
    assert.equal(tr['file.size'], 123);
    const ftr = await has('file.truncate', f, 1);
    assert.equal(ftr['file.size'], 7);
    assert.equal(ftr['kite.file.path.from_fd'], true);
    const mv = await has('file.rename', outside);
    assert.equal(mv['kite.file.new_path'], moved, 'a rename into a watched folder is reported');
    assert.equal(mv['kite.file.result'], 'ok');
    await has('file.unlink', f);
    await has('file.unlink', moved);
    assert.equal(records.find((r) => r['process.pid'] === run.pid && r['file.path'] === outside && r['event.name'] === 'file.open'), undefined, 'the creat outside is not watched');
  });
});

test('paths that resolve into a watched folder are caught: .., a symlink to the file, a symlinked folder, a relative path from a cwd outside', async () => {
  await withShared(async (records) => {
    const secret = join(watched, 'secret');
    const dotdot = `${unwatched}/../watched/secret`;
    const run = await fileopsRun([`open:${dotdot}`, `open:${join(unwatched, 'link')}`, `open:${join(unwatched, 'dirlink', 'sub', 'rel.txt')}`,
      `cd:${unwatched}`, 'open:../watched/secret']);
    assert.equal(run.out.split('\n').filter((l) => / -1 /.test(l)).length, 0, run.out);
    const of = (requested: string) => waitFor(() => records.find((r) => r['process.pid'] === run.pid && r['kite.file.path.requested'] === requested), 2000, requested);
    for (const [requested, path] of [[dotdot, secret], [join(unwatched, 'link'), secret], [join(unwatched, 'dirlink', 'sub', 'rel.txt'), join(watched, 'sub', 'rel.txt')], ['../watched/secret', secret]]) {
      const rec = await of(requested!);
      assert.equal(rec['file.path'], path, `${requested} resolves to ${path}`);
      assert.equal(rec['event.name'], 'file.open');
      assert.equal(rec['kite.file.result'], 'ok');
    }
    assert.equal((await of('../watched/secret'))['kite.file.path.relative'], true);
    assert.equal(records.filter((r) => r['process.pid'] === run.pid).length, 4, 'one record per open, nothing else');
  });
});

test('failed opens that resolve into a watched folder are caught: a denied read through .. or a symlink, a missing file under ..', async () => {
  await withShared(async (records, rx, host) => {
    const secret = join(watched, 'secret');
    const dotdot = `${unwatched}/../watched/secret`;
    const missing = `${unwatched}/../watched/missing`;
    const run = await fileopsRun([`open:${dotdot}`, `open:${join(unwatched, 'link')}`, `open:${missing}`, `open:${join(unwatched, 'private')}`], { uid: NOBODY });
    assert.match(run.out, /open -1 13\nopen -1 13\nopen -1 2\nopen -1 13/);
    const of = (path: string, i: number) => waitFor(() => records.filter((r) => r['process.pid'] === run.pid && r['file.path'] === path)[i], 2000, `${path} #${i}`);
    const viaDotdot = await of(secret, 0);
    assert.equal(viaDotdot['error.type'], 'EACCES');
    assert.equal(viaDotdot['process.user.id'], NOBODY);
    assert.equal(viaDotdot['kite.file.path.requested'], dotdot);
    const viaLink = await of(secret, 1);
    assert.equal(viaLink['error.type'], 'EACCES');
    assert.equal(viaLink['kite.file.path.requested'], join(unwatched, 'link'));
    assert.equal((await of(join(watched, 'missing'), 0))['error.type'], 'ENOENT');
    rx.pollKernelStats();
    assert.equal(records.filter((r) => r['process.pid'] === run.pid).length, 3, 'the denied read of an unwatched file is not reported');
    assert.ok((host.stats.snapshot()['receiver/file/test']!.path_filtered_user ?? 0) >= 1, 'and is counted');
  });
});

test('negative: a symlink inside the watched folder that leads out, and .. out of it, are not reported', async () => {
  await withShared(async (records) => {
    const run = await fileopsRun([`open:${join(watched, 'out')}`, `open:${watched}/../unwatched/plain`, `cd:${watched}`, 'open:../unwatched/plain',
      `open:${join(watched, 'secret')}`]);
    await waitFor(find(records, run.pid, 'file.open', join(watched, 'secret')), 2000, 'the watched open after the others');
    assert.deepEqual(records.filter((r) => r['process.pid'] === run.pid).map((r) => r['file.path']), [join(watched, 'secret')]);
  });
});

test('a folder known to be unwatched is forgotten when a folder above it moves into the watched folder', async () => {
  await withShared(async (records, rx, host) => {
    const away = join(unwatched, `away-${randomUUID()}`);
    mkdirSync(join(away, 'inner'), { recursive: true });
    writeFileSync(join(away, 'inner', 'f'), 'x');
    const first = await fileopsRun([`repeat:50:${join(away, 'inner', 'f')}`]);
    const into = join(watched, `moved-${randomUUID()}`);
    renameSync(away, into); // inner keeps its dentry and name: only its path changes
    const second = await fileopsRun([`open:${join(into, 'inner', 'f')}`]);
    const rec = await waitFor(find(records, second.pid, 'file.open', join(into, 'inner', 'f')), 2000, 'the open in the moved folder');
    assert.equal(rec['kite.file.result'], 'ok');
    assert.equal(records.filter((r) => r['process.pid'] === first.pid).length, 0, 'before the move: unwatched');
    rx.pollKernelStats();
    assert.ok((host.stats.snapshot()['receiver/file/test']!.path_filtered ?? 0) >= 50);
  });
});

test('a file known to be unwatched: a hard link to it in the watched folder is reported, and again after the file moves in', async () => {
  await withShared(async (records) => {
    const file = join(unwatched, `often-${randomUUID()}`);
    writeFileSync(file, 'x');
    const link = join(watched, `hardlink-${randomUUID()}`);
    const first = await fileopsRun([`repeat:50:${file}`]); // decided, then remembered as unwatched
    linkSync(file, link); // the same inode under another name (its own dentry)
    const second = await fileopsRun([`repeat:3:${file}`, `open:${link}`, `repeat:3:${file}`]);
    await waitFor(find(records, second.pid, 'file.open', link), 2000, 'the open through the hard link');
    const moved = join(watched, `often-${randomUUID()}`);
    renameSync(file, moved); // the same dentry: only its path changes
    const third = await fileopsRun([`repeat:3:${moved}`]);
    await waitFor(() => records.filter((r) => r['process.pid'] === third.pid).length >= 3 || undefined, 2000, 'the opens after the move');
    assert.equal(records.filter((r) => r['process.pid'] === first.pid).length, 0, 'unwatched before');
    assert.deepEqual(records.filter((r) => r['process.pid'] === second.pid).map((r) => r['file.path']), [link]);
    assert.deepEqual(records.filter((r) => r['process.pid'] === third.pid).map((r) => r['file.path']), [moved, moved, moved]);
  });
});

test('a folder known to be watched is forgotten when a folder above it moves out: its files are no longer reported', async () => {
  await withShared(async (records) => {
    const keep = join(watched, `keep-${randomUUID()}`);
    mkdirSync(join(keep, 'inner'), { recursive: true });
    writeFileSync(join(keep, 'inner', 'f'), 'x');
    const first = await fileopsRun([`repeat:20:${join(keep, 'inner', 'f')}`]);
    await waitFor(() => records.filter((r) => r['process.pid'] === first.pid).length >= 20 || undefined, 2000, 'every open in the watched folder');
    assert.equal(records.filter((r) => r['process.pid'] === first.pid && r['file.path'] === join(keep, 'inner', 'f')).length, 20);
    const gone = join(unwatched, `gone-${randomUUID()}`);
    renameSync(keep, gone);
    const second = await fileopsRun([`open:${join(gone, 'inner', 'f')}`, `open:${join(watched, 'secret')}`]);
    await waitFor(find(records, second.pid, 'file.open', join(watched, 'secret')), 2000, 'the watched open after it');
    assert.deepEqual(records.filter((r) => r['process.pid'] === second.pid).map((r) => r['file.path']), [join(watched, 'secret')]);
  });
});

test('paths.resolve false: opens decided at entry on the name; .. still caught (in user space), symbolic links not followed', async () => {
  const before = new Set(bpfIdsOf(process.pid).links);
  await withReceiver({ paths: { include: [watched], exclude: [ignored], resolve: false }, operations: ['open'] }, async (records) => {
    assert.equal(bpfIdsOf(process.pid).links.filter((l) => !before.has(l)).length, 8, 'open, openat, openat2, creat: entry and exit');
    const dotdot = `${unwatched}/../watched/secret`;
    const run = await fileopsRun([`open:${dotdot}`, `open:${join(unwatched, 'link')}`, `open:${join(watched, 'sub', 'rel.txt')}`]);
    await waitFor(find(records, run.pid, 'file.open', join(watched, 'sub', 'rel.txt')), 2000, 'the plain watched open');
    const viaDotdot = await waitFor(find(records, run.pid, 'file.open', join(watched, 'secret')), 2000, 'the open through ..');
    assert.equal(viaDotdot['kite.file.path.requested'], dotdot);
    assert.equal(records.filter((r) => r['process.pid'] === run.pid).length, 2, 'the symlink is judged by its own name');
  });
});

test('unwatched and excluded paths are dropped in the kernel and counted', async () => {
  await withShared(async (records, rx, host) => {
    const run = await fileopsRun([`repeat:500:${join(unwatched, 'plain')}`, `repeat:50:${join(ignored, 'noise')}`, `open:${join(watched, 'secret')}`]);
    await waitFor(find(records, run.pid, 'file.open', join(watched, 'secret')), 2000, 'the watched open after the unwatched ones');
    assert.equal(records.filter((r) => r['process.pid'] === run.pid).length, 1, 'only the watched open reached user space');
    rx.pollKernelStats();
    const stats = host.stats.snapshot()['receiver/file/test']!;
    assert.ok((stats.path_filtered ?? 0) >= 550, `path_filtered ${stats.path_filtered}`);
  });
});

test('in-kernel process filter: an excluded command is never reported and is counted', async () => {
  await withReceiver({ ...watchOnly, filter: { exclude: { comms: ['fileops'] } } }, async (records, rx, host) => {
    const run = await fileopsRun([`repeat:20:${join(watched, 'secret')}`]);
    const sh = spawn('/bin/sh', ['-c', `cat ${join(watched, 'secret')} > /dev/null`], { stdio: 'ignore' });
    await once(sh, 'exit');
    await waitFor(() => records.find((r) => r['kite.process.comm'] === 'cat'), 2000, 'the open by cat');
    assert.equal(records.filter((r) => r['process.pid'] === run.pid).length, 0);
    rx.pollKernelStats();
    assert.ok((host.stats.snapshot()['receiver/file/test']!.filtered ?? 0) >= 20);
  });
});

test('default prefixes: a non-root read of /etc/shadow is reported, ld.so.cache is not; operations limit the hooks', async () => {
  const host = testHost();
  const rx = fileReceiverFactory.create(parseComponentId('file')!, settings(fileReceiverFactory, { ring_buffer_size: '1MiB', operations: ['open'] }), host) as FileReceiver;
  const records: KiteRecord[] = [];
  rx.records$.subscribe((r) => records.push(r));
  const before = new Set(bpfIdsOf(process.pid).links);
  await rx.start();
  const all = bpfIdsOf(process.pid);
  const own = (xs: number[]) => xs.filter((x) => !before.has(x));
  try {
    const epoch = EPOCH_SYSCALLS.filter((c) => existsSync(`/sys/kernel/tracing/events/syscalls/sys_exit_${c}`)).length;
    assert.equal(own(all.links).length, 4 + epoch, 'open, openat, openat2, creat: decided at exit only; the exits that may move a folder');
    const run = await fileopsRun(['open:/etc/shadow', 'open:/etc/ld.so.cache'], { uid: NOBODY });
    const rec = await waitFor(find(records, run.pid, 'file.open', '/etc/shadow'), 2000, 'the read of /etc/shadow');
    assert.equal(rec['error.type'], 'EACCES');
    assert.equal(rec['process.user.id'], NOBODY);
    assert.equal(records.find((r) => r['process.pid'] === run.pid && r['file.path'] === '/etc/ld.so.cache'), undefined, 'ignored by default');
    // /etc has an excluded name in it: once walked, each name in it is still looked up
    const again = await fileopsRun(['repeat:3:/etc/ld.so.cache', 'repeat:3:/etc/hostname', 'repeat:3:/etc/ld.so.cache']);
    await waitFor(() => records.filter((r) => r['process.pid'] === again.pid && r['file.path'] === '/etc/hostname')[2], 2000, 'the three reads of /etc/hostname');
    assert.equal(records.filter((r) => r['process.pid'] === again.pid && r['file.path'] === '/etc/ld.so.cache').length, 0);
  } finally {
    await rx.shutdown();
  }
  const left = await waitUnloaded({ links: own(all.links), progs: [], maps: [] });
  assert.deepEqual(left.links, []);
});


test('shutdown leaves no program, map or link in the kernel, and is safe twice', async () => {
  const ids = bpfIdsOf(process.pid);
  // 38 on Linux 6.6+; fewer where a syscall (fchmodat2) has no tracepoint yet
  assert.ok(ids.progs.length >= 30 && ids.links.length >= 30, `the shared receiver is attached: ${JSON.stringify({ progs: ids.progs.length, links: ids.links.length })}`);
  await shared.rx.shutdown();
  await shared.rx.shutdown();
  assert.deepEqual(await waitUnloaded(ids), { progs: [], maps: [], links: [] });
});
