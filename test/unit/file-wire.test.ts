/** The file decoder on records captured from the real program (test/testdata/file/README.md), the
 * records built from them, and the watched-prefix keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { parseComponentId } from '../../src/component/component';
import { decodeFile, FileOp, FileWire, FILE_EVENT, PathFlags, PrefixAction } from '../../src/receivers/file/wire';
import { FileReceiver, openIntent } from '../../src/receivers/file/receiver';
import { fileReceiverFactory } from '../../src/receivers/file/factory';
import { toFileConfig } from '../../src/receivers/file/config';
import { expandPrefix, PrefixMatcher, prefixEntries, prefixKeys, PrefixValue, trieEntries } from '../../src/receivers/file/prefixes';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'file', name), 'utf8').trim(), 'hex');

function decode(buf: Buffer): FileWire {
  const w = decodeFile(buf, 0, buf.length);
  assert.equal(typeof w, 'object', `decoded, not ${String(w)}`);
  return w as FileWire;
}

const receiver = (): FileReceiver =>
  new FileReceiver(parseComponentId('file')!, testHost(), toFileConfig(settings(fileReceiverFactory, {})));

test('open of a relative path: joined to the cwd in the kernel, fd as the result', () => {
  const w = decode(fixture('open-relative.hex'));
  assert.equal(w.op, FileOp.OPEN);
  assert.equal(w.path, '/tmp/kite-fixture/etc-like/sub/rel.txt');
  assert.equal(w.pathFlags, PathFlags.RELATIVE);
  assert.equal(w.ret, 3);
  assert.equal(w.dirfd, -100);
  assert.equal(w.comm, 'fileops');
  const rec = receiver().toRecord(w);
  assert.equal(rec['event.name'], 'file.open');
  assert.equal(rec['file.path'], '/tmp/kite-fixture/etc-like/sub/rel.txt');
  assert.equal(rec['file.directory'], '/tmp/kite-fixture/etc-like/sub');
  assert.equal(rec['file.name'], 'rel.txt');
  assert.equal(rec['kite.file.path.relative'], true);
  assert.equal(rec['kite.file.fd'], 3);
  assert.equal(rec['kite.file.result'], 'ok');
  assert.deepEqual(rec['kite.file.intent'], ['read']);
  assert.equal(rec['kite.file.syscall'], 'openat');
  assert.equal(rec['kite.file.dirfd'], undefined, 'AT_FDCWD is not a descriptor');
  assert.equal(rec['process.pid'], 20193);
  assert.match(rec.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(rec['host.name'], 'test-host');
  assert.equal(typeof rec['kite.event_id'], 'string');
});

test('failed open by nobody: EACCES as error.type, the user ids', () => {
  const rec = receiver().toRecord(decode(fixture('open-eacces-nobody.hex')));
  assert.equal(rec['file.path'], '/tmp/kite-fixture/etc-like/secret');
  assert.equal(rec['kite.file.result'], 'error');
  assert.equal(rec['error.type'], 'EACCES');
  assert.equal(rec['kite.file.fd'], undefined);
  assert.equal(rec['process.user.id'], 65534);
  assert.equal(rec['process.real_user.id'], 65534);
  assert.equal(rec['process.user.name'], 'nobody');
});

test('rename: both paths; chmod from an fd; chown with an unchanged group; truncate length', () => {
  const rx = receiver();
  const mv = rx.toRecord(decode(fixture('rename.hex')));
  assert.equal(mv['event.name'], 'file.rename');
  assert.equal(mv['file.path'], '/tmp/kite-fixture/in');
  assert.equal(mv['kite.file.new_path'], '/tmp/kite-fixture/etc-like/moved');
  assert.equal(mv['kite.file.new_name'], 'moved');
  const ch = rx.toRecord(decode(fixture('fchmod-from-fd.hex')));
  assert.equal(ch['event.name'], 'file.chmod');
  assert.equal(ch['file.mode'], '0644');
  assert.equal(ch['kite.file.path.from_fd'], true);
  assert.equal(ch['kite.file.syscall'], 'fchmod');
  const own = rx.toRecord(decode(fixture('chown.hex')));
  assert.equal(own['event.name'], 'file.chown');
  assert.equal(own['file.owner.id'], '65534');
  assert.equal(own['file.group.id'], undefined);
  const tr = rx.toRecord(decode(fixture('truncate.hex')));
  assert.equal(tr['event.name'], 'file.truncate');
  assert.equal(tr['file.size'], 123);
});

test('dot-dot and dot components are normalized; the raw path is kept', () => {
  const buf = fixture('open-relative.hex');
  const w = decode(buf);
  const rec = receiver().toRecord({ ...w, path: '/tmp/./kite-fixture/sub/../etc-like/x' });
  assert.equal(rec['file.path'], '/tmp/kite-fixture/etc-like/x');
  assert.equal(rec['kite.file.path.unnormalized'], '/tmp/./kite-fixture/sub/../etc-like/x');
});

test('a successful open carries the path of the opened file (symlinks and .. resolved) and the name as given', () => {
  const w = decode(fixture('open-symlink-resolved.hex'));
  assert.equal(w.pathFlags, PathFlags.RESOLVED | PathFlags.RELATIVE);
  assert.equal(w.path, '/tmp/kite-fixture/etc-like/secret');
  assert.equal(w.path2, 'link');
  const rec = receiver().toRecord(w);
  assert.equal(rec['file.path'], '/tmp/kite-fixture/etc-like/secret');
  assert.equal(rec['kite.file.path.requested'], 'link');
  assert.equal(rec['kite.file.path.relative'], true);
  assert.equal(rec['kite.file.new_path'], undefined);
  assert.equal(rec['kite.file.path.unnormalized'], undefined);
  const same = receiver().toRecord({ ...w, path2: w.path });
  assert.equal(same['kite.file.path.requested'], undefined, 'only when it differs');
});

test('a failed open left undecided by the kernel: resolved and decided in user space with the same prefixes', () => {
  const buf = fixture('open-dotdot-undecided.hex');
  assert.equal(decode(buf).pathFlags, PathFlags.UNDECIDED);
  const watching = (include: string[]) => {
    const host = testHost();
    const rx = new FileReceiver(parseComponentId('file')!, host, toFileConfig(settings(fileReceiverFactory, { paths: { include, exclude: [] } })));
    return { rx, host, decode: (b: Buffer) => (rx as unknown as { decode(b: Buffer, o: number, l: number): unknown }).decode(b, 0, b.length) };
  };
  const inside = watching(['/tmp/kite-fixture/etc-like']);
  const rec = inside.decode(buf) as Record<string, unknown>;
  assert.equal(rec['file.path'], '/tmp/kite-fixture/etc-like/secret');
  assert.equal(rec['kite.file.path.requested'], '/tmp/kite-fixture/other/../etc-like/secret');
  assert.equal(rec['error.type'], 'EACCES');
  const outside = watching(['/tmp/kite-fixture/other']);
  assert.equal(outside.decode(buf), null, 'resolves out of the watched folder: dropped');
});

test('prefix matcher: the longest prefix decides, like the kernel trie', () => {
  const m = new PrefixMatcher(['/etc', '/home/*/.ssh', '/'], ['/etc/ld.so.cache', '/etc/skip'], (d) => (d === '/home' ? ['ann', 'bob'] : []));
  assert.equal(m.action('/etc'), PrefixAction.WATCH);
  assert.equal(m.action('/etc/shadow'), PrefixAction.WATCH);
  assert.equal(m.action('/etc/ld.so.cache'), PrefixAction.IGNORE);
  assert.equal(m.action('/etc/skip/deeper/x'), PrefixAction.IGNORE);
  assert.equal(m.action('/home/ann/.ssh/id_rsa'), PrefixAction.WATCH);
  assert.equal(m.action('/etcfoo'), PrefixAction.WATCH, 'under /');
  const narrow = new PrefixMatcher(['/etc'], []);
  assert.equal(narrow.action('/etcfoo'), 0);
  assert.equal(narrow.action('/tmp/x'), 0);
});

