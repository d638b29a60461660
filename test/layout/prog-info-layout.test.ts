/**
 * struct bpf_prog_info (UAPI) as src/bpf/prog-stats.ts reads it: the run statistics' offsets match the
 * running kernel's BTF. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf } from '../helpers/btf';
import { PROG_INFO } from '../../src/bpf/prog-stats';

test('struct bpf_prog_info: id, name, run_time_ns and run_cnt where the reader looks for them', () => {
  const info = new Btf('/sys/kernel/btf/vmlinux').struct('bpf_prog_info');
  assert.ok(info.size <= PROG_INFO.size, `the buffer holds the kernel's struct (${info.size} bytes)`);
  assert.deepEqual(info.fields.id, { offset: PROG_INFO.id, size: 4 });
  assert.deepEqual(info.fields.name, { offset: PROG_INFO.name, size: PROG_INFO.nameLen });
  assert.deepEqual(info.fields.run_time_ns, { offset: PROG_INFO.run_time_ns, size: 8 });
  assert.deepEqual(info.fields.run_cnt, { offset: PROG_INFO.run_cnt, size: 8 });
});
