/**
 * bpf/file.h, bpf/lib/path_wire.h and bpf/lib/common.h are the source of truth: the TypeScript
 * decoder's offsets, sizes and enum values must match the compiled object's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from '../helpers/btf';
import { BPF_DIR } from '../helpers/paths';
import { FILE_AGG_EVENT, FILE_AGG_FLUSH_ARGS, FILE_AGG_MAP, FILE_EVENT, FILE_LIMITS, FILE_RODATA, FILE_SYSCALLS, FileAggClose, FileAggStat, FileOp, FileStat, PathFlags, PrefixAction } from '../../src/receivers/file/wire';
import { OPERATION_SYSCALLS } from '../../src/receivers/file/receiver';
import { PrefixValue } from '../../src/receivers/file/prefixes';
import { KiteStat } from '../../src/receivers/bpf-receiver';

const btf = new Btf(join(BPF_DIR, 'file.bpf.o'));

test('struct file_event: every field at the offset and size the decoder reads', () => {
  const c = btf.struct('file_event');
  assert.equal(c.size, FILE_EVENT.size, 'sizeof(struct file_event)');
  assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(FILE_EVENT.fields).sort(), 'same field names');
  for (const [name, f] of Object.entries(FILE_EVENT.fields)) assert.deepEqual(c.fields[name], f, `field ${name}`);
  assert.equal(c.fields.comm!.size, FILE_LIMITS.commLen);
});

test('limits: two paths of FILE_PATH_MAX per record, 256-byte prefix keys', () => {
  assert.equal(btf.struct('file_record').size, FILE_EVENT.size + 2 * FILE_LIMITS.pathMax);
  assert.equal(btf.struct('kite_prefix_key').fields.data!.size, FILE_LIMITS.prefixMax);
});

test('enums: kite_op (file part), file_stat, file_syscall, kite_path_flags, kite_prefix_action', () => {
  const ops = btf.enumValues('kite_op');
  assert.deepEqual(
    Object.fromEntries(Object.entries(ops).filter(([k]) => k.startsWith('KITE_OP_FILE_'))),
    Object.fromEntries(Object.entries(FileOp).map(([k, v]) => [`KITE_OP_FILE_${k}`, v])),
  );
  assert.equal(btf.enumValues('file_stat').FILE_STAT_PATH_FILTERED, FileStat.PATH_FILTERED);
  assert.ok(FileStat.PATH_FILTERED > KiteStat.FILTERED, 'after the shared slots');
  const sys = btf.enumValues('file_syscall');
  assert.deepEqual(Object.fromEntries(Object.entries(sys).map(([k, v]) => [v, k.slice('FILE_SYS_'.length).toLowerCase()])), FILE_SYSCALLS);
  assert.deepEqual(Object.values(OPERATION_SYSCALLS).flat().sort(), Object.values(FILE_SYSCALLS).sort(), 'every system call has an operation');
  assert.deepEqual(btf.enumValues('kite_path_flags'), Object.fromEntries(Object.entries(PathFlags).map(([k, v]) => [`KITE_PATH_${k}`, v])));
  assert.deepEqual(btf.enumValues('kite_prefix_action'), { KITE_PREFIX_WATCH: PrefixAction.WATCH, KITE_PREFIX_IGNORE: PrefixAction.IGNORE });
  assert.deepEqual(btf.enumValues('kite_prefix_value'), { KITE_PREFIX_ACTION_MASK: PrefixValue.ACTION_MASK, KITE_PREFIX_BELOW: PrefixValue.BELOW, KITE_PREFIX_LEN_SHIFT: PrefixValue.LEN_SHIFT });
});

test('in-kernel aggregation: struct file_agg_event, the flush context, their enums and the window knob', () => {
  for (const [name, want] of [['file_agg_event', FILE_AGG_EVENT], ['file_agg_flush_args', FILE_AGG_FLUSH_ARGS]] as const) {
    const c = btf.struct(name);
    assert.equal(c.size, want.size, `sizeof(struct ${name})`);
    assert.deepEqual(Object.keys(c.fields).sort(), Object.keys(want.fields).sort(), `${name}: same field names`);
    for (const [f, at] of Object.entries(want.fields)) assert.deepEqual(c.fields[f], at, `${name}.${f}`);
  }
  assert.deepEqual(btf.enumValues('file_agg_stat'), Object.fromEntries(Object.entries(FileAggStat).map(([k, v]) => [`FILE_AGG_STAT_${k}`, v])));
  assert.deepEqual(btf.enumValues('file_agg_close'), Object.fromEntries(Object.entries(FileAggClose).map(([v, k]) => [`FILE_AGG_CLOSE_${k.toUpperCase()}`, Number(v)])));
  assert.equal(btf.struct('file_agg_key').size, FILE_AGG_MAP.keySize, 'sizeof(struct file_agg_key)');
  assert.equal(btf.struct('file_agg_val').size, FILE_AGG_MAP.valueSize, 'sizeof(struct file_agg_val)');
  assert.deepEqual(btf.struct('file_agg_val').fields.state, { offset: FILE_AGG_MAP.stateOffset, size: 8 }, 'file_agg_val.state');
  const ro = btf.datasec('.rodata');
  for (const [name, f] of Object.entries(FILE_RODATA)) assert.deepEqual(ro[name], f, `.rodata ${name}`);
});