test('prefix matcher: the same decision as trying every prefix length of the path', () => {
  const entries = prefixEntries(['/etc', '/home/*/.ssh', '/usr/bin', '/root/.ssh'], ['/etc/ld.so.cache', '/etc/skip', '/usr/bin/x'], (d) => (d === '/home' ? ['ann', 'bob'] : []));
  // a pushed-down prefix that does not end at a '/'
  const pass = prefixEntries(['/etc/pass'], []);
  for (const [k, v] of pass) entries.set(k, v);
  const m = PrefixMatcher.of(entries);
  const byKey = new Map([...entries.values()].map((e) => [e.key.toString('utf8', 4, 4 + e.key.readUInt32LE(0) / 8), e.action]));
  const everyLength = (path: string): number => {
    const exact = byKey.get(`${path}\0`);
    if (exact) return exact;
    for (let i = path.length; i > 0; i--) {
      const a = byKey.get(path.slice(0, i));
      if (a) return a;
    }
    return 0;
  };
  const paths = ['/', '/etc', '/etc/', '/etc/passwd', '/etc/pas', '/etc/ld.so.cache', '/etc/ld.so.cache2', '/etc/skip', '/etc/skip/a', '/etcx',
    '/home/ann/.ssh', '/home/ann/.ssh/id_rsa', '/home/carl/.ssh/k', '/usr/bin', '/usr/bin/x', '/usr/bin/xy', '/usr/bin/x/y', '/usr/lib/gcc/x86_64-linux-gnu/12/cc1',
    '/root/.ssh/authorized_keys', '/tmp/' + 'a/'.repeat(300)];
  for (const p of paths) assert.equal(m.action(p), everyLength(p), p);
});

