/**
 * The C structs in bpf/security.h and bpf/lib/common.h are the source of truth: the TypeScript
 * decoder's offsets, sizes and enum values must match the compiled object's BTF, and every watched
 * syscall has its pair of tracepoint programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { NS_KINDS, SECURITY_EVENT, SECURITY_LIMITS, SecurityFlags, SecurityKind, SecurityOp } from '../../src/receivers/security/wire';
import { ALL_TRACEPOINTS, FAMILIES, FAMILY_KINDS, hooksOf, MODULE_LOAD_PROGRAM, programsOf, SYSCALL_NAMES, tracepointOf } from '../../src/receivers/security/syscalls';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { KiteStat } from '../../src/receivers/bpf-receiver';
import { FilterFlags } from '../../src/receivers/filters';

const btf = new Btf(join(BPF_DIR, 'security.bpf.o'));

test('struct security_event: every field at the offset and size the decoder reads', () => {
  const c = btf.struct('security_event');
  assert.equal(c.size, SECURITY_EVENT.size, 'sizeof(struct security_event)');
  assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(SECURITY_EVENT.fields).sort(), 'same field names');
  for (const [name, f] of Object.entries(SECURITY_EVENT.fields)) assert.deepEqual(c.fields[name], f, `field ${name}`);
  assert.equal(btf.struct('security_creds').size, SECURITY_EVENT.credsSize);
});

test('limits of bpf/security.h match the decoder', () => {
  const f = btf.struct('security_event').fields;
  assert.equal(f.comm!.size, SECURITY_LIMITS.commLen);
  assert.equal(f.str!.size, SECURITY_LIMITS.strMax * SECURITY_LIMITS.strs);
  assert.equal(f.ns_before!.size, 4 * SECURITY_LIMITS.nsCount);
});

test('enum kite_op (security range 50-79), security_kind, security_ns, security_flags match the decoder', () => {
  const ops = btf.enumValues('kite_op');
  for (const [name, v] of Object.entries(SecurityOp)) {
    assert.equal(ops[`KITE_OP_${name}`], v, name);
    assert.ok(v >= 50 && v <= 79, `${name} in the security range`);
  }
  const kinds = btf.enumValues('security_kind');
  assert.deepEqual(kinds, Object.fromEntries(Object.entries(SecurityKind).map(([k, v]) => [`SECURITY_KIND_${k}`, v])));
  const ns = btf.enumValues('security_ns');
  NS_KINDS.forEach((k, i) => assert.equal(ns[`SECURITY_NS_${k.toUpperCase()}`], i, k));
  assert.equal(ns.SECURITY_NS_COUNT, SECURITY_LIMITS.nsCount);
  assert.deepEqual(btf.enumValues('security_flags'), Object.fromEntries(Object.entries(SecurityFlags).map(([k, v]) => [`SECURITY_FLAG_${k}`, v])));
  const stats = btf.enumValues('kite_stat');
  assert.equal(stats.KITE_STAT_FILTERED, KiteStat.FILTERED);
  const flags = btf.enumValues('kite_filter_flags');
  for (const [name, v] of Object.entries(FilterFlags)) assert.equal(flags[`KITE_FILTER_${name}`], v, name);
});

test('every kind belongs to exactly one family and has an entry and an exit program on its own tracepoint', () => {
  const all = Object.values(FAMILY_KINDS).flat();
  assert.equal(new Set(all).size, all.length);
  assert.equal(all.length, SecurityKind.MAX - 1);
  assert.deepEqual(Object.keys(SYSCALL_NAMES).sort(), all.slice().sort());
  const funcs = new Set(btf.funcNames());
  for (const k of all) {
    const tp = tracepointOf(k);
    assert.ok(funcs.has(`handle_enter_${tp}`) && funcs.has(`handle_exit_${tp}`), `programs of ${k} (${tp})`);
  }
  assert.ok(funcs.has(MODULE_LOAD_PROGRAM));
  assert.equal(tracepointOf('UMOUNT'), 'umount', 'umount2 is SYSCALL_DEFINE2(umount, ...)');
  assert.equal(ALL_TRACEPOINTS.length, all.length);
});

test('hooks: only the chosen families; a syscall without a tracepoint is left out and named', () => {
  const events = mkdtempSync(`${tmpdir()}/kite-tracefs-`);
  try {
    for (const tp of ['bind', 'listen', 'setuid', 'mount']) {
      mkdirSync(`${events}/syscalls/sys_enter_${tp}`, { recursive: true });
      mkdirSync(`${events}/syscalls/sys_exit_${tp}`, { recursive: true });
    }
    const listen = hooksOf(['listen'], events);
    assert.deepEqual(listen, { syscalls: ['bind', 'listen'], missing: [], moduleLoad: false });
    assert.deepEqual(programsOf(listen), ['handle_enter_bind', 'handle_exit_bind', 'handle_enter_listen', 'handle_exit_listen']);
    const mod = hooksOf(['module', 'mount'], events);
    assert.deepEqual(mod.syscalls, ['mount']);
    assert.deepEqual(mod.missing, ['init_module', 'finit_module', 'umount', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'move_mount', 'open_tree', 'mount_setattr', 'fspick']);
    assert.equal(mod.moduleLoad, false, 'no module/module_load event');
    mkdirSync(`${events}/module/module_load`, { recursive: true });
    assert.equal(hooksOf(['module'], events).moduleLoad, true);
    assert.equal(hooksOf(['listen'], events).moduleLoad, false, 'only with the module family');
    assert.equal(hooksOf([...FAMILIES], events).syscalls.length, 4);
  } finally {
    rmSync(events, { recursive: true, force: true });
  }
});
