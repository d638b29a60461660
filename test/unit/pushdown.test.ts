/**
 * Filter pushdown into receivers' own kernel filters: cgroup and container ids into the shared cgroup
 * filter, network.peer.port into the connect receiver's port filter, file.path prefixes into the file
 * receiver's watched-prefix trie. The trie's decisions are checked with a longest-prefix match in JS,
 * path by path, against what the filter processor itself decides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpression } from '../../src/processors/filter/cel';
import { planPushdown } from '../../src/processors/filter/pushdown';
import { FilterSettings, mergePushdown } from '../../src/receivers/filters';
import { mergePortPushdown } from '../../src/receivers/connect/receiver';
import { prefixEntries } from '../../src/receivers/file/prefixes';
import { keyText, narrowPrefixEntries, PrefixEntry, takeFilePrefixes } from '../../src/receivers/file/pushdown';
import { PrefixAction } from '../../src/receivers/file/wire';

const plan = (include: string, exclude = '') => planPushdown(include ? compileExpression(include).ast : undefined, exclude ? compileExpression(exclude).ast : undefined);
const empty = (): FilterSettings => ({
  include: { pids: [], comms: [], uids: [], cgroups: [] },
  exclude: { pids: [], comms: [], uids: [], cgroups: [] },
  exclude_self: true,
});
const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);

test('cgroup ids and container ids become cgroup filter entries', () => {
  const resolve = (ids: ReadonlySet<string>) => new Map([...ids].filter((id) => id === C1).map((id) => [id, [101, 102]]));
  let r = mergePushdown(empty(), plan(`kite.cgroup.id in [7, 8] && container.id == "${C1}"`), resolve);
  assert.deepEqual(r.settings.include.cgroup_ids, [7, 8], 'one include set per field: the first predicate takes it');
  assert.deepEqual(r.installed.map((p) => p.attribute), ['kite.cgroup.id']);
  r = mergePushdown(empty(), plan(`container.id == "${C1}"`), resolve);
  assert.deepEqual(r.settings.include.cgroup_ids, [101, 102], "the container's cgroups");
  assert.deepEqual(r.containers, { include: [C1], exclude: [] });
  r = mergePushdown(empty(), plan(`container.id in ["${C1}", "${C2}"]`), resolve);
  assert.equal(r.installed.length, 0, 'a container without a cgroup yet: an include would drop it, so none');
  assert.equal(r.settings.include.cgroup_ids, undefined);
  r = mergePushdown(empty(), plan('', `container.id == "${C2}" || kite.cgroup.id == 9`), resolve);
  assert.deepEqual(r.settings.exclude.cgroup_ids, [9], 'an excluded container without a cgroup yet excludes nothing for now');
  assert.deepEqual(r.containers, { include: [], exclude: [C2] }, 'and is looked for again while the receiver runs');
  r = mergePushdown(empty(), plan('container.id == "not-an-id" && kite.cgroup.id == 0'), resolve);
  assert.equal(r.installed.length, 0, 'values the kernel cannot hold stay in user space');
  const own = empty();
  own.include.cgroups = ['/system.slice'];
  assert.equal(mergePushdown(own, plan('kite.cgroup.id == 5'), resolve).installed.length, 0, 'the settings already have an include set');
});

test('network.peer.port into the port filter; server.port stays in user space', () => {
  let r = mergePortPushdown({ include: [], exclude: [] }, plan('network.peer.port in [443, 8443] && server.port == 443'));
  assert.deepEqual(r.ports, { include: [443, 8443], exclude: [] });
  assert.deepEqual(r.installed.map((p) => p.attribute), ['network.peer.port']);
  r = mergePortPushdown({ include: [22], exclude: [] }, plan('network.peer.port != 53', 'network.peer.port == 123'));
  assert.deepEqual(r.ports, { include: [22], exclude: [53, 123] });
  r = mergePortPushdown({ include: [22], exclude: [] }, plan('network.peer.port == 443'));
  assert.equal(r.installed.length, 0, 'an include list in the settings is not widened');
});

/** The trie's decision for a path: the action of the longest key that is a prefix of path + "\0". */
function decide(entries: Map<string, PrefixEntry>, path: string): boolean {
  let best: { len: number; action: number } | null = null;
  const p = `${path}\0`;
  for (const e of entries.values()) {
    const t = keyText(e.key);
    if (p.startsWith(t) && (!best || t.length > best.len)) best = { len: t.length, action: e.action };
  }
  return best?.action === PrefixAction.WATCH;
}

test('file.path prefixes narrow the watched-prefix trie: the kernel keeps exactly what the filter would', () => {
  const paths = ['/etc', '/etc/', '/etc/passwd', '/etc/ssh', '/etc/ssh/sshd_config', '/etc/ssh/moduli', '/etc/ld.so.cache', '/etcfoo', '/etc/sshd',
    '/root/.bashrc', '/root', '/tmp/x', '/usr/bin/ls', '/home/a/.ssh/id', '/bin/sh', '/'];
  const settings = prefixEntries(['/etc', '/root', '/usr/bin', '/etc/ssh/sshd_config'], ['/etc/ld.so.cache', '/etc/ssh'], () => []);
  const cases: [string, string][] = [
    ["file.path.startsWith('/etc/')", ''],
    ["file.path.startsWith('/etc')", ''],
    ["file.path.startsWith('/etc/ss')", ''],
    ["file.path.startsWith('/etc/ssh/')", ''],
    ["file.path.startsWith('/etc/pass') || file.path.startsWith('/root/')", ''],
    ["file.path.startsWith('/tmp/')", ''],
    ["!file.path.startsWith('/etc/ssh/')", ''],
    ['', "file.path.startsWith('/etc/pass') || file.path.startsWith('/usr/')"],
    ["file.path.startsWith('/e')", "file.path.startsWith('/etc/ssh/sshd')"],
  ];
  for (const [inc, exc] of cases) {
    const { pushdown, installed } = takeFilePrefixes(plan(inc, exc), { include: null, exclude: [] });
    assert.ok(installed.length > 0, `${inc} ${exc}: pushed down`);
    const narrowed = narrowPrefixEntries(settings, pushdown);
    const filter = { include: inc ? compileExpression(inc) : null, exclude: exc ? compileExpression(exc) : null };
    for (const path of paths) {
      const rec = { 'file.path': path } as never;
      const keeps = (!filter.include || filter.include.test(rec) === true) && !(filter.exclude && filter.exclude.test(rec) === true);
      const want = decide(settings, path) && keeps;
      assert.equal(decide(narrowed, path), want, `${inc} | ${exc}: ${path} ${want ? 'reaches user space' : 'is dropped in the kernel'}`);
    }
  }
});

test('only file.path, absolute prefixes of at most 254 bytes', () => {
  assert.equal(takeFilePrefixes(plan("process.executable.path.startsWith('/usr/')"), { include: null, exclude: [] }).installed.length, 0);
  assert.equal(takeFilePrefixes(plan("file.path.startsWith('etc/')"), { include: null, exclude: [] }).installed.length, 0);
  assert.equal(takeFilePrefixes(plan(`file.path.startsWith('/${'x'.repeat(300)}')`), { include: null, exclude: [] }).installed.length, 0);
});
