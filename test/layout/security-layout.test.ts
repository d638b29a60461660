/**
 * The C structs in bpf/security.h and bpf/lib/common.h are the source of truth: the TypeScript
 * decoder's offsets, sizes, enum values and .rodata knobs must match the compiled object's BTF.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { NS_KINDS, SECURITY_EVENT, SECURITY_LIMITS, SECURITY_RODATA, SecurityFlags, SecurityKind, SecurityOp } from '../../src/receivers/security/wire';
import { FAMILY_KINDS, kindTable } from '../../src/receivers/security/syscalls';
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
  assert.equal(btf.datasec('.rodata').syscall_kind!.size, SECURITY_LIMITS.syscallsMax);
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

test('.rodata knobs are where the receiver writes them; every kind belongs to exactly one family', () => {
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(SECURITY_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
  const all = Object.values(FAMILY_KINDS).flat();
  assert.equal(new Set(all).size, all.length);
  assert.equal(all.length, SecurityKind.MAX - 1);
  for (const arch of ['x64', 'arm64']) {
    const t = kindTable(['privilege', 'ptrace', 'module', 'bpf', 'namespace', 'mount', 'listen'], arch);
    assert.equal(t.filter((b) => b !== 0).length, SecurityKind.MAX - 1, `${arch}: one syscall number per kind`);
  }
  assert.equal(kindTable(['listen'], 'x64').filter((b) => b !== 0).length, 2, 'families left out are not watched');
});