test('trie values: every folder above a prefix is marked, with the action that applies there and its key length', () => {
  const byForm = new Map(trieEntries(['/etc', '/home/*/.ssh'], ['/etc/ld.so.cache'], (d) => (d === '/home' ? ['ann'] : [])).map((e) => [e.key.toString('utf8', 4, 4 + e.key.readUInt32LE(0) / 8), e.value]));
  const v = (form: string) => byForm.get(form);
  assert.equal(v('/etc/'), PrefixAction.WATCH | PrefixValue.BELOW | (5 << PrefixValue.LEN_SHIFT), '/etc/ld.so.cache is below /etc');
  assert.equal(v('/etc\0'), PrefixAction.WATCH | (5 << PrefixValue.LEN_SHIFT));
  assert.equal(v('/etc/ld.so.cache\0'), PrefixAction.IGNORE | (17 << PrefixValue.LEN_SHIFT));
  assert.equal(v('/'), PrefixValue.BELOW | (1 << PrefixValue.LEN_SHIFT), 'nothing watched at /, prefixes below');
  assert.equal(v('/home/'), PrefixValue.BELOW | (6 << PrefixValue.LEN_SHIFT));
  assert.equal(v('/home/ann/'), PrefixValue.BELOW | (10 << PrefixValue.LEN_SHIFT));
  assert.equal(v('/home/ann/.ssh/'), PrefixAction.WATCH | (15 << PrefixValue.LEN_SHIFT), 'no prefix below it: every name in it is watched');
  assert.equal(byForm.size, 9, 'both forms of the 3 prefixes, 3 folders above them');
  const inherited = new Map(trieEntries(['/srv'], ['/srv/cache/tmp'], () => []).map((e) => [e.key.toString('utf8', 4, 4 + e.key.readUInt32LE(0) / 8), e.value]));
  assert.equal(inherited.get('/srv/cache/')! & PrefixValue.ACTION_MASK, PrefixAction.WATCH, 'a folder marker inside a watched prefix keeps watch');
});

test('malformed records are reported, never thrown', () => {
  const good = fixture('rename.hex');
  assert.equal(decodeFile(good, 0, 10), 'short_record');
  const badOp = Buffer.from(good);
  badOp.writeUInt16LE(3, 0);
  assert.equal(decodeFile(badOp, 0, badOp.length), 'unknown_op');
  const badSize = Buffer.from(good);
  badSize.writeUInt16LE(good.length + 1, 2);
  assert.equal(decodeFile(badSize, 0, badSize.length), 'bad_size');
  const badTail = Buffer.from(good);
  badTail.writeUInt16LE(200, FILE_EVENT.fields.path2_size.offset);
  assert.equal(decodeFile(badTail, 0, badTail.length), 'bad_tail');
  for (let len = 0; len < good.length; len += 5) assert.doesNotThrow(() => decodeFile(good.subarray(0, len), 0, len));
});

test('open intent from the flags', () => {
  assert.deepEqual(openIntent(0), ['read']);
  assert.deepEqual(openIntent(0o1 | 0o100 | 0o1000), ['write', 'create', 'truncate']);
  assert.deepEqual(openIntent(0o2 | 0o2000), ['read', 'write', 'append']);
  assert.deepEqual(openIntent(0o10000000), ['path']);
});

test('prefix keys: "<p>/" and "<p>\\0", so /etc never covers /etcfoo; globs expand per component', () => {
  const [below, itself] = prefixKeys('/etc/');
  assert.equal(below!.readUInt32LE(0), 5 * 8);
  assert.equal(below!.toString('utf8', 4, 9), '/etc/');
  assert.equal(itself!.readUInt32LE(0), 5 * 8);
  assert.equal(itself!.toString('latin1', 4, 9), '/etc\0');
  assert.equal(prefixKeys('/').length, 1);
  const fs: Record<string, string[]> = { '/home': ['ann', 'bob', '.cache'], '/home/ann': ['.ssh'], '/home/bob': [] };
  assert.deepEqual(expandPrefix('/home/*/.ssh', (d) => fs[d] ?? []), ['/home/ann/.ssh', '/home/bob/.ssh', '/home/.cache/.ssh']);
  const entries = [...prefixEntries(['/etc'], ['/etc/ld.so.cache'], () => []).values()];
  assert.equal(entries.length, 4);
  assert.equal(entries.filter((e) => e.action === PrefixAction.IGNORE).length, 2);
});
