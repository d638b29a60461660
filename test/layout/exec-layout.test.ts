/**
 * The C structs in bpf/exec.h and bpf/lib/common.h are the source of truth: the TypeScript decoder's
 * offsets, sizes, enum values and .rodata knobs must match the compiled object's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { EXEC_EVENT, EXEC_LIMITS, EXEC_RODATA, ExecFdKind, ExecFlags, FD_KIND_NAMES, KiteOp } from '../../src/receivers/exec/wire';
import { KiteStat } from '../../src/receivers/bpf-receiver';
import { FilterFlags, FilterValue } from '../../src/receivers/filters';

const btf = new Btf(join(BPF_DIR, 'exec.bpf.o'));

test('struct exec_event: every field at the offset and size the decoder reads', () => {
  const c = btf.struct('exec_event');
  assert.equal(c.size, EXEC_EVENT.size, 'sizeof(struct exec_event)');
  assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(EXEC_EVENT.fields).sort(), 'same field names');
  for (const [name, f] of Object.entries(EXEC_EVENT.fields)) {
    assert.deepEqual(c.fields[name], f, `field ${name}`);
  }
});

test('struct exec_event: comm length and tail limits match bpf/exec.h', () => {
  assert.equal(btf.struct('exec_event').fields.comm!.size, EXEC_LIMITS.commLen);
  assert.equal(btf.struct('exec_event').fields.cgroup_name!.size, EXEC_LIMITS.cgroupNameLen);
  // the scratch record is sizeof(struct exec_event) + EXEC_PATH_BUF + EXEC_ARGS_MAX
  assert.equal(btf.struct('exec_scratch').size, EXEC_EVENT.size + EXEC_LIMITS.pathBuf + EXEC_LIMITS.argsMax);
});

test('enum kite_op, exec_flags and kite_stat values match the decoder', () => {
  const ops = btf.enumValues('kite_op');
  assert.equal(ops.KITE_OP_PROCESS_EXEC, KiteOp.PROCESS_EXEC);
  assert.equal(ops.KITE_OP_PROCESS_FORK, KiteOp.PROCESS_FORK);
  assert.equal(ops.KITE_OP_PROCESS_EXIT, KiteOp.PROCESS_EXIT);
  assert.deepEqual(btf.enumValues('exec_flags'), {
    EXEC_FLAG_ARGS_TRUNCATED: ExecFlags.ARGS_TRUNCATED,
    EXEC_FLAG_PATH_TRUNCATED: ExecFlags.PATH_TRUNCATED,
    EXEC_FLAG_NO_MM: ExecFlags.NO_MM,
  });
  const stats = btf.enumValues('kite_stat');
  assert.equal(stats.KITE_STAT_EMITTED, KiteStat.EMITTED);
  assert.equal(stats.KITE_STAT_RING_FULL, KiteStat.RING_FULL);
  assert.equal(stats.KITE_STAT_FILTERED, KiteStat.FILTERED);
});

test('enum exec_fd_kind matches the decoder and has a record value for each kind', () => {
  const kinds = btf.enumValues('exec_fd_kind');
  assert.deepEqual(kinds, Object.fromEntries(Object.entries(ExecFdKind).map(([k, v]) => [`EXEC_FD_${k}`, v])));
  assert.equal(FD_KIND_NAMES.length, Object.keys(kinds).length);
  assert.equal(btf.struct('exec_event').fields.stdio!.size, 3, 'fds 0, 1 and 2');
});

test('.rodata knobs are where the receiver writes them', () => {
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(EXEC_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
});

test('in-kernel filter wire (bpf/lib/filter_wire.h) matches src/receivers/filters.ts', () => {
  assert.deepEqual(btf.struct('kite_filter_cfg'), { size: 8, fields: { flags: { offset: 0, size: 4 }, self_tgid: { offset: 4, size: 4 } } });
  const flags = btf.enumValues('kite_filter_flags');
  for (const [name, v] of Object.entries(FilterFlags)) assert.equal(flags[`KITE_FILTER_${name}`], v, name);
  assert.equal(Object.keys(flags).length, Object.keys(FilterFlags).length);
  assert.deepEqual(btf.enumValues('kite_filter_value'), { KITE_FILTER_INCLUDE: FilterValue.INCLUDE, KITE_FILTER_EXCLUDE: FilterValue.EXCLUDE });
});
